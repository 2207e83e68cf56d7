// `modelship run <folder> --local` with a control plane running for the home (`modelship local`, here started
// in the test process): `run` copies the folder into the control plane's bucket, asks it to start the
// rollout, and follows the execution over the admin API; the control plane's bucket watcher does not start
// the same manifest a second time; Ctrl-C stops following, not the rollout. No model server is needed: the
// stack's serving command is a program that does not exist, or one that never answers.

import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { run as abort } from "../../lib/cli/abort";
import { run } from "../../lib/cli/run";
import { buildTinyLlamaGguf } from "../../lib/examples/gguf-model";
import { type ControlPlane, startControlPlane } from "../../lib/local/control-plane";
import { JsonFileRolloutStore } from "../../lib/local/json-rollout-store";
import { readEvents } from "../../lib/local/jsonl-events";
import { startCli } from "../support/cli-process";
import { isRunning } from "../support/process-alive";

const MISSING_SERVER = "/nonexistent/modelship-test-server";
/** A server that starts and never answers: the rollout waits for it in WaitForCandidate. */
const SILENT_SERVER = `"${process.execPath}" -e "setInterval(Date.now, 1000)" {port}`;

const MANIFEST = "name: tiny-llama\nversion: v1\nserving:\n  runtime: llama.cpp\n  maxModelLen: 256\n";

let work: string;
let home: string;
let controlPlane: ControlPlane | undefined;
let output: string[];
let logged: string[];

beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), "modelship-run-beside-"));
  home = join(work, ".modelship");
  output = [];
  logged = [];
  const capture = (...parts: unknown[]) => void output.push(parts.join(" "));
  vi.spyOn(console, "log").mockImplementation(capture);
  vi.spyOn(console, "error").mockImplementation(capture);
});

afterEach(async () => {
  vi.restoreAllMocks();
  await controlPlane?.close();
  controlPlane = undefined;
  await rm(work, { recursive: true, force: true });
});

/** Starts the home's control plane, watching its bucket, with `servingCommand` as the stack's server. */
async function startBeside(servingCommand: string): Promise<ControlPlane> {
  await mkdir(home, { recursive: true });
  await writeFile(join(home, "config.json"), JSON.stringify({ local: { command: servingCommand } }));
  controlPlane = await startControlPlane({
    home,
    timeFactor: 0,
    port: 0,
    log: (message) => void logged.push(message),
  });
  return controlPlane;
}

async function modelFolder(): Promise<string> {
  const folder = join(work, "tiny");
  await mkdir(folder);
  await writeFile(join(folder, "model.gguf"), buildTinyLlamaGguf());
  await writeFile(join(folder, "modelship.yaml"), MANIFEST);
  return folder;
}

/** The Task and Wait states `run` printed, without their durations. */
function printedStates(): string[] {
  return output.filter((l) => /^[▶✔✖] [A-Z]\w+( \d+\.\ds)?$/.test(l)).map((l) => l.replace(/ \d+\.\ds$/, ""));
}

describe("modelship run --local beside a running control plane", () => {
  it("hands the rollout to the control plane, prints the states it follows, and exits 1 with the failure", async () => {
    const running = await startBeside(`${MISSING_SERVER} {dir} --port {port}`);
    const starts = vi.spyOn(running.runtime.executions, "start");

    const code = await run([await modelFolder(), "--local", "--home", home, "--time-factor", "0.5"]);

    expect(code).toBe(1);
    const startsByRun = starts.mock.calls.length;
    const [execution] = running.runtime.executions.list();
    const printed = output.join("\n");
    expect(printed).toContain(`--time-factor is the control plane's (pid ${process.pid})`);
    expect(printed).toMatch(
      /^tiny-llama v1: copied 1 file\(s\), .* and the manifest to .*models\/tiny-llama\/v1\/$/m,
    );
    expect(printed).toContain(
      `Execution ${execution?.executionId}, run by the control plane (pid ${process.pid}, gateway ${running.url}/v1)`,
    );
    expect(printedStates()).toEqual([
      "▶ Prepare",
      "✔ Prepare",
      "▶ Validate",
      "✔ Validate",
      "▶ CheckCapacity",
      "✔ CheckCapacity",
      "▶ DeployCandidate",
      "✖ DeployCandidate",
      "▶ Cleanup",
      "✔ Cleanup",
    ]);
    expect(printed).toContain(`CandidateFailed: Could not start the server \`${MISSING_SERVER}\``);
    expect(printed).toContain("✖ The rollout of tiny-llama v1 failed: CandidateFailed");
    expect(printed).toContain(`Events:  ${join(home, "events.jsonl")}`);

    const copied = join(home, "bucket", "models", "tiny-llama", "v1");
    expect(await readFile(join(copied, "modelship.yaml"), "utf8")).toBe(MANIFEST);
    const record = await running.runtime.deps.store.get("tiny-llama");
    expect(record?.status).toBe("failed");
    expect(record?.lock).toBeUndefined();

    // Two more manifests, each copied in once the watcher has started the one before: by the time it starts
    // the second, it has finished at least two scans since `run` claimed the first, and has not started it.
    for (const model of ["other", "another"]) {
      await mkdir(join(home, "bucket", "models", model, "v1"), { recursive: true });
      await writeFile(join(home, "bucket", "models", model, "v1", "modelship.yaml"), `name: ${model}\n`);
      await vi.waitFor(
        () => {
          if (!starts.mock.calls.some(([name]) => name.startsWith(`${model}-v1-`))) {
            throw new Error(`the watcher has not started models/${model}/v1 yet`);
          }
        },
        { timeout: 30_000, interval: 100 },
      );
    }
    expect(starts.mock.calls.slice(startsByRun).map(([name]) => name.replace(/-[0-9a-f]{8}$/, ""))).toEqual([
      "other-v1",
      "another-v1",
    ]);
    const executions = running.runtime.executions.list();
    await Promise.all(executions.map((e) => e.result));
    expect(executions.map((e) => e.input.rollout.model).sort()).toEqual(["another", "other", "tiny-llama"]);
    const events = await readEvents(join(home, "events.jsonl"));
    expect(
      events
        .filter((e) => e.detailType === "Rollout Started")
        .map((e) => e.detail.model)
        .sort(),
    ).toEqual(["another", "other", "tiny-llama"]);
    expect(logged).toEqual([]);
  });

  it("stops following on Ctrl-C while the rollout goes on in the control plane, until `modelship abort --local`", async () => {
    const running = await startBeside(SILENT_SERVER);

    // Another process, as a user runs it in a second terminal: Ctrl-C is a real SIGINT to it.
    const following = startCli(["run", await modelFolder(), "--local", "--home", home]);
    await following.waitForLine(/^▶ WaitForCandidate/);
    following.child.kill("SIGINT");

    expect((await following.exited).code).toBe(130);
    expect(following.lines).toContain(
      "Stopped following. The rollout of tiny-llama v1 goes on in the control plane: `modelship status tiny-llama --local` shows it, `modelship abort tiny-llama --local` stops it.",
    );
    const [execution] = running.runtime.executions.running();
    expect(execution?.name).toMatch(/^tiny-llama-v1-/);

    expect(await abort(["tiny-llama", "--local", "--home", home, "--reason", "stopped from a test"])).toBe(0);
    expect(output.join("\n")).toMatch(/^✓ .*tiny-llama v1/);
    const result = await execution?.result;
    expect(result?.status).toBe("FAILED");
    const record = await new JsonFileRolloutStore(join(home, "rollouts.json")).get("tiny-llama");
    expect(record?.lock).toBeUndefined();
    expect(record?.history.map((t) => t.reason).join("\n")).toContain("stopped from a test");
    const deployed = (await readEvents(join(home, "events.jsonl"))).find(
      (e) => e.detail.stage === "DeployCandidate",
    );
    const pid = (deployed?.detail.data?.["where"] as { pid?: number } | undefined)?.pid;
    expect(typeof pid).toBe("number");
    expect(isRunning(pid as number)).toBe(false);
  });
});
