// When requests start, decided without sending any: the open loop's arrival times (a request rate with
// gamma-distributed gaps, as vLLM's `bench serve` draws them) and the run's bounds (a duration and/or a count
// of measured requests, after a warm-up whose requests are sent but not measured). Pure, so the schedule is
// tested on its own and the driver only follows it. Times are milliseconds since the run began.

import { gammaSample, seededRandom } from "./random";

export interface RunBounds {
  /** Measured time after the warm-up; requests scheduled later are not sent. Unbounded when undefined. */
  readonly durationSeconds?: number | undefined;
  /** Measured requests to send (warm-up requests not counted). Unbounded when undefined. */
  readonly requests?: number | undefined;
  /** Requests scheduled before this are sent but left out of the results. */
  readonly warmupSeconds: number;
}

export type Admission = "warmup" | "measured" | "stop";

/** Decides, request by request, whether it is sent and whether it counts. Once it says `stop`, it always does. */
export class RunPlan {
  private measuredAdmitted = 0;
  private stopped = false;
  readonly warmupMs: number;
  private readonly endMs: number;

  constructor(private readonly bounds: RunBounds) {
    this.warmupMs = bounds.warmupSeconds * 1000;
    this.endMs =
      bounds.durationSeconds === undefined ? Infinity : this.warmupMs + bounds.durationSeconds * 1000;
  }

  /** A request scheduled at `atMs`: sent as warm-up, sent and measured, or not sent (the run is over). */
  admit(atMs: number): Admission {
    if (this.stopped) return "stop";
    if (atMs < this.warmupMs) return "warmup";
    const countReached = this.bounds.requests !== undefined && this.measuredAdmitted >= this.bounds.requests;
    if (atMs >= this.endMs || countReached) {
      this.stopped = true;
      return "stop";
    }
    this.measuredAdmitted++;
    return "measured";
  }
}

export interface ArrivalProcess {
  /** Requests per second on average. */
  readonly rate: number;
  /** Gamma shape of the gaps: 1 = Poisson arrivals, below 1 burstier, above 1 more regular, Infinity = constant gaps. */
  readonly burstiness: number;
  readonly seed: number;
}

/**
 * The open loop's arrival times: the first at 0, then gaps drawn from Gamma(shape = burstiness,
 * scale = 1 / (rate · burstiness)), whose mean is 1 / rate and coefficient of variation 1 / √burstiness.
 * Endless; the RunPlan ends it.
 */
export function* arrivalTimes({ rate, burstiness, seed }: ArrivalProcess): Generator<number, never> {
  const meanGapMs = 1000 / rate;
  const random = seededRandom(seed);
  let at = 0;
  for (;;) {
    yield at;
    at +=
      burstiness === Infinity ? meanGapMs : gammaSample(random, burstiness, 1 / (rate * burstiness)) * 1000;
  }
}
