// The bench a CLI command's test runs on: for each test a fresh temporary folder (`root`) and the lines the
// command prints on stdout and stderr (console.log and console.error, captured); after it, the console is
// restored and the folder removed. Call it at the top of a test file; read its fields inside the tests.

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, vi } from "vitest";
import { captureStreams } from "./console-capture";

export interface CliTestBench {
  /** This test's temporary folder. */
  readonly root: string;
  readonly stdout: string[];
  readonly stderr: string[];
}

/** Registers the bench's beforeEach and afterEach; `name` tells the temporary folders apart (`modelship-<name>-…`). */
export function cliTestBench(name: string): CliTestBench {
  const bench = { root: "", stdout: [] as string[], stderr: [] as string[] };
  beforeEach(async () => {
    bench.root = await mkdtemp(join(tmpdir(), `modelship-${name}-`));
    Object.assign(bench, captureStreams());
  });
  afterEach(async () => {
    vi.restoreAllMocks();
    await rm(bench.root, { recursive: true, force: true });
  });
  return bench;
}
