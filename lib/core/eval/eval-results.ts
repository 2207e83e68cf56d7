// The shapes of eval results, in two sizes. A *detail* keeps everything about every item (the prompt, the
// raw output, what was extracted, the verdict, latency, attempts): it goes to a report object in the
// bucket. A *summary* is a few hundred bytes whatever the suite's size: it travels in the execution state
// (a Map item's result, 256 KB for all of them). All of it is plain JSON.

import { clipText } from "../text/clip-text";
import { type Interval, wilsonInterval } from "./wilson-interval";
import type { EvalPrompt, Scorer } from "./suite-item";

/** `error`: no answer (the server failed or timed out after its retries); it counts as not correct. */
export type Verdict = "correct" | "wrong" | "error";

export interface ItemResult {
  readonly id: string;
  readonly scorer: Scorer;
  /** What was sent: the item's question with its choices rendered. */
  readonly prompt: EvalPrompt;
  /** The expected answer as the scorer reads it; absent for json-valid. */
  readonly expected?: string;
  /** The model's raw output (its first characters when it is very long). */
  readonly output?: string;
  /** What the scorer read from the output. */
  readonly extracted?: string;
  readonly verdict: Verdict;
  /** Why there is no answer, for verdict `error`. */
  readonly error?: string;
  /** Milliseconds from the first attempt to the answer or the final failure, pauses between retries included. */
  readonly latencyMs: number;
  readonly attempts: number;
}

/** Which part of a suite: shard `index` (0-based) of `of`. An unsharded run is shard 0 of 1. */
export interface ShardRef {
  readonly index: number;
  readonly of: number;
}

export interface ShardDetail {
  readonly suite: string;
  readonly shard: ShardRef;
  readonly items: readonly ItemResult[];
}

export interface ItemFailure {
  readonly id: string;
  readonly reason: string;
}

/** A shard's counts and its first few failures: small enough for a Map item's result. */
export interface ShardSummary {
  readonly suite: string;
  readonly shard: ShardRef;
  readonly items: number;
  readonly correct: number;
  readonly wrong: number;
  readonly errors: number;
  /** The first items that got no answer, and why (at most 5). */
  readonly failures: readonly ItemFailure[];
}

export interface ShardResult {
  readonly summary: ShardSummary;
  readonly detail: ShardDetail;
}

/** A suite's accuracy: correct / items, errors counted as not correct, with its Wilson 95% interval. */
export interface SuiteScore {
  readonly suite: string;
  readonly items: number;
  readonly correct: number;
  readonly wrong: number;
  readonly errors: number;
  readonly score: number;
  readonly interval: Interval;
}

/** A whole suite's results (all shards merged), items in id order. */
export interface SuiteReport {
  readonly score: SuiteScore;
  readonly items: readonly ItemResult[];
}

/**
 * What is kept of a version's run to compare a later candidate with, item by item: the score and one
 * verdict per item id. Stored with the stable version at its promotion; `modelship eval --json` prints it.
 */
export interface SuiteOutcomes {
  readonly score: SuiteScore;
  readonly verdicts: Readonly<Record<string, Verdict>>;
}

const MAX_LISTED_FAILURES = 5;
const MAX_FAILURE_REASON_CHARS = 200;

export function scoreSuite(suite: string, results: readonly { readonly verdict: Verdict }[]): SuiteScore {
  const count = (verdict: Verdict) => results.filter((r) => r.verdict === verdict).length;
  const correct = count("correct");
  const items = results.length;
  return {
    suite,
    items,
    correct,
    wrong: count("wrong"),
    errors: count("error"),
    score: items === 0 ? 0 : correct / items,
    interval: wilsonInterval(correct, items),
  };
}

export function summarizeShard(detail: ShardDetail): ShardSummary {
  const { items, ...counts } = scoreSuite(detail.suite, detail.items);
  const failures = detail.items
    .filter((item) => item.verdict === "error")
    .slice(0, MAX_LISTED_FAILURES)
    .map((item) => ({ id: item.id, reason: clipText(item.error ?? "no answer", MAX_FAILURE_REASON_CHARS) }));
  return {
    suite: detail.suite,
    shard: detail.shard,
    items,
    correct: counts.correct,
    wrong: counts.wrong,
    errors: counts.errors,
    failures,
  };
}

export function suiteOutcomes(report: SuiteReport): SuiteOutcomes {
  return {
    score: report.score,
    verdicts: Object.fromEntries(report.items.map((item) => [item.id, item.verdict])),
  };
}
