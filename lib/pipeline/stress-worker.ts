// The StressWorker stage, one iteration of the StressTest Map: drives this worker's share of the stress load
// against the candidate with the load generator and keeps what it measured. Worker `index` of `of` takes
// concurrency / of requests in flight (workers 0..r−1 take one more, where r is the remainder) or rate / of
// requests per second, with a seed of its own derived from the rollout id and its index: workers send
// different prompts and at different times, and a retried worker sends what it sent before. The prompts are
// synthetic, or drawn from the prompt set the manifest names (`prompts/<name>.jsonl`), which must be the very
// file Prepare checked: a set changed since is ManifestInvalid, as workers sending different files would be
// merged into one result. Synthetic prompts are calibrated against the candidate's own token counts before the
// load (so `inputTokens` is what the server counts, chat template included), and a profile that cannot fit
// the context the candidate reports — or asks for prompts shorter than its chat template allows — is
// ManifestInvalid naming the field, before any load is sent. Its LoadResult goes to the bucket; the Map item's result is a few hundred bytes
// (its key and counts), so 40 workers stay far inside Step Functions' 256 KB. A candidate that does not
// answer at all is Transient (the state machine retries the worker); a run that completes with failed
// requests is not a worker failure: its errors are data for MergeStress's error-rate SLO.

import { createHash } from "node:crypto";
import { ManifestInvalid, Transient } from "../core/errors";
import { type Finding, hasErrors } from "../core/findings";
import { MAX_STRESS_RUN_SECONDS } from "../core/gates/stress-gate";
import type { ResolvedStressGate } from "../core/manifest/manifest-schema";
import type { RolloutPlan, StressPromptSet } from "../core/rollout/rollout";
import { type ProbeResult, probeEndpoint } from "../loadgen/endpoint-probe";
import type { PromptLengths } from "../loadgen/prompt-calibration";
import type { LoadPrompt } from "../loadgen/load-prompt";
import type { LoadResult } from "../loadgen/load-result";
import { runLoad } from "../loadgen/run-load";
import { ServerRequests } from "../loadgen/server-requests";
import { LoadDoesNotFit, type LoadOptionNames, planSyntheticLoad } from "../loadgen/synthetic-load-plan";
import type { CandidateHandle, Endpoint } from "../ports";
import type { Interruptible } from "./deps";
import { throwIfInterrupted } from "./interruption";
import { combinedUse, type DepsUsing, portUse } from "./port-use";
import type { StressWorkerInput } from "./flow-state";
import { loadPromptSet, PROMPT_SET_READS } from "./stress-prompts";
import { ABORT_WATCH_USES, assertNotAborted, watchForAbort } from "./abort-watch";

/**
 * Sends load to the candidate's load endpoint; reads the planned prompt set, writes its result under
 * reports/; stops when the rollout was stopped meanwhile.
 */
export const STRESS_WORKER_USES = combinedUse(
  PROMPT_SET_READS,
  ABORT_WATCH_USES,
  portUse({ objects: { put: ["reports"] }, serving: ["endpoint"] }),
);

type StressWorkerDeps = DepsUsing<typeof STRESS_WORKER_USES>;

/** One StressTest Map item's result (`$.stress.workers[i]` until MergeStress replaces the list). */
export interface StressWorkerResult {
  readonly index: number;
  readonly of: number;
  /** This worker's share of the load: requests in flight (concurrency mode) … */
  readonly concurrency?: number;
  /** … or requests per second (rate mode). */
  readonly rate?: number;
  /** Seeds its prompts and arrival gaps. */
  readonly seed: number;
  /** Its LoadResult: `reports/<model>/<version>/<rolloutId>/stress/worker-<index>-of-<of>.json`; absent when it sent nothing. */
  readonly resultKey?: string;
  /** Measured requests (completed + failed). */
  readonly requests: number;
  readonly failed: number;
  readonly measuredSeconds: number;
  /** Why this worker sent nothing: its share of the concurrency was 0. */
  readonly idle?: string;
  /** How its synthetic prompts' lengths were made (calibrated, or estimates and why); absent for a prompt set. */
  readonly promptLengths?: string;
}

/** One request's limit, stream included: the drain at the end of a run waits at most this long. */
const REQUEST_TIMEOUT_SECONDS = 120;
/** Prepare refuses a longer run; checked again here so a Task never times out with its measurements lost. */
const MAX_RUN_SECONDS = MAX_STRESS_RUN_SECONDS;

const STAGE = "StressWorker";

export async function stressWorker(
  input: StressWorkerInput,
  deps: StressWorkerDeps,
  options: Interruptible = {},
): Promise<StressWorkerResult> {
  const { rollout, candidate, gate, worker, prompts: promptSet } = checkedInput(input);
  assertRunFits(gate);
  const share = workerShare(gate, worker);
  const seed = workerSeed(rollout.id, worker.index);
  const base = { index: worker.index, of: worker.of, ...share, seed };
  if (share.concurrency === 0) {
    return {
      ...base,
      requests: 0,
      failed: 0,
      measuredSeconds: 0,
      idle: `Worker ${worker.index + 1} of ${worker.of} sent nothing: a concurrency of ${gate.concurrency} leaves it no request to keep in flight (workers ${gate.concurrency + 1}–${worker.of} are idle).`,
    };
  }

  const prompts = promptSet ? await promptsToSend(promptSet, worker, deps.objects) : undefined;
  const doing = `stress worker ${worker.index + 1} of ${worker.of}`;
  await assertNotAborted(deps, rollout, doing);
  const endpoint = await deps.serving.endpoint(candidate, "load");
  const probe = await assertReachable(endpoint, candidate, "before the load");
  // The calibration and the load stop at once when the rollout is stopped by a command, or the execution is stopped.
  const abort = watchForAbort(deps, rollout, doing, options.signal);
  let lengths: PromptLengths | undefined;
  let result: LoadResult;
  try {
    lengths = prompts ? undefined : await calibratedLengths(endpoint, probe, gate, abort.signal);
    result = await runLoad({
      baseUrl: endpoint.baseUrl,
      model: endpoint.servedName,
      headers: endpoint.headers,
      ...(endpoint.caCertificate ? { caCertificate: endpoint.caCertificate } : {}),
      mode: gate.mode,
      concurrency: share.concurrency ?? gate.concurrency,
      rate: share.rate ?? gate.rate,
      burstiness: gate.burstiness,
      durationSeconds: gate.durationSeconds,
      warmupSeconds: gate.warmupSeconds,
      inputTokens: gate.inputTokens,
      outputTokens: gate.outputTokens,
      ...(prompts ? { prompts } : {}),
      ...(lengths?.calibrated ? { promptCalibration: lengths.calibration } : {}),
      slo: gate.slo,
      seed,
      requestTimeoutSeconds: REQUEST_TIMEOUT_SECONDS,
      signal: abort.signal,
    });
  } finally {
    abort.stop();
  }
  // A load cut short is not the load the gate asked for: nothing is stored for MergeStress to judge.
  abort.throwIfAborted();
  throwIfInterrupted(options.signal, doing);
  if (nothingAnswered(result)) {
    await assertReachable(endpoint, candidate, "after every request of the load failed to connect");
  }

  const resultKey = `reports/${rollout.model}/${rollout.version}/${rollout.id}/stress/worker-${worker.index}-of-${worker.of}.json`;
  await deps.objects.put(resultKey, JSON.stringify(result), { contentType: "application/json" });
  const { completed, failed } = result.counters;
  return {
    ...base,
    resultKey,
    requests: completed + failed,
    failed,
    measuredSeconds: result.measuredSeconds,
    ...(lengths ? { promptLengths: describeLengths(lengths) } : {}),
  };
}

/** The manifest fields a refusal names (the gate has no spread: its synthetic prompts are all inputTokens long). */
const MANIFEST_NAMES: LoadOptionNames = {
  inputTokens: "gates.stress.inputTokens",
  inputTokensSpread: "gates.stress.inputTokensSpread",
  outputTokens: "gates.stress.outputTokens",
};

/**
 * The candidate's token counts for synthetic prompts; ManifestInvalid, with the numbers, when the gate's
 * prompts and answers cannot fit the context it reports or its prompts cannot be as short as asked.
 */
async function calibratedLengths(
  endpoint: Endpoint,
  probe: ProbeResult,
  gate: ResolvedStressGate,
  signal: AbortSignal | undefined,
): Promise<PromptLengths> {
  const server = new ServerRequests({
    baseUrl: endpoint.baseUrl,
    model: endpoint.servedName,
    headers: endpoint.headers,
    ...(endpoint.caCertificate ? { caCertificate: endpoint.caCertificate } : {}),
    ...(signal ? { signal } : {}),
  });
  const load = { inputTokens: gate.inputTokens, inputTokensSpread: 0, outputTokens: gate.outputTokens };
  try {
    return (await planSyntheticLoad(server, probe, endpoint.servedName, load, MANIFEST_NAMES)).lengths;
  } catch (error) {
    if (!(error instanceof LoadDoesNotFit)) throw error;
    throw new ManifestInvalid(
      `The stress test's requests cannot be sent to ${endpoint.servedName} as ${error.problems.map((p) => MANIFEST_NAMES[p.option]).join(" and ")} set${error.problems.length === 1 ? "s" : ""} them.`,
      {
        findings: error.problems.map((problem) => ({
          severity: "error",
          code: "stress.does-not-fit",
          path: MANIFEST_NAMES[problem.option],
          message: problem.message,
        })),
        hint: "Change the stress gate's lengths in the manifest (or serve the model with a larger context, serving.maxModelLen) and upload again.",
      },
    );
  } finally {
    await server.close();
  }
}

function describeLengths(lengths: PromptLengths): string {
  if (!lengths.calibrated) return `estimates (a word taken for a token): ${lengths.reason}`;
  const { source, requests, check } = lengths.calibration;
  return `calibrated to the candidate's count (${source === "tokenize" ? "/tokenize" : "usage.prompt_tokens"}, ${requests} requests): a prompt composed to ${check.tokens} tokens counted ${check.counted}`;
}

/** Worker `index`'s part of the gate's load: an equal share, the remainder of the concurrency to the first workers. */
function workerShare(
  gate: ResolvedStressGate,
  { index, of }: RolloutPlan["stressWorkers"][number],
): { concurrency: number; rate?: never } | { rate: number; concurrency?: never } {
  if (gate.mode === "rate") return { rate: gate.rate / of };
  const remainder = gate.concurrency % of;
  return { concurrency: Math.floor(gate.concurrency / of) + (index < remainder ? 1 : 0) };
}

/** The same for a retry of the same worker, different for every other worker and rollout. */
function workerSeed(rolloutId: string, index: number): number {
  return createHash("sha256").update(`${rolloutId}/stress-worker/${index}`).digest().readUInt32BE(0);
}

/** Every measured request failed before a status line: the candidate was not there, not slow. */
function nothingAnswered(result: LoadResult): boolean {
  const { completed, failed, errors } = result.counters;
  return completed === 0 && failed > 0 && errors["connect"] === failed;
}

function assertRunFits(gate: ResolvedStressGate): void {
  const seconds = gate.warmupSeconds + gate.durationSeconds;
  if (seconds <= MAX_RUN_SECONDS) return;
  throw new ManifestInvalid(
    `The stress test is longer than a load worker can run: warmupSeconds ${gate.warmupSeconds} + durationSeconds ${gate.durationSeconds} = ${seconds} s, at most ${MAX_RUN_SECONDS} s.`,
    {
      findings: [
        {
          severity: "error",
          code: "stress.too-long",
          path: "gates.stress.durationSeconds",
          message: `A worker runs the whole test inside its 900 s task, with ${REQUEST_TIMEOUT_SECONDS} s for the last requests to finish; ${seconds} s of warm-up and load do not fit.`,
        },
      ],
      hint: `Set gates.stress.durationSeconds to at most ${MAX_RUN_SECONDS - gate.warmupSeconds} (more workers do not help: each runs for the whole duration) and upload again.`,
    },
  );
}

/** The prompts of the set Prepare checked; ManifestInvalid when the file is gone, broken or another file now. */
async function promptsToSend(
  planned: StressPromptSet,
  { index, of }: RolloutPlan["stressWorkers"][number],
  objects: StressWorkerDeps["objects"],
): Promise<readonly LoadPrompt[]> {
  const set = await loadPromptSet(objects, planned.name);
  if (!hasErrors(set.findings) && set.sha256 === planned.sha256) return set.prompts;
  const errors = set.findings.filter((f) => f.severity === "error");
  const changed: Finding = {
    severity: "error",
    code: "stress-prompts.changed",
    file: set.key,
    path: "gates.stress.prompts",
    message: `has SHA-256 ${set.sha256}; Prepare checked the file with SHA-256 ${planned.sha256}.`,
  };
  throw new ManifestInvalid(
    `The stress prompt set ${set.key} changed after the rollout started: worker ${index + 1} of ${of} would not send the file Prepare checked.`,
    {
      findings: errors.length > 0 ? errors : [changed],
      hint: "Change prompt sets between rollouts, not during one: upload the manifest again to start a rollout with the prompt set as it is now.",
    },
  );
}

async function assertReachable(
  endpoint: Endpoint,
  candidate: CandidateHandle,
  when: string,
): Promise<ProbeResult> {
  const probe = await probeEndpoint(endpoint.baseUrl, endpoint.headers, endpoint.caCertificate);
  if (probe.reachable) return probe;
  throw new Transient(
    `The candidate ${candidate.id} does not answer at ${endpoint.baseUrl} ${when}: ${probe.detail}.`,
    {
      hint: "The state machine tries the worker again; if the candidate stays down, its pod's events and logs say why (it may have crashed, been evicted or run out of memory under load).",
    },
  );
}

/**
 * The Map item as the ASL builds it (`$.rollout`, `$.candidate.handle`, `$.manifest.gates.stress`, one of
 * `$.plan.stressWorkers`, `$.plan.stressPrompts`), checked.
 */
function checkedInput(
  input: StressWorkerInput,
): Omit<StressWorkerInput, "prompts"> & { prompts: StressPromptSet | undefined } {
  const { rollout, candidate, gate, worker, prompts } = (input ?? {}) as Partial<StressWorkerInput>;
  const workerOk =
    Number.isInteger(worker?.of) &&
    (worker?.of ?? 0) >= 1 &&
    Number.isInteger(worker?.index) &&
    (worker?.index ?? -1) >= 0 &&
    (worker?.index ?? 0) < (worker?.of ?? 0);
  const gateOk = gate?.mode === "concurrency" || gate?.mode === "rate";
  if (
    typeof rollout?.id !== "string" ||
    typeof candidate?.id !== "string" ||
    !gate ||
    !gateOk ||
    !worker ||
    !workerOk
  ) {
    throw new Error(
      `${STAGE} needs {rollout, candidate, gate, worker} with the stress gate of the resolved manifest and a worker of $.plan.stressWorkers ({index, of}); it got ${JSON.stringify(input).slice(0, 300)}.`,
    );
  }
  if (gate.prompts !== (prompts?.name ?? undefined) || (prompts && typeof prompts.sha256 !== "string")) {
    throw new Error(
      `${STAGE}: the stress gate names ${gate.prompts === undefined ? "no prompt set" : `the prompt set '${gate.prompts}'`}, but $.plan.stressPrompts from Prepare is ${JSON.stringify(prompts ?? null).slice(0, 300)}.`,
    );
  }
  return { rollout, candidate, gate, worker, prompts: prompts ?? undefined };
}
