// Reads a stable version's stored eval results back — what `modelship eval --json` printed, or what the
// pipeline kept at the version's promotion — as SuiteOutcomes to compare a candidate with. The file is
// not trusted: its shape is checked (every problem reported) and each score is recomputed from the
// per-item verdicts rather than read.

import { z } from "zod";
import type { Finding } from "../findings";
import { findingsFromSchemaIssues } from "../schema-findings";
import { scoreSuite, type SuiteOutcomes } from "./eval-results";

const outcomesSchema = z.looseObject({
  score: z.looseObject({ suite: z.string().min(1) }),
  verdicts: z.record(z.string(), z.enum(["correct", "wrong", "error"])),
});

/** One suite's outcomes, a list of them, or `{suites: [...]}` (the `modelship eval --json` output). */
const storedSchema = z.union([
  z.looseObject({ suites: z.array(outcomesSchema) }),
  z.array(outcomesSchema),
  outcomesSchema,
]);

type StoredSuite = z.infer<typeof outcomesSchema>;

export interface StoredOutcomes {
  readonly outcomes: readonly SuiteOutcomes[];
  readonly findings: readonly Finding[];
}

export function readStoredOutcomes(value: unknown, file: string): StoredOutcomes {
  const parsed = storedSchema.safeParse(value);
  if (!parsed.success) {
    const findings = findingsFromSchemaIssues(parsed.error.issues, value, storedSchema, {
      codePrefix: "eval-results",
      file,
    }).map((finding) => ({
      ...finding,
      hint:
        finding.hint ??
        "Give the JSON that `modelship eval --json` printed for the stable version (it has `suites[].verdicts`).",
    }));
    return { outcomes: [], findings };
  }
  const list = listOf(parsed.data);
  const findings: Finding[] = [];
  const seen = new Set<string>();
  const outcomes: SuiteOutcomes[] = [];
  for (const [index, entry] of list.entries()) {
    const suite = entry.score.suite;
    if (seen.has(suite)) {
      findings.push({
        severity: "error",
        code: "eval-results.duplicate-suite",
        file,
        path: `suites[${index}]`,
        message: `suite '${suite}' is there more than once.`,
        hint: "Keep one result per suite.",
      });
      continue;
    }
    seen.add(suite);
    const verdicts = entry.verdicts;
    outcomes.push({
      score: scoreSuite(
        suite,
        Object.values(verdicts).map((verdict) => ({ verdict })),
      ),
      verdicts,
    });
  }
  return { outcomes, findings };
}

function listOf(data: z.infer<typeof storedSchema>): readonly StoredSuite[] {
  if (Array.isArray(data)) return data;
  const suites = outcomesSchema.array().safeParse((data as { suites?: unknown }).suites);
  return suites.success ? suites.data : [data as StoredSuite];
}
