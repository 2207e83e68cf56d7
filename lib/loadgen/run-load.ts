// The load generator's driver: `runLoad(options)` streams chat completions from an OpenAI-compatible server
// through an undici keep-alive pool, following the schedule (closed loop: a fixed number of requests in
// flight; open loop: gamma-distributed arrivals at a rate), times every request with StreamTiming and folds
// the records into a LoadResult. Its profile options have the names and meaning of the manifest's
// `gates.stress`, so the stress stage passes that block through; only `prompts` differs: the manifest names a
// prompt set in the bucket, the stage reads it and passes its prompts.

import { setTimeout as sleep } from "node:timers/promises";
import { Pool } from "undici";
import type { Slo } from "../core/manifest/manifest-schema";
import { arrivalTimes, RunPlan, type Admission } from "./arrival-schedule";
import { openAiRoute } from "./endpoint-url";
import { networkErrorMessage, serverErrorMessage } from "./error-detail";
import type { LoadPrompt } from "./load-prompt";
import type { GoodputSlo, LoadResult } from "./load-result";
import { LoadTally } from "./load-tally";
import { seededRandom } from "./random";
import type { RequestRecord } from "./request-record";
import { SseParser } from "../core/openai/sse-parser";
import { type StreamMeasurement, StreamTiming } from "./stream-timing";
import { syntheticPrompts, type WordCosts } from "./synthetic-prompts";

export interface LoadOptions {
  /** The server: `http://host:8000` or a base ending in `/v1`; requests go to `<base>/v1/chat/completions`. */
  readonly baseUrl: string;
  /** The `model` of every request: the name the server serves. */
  readonly model: string;
  /** Sent with every request (e.g. `authorization`). */
  readonly headers?: Readonly<Record<string, string>>;
  /** A CA certificate (PEM) to trust for an https baseUrl signed by a private CA. */
  readonly caCertificate?: string;

  /** `concurrency`: closed loop, `concurrency` requests always in flight; `rate`: open loop at `rate` req/s. */
  readonly mode: "concurrency" | "rate";
  /** Requests in flight in concurrency mode (unused in rate mode; see maxConcurrency). */
  readonly concurrency: number;
  /** Requests per second in rate mode. */
  readonly rate: number;
  /** Gamma shape of the arrival gaps in rate mode: 1 = Poisson, Infinity = constant gaps. */
  readonly burstiness: number;
  /** Measured time after the warm-up. At least one of durationSeconds and requests is needed. */
  readonly durationSeconds?: number | undefined;
  /** Requests scheduled in this first period are sent but left out of the results. */
  readonly warmupSeconds: number;
  /**
   * Synthetic prompt length: tokens as the server counts them, chat template included, with
   * `promptCalibration`; else approximate tokens (one word each). Not with `prompts`.
   */
  readonly inputTokens: number;
  /** `max_tokens` of every request. */
  readonly outputTokens: number;
  /** Goodput counts requests meeting every one of ttftP95Ms, tpotP95Ms and e2eP95Ms given, as per-request limits. */
  readonly slo?: Slo;

  /** Measured requests to send. Default: bounded by the duration only. */
  readonly requests?: number | undefined;
  /** In rate mode, at most this many requests in flight; an arrival beyond it waits (client queue time). Default: no cap. */
  readonly maxConcurrency?: number | undefined;
  /** Relative spread of synthetic prompt lengths, 0 ≤ spread < 1. Default 0. */
  readonly inputTokensSpread?: number;
  /** Send `ignore_eos: true` (vLLM and llama.cpp accept it) so every answer is `outputTokens` long. Default false. */
  readonly ignoreEos?: boolean;
  /** Prompts to send (picked at random) instead of synthetic ones. */
  readonly prompts?: readonly LoadPrompt[];
  /** What the server counts for synthetic prompts' words (calibratePrompts): prompts of exactly `inputTokens`. */
  readonly promptCalibration?: WordCosts;
  /** Seeds the arrival gaps and the prompts; give each parallel worker its own. Default 0. */
  readonly seed?: number;
  /** One request's whole time, stream included, before it counts as `timeout`. Default 120 s. */
  readonly requestTimeoutSeconds?: number;
  /** Stops the run early: no new requests, the ones in flight cancelled (counted apart); the result covers the rest. */
  readonly signal?: AbortSignal;
  /** Called about once a second, and once at the end, for a live progress line. */
  readonly onProgress?: (progress: LoadProgress) => void;
  /** Called with every request's record, warm-up ones included. */
  readonly onRequest?: (record: RequestRecord) => void;
}

export interface LoadProgress {
  readonly elapsedSeconds: number;
  /** `draining`: no new requests; waiting for those in flight. */
  readonly phase: "warmup" | "measuring" | "draining" | "done";
  /** Measured requests so far. */
  readonly completed: number;
  readonly failed: number;
  readonly warmupRequests: number;
  readonly inFlight: number;
  /** Requests (any) that ended in the last few seconds, per second. */
  readonly requestsPerSecond: number;
}

export class LoadOptionsInvalid extends Error {
  override readonly name = "LoadOptionsInvalid";
  constructor(readonly problems: readonly string[]) {
    super(`The load options are invalid:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
  }
}

const DEFAULT_TIMEOUT_SECONDS = 120;
/** A completion stream is kilobytes; past this, the server is not streaming a completion. */
const MAX_STREAM_BYTES = 16 * 1024 * 1024;
const MAX_ERROR_BODY_BYTES = 16 * 1024;
const PROGRESS_EVERY_MS = 1000;
const RATE_WINDOW_MS = 3000;

/** Runs the load and returns what it measured. Throws LoadOptionsInvalid (every problem) before sending anything. */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const problems = checkOptions(options);
  if (problems.length > 0) throw new LoadOptionsInvalid(problems);
  const run = new LoadRun(options);
  try {
    return await run.execute();
  } finally {
    await run.close();
  }
}

class LoadRun {
  private readonly pool: Pool;
  private readonly path: string;
  private readonly headers: Record<string, string>;
  private readonly plan: RunPlan;
  private readonly tally: LoadTally;
  private readonly nextPrompt: () => LoadPrompt;
  private readonly timeoutMs: number;
  private readonly startedAt = performance.now();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly recentEnds: number[] = [];
  private readonly measured = { completed: 0, failed: 0, warmup: 0 };
  private active = 0;
  private scheduling = true;

  constructor(private readonly options: LoadOptions) {
    const { origin, path } = openAiRoute(options.baseUrl, "chat/completions");
    this.path = path;
    const connections =
      options.mode === "concurrency" ? options.concurrency : (options.maxConcurrency ?? null);
    this.pool = new Pool(origin, {
      connections,
      // Our own per-request timer bounds each request; undici's would cut long streams at its defaults.
      headersTimeout: 0,
      bodyTimeout: 0,
      ...(options.caCertificate ? { connect: { ca: options.caCertificate } } : {}),
    });
    this.headers = {
      "content-type": "application/json",
      accept: "text/event-stream",
      ...options.headers,
    };
    this.plan = new RunPlan(options);
    this.tally = new LoadTally(goodputSloOf(options.slo), this.plan.warmupMs);
    this.nextPrompt = promptSource(options);
    this.timeoutMs = (options.requestTimeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS) * 1000;
  }

  async execute(): Promise<LoadResult> {
    const progress = this.options.onProgress
      ? setInterval(() => this.reportProgress(), PROGRESS_EVERY_MS)
      : undefined;
    try {
      if (this.options.mode === "concurrency") await this.closedLoop();
      else await this.openLoop();
      this.scheduling = false;
      await Promise.all(this.inFlight);
    } finally {
      clearInterval(progress);
    }
    this.reportProgress("done");
    return this.tally.build(this.options.signal?.aborted ?? false);
  }

  async close(): Promise<void> {
    await this.pool.destroy();
  }

  /** Each slot sends its next request as soon as its last one ended. */
  private async closedLoop(): Promise<void> {
    const slot = async () => {
      while (!this.stopped()) {
        const scheduledAtMs = this.elapsedMs();
        const admission = this.plan.admit(scheduledAtMs);
        if (admission === "stop") return;
        await this.send(scheduledAtMs, admission);
      }
    };
    await Promise.all(Array.from({ length: this.options.concurrency }, slot));
  }

  /** Requests start at their arrival times, whatever is in flight (up to maxConcurrency, if set). */
  private async openLoop(): Promise<void> {
    const { rate, burstiness, maxConcurrency } = this.options;
    for (const arrivalMs of arrivalTimes({ rate, burstiness, seed: this.options.seed ?? 0 })) {
      const admission = this.plan.admit(arrivalMs);
      if (admission === "stop" || this.stopped()) return;
      const wait = arrivalMs - this.elapsedMs();
      if (wait > 1) await sleep(wait, undefined, { signal: this.options.signal }).catch(() => undefined);
      while (maxConcurrency !== undefined && this.inFlight.size >= maxConcurrency && !this.stopped()) {
        await Promise.race(this.inFlight);
      }
      if (this.stopped()) return;
      const request = this.send(arrivalMs, admission).finally(() => this.inFlight.delete(request));
      this.inFlight.add(request);
    }
  }

  private async send(scheduledAtMs: number, admission: Exclude<Admission, "stop">): Promise<void> {
    const prompt = this.nextPrompt();
    const body = JSON.stringify({
      model: this.options.model,
      messages: prompt.messages,
      max_tokens: this.options.outputTokens,
      stream: true,
      stream_options: { include_usage: true },
      ...(this.options.ignoreEos ? { ignore_eos: true } : {}),
    });
    const sentAt = performance.now();
    const base = {
      scheduledAtMs,
      queueMs: Math.max(0, sentAt - this.startedAt - scheduledAtMs),
      warmup: admission === "warmup",
    };
    this.active++;
    const outcome = await this.exchange(body, sentAt, prompt.estimatedTokens);
    this.active--;
    if (outcome === "cancelled") {
      if (!base.warmup) this.tally.addCancelled();
      return;
    }
    const record: RequestRecord = { ...base, ...outcome, endedAtMs: this.elapsedMs() };
    this.tally.add(record);
    this.count(record);
    this.options.onRequest?.(record);
  }

  /** One request and its stream, classified; `cancelled` when the run's signal stopped it. */
  private async exchange(
    body: string,
    sentAt: number,
    estimatedInputTokens: number,
  ): Promise<StreamMeasurement | "cancelled"> {
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, this.timeoutMs);
    const stop = () => controller.abort();
    this.options.signal?.addEventListener("abort", stop);
    let answered = false;
    try {
      const response = await this.pool.request({
        path: this.path,
        method: "POST",
        headers: this.headers,
        body,
        signal: controller.signal,
      });
      answered = true;
      if (response.statusCode !== 200) {
        const text = await readCapped(response.body, MAX_ERROR_BODY_BYTES);
        return { ok: false, error: `http_${response.statusCode}`, detail: serverErrorMessage(text) };
      }
      const contentType = String(response.headers["content-type"] ?? "");
      if (!contentType.includes("text/event-stream")) {
        await response.body.dump();
        return {
          ok: false,
          error: "broken_stream",
          detail: `the answer is ${JSON.stringify(contentType)}, not text/event-stream (does the server stream?)`,
        };
      }
      return await readStream(response.body, new StreamTiming(sentAt, estimatedInputTokens));
    } catch (error) {
      if (this.options.signal?.aborted) return "cancelled";
      if (timedOut) {
        return {
          ok: false,
          error: "timeout",
          detail: `no complete answer within ${this.timeoutMs / 1000} s`,
        };
      }
      const detail = networkErrorMessage(error);
      return answered
        ? { ok: false, error: "broken_stream", detail: `the stream broke: ${detail}` }
        : { ok: false, error: "connect", detail };
    } finally {
      clearTimeout(timer);
      this.options.signal?.removeEventListener("abort", stop);
    }
  }

  private count(record: RequestRecord): void {
    this.recentEnds.push(record.endedAtMs);
    if (record.warmup) this.measured.warmup++;
    else if (record.ok) this.measured.completed++;
    else this.measured.failed++;
  }

  private reportProgress(final?: "done"): void {
    if (!this.options.onProgress) return;
    const now = this.elapsedMs();
    while (this.recentEnds.length > 0 && (this.recentEnds[0] as number) < now - RATE_WINDOW_MS) {
      this.recentEnds.shift();
    }
    const window = Math.min(now, RATE_WINDOW_MS);
    const phase =
      final ?? (!this.scheduling ? "draining" : now < this.plan.warmupMs ? "warmup" : "measuring");
    this.options.onProgress({
      elapsedSeconds: now / 1000,
      phase,
      completed: this.measured.completed,
      failed: this.measured.failed,
      warmupRequests: this.measured.warmup,
      inFlight: this.active,
      requestsPerSecond: window > 0 ? (this.recentEnds.length * 1000) / window : 0,
    });
  }

  private elapsedMs(): number {
    return performance.now() - this.startedAt;
  }

  private stopped(): boolean {
    return this.options.signal?.aborted ?? false;
  }
}

type Body = AsyncIterable<Uint8Array> & { dump(): Promise<void> };

async function readStream(body: Body, timing: StreamTiming): Promise<StreamMeasurement> {
  const parser = new SseParser();
  let bytes = 0;
  for await (const chunk of body) {
    const at = performance.now();
    bytes += chunk.byteLength;
    if (bytes > MAX_STREAM_BYTES) {
      await body.dump();
      return {
        ok: false,
        error: "broken_stream",
        detail: `the stream went past ${MAX_STREAM_BYTES / 1024 / 1024} MiB; it was cut there`,
      };
    }
    for (const event of parser.push(chunk)) timing.observe(event.data, at);
  }
  const end = performance.now();
  for (const event of parser.end()) timing.observe(event.data, end);
  return timing.finish(end);
}

async function readCapped(body: Body, maxBytes: number): Promise<string> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of body) {
    chunks.push(chunk);
    total += chunk.byteLength;
    if (total >= maxBytes) {
      await body.dump();
      break;
    }
  }
  return Buffer.concat(chunks).toString("utf8", 0, Math.min(total, maxBytes));
}

function goodputSloOf(slo: Slo | undefined): GoodputSlo {
  const picked: { ttftP95Ms?: number; tpotP95Ms?: number; e2eP95Ms?: number } = {};
  if (slo?.ttftP95Ms !== undefined) picked.ttftP95Ms = slo.ttftP95Ms;
  if (slo?.tpotP95Ms !== undefined) picked.tpotP95Ms = slo.tpotP95Ms;
  if (slo?.e2eP95Ms !== undefined) picked.e2eP95Ms = slo.e2eP95Ms;
  return picked;
}

function promptSource(options: LoadOptions): () => LoadPrompt {
  const seed = options.seed ?? 0;
  const { prompts } = options;
  if (prompts && prompts.length > 0) {
    const random = seededRandom(seed + 1);
    return () => prompts[Math.floor(random() * prompts.length)] as LoadPrompt;
  }
  return syntheticPrompts({
    inputTokens: options.inputTokens,
    spread: options.inputTokensSpread ?? 0,
    seed: seed + 2,
    ...(options.promptCalibration ? { costs: options.promptCalibration } : {}),
  });
}

/** Every problem with the options, as sentences naming the option. */
function checkOptions(o: LoadOptions): string[] {
  const problems: string[] = [];
  const positiveInt = (name: string, value: number | undefined) => {
    if (value !== undefined && !(Number.isSafeInteger(value) && value > 0)) {
      problems.push(`${name} must be a whole number above 0, not ${value}`);
    }
  };
  let url: URL | undefined;
  try {
    url = new URL(o.baseUrl);
  } catch {
    problems.push(`baseUrl must be a URL like http://127.0.0.1:8000, not ${JSON.stringify(o.baseUrl)}`);
  }
  if (url && url.protocol !== "http:" && url.protocol !== "https:") {
    problems.push(`baseUrl must be http:// or https://, not ${url.protocol}//`);
  }
  if (o.model.trim() === "") problems.push("model must name the served model");
  if (o.mode === "concurrency") positiveInt("concurrency", o.concurrency);
  else if (o.mode === "rate") {
    if (!(Number.isFinite(o.rate) && o.rate > 0))
      problems.push(`rate must be above 0 requests/s, not ${o.rate}`);
    if (!(o.burstiness > 0)) problems.push(`burstiness must be above 0 (1 = Poisson), not ${o.burstiness}`);
    positiveInt("maxConcurrency", o.maxConcurrency);
  } else problems.push(`mode must be concurrency or rate, not ${JSON.stringify(o.mode)}`);
  if (o.durationSeconds === undefined && o.requests === undefined) {
    problems.push("give durationSeconds, requests or both: the run needs an end");
  }
  if (o.durationSeconds !== undefined && !(Number.isFinite(o.durationSeconds) && o.durationSeconds > 0)) {
    problems.push(`durationSeconds must be above 0, not ${o.durationSeconds}`);
  }
  positiveInt("requests", o.requests);
  if (!(Number.isFinite(o.warmupSeconds) && o.warmupSeconds >= 0)) {
    problems.push(`warmupSeconds must be 0 or more, not ${o.warmupSeconds}`);
  }
  if (!o.prompts?.length) positiveInt("inputTokens", o.inputTokens);
  else if (o.promptCalibration) {
    problems.push("promptCalibration shapes synthetic prompts: it does not apply to the prompts given");
  }
  if (o.promptCalibration && !hasWordCosts(o.promptCalibration)) {
    problems.push(
      "promptCalibration needs a cost of 1 or more for at least one first word and one further word",
    );
  }
  positiveInt("outputTokens", o.outputTokens);
  const spread = o.inputTokensSpread ?? 0;
  if (!(spread >= 0 && spread < 1))
    problems.push(`inputTokensSpread must be from 0 up to (not incl.) 1, not ${spread}`);
  const timeout = o.requestTimeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS;
  if (!(Number.isFinite(timeout) && timeout > 0)) {
    problems.push(`requestTimeoutSeconds must be above 0, not ${timeout}`);
  }
  return problems;
}

function hasWordCosts(costs: WordCosts): boolean {
  const counts = (record: Readonly<Record<string, number>>) =>
    Object.values(record).some((n) => Number.isSafeInteger(n) && n >= 1);
  return counts(costs.firstWord) && counts(costs.nextWord);
}
