// `modelship status --watch`: frames redrawn in place on a terminal and appended elsewhere, a refused look shown
// while the watch goes on, and Ctrl-C ending it with the cursor given back — as a function, and as the CLI
// process a user runs beside a real local control plane.

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { watchFrame, watchStatus, type WatchOutput } from "../../lib/cli/status-watch";
import { type ControlPlane, startControlPlane } from "../../lib/local/control-plane";
import { startCli } from "../support/cli-process";

class Screen implements WatchOutput {
  readonly writes: string[] = [];
  constructor(
    readonly isTTY: boolean,
    readonly rows?: number,
  ) {}
  write(text: string) {
    this.writes.push(text);
    return true;
  }
}

describe("watchFrame", () => {
  it("redraws in place on a terminal: cursor home, clear to the end, then the header and the status", () => {
    expect(watchFrame("status — 10:00:00 UTC", "llama  v1 100%", { isTTY: true, rows: 40 })).toBe(
      "\x1b[H\x1b[Jstatus — 10:00:00 UTC\n\nllama  v1 100%\n",
    );
  });

  it("clips a status taller than the window, saying how many lines it hid, so a redraw never scrolls", () => {
    const body = Array.from({ length: 30 }, (_, i) => `line ${i + 1}`).join("\n");
    const frame = watchFrame("header", body, { isTTY: true, rows: 10 });
    const lines = frame.replace("\x1b[H\x1b[J", "").trimEnd().split("\n");
    expect(lines).toHaveLength(9);
    expect(lines.at(-1)).toBe("… 24 more lines: name one model, or make the window taller.");
  });

  it("appends frames under a time line when the output is not a terminal (a pipe, a file)", () => {
    expect(watchFrame("status — 10:00:00 UTC", "llama  v1 100%", { isTTY: false })).toBe(
      "── status — 10:00:00 UTC\nllama  v1 100%\n\n",
    );
  });
});

describe("watchStatus", () => {
  it("shows a refused look in the frame and goes on looking; the next look's answer replaces it", async () => {
    const screen = new Screen(true, 40);
    const stop = new AbortController();
    const answers = [
      () => Promise.reject(new Error("control plane stopped")),
      () => Promise.resolve({ text: "llama  v2 25%" }),
    ];
    let looks = 0;
    await watchStatus({
      look: () => {
        const answer = answers[looks++] ?? (() => Promise.resolve({ text: "" }));
        if (looks === answers.length) stop.abort();
        return answer();
      },
      describeRefusal: (error) => `✖ ${(error as Error).message}`,
      everyMs: 1,
      title: "modelship status",
      signal: stop.signal,
      output: screen,
      now: () => new Date("2026-12-07T10:00:00Z"),
    });

    expect(looks).toBe(2);
    expect(screen.writes[0]).toBe("\x1b[?25l");
    expect(screen.writes[1]).toContain("✖ control plane stopped");
    expect(screen.writes[1]).toContain("modelship status — 10:00:00 UTC, every 0 s (Ctrl-C to stop)");
    // The second look ended the watch before its frame: the watch stops on the signal, cursor back.
    expect(screen.writes.at(-1)).toBe("\x1b[?25h");
  });

  it("lets an error that is not a refusal propagate (a bug), giving the cursor back", async () => {
    const screen = new Screen(true, 40);
    await expect(
      watchStatus({
        look: () => Promise.reject(new TypeError("undefined is not a function")),
        describeRefusal: () => undefined,
        everyMs: 1,
        title: "t",
        signal: new AbortController().signal,
        output: screen,
      }),
    ).rejects.toThrow(TypeError);
    expect(screen.writes).toEqual(["\x1b[?25l", "\x1b[?25h"]);
  });

  it("shows names from the records as text, never as terminal control sequences", async () => {
    const screen = new Screen(false);
    const stop = new AbortController();
    await watchStatus({
      look: async () => ({ text: "model \x1b[2Jevil" }),
      describeRefusal: () => undefined,
      everyMs: 60_000,
      title: "t",
      signal: stop.signal,
      output: {
        write: (text: string) => {
          screen.write(text);
          stop.abort();
        },
      },
    });
    expect(screen.writes).toHaveLength(1);
    expect(screen.writes[0]).toContain("model \\x1b[2Jevil");
  });
});

describe("modelship status --local --watch, the process", () => {
  let work: string;
  let controlPlane: ControlPlane | undefined;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), "modelship-status-watch-"));
  });

  afterAll(async () => {
    await controlPlane?.close();
    await rm(work, { recursive: true, force: true });
  });

  it("draws the status again and again, shows the control plane going away, and ends on Ctrl-C with exit 0", async () => {
    const home = join(work, "home");
    controlPlane = await startControlPlane({
      home,
      timeFactor: 0,
      port: 0,
      watchBucket: false,
      log: () => {},
    });
    const cli = startCli(["status", "--local", "--home", home, "--watch", "--every", "1"]);
    try {
      await cli.waitForLine(
        /^── modelship status --local — \d\d:\d\d:\d\d UTC, every 1 s \(Ctrl-C to stop\)$/,
      );
      await cli.waitForLine(/^No model has been rolled out in .* yet\.$/);

      await controlPlane.close();
      controlPlane = undefined;
      await cli.waitForLine(/^✖ .*control plane.*Start it with `modelship local --home /);

      cli.child.kill("SIGINT");
      expect(await cli.exited).toEqual({ code: 0, signal: null });
    } finally {
      cli.child.kill("SIGKILL");
    }
  });

  it("refuses --watch with --json: a program polls --json", async () => {
    const cli = startCli(["status", "--local", "--home", join(work, "none"), "--watch", "--json"]);
    await cli.waitForLine(/--watch redraws for a person to read; a program polls --json instead/);
    expect((await cli.exited).code).toBe(2);
  });
});
