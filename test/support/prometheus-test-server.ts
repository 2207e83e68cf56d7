// A small HTTP server that answers like Prometheus' query API (`GET /api/v1/query?query=…&time=…`): each
// query's answer comes from the test's `answer` function as a JSON body and status, and every request is
// recorded with its path, headers and query parameters.

import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface PrometheusRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly params: URLSearchParams;
}

/** `{"status":"success","data":{"resultType":"vector","result":[…one sample per value…]}}` */
export function vectorAnswer(...values: readonly string[]): unknown {
  return {
    status: "success",
    data: {
      resultType: "vector",
      result: values.map((value, i) => ({ metric: { instance: `pod-${i}` }, value: [1748779200, value] })),
    },
  };
}

export class PrometheusTestServer {
  readonly requests: PrometheusRequest[] = [];
  answer: (query: string) => { status: number; body: unknown } = () => ({
    status: 200,
    body: vectorAnswer(),
  });
  private server: Server | undefined;

  async start(): Promise<string> {
    this.server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on("data", (chunk: Buffer) => chunks.push(chunk));
      request.on("end", () => {
        const url = new URL(request.url ?? "/", "http://prometheus.test");
        this.requests.push({
          method: request.method ?? "GET",
          path: url.pathname,
          headers: request.headers,
          params: url.searchParams,
        });
        const { status, body } = this.answer(url.searchParams.get("query") ?? "");
        response.writeHead(status, { "content-type": "application/json" });
        response.end(typeof body === "string" ? body : JSON.stringify(body));
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, "127.0.0.1", resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }
}
