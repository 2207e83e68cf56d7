// Calls one URL hook: POSTs the request body, signed with HMAC-SHA256 under the stack's key, and answers the
// text of a 2xx answer. Bounded every way: the hook's whole time (its retries included) is one deadline, a
// connection error, a 429 or a 5xx is retried with a doubling pause while time is left, an answer larger
// than MAX_HOOK_ANSWER_BYTES is cut off and refused, and redirects are not followed (a redirect could send
// the rollout's details somewhere the manifest did not name, or over plain http).

import { createHmac } from "node:crypto";
import { HOOK_SIGNATURE_HEADER, MAX_HOOK_ANSWER_BYTES } from "../core/gates/hooks";

export interface UrlHookCall {
  readonly url: string;
  /** The JSON request; the signature is over exactly these bytes. */
  readonly body: string;
  /** The HMAC-SHA256 key. */
  readonly key: string;
  /** The hook's whole time, retries included. */
  readonly timeoutMs: number;
  /** Attempts in all (default 3). */
  readonly attempts?: number;
  /** The pause before the first retry, doubled for each next one (default 1 s). */
  readonly retryDelayMs?: number;
  /** Stops the call at once (the execution was stopped). */
  readonly signal?: AbortSignal;
  /** Told of each request made, for the run's record of its attempts. */
  readonly onAttempt?: () => void;
}

/** The value of the `x-modelship-signature` header for `body`: `sha256=<hex>`. */
export function hookSignature(body: string, key: string): string {
  return `sha256=${createHmac("sha256", key).update(body, "utf8").digest("hex")}`;
}

/** The text of the hook's 2xx answer; throws an Error whose message says what went wrong, for the verdict. */
export async function callUrlHook(call: UrlHookCall): Promise<string> {
  const deadline = Date.now() + call.timeoutMs;
  const attempts = call.attempts ?? 3;
  let pauseMs = call.retryDelayMs ?? 1000;
  const headers = {
    "content-type": "application/json",
    "user-agent": "modelship-hook",
    [HOOK_SIGNATURE_HEADER]: hookSignature(call.body, call.key),
  };
  let problem = "was not called";
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const left = deadline - Date.now();
    if (left <= 0) break;
    const signals = [AbortSignal.timeout(left), ...(call.signal ? [call.signal] : [])];
    call.onAttempt?.();
    try {
      const response = await fetch(call.url, {
        method: "POST",
        headers,
        body: call.body,
        redirect: "manual",
        signal: AbortSignal.any(signals),
      });
      if (response.status >= 200 && response.status < 300) return await boundedText(response);
      await response.body?.cancel();
      problem = `answered HTTP ${response.status}`;
      if (response.status >= 300 && response.status < 400) {
        throw new HookAnswerRefused(`${problem}, a redirect, which is not followed`);
      }
      if (response.status !== 429 && response.status < 500) throw new HookAnswerRefused(problem);
    } catch (error) {
      if (error instanceof HookAnswerRefused) throw new Error(error.message, { cause: error });
      if (call.signal?.aborted) throw error;
      problem =
        Date.now() >= deadline ? `did not answer within ${call.timeoutMs / 1000} s` : reachProblem(error);
    }
    const pause = Math.min(pauseMs, deadline - Date.now());
    if (attempt === attempts || pause <= 0) break;
    await new Promise((resolve) => setTimeout(resolve, pause));
    pauseMs *= 2;
  }
  throw new Error(
    `${problem} (${attempts} attempt${attempts === 1 ? "" : "s"} within ${call.timeoutMs / 1000} s)`,
  );
}

class HookAnswerRefused extends Error {}

async function boundedText(response: Response): Promise<string> {
  const declared = Number(response.headers.get("content-length") ?? "0");
  if (declared > MAX_HOOK_ANSWER_BYTES) {
    await response.body?.cancel();
    throw new HookAnswerRefused(tooLarge());
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (response.body) {
    for await (const chunk of response.body) {
      size += chunk.byteLength;
      if (size > MAX_HOOK_ANSWER_BYTES) {
        await response.body.cancel().catch(() => undefined);
        throw new HookAnswerRefused(tooLarge());
      }
      chunks.push(chunk);
    }
  }
  return Buffer.concat(chunks).toString("utf8");
}

function tooLarge(): string {
  return `answered more than ${MAX_HOOK_ANSWER_BYTES / 1024} KiB; a hook answers {"pass": …, "reason": …}`;
}

function reachProblem(error: unknown): string {
  const cause = error instanceof Error && error.cause instanceof Error ? `: ${error.cause.message}` : "";
  return `could not be reached (${error instanceof Error ? error.message : String(error)}${cause})`;
}
