// LocalAlarms over the real AlarmBook and MetricSeries, on fake time: a breach recorded in the series (by
// LocalMetrics, as the gateway records requests) turns the canary's alarms to ALARM at the end of the period
// that completes M of N, and `onAlarm` — the control plane's Rollback — is called once per transition.

import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { AlarmSpec, AlarmState } from "../../lib/core/alarms/alarm-spec";
import { AlarmBook } from "../../lib/core/alarms/alarm-evaluator";
import { MetricSeries } from "../../lib/core/alarms/metric-series";
import { LocalAlarms } from "../../lib/local/local-alarms";
import { LocalMetrics } from "../../lib/local/local-metrics";
import { canarySpecs } from "../support/canary-alarm-specs";

/** A period boundary: 10-second periods start at whole multiples of 10 s since the epoch. */
const START = new Date("2026-03-01T12:00:00.000Z");
const PERIOD_MS = 10_000;

const { specs, alarmNames } = canarySpecs({
  model: "chat",
  armedAt: START,
  alarms: { vsStable: undefined, sources: { latencyP95Ms: "probe", errorRate: "probe", vsStable: "probe" } },
});
const LATENCY = "modelship-chat-v2-latency-p95-probe";
const ROLLBACK = "modelship-chat-v2-rollback";

let calls: { state: AlarmState; spec: AlarmSpec }[];
let logged: string[];
let metrics: LocalMetrics;
let alarms: LocalAlarms;
let onAlarm: (state: AlarmState, spec: AlarmSpec) => void | Promise<void>;

beforeEach(() => {
  vi.useFakeTimers({ now: START });
  calls = [];
  logged = [];
  onAlarm = (state, spec) => void calls.push({ state, spec });
  const series = new MetricSeries();
  metrics = new LocalMetrics({ series, namespace: "modelship", probeRound: async () => {}, log: () => {} });
  alarms = new LocalAlarms({
    book: new AlarmBook(series),
    onAlarm: (state, spec) => onAlarm(state, spec),
    log: (message) => void logged.push(message),
  });
});

afterEach(async () => {
  await alarms.close();
  vi.useRealTimers();
});

/** Requests to the candidate during the current period, then time runs to just before the next boundary. */
async function periodOf(latencyMs: number, requests = 4): Promise<void> {
  const at = new Date(Date.now() + 1).toISOString();
  await metrics.publish(
    Array.from({ length: requests }, () => ({
      model: "chat",
      version: "v2",
      variant: "candidate" as const,
      latencyMs,
      error: false,
      at,
    })),
  );
  await vi.advanceTimersByTimeAsync(PERIOD_MS - (Date.now() % PERIOD_MS) - 1);
}

/** Crosses the period boundary and gives the loop up to `ms` to act. */
async function crossBoundary(ms: number): Promise<void> {
  await vi.advanceTimersByTimeAsync(1 + ms);
}

describe("LocalAlarms", () => {
  it("calls onAlarm once per alarm that goes into ALARM, within a loop interval of the period boundary", async () => {
    await alarms.ensure(specs);
    alarms.start(250);
    await periodOf(5000);
    await crossBoundary(250);
    await periodOf(5000);
    await crossBoundary(250);
    await periodOf(5000);
    // The third breaching period has not ended: nothing fires before its boundary.
    expect(calls).toEqual([]);
    await crossBoundary(250);
    expect(calls.map((c) => c.state.name)).toEqual([LATENCY, ROLLBACK]);
    expect(calls[0]?.state).toMatchObject({ state: "ALARM", value: 5000, threshold: 2000 });
    expect(calls[0]?.spec).toEqual(specs.find((s) => s.name === LATENCY));
    expect(calls[1]?.spec.kind).toBe("composite");

    // Still breaching: still ALARM, no new transition, no new call.
    await periodOf(5000);
    await crossBoundary(250);
    await periodOf(5000);
    await crossBoundary(250);
    expect(calls).toHaveLength(2);
    expect(await alarms.states([LATENCY, ROLLBACK])).toMatchObject([{ state: "ALARM" }, { state: "ALARM" }]);
  });

  it("answers, for an OK alarm whose newest period is over its threshold, how many of its periods breach and the count it takes", async () => {
    await alarms.ensure(specs);
    alarms.start(250);
    for (const latency of [100, 5000, 5000]) {
      await periodOf(latency);
      await crossBoundary(250);
    }
    const [latency] = await alarms.states([LATENCY]);
    expect(latency).toMatchObject({ state: "OK", value: 5000, threshold: 2000 });
    expect(latency?.evaluation).toEqual({
      evaluationPeriods: 3,
      datapointsToAlarm: 3,
      breaching: 2,
      noData: 0,
      treatMissingData: "notBreaching",
    });
    expect(calls).toEqual([]);
  });

  it("calls onAlarm again after the alarm went back to OK and breached again", async () => {
    await alarms.ensure(specs);
    alarms.start(500);
    for (const latency of [5000, 5000, 5000, 100, 100, 100, 5000, 5000, 5000]) {
      await periodOf(latency);
      await crossBoundary(500);
    }
    expect(calls.map((c) => c.state.name)).toEqual([LATENCY, ROLLBACK, LATENCY, ROLLBACK]);
  });

  it("does not call onAlarm for alarms whose name does not start with modelship-", async () => {
    const renamed = canarySpecs({
      model: "chat",
      armedAt: START,
      alarms: { vsStable: undefined, datapointsToAlarm: 1, evaluationPeriods: 1 },
    })
      .specs.filter((s) => s.kind === "metric")
      .map((s) => ({ ...s, name: `team-${s.name}` }));
    await alarms.ensure(renamed);
    alarms.start(250);
    await periodOf(5000);
    await crossBoundary(250);
    expect(await alarms.states(["team-modelship-chat-v2-latency-p95"])).toMatchObject([{ state: "ALARM" }]);
    expect(calls).toEqual([]);
  });

  it("logs a failing onAlarm and keeps evaluating", async () => {
    onAlarm = (state) => {
      if (state.name === LATENCY) throw new Error("the rollout store is locked");
      calls.push({ state, spec: specs[0] as AlarmSpec });
    };
    await alarms.ensure(specs);
    alarms.start(250);
    for (let i = 0; i < 3; i++) {
      await periodOf(5000);
      await crossBoundary(250);
    }
    expect(logged).toHaveLength(1);
    expect(logged[0]).toContain(`Acting on alarm ${LATENCY}`);
    expect(logged[0]).toContain("the rollout store is locked");
    expect(calls.map((c) => c.state.name)).toEqual([ROLLBACK]);
  });

  it("starts new alarms in INSUFFICIENT_DATA, answers states for the alarms that exist, and removes them", async () => {
    await alarms.ensure(specs);
    expect(await alarms.states([LATENCY, "modelship-other"])).toMatchObject([
      { name: LATENCY, state: "INSUFFICIENT_DATA", threshold: 2000 },
    ]);
    await alarms.remove(alarmNames);
    await alarms.remove(alarmNames);
    expect(await alarms.states(alarmNames)).toEqual([]);
  });

  it("refuses a composite that names a missing alarm, saying which", async () => {
    const composite = specs.find((s) => s.kind === "composite") as AlarmSpec;
    await expect(alarms.ensure([composite])).rejects.toThrow(
      `names alarm '${LATENCY}', which does not exist`,
    );
  });

  it("acts on nothing once closed", async () => {
    await alarms.ensure(specs);
    alarms.start(250);
    await alarms.close();
    for (let i = 0; i < 3; i++) {
      await periodOf(5000);
      await crossBoundary(250);
    }
    expect(calls).toEqual([]);
  });

  it("waits, when closed, for the onAlarm calls in flight", async () => {
    const pending: (() => void)[] = [];
    onAlarm = () => new Promise<void>((resolve) => void pending.push(resolve));
    await alarms.ensure(specs);
    alarms.start(250);
    for (let i = 0; i < 3; i++) {
      await periodOf(5000);
      await crossBoundary(250);
    }
    expect(pending).toHaveLength(2);
    let closed = false;
    const closing = alarms.close().then(() => {
      closed = true;
    });
    await vi.advanceTimersByTimeAsync(1000);
    expect(closed).toBe(false);
    for (const resolve of pending) resolve();
    await closing;
    expect(closed).toBe(true);
  });
});
