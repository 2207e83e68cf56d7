// Queries to the Prometheus a platform team already runs (the stack's canaryMetrics.prometheus), from a
// Lambda function, each a `GET …/api/v1/query`: Amazon Managed Service for Prometheus at
// `https://aps-workspaces.<region>.amazonaws.com/workspaces/<id>/api/v1/query`, signed with SigV4 for the
// service `aps` by the function's role (which needs `aps:QueryMetrics` on the workspace); a Prometheus in the
// cluster through the API server's service proxy, with the cluster token (RBAC: `get` on `services/proxy`);
// or any URL the function reaches. Each answer is read with a size cap and a time limit.

import { Sha256 } from "@aws-crypto/sha256-js";
import { fromNodeProviderChain } from "@aws-sdk/credential-providers";
import { HttpRequest } from "@smithy/protocol-http";
import { SignatureV4 } from "@smithy/signature-v4";
import { Agent, request } from "undici";
import type { PrometheusEndpoint } from "../core/config/config";
import {
  MAX_ANSWER_BYTES,
  PrometheusQueryFailed,
  prometheusQueryRequest,
  readPrometheusAnswer,
} from "../core/prometheus/prometheus-query";
import { describeNetworkError, readCappedText } from "../eval/http";
import type { ClusterConnection } from "./eks/cluster";
import type { SigningCredentials } from "./eks/token";

export interface PrometheusQueriesOptions {
  readonly endpoint: PrometheusEndpoint;
  /** The function's region: an AMP workspace's when its endpoint names none. */
  readonly region: string;
  /** The cluster whose API server proxies to an in-cluster Prometheus (kind `service`). */
  readonly connection?: () => ClusterConnection;
  /** Signs AMP queries. Default: the Node.js provider chain (in a Lambda function, its role). */
  readonly credentials?: SigningCredentials;
  /** AMP's base URL. Default `https://aps-workspaces.<region>.amazonaws.com` (tests point it elsewhere). */
  readonly ampUrl?: string;
  /** Milliseconds one query may take. Default 5000: a probe round lasts a few seconds. */
  readonly timeoutMs?: number;
}

export class PrometheusQueries {
  private readonly options: PrometheusQueriesOptions;
  private signer: SignatureV4 | undefined;
  private agent: Agent | undefined;

  constructor(options: PrometheusQueriesOptions) {
    this.options = options;
  }

  /** The one number the query answers at `at`; undefined for none; PrometheusQueryFailed otherwise. */
  async query(promql: string, at: Date): Promise<number | undefined> {
    const { endpoint } = this.options;
    const asked = prometheusQueryRequest(promql, at);
    let url: URL;
    let headers: Record<string, string> = { ...asked.headers };
    if (endpoint.kind === "amp") {
      const region = endpoint.region ?? this.options.region;
      const base = this.options.ampUrl ?? `https://aps-workspaces.${region}.amazonaws.com`;
      url = new URL(
        `${base.replace(/\/+$/, "")}/workspaces/${encodeURIComponent(endpoint.workspaceId)}${asked.path}`,
      );
      for (const [name, value] of Object.entries(asked.query)) url.searchParams.set(name, value);
      headers = await this.signed(url, headers, asked.query, region);
    } else if (endpoint.kind === "service") {
      const connection = this.options.connection?.();
      if (!connection)
        throw new PrometheusQueryFailed("An in-cluster Prometheus needs the cluster's connection.");
      const { server, caData } = await connection.endpoint();
      const proxy = `/api/v1/namespaces/${endpoint.namespace}/services/${endpoint.service}:${endpoint.port}/proxy`;
      url = new URL(`${server.replace(/\/+$/, "")}${proxy}${endpoint.pathPrefix ?? ""}${asked.path}`);
      for (const [name, value] of Object.entries(asked.query)) url.searchParams.set(name, value);
      headers.authorization = `Bearer ${await connection.token()}`;
      this.agent ??= new Agent({ connect: { ca: Buffer.from(caData, "base64").toString("utf8") } });
    } else {
      url = new URL(`${endpoint.url.replace(/\/+$/, "")}${asked.path}`);
      for (const [name, value] of Object.entries(asked.query)) url.searchParams.set(name, value);
    }
    const where = endpoint.kind === "amp" ? `AMP workspace ${endpoint.workspaceId}` : url.origin;
    let status: number;
    let text: string;
    try {
      const response = await request(url, {
        method: "GET",
        headers,
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 5000),
        ...(endpoint.kind === "service" && this.agent ? { dispatcher: this.agent } : {}),
      });
      status = response.statusCode;
      text = await readCappedText(response.body, MAX_ANSWER_BYTES);
    } catch (error) {
      throw new PrometheusQueryFailed(`Asking ${where} failed: ${describeNetworkError(error)}`, {
        cause: error,
      });
    }
    if (status === 403 || status === 401) {
      throw new PrometheusQueryFailed(
        `${where} refused the query (${status}): ${text.slice(0, 200)}. ${
          endpoint.kind === "amp"
            ? "The Prober's role needs aps:QueryMetrics on the workspace."
            : endpoint.kind === "service"
              ? "The Prober's Kubernetes group needs get on services/proxy in the Prometheus' namespace."
              : ""
        }`.trim(),
      );
    }
    return readPrometheusAnswer(status, text, promql);
  }

  /** The headers with AMP's SigV4 signature (service `aps`) over the method, path, query and host. */
  private async signed(
    url: URL,
    headers: Record<string, string>,
    query: Readonly<Record<string, string>>,
    region: string,
  ): Promise<Record<string, string>> {
    this.signer ??= new SignatureV4({
      credentials: this.options.credentials ?? fromNodeProviderChain(),
      region,
      service: "aps",
      sha256: Sha256,
    });
    const signed = await this.signer.sign(
      new HttpRequest({
        method: "GET",
        protocol: url.protocol,
        hostname: url.hostname,
        ...(url.port ? { port: Number(url.port) } : {}),
        path: url.pathname,
        query: { ...query },
        headers: { ...headers, host: url.host },
      }),
    );
    return Object.fromEntries(Object.entries(signed.headers).map(([name, value]) => [name, String(value)]));
  }
}
