// One usage-error style for every command: a misspelt flag, a flag missing its value, a value given to a
// switch and an argument a command does not take are each named in a whole sentence — with a did-you-mean for
// the misspelt flag — followed by the command's usage, exit 2; never Node's parseArgs text.

import { afterEach, describe, expect, it, vi } from "vitest";
import { captureConsole } from "../support/console-capture";

const COMMANDS = {
  validate: () => import("../../lib/cli/validate"),
  example: () => import("../../lib/cli/example"),
  run: () => import("../../lib/cli/run"),
  local: () => import("../../lib/cli/local"),
  status: () => import("../../lib/cli/status"),
  rollback: () => import("../../lib/cli/rollback"),
  promote: () => import("../../lib/cli/promote"),
  abort: () => import("../../lib/cli/abort"),
  fault: () => import("../../lib/cli/fault"),
  bench: () => import("../../lib/cli/bench"),
  eval: () => import("../../lib/cli/eval"),
  doctor: () => import("../../lib/cli/doctor"),
} as const;

/** A misspelt flag each command has, and what it was meant to be. */
const MISSPELT: Record<keyof typeof COMMANDS, [string[], string, string]> = {
  validate: [["./model", "--jsn"], "--jsn", "--json"],
  example: [["./dir", "--fromat", "gguf"], "--fromat", "--format"],
  run: [["./model", "--local", "--versoin", "v2"], "--versoin", "--version"],
  local: [["--prot", "0"], "--prot", "--port"],
  status: [["--loacl"], "--loacl", "--local"],
  rollback: [["tiny", "--reasn", "x"], "--reasn", "--reason"],
  promote: [["tiny", "--hmoe", "x"], "--hmoe", "--home"],
  abort: [["tiny", "--lcoal"], "--lcoal", "--local"],
  fault: [["tiny", "--variant", "stable", "--dely", "1s"], "--dely", "--delay"],
  bench: [["http://127.0.0.1:1", "--model", "m", "--concurency", "4"], "--concurency", "--concurrency"],
  eval: [["http://127.0.0.1:1", "--model", "m", "--sutie", "sanity"], "--sutie", "--suite"],
  doctor: [["--stak", "Modelship"], "--stak", "--stack"],
};

afterEach(() => {
  vi.restoreAllMocks();
});

async function usageError(command: keyof typeof COMMANDS, argv: string[]): Promise<string> {
  const printed = captureConsole();
  const { run } = await COMMANDS[command]();
  expect(await run(argv)).toBe(2);
  vi.restoreAllMocks();
  const text = printed.join("\n");
  expect(text).toMatch(/Usage: modelship /);
  expect(text).not.toMatch(/Unknown option|ERR_PARSE_ARGS|To specify a positional argument/);
  return text;
}

describe("Every command's usage errors", () => {
  for (const [command, [argv, typed, meant]] of Object.entries(MISSPELT) as [
    keyof typeof COMMANDS,
    [string[], string, string],
  ][]) {
    it(`${command}: names a misspelt flag and the one it was probably meant to be`, async () => {
      expect(await usageError(command, argv)).toContain(
        `modelship ${command}: unknown flag ${typed}: did you mean ${meant}?`,
      );
    });
  }

  it("lists the flags when nothing is close to the one given", async () => {
    expect(await usageError("local", ["--frobnicate"])).toContain(
      "modelship local: unknown flag --frobnicate; the flags are --home, --port, --time-factor, --help.",
    );
  });

  it("says a flag needs a value, a switch takes none, and a command takes no such argument", async () => {
    expect(await usageError("local", ["--port"])).toContain(
      "modelship local: --port needs a value, e.g. --port <value>.",
    );
    expect(await usageError("validate", ["./model", "--json=yes"])).toContain(
      "modelship validate: --json takes no value; give it alone.",
    );
    expect(await usageError("local", ["./extra"])).toContain(
      "modelship local: unexpected argument './extra': this command takes flags only.",
    );
  });
});
