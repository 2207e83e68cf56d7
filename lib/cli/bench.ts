// `modelship bench <base-url> --model <name> [--concurrency N | --rate R] [--duration 60s] [--json] …`: the
// load generator as a tool of its own, against any OpenAI-compatible endpoint (vLLM, llama.cpp, a gateway).
// Before the load, synthetic prompts are calibrated against the server's own token counts and the profile is
// checked against the context the server reports (a load that cannot fit is refused with the numbers). A
// live progress line on stderr when it is a terminal, then a summary table (or JSON) on stdout. Ctrl-C stops
// the run early and still prints what was measured.
// Exit codes: 0 measured, 1 bad input or the endpoint unreachable (or no request succeeded), 2 usage error.

import { readFile, stat } from "node:fs/promises";
import { DEFAULT_STACK_CONFIG } from "../core/config/config";
import type { Slo } from "../core/manifest/manifest-schema";
import { type ProbeResult, probeEndpoint } from "../loadgen/endpoint-probe";
import { LATENCY_METRICS, type LatencyMetric } from "../loadgen/histogram-set";
import type { LoadPrompt } from "../loadgen/load-prompt";
import { type LoadSummary, summarizeLoad } from "../loadgen/load-summary";
import { parsePromptFile, PromptFileInvalid } from "../loadgen/prompt-file";
import type { PromptLengths } from "../loadgen/prompt-calibration";
import { type LoadOptions, type LoadProgress, runLoad } from "../loadgen/run-load";
import { type ServedContext, servedContext } from "../loadgen/served-context";
import { ServerRequests } from "../loadgen/server-requests";
import {
  contextProblems,
  LoadDoesNotFit,
  type LoadOptionNames,
  planSyntheticLoad,
} from "../loadgen/synthetic-load-plan";
import { BadInput, runCliCommand, UsageError } from "./cli-command";
import { parseCommandLine } from "./command-line";

const STRESS_DEFAULTS = DEFAULT_STACK_CONFIG.defaults.gates.stress;
const DEFAULT_DURATION_SECONDS = 60;
const MAX_PROMPT_FILE_BYTES = 256 * 1024 * 1024;

const USAGE = `Usage: modelship bench <base-url> --model <name> [--concurrency N | --rate R [--burstiness B]]
                       [--duration 60s] [--requests N] [--warmup 5s] [--json] …

Streams chat completions from an OpenAI-compatible server (<base-url>/v1/chat/completions) and reports
TTFT, ITL, TPOT, end-to-end latency and client queue time (count, mean, p50/p90/p95/p99, max), request and
token throughput, goodput and errors by class. Definitions: docs/loadgen.md.

Load:
  --concurrency N        closed loop: N requests always in flight (default ${STRESS_DEFAULTS.concurrency})
  --rate R               open loop: R requests/s on average, whatever is in flight
  --burstiness B         open loop: gamma shape of the gaps; 1 = Poisson (default), inf = evenly spaced
  --max-concurrency N    open loop: at most N in flight; later arrivals wait (counted as queue time)
  --duration D           measured time, e.g. 60s, 5m (default ${DEFAULT_DURATION_SECONDS}s unless --requests is given)
  --requests N           measured requests to send (with --duration: whichever ends first)
  --warmup D             a first period whose requests are sent but not measured (default 0s)
Requests:
  --model NAME           the served model name (required)
  --input-tokens N       synthetic prompt length in tokens as the server counts them, chat template
                         included (calibrated before the run; default ${STRESS_DEFAULTS.inputTokens})
  --input-spread F       vary prompt lengths uniformly by ±F, 0 ≤ F < 1 (default 0)
  --output-tokens N      max_tokens of every request (default ${STRESS_DEFAULTS.outputTokens})
  --ignore-eos           send ignore_eos: true (vLLM, llama.cpp) so every answer is --output-tokens long
  --prompts FILE         a JSONL prompt set ({"messages": [...]} or {"prompt": "..."} per line) instead
  --header 'K: V'        an extra request header, e.g. 'authorization: Bearer …' (repeatable)
  --timeout D            one request's limit, stream included (default 120s)
  --seed N               seeds prompts and arrival gaps (default 0)
Goodput (requests meeting every SLO given, per second; the table marks each p95 against it):
  --slo-ttft-p95 D  --slo-tpot-p95 D  --slo-e2e-p95 D      e.g. 500ms, 2s
Output:
  --json                 print {target, profile, prompts, summary, result} as JSON instead of a table
  -h, --help             show this help

Exit codes: 0 measured, 1 bad input, the endpoint unreachable or no request succeeded, 2 usage error.`;

export function run(argv: string[]): Promise<number> {
  return runCliCommand({ name: "bench", usage: USAGE, refusals: [PromptFileInvalid] }, () => bench(argv));
}

async function bench(argv: string[]): Promise<number> {
  const parsed = parseCommandLine({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      model: { type: "string" },
      concurrency: { type: "string" },
      rate: { type: "string" },
      burstiness: { type: "string" },
      "max-concurrency": { type: "string" },
      duration: { type: "string" },
      requests: { type: "string" },
      warmup: { type: "string" },
      "input-tokens": { type: "string" },
      "input-spread": { type: "string" },
      "output-tokens": { type: "string" },
      "ignore-eos": { type: "boolean", default: false },
      prompts: { type: "string" },
      header: { type: "string", multiple: true },
      timeout: { type: "string" },
      seed: { type: "string" },
      "slo-ttft-p95": { type: "string" },
      "slo-tpot-p95": { type: "string" },
      "slo-e2e-p95": { type: "string" },
      json: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const options = await loadOptionsFrom(values, positionals);

  const probe = await probeEndpoint(options.baseUrl, options.headers);
  if (!probe.reachable) {
    throw new BadInput(
      `cannot reach ${options.baseUrl}: ${probe.detail}. Is the server running, and is the URL right?`,
    );
  }
  if (probe.models && probe.models.length > 0 && !probe.models.includes(options.model)) {
    console.error(
      `⚠ the server lists ${probe.models.map((m) => `'${m}'`).join(", ")}, not '${options.model}': requests may fail with 404.`,
    );
  }

  const prepared = await prepareLengths(options, probe);
  if (prepared.lengths?.calibrated === false) {
    console.error(
      `⚠ prompt lengths are uncalibrated estimates (a word taken for a token): ${prepared.lengths.reason}.`,
    );
  }
  if (!prepared.context) {
    console.error(
      "⚠ the server reports no context size (no max_model_len in /v1/models, no /props): the profile was not checked against it.",
    );
  }

  const controller = new AbortController();
  const interrupt = () => controller.abort();
  process.once("SIGINT", interrupt);
  const live = process.stderr.isTTY && !values.json;
  let result;
  try {
    result = await runLoad({
      ...options,
      ...(prepared.lengths?.calibrated ? { promptCalibration: prepared.lengths.calibration } : {}),
      signal: controller.signal,
      ...(live
        ? { onProgress: (p: LoadProgress) => process.stderr.write(`\r\x1b[K${progressLine(p)}`) }
        : {}),
    });
  } finally {
    process.removeListener("SIGINT", interrupt);
    if (live) process.stderr.write("\r\x1b[K");
  }
  const summary = summarizeLoad(result);
  if (values.json) {
    const { baseUrl, model } = options;
    const target = { baseUrl, model, ...(prepared.context ? { context: prepared.context } : {}) };
    const prompts = prepared.lengths ?? { file: options.prompts?.length };
    console.log(JSON.stringify({ target, profile: profileOf(options), prompts, summary, result }, null, 2));
  } else {
    console.log(summaryTable(options, prepared, summary));
  }
  if (summary.requests > 0 && summary.completed === 0) {
    const onlyConnect = Object.keys(summary.errors).every((c) => c === "connect");
    console.error(
      onlyConnect
        ? `✖ every request failed to connect to ${options.baseUrl}: the endpoint is unreachable.`
        : "✖ no request succeeded; see the errors above.",
    );
    return 1;
  }
  return 0;
}

type Values = Record<string, string | boolean | string[] | undefined>;

/** The flags a refusal names. */
const FLAG_NAMES: LoadOptionNames = {
  inputTokens: "--input-tokens",
  inputTokensSpread: "--input-spread",
  outputTokens: "--output-tokens",
};

/** What the server told about the run's lengths: its context, and (synthetic prompts) their calibration. */
interface PreparedLengths {
  readonly context?: ServedContext;
  /** Absent for a prompt file: its prompts are sent as they are. */
  readonly lengths?: PromptLengths;
}

/**
 * The context the server reports and the calibration of synthetic prompts; BadInput, with the numbers, when
 * the profile cannot fit (every request would fail) or asks for prompts shorter than the server can be sent.
 */
async function prepareLengths(options: LoadOptions, probe: ProbeResult): Promise<PreparedLengths> {
  const server = new ServerRequests(options);
  try {
    if (options.prompts) {
      const context = await servedContext(probe, options.model, server);
      const problems = context
        ? contextProblems(
            { inputTokensSpread: 0, outputTokens: options.outputTokens },
            context,
            options.model,
            FLAG_NAMES,
          )
        : [];
      if (problems.length > 0) throw new LoadDoesNotFit(problems);
      return context ? { context } : {};
    }
    const load = {
      inputTokens: options.inputTokens,
      inputTokensSpread: options.inputTokensSpread ?? 0,
      outputTokens: options.outputTokens,
    };
    return await planSyntheticLoad(server, probe, options.model, load, FLAG_NAMES);
  } catch (error) {
    if (error instanceof LoadDoesNotFit) {
      throw new BadInput(
        `the load does not fit ${options.model} on ${options.baseUrl}:\n  ${error.problems.map((p) => p.message).join("\n  ")}`,
      );
    }
    throw error;
  } finally {
    await server.close();
  }
}

/** Every flag checked; usage problems are reported together. */
async function loadOptionsFrom(values: Values, positionals: readonly string[]): Promise<LoadOptions> {
  const problems: string[] = [];
  const text = (name: string) => values[name] as string | undefined;
  if (positionals.length !== 1) {
    problems.push(positionals.length === 0 ? "give the server's base URL." : "give exactly one base URL.");
  }
  const baseUrl = positionals[0] ?? "";
  if (positionals.length === 1 && !/^https?:\/\/[^/]/.test(baseUrl)) {
    problems.push(`the base URL must start with http:// or https://, not '${baseUrl}'.`);
  }
  const model = text("model");
  if (!model) problems.push("give --model, the name the server serves the model under.");
  if (text("concurrency") !== undefined && text("rate") !== undefined) {
    problems.push(
      "--concurrency runs a closed loop and --rate an open one: give one (cap --rate with --max-concurrency).",
    );
  }
  if (text("max-concurrency") !== undefined && text("rate") === undefined) {
    problems.push("--max-concurrency caps an open loop: it needs --rate.");
  }
  if (text("burstiness") !== undefined && text("rate") === undefined) {
    problems.push("--burstiness shapes an open loop's arrivals: it needs --rate.");
  }
  if (text("prompts") !== undefined && (text("input-tokens") ?? text("input-spread")) !== undefined) {
    problems.push("--prompts sends the file's prompts: --input-tokens and --input-spread do not apply.");
  }
  const number = (name: string, check: (n: number) => boolean, expected: string): number | undefined => {
    const raw = text(name);
    if (raw === undefined) return undefined;
    const n = raw === "inf" || raw === "Infinity" ? Infinity : Number(raw);
    if (raw.trim() === "" || !check(n)) {
      problems.push(`--${name} must be ${expected}, not '${raw}'.`);
      return undefined;
    }
    return n;
  };
  const whole = (n: number) => Number.isSafeInteger(n) && n > 0;
  const duration = (name: string): number | undefined => {
    const raw = text(name);
    if (raw === undefined) return undefined;
    const seconds = parseDuration(raw);
    if (seconds === undefined)
      problems.push(`--${name} must be a duration like 500ms, 30s, 5m or 1h, not '${raw}'.`);
    return seconds;
  };

  const concurrency = number("concurrency", whole, "a whole number above 0");
  const rate = number("rate", (n) => Number.isFinite(n) && n > 0, "a number of requests per second above 0");
  const burstiness = number("burstiness", (n) => n > 0, "a number above 0, or inf");
  const maxConcurrency = number("max-concurrency", whole, "a whole number above 0");
  const requests = number("requests", whole, "a whole number above 0");
  const inputTokens = number("input-tokens", whole, "a whole number above 0");
  const inputSpread = number("input-spread", (n) => n >= 0 && n < 1, "a fraction from 0 up to (not incl.) 1");
  const outputTokens = number("output-tokens", whole, "a whole number above 0");
  const seed = number("seed", (n) => Number.isSafeInteger(n) && n >= 0, "a whole number, 0 or more");
  const durationSeconds = duration("duration");
  const warmupSeconds = duration("warmup");
  const timeoutSeconds = duration("timeout");
  const slo: { ttftP95Ms?: number; tpotP95Ms?: number; e2eP95Ms?: number } = {};
  for (const [flag, key] of [
    ["slo-ttft-p95", "ttftP95Ms"],
    ["slo-tpot-p95", "tpotP95Ms"],
    ["slo-e2e-p95", "e2eP95Ms"],
  ] as const) {
    const seconds = duration(flag);
    if (seconds !== undefined) slo[key] = seconds * 1000;
  }
  if (durationSeconds === 0) problems.push("--duration must be above 0.");
  if (timeoutSeconds === 0) problems.push("--timeout must be above 0.");
  const headers: Record<string, string> = {};
  for (const header of (values["header"] as string[] | undefined) ?? []) {
    const match = /^([A-Za-z0-9!#$%&'*+.^_`|~-]+):\s*(.*)$/.exec(header);
    if (match) headers[(match[1] as string).toLowerCase()] = match[2] as string;
    else problems.push(`--header must be 'Name: value', not '${header}'.`);
  }
  if (problems.length > 0) throw new UsageError(problems.join("\n  "));

  const promptsFile = text("prompts");
  const prompts = promptsFile === undefined ? undefined : await readPrompts(promptsFile);
  return {
    baseUrl,
    model: model as string,
    headers,
    mode: rate === undefined ? "concurrency" : "rate",
    concurrency: concurrency ?? STRESS_DEFAULTS.concurrency,
    rate: rate ?? STRESS_DEFAULTS.rate,
    burstiness: burstiness ?? STRESS_DEFAULTS.burstiness,
    maxConcurrency,
    durationSeconds: durationSeconds ?? (requests === undefined ? DEFAULT_DURATION_SECONDS : undefined),
    requests,
    warmupSeconds: warmupSeconds ?? 0,
    inputTokens: inputTokens ?? STRESS_DEFAULTS.inputTokens,
    inputTokensSpread: inputSpread ?? 0,
    outputTokens: outputTokens ?? STRESS_DEFAULTS.outputTokens,
    ignoreEos: values["ignore-eos"] === true,
    ...(prompts ? { prompts } : {}),
    seed: seed ?? 0,
    requestTimeoutSeconds: timeoutSeconds ?? 120,
    slo: slo satisfies Slo,
  };
}

async function readPrompts(file: string): Promise<LoadPrompt[]> {
  const info = await stat(file).catch(() => undefined);
  if (!info?.isFile()) throw new BadInput(`--prompts ${file}: no such file.`);
  if (info.size > MAX_PROMPT_FILE_BYTES) {
    throw new BadInput(
      `--prompts ${file}: ${info.size} bytes is more than the ${MAX_PROMPT_FILE_BYTES / 1024 / 1024} MiB a prompt set may have; sample it down.`,
    );
  }
  return parsePromptFile(await readFile(file, "utf8"), file);
}

/** `500ms`, `30s`, `1.5m`, `1h` → seconds; undefined when it is not a duration with a unit. */
function parseDuration(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(text.trim());
  if (!match) return undefined;
  const scale = { ms: 0.001, s: 1, m: 60, h: 3600 }[match[2] as "ms" | "s" | "m" | "h"];
  return Number(match[1]) * scale;
}

function profileOf(o: LoadOptions) {
  return {
    mode: o.mode,
    ...(o.mode === "concurrency"
      ? { concurrency: o.concurrency }
      : {
          rate: o.rate,
          // JSON has no Infinity.
          burstiness: o.burstiness === Infinity ? "inf" : o.burstiness,
          maxConcurrency: o.maxConcurrency,
        }),
    durationSeconds: o.durationSeconds,
    requests: o.requests,
    warmupSeconds: o.warmupSeconds,
    inputTokens: o.prompts ? undefined : o.inputTokens,
    prompts: o.prompts?.length,
    outputTokens: o.outputTokens,
    ignoreEos: o.ignoreEos,
    seed: o.seed,
    slo: o.slo,
  };
}

function progressLine(p: LoadProgress): string {
  const phase = p.phase === "warmup" ? `warm-up (${p.warmupRequests} sent)` : p.phase;
  return (
    `${p.elapsedSeconds.toFixed(1).padStart(6)} s  ${phase}  ${p.completed} ok  ${p.failed} failed  ` +
    `${p.inFlight} in flight  ${p.requestsPerSecond.toFixed(1)} req/s`
  );
}

const METRIC_LABELS: Record<LatencyMetric, string> = {
  ttft: "TTFT",
  itl: "ITL",
  tpot: "TPOT",
  e2e: "E2E",
  queue: "queue",
};
const SLO_OF: Partial<Record<LatencyMetric, keyof Slo>> = {
  ttft: "ttftP95Ms",
  tpot: "tpotP95Ms",
  e2e: "e2eP95Ms",
};

function summaryTable(o: LoadOptions, prepared: PreparedLengths, s: LoadSummary): string {
  const lines: string[] = [];
  const load =
    o.mode === "concurrency"
      ? `closed loop, ${o.concurrency} in flight`
      : `open loop, ${o.rate} req/s (burstiness ${o.burstiness}${o.maxConcurrency ? `, at most ${o.maxConcurrency} in flight` : ""})`;
  const bounds = [
    o.durationSeconds !== undefined ? `${o.durationSeconds} s` : undefined,
    o.requests !== undefined ? `${o.requests} requests` : undefined,
  ].filter(Boolean);
  const spread = o.inputTokensSpread ? ` ±${o.inputTokensSpread * 100}%` : "";
  const prompts = o.prompts
    ? `${o.prompts.length} prompts from a file`
    : `prompts ${prepared.lengths?.calibrated ? "" : "≈"}${o.inputTokens} tokens${spread}`;
  lines.push(`modelship bench → ${o.baseUrl} (model ${o.model})`);
  lines.push(
    `${load} · ${bounds.join(" or ")}${o.warmupSeconds ? ` after ${o.warmupSeconds} s warm-up` : ""} · ${prompts} · ` +
      `max_tokens ${o.outputTokens}${o.ignoreEos ? " (ignore_eos)" : ""}`,
  );
  lines.push(lengthsLine(prepared));
  if (s.stoppedEarly) lines.push("stopped early: the numbers cover the requests that ended before the stop.");
  lines.push("");

  const errors = Object.entries(s.errors)
    .sort(([, a], [, b]) => b - a)
    .map(([c, n]) => `${c} ×${n}`)
    .join(", ");
  lines.push(
    `requests    ${s.requests} measured in ${s.measuredSeconds.toFixed(1)} s: ${s.completed} completed, ` +
      `${s.failed} failed (${percent(s.errorRate)})${errors ? `: ${errors}` : ""}`,
  );
  const aside = [
    s.warmupRequests ? `${s.warmupRequests} warm-up` : undefined,
    s.cancelled ? `${s.cancelled} cancelled` : undefined,
  ].filter(Boolean);
  if (aside.length > 0) lines.push(`            (not counted: ${aside.join(", ")})`);
  for (const [errorClass, detail] of Object.entries(s.errorExamples)) {
    lines.push(`            ${errorClass}: ${detail}`);
  }
  const slo = sloText(s);
  lines.push(
    `throughput  ${s.requestsPerSecond.toFixed(2)} req/s · ${s.outputTokensPerSecond.toFixed(1)} output tok/s · ` +
      `${s.inputTokensPerSecond.toFixed(1)} input tok/s · goodput ${s.goodputPerSecond.toFixed(2)} req/s${slo ? ` (${slo})` : ""}`,
  );
  if (s.completed > 0) lines.push(`tokens      ${tokenSources(s)}`);
  lines.push("");

  const anySlo = Object.keys(s.goodputSlo).length > 0;
  const header = ["", "count", "mean", "p50", "p90", "p95", "p99", "max"];
  lines.push(
    `${header.map((h, i) => (i === 0 ? h.padEnd(8) : h.padStart(9))).join("")}   (ms)${anySlo ? "  SLO on p95" : ""}`,
  );
  for (const metric of LATENCY_METRICS) {
    const stats = s.latency[metric];
    const label = METRIC_LABELS[metric].padEnd(8);
    if (!stats) {
      lines.push(`${label}${"0".padStart(9)}${"—".padStart(9)}`);
      continue;
    }
    const cells = [stats.meanMs, stats.p50Ms, stats.p90Ms, stats.p95Ms, stats.p99Ms, stats.maxMs].map((v) =>
      v.toFixed(1).padStart(9),
    );
    const sloKey = SLO_OF[metric];
    const limit = sloKey ? (s.goodputSlo as Record<string, number | undefined>)[sloKey] : undefined;
    const mark = limit === undefined ? "" : `        ≤ ${limit} ${stats.p95Ms <= limit ? "✔" : "✖"}`;
    lines.push(`${label}${String(stats.count).padStart(9)}${cells.join("")}${mark}`);
  }
  return lines.join("\n");
}

/** How the prompts' lengths were made and what the server's context is, in one line. */
function lengthsLine(prepared: PreparedLengths): string {
  const { lengths, context } = prepared;
  const served = context ? `context ${context.tokens} tokens (${context.from})` : "context not reported";
  if (!lengths) return `${served}; prompt lengths not checked`;
  if (!lengths.calibrated) return `${served}; prompt lengths are estimates (a word taken for a token)`;
  const { source, requests, check } = lengths.calibration;
  const how = source === "tokenize" ? "its /tokenize" : "the usage of one-token chat completions";
  return (
    `${served}; prompts calibrated to the server's count (${how}, ${requests} requests): ` +
    `a prompt composed to ${check.tokens} tokens counted ${check.counted}`
  );
}

function sloText(s: LoadSummary): string {
  const parts = [
    s.goodputSlo.ttftP95Ms !== undefined ? `TTFT ≤ ${s.goodputSlo.ttftP95Ms} ms` : undefined,
    s.goodputSlo.tpotP95Ms !== undefined ? `TPOT ≤ ${s.goodputSlo.tpotP95Ms} ms` : undefined,
    s.goodputSlo.e2eP95Ms !== undefined ? `E2E ≤ ${s.goodputSlo.e2eP95Ms} ms` : undefined,
  ].filter(Boolean);
  return parts.join(", ");
}

function tokenSources(s: LoadSummary): string {
  const output =
    s.outputTokensFrom.counted === 0
      ? "output from the server's usage"
      : s.outputTokensFrom.usage === 0
        ? "output counted as content chunks (the server sent no usage)"
        : `output from usage for ${s.outputTokensFrom.usage} requests, counted as content chunks for ${s.outputTokensFrom.counted}`;
  const perRequest = s.completed > 0 ? ` (${(s.inputTokens / s.completed).toFixed(1)} per request)` : "";
  const input =
    s.inputTokensFrom.estimated === 0
      ? `input from usage${perRequest}`
      : s.inputTokensFrom.usage === 0
        ? "input estimated from the prompts (no usage)"
        : `input from usage for ${s.inputTokensFrom.usage} requests, estimated for ${s.inputTokensFrom.estimated}`;
  return `${output} · ${input}`;
}

function percent(fraction: number): string {
  return `${(fraction * 100).toFixed(fraction > 0 && fraction < 0.001 ? 3 : 1)}%`;
}
