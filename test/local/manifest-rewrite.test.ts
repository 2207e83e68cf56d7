// A manifest written in two parts (a copy that is not atomic) can be read half-written: its first part is
// valid YAML and starts a rollout. The complete manifest, written while that rollout runs, finds the model's
// lock taken (RolloutInProgress). Once the first rollout ends without having served, the control plane rolls
// the complete manifest out; a version whose earlier write took traffic is not rolled out again. Real control
// plane, real files, a tiny generated GGUF model and a server command that never answers, so the first
// rollout waits for its candidate until the test aborts it — no timing involved.

import { appendFile, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { buildTinyLlamaGguf } from "../../lib/examples/gguf-model";
import { type ControlPlane, startControlPlane } from "../../lib/local/control-plane";
import { handleCommand } from "../../lib/pipeline/commands";
import type { ExecutionState } from "../../lib/core/rollout/rollout";

let work: string;
let controlPlane: ControlPlane | undefined;
let logged: string[];

const KEY = "models/tiny/v1/modelship.yaml";
const FIRST_PART =
  "gates:\n  smoke: {enabled: false}\n  stress: {enabled: false}\n  eval: {enabled: false}\nserving:\n  maxModelLen: 2";
const SECOND_PART = "56\n";

beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), "modelship-manifest-rewrite-"));
  logged = [];
});

afterEach(async () => {
  await controlPlane?.close();
  controlPlane = undefined;
  await rm(work, { recursive: true, force: true });
});

async function until<T>(what: string, check: () => Promise<T | undefined> | T | undefined): Promise<T> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline)
      throw new Error(`Timed out waiting for ${what}. Logged:\n${logged.join("\n")}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("A manifest written again while the rollout of its first write runs", () => {
  it("is rolled out once that rollout ends without having served", async () => {
    const home = join(work, "home");
    await mkdir(join(home, "bucket", "models", "tiny", "v1"), { recursive: true });
    // A server that never answers: the rollout waits for its candidate until it is stopped.
    await writeFile(join(home, "config.json"), JSON.stringify({ local: { command: "sleep 600" } }));
    await writeFile(join(home, "bucket", "models", "tiny", "v1", "model.gguf"), buildTinyLlamaGguf());
    const manifest = join(home, "bucket", ...KEY.split("/"));
    await writeFile(manifest, FIRST_PART);
    const cp = await startControlPlane({
      home,
      timeFactor: 0,
      port: 0,
      watchBucket: false,
      log: (message) => void logged.push(message),
    });
    controlPlane = cp;
    const { store } = cp.runtime.deps;

    const first = await cp.startManifest(KEY);
    expect(first.status).toBe("started");
    const firstId = first.status === "started" ? first.executionName : "";
    const firstExecution = cp.runtime.executions.get(first.status === "started" ? first.executionId : "");
    await until("the first write's rollout to wait for its candidate", () =>
      (firstExecution?.lastState() as ExecutionState | undefined)?.candidate ? true : undefined,
    );
    expect((await store.get("tiny"))?.lock?.rolloutId).toBe(firstId);

    await appendFile(manifest, SECOND_PART);
    const second = await cp.startManifest(KEY);
    expect(second.status).toBe("started");
    const secondExecution = cp.runtime.executions.get(second.status === "started" ? second.executionId : "");
    const secondResult = await secondExecution?.result;
    expect(secondResult).toMatchObject({ status: "FAILED", error: { Error: "RolloutInProgress" } });

    const aborted = await handleCommand(
      {
        "detail-type": "Abort Requested",
        detail: { model: "tiny", reason: "the manifest was half-written" },
      },
      cp.runtime.deps,
    );
    expect(aborted.status).toBe("done");

    const retried = await until("a rollout of the complete manifest", async () => {
      const lock = (await store.get("tiny"))?.lock;
      return lock && lock.rolloutId !== firstId ? lock : undefined;
    });
    expect(logged.join("\n")).toContain(
      `${KEY} was written again while rollout ${firstId} of tiny v1 ran; that rollout ended before it served, so the new write is rolled out now.`,
    );
    const execution = cp.runtime.executions.get(retried.executionId ?? "");
    const state = await until("the retried rollout's Prepare", () => {
      const last = execution?.lastState() as ExecutionState | undefined;
      return last?.manifest ? last : undefined;
    });
    expect(state.manifest?.serving.maxModelLen).toBe(256);
  }, 120_000);
});
