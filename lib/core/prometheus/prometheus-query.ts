// One instant query of Prometheus' HTTP API (`GET <base>/api/v1/query?query=…&time=…` — a GET, so an
// in-cluster Prometheus needs only `get` on `services/proxy`, where a POST would need `create`),
// as modelship asks a platform team's Prometheus (or Amazon Managed Service for Prometheus) for a version's
// real-traffic values: the request to send, and the one number read from the answer. An answer is one
// number when it is a scalar or a vector of exactly one sample; an empty vector or NaN is no value (no
// traffic in the window), and so are NaN and ±Inf; more samples is an error that says to aggregate them (`sum(…)`), since picking one
// would be a guess. The HTTP call itself is the adapters' (lib/aws: SigV4 or the API server's service proxy;
// lib/local: plain HTTP).

import { parseValue } from "./prometheus-text";

/** An answer is a few hundred bytes; one far bigger is not what a one-number query returns. */
export const MAX_ANSWER_BYTES = 256 * 1024;

export class PrometheusQueryFailed extends Error {
  override readonly name = "PrometheusQueryFailed";
}

export interface PrometheusRequest {
  /** Appended to the endpoint's base URL: `/api/v1/query`. */
  readonly path: string;
  /** The URL's query parameters: `query` and `time` (seconds since the epoch). */
  readonly query: Readonly<Record<string, string>>;
  readonly headers: Readonly<Record<string, string>>;
}

export function prometheusQueryRequest(query: string, at: Date): PrometheusRequest {
  return {
    path: "/api/v1/query",
    query: { query, time: (at.getTime() / 1000).toFixed(3) },
    headers: { accept: "application/json" },
  };
}

/** The number an answer carries (undefined: none); a PrometheusQueryFailed saying why it is not usable. */
export function readPrometheusAnswer(status: number, text: string, query: string): number | undefined {
  const shown = query.length > 200 ? `${query.slice(0, 200)}…` : query;
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new PrometheusQueryFailed(
      `Prometheus answered ${status} with a body that is not JSON ('${text.slice(0, 120)}') to ${shown}`,
    );
  }
  const field = (value: unknown, key: string): unknown =>
    typeof value === "object" && value !== null ? (value as Record<string, unknown>)[key] : undefined;
  if (status !== 200 || field(body, "status") !== "success") {
    const error = field(body, "error");
    throw new PrometheusQueryFailed(
      `Prometheus refused ${shown} (${status}${typeof error === "string" ? `: ${error.slice(0, 300)}` : ""})`,
    );
  }
  const data = field(body, "data");
  const type = field(data, "resultType");
  const result = field(data, "result");
  let sample: unknown;
  if (type === "scalar") {
    sample = result;
  } else if (type === "vector" && Array.isArray(result)) {
    if (result.length === 0) return undefined;
    if (result.length > 1) {
      throw new PrometheusQueryFailed(
        `${shown} answered ${result.length} series; a query must answer one number: aggregate it, e.g. sum(…)`,
      );
    }
    sample = field(result[0], "value");
  } else {
    throw new PrometheusQueryFailed(
      `${shown} answered a ${String(type)}; a query must answer one number (an instant vector of one sample, or a scalar)`,
    );
  }
  const valueText = Array.isArray(sample) ? sample[1] : undefined;
  const value = typeof valueText === "string" ? parseValue(valueText) : undefined;
  if (value === undefined) {
    throw new PrometheusQueryFailed(
      `${shown} answered ${JSON.stringify(sample)?.slice(0, 120)}, not a [time, "value"] pair`,
    );
  }
  // NaN (e.g. histogram_quantile over no observations) and ±Inf are no value, never published.
  return Number.isFinite(value) ? value : undefined;
}
