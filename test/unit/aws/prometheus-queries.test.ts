import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { PrometheusQueries } from "../../../lib/aws/prometheus-queries";
import { KubernetesApiServer } from "../eks/kubernetes-api-server";
import { PrometheusTestServer, vectorAnswer } from "../../support/prometheus-test-server";

const AT = new Date("2025-06-01T12:00:10.000Z");
const QUERY = 'sum(increase(vllm:request_success_total{model_name="llama-v2"}[10s]))';
const prometheus = new PrometheusTestServer();
const cluster = new KubernetesApiServer();
let prometheusUrl = "";
let clusterUrl = "";

beforeAll(async () => {
  prometheusUrl = await prometheus.start();
  clusterUrl = await cluster.start();
});
afterAll(async () => {
  await prometheus.stop();
  await cluster.stop();
});
beforeEach(() => {
  prometheus.requests.length = 0;
  prometheus.answer = () => ({ status: 200, body: vectorAnswer("42") });
  cluster.reset();
});

function amp(region?: string): PrometheusQueries {
  return new PrometheusQueries({
    endpoint: { kind: "amp", workspaceId: "ws-8f0a6e2b-1c3d", ...(region ? { region } : {}) },
    region: "us-east-1",
    ampUrl: prometheusUrl,
    credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY" },
  });
}

describe("PrometheusQueries", () => {
  it("asks an AMP workspace's query API, signed with SigV4 for the service aps in the workspace's region", async () => {
    expect(await amp("eu-west-1").query(QUERY, AT)).toBe(42);
    const [request] = prometheus.requests;
    expect(request?.method).toBe("GET");
    expect(request?.path).toBe("/workspaces/ws-8f0a6e2b-1c3d/api/v1/query");
    expect(Object.fromEntries(request?.params ?? [])).toEqual({ query: QUERY, time: "1748779210.000" });
    expect(request?.headers.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/aps\/aws4_request, SignedHeaders=[a-z0-9;-]*host[a-z0-9;-]*, Signature=[0-9a-f]{64}$/,
    );
    expect(request?.headers["x-amz-date"]).toMatch(/^\d{8}T\d{6}Z$/);
  });

  it("signs for the function's region when the workspace names none", async () => {
    await amp().query(QUERY, AT);
    expect(prometheus.requests[0]?.headers.authorization).toContain("/us-east-1/aps/aws4_request");
  });

  it("asks a Prometheus in the cluster through the API server's service proxy, with the cluster token", async () => {
    cluster.serviceAnswer = (service, path, request) => ({
      status: 200,
      body: {
        ...(vectorAnswer("7.5") as object),
        asked: { service, path, query: (request.body as string) ?? "" },
      },
    });
    const queries = new PrometheusQueries({
      endpoint: {
        kind: "service",
        namespace: "monitoring",
        service: "prometheus-server",
        port: 9090,
        pathPrefix: "/prom",
      },
      region: "us-east-1",
      connection: () => ({
        endpoint: async () => ({ server: clusterUrl, caData: cluster.caData }),
        token: async () => "token-1",
      }),
    });
    expect(await queries.query(QUERY, AT)).toBe(7.5);
    const proxied = cluster.requests.at(-1);
    expect(proxied?.path).toBe(
      "/api/v1/namespaces/monitoring/services/prometheus-server:9090/proxy/prom/api/v1/query",
    );
    expect(proxied?.authorization).toBe("Bearer token-1");
    // A GET: the Prober's Kubernetes identity needs only `get` on services/proxy.
    expect([proxied?.method, proxied?.query.get("query")]).toEqual(["GET", QUERY]);
  });

  it("asks a plain URL as it is", async () => {
    const queries = new PrometheusQueries({
      endpoint: { kind: "url", url: `${prometheusUrl}/` },
      region: "us-east-1",
    });
    expect(await queries.query(QUERY, AT)).toBe(42);
    expect(prometheus.requests[0]?.path).toBe("/api/v1/query");
    expect(prometheus.requests[0]?.headers.authorization).toBeUndefined();
  });

  it("reads an empty answer and NaN as no value", async () => {
    prometheus.answer = (query) => ({
      status: 200,
      body: query === "none" ? vectorAnswer() : vectorAnswer("NaN"),
    });
    expect(await amp().query("none", AT)).toBeUndefined();
    expect(await amp().query("nan", AT)).toBeUndefined();
  });

  it("refuses an answer of several series, saying to aggregate it", async () => {
    prometheus.answer = () => ({ status: 200, body: vectorAnswer("1", "2") });
    await expect(amp().query("up", AT)).rejects.toThrow(
      "up answered 2 series; a query must answer one number: aggregate it, e.g. sum(…)",
    );
  });

  it("names the permission the Prober lacks when AMP refuses it", async () => {
    prometheus.answer = () => ({
      status: 403,
      body: '{"message":"User is not authorized to perform: aps:QueryMetrics"}',
    });
    await expect(amp().query(QUERY, AT)).rejects.toThrow(
      /AMP workspace ws-8f0a6e2b-1c3d refused the query \(403\).*The Prober's role needs aps:QueryMetrics on the workspace\./,
    );
  });

  it("passes on what Prometheus says about a query it refuses", async () => {
    prometheus.answer = () => ({
      status: 400,
      body: { status: "error", errorType: "bad_data", error: 'parse error: unexpected "}"' },
    });
    await expect(amp().query("sum(}", AT)).rejects.toThrow(
      'Prometheus refused sum(} (400: parse error: unexpected "}")',
    );
  });

  it("fails, naming where, when Prometheus cannot be reached", async () => {
    const queries = new PrometheusQueries({
      endpoint: { kind: "url", url: "http://127.0.0.1:9" },
      region: "us-east-1",
    });
    await expect(queries.query(QUERY, AT)).rejects.toThrow(
      /^Asking http:\/\/127\.0\.0\.1:9 failed: .*ECONNREFUSED/,
    );
  });
});
