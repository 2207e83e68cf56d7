// An in-test OpenAI-compatible server for the load generator: it streams chat completions over SSE with
// delays and failures a test chooses per request (by arrival order), so the truth a measurement is judged
// against is what the server was told to do. It counts prompt tokens with a tokenizer of its own — by default
// one token per character of each message plus a fixed chat template, like a byte-level vocabulary — and,
// like vLLM, answers `POST /tokenize` with that count (a test can take the route away) and may list a
// `max_model_len`.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export type Reply =
  | {
      readonly kind: "stream";
      /** Wait before the first content chunk (a role-only chunk goes out at once). */
      readonly ttftMs: number;
      /** Wait between content chunks. */
      readonly gapMs: number;
      readonly chunks: number;
      /** The `usage` chunk's numbers (`prompt` absent: the tokenizer's count); no usage chunk when undefined. */
      readonly usage?: { readonly prompt?: number; readonly completion: number };
      /** Content in `reasoning_content` instead of `content`. */
      readonly reasoning?: boolean;
    }
  /** An error status with an OpenAI-style body: `message`, or `injected <status>`. */
  | { readonly kind: "status"; readonly status: number; readonly message?: string }
  /** The connection drops after the first content chunk. */
  | { readonly kind: "broken" }
  /** An event whose data is not JSON. */
  | { readonly kind: "not-json" }
  /** The stream ends without `data: [DONE]`. */
  | { readonly kind: "no-done" }
  /** The server never answers. */
  | { readonly kind: "hang" };

export interface Tokenizer {
  /** Tokens the chat template adds to every prompt. */
  readonly templateTokens: number;
  /** Tokens of one message's content. */
  readonly contentTokens: (content: string) => number;
}

export interface ServerOptions {
  readonly tokenizer?: Tokenizer;
  /** Answer `POST /tokenize` (vLLM's chat form) with the tokenizer's count. Default true. */
  readonly tokenizeRoute?: boolean;
  /** The `max_model_len` `/v1/models` lists; none when undefined. */
  readonly maxModelLen?: number;
  /** Like llama.cpp's server: `GET /props` answers `default_generation_settings.n_ctx` with this. */
  readonly slotContext?: number;
}

/** One token per character, and 12 for the template: what a byte-level vocabulary without merges does. */
export const BYTE_TOKENIZER: Tokenizer = { templateTokens: 12, contentTokens: (content) => content.length };

export class StreamingServer {
  /** The JSON bodies of chat completions received, in arrival order. */
  readonly bodies: Record<string, unknown>[] = [];
  /** The JSON bodies of `/tokenize` requests received. */
  readonly tokenizeBodies: Record<string, unknown>[] = [];
  /** The most chat completions it was answering at the same time. */
  maxInFlight = 0;
  private inFlight = 0;
  private readonly server: Server;
  private readonly hanging = new Set<ServerResponse>();

  private constructor(
    private readonly replyTo: (index: number) => Reply,
    private readonly options: ServerOptions,
  ) {
    this.server = createServer((req, res) => void this.handle(req, res));
  }

  static async start(
    replyTo: (index: number) => Reply,
    options: ServerOptions = {},
  ): Promise<StreamingServer> {
    const server = new StreamingServer(replyTo, options);
    await new Promise<void>((resolve) => server.server.listen(0, "127.0.0.1", resolve));
    return server;
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    if (req.method === "GET" && req.url === "/v1/models") {
      const { maxModelLen } = this.options;
      res.writeHead(200, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          object: "list",
          data: [{ id: "tiny", object: "model", ...(maxModelLen ? { max_model_len: maxModelLen } : {}) }],
        }),
      );
      return;
    }
    if (req.method === "GET" && req.url === "/props" && this.options.slotContext !== undefined) {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(
        JSON.stringify({ default_generation_settings: { n_ctx: this.options.slotContext }, total_slots: 1 }),
      );
      return;
    }
    if (req.method === "POST" && req.url === "/tokenize" && this.options.tokenizeRoute !== false) {
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown>;
      this.tokenizeBodies.push(body);
      const count = this.promptTokens(body);
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ count, max_model_len: this.options.maxModelLen ?? 4096, tokens: [] }));
      return;
    }
    if (req.method !== "POST" || req.url !== "/v1/chat/completions") {
      res.writeHead(404).end();
      return;
    }
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    res.on("close", () => this.inFlight--);
    const index = this.bodies.length;
    const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown>;
    this.bodies.push(body);
    const reply = this.replyTo(index);
    switch (reply.kind) {
      case "status":
        res.writeHead(reply.status, { "content-type": "application/json" });
        res.end(
          JSON.stringify({
            error: { message: reply.message ?? `injected ${reply.status}`, type: "server_error" },
          }),
        );
        return;
      case "hang":
        this.hanging.add(res);
        return;
      default:
        return this.stream(res, reply, this.promptTokens(body));
    }
  }

  /** What the tokenizer counts for a request's messages, the template included. */
  promptTokens(body: Record<string, unknown>): number {
    const tokenizer = this.options.tokenizer ?? BYTE_TOKENIZER;
    const messages = Array.isArray(body["messages"]) ? (body["messages"] as { content?: unknown }[]) : [];
    return messages.reduce(
      (sum, m) => sum + tokenizer.contentTokens(typeof m.content === "string" ? m.content : ""),
      tokenizer.templateTokens,
    );
  }

  private async stream(
    res: ServerResponse,
    reply: Exclude<Reply, { kind: "status" | "hang" }>,
    promptTokens: number,
  ): Promise<void> {
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    const send = (data: unknown) => res.write(`data: ${JSON.stringify(data)}\n\n`);
    const delta = (d: object, finish: string | null = null) => ({
      choices: [{ index: 0, delta: d, finish_reason: finish }],
    });
    send(delta({ role: "assistant", content: "" }));
    if (reply.kind === "broken") {
      res.write(`data: ${JSON.stringify(delta({ content: "Hi" }))}\n\n`, () => res.destroy());
      return;
    }
    if (reply.kind === "not-json") {
      res.end("data: {not json\n\ndata: [DONE]\n\n");
      return;
    }
    if (reply.kind === "no-done") {
      send(delta({ content: "Hi" }));
      res.end();
      return;
    }
    await pause(reply.ttftMs);
    for (let i = 0; i < reply.chunks; i++) {
      if (i > 0) await pause(reply.gapMs);
      send(delta(reply.reasoning ? { reasoning_content: `step ${i} ` } : { content: `word${i} ` }));
    }
    send(delta({}, "length"));
    if (reply.usage) {
      const prompt = reply.usage.prompt ?? promptTokens;
      send({
        choices: [],
        usage: {
          prompt_tokens: prompt,
          completion_tokens: reply.usage.completion,
          total_tokens: prompt + reply.usage.completion,
        },
      });
    }
    res.end("data: [DONE]\n\n");
  }
}

/**
 * Waits at least `ms` by the monotonic clock the client measures with: a timer alone can fire up to a
 * millisecond early (the event loop's clock is cached), which would make the injected truth a lie.
 */
async function pause(ms: number): Promise<void> {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, until - performance.now())));
  }
}
