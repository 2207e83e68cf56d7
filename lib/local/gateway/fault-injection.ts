// Fault injection per model and variant, like Istio's HTTPFaultInjection: a `delay` holds a share of the
// requests for a fixed time before they are forwarded, an `abort` answers a share of them with an HTTP
// status without reaching the server. When both are set, the delay comes first (as in Envoy's fault filter).
// A `serverDelay` is passed on to the model's server with the request (SERVER_DELAY_HEADER): modelship's
// llama.cpp server holds a request whose prompt has at least `minPromptTokens` tokens that long before it
// joins the generation queue — slow long prompts, in the server's own metrics, which the real-traffic
// alarms read; the prober's short chats are not held. Used to prove that the canary's alarms see a slow or
// failing candidate and roll it back.

import type { Endpoint } from "../../ports";

interface DelayFault {
  /** Milliseconds added before the request is forwarded. */
  readonly fixedDelayMs: number;
  /** Share of the requests delayed, 0–100. */
  readonly percentage: number;
}

interface AbortFault {
  /** The status the aborted requests get (400–599). */
  readonly httpStatus: number;
  /** Share of the requests aborted, 0–100. */
  readonly percentage: number;
}

interface ServerDelayFault {
  /** Milliseconds the server holds a request with a long prompt before its turn. */
  readonly fixedDelayMs: number;
  /** Prompts of at least this many tokens (as the server counts them) are held. */
  readonly minPromptTokens: number;
  /** Share of the requests it is passed on with, 0–100. */
  readonly percentage: number;
}

export interface Fault {
  readonly delay?: DelayFault;
  readonly abort?: AbortFault;
  readonly serverDelay?: ServerDelayFault;
}

/** The request header that carries a server delay to the model's server: `delayMs=<ms>;minPromptTokens=<n>`. */
export const SERVER_DELAY_HEADER = "x-modelship-fault-server-delay";

/**
 * What to do to one request: wait this long first (0: no delay), then abort with a status or forward it,
 * with a delay for the server to apply.
 */
interface FaultDecision {
  readonly delayMs: number;
  readonly abortStatus?: number;
  readonly serverDelay?: { readonly delayMs: number; readonly minPromptTokens: number };
}

/**
 * The endpoint with the server delay's header added, when the decision has one: the server holds the request
 * itself (a slow prefill), so its own metrics see the delay.
 */
export function withServerDelay(endpoint: Endpoint, serverDelay: FaultDecision["serverDelay"]): Endpoint {
  if (!serverDelay) return endpoint;
  const { delayMs, minPromptTokens } = serverDelay;
  return {
    ...endpoint,
    headers: {
      ...endpoint.headers,
      [SERVER_DELAY_HEADER]: `delayMs=${delayMs};minPromptTokens=${minPromptTokens}`,
    },
  };
}

/** A day: a longer delay is a typo, and would hold a connection for good. */
const MAX_DELAY_MS = 86_400_000;

/** Draws whether each of the fault's parts applies to one request; `random` is uniform in [0, 1). */
export function decideFault(fault: Fault | undefined, random: () => number): FaultDecision {
  const delayed = fault?.delay && random() * 100 < fault.delay.percentage;
  const aborted = fault?.abort && random() * 100 < fault.abort.percentage;
  const serverDelay = fault?.serverDelay;
  const held = serverDelay && random() * 100 < serverDelay.percentage;
  return {
    delayMs: delayed ? (fault.delay?.fixedDelayMs ?? 0) : 0,
    ...(aborted ? { abortStatus: fault.abort?.httpStatus } : {}),
    ...(held && serverDelay
      ? { serverDelay: { delayMs: serverDelay.fixedDelayMs, minPromptTokens: serverDelay.minPromptTokens } }
      : {}),
  };
}

/** A fault from untrusted JSON (the admin API, the state file), or every problem with it. */
export function parseFault(value: unknown): { fault: Fault } | { problems: string[] } {
  if (!isObject(value)) return { problems: ['expected a JSON object like {"delay": {...}, "abort": {...}}'] };
  const problems: string[] = [];
  for (const key of Object.keys(value)) {
    if (key !== "delay" && key !== "abort" && key !== "serverDelay")
      problems.push(`unknown field '${key}': a fault has delay, abort and serverDelay`);
  }
  if (value["delay"] === undefined && value["abort"] === undefined && value["serverDelay"] === undefined) {
    problems.push("a fault needs a delay, an abort or a serverDelay; to clear a fault, delete it instead");
  }
  const delay = value["delay"] === undefined ? undefined : parsePart(value["delay"], "delay", problems);
  const abort = value["abort"] === undefined ? undefined : parsePart(value["abort"], "abort", problems);
  const server =
    value["serverDelay"] === undefined ? undefined : parsePart(value["serverDelay"], "serverDelay", problems);
  if (problems.length > 0) return { problems };
  return {
    fault: {
      ...(delay ? { delay: { fixedDelayMs: delay.amount, percentage: delay.percentage } } : {}),
      ...(abort ? { abort: { httpStatus: abort.amount, percentage: abort.percentage } } : {}),
      ...(server
        ? {
            serverDelay: {
              fixedDelayMs: server.amount,
              minPromptTokens: server.minPromptTokens ?? 0,
              percentage: server.percentage,
            },
          }
        : {}),
    },
  };
}

/** A sentence: `delay 800 ms on 50% of requests, abort with 503 on 10%`. */
export function describeFault(fault: Fault | undefined): string {
  if (!fault || (!fault.delay && !fault.abort && !fault.serverDelay)) return "no fault";
  const parts: string[] = [];
  if (fault.delay) {
    parts.push(`delay ${fault.delay.fixedDelayMs} ms on ${fault.delay.percentage}% of requests`);
  }
  if (fault.abort)
    parts.push(`abort with ${fault.abort.httpStatus} on ${fault.abort.percentage}% of requests`);
  if (fault.serverDelay) {
    const { fixedDelayMs, minPromptTokens, percentage } = fault.serverDelay;
    parts.push(
      `server delay ${fixedDelayMs} ms on prompts of ${minPromptTokens}+ tokens, ${percentage}% of requests`,
    );
  }
  return parts.join(", ");
}

const PARTS = {
  delay: { amount: "fixedDelayMs", min: 0, max: MAX_DELAY_MS, integer: false, what: "milliseconds" },
  abort: { amount: "httpStatus", min: 400, max: 599, integer: true, what: "an HTTP error status" },
  serverDelay: {
    amount: "fixedDelayMs",
    min: 0,
    max: MAX_DELAY_MS,
    integer: true,
    what: "whole milliseconds",
  },
} as const;

/** Prompts longer than this do not fit any model's context: a typo, not a threshold. */
const MAX_PROMPT_TOKENS = 10_000_000;

function parsePart(
  value: unknown,
  part: keyof typeof PARTS,
  problems: string[],
): { amount: number; percentage: number; minPromptTokens?: number } | undefined {
  const rule = PARTS[part];
  const fields =
    part === "serverDelay" ? [rule.amount, "minPromptTokens", "percentage"] : [rule.amount, "percentage"];
  if (!isObject(value)) {
    problems.push(`${part}: expected an object like {${fields.map((f) => `"${f}": …`).join(", ")}}`);
    return undefined;
  }
  const before = problems.length;
  for (const key of Object.keys(value)) {
    if (!fields.includes(key)) {
      problems.push(`${part}: unknown field '${key}': expected ${fields.join(", ")}`);
    }
  }
  let minPromptTokens: number | undefined;
  if (part === "serverDelay") {
    const tokens = value["minPromptTokens"];
    if (typeof tokens !== "number" || !Number.isInteger(tokens) || tokens < 0 || tokens > MAX_PROMPT_TOKENS) {
      problems.push(
        `serverDelay.minPromptTokens: expected a whole number of tokens from 0 to ${MAX_PROMPT_TOKENS}, got ${JSON.stringify(tokens)}`,
      );
    } else {
      minPromptTokens = tokens;
    }
  }
  const amount = value[rule.amount];
  if (
    typeof amount !== "number" ||
    !Number.isFinite(amount) ||
    amount < rule.min ||
    amount > rule.max ||
    (rule.integer && !Number.isInteger(amount))
  ) {
    problems.push(
      `${part}.${rule.amount}: expected ${rule.what} from ${rule.min} to ${rule.max}, got ${JSON.stringify(amount)}`,
    );
  }
  const percentage = value["percentage"] ?? 100;
  if (typeof percentage !== "number" || !(percentage >= 0 && percentage <= 100)) {
    problems.push(`${part}.percentage: expected a number from 0 to 100, got ${JSON.stringify(percentage)}`);
  }
  if (problems.length > before) return undefined;
  return {
    amount: amount as number,
    percentage: percentage as number,
    ...(minPromptTokens === undefined ? {} : { minPromptTokens }),
  };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return !!value && typeof value === "object" && !Array.isArray(value);
}
