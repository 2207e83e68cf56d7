// Rollout hooks (`gates.hooks`): the user's own checks at four points of a rollout — before any traffic
// (preTraffic), after each canary step's bake (eachStep), before promotion (prePromote) and after it, while the
// previous stable is still warm (postPromote). This file resolves a manifest's hooks against the stack config
// — a function hook must be on the stack's allow-list, so write access to the bucket never means choosing code
// to run — and defines what a hook is sent and must answer. The RunHooks stage (lib/pipeline/run-hooks.ts)
// calls them.

import type { StackConfig } from "../config/config";
import type { Finding } from "../findings";
import { ruleFinding, type FindingSource } from "../schema-findings";
import {
  DEFAULT_HOOK_TIMEOUT_SECONDS,
  HOOK_POINTS,
  type HookInput,
  type HookPoint,
  type ResolvedHook,
} from "../manifest/manifest-schema";

/** A hook's own default time, its retries included. */

/**
 * The hooks of one point run one after another inside one RunHooks Task, whose TimeoutSeconds is 900 (a
 * Lambda function's longest run); their timeouts together stay under it, with a minute for the rest.
 */
export const MAX_HOOK_POINT_SECONDS = 840;
/** A hook's answer is a verdict and a sentence; a bigger one is not read into memory. */
export const MAX_HOOK_ANSWER_BYTES = 64 * 1024;
/** The reason a hook gives is clipped to this many characters in events and the execution's state. */
export const MAX_HOOK_REASON_CHARS = 500;
/** The header carrying a URL hook's signature: `sha256=<hex HMAC-SHA256 of the body under the stack's key>`. */
export const HOOK_SIGNATURE_HEADER = "x-modelship-signature";

/**
 * One hook's run as the rollout's history keeps it (a transition's `hook`), for `modelship status` and the
 * report: `failed` stopped the rollout (onFailure: rollback), `ignored` failed and let it go on.
 */
export interface HookRun {
  readonly name: string;
  readonly at: HookPoint;
  readonly result: "passed" | "failed" | "ignored";
  /** The hook's own sentence, or why it failed (clipped to MAX_HOOK_REASON_CHARS). */
  readonly reason: string;
  /** From the first call to the verdict, retries included. */
  readonly durationMs: number;
  /** Calls made: a URL hook retries a connection error, a 429 or a 5xx; a function is called once. */
  readonly attempts: number;
  /** At `eachStep`: the canary step whose bake it followed. */
  readonly step?: number;
}

/** `regression (eachStep, step 2): passed in 1.4 s, 1 attempt: 12 of 12 prompts answered` */
export function describeHookRun(run: HookRun): string {
  const where = run.step === undefined ? run.at : `${run.at}, step ${run.step}`;
  const seconds = Math.round(run.durationMs / 100) / 10;
  const result = run.result === "ignored" ? "failed (ignored: onFailure ignore)" : run.result;
  const attempts = `${run.attempts} attempt${run.attempts === 1 ? "" : "s"}`;
  return `${run.name} (${where}): ${result} in ${seconds} s, ${attempts}: ${run.reason}`;
}

/** What every hook is sent (as JSON): the rollout, where traffic stands, and how to reach the candidate. */
export interface HookRequest {
  readonly hook: string;
  readonly at: HookPoint;
  readonly rolloutId: string;
  readonly model: string;
  readonly version: string;
  /** The version serving before this rollout; absent for a first release. */
  readonly stableVersion?: string;
  /** Percent of the model's traffic each variant gets at this point. */
  readonly weights: { readonly stable: number; readonly candidate: number };
  /** Where the rollout's reports are (`s3://…/reports/<model>/<version>/<rolloutId>/`, or a folder locally). */
  readonly reports: string;
  /** How to send the candidate test requests through the gateway, whatever the weights. */
  readonly candidate: {
    /** The gateway's OpenAI-compatible base URL; absent when the stack config names none. */
    readonly baseUrl?: string;
    /** Headers that route a request to the candidate: `x-modelship-variant: candidate` and the model header. */
    readonly headers: Readonly<Record<string, string>>;
    /** The name to put in requests' `model` field. */
    readonly model: string;
  };
  /** ISO time the request was made: a receiver may refuse old ones. */
  readonly sentAt: string;
}

/** A hook's verdict. */
export interface HookVerdict {
  readonly pass: boolean;
  readonly reason: string;
}

/** The manifest's hooks with their defaults, and every finding about them. */
export function resolveHooks(
  input: readonly HookInput[],
  config: Pick<StackConfig, "hooks">,
  source: FindingSource,
): { hooks: ResolvedHook[]; findings: Finding[] } {
  const findings: Finding[] = [];
  const hooks: ResolvedHook[] = [];
  const seen = new Set<string>();
  input.forEach((hook, i) => {
    const path = `gates.hooks[${i}]`;
    if (seen.has(hook.name)) {
      findings.push(
        ruleFinding(
          source,
          "hook-duplicate",
          `${path}.name`,
          `hook '${hook.name}' is listed more than once.`,
        ),
      );
    }
    seen.add(hook.name);
    const target = hookTarget(hook, config, path, source, findings);
    if (target) {
      hooks.push({
        name: hook.name,
        at: hook.at,
        target,
        timeoutSeconds: hook.timeoutSeconds ?? DEFAULT_HOOK_TIMEOUT_SECONDS,
        onFailure: hook.onFailure ?? "rollback",
      });
    }
  });
  for (const at of HOOK_POINTS) {
    const atPoint = hooks.filter((hook) => hook.at === at);
    const total = atPoint.reduce((sum, hook) => sum + hook.timeoutSeconds, 0);
    if (total > MAX_HOOK_POINT_SECONDS) {
      findings.push(
        ruleFinding(
          source,
          "hook-time",
          "gates.hooks",
          `the hooks at ${at} (${atPoint.map((hook) => hook.name).join(", ")}) may take ${total} s together; one point's hooks run in one task of at most ${MAX_HOOK_POINT_SECONDS} s.`,
          "Lower their timeoutSeconds, or move some to another point.",
        ),
      );
    }
  }
  return { hooks, findings };
}

function hookTarget(
  hook: HookInput,
  config: Pick<StackConfig, "hooks">,
  path: string,
  source: FindingSource,
  findings: Finding[],
): ResolvedHook["target"] | undefined {
  if ((hook.lambda === undefined) === (hook.url === undefined)) {
    findings.push(
      ruleFinding(
        source,
        "hook-target",
        path,
        `hook '${hook.name}' needs exactly one of 'lambda' (an allow-listed function) or 'url' (an HTTPS endpoint).`,
        "Write lambda: <function name> or url: https://….",
      ),
    );
    return undefined;
  }
  if (hook.lambda !== undefined) {
    const allowed = config.hooks.functions.map((fn) => fn.name);
    if (!allowed.includes(hook.lambda)) {
      findings.push(
        ruleFinding(
          source,
          "hook-function-not-allowed",
          `${path}.lambda`,
          `hook '${hook.name}' names function '${hook.lambda}', which is not on the stack's allow-list (${allowed.length > 0 ? allowed.join(", ") : "none"}).`,
          "Use a function the stack allows, or ask the platform team to add it (ModelPipeline allowedHookFunctions; locally hooks.functions in config.json).",
        ),
      );
      return undefined;
    }
    return { kind: "function", name: hook.lambda };
  }
  const url = hook.url as string;
  const problem = urlProblem(url, config);
  if (problem) {
    findings.push(
      ruleFinding(source, "hook-url", `${path}.url`, `hook '${hook.name}': ${problem.message}`, problem.hint),
    );
    return undefined;
  }
  return { kind: "url", url };
}

function urlProblem(
  url: string,
  config: Pick<StackConfig, "hooks">,
): { message: string; hint: string } | undefined {
  if (!config.hooks.urlHooks) {
    return {
      message: "this stack takes no URL hooks: it has no key to sign their requests with.",
      hint: "Use an allow-listed function hook, or ask the platform team to set ModelPipeline hookSigningSecret.",
    };
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return {
      message: `'${url}' is not a URL.`,
      hint: "Write an absolute URL, e.g. https://hooks.example.com/check.",
    };
  }
  if (parsed.username !== "" || parsed.password !== "") {
    return {
      message: "the URL carries credentials; the request is signed instead.",
      hint: `Remove the user and password, and verify the ${HOOK_SIGNATURE_HEADER} header in the receiver.`,
    };
  }
  if (parsed.protocol === "https:") return undefined;
  if (parsed.protocol === "http:" && config.hooks.loopbackHttp && isLoopback(parsed.hostname))
    return undefined;
  return {
    message: `'${url}' is not HTTPS${config.hooks.loopbackHttp ? " (plain http only to 127.0.0.1, ::1 or localhost)" : ""}.`,
    hint: "Serve the hook over HTTPS: the request carries the rollout and is signed, its answer decides the rollout.",
  };
}

function isLoopback(hostname: string): boolean {
  return (
    hostname === "localhost" || hostname === "[::1]" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname)
  );
}

/** The names of the hooks at each point that has any: the plan the state machine's Choices read. */
export function hooksByPoint(hooks: readonly ResolvedHook[]): Partial<Record<HookPoint, string[]>> {
  const byPoint: Partial<Record<HookPoint, string[]>> = {};
  for (const hook of hooks) (byPoint[hook.at] ??= []).push(hook.name);
  return byPoint;
}

/**
 * A hook's answer text as a verdict: a JSON object with a boolean `pass` and an optional string `reason`.
 * Anything else is a failure saying what came back — a hook that cannot say "pass" has not passed.
 */
export function parseHookAnswer(text: string): HookVerdict {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return {
      pass: false,
      reason: `answered ${describeText(text)}, not JSON {"pass": true|false, "reason": "…"}`,
    };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return {
      pass: false,
      reason: `answered ${describeText(text)}, not a JSON object {"pass": …, "reason": …}`,
    };
  }
  const { pass, reason } = value as Record<string, unknown>;
  if (typeof pass !== "boolean") {
    return { pass: false, reason: `answered without a boolean "pass": ${describeText(text)}` };
  }
  const said =
    typeof reason === "string" && reason.trim() !== "" ? reason.trim() : pass ? "passed" : "failed";
  return { pass, reason: clipReason(said) };
}

/** A reason cut to MAX_HOOK_REASON_CHARS. */
export function clipReason(reason: string): string {
  return reason.length <= MAX_HOOK_REASON_CHARS ? reason : `${reason.slice(0, MAX_HOOK_REASON_CHARS - 1)}…`;
}

function describeText(text: string): string {
  const trimmed = text.trim();
  if (trimmed === "") return "nothing";
  return JSON.stringify(trimmed.length > 120 ? `${trimmed.slice(0, 119)}…` : trimmed);
}
