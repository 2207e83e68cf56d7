// Throughput over time: per-second counts of completed and failed requests and of output tokens, for a
// report's "throughput over time" chart. Buckets start at 1 s; a long run doubles the bucket width
// (folding pairs) so the series never holds more than MAX_BUCKETS points and stays small in a state payload.

export interface ThroughputTimeline {
  /** Width of each bucket: 1 s, doubled as often as the run's length needed. */
  readonly bucketSeconds: number;
  /** Bucket i covers [i·bucketSeconds, (i+1)·bucketSeconds) after the warm-up, by the time requests ended. */
  readonly completed: readonly number[];
  readonly failed: readonly number[];
  readonly outputTokens: readonly number[];
}

const MAX_BUCKETS = 600;

export class TimelineBuilder {
  private bucketSeconds = 1;
  private completed: number[] = [];
  private failed: number[] = [];
  private outputTokens: number[] = [];

  /** A request that ended `atMs` after the warm-up. */
  add(atMs: number, ok: boolean, outputTokens: number): void {
    let index = Math.floor(Math.max(0, atMs) / (this.bucketSeconds * 1000));
    while (index >= MAX_BUCKETS) {
      this.widen();
      index = Math.floor(index / 2);
    }
    grow(this.completed, index);
    grow(this.failed, index);
    grow(this.outputTokens, index);
    if (ok) this.completed[index]! += 1;
    else this.failed[index]! += 1;
    this.outputTokens[index]! += outputTokens;
  }

  build(): ThroughputTimeline {
    return {
      bucketSeconds: this.bucketSeconds,
      completed: [...this.completed],
      failed: [...this.failed],
      outputTokens: [...this.outputTokens],
    };
  }

  private widen(): void {
    this.bucketSeconds *= 2;
    this.completed = foldPairs(this.completed);
    this.failed = foldPairs(this.failed);
    this.outputTokens = foldPairs(this.outputTokens);
  }
}

/** The timelines of workers that ran side by side, summed bucket by bucket (at the widest bucket among them). */
export function mergeTimelines(timelines: readonly ThroughputTimeline[]): ThroughputTimeline {
  const bucketSeconds = Math.max(1, ...timelines.map((t) => t.bucketSeconds));
  const sum = (pick: (t: ThroughputTimeline) => readonly number[]) => {
    const total: number[] = [];
    for (const timeline of timelines) {
      let series = [...pick(timeline)];
      for (let width = timeline.bucketSeconds; width < bucketSeconds; width *= 2) series = foldPairs(series);
      grow(total, series.length - 1);
      series.forEach((value, i) => (total[i]! += value));
    }
    return total;
  };
  return {
    bucketSeconds,
    completed: sum((t) => t.completed),
    failed: sum((t) => t.failed),
    outputTokens: sum((t) => t.outputTokens),
  };
}

function grow(series: number[], index: number): void {
  while (series.length <= index) series.push(0);
}

function foldPairs(series: readonly number[]): number[] {
  const folded: number[] = [];
  for (let i = 0; i < series.length; i += 2) folded.push((series[i] ?? 0) + (series[i + 1] ?? 0));
  return folded;
}
