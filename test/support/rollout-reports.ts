// The documents a rollout's gates leave under reports/<model>/<version>/<rolloutId>/ — validation.json,
// stress.json, eval.json — written by the real stages (validate, mergeStress, mergeEval) from generated
// inputs: a generated model folder; load results folded from synthetic request records by the load
// generator's own tally; eval answers scored by the real scorers. Where a user or a model controls text (a
// file name, a server's error, a prompt, an output) the generator puts HOSTILE markup, so a report built from
// them shows whether it escapes.

import { DEFAULT_STACK_CONFIG } from "../../lib/core/config/config";
import { EvalFailed, ModelInvalid, SloViolated } from "../../lib/core/errors";
import { type ItemResult, type ShardDetail, summarizeShard } from "../../lib/core/eval/eval-results";
import { renderPrompt } from "../../lib/core/eval/item-prompt";
import { SANITY_SUITE } from "../../lib/core/eval/sanity-suite";
import { scoreOutput } from "../../lib/core/eval/score-output";
import { shardItems } from "../../lib/core/eval/shard";
import { checkSuiteItem, type SuiteItem, type SuiteLine } from "../../lib/core/eval/suite-item";
import type { Slo } from "../../lib/core/manifest/manifest-schema";
import { planRollout } from "../../lib/core/rollout/plan";
import type { ExecutionState, RolloutIdentity } from "../../lib/core/rollout/rollout";
import { buildSafetensorsModel } from "../../lib/examples/safetensors-model";
import { type LoadResult, mergeLoadResults } from "../../lib/loadgen/load-result";
import { type LoadSummary, summarizeLoad } from "../../lib/loadgen/load-summary";
import { LoadTally } from "../../lib/loadgen/load-tally";
import { seededRandom } from "../../lib/loadgen/random";
import type { RequestRecord } from "../../lib/loadgen/request-record";
import type { EvalShardResult } from "../../lib/pipeline/eval-shard";
import { mergeEval } from "../../lib/pipeline/merge-eval";
import { mergeStress } from "../../lib/pipeline/merge-stress";
import type { StressWorkerResult } from "../../lib/pipeline/stress-worker";
import { validate } from "../../lib/pipeline/validate";
import { FixedClock } from "./fixed-clock";
import { MemoryEvents } from "./memory-events";
import { MemoryObjectStore } from "./memory-object-store";
import { MemoryRolloutStore } from "./memory-rollout-store";
import { ROLLOUT, stateAfterValidate } from "./rollout-state";

/** Text a user or a model controls, each a different attack on a page that forgot to escape it. */
export const HOSTILE = {
  fileName: "weights<script>alert('file')</script>.pt",
  errorDetail: 'upstream said <script>alert("error")</script>, see https://evil.example/status',
  itemId: "q<i>13</i>",
  prompt: 'Summarize: </td></tr></table><script>alert("prompt")</script>',
  expected: '<b onmouseover="alert(1)">yes</b>',
  // A NUL is not valid in an HTML page; U+202E would show the text after it reversed ("exe.png" as "gnp.exe").
  output: `<script>alert('output')</script><img src="https://evil.example/x.png"> and http://evil.example/ \u0000\u202egnp.exe`,
  itemError: "HTTP 500: <h1>upstream</h1> failed",
} as const;

export interface ReportWorld {
  readonly objects: MemoryObjectStore;
  readonly store: MemoryRolloutStore;
  readonly events: MemoryEvents;
  readonly clock: FixedClock;
  readonly config: typeof DEFAULT_STACK_CONFIG;
}

export function reportWorld(objects = new MemoryObjectStore()): ReportWorld {
  return {
    objects,
    store: new MemoryRolloutStore(),
    events: new MemoryEvents(),
    clock: new FixedClock("2025-06-01T12:00:00.000Z"),
    config: DEFAULT_STACK_CONFIG,
  };
}

/** The rollout the reports are of (`llama` v3), and the stable version (v2) they are compared with. */
export const CANDIDATE: RolloutIdentity = ROLLOUT;
export const STABLE: RolloutIdentity = {
  ...ROLLOUT,
  id: "llama-v2-99887766",
  version: "v2",
  executionId: "local:llama-v2-99887766",
  source: { ...ROLLOUT.source, key: "models/llama/v2/modelship.yaml", prefix: "models/llama/v2/" },
};

export function reportKey(name: "validation.json" | "stress.json" | "eval.json" | "report.html"): string {
  return `reports/${CANDIDATE.model}/${CANDIDATE.version}/${CANDIDATE.id}/${name}`;
}

/**
 * Validate on a generated safetensors model with a pickle file beside it (a warning naming HOSTILE.fileName);
 * `broken` drops config.json, an error.
 */
export async function writeValidationJson(
  world: ReportWorld,
  options: { broken?: boolean } = {},
): Promise<void> {
  const files = buildSafetensorsModel();
  files.set(HOSTILE.fileName, new Uint8Array(64));
  if (options.broken) files.delete("config.json");
  world.objects.addFiles(CANDIDATE.source.prefix, files);
  await validate({ rollout: CANDIDATE }, world).catch((error: unknown) => {
    if (!(error instanceof ModelInvalid)) throw error;
  });
}

export interface StressOptions {
  readonly slo?: Slo;
  /** Requests of worker 0 that fail with HTTP 500 and HOSTILE.errorDetail. */
  readonly failures?: number;
  /** Compare with the stable version (v2), which was measured first with the same profile. */
  readonly withStable?: boolean;
}

const STRESS_WORKERS = 2;
const REQUESTS_PER_WORKER = 150;
const STRESS_SECONDS = 30;
const OUTPUT_TOKENS = 32;

/** MergeStress over two workers' load results; returns summarizeLoad of their merge, the truth to check against. */
export async function writeStressJson(world: ReportWorld, options: StressOptions = {}): Promise<LoadSummary> {
  const slo = options.slo ?? { ttftP95Ms: 2000, errorRate: 0.05 };
  if (options.withStable) {
    const stable = await runMergeStress(world, STABLE, slo, { failures: 0, slowdown: 0.8 });
    await world.store.saveVersionResults(STABLE.model, STABLE.version, { stress: stable.gate });
  }
  const candidate = await runMergeStress(world, CANDIDATE, slo, {
    failures: options.failures ?? 0,
    slowdown: 1,
    stableVersion: options.withStable ? STABLE.version : undefined,
  });
  return summarizeLoad(mergeLoadResults(candidate.loadResults));
}

async function runMergeStress(
  world: ReportWorld,
  rollout: RolloutIdentity,
  slo: Slo,
  run: { failures: number; slowdown: number; stableVersion?: string | undefined },
) {
  const stress = {
    concurrency: 4,
    workers: STRESS_WORKERS,
    durationSeconds: STRESS_SECONDS,
    warmupSeconds: 0,
    inputTokens: 64,
    outputTokens: OUTPUT_TOKENS,
    slo: { ...slo, maxRegressionRatio: 1.5 },
  };
  const prepared = stateAfterValidate(`gates: {stress: ${JSON.stringify(stress)}}`);
  const record = run.stableVersion
    ? { model: rollout.model, stableVersion: run.stableVersion, history: [] }
    : undefined;
  const plan = planRollout(prepared.manifest!, record, DEFAULT_STACK_CONFIG);
  const goodputSlo = { ...(slo.ttftP95Ms ? { ttftP95Ms: slo.ttftP95Ms } : {}) };
  const loadResults: LoadResult[] = [];
  const workers: StressWorkerResult[] = [];
  for (const { index, of } of plan.stressWorkers) {
    const tally = new LoadTally(goodputSlo, 0);
    for (const record of requestRecords(index, index === 0 ? run.failures : 0, run.slowdown))
      tally.add(record);
    const result = tally.build(false);
    const resultKey = `reports/${rollout.model}/${rollout.version}/${rollout.id}/stress/worker-${index}-of-${of}.json`;
    await world.objects.put(resultKey, JSON.stringify(result));
    loadResults.push(result);
    workers.push({
      index,
      of,
      concurrency: 2,
      seed: index,
      resultKey,
      requests: result.counters.completed + result.counters.failed,
      failed: result.counters.failed,
      measuredSeconds: result.measuredSeconds,
    });
  }
  const state: ExecutionState = { ...prepared, rollout, plan, stress: { workers } };
  const gate = await mergeStress(state, world).catch((error: unknown) => {
    if (!(error instanceof SloViolated)) throw error;
    return undefined;
  });
  return { gate, loadResults };
}

/** A worker's requests: TTFT mostly 40–120 ms with a tail to ~1 s, ~10 ms per token, spread over the run. */
function requestRecords(worker: number, failures: number, slowdown: number): RequestRecord[] {
  const random = seededRandom(1000 + worker);
  return Array.from({ length: REQUESTS_PER_WORKER }, (_, i): RequestRecord => {
    const endedAtMs = ((i + random()) / REQUESTS_PER_WORKER) * STRESS_SECONDS * 1000;
    const base = {
      scheduledAtMs: Math.max(0, endedAtMs - 2000),
      queueMs: random() * 3,
      endedAtMs,
      warmup: false,
    };
    if (i < failures) return { ...base, ok: false, error: "http_500", detail: HOSTILE.errorDetail };
    const tail = random() < 0.03 ? 600 + random() * 400 : 0;
    const ttftMs = (40 + random() * 80 + tail) * slowdown;
    const tpotMs = (8 + random() * 4) * slowdown;
    const gaps = Array.from({ length: OUTPUT_TOKENS - 1 }, () => tpotMs);
    return {
      ...base,
      ok: true,
      ttftMs,
      itlMs: gaps,
      tpotMs,
      e2eMs: ttftMs + tpotMs * (OUTPUT_TOKENS - 1),
      inputTokens: 64,
      inputTokensFrom: "usage",
      outputTokens: OUTPUT_TOKENS,
      outputTokensFrom: "usage",
    };
  });
}

/** The quiz suite file's items: `Question qN?`, answered right by any output containing "yes". */
const QUIZ_LINES: readonly SuiteLine[] = [
  ...Array.from({ length: 12 }, (_, i): SuiteLine => ({
    id: `q${i + 1}`,
    messages: [{ role: "user", content: `Question q${i + 1}?` }],
    answer: "yes",
    scorer: "contains",
  })),
  { id: HOSTILE.itemId, prompt: HOSTILE.prompt, answer: HOSTILE.expected, scorer: "contains" },
];
const QUIZ: readonly SuiteItem[] = QUIZ_LINES.map((line) => {
  const { item } = checkSuiteItem(line);
  if (!item) throw new Error(`quiz item ${String(line.id)} does not pass the suite checks`);
  return item;
});

/** What a scripted model answers: the text it writes, or why it gave no answer. */
type Answer = { readonly output: string } | { readonly error: string };

/** A model that knows every quiz question and answers the sanity suite in the form each scorer reads. */
function stableModel(item: SuiteItem): Answer {
  if (QUIZ.includes(item)) return { output: "Yes." };
  return { output: rightAnswer(item) };
}

/** The candidate: forgets q3 and q7, gets no answer for q9, and writes HOSTILE.output for the hostile item. */
function candidateModel(item: SuiteItem): Answer {
  if (item.id === "q9") return { error: HOSTILE.itemError };
  if (item.id === HOSTILE.itemId) return { output: HOSTILE.output };
  if (item.id === "q3" || item.id === "q7") return { output: "No." };
  return stableModel(item);
}

function rightAnswer(item: SuiteItem): string {
  switch (item.scorer) {
    case "choice":
      return `The answer is (${item.answer}).`;
    case "numeric":
      return `#### ${item.answer}`;
    case "json-valid":
      return '{"answer": true}';
    case "regex":
      return "I am not sure.";
    default:
      return item.answer;
  }
}

export interface EvalOptions {
  /** The quiz suite's minScore; default 0.5. */
  readonly minScore?: number;
  /** Compare with the stable version (v2), which answered every quiz question right. */
  readonly withStable?: boolean;
  /** How many quiz questions, besides q9, the candidate's server refuses (HTTP 400, a context overflow). */
  readonly unanswered?: number;
}

/** MergeEval on the built-in sanity suite and the quiz suite, answered by the scripted candidate. */
export async function writeEvalJson(world: ReportWorld, options: EvalOptions = {}): Promise<void> {
  if (options.withStable) {
    const stable = await runMergeEval(world, STABLE, stableModel, options.minScore);
    await world.store.saveVersionResults(STABLE.model, STABLE.version, { eval: stable });
  }
  const refused = new Set(Array.from({ length: options.unanswered ?? 0 }, (_, i) => `q${i + 1}`));
  const candidate = (item: SuiteItem): Answer =>
    refused.has(item.id) && QUIZ.includes(item)
      ? { error: "HTTP 400: The prompt and max_tokens are over this server's context of 256 tokens." }
      : candidateModel(item);
  await runMergeEval(world, CANDIDATE, candidate, options.minScore, options.withStable);
}

async function runMergeEval(
  world: ReportWorld,
  rollout: RolloutIdentity,
  model: (item: SuiteItem) => Answer,
  minScore = 0.5,
  withStable = false,
) {
  const prepared = stateAfterValidate(
    `gates: {eval: {suites: [{name: quiz, minScore: ${minScore}, maxRegression: 0.05}]}}`,
  );
  const record = withStable
    ? { model: rollout.model, stableVersion: STABLE.version, history: [] }
    : undefined;
  const quizFile = { name: "quiz", items: QUIZ.length, sha256: "0".repeat(64) };
  const plan = planRollout(prepared.manifest!, record, DEFAULT_STACK_CONFIG, 0, [quizFile]);
  const shards: EvalShardResult[] = [];
  for (const shard of plan.evalShards) {
    const suite = shard.suite.name === "quiz" ? QUIZ : SANITY_SUITE;
    const ref = { index: shard.index, of: shard.of };
    const detail: ShardDetail = {
      suite: shard.suite.name,
      shard: ref,
      items: shardItems(suite, ref).map((item) => answered(item, model(item))),
    };
    const detailKey = `reports/${rollout.model}/${rollout.version}/${rollout.id}/eval/${shard.suite.name}-${shard.index}-of-${shard.of}.json`;
    await world.objects.put(detailKey, JSON.stringify(detail));
    shards.push({ summary: summarizeShard(detail), detailKey });
  }
  const state: ExecutionState = { ...prepared, rollout, plan, eval: { shards } };
  return mergeEval(state, world).catch((error: unknown) => {
    if (!(error instanceof EvalFailed)) throw error;
    return undefined;
  });
}

/** The item's result as the eval runner records it. */
function answered(item: SuiteItem, answer: Answer): ItemResult {
  const base = {
    id: item.id,
    scorer: item.scorer,
    prompt: renderPrompt(item),
    ...(item.scorer === "json-valid" ? {} : { expected: item.answer }),
    latencyMs: 25,
  };
  if ("error" in answer) return { ...base, verdict: "error", error: answer.error, attempts: 3 };
  const { correct, extracted } = scoreOutput(item, answer.output);
  return {
    ...base,
    output: answer.output,
    ...(extracted === undefined ? {} : { extracted }),
    verdict: correct ? "correct" : "wrong",
    attempts: 1,
  };
}
