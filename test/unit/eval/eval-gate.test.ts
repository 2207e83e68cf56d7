import { describe, expect, it } from "vitest";
import { decideSuiteGate } from "../../../lib/core/eval/eval-gate";
import { scoreSuite, type SuiteOutcomes, type Verdict } from "../../../lib/core/eval/eval-results";
import { comparePaired } from "../../../lib/core/eval/paired-comparison";
import { readStoredOutcomes } from "../../../lib/core/eval/stored-outcomes";

/** Outcomes of a suite from per-item verdicts written as a string: c = correct, w = wrong, e = error. */
function outcomes(verdicts: string, ids = Array.from(verdicts, (_, i) => `q${i + 1}`)): SuiteOutcomes {
  const letters: Record<string, Verdict> = { c: "correct", w: "wrong", e: "error" };
  const entries = ids.map((id, i) => [id, letters[verdicts[i]!]!] as const);
  return {
    score: scoreSuite(
      "demo",
      entries.map(([, verdict]) => ({ verdict })),
    ),
    verdicts: Object.fromEntries(entries),
  };
}

/** `n` items of each pairing, in this order: both right, only stable right, only candidate right, both wrong. */
function pairs(bothRight: number, onlyStable: number, onlyCandidate: number, bothWrong: number) {
  const candidate =
    "c".repeat(bothRight) + "w".repeat(onlyStable) + "c".repeat(onlyCandidate) + "w".repeat(bothWrong);
  const stable =
    "c".repeat(bothRight) + "c".repeat(onlyStable) + "w".repeat(onlyCandidate) + "w".repeat(bothWrong);
  return { candidate: outcomes(candidate), stable: outcomes(stable) };
}

describe("comparePaired", () => {
  it("counts the discordant items and tests them with exact McNemar", () => {
    const { candidate, stable } = pairs(80, 1, 9, 10);
    expect(comparePaired(candidate, stable)).toMatchObject({
      paired: 100,
      bothCorrect: 80,
      onlyStableCorrect: 1,
      onlyCandidateCorrect: 9,
      bothWrong: 10,
      candidateScore: 0.89,
      stableScore: 0.81,
    });
    expect(comparePaired(candidate, stable).pValue).toBeCloseTo(0.0215, 4);
  });

  it("counts an item without an answer as not correct", () => {
    const comparison = comparePaired(outcomes("ce"), outcomes("cc"));
    expect(comparison).toMatchObject({ bothCorrect: 1, onlyStableCorrect: 1, candidateScore: 0.5 });
  });

  it("compares only items both sides have, and reports the others by id", () => {
    const candidate = outcomes("ccw", ["a", "b", "new"]);
    const stable = outcomes("cwcw", ["a", "b", "gone", "also-gone"]);
    const comparison = comparePaired(candidate, stable);
    expect(comparison.paired).toBe(2);
    expect(comparison.onlyInCandidate).toEqual({ count: 1, ids: ["new"] });
    expect(comparison.onlyInStable).toEqual({ count: 2, ids: ["gone", "also-gone"] });
  });
});

describe("decideSuiteGate", () => {
  const gate = (
    candidate: SuiteOutcomes,
    stable: SuiteOutcomes | undefined,
    minScore = 0,
    maxRegression = 0.02,
    maxErrorRate = 0.1,
  ) =>
    decideSuiteGate({
      score: candidate.score,
      minScore,
      maxRegression,
      maxErrorRate,
      ...(stable ? { comparison: comparePaired(candidate, stable) } : {}),
    });

  it("fails a score below minScore, naming the score, its interval and the threshold", () => {
    const verdict = gate(outcomes("ccccw"), undefined, 0.9);
    expect(verdict.pass).toBe(false);
    expect(verdict.reasons[0]).toBe("score 80.0% (95% CI 37.6%–96.4%, 4/5 correct) < minScore 90.0%.");
    expect(verdict.reasons[1]).toContain("No stable result");
  });

  it("passes a first release on minScore alone", () => {
    expect(gate(outcomes("ccccw"), undefined, 0.8).pass).toBe(true);
  });

  it("fails a candidate worse than stable by more than maxRegression with p < 0.05", () => {
    const { candidate, stable } = pairs(80, 9, 1, 10);
    const verdict = gate(candidate, stable);
    expect(verdict.pass).toBe(false);
    expect(verdict.reasons[1]).toBe(
      "On 100 paired items the candidate scores 81.0% and stable 89.0%: a drop of 8.0 points (> maxRegression 2.0 points); " +
        "discordant items b=9 (only stable right), c=1 (only candidate right), exact McNemar p=0.021 (< 0.05): a significant regression.",
    );
  });

  it("passes a drop beyond maxRegression that chance explains (p ≥ 0.05)", () => {
    const { candidate, stable } = pairs(80, 4, 1, 15);
    const verdict = gate(candidate, stable);
    expect(verdict.comparison?.pValue).toBeCloseTo(0.375, 3);
    expect(verdict.pass).toBe(true);
    expect(verdict.reasons[1]).toContain("not a significant regression");
  });

  it("passes a significant drop within maxRegression", () => {
    const { candidate, stable } = pairs(900, 30, 10, 60);
    const verdict = gate(candidate, stable, 0, 0.05);
    expect(verdict.comparison!.pValue).toBeLessThan(0.05);
    expect(verdict.comparison!.difference).toBeCloseTo(-0.02, 10);
    expect(verdict.pass).toBe(true);
  });

  it("does not count a drop of exactly maxRegression as beyond it", () => {
    const { candidate, stable } = pairs(0, 20, 0, 980);
    const verdict = gate(candidate, stable, 0, 0.02);
    expect(verdict.comparison!.pValue).toBeLessThan(0.05);
    expect(verdict.pass).toBe(true);
  });

  it("fails on minScore even when the candidate beats stable", () => {
    const { candidate, stable } = pairs(10, 0, 10, 80);
    expect(gate(candidate, stable, 0.5).pass).toBe(false);
  });

  it("fails a suite where more than maxErrorRate of the items got no answer as not evaluated, not as a low score", () => {
    const verdict = gate(outcomes("cceeeeeeee"), undefined, 0);
    expect(verdict.pass).toBe(false);
    expect(verdict.unanswered).toMatchObject({
      count: 8,
      items: 10,
      share: 0.8,
      maxErrorRate: 0.1,
      tooMany: true,
    });
    expect(verdict.reasons[0]).toBe(
      "Could not evaluate: 8 of 10 items (80.0%) got no answer, more than maxErrorRate 10.0% allows; the score would measure the server's failures, not the model.",
    );
  });

  it("fails as not evaluated even a suite whose answered items would clear every threshold", () => {
    const { candidate, stable } = pairs(8, 0, 0, 0);
    const unanswered = outcomes(`${"c".repeat(8)}ee`);
    expect(gate(candidate, stable, 0.5).pass).toBe(true);
    expect(gate(unanswered, stable, 0.5, 0.02, 0.1).pass).toBe(false);
  });

  it("passes a share of unanswered items up to maxErrorRate exactly, and says how many there were", () => {
    const verdict = gate(outcomes(`${"c".repeat(9)}e`), undefined, 0.5, 0.02, 0.1);
    expect(verdict.pass).toBe(true);
    expect(verdict.unanswered.tooMany).toBe(false);
    expect(verdict.unanswered.reason).toBe("1 of 10 items (10.0%) got no answer (≤ maxErrorRate 10.0%).");
    expect(verdict.reasons.some((r) => r.startsWith("Could not evaluate"))).toBe(false);
  });

  it("cannot judge a regression when no item is paired, and says so", () => {
    const verdict = gate(outcomes("cc", ["a", "b"]), outcomes("cc", ["x", "y"]), 0);
    expect(verdict.pass).toBe(true);
    expect(verdict.reasons[1]).toContain("none of these item ids");
  });
});

describe("readStoredOutcomes", () => {
  it("reads `modelship eval --json` output and recomputes each score from the verdicts", () => {
    const stored = {
      model: "llama",
      suites: [
        { score: { suite: "sanity", correct: 99, items: 99 }, verdicts: { a: "correct", b: "wrong" } },
      ],
    };
    const { outcomes: read, findings } = readStoredOutcomes(stored, "stable.json");
    expect(findings).toEqual([]);
    expect(read[0]?.score).toMatchObject({ suite: "sanity", items: 2, correct: 1, score: 0.5 });
  });

  it("reports a file that is not eval results, with the path of the problem", () => {
    const { outcomes: read, findings } = readStoredOutcomes(
      { suites: [{ score: { suite: "s" }, verdicts: { a: "maybe" } }] },
      "stable.json",
    );
    expect(read).toEqual([]);
    expect(findings.length).toBeGreaterThan(0);
    expect(findings.every((f) => f.file === "stable.json" && f.hint)).toBe(true);
  });

  it("reports a suite that is there twice", () => {
    const suite = { score: { suite: "s" }, verdicts: { a: "correct" } };
    const { findings } = readStoredOutcomes([suite, suite], "stable.json");
    expect(findings).toMatchObject([{ code: "eval-results.duplicate-suite", path: "suites[1]" }]);
  });
});
