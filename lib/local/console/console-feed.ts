// What the web console shows, as one snapshot: every model's status (what `GET /_modelship/status` answers),
// the recent executions with each state's progress on the state machine's graph, each running canary's alarms
// charted from when they were armed to now (the local alarm evaluator's series, drawn by the report's own SVG
// chart), and the rollouts whose report pages can be opened. The feed sends a snapshot to the event stream
// every second while a page follows, at once after a state transition, and each event as it is emitted.

import { type AslGraph, aslGraph } from "../../core/state-machine/asl-graph";
import type { ModelshipEvent } from "../../core/events/events";
import { executionProgress, type StateProgress } from "../../core/state-machine/execution-progress";
import { niceTicks } from "../../core/report/line-chart";
import { renderAlarmChart } from "../../core/report/outcome-section";
import { alarmsArmedAt } from "../../core/report/rollout-outcome";
import type { ModelRecord } from "../../core/rollout/rollout";
import { type ControlPlaneSurface, type LocalModelStatus, statusOf } from "../control-plane-api";
import type { ObjectStore } from "../../ports";
import type { JournalEntry } from "../execution-journal";
import type { LocalExecutions } from "../local-executions";
import { EventStream, sseFrame } from "./event-stream";

/** Executions and events a snapshot carries at most (the newest). */
const MAX_EXECUTIONS = 10;
const MAX_EVENTS = 200;
const MAX_REPORTS = 20;
const SNAPSHOT_EVERY_MS = 1000;

export interface ExecutionView {
  readonly executionId: string;
  readonly model?: string;
  readonly version?: string;
  readonly rolloutId?: string;
  /** RUNNING until its result. */
  readonly status: string;
  readonly error?: string;
  readonly states: Record<string, StateProgress>;
}

export interface AlarmChart {
  readonly name: string;
  readonly state?: string;
  /** The chart as SVG markup (lib/core/report/line-chart.ts), every value escaped. */
  readonly svg: string;
}

export interface ConsoleSnapshot {
  readonly at: string;
  readonly models: readonly LocalModelStatus[];
  readonly executions: readonly ExecutionView[];
  readonly alarms: readonly { model: string; rolloutId: string; since: string; charts: AlarmChart[] }[];
  readonly reports: readonly { model: string; version: string; rolloutId: string; at: string }[];
}

export interface ConsoleFeedOptions {
  readonly surface: ControlPlaneSurface;
  readonly executions: LocalExecutions;
  /** The state machine's definition (statemachines/pipeline.asl.json). */
  readonly definition: unknown;
  readonly stream?: EventStream;
  readonly now?: () => Date;
}

export class ConsoleFeed {
  readonly graph: AslGraph;
  /** The local bucket, where the rollouts' reports are. */
  get reportObjects(): ObjectStore {
    return this.options.surface.deps.objects;
  }

  readonly stream: EventStream;
  private readonly options: ConsoleFeedOptions;
  private readonly now: () => Date;
  private readonly executionIds: string[] = [];
  private readonly events: ModelshipEvent[] = [];
  private readonly timer: NodeJS.Timeout;
  private soon: NodeJS.Timeout | undefined;
  private sending = false;

  constructor(options: ConsoleFeedOptions) {
    this.options = options;
    this.graph = aslGraph(options.definition);
    this.stream = options.stream ?? new EventStream();
    this.now = options.now ?? (() => new Date());
    this.timer = setInterval(() => this.push(), SNAPSHOT_EVERY_MS);
    this.timer.unref();
  }

  /** An execution made a transition: it is shown, and pages see it now rather than at the next tick. */
  transition(executionId: string): void {
    if (!this.executionIds.includes(executionId)) {
      this.executionIds.push(executionId);
      if (this.executionIds.length > MAX_EXECUTIONS) this.executionIds.shift();
    }
    this.soon ??= setTimeout(() => {
      this.soon = undefined;
      this.push();
    }, 50);
  }

  event(event: ModelshipEvent): void {
    this.events.push(event);
    if (this.events.length > MAX_EVENTS) this.events.shift();
    this.stream.send("event", event);
  }

  /** The frames a page gets first: a snapshot and the recent events. */
  async opening(): Promise<string[]> {
    return [sseFrame("snapshot", await this.snapshot()), sseFrame("events", this.events)];
  }

  async snapshot(): Promise<ConsoleSnapshot> {
    const now = this.now();
    const models = await statusOf(this.options.surface, undefined);
    return {
      at: now.toISOString(),
      models,
      executions: this.executionIds.map((id) => this.executionView(id, now)).reverse(),
      alarms: await this.alarmCharts(models, now),
      reports: reportsOf(models),
    };
  }

  close(): void {
    clearInterval(this.timer);
    clearTimeout(this.soon);
    this.stream.close();
  }

  private push(): void {
    if (this.stream.size === 0 || this.sending) return;
    this.sending = true;
    this.snapshot()
      .then((snapshot) => this.stream.send("snapshot", snapshot))
      .catch((error: unknown) => this.stream.send("problem", { message: String(error) }))
      .finally(() => (this.sending = false));
  }

  private executionView(executionId: string, now: Date): ExecutionView {
    const entries: JournalEntry[] = [];
    this.options.surface.journal.follow(executionId, (entry) => void entries.push(entry))();
    const result = entries.flatMap((e) => ("result" in e ? [e.result] : []))[0];
    const transitions = entries.flatMap((e) => ("transition" in e ? [e.transition] : []));
    const rollout = this.options.executions.get(executionId)?.input.rollout;
    return {
      executionId,
      ...(rollout ? { model: rollout.model, version: rollout.version, rolloutId: rollout.id } : {}),
      status: result?.status ?? "RUNNING",
      ...(result?.status === "FAILED" ? { error: result.error.Error } : {}),
      states: executionProgress(this.graph, transitions, now.getTime(), result !== undefined),
    };
  }

  private async alarmCharts(
    models: readonly LocalModelStatus[],
    now: Date,
  ): Promise<ConsoleSnapshot["alarms"]> {
    const charts: { model: string; rolloutId: string; since: string; charts: AlarmChart[] }[] = [];
    for (const model of models) {
      const rolloutId = model.lock?.rolloutId;
      const since = rolloutId === undefined ? undefined : alarmsArmedAt(model.history, rolloutId);
      if (!rolloutId || since === undefined || !model.alarmNames?.length) continue;
      const start = Date.parse(since);
      const series = await this.options.surface.deps.alarms.metricHistory(model.alarmNames, {
        start: new Date(start),
        end: now,
      });
      const domain: [number, number] = [0, Math.max(10, (now.getTime() - start) / 1000)];
      const ticks = niceTicks(domain[0], domain[1], 6).filter((t) => t.value <= domain[1]);
      charts.push({
        model: model.model,
        rolloutId,
        since,
        charts: series.map((s, i) => ({
          name: s.name,
          ...(stateOf(model, s.name) ? { state: stateOf(model, s.name) } : {}),
          svg: renderAlarmChart({ ...s, points: [...s.points] }, i, start, domain, ticks, []).text,
        })),
      });
    }
    return charts;
  }
}

function stateOf(model: LocalModelStatus, alarm: string): string | undefined {
  return model.alarms.find((a) => a.name === alarm)?.state;
}

/** The rollouts each model's history names, newest first: their report pages. */
function reportsOf(records: readonly ModelRecord[]): ConsoleSnapshot["reports"] {
  const seen = new Map<string, { model: string; version: string; rolloutId: string; at: string }>();
  for (const record of records) {
    for (const t of record.history) {
      if (!seen.has(t.rolloutId))
        seen.set(t.rolloutId, { model: record.model, version: t.version, rolloutId: t.rolloutId, at: t.at });
    }
  }
  return [...seen.values()].sort((a, b) => b.at.localeCompare(a.at)).slice(0, MAX_REPORTS);
}
