import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DEFAULT_STACK_CONFIG } from "../../lib/core/config/config";
import { PIPELINE_FUNCTIONS, type PipelineFunction } from "../../lib/core/state-machine/pipeline-functions";
import type { ExecutionState } from "../../lib/core/rollout/rollout";
import { LocalExecutor, type TaskHandler } from "../../lib/local/executor";
import { FolderObjectStore } from "../../lib/local/folder-object-store";
import { interruptExecution } from "../../lib/local/interrupt";
import { JsonFileRolloutStore } from "../../lib/local/json-rollout-store";
import { JsonlEvents, readEvents } from "../../lib/local/jsonl-events";
import { LocalExecutions } from "../../lib/local/local-executions";
import { cleanup } from "../../lib/pipeline/cleanup";
import type { StageDeps } from "../../lib/pipeline/deps";
import { prepare } from "../../lib/pipeline/prepare";
import { start } from "../../lib/pipeline/start";

let home: string;

beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), "modelship-interrupt-"));
});

afterEach(async () => {
  await rm(home, { recursive: true, force: true });
});

describe("Interrupting a local rollout (Ctrl-C)", () => {
  it("lets the running stage finish, then cleans up: lock released, failure recorded and announced", async () => {
    let validateEntered!: () => void;
    const inValidate = new Promise<void>((resolve) => (validateEntered = resolve));
    let finishValidate!: () => void;
    const validateMayFinish = new Promise<void>((resolve) => (finishValidate = resolve));
    let validateFinished = false;

    const store = new JsonFileRolloutStore(join(home, "rollouts.json"));
    const events = new JsonlEvents(join(home, "events.jsonl"));
    const objects = new FolderObjectStore(join(home, "bucket"));
    const stages: Partial<Record<PipelineFunction, TaskHandler>> = {
      Prepare: (input) => prepare(input as ExecutionState, deps),
      Validate: async () => {
        validateEntered();
        await validateMayFinish;
        validateFinished = true;
        return { valid: true };
      },
      Cleanup: (input) => cleanup(input as ExecutionState, deps),
    };
    const handlers = Object.fromEntries(
      PIPELINE_FUNCTIONS.map((fn) => [fn, stages[fn] ?? (() => Promise.reject(new Error(`${fn} ran`)))]),
    ) as Record<PipelineFunction, TaskHandler>;
    const executions = new LocalExecutions(await LocalExecutor.load({ handlers, timeFactor: 0 }));
    const deps = {
      config: DEFAULT_STACK_CONFIG,
      objects,
      store,
      events,
      clock: { now: () => new Date(), sleep: async () => {} },
      executions,
    } as Partial<StageDeps> as StageDeps;

    await objects.put("models/tiny/v1/modelship.yaml", "name: tiny\nversion: v1\n");
    const started = await start(
      {
        "detail-type": "Object Created",
        detail: {
          bucket: { name: objects.location },
          object: {
            key: "models/tiny/v1/modelship.yaml",
            etag: (await objects.head("models/tiny/v1/modelship.yaml"))?.etag ?? "",
          },
        },
      },
      deps,
    );
    if (started.status !== "started") throw new Error(`not started: ${started.status}`);
    const execution = executions.get(started.executionId);
    if (!execution) throw new Error("the execution is not tracked");
    await inValidate;
    expect((await store.get("tiny"))?.lock?.rolloutId).toBe(started.executionName);

    const interrupted = interruptExecution(
      execution,
      (state) => cleanup(state, deps),
      "Interrupted with Ctrl-C during Validate.",
    );
    let settled = false;
    void interrupted.then(() => (settled = true));
    for (let turn = 0; turn < 20; turn++) await new Promise((resolve) => setImmediate(resolve));
    expect(settled).toBe(false);
    finishValidate();
    const { result, cleanup: outcome } = await interrupted;

    expect(validateFinished).toBe(true);
    expect(result.status).toBe("ABORTED");
    expect(outcome).toMatchObject({
      error: "Interrupted",
      reason: "Interrupted with Ctrl-C during Validate.",
    });
    const record = await store.get("tiny");
    expect(record?.lock).toBeUndefined();
    expect(record?.status).toBe("failed");
    expect(record?.history.at(-1)?.reason).toContain("Interrupted with Ctrl-C during Validate.");
    const emitted = await readEvents(join(home, "events.jsonl"));
    expect(emitted.map((e) => e.detailType)).toEqual(["Rollout Started", "Stage Failed"]);
    expect(emitted[1]?.detail).toMatchObject({ error: "Interrupted", executionArn: started.executionId });
  });
});
