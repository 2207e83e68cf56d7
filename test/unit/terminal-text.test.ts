import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { formatFinding } from "../../lib/core/findings";
import { escapeControlCharacters, terminalLines, terminalText } from "../../lib/core/text/terminal-text";

describe("terminalText", () => {
  it("shows newlines, tabs and carriage returns as \\n, \\t and \\r", () => {
    expect(terminalText("a\nb\tc\rd")).toBe("a\\nb\\tc\\rd");
  });

  it("shows escape sequences, DEL and 8-bit controls as \\x escapes", () => {
    expect(terminalText("\u001b[2J\u007f\u009b31m\u0000")).toBe("\\x1b[2J\\x7f\\x9b31m\\x00");
  });

  it("shows bidirectional overrides, isolates and line separators as \\u escapes", () => {
    expect(terminalText("a\u202eb\u2066c\u2028d\u200fe")).toBe("a\\u202eb\\u2066c\\u2028d\\u200fe");
  });

  it("leaves printable text, accents, CJK and emoji as they are", () => {
    const text = "Llama-3 · ü · 模型 · 🙂 · 'quoted' \\ back";
    expect(terminalText(text)).toBe(text);
  });

  it("never leaves a control character in what it returns", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 64 }), (text) => {
        // eslint-disable-next-line no-control-regex -- the test looks for raw control characters
        expect(terminalText(text)).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/);
      }),
      { numRuns: 500 },
    );
  });
});

describe("terminalLines", () => {
  it("keeps line breaks and escapes every other control character", () => {
    expect(terminalLines("one\ntwo\u001b[1m\r")).toBe("one\ntwo\\x1b[1m\\r");
  });
});

describe("escapeControlCharacters", () => {
  it("keeps only the characters it is told to keep", () => {
    expect(escapeControlCharacters("a\tb\nc\u0000", "\t\n")).toBe("a\tb\nc\\x00");
  });
});

describe("formatFinding", () => {
  it("keeps a finding on one line whatever its file name and message quote", () => {
    const line = formatFinding({
      severity: "error",
      code: "model.file.unknown",
      file: "a\nerror   fake.safetensors: forged",
      message: 'Unknown dtype "\u001b[31mF8".',
      hint: "Fix\u202e it.",
    });
    expect(line.split("\n")).toHaveLength(1);
    expect(line).toBe(
      'error   a\\nerror   fake.safetensors: forged: Unknown dtype "\\x1b[31mF8". Hint: Fix\\u202e it.',
    );
  });
});
