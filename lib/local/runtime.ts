// The local runtime, wired: a `.modelship/` home folder holds the bucket, the rollout records, the events
// and the stack config; each pipeline function runs its stage with these adapters; the local executor runs
// the state machine over them. Ports with no local adapter yet fail loudly, naming what is missing.

import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { StackConfig } from "../core/config";
import { NotImplementedYet } from "../core/errors";
import type { Finding } from "../core/findings";
import { PIPELINE_FUNCTIONS, type PipelineFunction } from "../core/pipeline-functions";
import { resolveStackConfig } from "../core/stack-config";
import { cleanup } from "../pipeline/cleanup";
import type { StageDeps } from "../pipeline/deps";
import { prepare } from "../pipeline/prepare";
import * as unbuilt from "../pipeline/unbuilt-stages";
import { validate } from "../pipeline/validate";
import { LocalExecutor, type StateTransition, type TaskHandlers } from "./executor";
import { FolderObjectStore } from "./folder-object-store";
import { JsonFileRolloutStore } from "./json-rollout-store";
import { JsonlEvents } from "./jsonl-events";
import { LocalExecutions } from "./local-executions";

/** What each pipeline function runs: the stage, given the state (or Map item) and the local adapters. */
const STAGES: Record<PipelineFunction, (input: never, deps: StageDeps) => Promise<unknown>> = {
  Prepare: prepare,
  Validate: validate,
  DeployCandidate: unbuilt.deployCandidate,
  CheckCandidate: unbuilt.checkCandidate,
  SmokeTest: unbuilt.smokeTest,
  StressWorker: unbuilt.stressWorker,
  MergeStress: unbuilt.mergeStress,
  EvalShard: unbuilt.evalShard,
  MergeEval: unbuilt.mergeEval,
  RegisterGateway: unbuilt.registerGateway,
  CanaryStep: unbuilt.canaryStep,
  CheckCanary: unbuilt.checkCanary,
  Promote: unbuilt.promote,
  Finalize: unbuilt.finalize,
  Rollback: unbuilt.rollback,
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
}

export async function openLocalRuntime(home: string, options: LocalRuntimeOptions): Promise<LocalRuntime> {
  const paths = localPaths(home);
  const config = await readStackConfig(paths.config);
  // The handlers reach the adapters through `deps`, which needs the executions, which need the handlers.
  const handlers = Object.fromEntries(
    PIPELINE_FUNCTIONS.map((fn) => [fn, (input: unknown) => STAGES[fn](input as never, deps)]),
  ) as Record<PipelineFunction, (input: unknown) => Promise<unknown>> satisfies TaskHandlers;
  const executor = await LocalExecutor.load({ handlers, timeFactor: options.timeFactor });
  const executions = new LocalExecutions(executor, options.onTransition);
  const deps: StageDeps = {
    config,
    objects: new FolderObjectStore(paths.bucket),
    store: new JsonFileRolloutStore(paths.rollouts),
    events: new JsonlEvents(paths.events),
    clock: { now: () => new Date() },
    executions,
    ...unbuiltLocalPorts,
  };
  return { deps, executions };
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
  const { config, findings } = resolveStackConfig(partial, file);
  if (!config) throw new LocalConfigInvalid(file, findings);
  return config;
}

function missing(adapter: string, method: string): Promise<never> {
  return Promise.reject(new NotImplementedYet(adapter, `${method} has no local implementation yet`));
}

const SERVING = "Local serving (llama.cpp or a command template)";
const GATEWAY = "The local weighted gateway";
const REGISTRY = "The local model registry";
const ALARMS = "The local metrics and alarm evaluator";

const unbuiltLocalPorts: Pick<StageDeps, "serving" | "gateway" | "registry" | "alarms" | "metrics"> = {
  serving: {
    deploy: () => missing(SERVING, "Serving.deploy"),
    status: () => missing(SERVING, "Serving.status"),
    endpoint: () => missing(SERVING, "Serving.endpoint"),
    remove: () => missing(SERVING, "Serving.remove"),
  },
  gateway: {
    register: () => missing(GATEWAY, "Gateway.register"),
    setWeights: () => missing(GATEWAY, "Gateway.setWeights"),
    promote: () => missing(GATEWAY, "Gateway.promote"),
    removeBackend: () => missing(GATEWAY, "Gateway.removeBackend"),
    describe: () => missing(GATEWAY, "Gateway.describe"),
  },
  registry: {
    register: () => missing(REGISTRY, "Registry.register"),
    setStatus: () => missing(REGISTRY, "Registry.setStatus"),
    getStatus: () => missing(REGISTRY, "Registry.getStatus"),
  },
  alarms: {
    ensure: () => missing(ALARMS, "Alarms.ensure"),
    states: () => missing(ALARMS, "Alarms.states"),
    remove: () => missing(ALARMS, "Alarms.remove"),
  },
  metrics: {
    publish: () => missing(ALARMS, "Metrics.publish"),
    startProber: () => missing(ALARMS, "Metrics.startProber"),
    stopProber: () => missing(ALARMS, "Metrics.stopProber"),
  },
};
