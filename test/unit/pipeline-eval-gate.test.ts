import { createServer } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { DEFAULT_STACK_CONFIG } from "../../lib/core/config/config";
import { EvalFailed, Transient } from "../../lib/core/errors";
import type { ItemResult, ShardDetail } from "../../lib/core/eval/eval-results";
import { shardItems } from "../../lib/core/eval/shard";
import { readStoredOutcomes } from "../../lib/core/eval/stored-outcomes";
import type { SuiteLine } from "../../lib/core/eval/suite-item";
import type { ExecutionState } from "../../lib/core/rollout/rollout";
import { evalShard, type EvalShardResult } from "../../lib/pipeline/eval-shard";
import type { CandidateProgress } from "../../lib/pipeline/flow-state";
import { type EvalGateResult, mergeEval } from "../../lib/pipeline/merge-eval";
import {
  CANARY_FLOW as flow,
  type CanaryWorld,
  canaryWorld,
  MODEL,
  rolloutThroughGates,
} from "../support/canary-world";
import { type ScriptedReply, ScriptedModelServer } from "./eval/scripted-model-server";

/** No waiting between retries: the scripted server answers at once. */
const FAST = { retry: { attempts: 2, baseDelayMs: 1, maxDelayMs: 2 }, timeoutMs: 10_000 };
const QUIZ_SIZE = 40;
const QUIZ_IDS = Array.from({ length: QUIZ_SIZE }, (_, i) => `q${i + 1}`);

const MANIFEST = `
gates:
  stress: {enabled: false}
  eval: {suites: [{name: quiz, minScore: 0.5, maxRegression: 0.05}]}
rollout:
  steps: [50, 100]
  bakeSeconds: 60
  watchSeconds: 300
`;

/** The quiz: "Question q7?" is answered right with "yes". */
function quizFile(): string {
  return QUIZ_IDS.map((id) => {
    const line: SuiteLine = {
      id,
      messages: [{ role: "user", content: `Question ${id}?` }],
      answer: "yes",
      scorer: "contains",
    };
    return JSON.stringify(line);
  }).join("\n");
}

let server: ScriptedModelServer;
/** The quiz questions the model serving now gets right; it answers every other question "I do not know". */
let knows: ReadonlySet<string>;
/** The quiz questions the server refuses (HTTP 400), as a small context refuses a long prompt. */
let refuses: ReadonlySet<string>;

beforeAll(async () => {
  server = await ScriptedModelServer.start(({ question }) => {
    const id = /^Question (q\d+)\?$/.exec(question)?.[1];
    if (id === undefined) return { content: "I do not know." };
    if (refuses.has(id)) {
      return {
        status: 400,
        message:
          "The prompt is 60 tokens and 512 more were asked for, over this server's context of 256 tokens.",
      };
    }
    return { content: knows.has(id) ? "Yes." : "No." };
  });
});

afterAll(async () => {
  await server.stop();
});

beforeEach(() => {
  knows = new Set(QUIZ_IDS);
  refuses = new Set();
  server.requests.length = 0;
});

function world(evalShardSize = 10, baseUrl = () => server.baseUrl): CanaryWorld {
  const created = canaryWorld({
    config: { ...DEFAULT_STACK_CONFIG, evalShardSize },
    endpointFor: (handle) => ({ baseUrl: baseUrl(), headers: {}, servedName: handle.servedName }),
  });
  created.objects.addFiles("evals/", new Map([["quiz.jsonl", new TextEncoder().encode(quizFile())]]));
  return created;
}

function handleOf(state: ExecutionState) {
  return (state.candidate as unknown as CandidateProgress).handle;
}

/** The Eval Map as the state machine runs it: one EvalShard per planned shard, results under `$.eval.shards`. */
async function runEvalMap(state: ExecutionState, deps: CanaryWorld): Promise<ExecutionState> {
  const shards: EvalShardResult[] = [];
  for (const shard of state.plan?.evalShards ?? []) {
    shards.push(await evalShard({ rollout: state.rollout, candidate: handleOf(state), shard }, deps, FAST));
  }
  return { ...state, eval: { shards } };
}

/** A version through Prepare, the deploy and the Eval Map, ready for MergeEval. */
async function evaluated(deps: CanaryWorld, version: string, manifest = MANIFEST): Promise<ExecutionState> {
  return runEvalMap(await rolloutThroughGates(deps, version, manifest), deps);
}

/** MergeEval with its ResultPath: `$.eval`. */
async function merged(state: ExecutionState, deps: CanaryWorld): Promise<ExecutionState> {
  return { ...state, eval: { ...(await mergeEval(state, deps)) } };
}

/** Through the gateway, Promote (which keeps the gate results with the version), the watch and Finalize. */
async function release(state: ExecutionState, deps: CanaryWorld): Promise<void> {
  let next = await flow.registerGateway(state, deps);
  next = await flow.promote(next, deps);
  deps.clock.advance(300);
  next = await flow.checkWatch(next, deps);
  await flow.finalize(next, deps);
}

async function gateFailure(state: ExecutionState, deps: CanaryWorld): Promise<EvalFailed> {
  const error = await mergeEval(state, deps).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(EvalFailed);
  return error as EvalFailed;
}

function json<T>(deps: CanaryWorld, key: string): T {
  const text = deps.objects.text(key);
  if (text === undefined) throw new Error(`${key} was not written`);
  return JSON.parse(text) as T;
}

function quizQuestionsAsked(): string[] {
  return server.requests
    .map((r) => /^Question (q\d+)\?$/.exec(r.question)?.[1])
    .filter((id): id is string => id !== undefined)
    .sort();
}

async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as { port: number };
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

describe("EvalShard", () => {
  it("asks the candidate only its own shard's questions, keeps every answer in the bucket and returns a small result", async () => {
    const deps = world(10);
    const state = await rolloutThroughGates(deps, "v1", MANIFEST);
    const shard = state.plan?.evalShards.find((s) => s.suite.name === "quiz" && s.index === 1);
    if (!shard) throw new Error("the plan has no second quiz shard");

    const result = await evalShard({ rollout: state.rollout, candidate: handleOf(state), shard }, deps, FAST);

    const mine = shardItems(
      QUIZ_IDS.map((id) => ({ id })),
      shard,
    ).map((item) => item.id);
    expect(quizQuestionsAsked()).toEqual([...mine].sort());
    expect(result.detailKey).toBe(`reports/llama/v1/${state.rollout.id}/eval/quiz-1-of-4.json`);
    const detail = json<ShardDetail>(deps, result.detailKey);
    expect(detail.shard).toEqual({ index: 1, of: 4 });
    expect(detail.items.map((item) => [item.id, item.output, item.verdict])).toEqual(
      expect.arrayContaining(mine.map((id) => [id, "Yes.", "correct"])),
    );
    expect(result.summary).toEqual({
      suite: "quiz",
      shard: { index: 1, of: 4 },
      items: mine.length,
      correct: mine.length,
      wrong: 0,
      errors: 0,
      failures: [],
    });
    expect(JSON.stringify(result).length).toBeLessThan(2048);
  });

  it("stops asking when its execution is stopped, stores nothing, and throws Interrupted instead of a score", async () => {
    const deps = world(10);
    const state = await rolloutThroughGates(deps, "v1", MANIFEST);
    const shard = state.plan?.evalShards.find((s) => s.suite.name === "quiz");
    if (!shard) throw new Error("the plan has no quiz shard");
    const stop = new AbortController();
    stop.abort();

    const error = await evalShard({ rollout: state.rollout, candidate: handleOf(state), shard }, deps, {
      ...FAST,
      signal: stop.signal,
    }).catch((e: unknown) => e);

    expect(error).toMatchObject({ name: "Interrupted" });
    expect(quizQuestionsAsked()).toEqual([]);
    expect(await deps.objects.list(`reports/llama/v1/${state.rollout.id}/eval/`)).toEqual([]);
  });

  it("is Transient when the candidate cannot be reached, so the state machine tries the shard again", async () => {
    const port = await closedPort();
    const deps = world(50, () => `http://127.0.0.1:${port}/v1`);
    const state = await rolloutThroughGates(deps, "v1", MANIFEST);
    const [shard] = state.plan?.evalShards ?? [];
    if (!shard) throw new Error("the plan has no shard");

    const error = await evalShard(
      { rollout: state.rollout, candidate: handleOf(state), shard },
      deps,
      FAST,
    ).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(Transient);
    expect((error as Transient).reason).toMatch(
      new RegExp(
        `^The candidate ${handleOf(state).id} cannot be reached before its questions: GET .*ECONNREFUSED`,
      ),
    );
    expect(deps.objects.text(`reports/llama/v1/${state.rollout.id}/eval/sanity-0-of-1.json`)).toBeUndefined();
  });

  it("is Transient when the candidate goes away in the middle of its shard, rather than scoring the shard 0", async () => {
    const vanishing = await ScriptedModelServer.start(async (): Promise<ScriptedReply> => {
      await vanishing.stop();
      return "drop";
    });
    const url = vanishing.baseUrl;
    const deps = world(50, () => url);
    const state = await rolloutThroughGates(deps, "v1", MANIFEST);
    const shard = state.plan?.evalShards.find((s) => s.suite.name === "quiz");
    if (!shard) throw new Error("the plan has no quiz shard");

    const error = await evalShard(
      { rollout: state.rollout, candidate: handleOf(state), shard },
      deps,
      FAST,
    ).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(Transient);
    expect((error as Transient).reason).toContain(
      "cannot be reached after every one of its questions failed",
    );
  });

  it("fails with EvalFailed when the suite file changed after Prepare checked it", async () => {
    const deps = world(50);
    const state = await rolloutThroughGates(deps, "v1", MANIFEST);
    const shard = state.plan?.evalShards.find((s) => s.suite.name === "quiz");
    if (!shard) throw new Error("the plan has no quiz shard");
    await deps.objects.put("evals/quiz.jsonl", `${quizFile()}\n`);

    const error = await evalShard(
      { rollout: state.rollout, candidate: handleOf(state), shard },
      deps,
      FAST,
    ).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(EvalFailed);
    expect((error as EvalFailed).reason).toBe(
      "The eval suite file evals/quiz.jsonl changed after the rollout started: shard 1 of 1 would not run the file Prepare checked.",
    );
    expect(quizQuestionsAsked()).toEqual([]);
  });
});

describe("MergeEval", () => {
  it("merges a suite run in shards into exactly the result of running it in one piece", async () => {
    knows = new Set(QUIZ_IDS.filter((_, i) => i % 3 !== 0));
    const sharded = world(10);
    const whole = world(1000);
    const inShards = await merged(await evaluated(sharded, "v1"), sharded);
    const inOnePiece = await merged(await evaluated(whole, "v1"), whole);

    expect(inShards.plan?.evalShards.filter((s) => s.suite.name === "quiz")).toHaveLength(4);
    expect(inOnePiece.plan?.evalShards.filter((s) => s.suite.name === "quiz")).toHaveLength(1);
    expect((inShards.eval as unknown as EvalGateResult).suites).toEqual(
      (inOnePiece.eval as unknown as EvalGateResult).suites,
    );
    const items = (deps: CanaryWorld, state: ExecutionState) =>
      json<{ suites: { suite: string; items: ItemResult[] }[] }>(
        deps,
        (state.eval as unknown as EvalGateResult).reportKey,
      ).suites.map((s) => ({ suite: s.suite, items: s.items.map(({ latencyMs: _, ...item }) => item) }));
    expect(items(sharded, inShards)).toEqual(items(whole, inOnePiece));
    expect(items(sharded, inShards)[1]?.items.map((i) => i.id)).toEqual(QUIZ_IDS);
  });

  it("passes a first release on minScore alone, and returns a small summary with the report's and the outcomes' keys", async () => {
    knows = new Set(QUIZ_IDS.slice(0, 30));
    const deps = world(10);
    const state = await evaluated(deps, "v1");

    const result = await mergeEval(state, deps);

    const prefix = `reports/llama/v1/${state.rollout.id}`;
    expect(result).toMatchObject({
      reportKey: `${prefix}/eval.json`,
      outcomesKey: `${prefix}/eval-outcomes.json`,
    });
    expect(result.stableVersion).toBeUndefined();
    const quiz = result.suites.find((s) => s.suite === "quiz");
    expect(quiz).toEqual({
      suite: "quiz",
      pass: true,
      score: 0.75,
      interval: { low: expect.closeTo(0.5981, 4), high: expect.closeTo(0.8581, 4) },
      items: 40,
      correct: 30,
      errors: 0,
      maxErrorRate: 0.1,
      minScore: 0.5,
      maxRegression: 0.05,
    });
    expect(result.summary).toBe(
      "sanity 0.0% (95% CI 0.0%–9.2%, 0/38); quiz 75.0% (95% CI 59.8%–85.8%, 30/40)",
    );
    expect(JSON.stringify(result).length).toBeLessThan(2048);
    const stored = readStoredOutcomes(json(deps, result.outcomesKey), result.outcomesKey);
    expect(stored.findings).toEqual([]);
    expect(
      stored.outcomes.map((o) => [o.score.suite, o.score.correct, Object.keys(o.verdicts).length]),
    ).toEqual([
      ["sanity", 0, 38],
      ["quiz", 30, 40],
    ]);
    expect(deps.events.ofType("Stage Succeeded").at(-1)?.detail).toMatchObject({
      stage: "MergeEval",
      message: expect.stringContaining("llama v1 passed the eval gate"),
    });
  });

  it("fails a suite that scores under its minScore, with its score, interval and threshold, after writing the report", async () => {
    knows = new Set(QUIZ_IDS.slice(0, 10));
    const deps = world(10);
    const state = await evaluated(deps, "v1");

    const error = await gateFailure(state, deps);

    expect(error.reason).toBe("llama v1 failed the eval gate on 1 of 2 suites: quiz.");
    expect(error.findings.map((f) => [f.path, f.message])).toEqual([
      [
        "suite quiz",
        "score 25.0% (95% CI 14.2%–40.2%, 10/40 correct) < minScore 50.0%. No stable result to compare with: only minScore applies.",
      ],
    ]);
    const reportKey = `reports/llama/v1/${state.rollout.id}/eval.json`;
    expect(error.hint).toContain(`s3://memory-bucket/${reportKey}`);
    const report = json<{ passed: boolean; suites: { suite: string; pass: boolean }[] }>(deps, reportKey);
    expect(report.passed).toBe(false);
    expect(report.suites.map((s) => [s.suite, s.pass])).toEqual([
      ["sanity", true],
      ["quiz", false],
    ]);
  });

  it("fails a suite where more than gates.eval.maxErrorRate of the items got no answer as not evaluated, with its own finding, not as a low score", async () => {
    refuses = new Set(QUIZ_IDS.slice(0, 10));
    const deps = world(10);
    const state = await evaluated(deps, "v1");

    const error = await gateFailure(state, deps);

    expect(error.reason).toBe(
      "llama v1 could not be evaluated on 1 of 2 suites, too many items without an answer: quiz.",
    );
    expect(error.findings.map((f) => [f.code, f.path, f.message])).toEqual([
      [
        "eval.not-evaluated",
        "suite quiz",
        "Could not evaluate: 10 of 40 items (25.0%) got no answer, more than maxErrorRate 10.0% allows; the score would measure the server's failures, not the model. By kind: HTTP 400 ×10.",
      ],
    ]);
    expect(error.hint).toContain("a lower gates.eval.maxTokens");
    const report = json<{ suites: { suite: string; pass: boolean; unanswered: unknown; score: unknown }[] }>(
      deps,
      `reports/llama/v1/${state.rollout.id}/eval.json`,
    );
    expect(report.suites.find((s) => s.suite === "quiz")).toMatchObject({
      pass: false,
      score: { correct: 30, wrong: 0, errors: 10 },
      unanswered: { count: 10, share: 0.25, maxErrorRate: 0.1, tooMany: true, kinds: { "HTTP 400": 10 } },
    });
  });

  it("names both failures when one suite scores low and another could not be evaluated", async () => {
    refuses = new Set(QUIZ_IDS.slice(0, 10));
    const deps = world(10);
    const withMinimum = MANIFEST.replace("suites: [", "suites: [{name: sanity, minScore: 0.9}, ");
    const state = await evaluated(deps, "v1", withMinimum);

    const error = await gateFailure(state, deps);

    expect(error.reason).toBe(
      "llama v1 failed the eval gate on 1 of 2 suites: sanity; and could not be evaluated on 1 of 2 suites, too many items without an answer: quiz.",
    );
    expect(error.findings.map((f) => [f.code, f.path])).toEqual([
      ["eval.gate-failed", "suite sanity"],
      ["eval.not-evaluated", "suite quiz"],
    ]);
  });

  it("lets gates.eval.maxErrorRate allow a larger share of items without an answer", async () => {
    refuses = new Set(QUIZ_IDS.slice(0, 10));
    const deps = world(10);
    const state = await evaluated(
      deps,
      "v1",
      MANIFEST.replace("eval: {suites:", "eval: {maxErrorRate: 0.25, suites:"),
    );

    const result = await mergeEval(state, deps);

    expect(result.suites.find((s) => s.suite === "quiz")).toMatchObject({
      pass: true,
      errors: 10,
      maxErrorRate: 0.25,
    });
  });

  describe("against the stable version", () => {
    let deps: CanaryWorld;
    beforeEach(async () => {
      deps = world(10);
      await release(await merged(await evaluated(deps, "v1"), deps), deps);
    });

    it("finds what stable kept at its promotion: the key of its outcomes, in its version results", async () => {
      const kept = await deps.store.getVersionResults(MODEL, "v1");
      const outcomesKey = (kept?.["eval"] as { outcomesKey?: unknown } | undefined)?.outcomesKey;

      expect(outcomesKey).toMatch(/^reports\/llama\/v1\/llama-v1-[0-9a-f]{8}\/eval-outcomes\.json$/);
      expect(deps.objects.text(String(outcomesKey))).toBeDefined();
    });

    it("fails a candidate significantly worse than stable by more than maxRegression, with the numbers", async () => {
      knows = new Set(QUIZ_IDS.slice(0, 28));
      const state = await evaluated(deps, "v2");

      const error = await gateFailure(state, deps);

      expect(error.reason).toBe("llama v2 failed the eval gate on 1 of 2 suites: quiz.");
      expect(error.findings.map((f) => f.message)).toEqual([
        "score 70.0% (95% CI 54.6%–81.9%, 28/40 correct) ≥ minScore 50.0%. " +
          "On 40 paired items the candidate scores 70.0% and stable 100.0%: a drop of 30.0 points (> maxRegression 5.0 points); " +
          "discordant items b=12 (only stable right), c=0 (only candidate right), exact McNemar p=4.9e-4 (< 0.05): a significant regression.",
      ]);
    });

    it("passes a candidate within maxRegression of stable, with the comparison in $.eval", async () => {
      knows = new Set(QUIZ_IDS.slice(0, 39));
      const state = await evaluated(deps, "v2");

      const result = await mergeEval(state, deps);

      expect(result.stableVersion).toBe("v1");
      expect(result.suites.find((s) => s.suite === "quiz")?.comparison).toEqual({
        paired: 40,
        candidateScore: 0.975,
        stableScore: 1,
        onlyStableCorrect: 1,
        onlyCandidateCorrect: 0,
        pValue: 1,
      });
      expect(result.summary).toContain(
        "quiz 97.5% (95% CI 87.1%–99.6%, 39/40) vs stable 100.0% on 40 paired (p=1.0)",
      );
    });
  });

  it("applies minScore alone when the stable version kept no eval results, and says why in the report", async () => {
    const deps = world(10);
    await release(
      await rolloutThroughGates(
        deps,
        "v1",
        MANIFEST.replace("eval: {suites:", "eval: {enabled: false, suites:"),
      ),
      deps,
    );
    knows = new Set(QUIZ_IDS.slice(0, 21));
    const state = await evaluated(deps, "v2");

    const result = await mergeEval(state, deps);

    expect(result.stableVersion).toBe("v1");
    expect(result.suites.every((s) => s.pass && s.comparison === undefined)).toBe(true);
    const report = json<{ suites: { suite: string; reasons: string[] }[] }>(deps, result.reportKey);
    expect(report.suites.find((s) => s.suite === "quiz")?.reasons).toEqual([
      "score 52.5% (95% CI 37.5%–67.1%, 21/40 correct) ≥ minScore 50.0%.",
      "No stable result to compare with: only minScore applies.",
      "Stable v1 kept no eval results (it was released with the eval gate off, or before modelship kept them).",
    ]);
  });

  it("compares the suites stable ran, and applies minScore alone to a suite new since, saying so", async () => {
    const deps = world(10);
    const sanityOnly = MANIFEST.replace(
      "suites: [{name: quiz, minScore: 0.5, maxRegression: 0.05}]",
      "suites: []",
    );
    await release(await merged(await evaluated(deps, "v1", sanityOnly), deps), deps);
    const state = await evaluated(deps, "v2");

    const result = await mergeEval(state, deps);

    expect(result.suites.map((s) => [s.suite, s.comparison?.paired])).toEqual([
      ["sanity", 38],
      ["quiz", undefined],
    ]);
    const report = json<{ suites: { suite: string; reasons: string[] }[] }>(deps, result.reportKey);
    expect(report.suites.find((s) => s.suite === "quiz")?.reasons.at(-1)).toBe(
      "Stable v1 kept no results of suite 'quiz': it did not run it.",
    );
  });

  it("says which of stable's kept results cannot be read, and applies minScore alone", async () => {
    const deps = world(10);
    await release(await merged(await evaluated(deps, "v1"), deps), deps);
    const kept = await deps.store.getVersionResults(MODEL, "v1");
    const outcomesKey = String((kept?.["eval"] as { outcomesKey?: unknown }).outcomesKey);
    await deps.objects.put(outcomesKey, "{}");
    knows = new Set(QUIZ_IDS.slice(0, 28));
    const state = await evaluated(deps, "v2");

    const result = await mergeEval(state, deps);

    expect(result.suites.every((s) => s.pass && s.comparison === undefined)).toBe(true);
    expect(result.summary).toContain("quiz 70.0% (95% CI 54.6%–81.9%, 28/40) (not compared with stable)");
    const report = json<{ stable: { missing: string } }>(deps, result.reportKey);
    expect(report.stable.missing).toMatch(
      new RegExp(`^The eval results stable v1 kept, s3://memory-bucket/${outcomesKey}, cannot be read \\(`),
    );
  });
});
