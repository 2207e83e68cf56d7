// Which eval suites a rollout runs and how they split over the Eval Map. The built-in `sanity` suite runs in
// every rollout (a manifest names it only to set its thresholds); every other suite is a file in the bucket,
// `evals/<name>.jsonl`. Each suite splits into shards of about `evalShardSize` items, and the whole gate into
// at most MAX_EVAL_SHARDS: the plan and the Map's results travel in the execution state (256 KB), so a huge
// suite gets bigger shards rather than more of them.

import type { ResolvedEvalGate, ResolvedEvalSuite } from "../manifest/manifest-schema";
import { SANITY_SUITE, SANITY_SUITE_NAME } from "./sanity-suite";
import { shardCount } from "./shard";

/** Shard `index` (0-based) of `of` of a suite: the suite's items whose id hashes to `index` (shardItems). */
export interface EvalShardPlan {
  readonly suite: ResolvedEvalSuite;
  readonly index: number;
  readonly of: number;
  /** SHA-256 (hex) of the suite file Prepare checked, so every shard runs that file; absent for a built-in suite. */
  readonly sha256?: string;
  /** The gate's cap on every item's `max_tokens` (`gates.eval.maxTokens`), when set. */
  readonly maxTokens?: number;
}

/** Each Map result is a few hundred bytes (a shard's counts, its first failures and a key): 100 stay far below 256 KB. */
export const MAX_EVAL_SHARDS = 100;

/** A suite file Prepare read and checked: how many items it has and which bytes they were. */
export interface CheckedSuiteFile {
  readonly name: string;
  readonly items: number;
  /** SHA-256 of the file, hex. */
  readonly sha256: string;
}

export function isBuiltInSuite(name: string): boolean {
  return name === SANITY_SUITE_NAME;
}

/** Where a suite's items are in the bucket. */
export function suiteFileKey(name: string): string {
  return `evals/${name}.jsonl`;
}

/**
 * The suites of an enabled eval gate: the manifest's, with `sanity` first when the manifest does not name
 * it (at the stack's default thresholds). None when the gate is off.
 */
export function suitesToRun(
  gate: ResolvedEvalGate,
  defaults: { readonly minScore: number; readonly maxRegression: number },
): readonly ResolvedEvalSuite[] {
  if (!gate.enabled) return [];
  if (gate.suites.some((suite) => isBuiltInSuite(suite.name))) return gate.suites;
  return [
    { name: SANITY_SUITE_NAME, minScore: defaults.minScore, maxRegression: defaults.maxRegression },
    ...gate.suites,
  ];
}

/**
 * One entry per shard, suite by suite. A suite file must be among `files` (what Prepare read); the built-in
 * suite's size is known. Shards hold `shardSize` items on average, more when the suites together would
 * need more than MAX_EVAL_SHARDS shards.
 */
export function planEvalShards(
  suites: readonly ResolvedEvalSuite[],
  files: readonly CheckedSuiteFile[],
  shardSize: number,
  maxTokens?: number,
): EvalShardPlan[] {
  const sized = suites.map((suite) => {
    if (isBuiltInSuite(suite.name)) return { suite, items: SANITY_SUITE.length };
    const file = files.find((f) => f.name === suite.name);
    if (!file) {
      throw new Error(
        `Eval suite '${suite.name}' cannot be planned before its file ${suiteFileKey(suite.name)} is read and checked.`,
      );
    }
    return { suite, items: file.items, sha256: file.sha256 };
  });
  const total = sized.reduce((sum, s) => sum + s.items, 0);
  // Σ ceil(items / size) < total / size + suites ≤ MAX_EVAL_SHARDS once size ≥ total / (MAX − suites).
  const size = Math.max(1, shardSize, Math.ceil(total / Math.max(1, MAX_EVAL_SHARDS - sized.length)));
  return sized.flatMap(({ suite, items, sha256 }) => {
    const of = shardCount(items, size);
    return Array.from({ length: of }, (_, index) => ({
      suite,
      index,
      of,
      ...(sha256 === undefined ? {} : { sha256 }),
      ...(maxTokens === undefined ? {} : { maxTokens }),
    }));
  });
}
