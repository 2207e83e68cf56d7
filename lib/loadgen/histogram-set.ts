// The latency distributions of a load run — TTFT, ITL, TPOT, E2E and client queue time — as HDR histograms
// at microsecond resolution and 3 significant digits (a value is off by at most 1/1024 of itself: under
// 1 ms below 1 s). Each metric also keeps its exact sum, exact maximum and how many values were above the
// trackable range (clamped to it). A set serializes to one compact JSON-safe string and merges exactly:
// merging the sets of N workers gives the same set, byte for byte, as recording everything in one.

import {
  decodeHistogram,
  emptyHistogram,
  encodeHistogram,
  HistogramDecodeError,
  type HistogramShape,
} from "./hdr-codec";

export const LATENCY_METRICS = ["ttft", "itl", "tpot", "e2e", "queue"] as const;
export type LatencyMetric = (typeof LATENCY_METRICS)[number];

/** One metric's distribution, in milliseconds. Percentiles are nearest-rank, never above the exact maximum. */
export interface MetricStats {
  readonly count: number;
  readonly meanMs: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p95Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** Values above one hour, recorded as one hour in the percentiles (mean and max stay exact). */
  readonly clamped: number;
}

export class HistogramSetInvalid extends Error {
  override readonly name = "HistogramSetInvalid";
}

/** One hour in microseconds: no request of a load run lasts longer; a longer value is clamped and counted. */
const HIGHEST_TRACKABLE_US = 3_600_000_000;
const SHAPE: HistogramShape = {
  lowestDiscernibleValue: 1,
  highestTrackableValue: HIGHEST_TRACKABLE_US,
  significantDigits: 3,
};
const FORMAT = "hdrset1";

type Metric = {
  readonly histogram: ReturnType<typeof emptyHistogram>;
  sumUs: number;
  maxUs: number;
  clamped: number;
};

export class HistogramSet {
  private readonly metrics: Record<LatencyMetric, Metric>;

  constructor() {
    this.metrics = {
      ttft: emptyMetric(),
      itl: emptyMetric(),
      tpot: emptyMetric(),
      e2e: emptyMetric(),
      queue: emptyMetric(),
    };
  }

  /** Records a value in milliseconds (kept to the microsecond; a negative clock step counts as 0). */
  record(metric: LatencyMetric, ms: number): void {
    const m = this.metrics[metric];
    const us = Math.max(0, Math.round(ms * 1000));
    m.sumUs += us;
    if (us > m.maxUs) m.maxUs = us;
    if (us > HIGHEST_TRACKABLE_US) m.clamped++;
    m.histogram.recordValue(Math.min(us, HIGHEST_TRACKABLE_US));
  }

  /** Adds another set's values to this one. */
  add(other: HistogramSet): void {
    for (const name of LATENCY_METRICS) {
      const mine = this.metrics[name];
      const theirs = other.metrics[name];
      mine.histogram.add(theirs.histogram);
      mine.sumUs += theirs.sumUs;
      mine.maxUs = Math.max(mine.maxUs, theirs.maxUs);
      mine.clamped += theirs.clamped;
    }
  }

  count(metric: LatencyMetric): number {
    return this.metrics[metric].histogram.totalCount;
  }

  /** The metric's distribution; undefined when nothing was recorded. */
  stats(metric: LatencyMetric): MetricStats | undefined {
    const m = this.metrics[metric];
    const count = m.histogram.totalCount;
    if (count === 0) return undefined;
    const at = (percentile: number) => valueAt(m, percentile);
    return {
      count,
      meanMs: m.sumUs / count / 1000,
      p50Ms: at(50),
      p90Ms: at(90),
      p95Ms: at(95),
      p99Ms: at(99),
      maxMs: m.maxUs / 1000,
      clamped: m.clamped,
    };
  }

  /**
   * The metric's values in ms at each percentile (0–100), nearest-rank like `stats` and never above the exact
   * maximum: the points of a percentile curve. Undefined when nothing was recorded.
   */
  valuesAtPercentiles(metric: LatencyMetric, percentiles: readonly number[]): number[] | undefined {
    const m = this.metrics[metric];
    if (m.histogram.totalCount === 0) return undefined;
    return percentiles.map((percentile) => valueAt(m, percentile));
  }

  /**
   * `hdrset1 ttft:<sum µs>:<max µs>:<clamped>:<base64 HDR> itl:… tpot:… e2e:… queue:…`: plain ASCII
   * without quotes or backslashes, so it sits in a JSON document unescaped.
   */
  serialize(): string {
    const parts = LATENCY_METRICS.map((name) => {
      const m = this.metrics[name];
      return `${name}:${m.sumUs}:${m.maxUs}:${m.clamped}:${encodeHistogram(m.histogram)}`;
    });
    return [FORMAT, ...parts].join(" ");
  }

  /** Reads what `serialize` wrote; throws HistogramSetInvalid naming the part that is wrong. */
  static deserialize(text: string): HistogramSet {
    const [format, ...parts] = text.split(" ");
    if (format !== FORMAT) {
      throw new HistogramSetInvalid(
        `a serialized histogram set starts with '${FORMAT}', not ${JSON.stringify(String(format).slice(0, 20))}`,
      );
    }
    const names = parts.map((p) => p.slice(0, p.indexOf(":")));
    if (names.join(" ") !== LATENCY_METRICS.join(" ")) {
      throw new HistogramSetInvalid(
        `a serialized histogram set holds ${LATENCY_METRICS.join(", ")} in that order, not ${JSON.stringify(names.join(", ").slice(0, 80))}`,
      );
    }
    const set = new HistogramSet();
    for (const [i, name] of LATENCY_METRICS.entries()) {
      set.metrics[name] = parseMetric(name, parts[i] as string);
    }
    return set;
  }
}

function emptyMetric(): Metric {
  return { histogram: emptyHistogram(SHAPE), sumUs: 0, maxUs: 0, clamped: 0 };
}

/** Nearest-rank from the histogram, capped at the exact maximum (a bucket's top can lie above it). */
function valueAt(m: Metric, percentile: number): number {
  return Math.min(m.histogram.getValueAtPercentile(percentile), m.maxUs) / 1000;
}

function parseMetric(name: LatencyMetric, part: string): Metric {
  const fields = part.split(":");
  const [, sum, max, clamped, base64] = fields;
  const numbers = [sum, max, clamped].map((f) => (f !== undefined && /^\d{1,16}$/.test(f) ? Number(f) : NaN));
  if (fields.length !== 5 || base64 === undefined || numbers.some((n) => !Number.isSafeInteger(n))) {
    throw new HistogramSetInvalid(
      `the '${name}' part of a serialized histogram set must be ${name}:<sum>:<max>:<clamped>:<base64>`,
    );
  }
  let histogram;
  try {
    histogram = decodeHistogram(base64, SHAPE);
  } catch (error) {
    if (error instanceof HistogramDecodeError) {
      throw new HistogramSetInvalid(`the '${name}' histogram cannot be read: ${error.message}`);
    }
    throw error;
  }
  const [sumUs, maxUs, clampedCount] = numbers as [number, number, number];
  return { histogram, sumUs, maxUs, clamped: clampedCount };
}
