// Where an execution is, state by state, for the console's graph: from the transitions the executor reports
// (entered, exited, failed, caught, retried — lib/local/executor.ts), each top-level state's status and how
// long its last visit took. A state the flow went past without entering (a Choice took another branch: a
// later layer of the graph was reached) is `skipped`; one it has not come to yet is `not-reached`. A state
// visited more than once (the readiness loop, each canary step) shows its last visit and the count.

import type { AslGraph } from "./asl-graph";

export type StateStatus = "not-reached" | "running" | "succeeded" | "failed" | "skipped";

/** What the executor reports of a state (the fields read here). */
export interface ProgressTransition {
  readonly type: "entered" | "exited" | "failed" | "retried" | "caught";
  readonly state: string;
  /** Epoch milliseconds. */
  readonly timestamp: number;
  /** Inside a Map: the iteration's index (the Map's own node shows its progress). */
  readonly iteration?: number;
  readonly error?: { readonly Error: string };
}

export interface StateProgress {
  readonly status: StateStatus;
  /** Milliseconds of the last visit: until now while it runs. */
  readonly durationMs?: number;
  readonly visits: number;
  /** The error of a failed state. */
  readonly error?: string;
}

interface Visit {
  status: StateStatus;
  since: number;
  until?: number;
  count: number;
  error?: string;
}

/**
 * Every state of the graph's progress, by name, as of `now` (epoch ms). Once the execution has `ended`, a
 * state still running was cut short (an abort): it shows as failed.
 */
export function executionProgress(
  graph: AslGraph,
  transitions: readonly ProgressTransition[],
  now: number,
  ended = false,
): Record<string, StateProgress> {
  const visits = new Map<string, Visit>();
  for (const t of transitions) {
    if (t.iteration !== undefined) continue;
    const visit = visits.get(t.state);
    switch (t.type) {
      case "entered":
        visits.set(t.state, { status: "running", since: t.timestamp, count: (visit?.count ?? 0) + 1 });
        break;
      case "retried":
        if (visit) visit.status = "running";
        break;
      case "exited":
        if (visit) Object.assign(visit, { status: "succeeded", until: t.timestamp });
        break;
      case "failed":
      case "caught":
        if (visit) {
          Object.assign(visit, { status: "failed", until: visit.until ?? t.timestamp });
          if (t.error) visit.error = t.error.Error;
        }
        break;
    }
  }
  const deepest = Math.max(-1, ...graph.nodes.filter((n) => visits.has(n.name)).map((n) => n.layer));
  const progress: Record<string, StateProgress> = {};
  for (const node of graph.nodes) {
    const visit = visits.get(node.name);
    if (!visit) {
      progress[node.name] = { status: node.layer < deepest ? "skipped" : "not-reached", visits: 0 };
      continue;
    }
    progress[node.name] = {
      status: ended && visit.status === "running" ? "failed" : visit.status,
      durationMs: Math.max(0, (visit.until ?? now) - visit.since),
      visits: visit.count,
      ...(visit.error === undefined ? {} : { error: visit.error }),
    };
  }
  return progress;
}
