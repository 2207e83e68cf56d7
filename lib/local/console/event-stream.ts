// Server-sent events for the web console (`GET /_modelship/ui/api/stream`): the framing of the text/event-stream
// format (WHATWG HTML, "Server-sent events": `event:` and `data:` lines, a blank line ends an event, a line
// starting with `:` is a comment) and a bounded set of clients. At most `maxClients` at once (one more is
// refused with 503); a client that does not read — its unsent bytes pass `maxBufferedBytes` — is dropped
// rather than buffered without end; a comment every `heartbeatMs` keeps proxies and the browser from taking a
// quiet stream for a dead one, and finds clients that went away.

import type { ServerResponse } from "node:http";
import { OpenAiError } from "../llama-server/openai-error";

/** One event in the text/event-stream format; `data` is sent as JSON, one `data:` line per line of it. */
export function sseFrame(event: string, data: unknown): string {
  if (/[\r\n]/.test(event))
    throw new RangeError(`An event name has no line breaks: ${JSON.stringify(event)}.`);
  const lines = JSON.stringify(data).split(/\r\n|\r|\n/);
  return `event: ${event}\n${lines.map((line) => `data: ${line}\n`).join("")}\n`;
}

/** A comment line: ignored by EventSource, it only keeps the connection alive. */
export const SSE_HEARTBEAT = ": heartbeat\n\n";

export interface EventStreamOptions {
  readonly maxClients?: number;
  readonly maxBufferedBytes?: number;
  readonly heartbeatMs?: number;
}

export class EventStream {
  private readonly clients = new Set<ServerResponse>();
  private readonly maxClients: number;
  private readonly maxBufferedBytes: number;
  private readonly heartbeat: NodeJS.Timeout;

  constructor(options: EventStreamOptions = {}) {
    this.maxClients = options.maxClients ?? 8;
    this.maxBufferedBytes = options.maxBufferedBytes ?? 1024 * 1024;
    this.heartbeat = setInterval(() => this.sendRaw(SSE_HEARTBEAT), options.heartbeatMs ?? 15_000);
    this.heartbeat.unref();
  }

  get size(): number {
    return this.clients.size;
  }

  /**
   * Makes the response a stream of events and sends it `first` (e.g. a snapshot); a 503 when `maxClients`
   * already follow. The client leaves when its response closes. A caller may build `first` before it attaches
   * (the console awaits its snapshot): a page that left meanwhile is not attached, since its "close" has
   * already been emitted and would never take it out of the set.
   */
  attach(response: ServerResponse, first: readonly string[] = []): void {
    if (response.destroyed || response.writableEnded) return;
    if (this.clients.size >= this.maxClients) {
      throw new OpenAiError(
        503,
        `The web console streams to ${this.maxClients} pages at most: close another console tab.`,
        null,
        "too_many_clients",
      );
    }
    response.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-store",
      "x-content-type-options": "nosniff",
    });
    this.clients.add(response);
    response.once("close", () => this.clients.delete(response));
    for (const frame of first) this.write(response, frame);
  }

  /** Sends an event to every client. */
  send(event: string, data: unknown): void {
    if (this.clients.size > 0) this.sendRaw(sseFrame(event, data));
  }

  /** Ends every stream and stops the heartbeat. */
  close(): void {
    clearInterval(this.heartbeat);
    for (const client of this.clients) client.end();
    this.clients.clear();
  }

  private sendRaw(frame: string): void {
    for (const client of this.clients) this.write(client, frame);
  }

  private write(client: ServerResponse, frame: string): void {
    if (client.writableLength + frame.length > this.maxBufferedBytes) {
      // It does not read what it is sent: drop it rather than keep its backlog in memory.
      this.clients.delete(client);
      client.destroy();
      return;
    }
    client.write(frame);
  }
}
