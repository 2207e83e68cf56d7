// The eval gate for one suite. The rule, exactly:
//
//   pass  ⇔  unanswered / items ≤ maxErrorRate
//            AND score ≥ minScore
//            AND NOT ( stableScore − candidateScore > maxRegression   (on the paired items)
//                      AND McNemar p < 0.05 )
//
// unanswered are the items that got no answer (the server refused them, failed or timed out after the
// retries): past maxErrorRate of them the suite could not be evaluated — its score would measure the
// server's failures, not the model — and that is said as such, never as a low score.
// score is the candidate's accuracy on the whole suite (items without an answer count as wrong);
// candidateScore and stableScore are the accuracies on the items both versions answered, paired by id,
// and p is the two-sided exact McNemar p-value on their discordant items. A candidate is held back for a
// regression only when it is both worse by more than the allowed margin and significantly worse: a drop
// that chance explains does not block a release, and a significant but tiny one within maxRegression does
// not either. Without a stable version (a first release) or with no paired item, only minScore applies.
// The verdict carries every number it was based on.

import type { Interval } from "./wilson-interval";
import type { SuiteScore } from "./eval-results";
import type { PairedComparison } from "./paired-comparison";

const SIGNIFICANCE_LEVEL = 0.05;

export interface SuiteGateInput {
  readonly score: SuiteScore;
  readonly minScore: number;
  readonly maxRegression: number;
  /** The largest share of items that may go without an answer, 0..1. */
  readonly maxErrorRate: number;
  /** The paired comparison with the stable version, when there is one. */
  readonly comparison?: PairedComparison;
}

export interface SuiteGateVerdict {
  readonly suite: string;
  readonly pass: boolean;
  readonly score: number;
  readonly interval: Interval;
  readonly items: number;
  readonly minScore: number;
  readonly maxRegression: number;
  /** Whether enough items were answered for the score to mean anything. */
  readonly unanswered: UnansweredCheck;
  readonly comparison?: PairedComparison;
  /** Sentences a user reads: each condition, its threshold and the measured value. */
  readonly reasons: readonly string[];
}

/** The items without an answer against the share allowed. */
export interface UnansweredCheck {
  readonly count: number;
  readonly items: number;
  /** count / items; 0 for an empty suite. */
  readonly share: number;
  readonly maxErrorRate: number;
  /** More than maxErrorRate of the items got no answer: the suite could not be evaluated. */
  readonly tooMany: boolean;
  /** The sentence that says so, with both numbers. */
  readonly reason: string;
}

/** Whether more than `maxErrorRate` of the suite's items went without an answer. */
export function checkUnanswered(score: SuiteScore, maxErrorRate: number): UnansweredCheck {
  const share = score.items === 0 ? 0 : score.errors / score.items;
  // Shares are ratios of counts: exactly maxErrorRate must not fail as a hair above it.
  const tooMany = share - maxErrorRate > 1e-12;
  const counted = `${score.errors} of ${score.items} items (${percent(share)}) got no answer`;
  return {
    count: score.errors,
    items: score.items,
    share,
    maxErrorRate,
    tooMany,
    reason: tooMany
      ? `Could not evaluate: ${counted}, more than maxErrorRate ${percent(maxErrorRate)} allows; the score would measure the server's failures, not the model.`
      : `${counted} (≤ maxErrorRate ${percent(maxErrorRate)}).`,
  };
}

export function decideSuiteGate(input: SuiteGateInput): SuiteGateVerdict {
  const { score, minScore, maxRegression, comparison } = input;
  const unanswered = checkUnanswered(score, input.maxErrorRate);
  const reasons: string[] = unanswered.tooMany ? [unanswered.reason] : [];
  const scoreOk = score.score >= minScore;
  reasons.push(
    `score ${percent(score.score)} (95% CI ${percent(score.interval.low)}–${percent(score.interval.high)}, ` +
      `${score.correct}/${score.items} correct${score.errors ? `, ${score.errors} without an answer` : ""}) ` +
      `${scoreOk ? "≥" : "<"} minScore ${percent(minScore)}.`,
  );
  let regressed = false;
  if (!comparison) {
    reasons.push("No stable result to compare with: only minScore applies.");
  } else if (comparison.paired === 0) {
    reasons.push("The stable result has none of these item ids: the regression check cannot apply.");
  } else {
    const drop = comparison.stableScore - comparison.candidateScore;
    // Scores are ratios of counts: a drop of exactly maxRegression must not pass as a hair above it.
    const beyondMargin = drop - maxRegression > 1e-12;
    const significant = comparison.pValue < SIGNIFICANCE_LEVEL;
    regressed = beyondMargin && significant;
    reasons.push(
      `On ${comparison.paired} paired items the candidate scores ${percent(comparison.candidateScore)} and stable ` +
        `${percent(comparison.stableScore)}: ${drop > 0 ? `a drop of ${points(drop)}` : `no drop (${points(-drop)} better)`} ` +
        `(${beyondMargin ? ">" : "≤"} maxRegression ` +
        `${points(maxRegression)}); discordant items b=${comparison.onlyStableCorrect} (only stable right), ` +
        `c=${comparison.onlyCandidateCorrect} (only candidate right), exact McNemar p=${formatP(comparison.pValue)} ` +
        `(${significant ? "<" : "≥"} ${SIGNIFICANCE_LEVEL}): ${regressed ? "a significant regression" : "not a significant regression"}.`,
    );
  }
  return {
    suite: score.suite,
    pass: !unanswered.tooMany && scoreOk && !regressed,
    score: score.score,
    interval: score.interval,
    items: score.items,
    minScore,
    maxRegression,
    unanswered,
    ...(comparison ? { comparison } : {}),
    reasons,
  };
}

function percent(fraction: number): string {
  return `${(fraction * 100).toFixed(1)}%`;
}

function points(fraction: number): string {
  return `${(fraction * 100).toFixed(1)} points`;
}

function formatP(p: number): string {
  return p >= 0.001 ? p.toFixed(3) : p.toExponential(1);
}
