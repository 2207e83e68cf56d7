// A rollback that nothing can undo (DESIGN §8, ownership). For every stage from RegisterGateway on, and
// every await point inside it — each call the stage makes to a port, and the moment it returns — the stage is
// paused there while a command runs to its end: a rollback, an abort or a promotion. Then the stage goes on,
// and the real definition (statemachines/pipeline.asl.json, run by the local executor) takes the execution to
// its end with the real canary stages on an in-memory world. Whatever the interleaving, the end is one of the
// two a user may expect: rolled back (the old stable alone at 100%, the candidate's workload, alarms and
// prober gone, its registry entry Rejected, the lock free, one "Model Rolled Back") or — for a rollback that
// came after Finalize had claimed the rollout's end — finished (the new version alone at 100%, the old one
// retired, no rollback). A promotion requested at any point ends finished.

import { describe, expect, it } from "vitest";
import type { PipelineFunction } from "../../lib/core/state-machine/pipeline-functions";
import type { ExecutionState } from "../../lib/core/rollout/rollout";
import { type ExecutionResult, LocalExecutor } from "../../lib/local/executor";
import { canaryStep } from "../../lib/pipeline/canary-step";
import { checkCanary } from "../../lib/pipeline/check-canary";
import { cleanup } from "../../lib/pipeline/cleanup";
import { type CommandName, type CommandOutcome, handleCommand } from "../../lib/pipeline/commands";
import type { StageDeps } from "../../lib/pipeline/deps";
import { finalize } from "../../lib/pipeline/finalize";
import { promote } from "../../lib/pipeline/promote";
import { registerGateway } from "../../lib/pipeline/register-gateway";
import { stateMachineRollback } from "../../lib/pipeline/rollback";
import {
  CANARY_FLOW as flow,
  type CanaryWorld,
  canaryWorld,
  MODEL,
  rolloutThroughGates,
} from "../support/canary-world";
import { definitionJson } from "./test-stages";

/** Where to pause: the `invocation`th call (0-based) of a pipeline function, at its `at`th port call. */
interface Pause {
  readonly fn: PipelineFunction;
  readonly invocation: number;
  readonly at: number;
}

/** Every port, so each call a stage makes is an await point the test can pause at. */
const PORTS = ["objects", "store", "events", "serving", "gateway", "registry", "alarms", "metrics"] as const;

/**
 * The world as the paused stage sees it: each port call of the chosen invocation counts, and the one at the
 * pause runs `interleave` to its end first. Everything else — other stages, the command itself — sees the
 * world directly.
 */
function pausingDeps(
  world: CanaryWorld,
  counter: { calls: number; active: boolean },
  pause: Pause,
  interleave: () => Promise<void>,
): StageDeps {
  const deps: Record<string, unknown> = { ...world };
  for (const name of PORTS) {
    const port = world[name] as unknown as Record<string, unknown>;
    deps[name] = new Proxy(port, {
      get(target, key) {
        const value = Reflect.get(target, key, target) as unknown;
        if (typeof value !== "function") return value;
        return async (...args: unknown[]) => {
          if (counter.active && counter.calls++ === pause.at) await interleave();
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
  }
  return deps as unknown as StageDeps;
}

interface Outcome {
  readonly result: ExecutionResult;
  readonly world: CanaryWorld;
  /** What the interleaved command answered, once it ran. */
  readonly command?: CommandOutcome;
  /** Port calls the paused invocation made (to enumerate the pause points). */
  readonly calls: number;
  readonly v1: string;
  readonly v2: string;
  readonly rolloutId: string;
}

async function releaseV1(world: CanaryWorld): Promise<string> {
  let state = await flow.registerGateway(await rolloutThroughGates(world, "v1"), world);
  state = await flow.promote(state, world);
  await flow.finalize(await flow.checkWatch(state, world), world);
  return (await world.store.get(MODEL))?.stable?.handle.id ?? "";
}

/**
 * v1 serves; v2 is through its gates and the definition runs from Prepare to its end, the canary stages for
 * real. The stages before RegisterGateway hand back what the real ones returned for v2 (rolloutThroughGates).
 */
async function runRollout(
  pause: Pause | undefined,
  command: CommandName,
  firstRelease = false,
): Promise<Outcome> {
  const world = canaryWorld();
  const v1 = firstRelease ? "" : await releaseV1(world);
  world.events.emitted.length = 0;
  const gated = await rolloutThroughGates(world, firstRelease ? "v1" : "v2");
  const v2 = (gated.candidate as { handle: { id: string } }).handle.id;

  const counter = { calls: 0, active: false };
  const invocations = new Map<PipelineFunction, number>();
  let commandOutcome: CommandOutcome | undefined;
  const interleave = async () => {
    commandOutcome ??= await handleCommand(
      { "detail-type": command, detail: { model: MODEL, reason: "interleaving test", requestedBy: "test" } },
      world,
    );
  };
  const paused = pause ? pausingDeps(world, counter, pause, interleave) : (world as StageDeps);
  const real =
    (fn: PipelineFunction, run: (state: ExecutionState, deps: StageDeps) => Promise<unknown>) =>
    async (input: unknown) => {
      const invocation = invocations.get(fn) ?? 0;
      invocations.set(fn, invocation + 1);
      const chosen = pause?.fn === fn && pause.invocation === invocation;
      counter.active = chosen;
      try {
        const output = await run(input as ExecutionState, chosen ? paused : world);
        // The last await point: the stage has returned, the state machine has not moved on yet.
        if (chosen && counter.calls === pause.at) await interleave();
        return output;
      } finally {
        if (chosen) counter.active = false;
      }
    };
  const given = (value: unknown) => async () => value;
  const executor = new LocalExecutor(definitionJson, {
    timeFactor: 0,
    handlers: {
      Prepare: given({ manifest: gated.manifest, plan: gated.plan }),
      Validate: given(gated.validation),
      DeployCandidate: given((gated.candidate as { handle: unknown }).handle),
      CheckCandidate: given({ phase: "ready", readySeconds: 12 }),
      SmokeTest: given(gated.smoke),
      StressWorker: given({}),
      MergeStress: given({}),
      EvalShard: given({}),
      MergeEval: given({}),
      RegisterGateway: real("RegisterGateway", registerGateway),
      RunHooks: given({ results: [] }),
      RequestApproval: () =>
        Promise.reject(new Error("Not reached: these rollouts are approved automatically.")),
      Shadow: () => Promise.reject(new Error("Not reached: these rollouts have no shadow.")),
      CanaryStep: real("CanaryStep", canaryStep),
      CheckCanary: real("CheckCanary", checkCanary),
      Promote: real("Promote", promote),
      Finalize: real("Finalize", finalize),
      Rollback: real("Rollback", stateMachineRollback),
      Cleanup: real("Cleanup", cleanup),
    },
  });
  const result = await executor.run(
    { rollout: gated.rollout },
    { executionId: gated.rollout.executionId ?? "", name: gated.rollout.id },
  ).result;
  return {
    result,
    world,
    ...(commandOutcome && { command: commandOutcome }),
    calls: counter.calls,
    v1,
    v2,
    rolloutId: gated.rollout.id,
  };
}

/** Rolled back: v1 alone at 100% (a first release: no route), v2 gone everywhere, the lock free, one announcement. */
async function expectRolledBack(
  { result, world, v1, v2, rolloutId }: Outcome,
  firstRelease: boolean,
): Promise<void> {
  expect(result.status).toBe("FAILED");
  expect(world.gateway.weightsOf(MODEL)).toEqual(firstRelease ? {} : { v1: 100 });
  expect(world.serving.running).toEqual(firstRelease ? [] : [v1]);
  expect(world.serving.running).not.toContain(v2);
  expect(world.alarms.names).toEqual([]);
  expect(world.metrics.running).toEqual([]);
  const version = firstRelease ? "v1" : "v2";
  // Stopped before RegisterGateway reached the registry, there is no entry to reject.
  expect([undefined, "Rejected"]).toContain(world.registry.entry(MODEL, version)?.status);
  const record = await world.store.get(MODEL);
  expect(record?.lock).toBeUndefined();
  expect(record?.stableVersion).toBe(firstRelease ? undefined : "v1");
  expect(record?.candidate).toBeUndefined();
  expect(record?.alarmNames).toBeUndefined();
  // Events are at-least-once: a "Model Promoted" that the rollback announced for a paused Promote may be
  // announced by Promote again; the end is announced exactly once.
  expect(world.events.ofType("Model Rolled Back")).toHaveLength(1);
  expect(await world.store.pendingEvents(MODEL, rolloutId)).toEqual([]);
}

/** Finished: v2 alone at 100%, v1 retired, approved, the lock free, no rollback. */
async function expectFinished(
  { result, world, v1, v2, rolloutId }: Outcome,
  firstRelease: boolean,
): Promise<void> {
  expect(result.status).toBe("SUCCEEDED");
  const version = firstRelease ? "v1" : "v2";
  expect(world.gateway.weightsOf(MODEL)).toEqual({ [version]: 100 });
  expect(world.serving.running).toEqual([v2]);
  if (!firstRelease) expect(world.serving.removed).toContain(v1);
  expect(world.alarms.names).toEqual([]);
  expect(world.metrics.running).toEqual([]);
  expect(world.registry.entry(MODEL, version)?.status).toBe("Approved");
  const record = await world.store.get(MODEL);
  expect(record?.lock).toBeUndefined();
  expect(record).toMatchObject({ stableVersion: version, status: "promoted" });
  expect(world.events.ofType("Model Rolled Back")).toHaveLength(0);
  expect(world.events.ofType("Model Promoted")).toHaveLength(1);
  expect(await world.store.pendingEvents(MODEL, rolloutId)).toEqual([]);
}

/** The stages after the gates, each invocation of them the flow makes (steps 10 → 50 → 100, then the watch). */
const CANARY_STAGES: readonly Omit<Pause, "at">[] = [
  { fn: "RegisterGateway", invocation: 0 },
  { fn: "CanaryStep", invocation: 0 },
  { fn: "CheckCanary", invocation: 0 },
  { fn: "CanaryStep", invocation: 1 },
  { fn: "CanaryStep", invocation: 2 },
  { fn: "CheckCanary", invocation: 2 },
  { fn: "Promote", invocation: 0 },
  // The fourth call of CheckCanary is the CheckWatch state.
  { fn: "CheckCanary", invocation: 3 },
  { fn: "Finalize", invocation: 0 },
];
const FIRST_RELEASE_STAGES: readonly Omit<Pause, "at">[] = [
  { fn: "RegisterGateway", invocation: 0 },
  { fn: "Promote", invocation: 0 },
  { fn: "CheckCanary", invocation: 0 },
  { fn: "Finalize", invocation: 0 },
];

function label({ fn, invocation }: Omit<Pause, "at">): string {
  return invocation === 0 ? fn : `${fn} (call ${invocation + 1})`;
}

/** Every await point of the stage: its port calls, counted on an uninterrupted run, and its return. */
async function pausePoints(stage: Omit<Pause, "at">, firstRelease: boolean): Promise<number[]> {
  const run = await runRollout({ ...stage, at: Number.MAX_SAFE_INTEGER }, "Promote Requested", firstRelease);
  expect(run.result.status, `the uninterrupted rollout of ${label(stage)}`).toBe("SUCCEEDED");
  expect(run.calls, `${label(stage)} calls ports`).toBeGreaterThan(0);
  return Array.from({ length: run.calls + 1 }, (_, at) => at);
}

for (const [release, stages] of [
  ["a canary", CANARY_STAGES],
  ["a first release", FIRST_RELEASE_STAGES],
] as const) {
  const firstRelease = release === "a first release";
  describe(`A command at every await point of every stage after the gates, in ${release}`, () => {
    for (const stage of stages) {
      for (const command of ["Rollback Requested", "Abort Requested"] as const) {
        it(`${label(stage)}: ${command} ends rolled back (or, once Finalize claimed the end, finished) with nothing undone or left`, async () => {
          for (const at of await pausePoints(stage, firstRelease)) {
            const outcome = await runRollout({ ...stage, at }, command, firstRelease);
            const where = `${command} at await point ${at} of ${label(stage)}`;
            expect(outcome.command, where).toBeDefined();
            if (outcome.command?.status === "done") {
              await expectRolledBack(outcome, firstRelease).catch((error: Error) => {
                throw new Error(`${where}: ${error.message}`);
              });
            } else {
              // Only a rollback that comes after Finalize claimed the rollout's end, or after it ended, is refused.
              expect(stage.fn, `${where}: ${outcome.command?.message}`).toBe("Finalize");
              expect(outcome.command?.message, where).toMatch(
                /Finalize has been ending it|No rollout of llama is running/,
              );
              await expectFinished(outcome, firstRelease).catch((error: Error) => {
                throw new Error(`${where}: ${error.message}`);
              });
            }
          }
        });
      }
      it(`${label(stage)}: Promote Requested ends finished, whatever the await point`, async () => {
        for (const at of await pausePoints(stage, firstRelease)) {
          const outcome = await runRollout({ ...stage, at }, "Promote Requested", firstRelease);
          await expectFinished(outcome, firstRelease).catch((error: Error) => {
            throw new Error(
              `Promote Requested at await point ${at} of ${label(stage)} (${outcome.command?.message}): ${error.message}`,
            );
          });
        }
      });
    }
  });
}
