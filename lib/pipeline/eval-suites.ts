// Reads an eval suite the way Prepare checks it and EvalShard runs it: the built-in `sanity` suite from the
// code, any other from the bucket as `evals/<name>.jsonl`, parsed with every bad line reported. The file's
// size is asked for before its bytes (a suite is not gigabytes), and its SHA-256 is kept so each shard can
// tell that it runs the very file Prepare checked.

import { createHash } from "node:crypto";
import { isBuiltInSuite, suiteFileKey } from "../core/eval/eval-plan";
import { SANITY_SUITE } from "../core/eval/sanity-suite";
import type { SuiteItem } from "../core/eval/suite-item";
import { parseSuite } from "../core/eval/suite-parser";
import type { Finding } from "../core/findings";
import { unreadableEntryFinding } from "../core/weights/unreadable-entry";
import { type DepsUsing, portUse } from "./port-use";

/** Thousands of questions with long prompts fit many times over; a bigger file is not a suite. */
export const MAX_SUITE_BYTES = 64 * 1024 * 1024;

export interface LoadedSuite {
  readonly name: string;
  /** Usable only when `findings` has no error. */
  readonly items: readonly SuiteItem[];
  readonly findings: readonly Finding[];
  /** SHA-256 (hex) of the file; absent for the built-in suite and for a file that could not be read. */
  readonly sha256?: string;
}

/** Reading a suite: its size first, then its bytes, from `evals/`. */
export const SUITE_READS = portUse({ objects: { head: ["evals"], get: ["evals"], location: [] } });

export async function loadSuite(
  objects: DepsUsing<typeof SUITE_READS>["objects"],
  name: string,
): Promise<LoadedSuite> {
  if (isBuiltInSuite(name)) return { name, items: SANITY_SUITE, findings: [] };
  const key = suiteFileKey(name);
  const info = await objects.head(key);
  if (info?.unreadable) {
    const { severity: _, ...finding } = unreadableEntryFinding(key, info.unreadable, objects.location);
    return unusable(name, finding);
  }
  if (info && info.size > MAX_SUITE_BYTES) return tooLarge(name, key, info.size);
  const bytes = info ? await objects.get(key) : undefined;
  if (bytes && bytes.length > MAX_SUITE_BYTES) return tooLarge(name, key, bytes.length);
  if (!bytes) {
    return unusable(name, {
      code: "eval-suite.missing",
      file: key,
      message: `eval suite '${name}' has no file: ${objects.location}/${key} does not exist.`,
      hint: `Upload the suite as ${key} (one JSON item per line; see docs/evals.md) before the manifest, or remove '${name}' from gates.eval.suites.`,
    });
  }
  const parsed = parseSuite(bytes, { file: key });
  return {
    name,
    items: parsed.items,
    findings: parsed.findings,
    sha256: createHash("sha256").update(bytes).digest("hex"),
  };
}

function tooLarge(name: string, key: string, size: number): LoadedSuite {
  return unusable(name, {
    code: "eval-suite.too-large",
    file: key,
    message: `is ${size} bytes; a suite file may have at most ${MAX_SUITE_BYTES} bytes.`,
    hint: "Split it into several suites (each its own evals/<name>.jsonl, each named in gates.eval.suites), or sample it down.",
  });
}

function unusable(name: string, finding: Omit<Finding, "severity">): LoadedSuite {
  return { name, items: [], findings: [{ severity: "error", ...finding }] };
}
