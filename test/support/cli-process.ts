// The modelship CLI as a separate process, as a user runs it (`bin/modelship.mjs`, the npm bin entry, on
// this Node): for tests of what only a process shows — signals, exit codes, another process finding the
// control plane. Output is collected line by line; a test waits for a line, never for a duration.

import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const CLI_ENTRY = fileURLToPath(new URL("../../bin/modelship.mjs", import.meta.url));

export interface CliProcess {
  readonly child: ChildProcess;
  /** Every line written to stdout and stderr so far, in the order they arrived. */
  readonly lines: readonly string[];
  /** Resolves with the first line matching `pattern`; rejects if the process exits first. */
  waitForLine(pattern: RegExp): Promise<string>;
  /** Resolves when the process has exited, with its exit code (null when a signal ended it). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function startCli(args: readonly string[]): CliProcess {
  const child = spawn(process.execPath, [CLI_ENTRY, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  const lines: string[] = [];
  const waiting = new Set<() => void>();
  let ended = false;
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream }).on("line", (line) => {
      lines.push(line);
      for (const check of waiting) check();
    });
  }
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code, signal) => {
      ended = true;
      for (const check of waiting) check();
      resolve({ code, signal });
    });
  });
  return {
    child,
    lines,
    exited,
    waitForLine: (pattern) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const line = lines.find((l) => pattern.test(l));
          if (line !== undefined) {
            waiting.delete(check);
            resolve(line);
          } else if (ended) {
            waiting.delete(check);
            reject(new Error(`modelship exited before printing ${pattern}:\n${lines.join("\n")}`));
          }
        };
        waiting.add(check);
        check();
      }),
  };
}
