// The prober: what gives the canary's alarms data at any traffic level. Each round sends a few small chat
// requests to the rollout's version and to the version it is compared with, and publishes one observation
// per request — latency, and whether it failed (not 2xx, timed out, or no connection). On AWS a scheduled
// Lambda runs a minute of rounds per invocation (`probeMinute`); locally the control plane runs one round
// per interval (`probeRound`).
//
// Observations are labelled by role in the rollout, as the alarms read them: the rollout's version is the
// `candidate` — also during the watch, when it already serves as the route's stable — and the version it is
// compared with is the `stable` (the previous stable during the watch, still warm). Requests go through the
// gateway with `x-modelship-variant` when `gateway.url` is set and the route holds the version in that
// variant; else straight to the version's server. A route that moved the version while the round ran (a
// promotion, a rollback) makes that version's observations meaningless — a request may have found its
// variant gone — so they are discarded, not published. A round for a rollout that is over publishes
// nothing and stops the prober.

import type { ModelRecord, ServingVersion } from "../core/rollout";
import type { Endpoint, Observation, ProberTarget, Variant } from "../ports";
import type { StageDeps } from "./deps";
import { type DepsUsing, portUse } from "./port-use";
import { OpenAiClient } from "./openai-client";
import { holdsLock } from "./rollout-record";

/**
 * Reads which versions serve the model, reaches them (through the gateway's route, or each version's server
 * by the service proxy), publishes what it measured; stops its own schedule once the rollout is over.
 */
export const PROBE_USES = portUse({
  store: ["get"],
  serving: ["endpoint"],
  gateway: ["describe"],
  metrics: ["publish", "stopProber"],
  clock: ["now"],
});

type ProbeDeps = DepsUsing<typeof PROBE_USES> & Pick<StageDeps, "config">;

export interface ProbeOptions {
  /** Milliseconds a probe may take before it counts as failed. Default: the probe period. */
  readonly timeoutMs?: number;
}

export interface ProbeRound {
  readonly observations: readonly Observation[];
  /** Requests whose version the route moved during the round: not published. */
  readonly discarded?: number;
  /** Set when the rollout is over: nothing was probed and the prober was stopped. */
  readonly stopped?: string;
}

export interface ProbeMinute {
  readonly rounds: number;
  readonly requests: number;
  readonly errors: number;
  readonly stopped?: string;
}

/** A version to probe: its role in the rollout and the variant it holds on the route, if any. */
interface Probe {
  readonly role: Variant;
  readonly serving: ServingVersion;
  readonly routeVariant?: Variant;
}

const VARIANT_HEADER = "x-modelship-variant";
/**
 * Marks a probe: a gateway that records its own traffic (the local one) must not count it twice — the
 * prober publishes its own observation, labelled by rollout role. Faults still apply to it.
 */
const PROBE_HEADER = "x-modelship-probe";
const PROBE_MESSAGES = [{ role: "user" as const, content: "Reply with one word: ready?" }];

export async function probeRound(
  target: ProberTarget,
  deps: ProbeDeps,
  options: ProbeOptions = {},
): Promise<ProbeRound> {
  const record = await deps.store.get(target.model);
  if (!record || !holdsLock(record, target.rolloutId)) {
    await deps.metrics.stopProber(target.model, target.version);
    return {
      observations: [],
      stopped: `Rollout ${target.rolloutId} of ${target.model} ${target.version} is over: its prober stopped itself.`,
    };
  }
  const timeoutMs = options.timeoutMs ?? Math.max(1, target.everySeconds) * 1000;
  const before = await variantHolders(target.model, deps);
  const probes = probesOf(record, target).map((probe) => confirmedByRoute(probe, before));
  const rounds = await Promise.all(probes.map((probe) => probeVersion(probe, target, deps, timeoutMs)));
  const after = await variantHolders(target.model, deps);
  const kept = rounds.filter((_, i) => {
    const variant = probes[i]?.routeVariant;
    return variant === undefined || after.get(variant) === before.get(variant);
  });
  const observations = kept.flat();
  const discarded = rounds.flat().length - observations.length;
  if (observations.length > 0) await deps.metrics.publish(observations);
  return discarded > 0 ? { observations, discarded } : { observations };
}

/**
 * The version each variant's requests reach on the model's route: the first backend of that variant (a
 * previous stable kept warm comes after the one serving). Empty when the prober does not use the gateway.
 */
async function variantHolders(model: string, deps: ProbeDeps): Promise<Map<Variant, string>> {
  const holders = new Map<Variant, string>();
  if (!deps.config.gateway.url) return holders;
  for (const backend of (await deps.gateway.describe(model))?.backends ?? []) {
    if (!holders.has(backend.variant)) holders.set(backend.variant, backend.version);
  }
  return holders;
}

/** Through the gateway only when the variant reaches the version now; else straight to its server. */
function confirmedByRoute(probe: Probe, holders: ReadonlyMap<Variant, string>): Probe {
  if (probe.routeVariant && holders.get(probe.routeVariant) === probe.serving.version) return probe;
  return { role: probe.role, serving: probe.serving };
}

/**
 * A minute of rounds, `target.everySeconds` apart (the Lambda prober is scheduled once a minute, the
 * shortest rate EventBridge Scheduler has). Stops early when the rollout is over.
 */
export async function probeMinute(
  target: ProberTarget,
  deps: ProbeDeps,
  sleep: (ms: number) => Promise<void>,
  options: ProbeOptions = {},
): Promise<ProbeMinute> {
  const periodMs = Math.max(1, target.everySeconds) * 1000;
  const rounds = Math.max(1, Math.floor(60_000 / periodMs));
  let done = 0;
  let requests = 0;
  let errors = 0;
  for (let round = 0; round < rounds; round++) {
    const startedAt = deps.clock.now().getTime();
    const result = await probeRound(target, deps, options);
    if (result.stopped) return { rounds: done, requests, errors, stopped: result.stopped };
    done++;
    requests += result.observations.length;
    errors += result.observations.filter((o) => o.error).length;
    if (round < rounds - 1) await sleep(Math.max(0, periodMs - (deps.clock.now().getTime() - startedAt)));
  }
  return { rounds: done, requests, errors };
}

function probesOf(record: ModelRecord, target: ProberTarget): Probe[] {
  if (record.candidate?.rolloutId === target.rolloutId) {
    return [
      { role: "candidate", serving: record.candidate, routeVariant: "candidate" },
      ...(record.stable
        ? [{ role: "stable" as const, serving: record.stable, routeVariant: "stable" as const }]
        : []),
    ];
  }
  if (record.stable?.rolloutId === target.rolloutId) {
    return [
      { role: "candidate", serving: record.stable, routeVariant: "stable" },
      ...(record.previousStable ? [{ role: "stable" as const, serving: record.previousStable }] : []),
    ];
  }
  return [];
}

async function probeVersion(
  probe: Probe,
  target: ProberTarget,
  deps: ProbeDeps,
  timeoutMs: number,
): Promise<Observation[]> {
  const { version } = probe.serving;
  const observe = (latencyMs: number, error: boolean, at: string): Observation => ({
    model: target.model,
    version,
    variant: probe.role,
    latencyMs: Math.round(latencyMs * 10) / 10,
    error,
    at,
  });
  const at = deps.clock.now().toISOString();
  const startedAt = performance.now();
  let client: OpenAiClient;
  try {
    client = new OpenAiClient(await endpointOf(probe, target, deps), { timeoutMs, retries: 0 });
  } catch {
    // A version whose server cannot even be located fails every probe of the round.
    const failed = observe(performance.now() - startedAt, true, at);
    return Array.from({ length: deps.config.canaryMetrics.probeRequests }, () => failed);
  }
  const generation = { maxTokens: deps.config.canaryMetrics.probeMaxTokens, temperature: 0 };
  return Promise.all(
    Array.from({ length: deps.config.canaryMetrics.probeRequests }, async () => {
      const sentAt = deps.clock.now().toISOString();
      const sent = performance.now();
      const answer = await client.chat(PROBE_MESSAGES, generation);
      const failed = answer.status === undefined || answer.status < 200 || answer.status >= 300;
      return observe(performance.now() - sent, failed, sentAt);
    }),
  );
}

async function endpointOf(probe: Probe, target: ProberTarget, deps: ProbeDeps): Promise<Endpoint> {
  const { url, modelHeader } = deps.config.gateway;
  if (!url || !probe.routeVariant) return deps.serving.endpoint(probe.serving.handle, "probe");
  const base = url.replace(/\/+$/, "");
  return {
    baseUrl: base.endsWith("/v1") ? base : `${base}/v1`,
    headers: {
      [VARIANT_HEADER]: probe.routeVariant,
      [PROBE_HEADER]: "1",
      ...(modelHeader ? { [modelHeader]: target.model } : {}),
    },
    servedName: probe.serving.handle.servedName,
  };
}
