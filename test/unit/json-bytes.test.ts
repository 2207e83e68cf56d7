import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isValidUtf8, JsonBytes, JsonSyntaxError } from "../../lib/core/json-bytes";

const encode = (text: string): Uint8Array => new TextEncoder().encode(text);

/** JSON.parse's verdict on the text: its value, or that it throws. */
function parsed(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false };
  }
}

/** The walker's verdict: every member of a top-level object (key, value as JSON.parse reads its span). */
function walked(text: string): { ok: true; members?: [string, unknown][] } | { ok: false } {
  const json = new JsonBytes(encode(text));
  try {
    const { start } = json.document();
    if (json.peek(start) !== 0x7b) return { ok: true };
    const members: [string, unknown][] = [];
    json.members(start, (key, span) => void members.push([key, json.value(span)]));
    return { ok: true, members };
  } catch (error) {
    if (error instanceof JsonSyntaxError) return { ok: false };
    throw error;
  }
}

/** Text that is JSON, JSON with a byte changed, dropped or added, and plain noise. */
const jsonish = fc.oneof(
  fc.json({ maxDepth: 4 }),
  fc
    .tuple(
      fc.json({ maxDepth: 3 }),
      fc.nat(),
      fc.constantFrom("", "{", "}", "[", "]", ",", ":", '"', "\\", "0", "-", "e", ".", " ", "\u0001", "tru"),
    )
    .map(([text, at, insert]) => {
      const i = at % (text.length + 1);
      return at % 2 === 0
        ? text.slice(0, i) + insert + text.slice(i)
        : text.slice(0, i) + insert + text.slice(i + 1);
    }),
  fc.string({ maxLength: 40 }),
);

describe("JsonBytes", () => {
  it("accepts exactly the documents JSON.parse accepts", () => {
    fc.assert(
      fc.property(jsonish, (text) => {
        expect(walked(text).ok).toBe(parsed(text).ok);
      }),
      { numRuns: 3000 },
    );
  });

  it("walks an object's members in order, each value exactly as JSON.parse reads it", () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.string({ maxLength: 12 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 8 }),
        (object) => {
          const text = JSON.stringify(object, null, object.a === undefined ? 0 : 2);
          const result = walked(text);
          expect(result).toEqual({ ok: true, members: Object.entries(JSON.parse(text) as object) });
        },
      ),
      { numRuns: 1000 },
    );
  });

  it("decodes keys with escapes, surrogate pairs and non-ASCII text as JSON.parse does", () => {
    const text = '{"a\\"b\\u00e9\\ud83d\\ude00": 1, "模型 🙂": 2, "\\/\\b\\f\\n\\r\\t": 3}';
    const members: string[] = [];
    new JsonBytes(encode(text)).members(0, (key) => void members.push(key));
    expect(members).toEqual(Object.keys(JSON.parse(text) as object));
  });

  it("stops walking when the visitor says so", () => {
    const keys: string[] = [];
    new JsonBytes(encode('{"a": 1, "b": 2, "c": 3}')).members(0, (key) => {
      keys.push(key);
      return key !== "b";
    });
    expect(keys).toEqual(["a", "b"]);
  });

  it("skips a value nested a million levels deep without recursing", () => {
    const depth = 1_000_000;
    const text = `${"[".repeat(depth)}${"]".repeat(depth)}`;
    expect(new JsonBytes(encode(text)).document()).toEqual({ start: 0, end: 2 * depth });
  });

  it("names the byte where a document stops being JSON, quoting only a short escaped excerpt", () => {
    const text = '{"a": 1, root:x:0:0:root:/root:/bin/bash\u001b[2J and much more of the file}';
    const error = (() => {
      try {
        new JsonBytes(encode(text)).document();
      } catch (caught) {
        return caught as JsonSyntaxError;
      }
      throw new Error("expected a syntax error");
    })();
    expect(error.message).toBe('expected a key in double quotes at byte 9 (found "root:x:0:0:r…")');
  });

  it("says when the input ends early", () => {
    let error: unknown;
    try {
      new JsonBytes(encode('{"a": [1, 2')).document();
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(JsonSyntaxError);
    expect((error as JsonSyntaxError).message).toBe(
      "expected ',' or ']' at byte 11 (found the end of the input)",
    );
  });
});

describe("isValidUtf8", () => {
  it("agrees with a strict decoder on any bytes, across its chunk boundaries", () => {
    const strict = new TextDecoder("utf-8", { fatal: true });
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.nat({ max: 8 }), (bytes, pad) => {
        const padded = new Uint8Array(1024 * 1024 - pad + bytes.length);
        padded.set(bytes, 1024 * 1024 - pad);
        let valid = true;
        try {
          strict.decode(padded);
        } catch {
          valid = false;
        }
        expect(isValidUtf8(padded)).toBe(valid);
      }),
      { numRuns: 200 },
    );
  });
});
