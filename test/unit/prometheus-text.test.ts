import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ExpositionInvalid, parsePrometheusText } from "../../lib/core/prometheus/prometheus-text";

/** A slice of what vLLM 0.11's /metrics answers (prometheus_client's text format). */
const VLLM_TEXT = `# HELP python_gc_objects_collected_total Objects collected during gc
# TYPE python_gc_objects_collected_total counter
python_gc_objects_collected_total{generation="0"} 1234.0
# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.
# TYPE process_start_time_seconds gauge
process_start_time_seconds 1.74877914562e+09
# HELP vllm:num_requests_waiting Number of requests waiting to be processed.
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{engine="0",model_name="llama"} 2.0
# HELP vllm:request_success_total Count of successfully processed requests.
# TYPE vllm:request_success_total counter
vllm:request_success_total{engine="0",finished_reason="stop",model_name="llama"} 7.0
vllm:request_success_total{engine="0",finished_reason="abort",model_name="llama"} 1.0
# HELP vllm:request_success_created Count of successfully processed requests.
# TYPE vllm:request_success_created gauge
vllm:request_success_created{engine="0",finished_reason="stop",model_name="llama"} 1.7487791478e+09
# HELP vllm:e2e_request_latency_seconds Histogram of e2e request latency in seconds.
# TYPE vllm:e2e_request_latency_seconds histogram
vllm:e2e_request_latency_seconds_sum{engine="0",model_name="llama"} 9.75
vllm:e2e_request_latency_seconds_bucket{engine="0",le="0.3",model_name="llama"} 1.0
vllm:e2e_request_latency_seconds_bucket{engine="0",le="+Inf",model_name="llama"} 8.0
vllm:e2e_request_latency_seconds_count{engine="0",model_name="llama"} 8.0
`;

const keepVllm = (name: string) => name.startsWith("vllm:") || name === "process_start_time_seconds";

describe("parsePrometheusText", () => {
  it("reads the samples of the families asked for, with their labels and values, and skips the rest", () => {
    const samples = parsePrometheusText(VLLM_TEXT, keepVllm);
    expect(samples.map((s) => s.name)).toEqual([
      "process_start_time_seconds",
      "vllm:num_requests_waiting",
      "vllm:request_success_total",
      "vllm:request_success_total",
      "vllm:request_success_created",
      "vllm:e2e_request_latency_seconds_sum",
      "vllm:e2e_request_latency_seconds_bucket",
      "vllm:e2e_request_latency_seconds_bucket",
      "vllm:e2e_request_latency_seconds_count",
    ]);
    expect(samples[0]).toEqual({ name: "process_start_time_seconds", labels: {}, value: 1748779145.62 });
    expect(samples[3]).toEqual({
      name: "vllm:request_success_total",
      labels: { engine: "0", finished_reason: "abort", model_name: "llama" },
      value: 1,
    });
    expect(samples[7]?.labels.le).toBe("+Inf");
  });

  it("reads escapes in label values, +Inf, -Inf and NaN, timestamps, trailing commas and CRLF line ends", () => {
    const text =
      'm{a="x\\"y\\\\z\\nw",} +Inf 1700000000000\r\nm{a="b"} -Inf\nm NaN\nm{ a = "c" , b="d" } 1e-3\n';
    const samples = parsePrometheusText(text, () => true);
    expect(samples.map((s) => [s.labels, s.value])).toEqual([
      [{ a: 'x"y\\z\nw' }, Number.POSITIVE_INFINITY],
      [{ a: "b" }, Number.NEGATIVE_INFINITY],
      [{}, Number.NaN],
      [{ a: "c", b: "d" }, 0.001],
    ]);
  });

  it("stops at OpenMetrics' # EOF and ignores an exemplar after the value", () => {
    const text = 'm_bucket{le="1"} 3 # {trace_id="abc"} 0.5 1700000000\n# EOF\nm_bucket{le="2"} 9\n';
    expect(parsePrometheusText(text, () => true)).toEqual([
      { name: "m_bucket", labels: { le: "1" }, value: 3 },
    ]);
  });

  it.each([
    ['m{a="b} 1', "line 1: the value of label a is never closed"],
    ["m{a=b} 1", 'line 1: expected ="…" after label a'],
    ['m{a="b" c="d"} 1', "line 1: expected ',' or '}' after label a"],
    ['m{a="1",a="2"} 1', "line 1: label a appears twice"],
    ['m{a="\\t"} 1', "line 1: label a has an unknown escape \\t"],
    ["m", "line 1: m has no value"],
    ["m one", "line 1: m has value 'one', expected a number, +Inf, -Inf or NaN"],
    ["m 1 later", "line 1: m has 'later' where a timestamp or the line's end belongs"],
    ["# fine\n{} 1", "line 2: expected a metric name, found '{} 1'"],
  ])("names the line and what is wrong in %j", (text, message) => {
    expect(() => parsePrometheusText(text, () => true)).toThrow(message);
  });

  it("does not look inside the families it skips, beyond their names", () => {
    expect(parsePrometheusText('other{a="never closed 1\nm 2\n', (name) => name === "m")).toEqual([
      { name: "m", labels: {}, value: 2 },
    ]);
  });

  it("caps the text, each line and the samples kept", () => {
    const limits = { maxChars: 100, maxLineChars: 20, maxSamples: 2 };
    expect(() => parsePrometheusText("m 1\n".repeat(30), () => true, limits)).toThrow(
      "the text has 120 characters; at most 100 are read",
    );
    expect(() => parsePrometheusText(`m{a="${"x".repeat(30)}"} 1`, () => true, limits)).toThrow(
      "line 1: the line has 39 characters; at most 20",
    );
    expect(() => parsePrometheusText("m 1\nm 2\nm 3\n", () => true, limits)).toThrow(
      "line 3: more than 2 samples of the metrics read",
    );
    expect(parsePrometheusText("m 1\nm 2\nother 3\nother 4\n", (n) => n === "m", limits)).toHaveLength(2);
  });

  it("reads back what it is given: samples written in the format come out the same", () => {
    const labelValue = fc.string({ maxLength: 12 });
    const sample = fc.record({
      name: fc.stringMatching(/^[a-zA-Z_:][a-zA-Z0-9_:]{0,15}$/),
      labels: fc.dictionary(fc.stringMatching(/^[a-zA-Z_][a-zA-Z0-9_]{0,8}$/), labelValue, { maxKeys: 4 }),
      value: fc.double({ noNaN: true }),
    });
    fc.assert(
      fc.property(fc.array(sample, { maxLength: 20 }), (samples) => {
        const text = samples
          .map((s) => {
            const labels = Object.entries(s.labels)
              .map(
                ([k, v]) => `${k}="${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`,
              )
              .join(",");
            const value = Number.isFinite(s.value) ? String(s.value) : s.value > 0 ? "+Inf" : "-Inf";
            return `${s.name}${labels ? `{${labels}}` : ""} ${value}`;
          })
          .join("\n");
        const parsed = parsePrometheusText(text, () => true, {
          maxChars: 1e6,
          maxLineChars: 1e4,
          maxSamples: 100,
        });
        expect(parsed.map((p) => ({ ...p, labels: { ...p.labels } }))).toEqual(
          samples.map((s) => ({ ...s, labels: { ...s.labels }, value: s.value === 0 ? 0 : s.value })),
        );
      }),
      { numRuns: 500 },
    );
  });

  it("never throws anything but ExpositionInvalid on arbitrary text", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (text) => {
        try {
          parsePrometheusText(text, () => true);
        } catch (error) {
          expect(error).toBeInstanceOf(ExpositionInvalid);
        }
      }),
      { numRuns: 3000 },
    );
  });
});
