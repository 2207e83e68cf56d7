// vLLM's request metrics as its `/metrics` exposes them (vllm/v1/metrics/loggers.py, v0.11): the names,
// types, labels (`model_name`, `engine`, and `finished_reason` on the request counter) and bucket layouts
// that real-traffic alarms read (traffic-window.ts), and a recorder that keeps them for one server and writes
// them in the Prometheus text format — what modelship's own llama.cpp server answers on `/metrics`, so the
// local runtime is scraped with the same code as a vLLM pod on EKS.

/** The families read and written, by vLLM's names. */
export const VLLM = {
  requestSuccess: "vllm:request_success_total",
  e2e: "vllm:e2e_request_latency_seconds",
  ttft: "vllm:time_to_first_token_seconds",
  itl: "vllm:inter_token_latency_seconds",
  /** What vLLM before 0.11 called the inter-token latency (deprecated since). */
  tpot: "vllm:time_per_output_token_seconds",
  queueTime: "vllm:request_queue_time_seconds",
  waiting: "vllm:num_requests_waiting",
  running: "vllm:num_requests_running",
  /** prometheus_client's process collector: a new value means the server restarted. */
  startTime: "process_start_time_seconds",
} as const;

/** `finished_reason` values (vllm/v1/engine FINISH_REASON_STRINGS). */
export const FINISH_REASONS = ["stop", "length", "abort", "error", "repetition"] as const;
export type FinishReason = (typeof FINISH_REASONS)[number];

/** vLLM's `request_latency_buckets`, shared by the E2E and queue-time histograms (seconds). */
const REQUEST_LATENCY_BUCKETS = [
  0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0,
  960.0, 1920.0, 7680.0,
];

/** Each histogram's upper bounds (seconds), as vLLM declares them; +Inf is implied. */
export const VLLM_BUCKETS: Readonly<Record<"e2e" | "ttft" | "itl" | "queueTime", readonly number[]>> = {
  e2e: REQUEST_LATENCY_BUCKETS,
  queueTime: REQUEST_LATENCY_BUCKETS,
  ttft: [
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0,
    80.0, 160.0, 640.0, 2560.0,
  ],
  itl: [
    0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0,
  ],
};

const HELP: Readonly<Record<string, string>> = {
  [VLLM.waiting]: "Number of requests waiting to be processed.",
  [VLLM.running]: "Number of requests in model execution batches.",
  [VLLM.requestSuccess]: "Count of successfully processed requests.",
  [VLLM.e2e]: "Histogram of e2e request latency in seconds.",
  [VLLM.ttft]: "Histogram of time to first token in seconds.",
  [VLLM.itl]: "Histogram of inter-token latency in seconds.",
  [VLLM.queueTime]: "Histogram of time spent in WAITING phase for request.",
  [VLLM.startTime]: "Start time of the process since unix epoch in seconds.",
};

/** What one finished request contributes (seconds). */
export interface FinishedRequest {
  readonly reason: FinishReason;
  readonly e2eSeconds: number;
  readonly queueSeconds: number;
  /** Absent when no token was generated. */
  readonly ttftSeconds?: number;
  /** The gaps between successive output tokens. */
  readonly interTokenSeconds?: readonly number[];
}

class Histogram {
  /** Non-cumulative counts per bucket, the last one +Inf. */
  private readonly counts: number[];
  private sum = 0;
  private count = 0;

  constructor(private readonly bounds: readonly number[]) {
    this.counts = Array.from({ length: bounds.length + 1 }, () => 0);
  }

  observe(value: number): void {
    if (!Number.isFinite(value) || value < 0) return;
    let index = this.bounds.findIndex((bound) => value <= bound);
    if (index === -1) index = this.bounds.length;
    this.counts[index] = (this.counts[index] ?? 0) + 1;
    this.sum += value;
    this.count++;
  }

  /** The `_bucket` (cumulative), `_count` and `_sum` lines. */
  lines(name: string, labels: string): string[] {
    let cumulative = 0;
    const lines = [...this.bounds, Number.POSITIVE_INFINITY].map((bound, i) => {
      cumulative += this.counts[i] ?? 0;
      const le = Number.isFinite(bound) ? formatNumber(bound) : "+Inf";
      return `${name}_bucket{${labels},le="${le}"} ${formatNumber(cumulative)}`;
    });
    lines.push(`${name}_count{${labels}} ${formatNumber(this.count)}`);
    lines.push(`${name}_sum{${labels}} ${formatNumber(this.sum)}`);
    return lines;
  }
}

/** vLLM's request metrics of one server, written as its `/metrics` would answer (one engine, `engine="0"`). */
export class VllmMetricsRecorder {
  private readonly finished = new Map<FinishReason, number>(FINISH_REASONS.map((reason) => [reason, 0]));
  private readonly histograms = {
    e2e: new Histogram(VLLM_BUCKETS.e2e),
    queueTime: new Histogram(VLLM_BUCKETS.queueTime),
    ttft: new Histogram(VLLM_BUCKETS.ttft),
    itl: new Histogram(VLLM_BUCKETS.itl),
  };
  private waiting = 0;
  private running = 0;

  constructor(
    private readonly modelName: string,
    /** When the server process started, seconds since the epoch. */
    private readonly startTimeSeconds: number,
  ) {}

  /** A request the server finished, for whatever reason (`abort`: its client went away; `error`: it failed). */
  finish(request: FinishedRequest): void {
    this.finished.set(request.reason, (this.finished.get(request.reason) ?? 0) + 1);
    this.histograms.e2e.observe(request.e2eSeconds);
    this.histograms.queueTime.observe(request.queueSeconds);
    if (request.ttftSeconds !== undefined) this.histograms.ttft.observe(request.ttftSeconds);
    for (const gap of request.interTokenSeconds ?? []) this.histograms.itl.observe(gap);
  }

  /** The requests waiting for their turn and the ones generating now. */
  setLoad(waiting: number, running: number): void {
    this.waiting = waiting;
    this.running = running;
  }

  /** The Prometheus text format (0.0.4), as prometheus_client writes it. */
  exposition(): string {
    const labels = `engine="0",model_name="${escapeLabelValue(this.modelName)}"`;
    const family = (name: string, type: string, lines: readonly string[]) => [
      `# HELP ${name} ${HELP[name] ?? ""}`,
      `# TYPE ${name} ${type}`,
      ...lines,
    ];
    return [
      ...family(VLLM.startTime, "gauge", [`${VLLM.startTime} ${formatNumber(this.startTimeSeconds)}`]),
      ...family(VLLM.running, "gauge", [`${VLLM.running}{${labels}} ${formatNumber(this.running)}`]),
      ...family(VLLM.waiting, "gauge", [`${VLLM.waiting}{${labels}} ${formatNumber(this.waiting)}`]),
      ...family(
        VLLM.requestSuccess,
        "counter",
        FINISH_REASONS.map(
          (reason) =>
            `${VLLM.requestSuccess}{engine="0",finished_reason="${reason}",model_name="${escapeLabelValue(this.modelName)}"} ${formatNumber(this.finished.get(reason) ?? 0)}`,
        ),
      ),
      ...family(VLLM.ttft, "histogram", this.histograms.ttft.lines(VLLM.ttft, labels)),
      ...family(VLLM.itl, "histogram", this.histograms.itl.lines(VLLM.itl, labels)),
      ...family(VLLM.e2e, "histogram", this.histograms.e2e.lines(VLLM.e2e, labels)),
      ...family(VLLM.queueTime, "histogram", this.histograms.queueTime.lines(VLLM.queueTime, labels)),
      "",
    ].join("\n");
  }
}

/** Whole numbers as `1.0`, as prometheus_client writes floats; others as JavaScript writes them. */
function formatNumber(value: number): string {
  return Number.isInteger(value) && Math.abs(value) < 1e16 ? value.toFixed(1) : String(value);
}

function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}
