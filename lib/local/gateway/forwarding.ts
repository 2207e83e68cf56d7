// Forwards one request to a backend's server and its answer back, as a reverse proxy should: hop-by-hop
// headers (RFC 9110 §7.6.1, and any the Connection header names) are dropped both ways, the body goes
// through untouched — a streamed answer chunk by chunk as the server writes it, with backpressure (a slow
// client slows the read from the server) — and a client that leaves stops the request to the server.

import {
  type Agent as HttpAgent,
  type ClientRequest,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
  request as httpRequest,
  type ServerResponse,
} from "node:http";
import { type Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { pipeline } from "node:stream";
import type { Endpoint } from "../../ports";
import { OpenAiError } from "../llama-server/openai-error";
import { sendError } from "./http-messages";

const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

/** Request headers the gateway consumes or sets itself (a client cannot inject a server fault). */
const NOT_FORWARDED = new Set([
  "host",
  "content-length",
  "expect",
  "x-modelship-variant",
  "x-modelship-probe",
  "x-modelship-fault-server-delay",
]);

export interface ForwardedRequest {
  readonly method: string;
  /** Path and query under the endpoint's base URL, e.g. `/chat/completions`. */
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  readonly clientAddress: string | undefined;
}

/**
 * How the exchange ended. `completed`: the whole answer reached the client (`status` is the server's);
 * `upstream-failed`: the server could not be reached or broke off its answer; `client-gone`: the client left
 * first (`status` is the server's if its answer had begun).
 */
export type ForwardOutcome =
  | { readonly outcome: "completed"; readonly status: number }
  | { readonly outcome: "upstream-failed"; readonly status?: number }
  | { readonly outcome: "client-gone"; readonly status?: number };

export interface Upstream {
  readonly endpoint: Endpoint;
  readonly agents: { readonly http: HttpAgent; readonly https: HttpsAgent };
}

/** Where the request goes on the endpoint's server, and the headers it goes with. */
function upstreamRequest(
  request: ForwardedRequest,
  endpoint: Endpoint,
): { readonly target: URL; readonly headers: OutgoingHttpHeaders } {
  const target = new URL(`${endpoint.baseUrl.replace(/\/+$/, "")}${request.path}`);
  const headers: OutgoingHttpHeaders = {
    ...endToEndHeaders(request.headers, NOT_FORWARDED),
    ...endpoint.headers,
    host: target.host,
    "content-length": request.body.length,
  };
  const forwardedFor = [request.headers["x-forwarded-for"], request.clientAddress].filter(Boolean).join(", ");
  if (forwardedFor) headers["x-forwarded-for"] = forwardedFor;
  return { target, headers };
}

/**
 * Opens the request on the endpoint's server — https with the endpoint's CA certificate when it has one — with
 * the headers upstreamRequest gives; the caller sends the body and reads the answer.
 */
export function openUpstream(
  request: ForwardedRequest,
  upstream: Upstream,
  signal?: AbortSignal,
): { readonly target: URL; readonly toServer: ClientRequest } {
  const { endpoint, agents } = upstream;
  const { target, headers } = upstreamRequest(request, endpoint);
  const options = { method: request.method, headers, ...(signal && { signal }) };
  const toServer =
    target.protocol === "https:"
      ? httpsRequest(target, {
          ...options,
          agent: agents.https,
          ...(endpoint.caCertificate ? { ca: endpoint.caCertificate } : {}),
        })
      : httpRequest(target, { ...options, agent: agents.http });
  return { target, toServer };
}

/**
 * Sends the request to the endpoint and streams its answer into `response`, with `extraHeaders` added;
 * `tap`, when given, sees each chunk of the answer too (a shadow keeps the start of the stable's answer).
 */
export function forward(
  request: ForwardedRequest,
  upstream: Upstream,
  response: ServerResponse,
  extraHeaders: Readonly<Record<string, string>>,
  tap?: (chunk: Buffer) => void,
): Promise<ForwardOutcome> {
  return new Promise((resolve) => {
    let status: number | undefined;
    let failure: string | undefined;
    let clientLeft = false;
    const { target, toServer } = openUpstream(request, upstream);

    toServer.on("response", (answer) => {
      status = answer.statusCode ?? 502;
      // Before pipeline's own listener, so the cause is known by the time the client's response closes.
      answer.once("error", (error) => {
        if (!clientLeft) failure ??= `the server broke off its answer (${error.message})`;
      });
      if (tap) answer.on("data", tap);
      response.writeHead(status, { ...endToEndHeaders(answer.headers, new Set()), ...extraHeaders });
      response.flushHeaders();
      pipeline(answer, response, () => {});
    });
    toServer.on("error", (error) => {
      if (clientLeft) return;
      failure ??= `the server at ${target.origin} could not be reached (${error.message})`;
      sendError(
        response,
        new OpenAiError(502, `The gateway could not get an answer: ${failure}.`, null, "upstream_failed"),
        extraHeaders,
      );
    });
    response.once("close", () => {
      const known = status === undefined ? {} : { status };
      if (failure !== undefined) {
        resolve({ outcome: "upstream-failed", ...known });
      } else if (!response.writableFinished) {
        clientLeft = true;
        toServer.destroy();
        resolve({ outcome: "client-gone", ...known });
      } else {
        resolve({ outcome: "completed", status: status ?? 502 });
      }
    });
    toServer.end(request.body);
  });
}

/** The headers without hop-by-hop ones, those the Connection header names, and `dropped`. */
function endToEndHeaders(headers: IncomingHttpHeaders, dropped: ReadonlySet<string>): OutgoingHttpHeaders {
  const named = new Set(
    String(headers.connection ?? "")
      .split(",")
      .map((token) => token.trim().toLowerCase())
      .filter(Boolean),
  );
  const kept: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || named.has(name) || dropped.has(name)) continue;
    kept[name] = value;
  }
  return kept;
}
