import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { renderPrompt } from "../../../lib/core/eval/item-prompt";
import { MAX_LINE_BYTES, parseSuite } from "../../../lib/core/eval/suite-parser";
import type { Finding } from "../../../lib/core/findings";

const FILE = "evals/demo.jsonl";
const encode = (text: string) => new TextEncoder().encode(text);
const jsonl = (...lines: unknown[]) =>
  encode(lines.map((l) => (typeof l === "string" ? l : JSON.stringify(l))).join("\n"));
const ask = (content: string) => [{ role: "user", content }];

/** The findings as `path: code` lines, the shape a test reads at a glance. */
const where = (findings: readonly Finding[]) => findings.map((f) => `${f.path ?? ""}: ${f.code}`);

describe("parseSuite", () => {
  it("reads every scorer's items, in file order, skipping blank lines and CRLF endings", () => {
    const text = [
      JSON.stringify({
        id: "mc",
        messages: ask("Which is a fruit?"),
        choices: ["Carrot", "Apple"],
        answer: "b",
        scorer: "choice",
      }),
      "",
      JSON.stringify({ id: 7, prompt: "2+2=", answer: 4, scorer: "numeric", mode: "strict" }),
      JSON.stringify({ id: "ok", messages: ask("Say OK"), answer: "OK", scorer: "exact", ignore: ["^\\s+"] }),
      JSON.stringify({
        id: "tokyo",
        messages: ask("Capital of Japan?"),
        answer: "Tokyo",
        scorer: "contains",
      }),
      JSON.stringify({
        id: "date",
        messages: ask("A date"),
        answer: "\\d{4}-\\d{2}-\\d{2}",
        scorer: "regex",
      }),
      JSON.stringify({ id: "json", messages: ask("Some JSON"), scorer: "json-valid", maxTokens: 64 }),
    ].join("\r\n");
    const { items, findings } = parseSuite(encode(`\uFEFF${text}\r\n`), { file: FILE });
    expect(findings).toEqual([]);
    expect(items.map((i) => [i.id, i.scorer])).toEqual([
      ["mc", "choice"],
      ["7", "numeric"],
      ["ok", "exact"],
      ["tokyo", "contains"],
      ["date", "regex"],
      ["json", "json-valid"],
    ]);
    expect(items[0]).toMatchObject({ answer: "B" });
    expect(items[1]).toMatchObject({ question: { prompt: "2+2=" }, answer: "4", mode: "strict" });
    expect(items[5]).toMatchObject({ maxTokens: 64 });
  });

  it("defaults the numeric scorer to flexible", () => {
    const { items } = parseSuite(jsonl({ id: "n", prompt: "1+1=", answer: 2, scorer: "numeric" }), {
      file: FILE,
    });
    expect(items[0]).toMatchObject({ mode: "flexible" });
  });

  it("reports every bad line with its line number and field, not just the first", () => {
    const bytes = jsonl(
      { id: "good", messages: ask("Q"), answer: "A", scorer: "contains" },
      "{not json",
      { id: "no-scorer", messages: ask("Q"), answer: "A" },
      { id: "typo", messages: ask("Q"), anwser: "A", scorer: "contains" },
      { id: "both", messages: ask("Q"), prompt: "Q", answer: "A", scorer: "contains" },
      { id: "neither", answer: "A", scorer: "contains" },
      { id: "letter", messages: ask("Q"), choices: ["x", "y", "z"], answer: "E", scorer: "choice" },
      { id: "index", messages: ask("Q"), choices: ["x", "y"], answer: 1, scorer: "choice" },
      { id: "nan", messages: ask("Q"), answer: "seven", scorer: "numeric" },
      { id: "mode", messages: ask("Q"), answer: "A", scorer: "exact", mode: "strict" },
      { id: "evil", messages: ask("Q"), answer: "(a+)+$", scorer: "regex" },
      { id: "broken", messages: ask("Q"), answer: "([a-", scorer: "regex" },
      { id: "anything", messages: ask("Q"), answer: "(yes)?", scorer: "regex" },
      { id: "empty", messages: ask("Q"), answer: " ", scorer: "contains" },
      { id: "choices", messages: ask("Q"), choices: ["x", "y"], answer: "x", scorer: "exact" },
      [1, 2, 3],
      { id: "good", messages: ask("Q again"), answer: "A", scorer: "contains" },
    );
    const { items, findings } = parseSuite(bytes, { file: FILE });
    expect(items.map((i) => i.id)).toEqual(["good"]);
    expect(findings.every((f) => f.file === FILE && f.severity === "error" && f.hint)).toBe(true);
    expect(where(findings)).toEqual([
      "line 2: eval-suite.not-json",
      "line 3, scorer: eval-suite.invalid-value",
      "line 4, anwser: eval-suite.unknown-key",
      "line 5, prompt: eval-suite.both-questions",
      "line 6, messages: eval-suite.missing",
      "line 7, answer: eval-suite.invalid-answer",
      "line 8, answer: eval-suite.invalid-answer",
      "line 9, answer: eval-suite.invalid-answer",
      "line 10, mode: eval-suite.scorer-mismatch",
      "line 11, answer: eval-suite.unsafe-regex",
      "line 12, answer: eval-suite.invalid-regex",
      "line 13, answer: eval-suite.regex-matches-empty",
      "line 14, answer: eval-suite.empty-answer",
      "line 15, choices: eval-suite.scorer-mismatch",
      "line 16: eval-suite.invalid-type",
      "line 17, id: eval-suite.duplicate-id",
    ]);
  });

  it("says what was expected and how to fix it", () => {
    const { findings } = parseSuite(
      jsonl(
        { id: "typo", messages: ask("Q"), anwser: "A", scorer: "contains" },
        { id: "letter", messages: ask("Q"), choices: ["x", "y", "z"], answer: "E", scorer: "choice" },
        { id: "index", messages: ask("Q"), choices: ["x", "y"], answer: 1, scorer: "choice" },
        { id: "scorer", messages: ask("Q"), answer: "A", scorer: "contain" },
        { id: "typo", messages: ask("Q"), answer: "A", scorer: "contains" },
      ),
      { file: FILE },
    );
    const [typo, letter, index, scorer, duplicate] = findings;
    expect(typo?.message).toBe("unknown key 'anwser': did you mean 'answer'?");
    expect(letter?.message).toBe("is 'E', but the item has 3 choices (A–C).");
    expect(index?.hint).toContain('1 → "B"');
    expect(scorer?.message).toContain("'contains'");
    expect(scorer?.hint).toBe("Did you mean 'contains'?");
    expect(duplicate?.message).toContain("id 'typo' is already used on line 1");
  });

  it("warns about an answer the json-valid scorer ignores, and keeps the item", () => {
    const { items, findings } = parseSuite(
      jsonl({ id: "j", messages: ask("JSON please"), answer: "{}", scorer: "json-valid" }),
      { file: FILE },
    );
    expect(items).toHaveLength(1);
    expect(findings).toMatchObject([
      { severity: "warning", code: "eval-suite.ignored-field", path: "line 1, answer" },
    ]);
  });

  it("reports bytes that are not UTF-8 and lines too long to be an item, and reads the rest", () => {
    const good = encode(`${JSON.stringify({ id: "ok", prompt: "Q", answer: "A", scorer: "contains" })}\n`);
    const latin1 = Uint8Array.from([0x7b, 0x22, 0xe9, 0x22, 0x7d, 0x0a]);
    const huge = encode(`"${"x".repeat(MAX_LINE_BYTES)}"\n`);
    const { items, findings } = parseSuite(new Uint8Array([...latin1, ...huge, ...good]), { file: FILE });
    expect(items.map((i) => i.id)).toEqual(["ok"]);
    expect(where(findings)).toEqual(["line 1: eval-suite.not-utf8", "line 2: eval-suite.line-too-long"]);
  });

  it("says so when a file has no items", () => {
    expect(where(parseSuite(encode("\n \n"), { file: FILE }).findings)).toEqual([": eval-suite.empty"]);
    expect(where(parseSuite(new Uint8Array(), { file: FILE }).findings)).toEqual([": eval-suite.empty"]);
  });

  it("lists at most maxFindings findings and counts the rest in a closing one", () => {
    const lines = Array.from({ length: 30 }, (_, i) => `{broken ${i}`);
    const { findings } = parseSuite(jsonl(...lines), { file: FILE, maxFindings: 10 });
    expect(findings).toHaveLength(11);
    expect(findings.at(-1)).toMatchObject({
      severity: "error",
      code: "eval-suite.more-findings",
      message: "20 more findings on lines 11–30 are not listed.",
    });
  });

  it("never throws on arbitrary bytes: it returns items or findings", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), (bytes) => {
        const { items, findings } = parseSuite(bytes, { file: FILE });
        expect(items.length + findings.length).toBeGreaterThan(0);
        expect(findings.length).toBeLessThanOrEqual(101);
      }),
      { numRuns: 500 },
    );
  });

  it("never throws on JSON lines of any shape: each bad one gets a finding on its line", () => {
    const valid = JSON.stringify({ id: "x", prompt: "Q", answer: "A", scorer: "contains" });
    fc.assert(
      fc.property(fc.array(fc.jsonValue(), { minLength: 1, maxLength: 20 }), (values) => {
        const text = [valid, ...values.map((v) => JSON.stringify(v))].join("\n");
        const { items, findings } = parseSuite(encode(text), { file: FILE });
        const linesWithFindings = new Set(findings.map((f) => f.path?.split(",")[0]));
        expect(items.length + linesWithFindings.size).toBe(values.length + 1);
      }),
      { numRuns: 300 },
    );
  });

  it("never throws on a valid item with one field replaced by anything", () => {
    const base = { id: "x", messages: ask("Q"), choices: ["a", "b"], answer: "A", scorer: "choice" };
    fc.assert(
      fc.property(
        fc.constantFrom(...Object.keys(base), "mode", "ignore", "maxTokens", "prompt"),
        fc.jsonValue(),
        (key, value) => {
          const { items, findings } = parseSuite(jsonl({ ...base, [key]: value }), { file: FILE });
          expect(items.length === 1 || findings.some((f) => f.severity === "error")).toBe(true);
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe("renderPrompt", () => {
  it("renders choices as lettered lines with an instruction to answer with the letter", () => {
    const { items } = parseSuite(
      jsonl(
        {
          id: "c",
          messages: [{ role: "system", content: "Be brief." }, ...ask("Which is a fruit?")],
          choices: ["Carrot", "Apple", "Potato"],
          answer: "B",
          scorer: "choice",
        },
        {
          id: "p",
          prompt: "Question: Which is a fruit?",
          choices: ["Carrot", "Apple"],
          answer: "B",
          scorer: "choice",
        },
        { id: "n", prompt: "2+2=", answer: 4, scorer: "numeric" },
      ),
      { file: FILE },
    );
    expect(renderPrompt(items[0]!)).toEqual({
      messages: [
        { role: "system", content: "Be brief." },
        {
          role: "user",
          content:
            "Which is a fruit?\n\nA. Carrot\nB. Apple\nC. Potato\n\nAnswer with the letter of the correct option (A, B or C).",
        },
      ],
    });
    expect(renderPrompt(items[1]!)).toEqual({
      prompt: "Question: Which is a fruit?\n\nA. Carrot\nB. Apple\nAnswer:",
    });
    expect(renderPrompt(items[2]!)).toEqual({ prompt: "2+2=" });
  });
});
