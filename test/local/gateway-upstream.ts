// Small model servers for the local gateway's tests: each answers like an OpenAI server and says who it is
// (`served`), echoing the request it got (path, headers, body) so a test sees what the gateway forwarded.
// `respond` overrides the answer; `streamUntil` makes a streamed answer whose second half waits for the test.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { CandidateHandle, Endpoint } from "../../lib/ports";

export interface ForwardedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingMessage["headers"];
  readonly body: string;
}

export interface TestUpstream {
  readonly name: string;
  readonly port: number;
  readonly received: ForwardedRequest[];
  /** A handle for `version` of `model` whose details point at this server (see `endpointOf`). */
  handle(model: string, version: string): CandidateHandle;
  close(): Promise<void>;
}

export type Responder = (request: ForwardedRequest, response: ServerResponse) => void | Promise<void>;

export async function startUpstream(name: string, respond?: Responder): Promise<TestUpstream> {
  const received: ForwardedRequest[] = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const forwarded = {
        method: request.method ?? "",
        path: request.url ?? "",
        headers: request.headers,
        body: Buffer.concat(chunks).toString("utf8"),
      };
      received.push(forwarded);
      if (respond) {
        void respond(forwarded, response);
        return;
      }
      const text = JSON.stringify({ served: name, object: "chat.completion", choices: [] });
      response.writeHead(200, { "content-type": "application/json", "x-upstream": name });
      response.end(text);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    name,
    port,
    received,
    handle: (model, version) => ({
      id: `test-${name}`,
      model,
      version,
      rolloutId: `${model}-${version}-0000000${version.length}`,
      servedName: model,
      deployedAt: "2026-01-01T00:00:00.000Z",
      details: { port },
    }),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Serving.endpoint for test handles: the server at the handle's port, under `/v1` like LocalServing's. */
export async function endpointOf(handle: CandidateHandle): Promise<Endpoint> {
  const port = handle.details?.["port"];
  if (typeof port !== "number") throw new Error(`${handle.id} has no server port.`);
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    headers: { authorization: "Bearer upstream-token" },
    servedName: handle.servedName,
  };
}
