// The MergeEval stage, after the Eval Map: puts each suite's shards back together (exactly: the same report
// as an unsharded run), scores it with its Wilson interval, compares it item by item with what the stable
// version scored when it was promoted, and decides each suite's gate. It writes two objects next to the
// rollout's other reports:
//   eval.json          every suite's score, interval, comparison, verdict and every item's detail;
//   eval-outcomes.json one verdict per item id per suite (SuiteOutcomes): what a later rollout compares with.
// `$.eval` is a small summary with both keys. Promote keeps `$.eval` with the version
// (RolloutStore.saveVersionResults → `{eval: {outcomesKey, …}}`), which is where the next rollout's MergeEval
// finds the outcomes of its stable version. A failing suite fails the stage with EvalFailed, naming each
// failing suite with its score, interval, threshold and comparison — or, for a suite where more than
// gates.eval.maxErrorRate of the items got no answer, saying that it could not be evaluated (its own finding,
// `eval.not-evaluated`), which is a server or manifest problem, not a low score. It stays EvalFailed so the
// state machine's Catch, Cleanup and the rules users keyed on the error name treat it as the gate failing.

import { decideSuiteGate, type SuiteGateVerdict } from "../core/eval/eval-gate";
import {
  type ItemResult,
  type ShardDetail,
  type SuiteOutcomes,
  type SuiteReport,
  suiteOutcomes,
} from "../core/eval/eval-results";
import { mergeShardDetails } from "../core/eval/merge-shards";
import { comparePaired } from "../core/eval/paired-comparison";
import { readStoredOutcomes } from "../core/eval/stored-outcomes";
import { describeKinds, unansweredByKind } from "../core/eval/unanswered-items";
import type { Interval } from "../core/eval/wilson-interval";
import { EvalFailed } from "../core/errors";
import type { Finding } from "../core/findings";
import type { ResolvedEvalSuite } from "../core/manifest/manifest-schema";
import type { ExecutionState, RolloutIdentity, RolloutPlan } from "../core/rollout/rollout";
import { combinedUse, type DepsUsing } from "./port-use";
import type { EvalShardResult } from "./eval-shard";
import { rolloutEvent } from "./events";
import { GATE_MERGE_USES, writeRolloutReport } from "./rollout-report";
import { ABORT_WATCH_USES, assertNotAborted } from "./abort-watch";

export const MERGE_EVAL_USES = combinedUse(GATE_MERGE_USES, ABORT_WATCH_USES);

type MergeEvalDeps = DepsUsing<typeof MERGE_EVAL_USES>;

/** One suite's verdict in `$.eval`: the numbers, not the items. */
export interface SuiteGateSummary {
  readonly suite: string;
  readonly pass: boolean;
  readonly score: number;
  readonly interval: Interval;
  readonly items: number;
  readonly correct: number;
  /** Items without an answer (counted as not correct). */
  readonly errors: number;
  /** The share of items without an answer allowed (gates.eval.maxErrorRate). */
  readonly maxErrorRate: number;
  readonly minScore: number;
  readonly maxRegression: number;
  /** Against the stable version on the items both answered, when it kept results for this suite. */
  readonly comparison?: {
    readonly paired: number;
    readonly candidateScore: number;
    readonly stableScore: number;
    /** b: items only stable got right. */
    readonly onlyStableCorrect: number;
    /** c: items only the candidate got right. */
    readonly onlyCandidateCorrect: number;
    readonly pValue: number;
  };
  /** Why it was not compared although there is a stable version (it kept no results of this suite …). */
  readonly notCompared?: string;
}

/** `$.eval` after MergeEval. */
export interface EvalGateResult {
  /** One line a user reads (the registry's metadata shows it). */
  readonly summary: string;
  readonly suites: readonly SuiteGateSummary[];
  /** The version compared with, when there is a stable version. */
  readonly stableVersion?: string;
  /** `reports/<model>/<version>/<rolloutId>/eval.json`: everything. */
  readonly reportKey: string;
  /** `reports/<model>/<version>/<rolloutId>/eval-outcomes.json`: one verdict per item, read back once this version is stable. */
  readonly outcomesKey: string;
  /** `reports/<model>/<version>/<rolloutId>/report.html`: the rollout's page, charts and tables. */
  readonly pageKey: string;
}

/** What the stable version kept, or why there is nothing to compare with. */
interface StableOutcomes {
  readonly version: string;
  readonly outcomes: readonly SuiteOutcomes[];
  readonly outcomesKey?: string;
  /** Why no comparison is possible, as a sentence. */
  readonly missing?: string;
}

interface JudgedSuite {
  readonly suite: ResolvedEvalSuite;
  readonly report: SuiteReport;
  readonly gate: SuiteGateVerdict;
  readonly whyNoComparison?: string;
  readonly reasons: readonly string[];
  readonly shardKeys: readonly string[];
}

const STAGE = "MergeEval";

export async function mergeEval(state: ExecutionState, deps: MergeEvalDeps): Promise<EvalGateResult> {
  const { rollout, manifest } = state;
  const plan = state.plan;
  if (!plan) throw new Error(`${STAGE} needs $.plan from Prepare; the state has none.`);
  if (!manifest) throw new Error(`${STAGE} needs $.manifest from Prepare; the state has none.`);
  const { maxErrorRate } = manifest.gates.eval;
  if (typeof maxErrorRate !== "number") {
    throw new Error(
      `${STAGE} needs $.manifest.gates.eval.maxErrorRate, which Prepare resolves; the manifest in the state has none (it was resolved by an older version).`,
    );
  }
  // Answers cut short by an abort are not scored.
  await assertNotAborted(deps, rollout, STAGE);
  const results = shardResults(state);
  const suites = plannedSuites(plan);
  const stranger = results.find((r) => !suites.some((s) => s.name === r.summary.suite));
  if (stranger) {
    throw new Error(
      `${STAGE} got a result of suite '${stranger.summary.suite}', which the plan does not run.`,
    );
  }
  const stable = await stableOutcomes(rollout, plan, deps);

  const judged: JudgedSuite[] = [];
  for (const suite of suites) {
    const own = results.filter((r) => r.summary.suite === suite.name);
    judged.push(await judgeSuite(suite, own, stable, maxErrorRate, deps));
  }

  const prefix = `reports/${rollout.model}/${rollout.version}/${rollout.id}`;
  const reportKey = `${prefix}/eval.json`;
  const outcomesKey = `${prefix}/eval-outcomes.json`;
  const passed = judged.every((j) => j.gate.pass);
  await deps.objects.put(
    outcomesKey,
    JSON.stringify({
      model: rollout.model,
      version: rollout.version,
      rolloutId: rollout.id,
      suites: judged.map((j) => suiteOutcomes(j.report)),
    }),
    { contentType: "application/json" },
  );
  await deps.objects.put(
    reportKey,
    `${JSON.stringify(fullReport(rollout, judged, stable, passed, outcomesKey, deps.clock.now()), null, 2)}\n`,
    { contentType: "application/json" },
  );

  const pageKey = await writeRolloutReport(rollout, deps, STAGE);
  if (!passed) {
    const where = `${deps.objects.location}/${pageKey} (data: ${deps.objects.location}/${reportKey})`;
    throw gateFailure(rollout, judged, where);
  }

  const summaries = judged.map(summarize);
  const result: EvalGateResult = {
    summary: summaries.map(describeSuite).join("; "),
    suites: summaries,
    ...(stable ? { stableVersion: stable.version } : {}),
    reportKey,
    outcomesKey,
    pageKey,
  };
  await deps.events.emit(
    rolloutEvent(
      "Stage Succeeded",
      rollout,
      STAGE,
      `${rollout.model} ${rollout.version} passed the eval gate: ${result.summary}.`,
      deps.clock,
      {
        data: {
          suites: summaries.map((s) => ({ suite: s.suite, score: s.score, items: s.items })),
          stableVersion: stable?.version ?? null,
          reportKey,
          pageKey,
        },
      },
    ),
  );
  return result;
}

/** Merges a suite's shards, compares it with what stable kept of it, and applies its gate. */
async function judgeSuite(
  suite: ResolvedEvalSuite,
  shards: readonly EvalShardResult[],
  stable: StableOutcomes | undefined,
  maxErrorRate: number,
  deps: MergeEvalDeps,
): Promise<JudgedSuite> {
  if (shards.length === 0) throw new Error(`${STAGE} got no shard results of suite '${suite.name}'.`);
  const ordered = [...shards].sort((a, b) => a.summary.shard.index - b.summary.shard.index);
  const report = mergeShardDetails(await Promise.all(ordered.map((r) => readShardDetail(r, deps))));
  const stableSuite = stable?.outcomes.find((o) => o.score.suite === suite.name);
  const comparison = stableSuite ? comparePaired(suiteOutcomes(report), stableSuite) : undefined;
  const gate = decideSuiteGate({
    score: report.score,
    minScore: suite.minScore,
    maxRegression: suite.maxRegression,
    maxErrorRate,
    ...(comparison ? { comparison } : {}),
  });
  const whyNoComparison =
    stable && !stableSuite
      ? (stable.missing ??
        `Stable ${stable.version} kept no results of suite '${suite.name}': it did not run it.`)
      : undefined;
  return {
    suite,
    report,
    gate,
    ...(whyNoComparison ? { whyNoComparison } : {}),
    reasons: whyNoComparison ? [...gate.reasons, whyNoComparison] : gate.reasons,
    shardKeys: ordered.map((r) => r.detailKey),
  };
}

/** `$.eval.shards`, as the Eval Map's ResultSelector leaves it, checked: it crossed a JSON boundary. */
function shardResults(state: ExecutionState): EvalShardResult[] {
  const shards: unknown = state.eval?.["shards"];
  if (!Array.isArray(shards)) {
    throw new Error(
      `${STAGE} needs $.eval.shards, the Eval Map's results; the state has ${state.eval === undefined ? "no $.eval" : `$.eval with keys [${Object.keys(state.eval).join(", ")}]`}.`,
    );
  }
  return shards.map((shard, i) => {
    const { summary, detailKey } = (shard ?? {}) as Partial<EvalShardResult>;
    if (
      typeof detailKey !== "string" ||
      typeof summary?.suite !== "string" ||
      !Number.isInteger(summary.shard?.index) ||
      !Number.isInteger(summary.shard?.of)
    ) {
      throw new Error(
        `$.eval.shards[${i}] is not what EvalShard returns ({summary, detailKey}): ${JSON.stringify(shard).slice(0, 200)}.`,
      );
    }
    return { summary, detailKey };
  });
}

/** The suites the plan runs, in plan order, each once. */
function plannedSuites(plan: RolloutPlan): ResolvedEvalSuite[] {
  const suites: ResolvedEvalSuite[] = [];
  for (const { suite } of plan.evalShards) {
    if (!suites.some((s) => s.name === suite.name)) suites.push(suite);
  }
  if (suites.length === 0) throw new Error(`${STAGE} ran, but $.plan.evalShards is empty.`);
  return suites;
}

async function readShardDetail(result: EvalShardResult, deps: MergeEvalDeps): Promise<ShardDetail> {
  const { detailKey: key, summary } = result;
  const bytes = await deps.objects.get(key);
  if (!bytes) throw new Error(`The eval shard detail ${deps.objects.location}/${key} does not exist.`);
  let detail: unknown;
  try {
    detail = JSON.parse(new TextDecoder().decode(bytes));
  } catch (error) {
    throw new Error(`The eval shard detail ${key} is not JSON: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const { suite, shard, items } = (detail ?? {}) as Partial<ShardDetail>;
  const itemsOk =
    Array.isArray(items) &&
    items.every(
      (item: Partial<ItemResult> | null) => typeof item?.id === "string" && isVerdict(item.verdict),
    );
  if (
    suite !== summary.suite ||
    shard?.index !== summary.shard.index ||
    shard.of !== summary.shard.of ||
    !itemsOk
  ) {
    throw new Error(
      `The eval shard detail ${key} is not the results of suite '${summary.suite}' shard ${summary.shard.index + 1} of ${summary.shard.of} that EvalShard wrote.`,
    );
  }
  return detail as ShardDetail;
}

function isVerdict(value: unknown): boolean {
  return value === "correct" || value === "wrong" || value === "error";
}

/**
 * The stable version's outcomes, kept at its promotion: `{eval: {outcomesKey}}` in its version results,
 * the key naming an eval-outcomes.json. Undefined for a first release; without a usable record the gate
 * falls back to minScore alone and says why.
 */
async function stableOutcomes(
  rollout: RolloutIdentity,
  plan: RolloutPlan,
  deps: MergeEvalDeps,
): Promise<StableOutcomes | undefined> {
  const version = plan.stableVersion;
  if (!plan.hasStable || version === undefined) return undefined;
  const results = await deps.store.getVersionResults(rollout.model, version);
  const key: unknown = (results?.["eval"] as { outcomesKey?: unknown } | undefined)?.outcomesKey;
  if (typeof key !== "string") {
    return {
      version,
      outcomes: [],
      missing: `Stable ${version} kept no eval results (it was released with the eval gate off, or before modelship kept them).`,
    };
  }
  const unreadable = (why: string): StableOutcomes => ({
    version,
    outcomes: [],
    outcomesKey: key,
    missing: `The eval results stable ${version} kept, ${deps.objects.location}/${key}, ${why}.`,
  });
  const bytes = await deps.objects.get(key);
  if (!bytes) return unreadable("are gone");
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return unreadable("are not JSON");
  }
  const stored = readStoredOutcomes(value, key);
  const problem = stored.findings.find((f) => f.severity === "error");
  if (problem)
    return unreadable(`cannot be read (${problem.path ? `${problem.path}: ` : ""}${problem.message})`);
  return { version, outcomes: stored.outcomes, outcomesKey: key };
}

function summarize({ gate, report, whyNoComparison }: JudgedSuite): SuiteGateSummary {
  const { comparison } = gate;
  return {
    suite: gate.suite,
    pass: gate.pass,
    score: gate.score,
    interval: gate.interval,
    items: gate.items,
    correct: report.score.correct,
    errors: report.score.errors,
    maxErrorRate: gate.unanswered.maxErrorRate,
    minScore: gate.minScore,
    maxRegression: gate.maxRegression,
    ...(comparison && comparison.paired > 0
      ? {
          comparison: {
            paired: comparison.paired,
            candidateScore: comparison.candidateScore,
            stableScore: comparison.stableScore,
            onlyStableCorrect: comparison.onlyStableCorrect,
            onlyCandidateCorrect: comparison.onlyCandidateCorrect,
            pValue: comparison.pValue,
          },
        }
      : {}),
    ...(whyNoComparison ? { notCompared: whyNoComparison } : {}),
  };
}

/** `sanity 94.7% (95% CI 82.7%–98.5%, 36/38) vs stable 97.4% on 38 paired (p=0.50)`. */
function describeSuite(s: SuiteGateSummary): string {
  const versus = s.comparison
    ? ` vs stable ${percent(s.comparison.stableScore)} on ${s.comparison.paired} paired (p=${s.comparison.pValue.toPrecision(2)})`
    : s.notCompared
      ? " (not compared with stable)"
      : "";
  return `${s.suite} ${percent(s.score)} (95% CI ${percent(s.interval.low)}–${percent(s.interval.high)}, ${s.correct}/${s.items})${versus}`;
}

function fullReport(
  rollout: RolloutIdentity,
  judged: readonly JudgedSuite[],
  stable: StableOutcomes | undefined,
  passed: boolean,
  outcomesKey: string,
  at: Date,
) {
  return {
    model: rollout.model,
    version: rollout.version,
    rolloutId: rollout.id,
    at: at.toISOString(),
    passed,
    stable: stable
      ? {
          version: stable.version,
          ...(stable.outcomesKey ? { outcomesKey: stable.outcomesKey } : {}),
          ...(stable.missing ? { missing: stable.missing } : {}),
        }
      : null,
    outcomesKey,
    suites: judged.map(({ suite, report, gate, reasons, shardKeys }) => ({
      suite: suite.name,
      pass: gate.pass,
      minScore: suite.minScore,
      maxRegression: suite.maxRegression,
      score: report.score,
      unanswered: { ...gate.unanswered, kinds: unansweredByKind(report.items) },
      ...(gate.comparison ? { comparison: gate.comparison } : {}),
      reasons,
      shardKeys,
      items: report.items,
    })),
  };
}

function gateFailure(
  rollout: RolloutIdentity,
  judged: readonly JudgedSuite[],
  reportUri: string,
): EvalFailed {
  const failing = judged.filter((j) => !j.gate.pass);
  const notEvaluated = failing.filter((j) => j.gate.unanswered.tooMany);
  const lowScored = failing.filter((j) => !j.gate.unanswered.tooMany);
  const findings: Finding[] = failing.map(({ suite, reasons, gate, report }) =>
    gate.unanswered.tooMany
      ? {
          severity: "error",
          code: "eval.not-evaluated",
          path: `suite ${suite.name}`,
          message: `${gate.unanswered.reason} By kind: ${describeKinds(unansweredByKind(report.items))}.`,
        }
      : {
          severity: "error",
          code: "eval.gate-failed",
          path: `suite ${suite.name}`,
          message: reasons.join(" "),
        },
  );
  const of = `of ${judged.length} suite${judged.length === 1 ? "" : "s"}`;
  const names = (list: readonly JudgedSuite[]) => list.map((j) => j.suite.name).join(", ");
  const parts = [
    ...(lowScored.length > 0
      ? [`failed the eval gate on ${lowScored.length} ${of}: ${names(lowScored)}`]
      : []),
    ...(notEvaluated.length > 0
      ? [
          `could not be evaluated on ${notEvaluated.length} ${of}, too many items without an answer: ${names(notEvaluated)}`,
        ]
      : []),
  ];
  const hints = [
    `Every item's prompt, output and verdict (and, against stable, which items only stable got right) is in ${reportUri}.`,
    ...(lowScored.length > 0
      ? [
          "Fix the model; or, if a suite is at fault, fix its items, or its minScore or maxRegression in gates.eval.suites, and upload again.",
        ]
      : []),
    ...(notEvaluated.length > 0
      ? [
          "Items without an answer are the server's failures, each item's error says which: a 400 whose prompt and max_tokens overflow the context wants a lower gates.eval.maxTokens (or a larger serving.maxModelLen); timeouts and 5xx want a healthier server. Raise gates.eval.maxErrorRate only if some failures are expected.",
        ]
      : []),
  ];
  return new EvalFailed(`${rollout.model} ${rollout.version} ${parts.join("; and ")}.`, {
    findings,
    hint: hints.join(" "),
  });
}

function percent(fraction: number): string {
  return `${(fraction * 100).toFixed(1)}%`;
}
