// Small requests the load generator makes beside the load itself — the context a server reports, how many
// tokens it counts in a prompt — over one keep-alive pool per server, each bounded in time and in the bytes
// read back. A server that does not answer, answers an error or answers something unreadable is a reason
// (a sentence), never an exception: the caller falls back and says why.

import { Pool } from "undici";
import { openAiRoute, serverRoute } from "./endpoint-url";
import { networkErrorMessage, serverErrorMessage } from "./error-detail";

/** The server a load runs against, as the load options name it. */
export interface ServerTarget {
  readonly baseUrl: string;
  /** The served model name, sent as every request's `model`. */
  readonly model: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly caCertificate?: string;
  /** Stops the requests in flight and any later one. */
  readonly signal?: AbortSignal;
}

export type ServerAnswer =
  | { readonly ok: true; readonly status: number; readonly text: string }
  | { readonly ok: false; readonly detail: string };

const REQUEST_TIMEOUT_MS = 30_000;
/** Token counts and properties are small JSON; a few streamed events of one token are smaller still. */
const MAX_ANSWER_BYTES = 1024 * 1024;

export class ServerRequests {
  private readonly pool: Pool;
  private readonly origin: string;

  constructor(private readonly target: ServerTarget) {
    this.origin = new URL(target.baseUrl).origin;
    this.pool = new Pool(this.origin, {
      connections: 4,
      ...(target.caCertificate ? { connect: { ca: target.caCertificate } } : {}),
    });
  }

  /** `GET|POST <base>/v1/<route>`. */
  openAi(method: "GET" | "POST", route: string, body?: unknown): Promise<ServerAnswer> {
    return this.send(method, openAiRoute(this.target.baseUrl, route).path, body);
  }

  /** `GET|POST <server root>/<route>`, beside `/v1`. */
  root(method: "GET" | "POST", route: string, body?: unknown): Promise<ServerAnswer> {
    return this.send(method, serverRoute(this.target.baseUrl, route).path, body);
  }

  async close(): Promise<void> {
    await this.pool.destroy();
  }

  private async send(method: "GET" | "POST", path: string, body: unknown): Promise<ServerAnswer> {
    const timeout = AbortSignal.timeout(REQUEST_TIMEOUT_MS);
    const signal = this.target.signal ? AbortSignal.any([timeout, this.target.signal]) : timeout;
    const where = `${method} ${path}`;
    try {
      const response = await this.pool.request({
        path,
        method,
        headers: {
          accept: "application/json, text/event-stream",
          ...(body === undefined ? {} : { "content-type": "application/json" }),
          ...this.target.headers,
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal,
      });
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of response.body) {
        size += (chunk as Buffer).byteLength;
        if (size > MAX_ANSWER_BYTES) {
          response.body.destroy();
          return { ok: false, detail: `${where} answered more than ${MAX_ANSWER_BYTES} bytes` };
        }
        chunks.push(chunk as Buffer);
      }
      return { ok: true, status: response.statusCode, text: Buffer.concat(chunks).toString("utf8") };
    } catch (error) {
      if (this.target.signal?.aborted) return { ok: false, detail: `${where} was stopped` };
      if (timeout.aborted)
        return { ok: false, detail: `${where}: no answer within ${REQUEST_TIMEOUT_MS / 1000} s` };
      return { ok: false, detail: `${where}: ${networkErrorMessage(error)}` };
    }
  }
}

/** An answer that is not a 200 (or not an answer), as a sentence with the server's own message. */
export function describeFailure(answer: ServerAnswer, what: string): string {
  if (!answer.ok) return answer.detail;
  return `${what} answered HTTP ${answer.status}${answer.text.trim() ? `: ${serverErrorMessage(answer.text)}` : ""}`;
}

/** The JSON of a 200 answer, or undefined. */
export function jsonOf(answer: ServerAnswer): unknown {
  if (!answer.ok || answer.status !== 200) return undefined;
  try {
    return JSON.parse(answer.text) as unknown;
  } catch {
    return undefined;
  }
}

export function field(value: unknown, key: string): unknown {
  return typeof value === "object" && value !== null ? (value as Record<string, unknown>)[key] : undefined;
}
