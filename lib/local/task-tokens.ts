// Task tokens on one machine: what Step Functions does for a `.waitForTaskToken` Task, which the local
// interpreter (aws-local-stepfunctions 3) does not. The local executor mints a token for each attempt of such
// a Task and waits here; SendTaskSuccess / SendTaskFailure (the Executions port) settle the wait, as on AWS,
// and a token no Task waits on any more is answered "gone" (AWS: TaskDoesNotExist / TaskTimedOut).

import { randomUUID } from "node:crypto";

/** A Task failed by SendTaskFailure: the error name its Catch matches, and the cause. */
export class TaskFailedByToken extends Error {
  constructor(name: string, cause: string) {
    super(cause);
    this.name = name;
  }
}

interface Waiter {
  readonly settle: (answer: { readonly output: unknown } | { readonly error: TaskFailedByToken }) => void;
}

export class LocalTaskTokens {
  private readonly waiting = new Map<string, Waiter>();
  /** Answers that came before their Task began to wait (SendTaskSuccess while the Lambda still ran). */
  private readonly early = new Map<
    string,
    { readonly output: unknown } | { readonly error: TaskFailedByToken }
  >();
  private readonly open = new Set<string>();

  /** A new token, open from now until `close`: answers to it are kept until the Task waits for them. */
  mint(executionId: string, stateName: string): string {
    const token = `local-task-token:${executionId}:${stateName}:${randomUUID()}`;
    this.open.add(token);
    return token;
  }

  /**
   * The output SendTaskSuccess gives the token; rejects with TaskFailedByToken for SendTaskFailure, with
   * `States.Timeout` after `timeoutMs`, and with the signal's reason when it aborts. The token closes then.
   */
  wait(token: string, timeoutMs: number, signal: AbortSignal): Promise<unknown> {
    const { promise, resolve, reject } = Promise.withResolvers<unknown>();
    const finish = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      this.waiting.delete(token);
      this.open.delete(token);
    };
    const timer = setTimeout(() => {
      finish();
      reject(
        new TaskFailedByToken(
          "States.Timeout",
          `No answer to the task within its ${Math.round(timeoutMs / 1000)} s timeout.`,
        ),
      );
    }, timeoutMs);
    const onAbort = () => {
      finish();
      reject(signal.reason instanceof Error ? signal.reason : new Error("The execution was stopped."));
    };
    signal.addEventListener("abort", onAbort, { once: true });
    const settle: Waiter["settle"] = (answer) => {
      finish();
      if ("error" in answer) reject(answer.error);
      else resolve(answer.output);
    };
    const early = this.early.get(token);
    this.early.delete(token);
    if (signal.aborted) onAbort();
    else if (early) settle(early);
    else this.waiting.set(token, { settle });
    return promise;
  }

  /** Forgets a token whose Task ended without waiting (its Lambda failed). */
  close(token: string): void {
    this.open.delete(token);
    this.early.delete(token);
  }

  succeed(token: string, output: unknown): boolean {
    return this.answer(token, { output: JSON.parse(JSON.stringify(output ?? null)) as unknown });
  }

  fail(token: string, error: string, cause: string): boolean {
    return this.answer(token, { error: new TaskFailedByToken(error, cause) });
  }

  private answer(
    token: string,
    answer: { readonly output: unknown } | { readonly error: TaskFailedByToken },
  ): boolean {
    const waiter = this.waiting.get(token);
    if (waiter) {
      waiter.settle(answer);
      return true;
    }
    // As on AWS, one answer per token: a second one finds the task gone.
    if (!this.open.has(token) || this.early.has(token)) return false;
    this.early.set(token, answer);
    return true;
  }
}
