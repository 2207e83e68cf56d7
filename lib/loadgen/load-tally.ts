// Folds request records into a LoadResult as they arrive: warm-up requests counted apart and left out,
// latencies into the histogram set, errors by class, tokens with their sources, goodput against the
// per-request SLOs, and the throughput timeline. Pure; the driver owns the clock.

import { HistogramSet } from "./histogram-set";
import type { GoodputSlo, LoadResult } from "./load-result";
import type { CompletedRequest, RequestRecord } from "./request-record";
import { TimelineBuilder } from "./throughput-timeline";

export class LoadTally {
  private readonly histograms = new HistogramSet();
  private readonly timeline = new TimelineBuilder();
  private completed = 0;
  private failed = 0;
  private readonly errors: Record<string, number> = {};
  private readonly errorExamples: Record<string, string> = {};
  private goodRequests = 0;
  private inputTokens = 0;
  private outputTokens = 0;
  private readonly outputTokensFrom = { usage: 0, counted: 0 };
  private readonly inputTokensFrom = { usage: 0, estimated: 0 };
  private warmupRequests = 0;
  private cancelled = 0;
  private lastEndMs: number | undefined;

  /**
   * @param goodputSlo the per-request SLOs a good request meets
   * @param warmupMs the end of the warm-up, in ms since the run began: where measured time starts
   */
  constructor(
    private readonly goodputSlo: GoodputSlo,
    private readonly warmupMs: number,
  ) {}

  add(record: RequestRecord): void {
    if (record.warmup) {
      this.warmupRequests++;
      return;
    }
    this.histograms.record("queue", record.queueMs);
    this.lastEndMs = Math.max(this.lastEndMs ?? 0, record.endedAtMs);
    const sinceWarmup = record.endedAtMs - this.warmupMs;
    if (!record.ok) {
      this.failed++;
      this.errors[record.error] = (this.errors[record.error] ?? 0) + 1;
      this.errorExamples[record.error] ??= record.detail;
      this.timeline.add(sinceWarmup, false, 0);
      return;
    }
    this.completed++;
    if (record.ttftMs !== undefined) this.histograms.record("ttft", record.ttftMs);
    for (const gap of record.itlMs) this.histograms.record("itl", gap);
    if (record.tpotMs !== undefined) this.histograms.record("tpot", record.tpotMs);
    this.histograms.record("e2e", record.e2eMs);
    this.inputTokens += record.inputTokens;
    this.outputTokens += record.outputTokens;
    this.outputTokensFrom[record.outputTokensFrom]++;
    this.inputTokensFrom[record.inputTokensFrom]++;
    if (meetsEverySlo(record, this.goodputSlo)) this.goodRequests++;
    this.timeline.add(sinceWarmup, true, record.outputTokens);
  }

  /** A request that was in flight when the run was stopped early. */
  addCancelled(): void {
    this.cancelled++;
  }

  build(stoppedEarly: boolean): LoadResult {
    const measuredMs = this.lastEndMs === undefined ? 0 : Math.max(0, this.lastEndMs - this.warmupMs);
    return {
      histograms: this.histograms.serialize(),
      counters: {
        completed: this.completed,
        failed: this.failed,
        errors: { ...this.errors },
        errorExamples: { ...this.errorExamples },
        goodRequests: this.goodRequests,
        inputTokens: this.inputTokens,
        outputTokens: this.outputTokens,
        outputTokensFrom: { ...this.outputTokensFrom },
        inputTokensFrom: { ...this.inputTokensFrom },
        warmupRequests: this.warmupRequests,
        cancelled: this.cancelled,
      },
      timeline: this.timeline.build(),
      measuredSeconds: measuredMs / 1000,
      goodputSlo: this.goodputSlo,
      stoppedEarly,
    };
  }
}

/** A request without a first token misses a TTFT SLO; one with a single token has no TPOT to miss. */
function meetsEverySlo(record: CompletedRequest, slo: GoodputSlo): boolean {
  if (slo.ttftP95Ms !== undefined && !(record.ttftMs !== undefined && record.ttftMs <= slo.ttftP95Ms)) {
    return false;
  }
  if (slo.tpotP95Ms !== undefined && record.tpotMs !== undefined && record.tpotMs > slo.tpotP95Ms)
    return false;
  return !(slo.e2eP95Ms !== undefined && record.e2eMs > slo.e2eP95Ms);
}
