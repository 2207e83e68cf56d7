// Fault injection per model and variant, like Istio's HTTPFaultInjection: a `delay` holds a share of the
// requests for a fixed time before they are forwarded, an `abort` answers a share of them with an HTTP
// status without reaching the server. When both are set, the delay comes first (as in Envoy's fault filter).
// Used to prove that the canary's alarms see a slow or failing candidate and roll it back.

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

export interface Fault {
  readonly delay?: DelayFault;
  readonly abort?: AbortFault;
}

/** What to do to one request: wait this long first (0: no delay), then abort with a status or forward it. */
interface FaultDecision {
  readonly delayMs: number;
  readonly abortStatus?: number;
}

/** A day: a longer delay is a typo, and would hold a connection for good. */
const MAX_DELAY_MS = 86_400_000;

/** Draws whether each of the fault's parts applies to one request; `random` is uniform in [0, 1). */
export function decideFault(fault: Fault | undefined, random: () => number): FaultDecision {
  const delayed = fault?.delay && random() * 100 < fault.delay.percentage;
  const aborted = fault?.abort && random() * 100 < fault.abort.percentage;
  return {
    delayMs: delayed ? (fault.delay?.fixedDelayMs ?? 0) : 0,
    ...(aborted ? { abortStatus: fault.abort?.httpStatus } : {}),
  };
}

/** A fault from untrusted JSON (the admin API, the state file), or every problem with it. */
export function parseFault(value: unknown): { fault: Fault } | { problems: string[] } {
  if (!isObject(value)) return { problems: ['expected a JSON object like {"delay": {...}, "abort": {...}}'] };
  const problems: string[] = [];
  for (const key of Object.keys(value)) {
    if (key !== "delay" && key !== "abort")
      problems.push(`unknown field '${key}': a fault has delay and abort`);
  }
  if (value["delay"] === undefined && value["abort"] === undefined) {
    problems.push("a fault needs a delay, an abort or both; to clear a fault, delete it instead");
  }
  const delay = value["delay"] === undefined ? undefined : parsePart(value["delay"], "delay", problems);
  const abort = value["abort"] === undefined ? undefined : parsePart(value["abort"], "abort", problems);
  if (problems.length > 0) return { problems };
  return {
    fault: {
      ...(delay ? { delay: { fixedDelayMs: delay.amount, percentage: delay.percentage } } : {}),
      ...(abort ? { abort: { httpStatus: abort.amount, percentage: abort.percentage } } : {}),
    },
  };
}

/** A sentence: `delay 800 ms on 50% of requests, abort with 503 on 10%`. */
export function describeFault(fault: Fault | undefined): string {
  if (!fault || (!fault.delay && !fault.abort)) return "no fault";
  const parts: string[] = [];
  if (fault.delay) {
    parts.push(`delay ${fault.delay.fixedDelayMs} ms on ${fault.delay.percentage}% of requests`);
  }
  if (fault.abort)
    parts.push(`abort with ${fault.abort.httpStatus} on ${fault.abort.percentage}% of requests`);
  return parts.join(", ");
}

const PARTS = {
  delay: { amount: "fixedDelayMs", min: 0, max: MAX_DELAY_MS, integer: false, what: "milliseconds" },
  abort: { amount: "httpStatus", min: 400, max: 599, integer: true, what: "an HTTP error status" },
} as const;

function parsePart(
  value: unknown,
  part: keyof typeof PARTS,
  problems: string[],
): { amount: number; percentage: number } | undefined {
  const rule = PARTS[part];
  if (!isObject(value)) {
    problems.push(`${part}: expected an object like {"${rule.amount}": …, "percentage": 0–100}`);
    return undefined;
  }
  const before = problems.length;
  for (const key of Object.keys(value)) {
    if (key !== rule.amount && key !== "percentage") {
      problems.push(`${part}: unknown field '${key}': expected ${rule.amount} and percentage`);
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
  return { amount: amount as number, percentage: percentage as number };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return !!value && typeof value === "object" && !Array.isArray(value);
}
