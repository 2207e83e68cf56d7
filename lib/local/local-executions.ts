// The Executions port on one machine: starts pipeline executions on the local executor, in the background,
// and keeps them by id. As on Step Functions, a name is one execution: starting the same name again (a
// duplicate delivery of the same upload) returns the execution already started and runs nothing.

import type { ExecutionInput } from "../core/rollout/rollout";
import type { Executions, StartedExecution } from "../ports";
import type { ExecutionResult, LocalExecutor, StateTransition } from "./executor";

export interface LocalExecution {
  readonly executionId: string;
  readonly name: string;
  readonly input: ExecutionInput;
  /** Settles when the execution has ended. */
  readonly result: Promise<ExecutionResult>;
  abort(): void;
  /** The state as of the last top-level Task. */
  lastState(): unknown;
  /** True once `result` has settled. */
  ended(): boolean;
}

/** Step Functions' rule for execution names: 1–80 characters, no whitespace, controls or `<>{}[]?*"#%\^|~`$&,;:/`. */
const EXECUTION_NAME = /^[^\s<>{}[\]?*"#%\\^|~`$&,;:/\p{Cc}]{1,80}$/u;

export class LocalExecutions implements Executions {
  private readonly executions = new Map<string, LocalExecution>();

  constructor(
    private readonly executor: LocalExecutor,
    private readonly onTransition?: (executionId: string, transition: StateTransition) => void,
  ) {}

  async start(name: string, input: ExecutionInput): Promise<StartedExecution> {
    if (!EXECUTION_NAME.test(name)) {
      throw new Error(
        `'${name}' is not a valid execution name: 1–80 characters, no whitespace and none of <>{}[]?*"#%\\^|~\`$&,;:/.`,
      );
    }
    const executionId = localExecutionId(name);
    if (this.executions.has(executionId)) return { executionId, alreadyStarted: true };
    const running = this.executor.run(input, {
      executionId,
      name,
      ...(this.onTransition && { onTransition: (t: StateTransition) => this.onTransition?.(executionId, t) }),
    });
    let ended = false;
    const result = running.result.finally(() => {
      ended = true;
    });
    this.executions.set(executionId, {
      executionId,
      name,
      input,
      result,
      abort: running.abort,
      lastState: running.lastState,
      ended: () => ended,
    });
    return { executionId, alreadyStarted: false };
  }

  idFor(name: string): string {
    return localExecutionId(name);
  }

  async sendTaskSuccess(token: string, output: Readonly<Record<string, unknown>>): Promise<boolean> {
    return this.executor.taskTokens.succeed(token, output);
  }

  async sendTaskFailure(token: string, error: string, cause: string): Promise<boolean> {
    return this.executor.taskTokens.fail(token, error, cause);
  }

  get(executionId: string): LocalExecution | undefined {
    return this.executions.get(executionId);
  }

  /** The executions that have not ended yet, oldest first. */
  running(): LocalExecution[] {
    return this.list().filter((execution) => !execution.ended());
  }

  /** Every execution started, oldest first. */
  list(): LocalExecution[] {
    return [...this.executions.values()];
  }
}

/** The id a local execution is known by (the executionArn in events and records). */
function localExecutionId(name: string): string {
  return `local:${name}`;
}
