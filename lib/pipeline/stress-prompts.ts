// Reads the stress test's prompt set the way Prepare checks it and StressWorker sends it: the bucket's
// `prompts/<name>.jsonl`, one prompt per line (`{"messages": [...]}` or `{"prompt": "…"}`, as
// lib/loadgen/prompt-file.ts reads them), with every bad line reported by its number. The file's size is
// asked for before its bytes (a prompt set is not gigabytes), and its SHA-256 is kept so each worker can tell
// that it sends the very file Prepare checked.

import { createHash } from "node:crypto";
import { CappedFindings } from "../core/capped-findings";
import type { Finding } from "../core/findings";
import { unreadableEntryFinding } from "../core/weights/unreadable-entry";
import type { LoadPrompt } from "../loadgen/load-prompt";
import { parsePromptFile, PromptFileInvalid, type PromptLineProblem } from "../loadgen/prompt-file";
import { type DepsUsing, portUse } from "./port-use";

/** Tens of thousands of long prompts fit; every worker holds the whole set in memory. */
export const MAX_PROMPT_SET_BYTES = 64 * 1024 * 1024;

export interface LoadedPromptSet {
  readonly name: string;
  /** `prompts/<name>.jsonl`. */
  readonly key: string;
  /** Usable only when `findings` has no error. */
  readonly prompts: readonly LoadPrompt[];
  readonly findings: readonly Finding[];
  /** SHA-256 (hex) of the file; absent for a file that could not be read. */
  readonly sha256?: string;
}

const NEWLINE = 0x0a;

/** Where a prompt set is in the bucket. */
export function promptSetKey(name: string): string {
  return `prompts/${name}.jsonl`;
}

/** Reading a prompt set: its size first, then its bytes, from `prompts/`. */
export const PROMPT_SET_READS = portUse({ objects: { head: ["prompts"], get: ["prompts"], location: [] } });

export async function loadPromptSet(
  objects: DepsUsing<typeof PROMPT_SET_READS>["objects"],
  name: string,
): Promise<LoadedPromptSet> {
  const key = promptSetKey(name);
  const info = await objects.head(key);
  if (info?.unreadable) {
    const {
      severity: _,
      file: __,
      ...finding
    } = unreadableEntryFinding(key, info.unreadable, objects.location);
    return unusable(name, key, finding);
  }
  if (info && info.size > MAX_PROMPT_SET_BYTES) return tooLarge(name, key, info.size);
  const bytes = info ? await objects.get(key) : undefined;
  if (bytes && bytes.length > MAX_PROMPT_SET_BYTES) return tooLarge(name, key, bytes.length);
  if (!bytes) {
    return unusable(name, key, {
      code: "stress-prompts.missing",
      message: `prompt set '${name}' has no file: ${objects.location}/${key} does not exist.`,
      hint: `Upload the prompt set as ${key} (one JSON prompt per line; see docs/loadgen.md) before the manifest, or remove gates.stress.prompts to send synthetic prompts.`,
    });
  }
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  const { prompts, problems } = parsePromptSet(bytes, key);
  const findings = new CappedFindings();
  for (const { line, message, code } of problems) {
    findings.add({ severity: "error", code, file: key, path: `line ${line}`, message });
  }
  return { name, key, prompts, findings: findings.list(), sha256 };
}

interface LineProblem extends PromptLineProblem {
  readonly code: string;
}

/** The file's prompts and every problem, by line: bytes that are not UTF-8 first, then what the prompt parser finds. */
function parsePromptSet(bytes: Uint8Array, key: string): { prompts: LoadPrompt[]; problems: LineProblem[] } {
  const { text, notUtf8 } = decodeLines(bytes);
  const problems: LineProblem[] = notUtf8.map((line) => ({
    line,
    code: "stress-prompts.not-utf8",
    message: "is not UTF-8 text; save the prompt set as UTF-8.",
  }));
  // Every line was unreadable: the parser would add that the file holds no prompts, which says nothing new.
  if (problems.length > 0 && text.trim() === "") return { prompts: [], problems };
  try {
    return { prompts: parsePromptFile(text, key), problems };
  } catch (error) {
    if (!(error instanceof PromptFileInvalid)) throw error;
    const bad = error.problems.map((p) => ({ ...p, code: "stress-prompts.bad-line" }));
    return { prompts: [], problems: [...problems, ...bad].sort((a, b) => a.line - b.line) };
  }
}

/** The file as text, with each line that is not UTF-8 left empty (so line numbers stay true) and named. */
function decodeLines(bytes: Uint8Array): { text: string; notUtf8: number[] } {
  const decoder = new TextDecoder("utf-8", { fatal: true });
  try {
    return { text: decoder.decode(bytes), notUtf8: [] };
  } catch {
    // Somewhere the bytes are not UTF-8: find the lines, so each is reported and the rest still checked.
  }
  const lines: string[] = [];
  const notUtf8: number[] = [];
  let start = 0;
  for (let line = 1; start <= bytes.length; line++) {
    const newline = bytes.indexOf(NEWLINE, start);
    const end = newline < 0 ? bytes.length : newline;
    try {
      lines.push(decoder.decode(bytes.subarray(start, end)));
    } catch {
      lines.push("");
      notUtf8.push(line);
    }
    start = end + 1;
  }
  return { text: lines.join("\n"), notUtf8 };
}

function tooLarge(name: string, key: string, size: number): LoadedPromptSet {
  return unusable(name, key, {
    code: "stress-prompts.too-large",
    message: `is ${size} bytes; a prompt set may have at most ${MAX_PROMPT_SET_BYTES} bytes.`,
    hint: "Sample it down: a few thousand prompts represent the traffic as well as millions, and every load worker reads the whole file.",
  });
}

function unusable(name: string, key: string, finding: Omit<Finding, "severity" | "file">): LoadedPromptSet {
  return { name, key, prompts: [], findings: [{ severity: "error", file: key, ...finding }] };
}
