// The CLI's --local side: `modelship status|rollback|promote|abort --local` and `modelship fault` find the
// home's control plane by its control-plane.json and call its admin API. Without one running they say so,
// naming the home and how to start one; beside one (started in the test process) they print what it answers.

import { spawnSync } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { run as abort } from "../../lib/cli/abort";
import { run as fault } from "../../lib/cli/fault";
import { run as promote } from "../../lib/cli/promote";
import { run as rollback } from "../../lib/cli/rollback";
import { run as status } from "../../lib/cli/status";
import { type ControlPlane, startControlPlane } from "../../lib/local/control-plane";
import type { LocalModelStatus } from "../../lib/local/control-plane-api";

let work: string;
let out: string[];
let err: string[];

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "modelship-local-commands-"));
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

afterEach(() => {
  vi.restoreAllMocks();
});

const COMMANDS: [string, (argv: string[]) => Promise<number>, (home: string) => string[]][] = [
  ["status", status, (home) => ["--local", "--home", home]],
  ["status <model> --json", status, (home) => ["tiny", "--json", "--local", "--home", home]],
  ["rollback", rollback, (home) => ["tiny", "--local", "--home", home]],
  ["promote", promote, (home) => ["tiny", "--local", "--home", home]],
  ["abort", abort, (home) => ["tiny", "--reason", "too slow", "--local", "--home", home]],
  ["fault", fault, (home) => ["tiny", "--variant", "candidate", "--delay", "800ms", "--home", home]],
];

describe("The --local commands with no control plane running", () => {
  it.each(COMMANDS)(
    "modelship %s exits 1, naming the home and how to start its control plane",
    async (_, command, argv) => {
      const home = await mkdtemp(join(work, "home-"));

      expect(await command(argv(home))).toBe(1);

      expect(err).toEqual([
        `✖ No local control plane is running for ${home} (${join(home, "control-plane.json")} does not exist). Start it with \`modelship local --home ${home}\`.`,
      ]);
      expect(out).toEqual([]);
    },
  );

  it.each(COMMANDS)(
    "modelship %s tells a control plane that crashed from one that runs",
    async (_, command, argv) => {
      const home = await mkdtemp(join(work, "crashed-"));
      const deadPid = spawnSync(process.execPath, ["-e", ""]).pid;
      await writeFile(
        join(home, "control-plane.json"),
        JSON.stringify({ pid: deadPid, gatewayPort: 8080, startedAt: "2025-01-02T03:04:05.000Z" }),
      );

      expect(await command(argv(home))).toBe(1);

      expect(err).toEqual([
        `✖ The local control plane for ${home} (pid ${deadPid}, started 2025-01-02T03:04:05.000Z) is no longer running. Start it with \`modelship local --home ${home}\`.`,
      ]);
    },
  );

  it("says what is wrong with a control-plane.json that is not one, and what to do", async () => {
    const home = await mkdtemp(join(work, "garbled-"));
    await writeFile(join(home, "control-plane.json"), '{"pid": "twelve"}');

    expect(await status(["--local", "--home", home])).toBe(1);

    expect(err).toEqual([
      `✖ ${join(home, "control-plane.json")} is not a control plane file: expected {"pid": <number>, "gatewayPort": 1–65535, "startedAt": "<ISO time>"}. Delete it if no control plane runs, then start one.`,
    ]);
  });
});

describe("The --local commands beside a running control plane", () => {
  let controlPlane: ControlPlane;
  let home: string;

  beforeAll(async () => {
    home = join(work, "running");
    controlPlane = await startControlPlane({
      home,
      timeFactor: 0,
      port: 0,
      watchBucket: false,
      log: () => {},
    });
  });

  afterAll(async () => {
    await controlPlane?.close();
  });

  it("prints {models: []} for status --json of a home where nothing was rolled out, and exits 1 for a model it does not know", async () => {
    expect(await status(["--json", "--local", "--home", home])).toBe(0);
    expect(JSON.parse(out.join("\n"))).toEqual({ models: [] });
    out.length = 0;

    expect(await status(["tiny", "--json", "--local", "--home", home])).toBe(1);
    expect(JSON.parse(out.join("\n"))).toEqual({ models: [] });
  });

  it("prints each model's record with its alarms, route, faults and prober for status --json", async () => {
    // A version without weights: Validate fails it, and the record says so.
    const folder = join(home, "bucket", "models", "tiny", "v1");
    await mkdir(folder, { recursive: true });
    await writeFile(join(folder, "modelship.yaml"), "name: tiny\nversion: v1\n");
    const started = await controlPlane.startManifest("models/tiny/v1/modelship.yaml");
    if (started.status === "rejected") throw new Error(started.reason);
    await controlPlane.runtime.executions.get(started.executionId)?.result;

    expect(await status(["--json", "--local", "--home", home])).toBe(0);

    const { models } = JSON.parse(out.join("\n")) as { models: LocalModelStatus[] };
    expect(models).toHaveLength(1);
    const [tiny] = models;
    expect(tiny).toMatchObject({
      model: "tiny",
      status: "failed",
      alarms: [],
      route: null,
      faults: {},
      prober: null,
    });
    expect(tiny?.lock).toBeUndefined();
    expect(tiny?.history.map((t) => [t.version, t.stage, t.status])).toEqual([
      ["v1", "Prepare", "running"],
      ["v1", "Cleanup", "failed"],
    ]);
    expect(tiny?.history.at(-1)?.reason).toMatch(/^ModelInvalid: tiny v1 is not a servable model/);
  });

  it("answers a rollback with no rollout running: nothing to do (exit 0)", async () => {
    expect(await rollback(["tiny", "--local", "--home", home])).toBe(0);

    expect(out).toEqual(["· No rollout of tiny is running: a rollback has nothing to do."]);
  });

  it("refuses a command or a status for a model it does not know (a typo in an incident), naming the ones it does (exit 1)", async () => {
    for (const command of [rollback, abort, promote]) {
      out.length = 0;
      expect(await command(["tiyn", "--local", "--home", home])).toBe(1);
      expect(out).toEqual([
        "✖ No model named tiyn has been rolled out (did you mean tiny?): the models modelship knows are tiny.",
      ]);
    }
    out.length = 0;
    expect(await status(["tiyn", "--local", "--home", home])).toBe(1);
    expect(out).toEqual([
      `No rollout of tiyn is recorded in ${home}. The models it knows: tiny (did you mean tiny?).`,
    ]);
  });

  it("prints the control plane's refusal of a promotion with no canary running (exit 1)", async () => {
    expect(await promote(["tiny", "--local", "--home", home])).toBe(1);

    expect(out).toEqual(["✖ No rollout of tiny is running: there is no canary to promote."]);
  });

  it("prints the control plane's refusal of a fault for a model it does not serve (exit 1)", async () => {
    expect(await fault(["tiny", "--variant", "candidate", "--abort", "503", "--home", home])).toBe(1);

    expect(err).toEqual(["✖ The gateway has no route for 'tiny'. No model is served yet."]);
  });
});
