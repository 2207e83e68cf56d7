// A Server-Sent Events parser (the WHATWG event-stream format that OpenAI-compatible servers stream tokens
// in): bytes in, events out, pure and incremental. Chunks may split the stream anywhere — inside a UTF-8
// character, between the CR and LF of a line ending, inside a field name — and still give the same events.
// Lines end in LF, CRLF or a lone CR; `:` lines are comments; several `data:` lines join with "\n".

export interface SseEvent {
  /** The `event:` field; `message` when the event named none. */
  readonly event: string;
  readonly data: string;
  /** The last `id:` seen so far, as the spec's "last event ID". */
  readonly id?: string;
}

export class SseParser {
  /** Streaming, so a character split across chunks decodes whole; it drops a leading BOM, as the spec says. */
  private readonly decoder = new TextDecoder("utf-8");
  /** The current line's text so far: chunks end anywhere. */
  private partialLine = "";
  /** A CR ended the last chunk: an LF starting the next belongs to the same line ending. */
  private pendingCr = false;
  private data: string[] = [];
  private eventType = "";
  private lastId: string | undefined;

  /** Feeds the next chunk; returns the events it completed. */
  push(chunk: Uint8Array): SseEvent[] {
    return this.consume(this.decoder.decode(chunk, { stream: true }));
  }

  /** The stream ended: returns what its last bytes completed. An event without its blank line is dropped, as the spec says. */
  end(): SseEvent[] {
    const events = this.consume(this.decoder.decode());
    this.partialLine = "";
    this.data = [];
    this.eventType = "";
    return events;
  }

  private consume(text: string): SseEvent[] {
    if (text === "") return [];
    let from = 0;
    if (this.pendingCr && text.startsWith("\n")) from = 1;
    this.pendingCr = false;
    const events: SseEvent[] = [];
    // Only the new text is scanned: a long line arriving in many chunks costs linear time.
    for (let i = from; i < text.length; i++) {
      const char = text[i];
      if (char !== "\n" && char !== "\r") continue;
      const event = this.processLine(this.partialLine + text.slice(from, i));
      this.partialLine = "";
      if (event) events.push(event);
      if (char === "\r") {
        if (i + 1 === text.length) this.pendingCr = true;
        else if (text[i + 1] === "\n") i++;
      }
      from = i + 1;
    }
    this.partialLine += text.slice(from);
    return events;
  }

  private processLine(line: string): SseEvent | undefined {
    if (line === "") return this.dispatch();
    if (line.startsWith(":")) return undefined;
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    switch (field) {
      case "data":
        this.data.push(value);
        break;
      case "event":
        this.eventType = value;
        break;
      case "id":
        if (!value.includes("\0")) this.lastId = value;
        break;
      default:
        // `retry` and unknown fields change nothing a client of a token stream needs.
        break;
    }
    return undefined;
  }

  private dispatch(): SseEvent | undefined {
    const data = this.data;
    const eventType = this.eventType;
    this.data = [];
    this.eventType = "";
    if (data.length === 0) return undefined;
    return {
      event: eventType || "message",
      data: data.join("\n"),
      ...(this.lastId === undefined ? {} : { id: this.lastId }),
    };
  }
}
