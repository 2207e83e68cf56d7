// What one request of a load run measured: its timings, its token counts and where they came from, or the
// class of error that ended it. The vocabulary every other part of the load generator speaks.

/**
 * Why a request failed:
 * - `http_<status>`: the server answered a status other than 200;
 * - `timeout`: no complete answer within the per-request timeout;
 * - `broken_stream`: a 200 whose stream went wrong: the connection closed early, an event was not JSON or
 *   carried an error, or the stream ended without `data: [DONE]`;
 * - `connect`: no answer at all: the connection was refused, failed or closed before a status line.
 */
export type ErrorClass = `http_${number}` | "timeout" | "broken_stream" | "connect";

/** `usage`: the server's `usage` chunk; `counted`: content chunks counted; `estimated`: from the prompt's text. */
type OutputTokenSource = "usage" | "counted";
type InputTokenSource = "usage" | "estimated";

interface RecordBase {
  /** When the schedule wanted it sent, in ms since the run began. */
  readonly scheduledAtMs: number;
  /** Client queue time: from the scheduled start to the request going out (a busy slot, a late timer). */
  readonly queueMs: number;
  /** When it ended, in ms since the run began. */
  readonly endedAtMs: number;
  /** Sent during the warm-up: not part of the results. */
  readonly warmup: boolean;
}

export interface CompletedRequest extends RecordBase {
  readonly ok: true;
  /** From sending to the first chunk with non-empty content or reasoning; undefined when none came. */
  readonly ttftMs: number | undefined;
  /** Gaps between consecutive content chunks. */
  readonly itlMs: readonly number[];
  /** (E2E − TTFT) / (output tokens − 1); undefined for fewer than 2 output tokens. */
  readonly tpotMs: number | undefined;
  /** From sending to the end of the stream. */
  readonly e2eMs: number;
  readonly inputTokens: number;
  readonly inputTokensFrom: InputTokenSource;
  readonly outputTokens: number;
  readonly outputTokensFrom: OutputTokenSource;
}

export interface FailedRequest extends RecordBase {
  readonly ok: false;
  readonly error: ErrorClass;
  /** What happened, for a person: the server's error message, the socket error, the missing [DONE]. */
  readonly detail: string;
}

export type RequestRecord = CompletedRequest | FailedRequest;
