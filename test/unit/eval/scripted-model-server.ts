// A small HTTP server that answers like an OpenAI-compatible model server, one scripted reply per request:
// the text a model would write for each question, or a status (500, 429 with Retry-After), a hang, or a
// dropped connection — decided per question and per attempt, so a test can fail one item twice and then
// answer it. It counts requests in flight, to check a client's concurrency bound.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export type ScriptedReply =
  | { readonly content: string }
  | { readonly status: number; readonly message?: string; readonly retryAfter?: string }
  | "hang"
  | "drop";

export interface ScriptedRequest {
  readonly path: string;
  readonly body: Record<string, unknown>;
  /** The last user message of a chat, or the plain prompt. */
  readonly question: string;
  /** 1 for the first request with this question, 2 for its retry, … */
  readonly attempt: number;
}

export type Script = (request: ScriptedRequest) => ScriptedReply | Promise<ScriptedReply>;

export class ScriptedModelServer {
  readonly requests: ScriptedRequest[] = [];
  inFlight = 0;
  maxInFlight = 0;
  private readonly server: Server;
  private readonly attempts = new Map<string, number>();

  private constructor(private readonly script: Script) {
    this.server = createServer((req, res) => void this.handle(req, res));
  }

  static async start(script: Script): Promise<ScriptedModelServer> {
    const server = new ScriptedModelServer(script);
    await new Promise<void>((resolve) => server.server.listen(0, "127.0.0.1", resolve));
    return server;
  }

  /** Like a Serving endpoint's base URL: ends in `/v1`. */
  get baseUrl(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const path = req.url ?? "/";
    if (req.method === "GET" && path === "/v1/models") {
      return json(res, 200, { object: "list", data: [{ id: "scripted", object: "model" }] });
    }
    const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown>;
    const question = questionOf(body);
    const attempt = (this.attempts.get(question) ?? 0) + 1;
    this.attempts.set(question, attempt);
    const request = { path, body, question, attempt };
    this.requests.push(request);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    const reply = await this.script(request);
    this.inFlight--;
    if (reply === "hang") return;
    if (reply === "drop") {
      req.socket.destroy();
      return;
    }
    if ("status" in reply) {
      if (reply.retryAfter !== undefined) res.setHeader("retry-after", reply.retryAfter);
      return json(res, reply.status, { error: { message: reply.message ?? "The server is busy." } });
    }
    const choice =
      path === "/v1/completions"
        ? { index: 0, text: reply.content, finish_reason: "stop" }
        : { index: 0, message: { role: "assistant", content: reply.content }, finish_reason: "stop" };
    json(res, 200, { id: "cmpl-1", object: "chat.completion", choices: [choice] });
  }
}

function questionOf(body: Record<string, unknown>): string {
  if (typeof body["prompt"] === "string") return body["prompt"];
  const messages = body["messages"] as { role: string; content: string }[];
  return messages.findLast((m) => m.role === "user")?.content ?? "";
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}
