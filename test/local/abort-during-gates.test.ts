// An abort during the gates ends the rollout as Aborted, with who asked — not as the SLO failure the load it
// cut short would look like: the running stress test stops within a few seconds (its workers read the record
// while they run, as the Lambda workers do), nothing is judged or stored, Cleanup announces Aborted, and the
// candidate's server is gone. A real control plane, a real llama.cpp server on a tiny generated model.

import { mkdir, mkdtemp, readdir, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ModelshipEvent } from "../../lib/core/events/events";
import type { ExecutionState } from "../../lib/core/rollout/rollout";
import { buildTinyLlamaGguf } from "../../lib/examples/gguf-model";
import { type ControlPlane, startControlPlane } from "../../lib/local/control-plane";
import { handleCommand } from "../../lib/pipeline/commands";
import { isRunning } from "../support/process-alive";

let work: string;
let controlPlane: ControlPlane;
const events: ModelshipEvent[] = [];

/** Ten minutes of load: an abort that waited for the gate would wait that long. */
const MANIFEST = `format: gguf
serving: {runtime: llama.cpp, maxModelLen: 256}
gates:
  smoke: {rejectDegenerate: false}
  stress: {concurrency: 2, workers: 2, warmupSeconds: 0, durationSeconds: 600, inputTokens: 32, outputTokens: 8,
           slo: {ttftP95Ms: 1, tpotP95Ms: 1, errorRate: 0}}
  eval: {enabled: false}
`;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "modelship-abort-during-gates-"));
  controlPlane = await startControlPlane({
    home: join(work, ".modelship"),
    timeFactor: 0,
    port: 0,
    watchBucket: false,
    onEvent: (event) => void events.push(event),
    log: () => {},
  });
});

afterAll(async () => {
  await controlPlane.close();
  await rm(work, { recursive: true, force: true });
});

async function until<T>(what: string, check: () => T | undefined, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}.`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe("An abort during the stress test", () => {
  it("ends the rollout as Aborted with who asked, stops the load at once, judges and keeps nothing", async () => {
    const folder = join(controlPlane.home, "bucket", "models", "tiny", "v1");
    await mkdir(folder, { recursive: true });
    await writeFile(join(folder, "model.gguf"), buildTinyLlamaGguf());
    await writeFile(join(folder, ".modelship.yaml.tmp"), MANIFEST);
    await rename(join(folder, ".modelship.yaml.tmp"), join(folder, "modelship.yaml"));
    const started = await controlPlane.startManifest("models/tiny/v1/modelship.yaml");
    if (started.status !== "started") throw new Error(`not started: ${JSON.stringify(started)}`);
    const execution = controlPlane.runtime.executions.get(started.executionId);
    await until("the stress test", () =>
      (execution?.lastState() as ExecutionState | undefined)?.smoke ? true : undefined,
    );
    const deployed = events.find((e) => e.detail.stage === "DeployCandidate");
    const pid = (deployed?.detail.data?.["where"] as { pid?: number } | undefined)?.pid;

    const aborted = await handleCommand(
      {
        "detail-type": "Abort Requested",
        detail: { model: "tiny", reason: "wrong weights uploaded", requestedBy: "alice" },
      },
      controlPlane.runtime.deps,
    );
    expect(aborted.status).toBe("done");
    // The load asked for ten minutes; the workers see the abort within seconds (the bound is a tenth).
    const result = await Promise.race([
      execution?.result,
      new Promise<"still running">((resolve) => setTimeout(() => resolve("still running"), 60_000).unref()),
    ]);

    expect(result).toMatchObject({ status: "FAILED", error: { Error: "Aborted" } });
    const failed = events.find((e) => e.detailType === "Stage Failed");
    expect(failed?.detail.error).toBe("Aborted");
    expect(failed?.detail.reason).toContain("an abort was requested by alice (wrong weights uploaded)");
    expect(events.some((e) => e.detail.error === "SloViolated")).toBe(false);
    const reports = join(controlPlane.home, "bucket", "reports", "tiny", "v1", started.executionName);
    const stored = await readdir(reports, { recursive: true }).catch(() => [] as string[]);
    expect(stored.filter((f) => f.startsWith("stress"))).toEqual([]);
    expect(pid).toBeDefined();
    expect(isRunning(pid as number)).toBe(false);
    const record = await controlPlane.runtime.deps.store.get("tiny");
    expect(record?.lock).toBeUndefined();
  }, 180_000);
});
