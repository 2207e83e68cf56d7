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
//
// Each round also measures each probed version's real traffic since the last round: every ready pod's own
// `/metrics` is scraped (Serving.scrapeMetrics) and turned into the window's values (TrafficWindows, which
// keeps each pod's previous counters from round to round — across a Lambda container's invocations too), or,
// when the stack names a Prometheus, its PromQL templates are asked for them; the values are published with
// Source `traffic` or `prometheus` (lib/core/alarms/canary-metrics.ts). Pods or queries that fail are counted
// (ScrapeFailures), never turned into values; the route moving does not discard them, since the pods'
// counters do not depend on it.
//
// No data is not health: a round that cannot probe a version — the rollout record or the route cannot be
// read, the version's server cannot be located — publishes each request it would have sent as an error
// (without a latency: none was measured), so the error-rate alarm sees it. It never throws for that; only
// a publish that fails does, since then nothing can be told.

import type { TrafficMetricName } from "../core/alarms/canary-metrics";
import type { PrometheusQueryTemplates, StackConfig } from "../core/config/config";
import { renderPromql } from "../core/prometheus/promql-template";
import type { ModelRecord, ServingVersion } from "../core/rollout/rollout";
import { TrafficWindows } from "../core/prometheus/traffic-window";
import type { Endpoint, Observation, PodMetrics, ProberTarget, TrafficPeriod, Variant } from "../ports";
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
  serving: ["endpoint", "scrapeMetrics"],
  gateway: ["describe"],
  metrics: ["publish", "publishTraffic", "queryPrometheus", "stopProber"],
  clock: ["now"],
});

type ProbeDeps = DepsUsing<typeof PROBE_USES> & Pick<StageDeps, "config">;

export interface ProbeOptions {
  /** Milliseconds a probe may take before it counts as failed. Default: the probe period. */
  readonly timeoutMs?: number;
  /**
   * The pods' previous scrapes, kept from one round to the next (trafficWindowsFor). Without it every round
   * is a first scrape: a baseline, and no real-traffic values.
   */
  readonly traffic?: TrafficWindows;
}

export interface ProbeRound {
  readonly observations: readonly Observation[];
  /** Requests whose version the route moved during the round: not published. */
  readonly discarded?: number;
  /** Set when the rollout is over: nothing was probed and the prober was stopped. */
  readonly stopped?: string;
  /** What kept the round from probing (its requests were published as errors) or from reading traffic. */
  readonly problems?: readonly string[];
  /** The windows of real traffic published. */
  readonly traffic?: readonly TrafficPeriod[];
}

export interface ProbeMinute {
  readonly rounds: number;
  readonly requests: number;
  readonly errors: number;
  readonly stopped?: string;
  /** Each distinct problem of the minute's rounds, at most MAX_PROBLEMS of them. */
  readonly problems?: readonly string[];
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
/** A previous scrape older than this many probe periods is not taken an increase over. */
const TRAFFIC_MAX_AGE_PERIODS = 2.5;
/** Each Prometheus query's key, the metric its answer is published as, and what to multiply it by. */
const PROMETHEUS_METRICS: readonly (readonly [keyof PrometheusQueryTemplates, TrafficMetricName, number])[] =
  [
    ["requests", "Requests", 1],
    ["errors", "Errors", 1],
    ["aborted", "Aborted", 1],
    ["latencyP95Seconds", "LatencyP95", 1000],
    ["ttftP95Seconds", "TtftP95", 1000],
    ["itlP95Seconds", "ItlP95", 1000],
    ["queueTimeP95Seconds", "QueueTimeP95", 1000],
    ["requestsWaiting", "RequestsWaiting", 1],
  ];
/** Problems a minute reports, so a log line stays readable when every round fails the same way. */
const MAX_PROBLEMS = 5;

export async function probeRound(
  target: ProberTarget,
  deps: ProbeDeps,
  options: ProbeOptions = {},
): Promise<ProbeRound> {
  let record: ModelRecord | undefined;
  try {
    record = await deps.store.get(target.model);
  } catch (error) {
    // Whether the rollout still runs is unknown, so its version still counts as reachable by traffic.
    const problem = `The rollout record of ${target.model} could not be read: ${messageOf(error)}`;
    return publishUnprobed([{ role: "candidate", version: target.version }], target, deps, [problem]);
  }
  if (!record || !holdsLock(record, target.rolloutId)) {
    await deps.metrics.stopProber(target.model, target.version);
    return {
      observations: [],
      stopped: `Rollout ${target.rolloutId} of ${target.model} ${target.version} is over: its prober stopped itself.`,
    };
  }
  const timeoutMs = options.timeoutMs ?? Math.max(1, target.everySeconds) * 1000;
  const planned = probesOf(record, target);
  const traffic = measureTraffic(planned, target, deps, options.traffic ?? trafficWindowsFor(deps.config));
  const before = await variantHolders(target.model, deps);
  if ("problem" in before) {
    const versions = planned.map((p) => ({ role: p.role, version: p.serving.version }));
    const unprobed = await publishUnprobed(versions, target, deps, [before.problem]);
    return withTraffic(unprobed, await traffic);
  }
  const probes = planned.map((probe) => confirmedByRoute(probe, before.holders));
  const rounds = await Promise.all(probes.map((probe) => probeVersion(probe, target, deps, timeoutMs)));
  const after = probes.some((p) => p.routeVariant) ? await variantHolders(target.model, deps) : before;
  const problems = "problem" in after ? [after.problem] : [];
  const observations: Observation[] = [];
  let discarded = 0;
  rounds.forEach((round, i) => {
    const variant = probes[i]?.routeVariant;
    if (variant === undefined) observations.push(...round);
    else if ("problem" in after) observations.push(...round.map(unconfirmed));
    else if (after.holders.get(variant) === before.holders.get(variant)) observations.push(...round);
    else discarded += round.length;
  });
  if (observations.length > 0) await deps.metrics.publish(observations);
  return withTraffic(
    {
      observations,
      ...(discarded > 0 ? { discarded } : {}),
      ...(problems.length > 0 ? { problems } : {}),
    },
    await traffic,
  );
}

/** The pods' previous scrapes for a stack's probe rounds: an increase is taken over at most 2.5 periods. */
export function trafficWindowsFor(config: Pick<StackConfig, "canaryMetrics">): TrafficWindows {
  return new TrafficWindows({
    maxAgeMs: TRAFFIC_MAX_AGE_PERIODS * Math.max(1, config.canaryMetrics.probeEverySeconds) * 1000,
  });
}

function withTraffic(
  round: ProbeRound,
  traffic: { readonly periods: readonly TrafficPeriod[]; readonly problems: readonly string[] },
): ProbeRound {
  const problems = [...(round.problems ?? []), ...traffic.problems];
  return {
    ...round,
    ...(problems.length > 0 ? { problems } : {}),
    ...(traffic.periods.length > 0 ? { traffic: traffic.periods } : {}),
  };
}

/**
 * Each version's real traffic since the last round — from its pods' metrics, or from the stack's
 * Prometheus — published; what could not be read is counted as ScrapeFailures and told as problems.
 */
async function measureTraffic(
  probes: readonly Probe[],
  target: ProberTarget,
  deps: ProbeDeps,
  windows: TrafficWindows,
): Promise<{ readonly periods: TrafficPeriod[]; readonly problems: string[] }> {
  const at = deps.clock.now();
  const prometheus = deps.config.canaryMetrics.prometheus;
  const measured = await Promise.all(
    probes.map(async (probe) => {
      const { version } = probe.serving;
      const base = { model: target.model, version, variant: probe.role, at: at.toISOString() };
      if (prometheus) {
        const read = await prometheusValues(prometheus.queries, probe, target, deps, at);
        return {
          period: { ...base, source: "prometheus" as const, values: read.values },
          problems: read.problems,
        };
      }
      let scrapes: PodMetrics[];
      try {
        scrapes = await deps.serving.scrapeMetrics(probe.serving.handle);
      } catch (error) {
        scrapes = [{ pod: "(all)", error: `the pods could not be listed: ${messageOf(error)}` }];
      }
      const window = windows.next(`${target.model} ${version}`, scrapes, at.getTime());
      return {
        period: { ...base, source: "traffic" as const, values: window.values },
        problems: window.report.problems.map(
          (problem) => `Real traffic of ${target.model} ${version}: ${problem}`,
        ),
      };
    }),
  );
  const periods = measured.map((m) => m.period);
  if (periods.length > 0) await deps.metrics.publishTraffic(periods);
  return { periods, problems: measured.flatMap((m) => m.problems) };
}

/** Each configured query's answer for one version and window; a query that fails is a ScrapeFailure. */
async function prometheusValues(
  queries: PrometheusQueryTemplates,
  probe: Probe,
  target: ProberTarget,
  deps: ProbeDeps,
  at: Date,
): Promise<{ readonly values: Partial<Record<TrafficMetricName, number>>; readonly problems: string[] }> {
  const values: Partial<Record<TrafficMetricName, number>> = {};
  const problems: string[] = [];
  let failures = 0;
  await Promise.all(
    PROMETHEUS_METRICS.map(async ([key, metric, scale]) => {
      const template = queries[key];
      if (template === undefined) return;
      try {
        const query = renderPromql(template, {
          model: target.model,
          version: probe.serving.version,
          variant: probe.role,
          windowSeconds: target.everySeconds,
        });
        const answer = await deps.metrics.queryPrometheus(query, at);
        if (answer !== undefined && answer >= 0) values[metric] = Math.round(answer * scale * 1000) / 1000;
      } catch (error) {
        failures++;
        problems.push(
          `Real traffic of ${target.model} ${probe.serving.version}: query ${key}: ${messageOf(error)}`,
        );
      }
    }),
  );
  return { values: { ...values, ScrapeFailures: failures }, problems };
}

/**
 * Every request the round would have sent to these versions, published as an error without a latency:
 * a version that could not be probed must never look healthy to the alarms.
 */
async function publishUnprobed(
  versions: readonly { readonly role: Variant; readonly version: string }[],
  target: ProberTarget,
  deps: ProbeDeps,
  problems: readonly string[],
): Promise<ProbeRound> {
  const at = deps.clock.now().toISOString();
  const observations = versions.flatMap(({ role, version }) =>
    Array.from({ length: deps.config.canaryMetrics.probeRequests }, (): Observation => ({
      model: target.model,
      version,
      variant: role,
      error: true,
      at,
    })),
  );
  if (observations.length > 0) await deps.metrics.publish(observations);
  return { observations, problems };
}

/** A probe whose route could not be read again after it: nobody can say which version it measured. */
function unconfirmed(observation: Observation): Observation {
  return {
    model: observation.model,
    version: observation.version,
    variant: observation.variant,
    error: true,
    at: observation.at,
  };
}

/**
 * The version each variant's requests reach on the model's route: the first backend of that variant (a
 * previous stable kept warm comes after the one serving). Empty when the prober does not use the gateway.
 */
async function variantHolders(
  model: string,
  deps: ProbeDeps,
): Promise<{ readonly holders: ReadonlyMap<Variant, string> } | { readonly problem: string }> {
  const holders = new Map<Variant, string>();
  if (!deps.config.gateway.url) return { holders };
  let route;
  try {
    route = await deps.gateway.describe(model);
  } catch (error) {
    return { problem: `The route of ${model} could not be read: ${messageOf(error)}` };
  }
  for (const backend of route?.backends ?? []) {
    if (!holders.has(backend.variant)) holders.set(backend.variant, backend.version);
  }
  return { holders };
}

/** Through the gateway only when the variant reaches the version now; else straight to its server. */
function confirmedByRoute(probe: Probe, holders: ReadonlyMap<Variant, string>): Probe {
  if (probe.routeVariant && holders.get(probe.routeVariant) === probe.serving.version) return probe;
  return { role: probe.role, serving: probe.serving };
}

/**
 * A minute of rounds, `target.everySeconds` apart (the Lambda prober is scheduled once a minute, the
 * shortest rate EventBridge Scheduler has), sharing the pods' previous scrapes. Stops early when the
 * rollout is over.
 */
export async function probeMinute(
  target: ProberTarget,
  deps: ProbeDeps,
  sleep: (ms: number) => Promise<void>,
  options: ProbeOptions = {},
): Promise<ProbeMinute> {
  const periodMs = Math.max(1, target.everySeconds) * 1000;
  const rounds = Math.max(1, Math.floor(60_000 / periodMs));
  const traffic = options.traffic ?? trafficWindowsFor(deps.config);
  let done = 0;
  let requests = 0;
  let errors = 0;
  const problems = new Set<string>();
  const summary = () => ({
    rounds: done,
    requests,
    errors,
    ...(problems.size > 0 ? { problems: [...problems].slice(0, MAX_PROBLEMS) } : {}),
  });
  for (let round = 0; round < rounds; round++) {
    const startedAt = deps.clock.now().getTime();
    const result = await probeRound(target, deps, { ...options, traffic });
    if (result.stopped) return { ...summary(), stopped: result.stopped };
    done++;
    requests += result.observations.length;
    errors += result.observations.filter((o) => o.error).length;
    for (const problem of result.problems ?? []) problems.add(problem);
    if (round < rounds - 1) await sleep(Math.max(0, periodMs - (deps.clock.now().getTime() - startedAt)));
  }
  return summary();
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
  const observe = (latencyMs: number | undefined, error: boolean, at: string): Observation => ({
    model: target.model,
    version,
    variant: probe.role,
    ...(latencyMs === undefined ? {} : { latencyMs: Math.round(latencyMs * 10) / 10 }),
    error,
    at,
  });
  const at = deps.clock.now().toISOString();
  let client: OpenAiClient;
  try {
    client = new OpenAiClient(await endpointOf(probe, target, deps), { timeoutMs, retries: 0 });
  } catch {
    // A version whose server cannot even be located fails every probe of the round; nothing was timed.
    const failed = observe(undefined, true, at);
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

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
