// The local runtime, wired: a `.modelship/` home folder holds the bucket, the rollout records, the events,
// the registry, the gateway's routes, the servers' logs and the stack config; each pipeline function runs
// its stage with these adapters, and the local executor runs the state machine over them. Versions are real
// servers on this machine (LocalServing) behind the local weighted gateway; the canary's metrics live in one
// in-process series that the prober feeds (its chats, and each server's own /metrics) and the alarm loop reads, and an alarm going to
// ALARM calls the same Rollback the AWS alarm rule does. `close()` stops every loop, server and socket.

import { setTimeout as delay } from "node:timers/promises";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { AlarmBook } from "../core/alarms/alarm-evaluator";
import type { StackConfig } from "../core/config/config";
import type { ModelshipEvent } from "../core/events/events";
import type { Finding } from "../core/findings";
import { MetricSeries } from "../core/alarms/metric-series";
import { PIPELINE_FUNCTIONS, type PipelineFunction } from "../core/state-machine/pipeline-functions";
import { resolveStackConfig } from "../core/resolution/stack-config";
import { canaryStep } from "../pipeline/canary-step";
import { checkCanary } from "../pipeline/check-canary";
import { checkCandidate } from "../pipeline/check-candidate";
import { cleanup } from "../pipeline/cleanup";
import { deployCandidate } from "../pipeline/deploy-candidate";
import type { Interruptible, StageDeps } from "../pipeline/deps";
import { evalShard } from "../pipeline/eval-shard";
import { finalize } from "../pipeline/finalize";
import { mergeEval } from "../pipeline/merge-eval";
import { mergeStress } from "../pipeline/merge-stress";
import { prepare } from "../pipeline/prepare";
import { probeRound, trafficWindowsFor } from "../pipeline/probe";
import { promote } from "../pipeline/promote";
import { registerGateway } from "../pipeline/register-gateway";
import { runHooks } from "../pipeline/run-hooks";
import { shadow } from "../pipeline/shadow";
import { requestApproval } from "../pipeline/request-approval";
import { rollbackReleasingApproval } from "../pipeline/approvals";
import { stateMachineRollback } from "../pipeline/rollback";
import { smokeTest } from "../pipeline/smoke-test";
import { stressWorker } from "../pipeline/stress-worker";
import { validate } from "../pipeline/validate";
import { createAdminSecret } from "./admin-auth";
import { LocalExecutor, type StateTransition, type TaskContext, type TaskHandlers } from "./executor";
import { FolderObjectStore } from "./folder-object-store";
import { checkHomeStateFiles } from "./home-state-check";
import { LocalGateway } from "./gateway/local-gateway";
import { LocalHooks } from "./local-hooks";
import { JsonFileRolloutStore } from "./json-rollout-store";
import { JsonlEvents } from "./jsonl-events";
import { LocalAlarms } from "./local-alarms";
import { LocalExecutions } from "./local-executions";
import { LocalMetrics } from "./local-metrics";
import { LocalRegistry } from "./local-registry";
import { LocalServing } from "./local-serving";
import { restoreServing } from "./restore-serving";

/**
 * What each pipeline function runs: the stage, given the state (or Map item), the local adapters and the
 * execution's stop signal (the long stages stop at once when the execution is stopped; the others ignore it).
 */
const STAGES: Record<
  PipelineFunction,
  (input: never, deps: StageDeps, interruptible: Interruptible) => Promise<unknown>
> = {
  Prepare: prepare,
  Validate: validate,
  DeployCandidate: deployCandidate,
  CheckCandidate: checkCandidate,
  SmokeTest: smokeTest,
  StressWorker: stressWorker,
  MergeStress: mergeStress,
  EvalShard: evalShard,
  MergeEval: mergeEval,
  RegisterGateway: registerGateway,
  RunHooks: runHooks,
  RequestApproval: requestApproval,
  Shadow: shadow,
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
    gateway: join(home, "gateway.json"),
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
  /** Every event, once it is in the events file. */
  readonly onEvent?: (event: ModelshipEvent) => void;
  /** The gateway's port: default `local.gatewayPort` from the config; 0 = any free port. */
  readonly gatewayPort?: number;
  /** Where what goes wrong in the background is told: a failed probe round, an alarm's rollback. */
  readonly log?: (message: string) => void;
}

export interface LocalRuntime {
  readonly deps: StageDeps;
  readonly executions: LocalExecutions;
  readonly serving: LocalServing;
  readonly gateway: LocalGateway;
  readonly alarms: LocalAlarms;
  readonly metrics: LocalMetrics;
  /** What opening did to bring back what served before: servers started again, rollouts cut short rolled back. */
  readonly restored: readonly string[];
  /**
   * Stops everything: rollouts still running are aborted and rolled back (a local execution cannot outlive
   * its process), then the alarm loop, the probers, the gateway and every server. Call it on every way out.
   */
  close(): Promise<void>;
}

/** Why an execution still running when the runtime closes is rolled back. */
const STOPPING_REASON = "the local runtime running it stopped";

export async function openLocalRuntime(home: string, options: LocalRuntimeOptions): Promise<LocalRuntime> {
  const paths = localPaths(home);
  const config = await readLocalStackConfig(home);
  await checkHomeStateFiles({ home, rollouts: paths.rollouts, gateway: paths.gateway });
  const log = options.log ?? ((message: string) => console.error(message));
  // The handlers, the prober and the alarm loop reach the adapters through `deps`, which needs them first.
  const late: { deps?: StageDeps } = {};
  const depsNow = (): StageDeps => {
    if (!late.deps) throw new Error("The local runtime is still opening.");
    return late.deps;
  };
  const handlers = Object.fromEntries(
    PIPELINE_FUNCTIONS.map((fn) => [
      fn,
      async (input: unknown, { signal }: TaskContext) => {
        const output: unknown = await STAGES[fn](input as never, depsNow(), { signal });
        // A stage that ended a rollout but could not write its report says so here, as the Lambda's log does.
        const problem = (output as { reportProblem?: unknown } | undefined)?.reportProblem;
        if (typeof problem === "string") log(problem);
        return output;
      },
    ]),
  ) as Record<PipelineFunction, (input: unknown) => Promise<unknown>> satisfies TaskHandlers;
  const executor = await LocalExecutor.load({
    handlers,
    timeFactor: options.timeFactor,
    // WaitForCapacity too: its bound is the clock's (plan.capacityWaitSeconds from the first look), and what it
    // waits for is real — a server stopping.
    realTimeWaits: ["WaitForCandidate", "WaitForCapacity"],
  });
  const executions = new LocalExecutions(executor, options.onTransition);
  const serving = new LocalServing({ home, config });
  // Three hours, as CloudWatch keeps high-resolution datapoints: the report charts a canary's alarms from
  // these samples when it ends. A few probe samples a second per version stay well under a megabyte.
  const series = new MetricSeries({ retentionSeconds: 3 * 3600 });
  // The servers' previous scrapes, from one probe round to the next.
  const traffic = trafficWindowsFor(config);
  const metrics = new LocalMetrics({
    series,
    namespace: config.canaryMetrics.namespace,
    ...(config.canaryMetrics.prometheus ? { prometheus: config.canaryMetrics.prometheus.endpoint } : {}),
    probeRound: async (target) => {
      const round = await probeRound(target, depsNow(), { traffic });
      // Rounds that could not probe published errors; the log says why.
      for (const problem of round.problems ?? [])
        log(`The prober of ${target.model} ${target.version}: ${problem}`);
    },
    log,
  });
  const alarms = new LocalAlarms({
    book: new AlarmBook(series),
    alarmPrefix: config.canaryMetrics.alarmPrefix,
    // The composite is the alarm that rolls back, as the AWS rule matches only composites: acting on each
    // metric alarm too would only repeat an idempotent rollback.
    onAlarm: async (state) => {
      if (!state.name.endsWith("-rollback")) return;
      const outcome = await rollbackReleasingApproval(
        {
          by: "alarm",
          alarmName: state.name,
          alarmPrefix: config.canaryMetrics.alarmPrefix,
          stateValue: "ALARM",
          reason: state.reason,
        },
        depsNow(),
      );
      if (outcome.result !== "rolled back") log(outcome.reason);
      if (outcome.reportProblem) log(outcome.reportProblem);
    },
    log,
  });
  const gateway = await LocalGateway.open({
    home,
    adminSecret: await createAdminSecret(home),
    port: options.gatewayPort ?? config.local.gatewayPort,
    endpointOf: (handle) => serving.endpoint(handle, "probe"),
    replicasOf: (handle) => serving.replicasOf(handle),
  });
  // A replica leaving waits for the gateway's requests to it; the autoscaler measures them.
  serving.countInFlightWith((baseUrl) => gateway.inFlight(baseUrl));
  const events = new JsonlEvents(paths.events);
  const deps: StageDeps = {
    // The prober goes through the gateway, so the faults injected there reach its requests too; the rules
    // that compare a scaled Wait with the alarms' real-time periods see the time factor the Waits run with.
    config: {
      ...config,
      gateway: { ...config.gateway, url: gateway.url },
      local: { ...config.local, timeFactor: options.timeFactor },
    },
    objects: new FolderObjectStore(paths.bucket),
    store: new JsonFileRolloutStore(paths.rollouts),
    events: options.onEvent
      ? {
          emit: async (event) => {
            await events.emit(event);
            options.onEvent?.(event);
          },
        }
      : events,
    clock: { now: () => new Date(), sleep: (ms) => delay(ms) },
    executions,
    serving,
    gateway,
    registry: new LocalRegistry({ home }),
    alarms,
    metrics,
    hooks: new LocalHooks({ home, functions: config.hooks.functions }),
  };
  late.deps = deps;
  alarms.start();
  const opened = deps;
  let restored: string[];
  try {
    restored = await restoreServing(opened, serving, gateway);
  } catch (error) {
    await Promise.allSettled([alarms.close(), metrics.close(), gateway.close(), serving.stopAll()]);
    throw error;
  }

  let closing: Promise<void> | undefined;
  const close = async () => {
    for (const execution of executions.running()) {
      execution.abort();
      await execution.result;
      const outcome = await rollbackReleasingApproval(
        {
          by: "command",
          command: "Abort Requested",
          model: execution.input.rollout.model,
          reason: STOPPING_REASON,
          requestedBy: "modelship (local runtime)",
        },
        opened,
      ).catch((error: unknown) => ({ reason: `rolling it back failed: ${String(error)}` }));
      log(`Stopped the rollout ${execution.name}: ${outcome.reason}`);
    }
    await alarms.close();
    await metrics.close();
    await gateway.close();
    await serving.stopAll();
  };
  return {
    deps: opened,
    executions,
    serving,
    gateway,
    alarms,
    metrics,
    restored,
    close: () => (closing ??= close()),
  };
}

/** The home's stack config: `<home>/config.json` over the defaults; LocalConfigInvalid when it is not one. */
export async function readLocalStackConfig(home: string): Promise<StackConfig> {
  const file = localPaths(home).config;
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
  const { config, findings } = resolveStackConfig(
    withLocalHookDefaults(withLocalServingDefaults(partial)),
    file,
  );
  if (!config) throw new LocalConfigInvalid(file, findings);
  const notCommands = config.hooks.functions.flatMap((fn, i) =>
    fn.command === undefined || fn.arn !== undefined ? [{ fn, i }] : [],
  );
  if (notCommands.length > 0) {
    throw new LocalConfigInvalid(
      file,
      notCommands.map(({ fn, i }) => ({
        severity: "error" as const,
        code: "stack-config.local-hook-function",
        file,
        path: `hooks.functions[${i}]`,
        message: `hook function '${fn.name}' needs a 'command' (and no 'arn'): the local runtime runs a command, not a Lambda function.`,
        hint: `Write {"name": "${fn.name}", "command": ["python3", "/path/to/check.py"]}.`,
      })),
    );
  }
  const prometheus = config.canaryMetrics.prometheus?.endpoint;
  if (prometheus && prometheus.kind !== "url") {
    throw new LocalConfigInvalid(file, [
      {
        severity: "error",
        code: "stack-config.local-prometheus",
        file,
        path: "canaryMetrics.prometheus.endpoint.kind",
        message: `the local runtime reaches a Prometheus by URL only, found kind '${prometheus.kind}' (AMP and a cluster's service proxy are for AWS).`,
        hint: 'Write {"kind": "url", "url": "http://127.0.0.1:9090"} for a Prometheus on this machine, or leave canaryMetrics.prometheus out to scrape the servers.',
      },
    ]);
  }
  return config;
}

/**
 * The local runtime's own serving defaults, under whatever the user's config.json sets: a server on this
 * machine reads its weights from local disk and starts in seconds, so readiness is polled every second, on
 * a budget that still fits a GPU workstation's vLLM (a command template) loading a large model.
 */
const LOCAL_SERVING_DEFAULTS = { readinessPollSeconds: 1, startupBaseSeconds: 300, startupSecondsPerGiB: 10 };

/**
 * URL hooks locally: signed with the home's own key (local-hooks.ts), and plain http allowed to loopback
 * only — a request to 127.0.0.1 never leaves the machine, and a hook script on a laptop should not need a
 * certificate. config.json may still turn either off.
 */
function withLocalHookDefaults(partial: unknown): unknown {
  if (typeof partial !== "object" || partial === null || Array.isArray(partial)) return partial;
  const hooks: unknown = (partial as Record<string, unknown>)["hooks"];
  if (hooks !== undefined && (typeof hooks !== "object" || hooks === null || Array.isArray(hooks)))
    return partial;
  return { ...partial, hooks: { urlHooks: true, loopbackHttp: true, ...(hooks as object | undefined) } };
}

function withLocalServingDefaults(partial: unknown): unknown {
  if (typeof partial !== "object" || partial === null || Array.isArray(partial)) return partial;
  const serving: unknown = (partial as Record<string, unknown>)["serving"];
  if (serving !== undefined && (typeof serving !== "object" || serving === null || Array.isArray(serving))) {
    return partial;
  }
  return { ...partial, serving: { ...LOCAL_SERVING_DEFAULTS, ...(serving as object | undefined) } };
}
