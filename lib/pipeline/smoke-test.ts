// The SmokeTest stage: proves the ready candidate really serves before any load or traffic reaches it.
// `/v1/models` must list the served name; every smoke prompt (the manifest's or a default set) must come
// back 200 with content, a valid finish_reason, the expected text and no degenerate output; one chat goes
// through the chat template and one is streamed (SSE, with usage). Every request is judged and every
// verdict reported — a SmokeFailed lists each prompt, what came back and what was wrong. On success it
// records how long the candidate took to load, its time to first token and its tokens/s.

import { SmokeFailed } from "../core/errors";
import type { SmokePrompt } from "../core/manifest/manifest-schema";
import type { ExecutionState } from "../core/rollout/rollout";
import { DEFAULT_SMOKE_MAX_TOKENS, planSmokeRequests, type SmokeRequest } from "../core/smoke/smoke-prompts";
import {
  judgeAnswer,
  judgeModelList,
  type Problem,
  smokeFailureHint,
  smokeFindings,
  type SmokeVerdict,
  smokeVerdict,
} from "../core/smoke/smoke-verdict";
import { candidateProgress } from "./candidate-state";
import { throwIfInterrupted } from "./interruption";
import { combinedUse, type DepsUsing, portUse } from "./port-use";
import { rolloutEvent } from "./events";
import { type Answer, OpenAiClient, type OpenAiClientOptions, type StreamedAnswer } from "./openai-client";
import { ABORT_WATCH_USES, assertNotAborted } from "./abort-watch";

export const SMOKE_TEST_USES = combinedUse(
  ABORT_WATCH_USES,
  portUse({ serving: ["endpoint"], events: ["emit"], clock: ["now"] }),
);

type SmokeDeps = DepsUsing<typeof SMOKE_TEST_USES>;

export interface SmokeTestOptions extends OpenAiClientOptions {
  /** Milliseconds for the whole test; requests not sent by then fail as not sent. Default 600 s (the Task allows 900). */
  readonly budgetMs?: number;
}

/** `$.smoke`: the verdicts and what was measured, small enough for the execution state. */
export interface SmokeResult {
  readonly servedName: string;
  readonly verdicts: readonly SmokeVerdict[];
  /** Seconds from deploy to ready, as the readiness loop saw it. */
  readonly loadSeconds?: number;
  /** The streamed chat's time to first token. */
  readonly ttftMs?: number;
  /** The streamed chat's completion tokens over its whole duration. */
  readonly tokensPerSecond?: number;
  readonly completionTokens?: number;
  /** ISO timestamp. */
  readonly testedAt: string;
}

const STAGE = "SmokeTest";
/** Greedy and seeded: a smoke test that passes once passes again. */
const GENERATION = { temperature: 0, seed: 1 } as const;

export async function smokeTest(
  state: ExecutionState,
  deps: SmokeDeps,
  options: SmokeTestOptions = {},
): Promise<SmokeResult> {
  const { rollout, manifest } = state;
  const { handle, readiness } = candidateProgress(state, STAGE);
  if (!manifest) throw new Error(`${STAGE} needs $.manifest from Prepare; the state has none.`);
  const gate = manifest.gates.smoke;
  await assertNotAborted(deps, rollout, STAGE);
  const endpoint = await deps.serving.endpoint(handle, "probe");
  const client = new OpenAiClient(endpoint, options);
  const budgetMs = options.budgetMs ?? 600_000;
  const startedAt = performance.now();

  const listed = await client.listModels();
  const verdicts: SmokeVerdict[] = [
    smokeVerdict({
      request: "GET /v1/models",
      prompt: "",
      ...(listed.ids ? { answer: listed.ids.join(", ") } : {}),
      problems: judgeModelList(listed, endpoint.servedName),
    }),
  ];
  let streamed: StreamedAnswer | undefined;
  for (const request of planSmokeRequests(gate)) {
    if (options.signal?.aborted) break;
    const label = request.stream ? "chat (streamed)" : request.prompt.messages ? "chat" : "completion";
    const shown = promptText(request.prompt);
    if (performance.now() - startedAt > budgetMs) {
      const problems: Problem[] = [
        { kind: "unreachable", message: `not sent: the smoke test's ${budgetMs / 1000} s ran out` },
      ];
      verdicts.push(smokeVerdict({ request: label, source: request.source, prompt: shown, problems }));
      continue;
    }
    const answer = await send(client, request);
    if (request.stream) streamed = answer;
    const problems = judgeAnswer(answer, {
      ...(request.prompt.expectContains === undefined
        ? {}
        : { expectContains: request.prompt.expectContains }),
      rejectDegenerate: gate.rejectDegenerate,
    });
    verdicts.push(
      smokeVerdict({
        request: label,
        source: request.source,
        prompt: shown,
        ...(answer.content === undefined ? {} : { answer: answer.content }),
        problems,
      }),
    );
  }

  // Stopped: the answers cut off are not the candidate's fault, and are not judged.
  throwIfInterrupted(options.signal, "the smoke test");
  const failed = verdicts.filter((v) => v.problems.length > 0);
  if (failed.length > 0) {
    // Its candidate removed by an abort meanwhile: what failed is the abort's doing.
    await assertNotAborted(deps, rollout, STAGE);
    throw new SmokeFailed(
      `${rollout.model} ${rollout.version} failed ${failed.length} of ${verdicts.length} smoke checks.`,
      { findings: smokeFindings(verdicts), hint: smokeFailureHint(verdicts) },
    );
  }

  const result: SmokeResult = {
    servedName: endpoint.servedName,
    verdicts,
    ...(readiness?.readySeconds === undefined ? {} : { loadSeconds: round(readiness.readySeconds) }),
    ...measurements(streamed),
    testedAt: deps.clock.now().toISOString(),
  };
  await deps.events.emit(
    rolloutEvent(
      "Stage Succeeded",
      rollout,
      STAGE,
      passedMessage(rollout.model, rollout.version, result),
      deps.clock,
      {
        data: {
          requests: verdicts.length,
          loadSeconds: result.loadSeconds ?? null,
          ttftMs: result.ttftMs ?? null,
          tokensPerSecond: result.tokensPerSecond ?? null,
        },
      },
    ),
  );
  return result;
}

function send(client: OpenAiClient, { prompt, stream }: SmokeRequest): Promise<Answer | StreamedAnswer> {
  const generation = { maxTokens: prompt.maxTokens ?? DEFAULT_SMOKE_MAX_TOKENS, ...GENERATION };
  if (prompt.messages) {
    return stream ? client.streamChat(prompt.messages, generation) : client.chat(prompt.messages, generation);
  }
  return client.complete(prompt.prompt ?? "", generation);
}

/** What a user recognises the prompt by: the last message of a chat, or the completion prompt. */
function promptText(prompt: SmokePrompt): string {
  return prompt.messages?.at(-1)?.content ?? prompt.prompt ?? "";
}

function measurements(streamed: StreamedAnswer | undefined) {
  if (!streamed) return {};
  const tokens = streamed.usage?.completionTokens;
  const seconds = (streamed.totalMs ?? 0) / 1000;
  return {
    ...(streamed.ttftMs === undefined ? {} : { ttftMs: round(streamed.ttftMs) }),
    ...(tokens === undefined ? {} : { completionTokens: tokens }),
    ...(tokens !== undefined && seconds > 0 ? { tokensPerSecond: round(tokens / seconds) } : {}),
  };
}

function passedMessage(model: string, version: string, result: SmokeResult): string {
  const measured = [
    result.loadSeconds === undefined ? undefined : `ready in ${result.loadSeconds} s`,
    result.ttftMs === undefined ? undefined : `first token in ${result.ttftMs} ms`,
    result.tokensPerSecond === undefined ? undefined : `${result.tokensPerSecond} tokens/s`,
  ].filter(Boolean);
  return `${model} ${version} passed the smoke test (${result.verdicts.length} checks)${measured.length ? `: ${measured.join(", ")}` : ""}.`;
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}
