// An in-memory Metrics port (lib/ports.ts): keeps every published observation and traffic window; the prober of a model's
// version is one entry, so starting it twice is one prober and stopping a stopped one is fine.

import type { Metrics, Observation, ProberTarget, TrafficPeriod } from "../../lib/ports";

export class MemoryMetrics implements Metrics {
  readonly published: Observation[] = [];
  readonly traffic: TrafficPeriod[] = [];
  /** Every query asked, in order; `answer` says what Prometheus answers (throw to fail). */
  readonly queries: string[] = [];
  answer: (query: string) => number | undefined = () => {
    throw new Error("MemoryMetrics has no Prometheus: set answer.");
  };
  private readonly probers = new Map<string, ProberTarget>();

  async publish(observations: readonly Observation[]): Promise<void> {
    this.published.push(...structuredClone(observations));
  }

  async publishTraffic(periods: readonly TrafficPeriod[]): Promise<void> {
    this.traffic.push(...structuredClone(periods));
  }

  async queryPrometheus(query: string): Promise<number | undefined> {
    this.queries.push(query);
    return this.answer(query);
  }

  async startProber(target: ProberTarget): Promise<void> {
    this.probers.set(keyOf(target.model, target.version), structuredClone(target));
  }

  async stopProber(model: string, version: string): Promise<void> {
    this.probers.delete(keyOf(model, version));
  }

  /** The probers running now. */
  get running(): ProberTarget[] {
    return [...this.probers.values()];
  }
}

function keyOf(model: string, version: string): string {
  return JSON.stringify([model, version]);
}
