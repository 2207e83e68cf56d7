// The local runtime, wired: a `.modelship/` home folder holds the bucket, the rollout records, the events,
// the candidate servers' logs and the stack config; each pipeline function runs its stage with these
// adapters; the local executor runs the state machine over them. Candidates are real servers on this machine
// (LocalServing), stopped by `close()`. Ports with no local adapter yet fail loudly, naming what is missing.

import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { StackConfig } from "../core/config";
import type { Finding } from "../core/findings";
import { PIPELINE_FUNCTIONS, type PipelineFunction } from "../core/pipeline-functions";
import { resolveStackConfig } from "../core/stack-config";
import { canaryStep } from "../pipeline/canary-step";
import { checkCanary } from "../pipeline/check-canary";
import { checkCandidate } from "../pipeline/check-candidate";
import { cleanup } from "../pipeline/cleanup";
import { deployCandidate } from "../pipeline/deploy-candidate";
import type { StageDeps } from "../pipeline/deps";
import { finalize } from "../pipeline/finalize";
import { prepare } from "../pipeline/prepare";
import { promote } from "../pipeline/promote";
import { registerGateway } from "../pipeline/register-gateway";
import { stateMachineRollback } from "../pipeline/rollback";
import { smokeTest } from "../pipeline/smoke-test";
import { unbuiltPorts } from "../pipeline/unbuilt-ports";
import * as unbuilt from "../pipeline/unbuilt-stages";
import { validate } from "../pipeline/validate";
import { LocalExecutor, type StateTransition, type TaskHandlers } from "./executor";
import { FolderObjectStore } from "./folder-object-store";
import { JsonFileRolloutStore } from "./json-rollout-store";
import { JsonlEvents } from "./jsonl-events";
import { LocalExecutions } from "./local-executions";
import { LocalServing } from "./local-serving";

/** What each pipeline function runs: the stage, given the state (or Map item) and the local adapters. */
const STAGES: Record<PipelineFunction, (input: never, deps: StageDeps) => Promise<unknown>> = {
  Prepare: prepare,
  Validate: validate,
  DeployCandidate: deployCandidate,
  CheckCandidate: checkCandidate,
  SmokeTest: smokeTest,
  StressWorker: unbuilt.stressWorker,
  MergeStress: unbuilt.mergeStress,
  EvalShard: unbuilt.evalShard,
  MergeEval: unbuilt.mergeEval,
  RegisterGateway: registerGateway,
  CanaryStep: canaryStep,
  CheckCanary: checkCanary,
  Promote: promote,
  Finalize: finalize,
  Rollback: stateMachineRollback,
  Cleanup: cleanup,
};

/** Where the local runtime keeps things, under its home folder. */
export function localPaths(home: string) {
  return {
    bucket: join(home, "bucket"),
    rollouts: join(home, "rollouts.json"),
    events: join(home, "events.jsonl"),
    config: join(home, "config.json"),
  };
}

/** The home's config.json is not a valid stack config; every finding names the file. */
export class LocalConfigInvalid extends Error {
  override readonly name = "LocalConfigInvalid";
  constructor(
    readonly file: string,
    readonly findings: readonly Finding[],
  ) {
    super(`${file} is not a valid stack config (${findings.length} finding(s)).`);
  }
}

export interface LocalRuntimeOptions {
  /** Scales Wait states and retry intervals: 1 is real time. */
  readonly timeFactor: number;
  readonly onTransition?: (executionId: string, transition: StateTransition) => void;
}

export interface LocalRuntime {
  readonly deps: StageDeps;
  readonly executions: LocalExecutions;
  /** Stops every candidate server this runtime started; call it on every way out. */
  close(): Promise<void>;
}

export async function openLocalRuntime(home: string, options: LocalRuntimeOptions): Promise<LocalRuntime> {
  const paths = localPaths(home);
  const config = await readStackConfig(paths.config);
  // The handlers reach the adapters through `deps`, which needs the executions, which need the handlers.
  const handlers = Object.fromEntries(
    PIPELINE_FUNCTIONS.map((fn) => [fn, (input: unknown) => STAGES[fn](input as never, deps)]),
  ) as Record<PipelineFunction, (input: unknown) => Promise<unknown>> satisfies TaskHandlers;
  const executor = await LocalExecutor.load({
    handlers,
    timeFactor: options.timeFactor,
    realTimeWaits: ["WaitForCandidate"],
  });
  const executions = new LocalExecutions(executor, options.onTransition);
  const serving = new LocalServing({ home, config });
  const deps: StageDeps = {
    config,
    objects: new FolderObjectStore(paths.bucket),
    store: new JsonFileRolloutStore(paths.rollouts),
    events: new JsonlEvents(paths.events),
    clock: { now: () => new Date() },
    executions,
    serving,
    ...unbuiltLocalPorts,
  };
  return { deps, executions, close: () => serving.stopAll() };
}

async function readStackConfig(file: string): Promise<StackConfig> {
  let text: string | undefined;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  let partial: unknown = {};
  if (text !== undefined) {
    try {
      partial = JSON.parse(text);
    } catch (error) {
      throw new LocalConfigInvalid(file, [
        {
          severity: "error",
          code: "stack-config.json",
          file,
          message: `is not valid JSON: ${(error as Error).message}.`,
          hint: "Fix the JSON, or delete the file to use the defaults.",
        },
      ]);
    }
  }
  const { config, findings } = resolveStackConfig(withLocalServingDefaults(partial), file);
  if (!config) throw new LocalConfigInvalid(file, findings);
  return config;
}

/**
 * The local runtime's own serving defaults, under whatever the user's config.json sets: a server on this
 * machine reads its weights from local disk and starts in seconds, so readiness is polled every second, on
 * a budget that still fits a GPU workstation's vLLM (a command template) loading a large model.
 */
const LOCAL_SERVING_DEFAULTS = { readinessPollSeconds: 1, startupBaseSeconds: 300, startupSecondsPerGiB: 10 };

function withLocalServingDefaults(partial: unknown): unknown {
  if (typeof partial !== "object" || partial === null || Array.isArray(partial)) return partial;
  const serving: unknown = (partial as Record<string, unknown>)["serving"];
  if (serving !== undefined && (typeof serving !== "object" || serving === null || Array.isArray(serving))) {
    return partial;
  }
  return { ...partial, serving: { ...LOCAL_SERVING_DEFAULTS, ...(serving as object | undefined) } };
}

const unbuiltLocalPorts = unbuiltPorts("local", {
  gateway: "The local weighted gateway",
  registry: "The local model registry",
  alarms: "The local metrics and alarm evaluator",
  metrics: "The local metrics and alarm evaluator",
});
