import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type SseEvent, SseParser } from "../../lib/core/openai/sse-parser";

const utf8 = (text: string) => new TextEncoder().encode(text);

function parseChunks(chunks: readonly Uint8Array[]): SseEvent[] {
  const parser = new SseParser();
  return [...chunks.flatMap((chunk) => parser.push(chunk)), ...parser.end()];
}

/** The stream cut at the given byte offsets (any order, duplicates allowed). */
function splitAt(bytes: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let from = 0;
  for (const point of [...points, bytes.length]) {
    chunks.push(bytes.subarray(from, point));
    from = point;
  }
  return chunks;
}

/** What an OpenAI-compatible server streams for a chat completion, in the given line ending. */
function chatStream(eol: string): string {
  const chunk = (delta: object, finish: string | null = null) =>
    `data: ${JSON.stringify({ choices: [{ index: 0, delta, finish_reason: finish }] })}${eol}${eol}`;
  return [
    `: keep-alive${eol}${eol}`,
    chunk({ role: "assistant" }),
    chunk({ content: "Bonjour, " }),
    chunk({ content: "ça va ? 👋" }),
    chunk({}, "stop"),
    `data: ${JSON.stringify({ choices: [], usage: { prompt_tokens: 9, completion_tokens: 4 } })}${eol}${eol}`,
    `data: [DONE]${eol}${eol}`,
  ].join("");
}

describe("SseParser", () => {
  it("reads an OpenAI chat stream: comments skipped, one event per data block, [DONE] last", () => {
    const events = parseChunks([utf8(chatStream("\n"))]);

    expect(events).toHaveLength(6);
    expect(events.every((e) => e.event === "message")).toBe(true);
    expect(JSON.parse(events[2]?.data ?? "")).toMatchObject({
      choices: [{ delta: { content: "ça va ? 👋" } }],
    });
    expect(events.at(-1)?.data).toBe("[DONE]");
  });

  it("gives the same events for LF, CRLF and lone-CR line endings", () => {
    const lf = parseChunks([utf8(chatStream("\n"))]);

    expect(parseChunks([utf8(chatStream("\r\n"))])).toEqual(lf);
    expect(parseChunks([utf8(chatStream("\r"))])).toEqual(lf);
  });

  it("joins multi-line data with newlines and strips one space after the colon", () => {
    const events = parseChunks([utf8("data: first\ndata:second\ndata:  third\n\n")]);

    expect(events).toEqual([{ event: "message", data: "first\nsecond\n third" }]);
  });

  it("carries the event type, the last event id, and treats a field without a colon as empty", () => {
    const events = parseChunks([utf8("event: error\nid: 7\ndata: {}\n\ndata\n\nretry: 100\ndata: x\n\n")]);

    expect(events).toEqual([
      { event: "error", data: "{}", id: "7" },
      { event: "message", data: "", id: "7" },
      { event: "message", data: "x", id: "7" },
    ]);
  });

  it("drops an event the stream cut off before its blank line, and blocks with no data", () => {
    expect(parseChunks([utf8("event: ping\n\ndata: complete\n\ndata: cut off")])).toEqual([
      { event: "message", data: "complete" },
    ]);
  });

  it("ignores a byte-order mark at the start of the stream", () => {
    expect(parseChunks([new Uint8Array([0xef, 0xbb, 0xbf]), utf8("data: x\n\n")])).toEqual([
      { event: "message", data: "x" },
    ]);
  });

  it("gives the same events however the bytes are split: inside characters, line endings, field names", () => {
    const streams = ["\n", "\r\n", "\r"].map((eol) => utf8(chatStream(eol)));
    fc.assert(
      fc.property(fc.constantFrom(...streams), fc.array(fc.nat(), { maxLength: 40 }), (bytes, cuts) => {
        expect(parseChunks(splitAt(bytes, cuts))).toEqual(parseChunks([bytes]));
      }),
      { numRuns: 300 },
    );
  });

  it("gives the same events for any split of any stream of fields, comments and line endings", () => {
    const line = fc.oneof(
      fc.string({ unit: "grapheme", maxLength: 12 }).map((s) => `data:${s.replace(/[\r\n]/g, "")}`),
      fc.constantFrom("", ": comment", "event: delta", "id: 3", "data", "retry: 5"),
    );
    const stream = fc
      .tuple(
        fc.array(line, { maxLength: 20 }),
        fc.array(fc.constantFrom("\n", "\r", "\r\n"), { minLength: 20, maxLength: 20 }),
      )
      .map(([lines, endings]) => utf8(lines.map((l, i) => `${l}${endings[i] ?? "\n"}`).join("")));
    fc.assert(
      fc.property(stream, fc.array(fc.nat(), { maxLength: 30 }), (bytes, cuts) => {
        expect(parseChunks(splitAt(bytes, cuts))).toEqual(parseChunks([bytes]));
      }),
      { numRuns: 300 },
    );
  });

  it("reads a stream fed one byte at a time", () => {
    const bytes = utf8(chatStream("\r\n"));

    expect(parseChunks(Array.from(bytes, (b) => new Uint8Array([b])))).toEqual(parseChunks([bytes]));
  });
});
