// The RegisterGateway stage: puts the candidate that passed its gates on the model's route — at weight 0,
// with the `x-modelship-variant: candidate` rule for test traffic; the route is created on a first release —
// and registers the version in the model registry (PendingManualApproval) with where its weights are, the
// URIs of its reports and a summary of each gate. The rollout record then names the candidate's workload, so
// a rollback from anywhere (an alarm, a command) can reach it. Both changes are fenced and the record is
// written only while the rollout owns the model (lib/pipeline/rollout-fence.ts): a rollout aborted meanwhile
// takes its candidate off the route and rejects its registry entry again, and stops. Idempotent: the gateway
// and the registry adopt what exists, and the record and the event are written once.
//
// Any failure but a passing one (Transient, retried by the state machine) is GatewayFailed; its Catch goes
// to Cleanup, which also takes the candidate off the route.

import { GatewayFailed, ModelshipError } from "../core/errors";
import type { ExecutionState } from "../core/rollout/rollout";
import { ANNOUNCE_USES, announcePending } from "./announce";
import { candidateProgress } from "./candidate-state";
import { combinedUse, type DepsUsing, portUse } from "./port-use";
import { rolloutEvent } from "./events";
import { FENCE_USES, RolloutFence } from "./rollout-fence";
import { recordedTransition } from "./rollout-record";
import { REGISTRY_UNDO_USES, registryUndo, ROUTE_UNDO_USES, routeUndo } from "./stage-undos";
import { runningTransition } from "./running-transition";

export const REGISTER_GATEWAY_USES = combinedUse(
  FENCE_USES,
  ANNOUNCE_USES,
  ROUTE_UNDO_USES,
  REGISTRY_UNDO_USES,
  portUse({
    gateway: ["register"],
    registry: ["register"],
    store: ["get", "record"],
    events: ["emit"],
    clock: ["now"],
    objects: { location: [] },
  }),
);

type RegisterGatewayDeps = DepsUsing<typeof REGISTER_GATEWAY_USES>;

/** `$.gateway`: small, for the state. */
export interface GatewayRegistration {
  /** The route the candidate joined: the model's. */
  readonly route: string;
  readonly registryId: string;
  readonly artifactUri: string;
}

const STAGE = "RegisterGateway";
/** The model registry keeps metadata values up to 256 characters (SageMaker's CustomerMetadataProperties). */
const MAX_METADATA_CHARS = 256;
const GATES = ["validation", "smoke", "stress", "eval"] as const;

export async function registerGateway(
  state: ExecutionState,
  deps: RegisterGatewayDeps,
): Promise<GatewayRegistration> {
  const { rollout } = state;
  const { handle } = candidateProgress(state, STAGE);
  const fence = new RolloutFence(deps.store, rollout, STAGE);
  const before = await fence.check();

  await named(
    () =>
      fence.act(
        () => deps.gateway.register(rollout.model, handle, state.manifest?.rollout.stickiness),
        routeUndo(deps.gateway, rollout.model, rollout.version, before.stable?.version),
      ),
    `Could not add ${rollout.model} ${rollout.version} to the model's route`,
    "Check that the gateway's route resource exists and that modelship may edit it (on EKS: the Gateway API CRDs and the HTTPRoute in the stack's namespace); Cleanup removed the candidate.",
  );
  const artifactUri = `${deps.objects.location}/${rollout.source.prefix}`;
  const reportUris = reportUrisOf(state, deps.objects.location);
  const { id: registryId } = await named(
    () =>
      fence.act(
        () =>
          deps.registry.register({
            model: rollout.model,
            version: rollout.version,
            rolloutId: rollout.id,
            artifactUri,
            reportUris,
            metadata: gateSummaries(state),
          }),
        registryUndo(deps.registry, rollout.model, rollout.version, `Rolled back while ${STAGE} ran.`),
      ),
    `Could not register ${rollout.model} ${rollout.version} in the model registry`,
    "Check the model registry (on AWS: the SageMaker model package group named after the model) and modelship's access to it; Cleanup removed the candidate and its route entry.",
  );

  if (!recordedTransition(before, rollout.id, STAGE)) {
    const message = `${rollout.model} ${rollout.version} joined the model's route at 0% (test traffic: header x-modelship-variant: candidate) and was registered as ${registryId}, pending approval.`;
    await fence.record(
      runningTransition(rollout, STAGE, message, deps.clock),
      { candidate: { version: rollout.version, rolloutId: rollout.id, handle } },
      {
        announce: [
          rolloutEvent("Stage Succeeded", rollout, STAGE, message, deps.clock, {
            data: { registryId, artifactUri, reportUris },
          }),
        ],
      },
    );
  }
  await announcePending(deps, rollout.model, rollout.id);
  return { route: rollout.model, registryId, artifactUri };
}

/** The URI of each gate's report (`reportKey` in its result), for the gates that wrote one. */
export function reportUrisOf(state: ExecutionState, location: string): Record<string, string> {
  const uris: Record<string, string> = {};
  for (const gate of GATES) {
    const key = (state[gate] as { reportKey?: unknown } | undefined)?.reportKey;
    if (typeof key === "string" && key !== "") uris[gate] = `${location}/${key}`;
  }
  // The last gate to run wrote the page over every report before it.
  const page = [state.eval, state.stress].map((r) => r?.["pageKey"]).find((k) => typeof k === "string");
  if (typeof page === "string") uris["page"] = `${location}/${page}`;
  return uris;
}

/** One line per gate that ran, as the registry's metadata. */
export function gateSummaries(state: ExecutionState): Record<string, string> {
  const { rollout, validation, smoke } = state;
  const summaries: Record<string, string> = { rolloutId: rollout.id };
  if (rollout.executionId) summaries["executionId"] = rollout.executionId;
  if (validation) {
    const dtypes = Object.keys(validation.dtypes).join("/");
    summaries["validation"] =
      `${validation.parameters} parameters${dtypes ? ` (${dtypes})` : ""}, ${validation.format}, ${validation.weightBytes} bytes of weights, ${validation.gpu.gpus} GPU(s), ${validation.warnings} warning(s)`;
  }
  if (smoke) {
    const checks = Array.isArray(smoke["verdicts"]) ? smoke["verdicts"].length : undefined;
    const measured = [
      typeof smoke["ttftMs"] === "number" ? `first token ${smoke["ttftMs"]} ms` : undefined,
      typeof smoke["tokensPerSecond"] === "number" ? `${smoke["tokensPerSecond"]} tokens/s` : undefined,
    ].filter(Boolean);
    summaries["smoke"] = [`passed${checks === undefined ? "" : ` ${checks} checks`}`, ...measured].join(", ");
  }
  for (const gate of ["stress", "eval"] as const) {
    const result = state[gate];
    if (result === undefined) continue;
    const summary = result["summary"];
    summaries[gate] = typeof summary === "string" ? summary : JSON.stringify(result);
  }
  return Object.fromEntries(
    Object.entries(summaries).map(([key, value]) => [
      key,
      value.length > MAX_METADATA_CHARS ? `${value.slice(0, MAX_METADATA_CHARS - 1)}…` : value,
    ]),
  );
}

/** Runs `call`; a failure that is not already named (Transient, GatewayFailed …) becomes GatewayFailed. */
async function named<T>(call: () => Promise<T>, what: string, hint: string): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof ModelshipError) throw error;
    const message = error instanceof Error ? error.message.split("\n")[0] : String(error);
    throw new GatewayFailed(`${what}: ${message}`, { hint, cause: error });
  }
}
