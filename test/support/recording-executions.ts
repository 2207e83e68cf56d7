// An Executions port that behaves like Step Functions where Start can tell: a name starts one execution,
// and starting the same name again returns that execution as already started. Task answers are recorded;
// a token is answered once, as Step Functions takes one answer per task.

import type { ExecutionInput } from "../../lib/core/rollout/rollout";
import type { Executions, StartedExecution } from "../../lib/ports";

export class RecordingExecutions implements Executions {
  /** Every execution actually started, in order. */
  readonly started: { readonly name: string; readonly input: ExecutionInput }[] = [];

  /** Every task answer that landed, in order. */
  readonly answers: (
    | { readonly token: string; readonly output: Readonly<Record<string, unknown>> }
    | { readonly token: string; readonly error: string; readonly cause: string }
  )[] = [];

  async sendTaskSuccess(token: string, output: Readonly<Record<string, unknown>>): Promise<boolean> {
    if (this.answers.some((a) => a.token === token)) return false;
    this.answers.push({ token, output: structuredClone(output) });
    return true;
  }

  async sendTaskFailure(token: string, error: string, cause: string): Promise<boolean> {
    if (this.answers.some((a) => a.token === token)) return false;
    this.answers.push({ token, error, cause });
    return true;
  }

  idFor(name: string): string {
    return `arn:aws:states:eu-west-1:123456789012:execution:modelship-pipeline:${name}`;
  }

  async start(name: string, input: ExecutionInput): Promise<StartedExecution> {
    const executionId = this.idFor(name);
    if (this.started.some((s) => s.name === name)) return { executionId, alreadyStarted: true };
    this.started.push({ name, input: structuredClone(input) });
    return { executionId, alreadyStarted: false };
  }
}
