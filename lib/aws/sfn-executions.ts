// The Executions port on AWS Step Functions: StartExecution under the rollout's readable, deterministic
// name, so a duplicate delivery of the same upload is the same execution, not a second rollout.
//
// Step Functions tells a repeat apart in two ways. A closed execution of that name, or a running one with
// a different input, answers `ExecutionAlreadyExists`. A running one with the same input answers success
// with the ORIGINAL execution's ARN and startDate — the response has no flag for it — so a startDate
// earlier than our call (by more than the clock tolerance below) means the execution already existed.

import {
  SendTaskFailureCommand,
  SendTaskSuccessCommand,
  SFNClient,
  StartExecutionCommand,
} from "@aws-sdk/client-sfn";
import type { ExecutionInput } from "../core/rollout/rollout";
import type { Executions, StartedExecution } from "../ports";
import { asTransientWhenPassing } from "./transient-errors";

export interface StepFunctionsExecutionsOptions {
  readonly stateMachineArn: string;
  /** Default: `new SFNClient({})` (the environment's standard configuration). */
  readonly client?: SFNClient;
}

/**
 * How far the service's clock may run behind ours. A repeat arriving within this much of the original
 * start is reported as a new start; that is harmless, because Prepare's lock is idempotent per rollout.
 */
const CLOCK_TOLERANCE_MS = 1_000;

/**
 * SendTaskSuccess/SendTaskFailure's errors for a token no task waits on any more (API reference): the task
 * ended (answered, timed out, its execution stopped), or the token is not one.
 */
const TASK_GONE = ["TaskDoesNotExist", "TaskTimedOut", "InvalidToken"];
/** SendTaskFailure's limits on `error` and `cause` (API reference). */
const MAX_TASK_ERROR_CHARS = 256;
const MAX_TASK_CAUSE_CHARS = 32_768;

export class StepFunctionsExecutions implements Executions {
  private readonly stateMachineArn: string;
  private readonly client: SFNClient;

  constructor({ stateMachineArn, client }: StepFunctionsExecutionsOptions) {
    if (!/^arn:[^:]+:states:[^:]*:[^:]*:stateMachine:[^:]+$/.test(stateMachineArn)) {
      throw new Error(
        `"${stateMachineArn}" is not a state machine ARN (arn:aws:states:<region>:<account>:stateMachine:<name>).`,
      );
    }
    this.stateMachineArn = stateMachineArn;
    this.client = client ?? new SFNClient({});
  }

  async start(name: string, input: ExecutionInput): Promise<StartedExecution> {
    const calledAt = Date.now();
    try {
      const response = await this.client.send(
        new StartExecutionCommand({
          stateMachineArn: this.stateMachineArn,
          name,
          input: JSON.stringify(input),
        }),
      );
      const executionId = response.executionArn ?? this.idFor(name);
      const startedBefore =
        response.startDate && response.startDate.getTime() < calledAt - CLOCK_TOLERANCE_MS;
      return { executionId, alreadyStarted: Boolean(startedBefore) };
    } catch (error) {
      if ((error as { name?: unknown } | undefined)?.name === "ExecutionAlreadyExists") {
        return { executionId: this.idFor(name), alreadyStarted: true };
      }
      throw asTransientWhenPassing(error, `StartExecution ${name} on ${this.stateMachineArn}`);
    }
  }

  async sendTaskSuccess(token: string, output: Readonly<Record<string, unknown>>): Promise<boolean> {
    return this.answered(
      () =>
        this.client.send(new SendTaskSuccessCommand({ taskToken: token, output: JSON.stringify(output) })),
      "SendTaskSuccess",
    );
  }

  async sendTaskFailure(token: string, error: string, cause: string): Promise<boolean> {
    return this.answered(
      () =>
        this.client.send(
          new SendTaskFailureCommand({
            taskToken: token,
            error: error.slice(0, MAX_TASK_ERROR_CHARS),
            cause: cause.slice(0, MAX_TASK_CAUSE_CHARS),
          }),
        ),
      "SendTaskFailure",
    );
  }

  /** True once the answer landed; false when the task no longer waits on the token. */
  private async answered(send: () => Promise<unknown>, action: string): Promise<boolean> {
    try {
      await send();
      return true;
    } catch (error) {
      if (TASK_GONE.includes((error as { name?: unknown } | undefined)?.name as string)) return false;
      throw asTransientWhenPassing(error, `${action} on ${this.stateMachineArn}`);
    }
  }

  /** arn:…:stateMachine:<machine> → arn:…:execution:<machine>:<name> */
  idFor(name: string): string {
    return `${this.stateMachineArn.replace(":stateMachine:", ":execution:")}:${name}`;
  }
}
