// A small HTTP server that answers like an OpenAI-compatible model server (vLLM, llama.cpp): `/v1/models`,
// chat and plain completions, SSE streaming with usage. It behaves well by default; a test changes one
// behaviour (an empty answer, a 500, a broken stream …) to see how a client judges it. It records every
// request it received.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createTlsServer } from "node:https";
import type { AddressInfo } from "node:net";

export interface ReceivedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingMessage["headers"];
  readonly body: Record<string, unknown> | undefined;
}

export interface ServerBehaviour {
  /** The ids `/v1/models` lists. Default: the served name. */
  models?: readonly string[];
  /** The answer's text for a request (chat or completion). Default: a sentence. */
  answer?: (request: Record<string, unknown>) => string;
  finishReason?: string | null;
  /** The first N requests answer this status (then the server behaves). */
  failFirst?: { readonly count: number; readonly status: number };
  /** Completions never answer (the model hangs); `/v1/models` still does. */
  hang?: boolean;
  /** How a stream misbehaves. */
  stream?: "ok" | "no-usage" | "no-done" | "broken" | "not-json" | "json-not-sse";
}

export class OpenAiTestServer {
  readonly received: ReceivedRequest[] = [];
  behaviour: ServerBehaviour = {};
  private readonly server: Server;
  private failuresLeft = 0;

  private constructor(
    private readonly servedName: string,
    private readonly tls: { readonly key: string; readonly cert: string } | undefined,
  ) {
    const handler = (req: IncomingMessage, res: ServerResponse) => void this.handle(req, res);
    this.server = tls ? createTlsServer(tls, handler) : createServer(handler);
  }

  /** Over HTTPS when given a key and certificate. */
  static async start(
    servedName = "llama",
    tls?: { readonly key: string; readonly cert: string },
  ): Promise<OpenAiTestServer> {
    const server = new OpenAiTestServer(servedName, tls);
    await new Promise<void>((resolve) => server.server.listen(0, "127.0.0.1", resolve));
    return server;
  }

  /** The base URL a Serving adapter would give: ends in `/v1`. */
  get baseUrl(): string {
    const scheme = this.tls ? "https" : "http";
    return `${scheme}://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1`;
  }

  behave(behaviour: ServerBehaviour): void {
    this.behaviour = behaviour;
    this.failuresLeft = behaviour.failFirst?.count ?? 0;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString("utf8");
    const body = text ? (JSON.parse(text) as Record<string, unknown>) : undefined;
    const path = req.url ?? "/";
    this.received.push({ method: req.method ?? "", path, headers: req.headers, body });

    if (this.failuresLeft > 0 && this.behaviour.failFirst) {
      this.failuresLeft--;
      return json(res, this.behaviour.failFirst.status, {
        error: { message: "The model is still loading.", type: "server_error", param: null, code: null },
      });
    }
    if (req.method === "GET" && path === "/v1/models") {
      const ids = this.behaviour.models ?? [this.servedName];
      return json(res, 200, { object: "list", data: ids.map((id) => ({ id, object: "model" })) });
    }
    if (req.method === "POST" && this.behaviour.hang) return;
    if (req.method === "POST" && (path === "/v1/chat/completions" || path === "/v1/completions") && body) {
      const content = (this.behaviour.answer ?? (() => "Hello! I can answer questions briefly."))(body);
      const finishReason = this.behaviour.finishReason === undefined ? "stop" : this.behaviour.finishReason;
      const usage = { prompt_tokens: 12, completion_tokens: content.split(/\s+/).length };
      if (body["stream"] === true) return this.stream(res, content, finishReason, usage);
      const choice =
        path === "/v1/completions"
          ? { index: 0, text: content, finish_reason: finishReason }
          : { index: 0, message: { role: "assistant", content }, finish_reason: finishReason };
      return json(res, 200, { id: "cmpl-1", object: "chat.completion", choices: [choice], usage });
    }
    json(res, 404, { error: { message: `No route ${req.method} ${path}`, type: "invalid_request_error" } });
  }

  private stream(res: ServerResponse, content: string, finishReason: string | null, usage: object): void {
    const mode = this.behaviour.stream ?? "ok";
    if (mode === "json-not-sse") {
      return json(res, 200, { choices: [{ index: 0, message: { content }, finish_reason: finishReason }] });
    }
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    const send = (data: unknown) => res.write(`data: ${JSON.stringify(data)}\r\n\r\n`);
    send({ choices: [{ index: 0, delta: { role: "assistant" }, finish_reason: null }] });
    const pieces = content.match(/\S+\s*/g) ?? [];
    for (const [i, piece] of pieces.entries()) {
      const delta = { choices: [{ index: 0, delta: { content: piece }, finish_reason: null }] };
      if (mode === "broken") {
        // The connection drops once the first piece has reached the client.
        res.write(`data: ${JSON.stringify(delta)}\r\n\r\n`, () => res.destroy());
        return;
      }
      send(delta);
      if (mode === "not-json" && i === 0) res.write("data: {not json\r\n\r\n");
    }
    send({ choices: [{ index: 0, delta: {}, finish_reason: finishReason }] });
    if (mode !== "no-usage") send({ choices: [], usage });
    if (mode !== "no-done") res.write("data: [DONE]\r\n\r\n");
    res.end();
  }
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}
