// `modelship status --watch`: the status, looked at again every few seconds and redrawn in place, for those who
// watch a rollout from a terminal. On a terminal each frame replaces the last (cursor home, clear to the end;
// clipped to the window's height so a redraw never scrolls); written to a pipe or a file, frames follow each
// other under a time line, so a log of a watch reads as one. A look that is refused — the control plane
// stopped, AWS said no — is shown in the frame and the watch goes on; Ctrl-C ends it.

import { terminalLines } from "../core/text/terminal-text";

export const DEFAULT_WATCH_SECONDS = 2;

export interface WatchOptions {
  /** One look: the frame's text. */
  readonly look: () => Promise<{ readonly text: string }>;
  /** A refusal a look can meet, as the line the frame shows; undefined for anything else (a bug: it propagates). */
  readonly describeRefusal: (error: unknown) => string | undefined;
  readonly everyMs: number;
  /** The first line of every frame. */
  readonly title: string;
  /** Ends the watch (default: Ctrl-C). */
  readonly signal?: AbortSignal;
  readonly output?: NodeJS.WriteStream | WatchOutput;
  readonly now?: () => Date;
}

/** Where frames go: a terminal (with its size) or anything else that takes text. */
export interface WatchOutput {
  readonly isTTY?: boolean;
  readonly rows?: number;
  write(text: string): unknown;
}

const CURSOR_HOME_CLEAR = "\x1b[H\x1b[J";
const HIDE_CURSOR = "\x1b[?25l";
const SHOW_CURSOR = "\x1b[?25h";

/** Looks, draws, waits, until the signal (or Ctrl-C) ends it; the cursor is given back either way. */
export async function watchStatus(options: WatchOptions): Promise<void> {
  const output: WatchOutput = options.output ?? process.stdout;
  const now = options.now ?? (() => new Date());
  const interrupt = new AbortController();
  const onSigint = () => interrupt.abort();
  if (!options.signal) process.once("SIGINT", onSigint);
  const signal = options.signal ?? interrupt.signal;
  if (output.isTTY) output.write(HIDE_CURSOR);
  try {
    while (!signal.aborted) {
      let body: string;
      try {
        body = terminalLines((await options.look()).text);
      } catch (error) {
        const refusal = options.describeRefusal(error);
        if (refusal === undefined) throw error;
        body = terminalLines(refusal);
      }
      if (signal.aborted) break;
      const seconds = Math.round(options.everyMs / 1000);
      const header = `${options.title} — ${clockTime(now())}, every ${seconds} s (Ctrl-C to stop)`;
      output.write(watchFrame(header, body, output));
      await delay(options.everyMs, signal);
    }
  } finally {
    if (output.isTTY) output.write(SHOW_CURSOR);
    process.removeListener("SIGINT", onSigint);
  }
}

/** One frame as written: redrawn in place on a terminal (clipped to its height), appended elsewhere. */
export function watchFrame(
  header: string,
  body: string,
  output: Pick<WatchOutput, "isTTY" | "rows">,
): string {
  if (!output.isTTY) return `── ${header}\n${body}\n\n`;
  const lines = [header, "", ...body.split("\n")];
  const rows = output.rows && output.rows > 3 ? output.rows - 1 : lines.length;
  if (lines.length > rows) {
    const hidden = lines.length - (rows - 1);
    lines.splice(
      rows - 1,
      lines.length,
      `… ${hidden} more lines: name one model, or make the window taller.`,
    );
  }
  return `${CURSOR_HOME_CLEAR}${lines.join("\n")}\n`;
}

function clockTime(at: Date): string {
  return `${at.toISOString().slice(11, 19)} UTC`;
}

function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });
}
