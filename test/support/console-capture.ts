// What a CLI command prints: console.log and console.error both go, line by line in order, into the returned
// list (or, with captureStreams, into one list each) until `vi.restoreAllMocks()`.

import { vi } from "vitest";

export function captureConsole(): string[] {
  const lines: string[] = [];
  const capture = (...parts: unknown[]) => void lines.push(parts.join(" "));
  vi.spyOn(console, "log").mockImplementation(capture);
  vi.spyOn(console, "error").mockImplementation(capture);
  return lines;
}

export interface CapturedStreams {
  /** console.log's lines: what the command prints on stdout. */
  readonly stdout: string[];
  /** console.error's lines: stderr. */
  readonly stderr: string[];
}

export function captureStreams(): CapturedStreams {
  const captured: CapturedStreams = { stdout: [], stderr: [] };
  const into =
    (lines: string[]) =>
    (...parts: unknown[]) =>
      void lines.push(parts.join(" "));
  vi.spyOn(console, "log").mockImplementation(into(captured.stdout));
  vi.spyOn(console, "error").mockImplementation(into(captured.stderr));
  return captured;
}
