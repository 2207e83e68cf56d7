// Runs statemachines/pipeline.asl.json on this machine with aws-local-stepfunctions — the definition Step
// Functions runs, not a copy of the flow. Every Task (inside Map iterators too) calls a local handler per
// pipeline function; a thrown error reaches Retry and Catch the way Lambda presents it on AWS; Wait states and
// retry intervals are scaled by a time factor; state transitions are streamed to the caller as they happen.
//
// A `.waitForTaskToken` Task (`arn:aws:states:::lambda:invoke.waitForTaskToken`, which the interpreter would
// send to Lambda as a function name) is run here as Step Functions runs it: a token is minted per attempt
// and put where the Payload puts `$$.Task.Token`, the function is called with the Payload, and the Task then
// waits for SendTaskSuccess / SendTaskFailure on the token (LocalTaskTokens) or its timeout (States.Timeout).
// The interpreter reads TimeoutSecondsPath from the Parameters' result, not from the state's input as Step
// Functions does, so such a Task must carry the same path in `Payload.timeoutSeconds`, from where the wait
// takes it. A person's time is not rollout time: the timeout is not scaled by the time factor.

import { readFile } from "node:fs/promises";
import {
  ExecutionError,
  ExecutionTimeoutError,
  StateMachine,
  type StateMachineDefinition,
} from "aws-local-stepfunctions";
import type { CaughtError } from "../core/errors";
import { PACKAGE_ROOT } from "../package-files";
import { LocalTaskTokens } from "./task-tokens";
import {
  PIPELINE_FUNCTIONS,
  functionFileName,
  substitutionKey,
  type PipelineFunction,
} from "../core/state-machine/pipeline-functions";

export const PIPELINE_DEFINITION = new URL("statemachines/pipeline.asl.json", PACKAGE_ROOT);

/**
 * A local stand-in for one pipeline Lambda: the state's input in, the result out; a throw is a failure. The
 * signal aborts when the execution is stopped, so a long stage (a stress test, an eval) stops at once rather
 * than holding the stop up; what it returns then is discarded.
 */
export type TaskHandler = (input: unknown, context: TaskContext) => Promise<unknown>;

export interface TaskContext {
  readonly signal: AbortSignal;
}

export type TaskHandlers = Readonly<Record<PipelineFunction, TaskHandler>>;

export interface LocalExecutorOptions {
  readonly handlers: TaskHandlers;
  /** Multiplies every Wait and retry interval: 1 is real time, 0.01 makes a 600 s bake 6 s, 0 never waits. */
  readonly timeFactor: number;
  /**
   * Wait states that poll something real — a server starting — rather than let rollout time pass (a bake, the
   * watch): they keep real time whatever the time factor, so a faster rollout does not shrink a startup budget.
   */
  readonly realTimeWaits?: readonly string[];
  /** Where `.waitForTaskToken` Tasks wait for their answers; the Executions port answers through it. */
  readonly taskTokens?: LocalTaskTokens;
}

/** One step of an execution, in the order it happened. */
export interface StateTransition {
  readonly type: "entered" | "exited" | "failed" | "retried" | "caught";
  readonly state: string;
  /** `Task`, `Map`, `Wait`, `Choice`, `Pass`, `Succeed`, `Fail`. */
  readonly stateType: string;
  /** Epoch milliseconds. */
  readonly timestamp: number;
  /** Inside a Map: the iteration's index. */
  readonly iteration?: number;
  /** `failed`: the error as a Catch would see it. */
  readonly error?: CaughtError;
  /** `entered` on a Wait: the duration the definition asks for, and what was slept. */
  readonly wait?: { readonly seconds: number; readonly scaledSeconds: number };
  /** `retried`: the pause before the retry, after scaling. */
  readonly retryDelaySeconds?: number;
}

/** How an execution ended, in Step Functions' terms. */
export type ExecutionResult =
  | { readonly status: "SUCCEEDED"; readonly output: unknown }
  | { readonly status: "FAILED"; readonly error: CaughtError }
  | { readonly status: "ABORTED" | "TIMED_OUT" };

export interface RunningExecution {
  /** Settles once the execution has ended and every transition has been delivered. */
  readonly result: Promise<ExecutionResult>;
  /** Stops the execution; `result` settles once the Task handlers already running have finished. */
  abort(): void;
  /** The state as of the last top-level Task: what a Cleanup after an abort works from. */
  lastState(): unknown;
}

export interface RunSettings {
  /** `$$.Execution.Id` inside the execution. */
  readonly executionId: string;
  /** `$$.Execution.Name`. */
  readonly name: string;
  readonly onTransition?: (transition: StateTransition) => void;
}

/** Step Functions' quota on a state's input or output. */
export const MAX_PAYLOAD_BYTES = 262_144;

type AslState = StateMachineDefinition["States"][string];
type JsonValue = Parameters<StateMachine["run"]>[0];
type EventLog = ReturnType<StateMachine["run"]>["eventLogs"] extends AsyncGenerator<infer E> ? E : never;
type StateEvent = Extract<EventLog, { state: unknown }>;

interface WaitSpec {
  readonly seconds?: number;
  readonly secondsPath?: string;
}

/** An error the local executor raises inside an execution, named like a Step Functions error. */
class LocalExecutionError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

const SIMPLE_PATH = /^\$(\.[A-Za-z_][A-Za-z0-9_]*)*$/;

/** The optimized Lambda integration that waits for a task token (the only one this executor runs). */
export const WAIT_FOR_TASK_TOKEN = "arn:aws:states:::lambda:invoke.waitForTaskToken";
/**
 * The interpreter's own timeout for a token Task, which this executor times itself: above any approval
 * timeout, and below the largest delay Node's setTimeout takes (2^31 − 1 ms, about 24.8 days).
 */
const TOKEN_TASK_INTERPRETER_TIMEOUT_SECONDS = 2_000_000;

/** How a `.waitForTaskToken` Task is run: the Payload field that carries the token. */
interface TokenTask {
  readonly tokenField: string;
}

/** The ARN a Task's `${<Fn>FunctionArn}` becomes locally: shaped like Lambda's, so ARN validation applies. */
function localFunctionArn(fn: PipelineFunction): string {
  return `arn:aws:lambda:us-east-1:000000000000:function:modelship-local-${functionFileName(fn)}`;
}

export class LocalExecutor {
  private readonly machine: StateMachine;
  /** Task state name → the pipeline function its Resource names. */
  private readonly taskFunctions = new Map<string, PipelineFunction>();
  /** Top-level Task state name → its ResultPath, to follow the execution's data for Wait durations. */
  private readonly topLevelResultPaths = new Map<string, string | null | undefined>();
  /** Top-level Task state name → the Parameters key that carries the whole state (`"state.$": "$"`). */
  private readonly wholeStateKeys = new Map<string, string>();
  private readonly waits = new Map<string, WaitSpec>();
  /** State name → its Retry list: the same objects the interpreter reports in its retry events. */
  private readonly retriers = new Map<string, readonly { readonly IntervalSeconds?: number }[]>();
  /** `.waitForTaskToken` Task state name → how it carries its token. */
  private readonly tokenTasks = new Map<string, TokenTask>();
  readonly taskTokens: LocalTaskTokens;

  static async load(options: LocalExecutorOptions): Promise<LocalExecutor> {
    return new LocalExecutor(await readFile(PIPELINE_DEFINITION, "utf8"), options);
  }

  constructor(
    definitionJson: string,
    private readonly options: LocalExecutorOptions,
  ) {
    if (!Number.isFinite(options.timeFactor) || options.timeFactor < 0) {
      throw new Error(`The time factor must be a number ≥ 0 (1 = real time); got ${options.timeFactor}.`);
    }
    this.taskTokens = options.taskTokens ?? new LocalTaskTokens();
    const definition = JSON.parse(definitionJson) as StateMachineDefinition;
    this.indexStates(definition, false);
    const leftover = /\$\{[^}]*\}/.exec(JSON.stringify(definition));
    if (leftover) {
      throw new Error(
        `The definition uses the substitution ${leftover[0]} outside a Task's Resource; nothing replaces it locally.`,
      );
    }
    const unknownWait = options.realTimeWaits?.find((name) => !this.waits.has(name));
    if (unknownWait) throw new Error(`'${unknownWait}' is not a Wait state of the definition.`);
    this.machine = new StateMachine(definition);
  }

  run(input: unknown, settings: RunSettings): RunningExecution {
    const { timeFactor } = this.options;
    // The data as of the last top-level Task: its input with its result at its ResultPath. The interpreter
    // reads a Wait's override before the execution's events can be observed, so the duration comes from
    // here, and is checked against the Wait's real input when its `entered` event arrives.
    let latestData: unknown = input;
    const sleptMs = new Map<string, number[]>();
    let localFailure: CaughtError | undefined;
    let aborted = false;
    const stopping = new AbortController();
    // Abort does not stop a handler already running; its effects (a lock, a workload) must land before
    // anyone cleans up after the execution.
    const running = new Set<Promise<unknown>>();

    const waitTimeOverrides: Record<string, number> = {};
    for (const [name, wait] of this.waits) {
      Object.defineProperty(waitTimeOverrides, name, {
        enumerable: true,
        get: () => {
          const ms = scaledMs(waitSeconds(name, wait, latestData), this.waitFactor(name));
          sleptMs.set(name, [...(sleptMs.get(name) ?? []), ms]);
          return ms;
        },
      });
    }

    const taskResourceLocalHandlers: Record<string, (input: JsonValue) => Promise<JsonValue>> = {};
    for (const [stateName, fn] of this.taskFunctions) {
      const handler = this.options.handlers[fn];
      const isTopLevel = this.topLevelResultPaths.has(stateName);
      const tokenTask = this.tokenTasks.get(stateName);
      taskResourceLocalHandlers[stateName] = (taskInput) => {
        const call = tokenTask
          ? this.waitForToken(handler, taskInput, tokenTask, settings.executionId, stateName, stopping.signal)
          : invokeLikeLambda(handler, taskInput, stopping.signal);
        const invocation = call.then((output) => {
          if (isTopLevel) {
            // A Task with Parameters is handed the whole state under one key (a token Task: in its Payload);
            // its result lands in the state.
            const stateKey = this.wholeStateKeys.get(stateName);
            const carrier = (
              tokenTask ? (taskInput as Record<string, JsonValue>)["Payload"] : taskInput
            ) as Record<string, JsonValue>;
            const data = stateKey === undefined ? taskInput : carrier[stateKey];
            latestData = placeResult(data, this.topLevelResultPaths.get(stateName), output);
          }
          return output;
        });
        running.add(invocation);
        const settled = () => running.delete(invocation);
        invocation.then(settled, settled);
        return invocation;
      };
    }

    const retryIntervalOverrides = Object.fromEntries(
      [...this.retriers].map(([name, retry]) => [
        name,
        retry.map((r) => scaledMs(r.IntervalSeconds ?? 1, timeFactor)),
      ]),
    );

    const execution = this.machine.run(JSON.parse(JSON.stringify(input)) as JsonValue, {
      overrides: { taskResourceLocalHandlers, waitTimeOverrides, retryIntervalOverrides },
      // `$$.Task.Token` must resolve; waitForToken puts the attempt's own token in its place.
      context: {
        Execution: { Id: settings.executionId, Name: settings.name },
        Task: { Token: "minted-per-attempt" },
      },
      noThrowOnAbort: true,
    });

    const failLocally = (error: CaughtError): void => {
      localFailure ??= error;
      execution.abort();
      stopping.abort();
    };

    const observe = (event: StateEvent): void => {
      if (event.type === "StateExited") {
        const bytes = Buffer.byteLength(JSON.stringify(event.state.output ?? null));
        if (bytes > MAX_PAYLOAD_BYTES) {
          failLocally({
            Error: "States.DataLimitExceeded",
            Cause: `The output of state '${event.state.name}' is ${bytes} bytes; Step Functions allows ${MAX_PAYLOAD_BYTES}. Put big results in the bucket and keep their keys in the state.`,
          });
        }
      }
      const transition = this.describe(event, timeFactor);
      const wait = event.type === "StateEntered" ? this.waits.get(event.state.name) : undefined;
      const used = wait ? sleptMs.get(event.state.name)?.shift() : undefined;
      if (!wait || used === undefined) {
        settings.onTransition?.(transition);
        return;
      }
      try {
        const seconds = waitSeconds(event.state.name, wait, event.state.input);
        if (used !== scaledMs(seconds, this.waitFactor(event.state.name))) {
          throw new LocalExecutionError(
            "LocalExecutor.WaitScaling",
            `Wait '${event.state.name}' asks for ${seconds} s, but the local executor scaled a different duration: the data it followed is not the Wait's input.`,
          );
        }
        settings.onTransition?.({ ...transition, wait: { seconds, scaledSeconds: used / 1000 } });
      } catch (error) {
        failLocally({ Error: (error as Error).name, Cause: (error as Error).message });
        settings.onTransition?.(transition);
      }
    };

    const delivered = (async () => {
      for await (const event of execution.eventLogs) if ("state" in event) observe(event);
    })().catch((error: unknown) => {
      // A caller's observer failed: stop the execution rather than run on unobserved.
      execution.abort();
      stopping.abort();
      throw error;
    });

    const ended = execution.result.then(
      (output): ExecutionResult => ({ status: "SUCCEEDED", output }),
      (error: unknown): ExecutionResult => {
        if (error instanceof ExecutionTimeoutError) return { status: "TIMED_OUT" };
        if (error instanceof ExecutionError && error.cause instanceof Error) {
          return { status: "FAILED", error: { Error: error.cause.name, Cause: error.cause.message } };
        }
        throw error;
      },
    );

    const result = Promise.all([ended, delivered]).then(async ([outcome]): Promise<ExecutionResult> => {
      await Promise.allSettled([...running]);
      if (localFailure) return { status: "FAILED", error: localFailure };
      // With noThrowOnAbort, an aborted execution resolves (with null) instead of rejecting.
      if (aborted) return { status: "ABORTED" };
      return outcome;
    });

    return {
      result,
      abort: () => {
        aborted = true;
        execution.abort();
        stopping.abort();
      },
      lastState: () => latestData,
    };
  }

  /** A `.waitForTaskToken` Task's attempt: the function called with the Payload and a fresh token, then the wait. */
  private async waitForToken(
    handler: TaskHandler,
    taskInput: JsonValue,
    task: TokenTask,
    executionId: string,
    stateName: string,
    signal: AbortSignal,
  ): Promise<JsonValue> {
    const payload = (taskInput as { Payload?: Record<string, unknown> }).Payload ?? {};
    const timeoutSeconds = payload["timeoutSeconds"];
    if (typeof timeoutSeconds !== "number" || !Number.isInteger(timeoutSeconds) || timeoutSeconds < 1) {
      throw new LocalExecutionError(
        "States.Runtime",
        `Task '${stateName}': Payload.timeoutSeconds is ${JSON.stringify(timeoutSeconds)}, expected whole seconds ≥ 1.`,
      );
    }
    const token = this.taskTokens.mint(executionId, stateName);
    try {
      // As with Lambda's invoke.waitForTaskToken, the function's own result is not the Task's.
      await invokeLikeLambda(handler, { ...payload, [task.tokenField]: token } as JsonValue, signal);
    } catch (error) {
      this.taskTokens.close(token);
      throw error;
    }
    return JSON.parse(
      JSON.stringify((await this.taskTokens.wait(token, timeoutSeconds * 1000, signal)) ?? null),
    ) as JsonValue;
  }

  private waitFactor(waitState: string): number {
    return this.options.realTimeWaits?.includes(waitState) ? 1 : this.options.timeFactor;
  }

  private describe(event: StateEvent, timeFactor: number): StateTransition {
    const base = {
      state: event.state.name,
      stateType: event.state.type,
      timestamp: event.timestamp,
      ...(typeof event.index === "number" ? { iteration: event.index } : {}),
    };
    switch (event.type) {
      case "StateEntered":
        return { type: "entered", ...base };
      case "StateExited":
        return { type: "exited", ...base };
      case "StateFailed":
        return { type: "failed", ...base, error: { Error: event.Error, Cause: causeText(event.Cause) } };
      case "StateCaught":
        return { type: "caught", ...base };
      case "StateRetried": {
        const retry = this.retriers.get(event.state.name) ?? [];
        const interval = retry[retry.indexOf(event.retry.retrier)]?.IntervalSeconds ?? 1;
        return { type: "retried", ...base, retryDelaySeconds: scaledMs(interval, timeFactor) / 1000 };
      }
    }
  }

  /** Indexes the states and replaces each Task's `${<Fn>FunctionArn}` with its local ARN, in place. */
  private indexStates(machine: { readonly States: Record<string, AslState> }, nested: boolean): void {
    for (const [name, state] of Object.entries(machine.States)) {
      if ("Retry" in state && state.Retry) this.retriers.set(name, state.Retry);
      switch (state.Type) {
        case "Task": {
          if (this.taskFunctions.has(name)) throw new Error(`Two Task states are named '${name}'.`);
          if (state.Resource === WAIT_FOR_TASK_TOKEN) {
            const { fn, tokenField } = checkedTokenTask(name, state);
            this.taskFunctions.set(name, fn);
            this.tokenTasks.set(name, { tokenField });
            state.Resource = localFunctionArn(fn);
            (state.Parameters as Record<string, unknown>)["FunctionName"] = localFunctionArn(fn);
            delete state.TimeoutSecondsPath;
            state.TimeoutSeconds = TOKEN_TASK_INTERPRETER_TIMEOUT_SECONDS;
            if (!nested) {
              this.topLevelResultPaths.set(name, checkedResultPath(name, state.ResultPath));
              const payload = (state.Parameters as Record<string, unknown>)["Payload"];
              this.wholeStateKeys.set(name, wholeStateKey(name, payload));
            }
            break;
          }
          const fn = functionOfResource(name, state.Resource);
          this.taskFunctions.set(name, fn);
          state.Resource = localFunctionArn(fn);
          if (!nested) {
            this.topLevelResultPaths.set(name, checkedResultPath(name, state.ResultPath));
            if (state.Parameters !== undefined)
              this.wholeStateKeys.set(name, wholeStateKey(name, state.Parameters));
          }
          break;
        }
        case "Wait":
          this.waits.set(name, checkedWait(name, state, nested));
          break;
        case "Map": {
          const processor = state.ItemProcessor ?? state.Iterator;
          if (processor) this.indexStates(processor, true);
          break;
        }
        case "Parallel":
          for (const branch of state.Branches) this.indexStates(branch, true);
          break;
      }
    }
  }
}

function checkedWait(name: string, state: Extract<AslState, { Type: "Wait" }>, nested: boolean): WaitSpec {
  if (nested)
    throw new Error(
      `Wait '${name}' is inside a Map or Parallel; the local executor scales only top-level Waits.`,
    );
  if (state.Timestamp !== undefined || state.TimestampPath !== undefined) {
    throw new Error(
      `Wait '${name}' waits for a timestamp; the local executor scales only Seconds and SecondsPath.`,
    );
  }
  if (state.SecondsPath !== undefined && !SIMPLE_PATH.test(state.SecondsPath)) {
    throw new Error(
      `Wait '${name}': SecondsPath '${state.SecondsPath}' must be a plain path like $.plan.watchSeconds.`,
    );
  }
  return { seconds: state.Seconds, secondsPath: state.SecondsPath };
}

/**
 * The function a `.waitForTaskToken` Task calls and the Payload field carrying `$$.Task.Token`; its timeout
 * must be `TimeoutSecondsPath` with the same path as `Payload["timeoutSeconds.$"]` (see the header).
 */
function checkedTokenTask(
  stateName: string,
  state: Extract<AslState, { Type: "Task" }>,
): { fn: PipelineFunction; tokenField: string } {
  const parameters = (state.Parameters ?? {}) as Record<string, unknown>;
  const fn = functionOfResource(stateName, String(parameters["FunctionName"]));
  const payload = (parameters["Payload"] ?? {}) as Record<string, unknown>;
  const tokenKey = Object.keys(payload).find((key) => key.endsWith(".$") && payload[key] === "$$.Task.Token");
  if (!tokenKey) {
    throw new Error(
      `Task '${stateName}' waits for a task token but its Payload does not pass one: add "token.$": "$$.Task.Token".`,
    );
  }
  if (
    state.TimeoutSecondsPath === undefined ||
    state.TimeoutSeconds !== undefined ||
    payload["timeoutSeconds.$"] !== state.TimeoutSecondsPath
  ) {
    throw new Error(
      `Task '${stateName}' waits for a task token: give it a TimeoutSecondsPath and the same path as Payload "timeoutSeconds.$", from where the local executor reads its timeout.`,
    );
  }
  return { fn, tokenField: tokenKey.slice(0, -2) };
}

function functionOfResource(stateName: string, resource: string): PipelineFunction {
  const fn = PIPELINE_FUNCTIONS.find((f) => resource === `\${${substitutionKey(f)}}`);
  if (!fn) {
    throw new Error(
      `Task '${stateName}' has Resource '${resource}'; expected \${<Fn>FunctionArn} for one of ${PIPELINE_FUNCTIONS.join(", ")}.`,
    );
  }
  return fn;
}

/**
 * The key of a top-level Task's Parameters that passes the whole state (`"state.$": "$"`): the executor follows
 * the execution's data through it, for the Waits that read it. Parameters without one are refused.
 */
function wholeStateKey(stateName: string, parameters: unknown): string {
  const entry = Object.entries(parameters as Record<string, unknown>).find(
    ([key, value]) => key.endsWith(".$") && value === "$",
  );
  if (!entry) {
    throw new Error(
      `Task '${stateName}': a top-level Task with Parameters must pass the whole state under one key (e.g. "state.$": "$"), so the local executor can follow the execution's data.`,
    );
  }
  return entry[0].slice(0, -2);
}

function checkedResultPath(
  stateName: string,
  resultPath: string | null | undefined,
): string | null | undefined {
  if (typeof resultPath === "string" && !SIMPLE_PATH.test(resultPath)) {
    throw new Error(
      `Task '${stateName}': ResultPath '${resultPath}' must be a plain path like $.validation.`,
    );
  }
  return resultPath;
}

/**
 * Calls a handler the way Step Functions calls a Lambda: the input and output cross a JSON boundary, and a
 * thrown error becomes `Error` = its name and `Cause` = `{"errorType","errorMessage"}` JSON, as on AWS.
 */
async function invokeLikeLambda(
  handler: TaskHandler,
  input: JsonValue,
  signal: AbortSignal,
): Promise<JsonValue> {
  let output: unknown;
  try {
    output = await handler(structuredClone(input), { signal });
  } catch (error) {
    const errorType = error instanceof Error ? error.name : "Error";
    const errorMessage = error instanceof Error ? error.message : String(error);
    const failure = new Error(JSON.stringify({ errorType, errorMessage }));
    failure.name = errorType;
    throw failure;
  }
  return JSON.parse(JSON.stringify(output ?? null)) as JsonValue;
}

function placeResult(input: unknown, resultPath: string | null | undefined, output: unknown): unknown {
  if (resultPath === null) return input;
  if (resultPath === undefined || resultPath === "$") return output;
  const root = structuredClone(input) as Record<string, unknown>;
  const keys = resultPath.split(".").slice(1);
  let node = root;
  for (const key of keys.slice(0, -1)) {
    const next = node[key];
    node = (node[key] = typeof next === "object" && next !== null ? next : {}) as Record<string, unknown>;
  }
  node[keys.at(-1) as string] = output;
  return root;
}

function waitSeconds(stateName: string, wait: WaitSpec, data: unknown): number {
  if (wait.seconds !== undefined) return wait.seconds;
  const value = (wait.secondsPath ?? "$")
    .split(".")
    .slice(1)
    .reduce<unknown>(
      (node, key) =>
        typeof node === "object" && node !== null ? (node as Record<string, unknown>)[key] : undefined,
      data,
    );
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0) {
    throw new Error(
      `Wait '${stateName}': ${wait.secondsPath} is ${JSON.stringify(value)}, expected whole seconds ≥ 0.`,
    );
  }
  return value;
}

function scaledMs(seconds: number, timeFactor: number): number {
  return Math.round(seconds * timeFactor * 1000);
}

function causeText(cause: unknown): string {
  return typeof cause === "string" ? cause : JSON.stringify(cause);
}
