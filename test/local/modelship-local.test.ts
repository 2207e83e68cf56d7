// `modelship local`, the control plane in the foreground, run as a user runs it: a separate process on a temp
// home and any free port. It announces its gateway, answers the CLI's --local commands from another process,
// starts a rollout for a manifest copied into its bucket, refuses a second control plane for the same home,
// and on Ctrl-C (SIGINT) stops with exit 0 and removes its control-plane.json. Bad flags and a bad config are
// refused before anything starts.

import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { createServer, type AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { run as local } from "../../lib/cli/local";
import { run as status } from "../../lib/cli/status";
import { type CliProcess, startCli } from "../support/cli-process";

let work: string;
let out: string[];
let err: string[];
let started: CliProcess | undefined;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "modelship-local-cli-"));
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

beforeEach(() => {
  out = [];
  err = [];
  vi.spyOn(console, "log").mockImplementation((...parts: unknown[]) => void out.push(parts.join(" ")));
  vi.spyOn(console, "error").mockImplementation((...parts: unknown[]) => void err.push(parts.join(" ")));
});

afterEach(async () => {
  vi.restoreAllMocks();
  if (started && started.child.exitCode === null && started.child.signalCode === null) {
    started.child.kill("SIGKILL");
    await started.exited;
  }
  started = undefined;
});

describe("modelship local", () => {
  it("serves its home until Ctrl-C, then stops with exit 0 and removes control-plane.json", async () => {
    const home = join(work, "home");
    started = startCli(["local", "--home", home, "--port", "0", "--time-factor", "0"]);
    const announced = await started.waitForLine(/^ {2}gateway {3}http:\/\/127\.0\.0\.1:\d+\/v1 /);
    const url = /(http:\/\/127\.0\.0\.1:\d+)\/v1/.exec(announced)?.[1];
    expect(started.lines).toContain(`modelship control plane for ${home} (pid ${started.child.pid})`);
    expect(JSON.parse(await readFile(join(home, "control-plane.json"), "utf8"))).toEqual({
      pid: started.child.pid,
      gatewayPort: Number(new URL(url ?? "").port),
      startedAt: expect.any(String),
    });

    // The CLI in this process finds it, and a second control plane for the same home is refused.
    expect(await status(["--json", "--local", "--home", home])).toBe(0);
    expect(JSON.parse(out.join("\n"))).toEqual({ models: [] });
    expect(await local(["--home", home, "--port", "0"])).toBe(1);
    expect(err.join("\n")).toContain(
      `✖ A control plane already runs for ${home} (pid ${started.child.pid}, started `,
    );
    expect(err.join("\n")).toContain(`gateway ${url}). Use it, or stop it first.`);

    // A manifest copied into its bucket starts a rollout, which it prints (this one has no weights).
    const folder = join(home, "bucket", "models", "tiny", "v1");
    await mkdir(folder, { recursive: true });
    await writeFile(join(folder, "modelship.yaml"), "name: tiny\nversion: v1\n");
    await started.waitForLine(/ tiny-v1-[0-9a-f]{8} {2}✖ Validate: ModelInvalid$/);
    await started.waitForLine(/● Stage Failed: /);

    started.child.kill("SIGINT");

    expect(await started.exited).toEqual({ code: 0, signal: null });
    expect(started.lines).toContain("Stopped.");
    expect(existsSync(join(home, "control-plane.json"))).toBe(false);
  });

  it.each([
    [["--port", "70000"], "--port must be a port number from 0 to 65535, got '70000'."],
    [["--time-factor", "fast"], "--time-factor must be a number ≥ 0, got 'fast'."],
    [["--watch"], "unknown flag --watch; the flags are"],
  ])("refuses %j with exit 2 and its usage, starting nothing", async (argv, message) => {
    const home = join(work, "usage");

    expect(await local(["--home", home, ...argv])).toBe(2);

    expect(err.join("\n")).toContain(message);
    expect(err.join("\n")).toContain("Usage: modelship local");
    expect(existsSync(home)).toBe(false);
  });

  it("refuses a config.json that is not a valid stack config, listing every finding with the file", async () => {
    const home = join(work, "bad-config");
    await mkdir(home);
    await writeFile(
      join(home, "config.json"),
      JSON.stringify({ local: { threads: "many", gatewayPort: -1 } }),
    );

    expect(await local(["--home", home, "--port", "0"])).toBe(1);

    const printed = err.join("\n");
    expect(printed).toContain(`✖ ${join(home, "config.json")} is not a valid stack config (2 finding(s)).`);
    expect(printed).toContain("local.threads");
    expect(printed).toContain("local.gatewayPort");
    expect(existsSync(join(home, "control-plane.json"))).toBe(false);
  });

  it("refuses a gateway port that is taken with exit 1 and what to do, never a stack trace, and starts nothing", async () => {
    const home = join(work, "port-taken");
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    const port = (taken.address() as AddressInfo).port;
    try {
      expect(await local(["--home", home, "--port", String(port), "--time-factor", "0"])).toBe(1);
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }

    const printed = err.join("\n");
    expect(printed).toBe(
      `✖ The local gateway cannot listen on 127.0.0.1:${port}: the port is in use. Pass --port with a free port (0 = any), set local.gatewayPort in the local config.json, or stop what uses it.`,
    );
    expect(printed).not.toContain("    at ");
    expect(existsSync(join(home, "control-plane.json"))).toBe(false);
  });
});
