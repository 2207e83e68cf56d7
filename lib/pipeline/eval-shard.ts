// The EvalShard stage, one iteration of the Eval Map: asks the candidate the questions of one shard of one
// suite (the items whose id hashes to it, the same on every retry) and scores every answer. The detail —
// every item's prompt, output, extracted answer and verdict — goes to the bucket; the Map item's result is
// the shard's counts and that key, a few hundred bytes whatever the suite's size. A candidate that cannot be
// reached is Transient (the state machine retries the shard); a suite file that changed since Prepare
// checked it is EvalFailed, since shards of different files would be merged into one score.

import { isBuiltInSuite, suiteFileKey, type EvalShardPlan } from "../core/eval/eval-plan";
import type { ShardRef, ShardSummary } from "../core/eval/eval-results";
import { shardItems } from "../core/eval/shard";
import { EvalFailed, Transient } from "../core/errors";
import { hasErrors } from "../core/findings";
import type { RolloutIdentity } from "../core/rollout/rollout";
import { checkEndpoint } from "../eval/endpoint-check";
import type { RetryPolicy } from "../eval/backoff";
import { DEFAULT_CONCURRENCY, DEFAULT_ITEM_TIMEOUT_MS, runEvalItems } from "../eval/run-eval";
import type { CandidateHandle, Endpoint } from "../ports";
import type { Interruptible } from "./deps";
import { loadSuite, SUITE_READS } from "./eval-suites";
import { interruptedOr } from "./interruption";
import { combinedUse, type DepsUsing, portUse } from "./port-use";
import type { EvalShardInput } from "./flow-state";
import { ABORT_WATCH_USES, assertNotAborted, watchForAbort } from "./abort-watch";

/**
 * Asks the candidate the shard's items; reads the suite Prepare checked, writes the shard's detail under
 * reports/; stops when the rollout was stopped meanwhile.
 */
export const EVAL_SHARD_USES = combinedUse(
  SUITE_READS,
  ABORT_WATCH_USES,
  portUse({ objects: { put: ["reports"] }, serving: ["endpoint"] }),
);

type EvalShardDeps = DepsUsing<typeof EVAL_SHARD_USES>;

export interface EvalShardOptions extends Interruptible {
  /** Items in flight at once. Default 4. */
  readonly concurrency?: number;
  /** Milliseconds one attempt at one item may take. Default: the shard's time budget shared over its items. */
  readonly timeoutMs?: number;
  readonly retry?: Partial<RetryPolicy>;
}

/** One Eval Map item's result (`$.eval.shards[i]` until MergeEval replaces the list). */
export interface EvalShardResult {
  readonly summary: ShardSummary;
  /** The shard's items, in full: `reports/<model>/<version>/<rolloutId>/eval/<suite>-<index>-of-<of>.json`. */
  readonly detailKey: string;
}

/**
 * The Task allows 900 s. Every item of a shard that hangs runs out its attempt's time limit; the limit is
 * chosen so that even then the shard ends within this budget, with its answers, rather than at the Task's
 * timeout with none.
 */
const SHARD_BUDGET_MS = 720_000;
/** A limit below this would cut off a slow but healthy model's longer answers. */
const MIN_ATTEMPT_TIMEOUT_MS = 30_000;

const STAGE = "EvalShard";

export async function evalShard(
  input: EvalShardInput,
  deps: EvalShardDeps,
  options: EvalShardOptions = {},
): Promise<EvalShardResult> {
  const { rollout, candidate, shard } = checkedInput(input);
  const name = shard.suite.name;
  const ref: ShardRef = { index: shard.index, of: shard.of };
  const suite = await loadSuite(deps.objects, name);
  if (hasErrors(suite.findings) || (shard.sha256 !== undefined && suite.sha256 !== shard.sha256)) {
    throw new EvalFailed(
      `The eval suite file ${suiteFileKey(name)} changed after the rollout started: shard ${shard.index + 1} of ${shard.of} would not run the file Prepare checked.`,
      {
        findings: suite.findings.filter((f) => f.severity === "error"),
        hint: "Change suite files between rollouts, not during one: upload the manifest again to start a rollout with the suite as it is now.",
      },
    );
  }

  const doing = `the eval of shard ${shard.index + 1} of ${shard.of} of ${name}`;
  await assertNotAborted(deps, rollout, doing);
  const endpoint = await deps.serving.endpoint(candidate, "probe");
  await assertReachable(endpoint, candidate, "before its questions");
  const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
  const questions = shardItems(suite.items, ref).length;
  // The questions stop at once when the rollout is stopped by a command, or the execution is stopped.
  const abort = watchForAbort(deps, rollout, doing, options.signal);
  const { summary, detail } = await runEvalItems(suite.items, endpoint, {
    suite: name,
    shard: ref,
    ...(shard.maxTokens === undefined ? {} : { maxTokens: shard.maxTokens }),
    concurrency,
    timeoutMs: options.timeoutMs ?? attemptTimeoutMs(questions, concurrency),
    ...(options.retry ? { retry: options.retry } : {}),
    signal: abort.signal,
  })
    .catch((error: unknown) => {
      abort.throwIfAborted();
      throw interruptedOr(error, options.signal, doing);
    })
    .finally(() => abort.stop());
  // Every answer missing: the candidate may have gone away mid-shard. Retrying the shard then beats scoring it 0.
  if (summary.items > 0 && summary.errors === summary.items) {
    await assertReachable(endpoint, candidate, "after every one of its questions failed");
  }

  const detailKey = `reports/${rollout.model}/${rollout.version}/${rollout.id}/eval/${name}-${shard.index}-of-${shard.of}.json`;
  await deps.objects.put(detailKey, JSON.stringify(detail), { contentType: "application/json" });
  return { summary, detailKey };
}

/** The time limit of one attempt: the budget shared over the rounds of `concurrency` items, within 30–120 s. */
function attemptTimeoutMs(questions: number, concurrency: number): number {
  const rounds = Math.max(1, Math.ceil(questions / Math.max(1, concurrency)));
  return Math.min(
    DEFAULT_ITEM_TIMEOUT_MS,
    Math.max(MIN_ATTEMPT_TIMEOUT_MS, Math.floor(SHARD_BUDGET_MS / rounds)),
  );
}

async function assertReachable(endpoint: Endpoint, candidate: CandidateHandle, when: string): Promise<void> {
  const reach = await checkEndpoint(endpoint);
  if (reach.reachable) return;
  throw new Transient(`The candidate ${candidate.id} cannot be reached ${when}: ${reach.reason}`, {
    hint: "The state machine tries the shard again; if the candidate stays down, its pod's events and logs say why (it may have crashed or been evicted).",
  });
}

/** The Map item as the ASL builds it (`$.rollout`, `$.candidate.handle`, one of `$.plan.evalShards`), checked. */
function checkedInput(input: EvalShardInput): {
  rollout: RolloutIdentity;
  candidate: CandidateHandle;
  shard: EvalShardPlan;
} {
  const { rollout, candidate, shard } = (input ?? {}) as Partial<EvalShardInput>;
  const shardOk =
    typeof shard?.suite?.name === "string" &&
    Number.isInteger(shard.of) &&
    shard.of >= 1 &&
    Number.isInteger(shard.index) &&
    shard.index >= 0 &&
    shard.index < shard.of;
  if (!rollout || typeof candidate?.id !== "string" || !shard || !shardOk) {
    throw new Error(
      `${STAGE} needs {rollout, candidate, shard} with a shard of $.plan.evalShards ({suite, index, of}); it got ${JSON.stringify(input).slice(0, 300)}.`,
    );
  }
  if (!isBuiltInSuite(shard.suite.name) && shard.sha256 === undefined) {
    throw new Error(
      `${STAGE}: the shard of suite '${shard.suite.name}' has no sha256 of its file from Prepare.`,
    );
  }
  return { rollout, candidate, shard };
}
