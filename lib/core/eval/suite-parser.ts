// Reads a suite file (`evals/<suite>.jsonl`: one JSON item per line) from its bytes. It never throws on
// what the file holds — bytes that are not UTF-8, lines that are not JSON, huge lines, wrong fields — and
// it reports every bad line (line number, field, what was expected, how to fix it) and every repeated id,
// not just the first, so a suite is fixed in one pass. Past `maxFindings` the rest are counted, not listed.

import type { Finding } from "../findings";
import { checkSuiteItem, type SuiteItem } from "./suite-item";

export interface SuiteParseOptions {
  /** The file's name, for the findings (e.g. `evals/mmlu-pro-sample.jsonl`). */
  readonly file: string;
  /** Findings listed one by one; the rest are summarised in a closing finding. Default 100. */
  readonly maxFindings?: number;
}

export interface ParsedSuite {
  /** The good items, in file order. Use them only when `findings` has no error. */
  readonly items: readonly SuiteItem[];
  readonly findings: readonly Finding[];
}

/** A line longer than this is reported, not parsed: an eval question is not a megabyte. */
export const MAX_LINE_BYTES = 1024 * 1024;
const DEFAULT_MAX_FINDINGS = 100;
const NEWLINE = 0x0a;

export function parseSuite(bytes: Uint8Array, options: SuiteParseOptions): ParsedSuite {
  const { file } = options;
  const maxFindings = Math.max(1, options.maxFindings ?? DEFAULT_MAX_FINDINGS);
  const decoder = new TextDecoder("utf-8", { fatal: true });
  const items: SuiteItem[] = [];
  const findings: Finding[] = [];
  const firstLineOfId = new Map<string, number>();
  let overflow = { count: 0, errors: 0, firstLine: 0, lastLine: 0 };
  const report = (line: number, finding: Omit<Finding, "file">) => {
    if (findings.length < maxFindings) {
      findings.push({
        ...finding,
        file,
        path: finding.path ? `line ${line}, ${finding.path}` : `line ${line}`,
      });
      return;
    }
    overflow = {
      count: overflow.count + 1,
      errors: overflow.errors + (finding.severity === "error" ? 1 : 0),
      firstLine: overflow.firstLine || line,
      lastLine: line,
    };
  };

  let start = 0;
  for (let line = 1; start < bytes.length; line++) {
    const newline = bytes.indexOf(NEWLINE, start);
    const end = newline < 0 ? bytes.length : newline;
    const lineBytes = bytes.subarray(start, end);
    start = end + 1;
    if (lineBytes.length > MAX_LINE_BYTES) {
      report(
        line,
        problem(
          "line-too-long",
          `is ${lineBytes.length} bytes long; a line may have at most ${MAX_LINE_BYTES}.`,
          "Put one item per line; check that the file is JSONL (one JSON object per line), not one big JSON document.",
        ),
      );
      continue;
    }
    let text: string;
    try {
      text = decoder.decode(lineBytes);
    } catch {
      report(
        line,
        problem(
          "not-utf8",
          "is not UTF-8 text.",
          "Save the suite as UTF-8 (a binary or Latin-1 file cannot be read).",
        ),
      );
      continue;
    }
    if (text.trim() === "") continue;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      report(
        line,
        problem(
          "not-json",
          `is not JSON (${reason}).`,
          'Each line must be one complete JSON object, e.g. {"id": "q1", "prompt": "…", "answer": "…", "scorer": "exact"}.',
        ),
      );
      continue;
    }
    const check = checkSuiteItem(value);
    for (const finding of check.findings) report(line, finding);
    // An id is checked for repeats even on a line with other problems, so every problem shows in one pass.
    const id = idOf(value);
    const firstLine = id === undefined ? undefined : firstLineOfId.get(id);
    if (id !== undefined && firstLine !== undefined) {
      report(line, {
        ...problem(
          "duplicate-id",
          `id '${id}' is already used on line ${firstLine}; ids must be unique, because results are paired with the stable version's by id.`,
          "Give each item its own id.",
        ),
        path: "id",
      });
      continue;
    }
    if (id !== undefined) firstLineOfId.set(id, line);
    if (check.item) items.push(check.item);
  }

  if (overflow.count > 0) {
    findings.push({
      severity: overflow.errors > 0 ? "error" : "warning",
      code: "eval-suite.more-findings",
      file,
      message: `${overflow.count} more finding${overflow.count === 1 ? "" : "s"} on lines ${overflow.firstLine}–${overflow.lastLine} are not listed.`,
      hint: "Fix the lines listed above and parse the suite again to see the rest.",
    });
  }
  if (items.length === 0 && findings.length === 0) {
    findings.push({
      severity: "error",
      code: "eval-suite.empty",
      file,
      message: "has no items.",
      hint: 'Write one JSON object per line: {"id": "q1", "messages": [{"role": "user", "content": "…"}], "answer": "…", "scorer": "contains"}.',
    });
  }
  return { items, findings };
}

/** The line's id as the item will carry it (`7` → "7"), if it has a usable one. */
function idOf(value: unknown): string | undefined {
  const id = typeof value === "object" && value !== null ? (value as { id?: unknown }).id : undefined;
  if (typeof id === "string" && id !== "") return id;
  if (typeof id === "number" && Number.isSafeInteger(id) && id >= 0) return String(id);
  return undefined;
}

function problem(kind: string, message: string, hint: string): Omit<Finding, "file"> {
  return { severity: "error", code: `eval-suite.${kind}`, message, hint };
}
