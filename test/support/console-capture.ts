// What a CLI command prints: console.log and console.error both go, line by line in order, into the returned
// list until `vi.restoreAllMocks()`.

import { vi } from "vitest";

export function captureConsole(): string[] {
  const lines: string[] = [];
  const capture = (...parts: unknown[]) => void lines.push(parts.join(" "));
  vi.spyOn(console, "log").mockImplementation(capture);
  vi.spyOn(console, "error").mockImplementation(capture);
  return lines;
}
