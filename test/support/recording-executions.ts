// An Executions port that behaves like Step Functions where Start can tell: a name starts one execution,
// and starting the same name again returns that execution as already started.

import type { ExecutionInput } from "../../lib/core/rollout";
import type { Executions, StartedExecution } from "../../lib/ports";

export class RecordingExecutions implements Executions {
  /** Every execution actually started, in order. */
  readonly started: { readonly name: string; readonly input: ExecutionInput }[] = [];

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
