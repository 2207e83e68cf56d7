// How long to wait before retrying an item: exponential backoff with jitter, so that concurrent items
// that hit the same 429 or restart do not retry in lock-step, and never longer than a cap — or than what
// the server's Retry-After asks for, within the same cap.

export interface RetryPolicy {
  /** Attempts per item, the first included. */
  readonly attempts: number;
  /** The backoff before the first retry; doubled for each next one. */
  readonly baseDelayMs: number;
  /** No pause is longer than this, whatever the backoff or Retry-After say. */
  readonly maxDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { attempts: 4, baseDelayMs: 1000, maxDelayMs: 30_000 };

/**
 * The pause after failed attempt number `attempt` (1-based): "equal jitter" — half the exponential step
 * fixed, half random — so the pause grows for sure but concurrent retries spread out.
 */
export function retryDelayMs(
  attempt: number,
  policy: RetryPolicy,
  retryAfterMs: number | undefined,
  random: () => number = Math.random,
): number {
  const step = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  const backoff = step / 2 + random() * (step / 2);
  return Math.min(policy.maxDelayMs, Math.max(backoff, retryAfterMs ?? 0));
}
