// End to end with real llama.cpp: `modelship run <gguf-folder> --local` deploys a generated tiny GGUF model
// as a real server process, waits for it through the readiness loop, smoke-tests it over HTTP, load-tests
// it, and — an SLO no server can meet failing MergeStress — goes through Cleanup, which stops the server.
// Nothing may be left running, whatever happens: the server's pid, from the DeployCandidate event, is gone.

import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { run } from "../../lib/cli/run";
import type { ModelshipEvent } from "../../lib/core/events/events";
import { buildTinyLlamaGguf } from "../../lib/examples/gguf-model";
import { JsonFileRolloutStore } from "../../lib/local/json-rollout-store";
import { readEvents } from "../../lib/local/jsonl-events";
import { isRunning } from "../support/process-alive";
import { captureConsole } from "../support/console-capture";
import { assertEventMatchesSchema } from "../support/event-schema-check";

let work: string;
let home: string;
let output: string[];

beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), "modelship-run-smoke-"));
  home = join(work, ".modelship");
  await mkdir(home);
  output = captureConsole();
});

afterEach(async () => {
  vi.restoreAllMocks();
  await rm(work, { recursive: true, force: true });
});

async function modelFolder(manifest: string): Promise<string> {
  const folder = join(work, "tiny");
  await mkdir(folder);
  await writeFile(join(folder, "model.gguf"), buildTinyLlamaGguf());
  await writeFile(join(folder, "modelship.yaml"), manifest);
  return folder;
}

/** Task and Map states as printed, without the readiness loop's turns (their count depends on the machine). */
function printedStates(): string[] {
  return output
    .filter((l) => /^\s*[▶✔✖] /.test(l))
    .filter((l) => !/(WaitForCandidate|CheckCandidate|The rollout of)/.test(l))
    .map((l) => l.replace(/ \d+\.\ds$/, ""));
}

/** The candidate server's pid and port, from the DeployCandidate event. */
function serverOf(events: readonly ModelshipEvent[]): { pid: number; port: number } {
  const deployed = events.find((e) => e.detail.stage === "DeployCandidate");
  const where = deployed?.detail.data?.["where"] as { pid?: unknown; port?: unknown } | undefined;
  if (typeof where?.pid !== "number" || typeof where.port !== "number") {
    throw new Error(`No pid and port in the DeployCandidate event: ${JSON.stringify(deployed)}`);
  }
  return { pid: where.pid, port: where.port };
}

async function answersOn(port: number): Promise<boolean> {
  return fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(2000) }).then(
    () => true,
    () => false,
  );
}

/** Waits scaled a hundredfold, shorter than the alarms' window: these rollouts end at their gates. */
const tinyManifest = (gates: string) =>
  `name: tiny\nversion: v1\nformat: gguf\nserving:\n  runtime: llama.cpp\n  maxModelLen: 256\nrollout:\n  allowShortBakes: true\ngates:\n${gates}`;

describe("modelship run --local with llama.cpp", () => {
  it("deploys, waits for readiness, smoke-tests for real, load-tests it, and fails an SLO it cannot meet, cleaning up", async () => {
    const folder = await modelFolder(
      tinyManifest(
        "  smoke: {rejectDegenerate: false}\n" +
          "  stress: {concurrency: 2, workers: 2, warmupSeconds: 0, durationSeconds: 2, inputTokens: 32, outputTokens: 4,\n" +
          "           slo: {ttftP95Ms: 0.001, errorRate: 0.5}}\n" +
          "  eval: {enabled: false}\n",
      ),
    );

    const code = await run([folder, "--local", "--home", home, "--time-factor", "0.01"]);

    expect(code).toBe(1);
    const isWorker = (line: string) => line.includes("StressWorker");
    expect(printedStates().filter((l) => !isWorker(l))).toEqual([
      "▶ Prepare",
      "✔ Prepare",
      "▶ Validate",
      "✔ Validate",
      "▶ CheckCapacity",
      "✔ CheckCapacity",
      "▶ DeployCandidate",
      "✔ DeployCandidate",
      "▶ SmokeTest",
      "✔ SmokeTest",
      "▶ StressTest",
      "✔ StressTest",
      "▶ MergeStress",
      "✖ MergeStress",
      "▶ Cleanup",
      "✔ Cleanup",
    ]);
    // The two load workers run side by side, so they may finish in either order.
    expect(printedStates().filter(isWorker).sort()).toEqual([
      "  ▶ StressWorker #0",
      "  ▶ StressWorker #1",
      "  ✔ StressWorker #0",
      "  ✔ StressWorker #1",
    ]);
    expect(output.filter((l) => l.startsWith("✔ CheckCandidate")).length).toBeGreaterThan(0);
    const printed = output.join("\n");
    expect(printed).toContain("✖ The rollout of tiny v1 failed: SloViolated");
    expect(printed).toMatch(/TTFT p95 was [\d.]+ ms; the SLO allows at most 0\.001 ms\./);

    const events = await readEvents(join(home, "events.jsonl"));
    expect(events.map((e) => [e.detailType, e.detail.stage])).toEqual([
      ["Rollout Started", "Prepare"],
      ["Stage Succeeded", "DeployCandidate"],
      ["Stage Succeeded", "SmokeTest"],
      ["Stage Failed", "Cleanup"],
    ]);
    for (const event of events) assertEventMatchesSchema(event);
    const smoke = events[2]?.detail.data ?? {};
    expect(smoke["requests"]).toBe(5);
    for (const measured of ["loadSeconds", "ttftMs", "tokensPerSecond"]) {
      expect(smoke[measured]).toBeGreaterThan(0);
    }
    expect(events[3]?.detail.error).toBe("SloViolated");
    expect(events[3]?.detail.data?.["cleaned"]).toContain(
      "Removed the candidate workload local-" + events[0]?.detail.rolloutId + ".",
    );

    const record = await new JsonFileRolloutStore(join(home, "rollouts.json")).get("tiny");
    expect(record?.status).toBe("failed");
    expect(record?.lock).toBeUndefined();

    const rolloutId = events[0]?.detail.rolloutId ?? "";
    const log = await readFile(join(home, "logs", `${rolloutId}.log`), "utf8");
    expect(log).toContain("ready: serving tiny");
    // The load really ran: the merged report counts the requests both workers sent.
    const stress = JSON.parse(
      await readFile(join(home, "bucket", "reports", "tiny", "v1", rolloutId, "stress.json"), "utf8"),
    ) as { summary: { requests: number } };
    expect(stress.summary.requests).toBeGreaterThan(0);

    const server = serverOf(events);
    expect(isRunning(server.pid)).toBe(false);
    expect(await answersOn(server.port)).toBe(false);
  });

  it("fails the smoke test on a random-weight model's noise, with every verdict, and cleans up", async () => {
    const folder = await modelFolder(tinyManifest("  stress: {enabled: false}\n  eval: {enabled: false}\n"));

    const code = await run([folder, "--local", "--home", home, "--time-factor", "0.01"]);

    expect(code).toBe(1);
    expect(printedStates().slice(-4)).toEqual(["▶ SmokeTest", "✖ SmokeTest", "▶ Cleanup", "✔ Cleanup"]);
    const printed = output.join("\n");
    expect(printed).toMatch(/SmokeFailed: tiny v1 failed [1-4] of 5 smoke checks\./);
    expect(printed).toMatch(/error {3}default prompt \d: .*degenerate output: it is mostly not text/);
    expect(printed).toContain('info    GET /v1/models → "tiny": ok.');
    expect(printed).toContain("Hint: Degenerate answers mean broken weights");

    const events = await readEvents(join(home, "events.jsonl"));
    expect(events.map((e) => [e.detailType, e.detail.stage, e.detail.error])).toEqual([
      ["Rollout Started", "Prepare", undefined],
      ["Stage Succeeded", "DeployCandidate", undefined],
      ["Stage Failed", "Cleanup", "SmokeFailed"],
    ]);
    const record = await new JsonFileRolloutStore(join(home, "rollouts.json")).get("tiny");
    expect(record?.lock).toBeUndefined();

    const server = serverOf(events);
    expect(isRunning(server.pid)).toBe(false);
    expect(await answersOn(server.port)).toBe(false);
  });
});
