// Ctrl-C on `modelship local` while a stress test runs: stopping cancels the running gate at once (its
// partial results are discarded, not judged), rolls the rollout back and stops — long before the ten minutes
// of load the gate asked for; a second Ctrl-C exits at once. Either way no server it started is left. A real
// process, a real llama.cpp server on a tiny generated GGUF model, real load.

import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { EventLine } from "../../lib/local/jsonl-events";
import { buildTinyLlamaGguf } from "../../lib/examples/gguf-model";
import { type CliProcess, startCli } from "../support/cli-process";
import { isRunning } from "../support/process-alive";

let work: string;
let started: CliProcess | undefined;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "modelship-stop-during-gates-"));
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

afterEach(async () => {
  if (started && started.child.exitCode === null && started.child.signalCode === null) {
    started.child.kill("SIGKILL");
    await started.exited;
  }
  started = undefined;
});

/** Ten minutes of load: a stop that waited for the gate to end would take that long. */
const MANIFEST = `format: gguf
serving: {runtime: llama.cpp, maxModelLen: 256}
gates:
  smoke: {rejectDegenerate: false}
  stress: {concurrency: 2, workers: 1, warmupSeconds: 0, durationSeconds: 600, inputTokens: 8, outputTokens: 8,
           slo: {ttftP95Ms: 60000, tpotP95Ms: 60000, errorRate: 1}}
  eval: {enabled: false}
`;

/** Starts `modelship local` on a fresh home and uploads the tiny model, as the README's contract says. */
async function controlPlaneInTheStressTest(): Promise<{ cli: CliProcess; home: string }> {
  const home = await mkdtemp(join(work, "home-"));
  const cli = startCli(["local", "--home", home, "--port", "0", "--time-factor", "0"]);
  started = cli;
  await cli.waitForLine(/^Ctrl-C to stop\.$/);
  const folder = join(home, "bucket", "models", "tiny", "v1");
  await mkdir(folder, { recursive: true });
  await writeFile(join(folder, "model.gguf"), buildTinyLlamaGguf());
  await writeFile(join(folder, ".modelship.yaml.tmp"), MANIFEST);
  await rename(join(folder, ".modelship.yaml.tmp"), join(folder, "modelship.yaml"));
  await cli.waitForLine(/ tiny-v1-[0-9a-f]{8} {2}▶ StressTest$/);
  return { cli, home };
}

/** The pids of the servers the control plane started, from their DeployCandidate events. */
async function serverPids(home: string): Promise<number[]> {
  const lines = (await readFile(join(home, "events.jsonl"), "utf8")).trim().split("\n");
  return lines
    .map((line) => JSON.parse(line) as EventLine)
    .filter((e) => e.detailType === "Stage Succeeded" && e.detail.stage === "DeployCandidate")
    .map((e) => (e.detail.data?.["where"] as { pid?: number } | undefined)?.pid)
    .filter((pid): pid is number => typeof pid === "number");
}

describe("Stopping modelship local while a gate runs", () => {
  it("cancels the stress test at once, rolls the rollout back, and stops with no server left", async () => {
    const { cli, home } = await controlPlaneInTheStressTest();
    const pids = await serverPids(home);
    expect(pids).toHaveLength(1);

    cli.child.kill("SIGINT");
    // The gate asked for 600 s of load; the stop must not wait for it (the bound is a tenth of that).
    const exited = await Promise.race([
      cli.exited,
      new Promise<"still running">((resolve) => setTimeout(() => resolve("still running"), 60_000).unref()),
    ]);

    expect(exited).toEqual({ code: 0, signal: null });
    expect(cli.lines).toContain("Stopped.");
    const output = cli.lines.join("\n");
    expect(output).toMatch(/Stopped the rollout tiny-v1-[0-9a-f]{8}: /);
    // The partial load was not judged: no SLO verdict, and the stop is what ended the rollout.
    expect(output).not.toContain("SloViolated");
    expect(output).not.toContain("MergeStress");
    for (const pid of pids) expect(isRunning(pid), `server pid ${pid}`).toBe(false);
  }, 180_000);

  it("exits at once on a second Ctrl-C, its servers stopped", async () => {
    const { cli, home } = await controlPlaneInTheStressTest();
    const pids = await serverPids(home);

    cli.child.kill("SIGINT");
    await cli.waitForLine(/^SIGINT: stopping/);
    cli.child.kill("SIGINT");
    const { code } = await cli.exited;

    expect([0, 130]).toContain(code);
    for (const pid of pids) {
      // SIGTERM was sent as the process exited; give the server the moment it takes to act on it.
      const deadline = Date.now() + 30_000;
      while (isRunning(pid) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      expect(isRunning(pid), `server pid ${pid}`).toBe(false);
    }
  }, 180_000);
});
