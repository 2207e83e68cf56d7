// Tells a passing AWS failure (throttling, a 5xx, a timeout, a dropped connection) from a real one, and
// turns the passing kind into the `Transient` error the state machine retries with backoff. The SDK has
// already retried a few times by the time an error reaches us; Step Functions retries for longer.

import { Transient } from "../core/errors";

const TRANSIENT_ERROR_NAMES = new Set([
  "Throttling",
  "ThrottlingException",
  "ThrottledException",
  "TooManyRequestsException",
  "ProvisionedThroughputExceededException",
  "RequestLimitExceeded",
  "TransactionConflictException",
  "SlowDown",
  "RequestTimeout",
  "RequestTimeoutException",
  "TimeoutError",
  "InternalError",
  "InternalFailure",
  "InternalServerError",
  "InternalServerException",
  "ServiceUnavailable",
  "ServiceUnavailableException",
]);

const TRANSIENT_NETWORK_CODES = new Set(["ECONNRESET", "ECONNREFUSED", "ETIMEDOUT", "EPIPE", "EAI_AGAIN"]);

/** Why a DynamoDB transaction item was cancelled, when trying again later may succeed. */
const TRANSIENT_CANCELLATION_CODES = new Set([
  "ThrottlingError",
  "TransactionConflict",
  "ProvisionedThroughputExceeded",
]);

/** True for throttling, server-side (5xx) and network/timeout failures: retrying later may succeed. */
export function isTransientAwsError(error: unknown): boolean {
  if (!error || typeof error !== "object") return false;
  const { name, code, $metadata, $retryable, CancellationReasons } = error as {
    name?: unknown;
    code?: unknown;
    $metadata?: { httpStatusCode?: unknown };
    $retryable?: unknown;
    CancellationReasons?: readonly { Code?: string }[];
  };
  if (typeof name === "string" && TRANSIENT_ERROR_NAMES.has(name)) return true;
  if (name === "TransactionCanceledException") {
    return (CancellationReasons ?? []).some((r) => TRANSIENT_CANCELLATION_CODES.has(r.Code ?? ""));
  }
  if (typeof code === "string" && TRANSIENT_NETWORK_CODES.has(code)) return true;
  if ($retryable) return true;
  const status = $metadata?.httpStatusCode;
  return typeof status === "number" && (status === 429 || status >= 500);
}

/** A transient failure becomes `Transient` (with the original as its cause); anything else is returned as is. */
export function asTransientWhenPassing(error: unknown, operation: string): unknown {
  if (!isTransientAwsError(error)) return error;
  const { name, message } = error as { name?: unknown; message?: unknown };
  return new Transient(`${operation} failed with ${String(name)}: ${String(message)}`, {
    hint: "A passing AWS failure (throttling, a server error or a timeout); the state machine retries it. If it persists, check the service's health and your account's quotas.",
    cause: error,
  });
}
