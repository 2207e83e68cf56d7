// Compares a candidate with the stable version on the same items — paired by item id — rather than two
// accuracies on whatever each happened to answer. Items only one side has (the suite changed since the
// stable version was measured) are left out of the comparison and reported, never silently dropped.

import type { SuiteOutcomes, Verdict } from "./eval-results";
import { exactMcNemarPValue } from "./mcnemar";

/** Ids listed by name when only one side has them; the rest are counted. */
const MAX_LISTED_IDS = 20;

export interface UnpairedItems {
  readonly count: number;
  /** The first ids (at most 20), in the order of that side's results. */
  readonly ids: readonly string[];
}

export interface PairedComparison {
  readonly suite: string;
  /** Items both sides answered (or failed): the comparison is over these. */
  readonly paired: number;
  /** Accuracy on the paired items. */
  readonly candidateScore: number;
  readonly stableScore: number;
  /** candidateScore − stableScore: negative when the candidate is worse. */
  readonly difference: number;
  readonly bothCorrect: number;
  readonly bothWrong: number;
  /** b: items only the stable version got right. */
  readonly onlyStableCorrect: number;
  /** c: items only the candidate got right. */
  readonly onlyCandidateCorrect: number;
  /** Two-sided exact McNemar p-value on b and c. */
  readonly pValue: number;
  readonly onlyInCandidate: UnpairedItems;
  readonly onlyInStable: UnpairedItems;
}

export function comparePaired(candidate: SuiteOutcomes, stable: SuiteOutcomes): PairedComparison {
  const stableVerdicts = new Map<string, Verdict>(Object.entries(stable.verdicts));
  const candidateIds = new Set<string>();
  let bothCorrect = 0;
  let bothWrong = 0;
  let onlyStableCorrect = 0;
  let onlyCandidateCorrect = 0;
  const onlyInCandidate: string[] = [];
  for (const [id, verdict] of Object.entries(candidate.verdicts)) {
    candidateIds.add(id);
    const stableVerdict = stableVerdicts.get(id);
    if (stableVerdict === undefined) {
      onlyInCandidate.push(id);
      continue;
    }
    const candidateRight = verdict === "correct";
    const stableRight = stableVerdict === "correct";
    if (candidateRight && stableRight) bothCorrect++;
    else if (candidateRight) onlyCandidateCorrect++;
    else if (stableRight) onlyStableCorrect++;
    else bothWrong++;
  }
  const onlyInStable = [...stableVerdicts.keys()].filter((id) => !candidateIds.has(id));
  const paired = bothCorrect + bothWrong + onlyStableCorrect + onlyCandidateCorrect;
  const candidateScore = paired === 0 ? 0 : (bothCorrect + onlyCandidateCorrect) / paired;
  const stableScore = paired === 0 ? 0 : (bothCorrect + onlyStableCorrect) / paired;
  return {
    suite: candidate.score.suite,
    paired,
    candidateScore,
    stableScore,
    difference: candidateScore - stableScore,
    bothCorrect,
    bothWrong,
    onlyStableCorrect,
    onlyCandidateCorrect,
    pValue: exactMcNemarPValue(onlyStableCorrect, onlyCandidateCorrect),
    onlyInCandidate: listed(onlyInCandidate),
    onlyInStable: listed(onlyInStable),
  };
}

function listed(ids: readonly string[]): UnpairedItems {
  return { count: ids.length, ids: ids.slice(0, MAX_LISTED_IDS) };
}
