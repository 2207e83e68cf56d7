import { describe, expect, it } from "vitest";
import { parsePrometheusText } from "../../lib/core/prometheus/prometheus-text";
import { VLLM, VLLM_BUCKETS, VllmMetricsRecorder } from "../../lib/core/prometheus/vllm-metrics";

describe("VllmMetricsRecorder", () => {
  const recorder = new VllmMetricsRecorder('tiny "gguf"', 1_748_779_000.5);
  recorder.finish({
    reason: "stop",
    e2eSeconds: 0.42,
    queueSeconds: 0.01,
    ttftSeconds: 0.05,
    interTokenSeconds: [0.02],
  });
  recorder.finish({ reason: "abort", e2eSeconds: 12, queueSeconds: 11 });
  recorder.setLoad(2, 1);
  const text = recorder.exposition();
  const samples = parsePrometheusText(text, () => true);

  it("declares vLLM's families with their types, as its /metrics does", () => {
    expect(text.split("\n").filter((line) => line.startsWith("# TYPE"))).toEqual([
      `# TYPE ${VLLM.startTime} gauge`,
      `# TYPE ${VLLM.running} gauge`,
      `# TYPE ${VLLM.waiting} gauge`,
      `# TYPE ${VLLM.requestSuccess} counter`,
      `# TYPE ${VLLM.ttft} histogram`,
      `# TYPE ${VLLM.itl} histogram`,
      `# TYPE ${VLLM.e2e} histogram`,
      `# TYPE ${VLLM.queueTime} histogram`,
    ]);
  });

  it("counts finished requests by finished_reason, every reason present from the start", () => {
    const counts = samples
      .filter((s) => s.name === VLLM.requestSuccess)
      .map((s) => [s.labels.finished_reason, s.value, s.labels.model_name, s.labels.engine]);
    expect(counts).toEqual([
      ["stop", 1, 'tiny "gguf"', "0"],
      ["length", 0, 'tiny "gguf"', "0"],
      ["abort", 1, 'tiny "gguf"', "0"],
      ["error", 0, 'tiny "gguf"', "0"],
      ["repetition", 0, 'tiny "gguf"', "0"],
    ]);
  });

  it("writes each histogram in vLLM's bucket layout, cumulative, with +Inf, _count and _sum", () => {
    const buckets = samples.filter((s) => s.name === `${VLLM.e2e}_bucket`);
    expect(buckets.map((s) => s.labels.le)).toEqual([
      ...VLLM_BUCKETS.e2e.map((b) => (Number.isInteger(b) ? b.toFixed(1) : String(b))),
      "+Inf",
    ]);
    expect(buckets.find((s) => s.labels.le === "0.5")?.value).toBe(1);
    expect(buckets.find((s) => s.labels.le === "10.0")?.value).toBe(1);
    expect(buckets.find((s) => s.labels.le === "15.0")?.value).toBe(2);
    expect(samples.find((s) => s.name === `${VLLM.e2e}_count`)?.value).toBe(2);
    expect(samples.find((s) => s.name === `${VLLM.e2e}_sum`)?.value).toBeCloseTo(12.42, 10);
    expect(samples.find((s) => s.name === `${VLLM.ttft}_count`)?.value).toBe(1);
  });

  it("reports the load and the process start time", () => {
    expect(samples.find((s) => s.name === VLLM.waiting)?.value).toBe(2);
    expect(samples.find((s) => s.name === VLLM.running)?.value).toBe(1);
    expect(samples.find((s) => s.name === VLLM.startTime)?.value).toBe(1_748_779_000.5);
  });
});
