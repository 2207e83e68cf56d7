import { describe, expect, it } from "vitest";
import { parsePromptFile, PromptFileInvalid } from "../../lib/loadgen/prompt-file";
import { seededRandom } from "../../lib/loadgen/random";
import {
  CALIBRATION_WORDS,
  PromptComposer,
  syntheticPrompts,
  type WordCosts,
} from "../../lib/loadgen/synthetic-prompts";

/** A byte-level tokenizer without merges: a token per character, 20 for the chat template. */
function byteCosts(): WordCosts {
  return {
    firstWord: Object.fromEntries(CALIBRATION_WORDS.map((w) => [w, 20 + w.length])),
    nextWord: Object.fromEntries(CALIBRATION_WORDS.map((w) => [w, w.length + 1])),
  };
}

/** What the byte-level server counts for a prompt text. */
function byteCount(text: string): number {
  return 20 + text.length;
}

describe("synthetic prompts", () => {
  it("are exactly the target length in words (approximate tokens) when there is no spread", () => {
    const next = syntheticPrompts({ inputTokens: 512, spread: 0, seed: 1 });
    for (let i = 0; i < 20; i++) {
      const prompt = next();
      expect(prompt.estimatedTokens).toBe(512);
      expect(prompt.messages).toHaveLength(1);
      expect(prompt.messages[0]?.role).toBe("user");
      expect(prompt.messages[0]?.content.split(" ")).toHaveLength(512);
    }
  });

  it("spread their lengths uniformly over target · [1 − spread, 1 + spread]", () => {
    const next = syntheticPrompts({ inputTokens: 100, spread: 0.2, seed: 2 });
    const lengths = Array.from({ length: 2000 }, () => next().estimatedTokens);
    expect(Math.min(...lengths)).toBe(80);
    expect(Math.max(...lengths)).toBe(120);
    const mean = lengths.reduce((a, b) => a + b, 0) / lengths.length;
    expect(mean).toBeGreaterThan(99);
    expect(mean).toBeLessThan(101);
  });

  it("differ from one another from the first words on, and repeat for the same seed", () => {
    const texts = (seed: number) => {
      const next = syntheticPrompts({ inputTokens: 64, spread: 0, seed });
      return Array.from({ length: 50 }, () => next().messages[0]?.content ?? "");
    };
    const firstWords = new Set(texts(5).map((t) => t.split(" ").slice(0, 4).join(" ")));
    expect(firstWords.size).toBe(50);
    expect(texts(5)).toEqual(texts(5));
  });
});

describe("synthetic prompts composed from a server's word costs", () => {
  it("are exactly the length the server will count, from the shortest possible up", () => {
    const composer = new PromptComposer(byteCosts());
    expect(composer.shortest).toBe(22);
    const random = seededRandom(3);
    for (let tokens = 22; tokens <= 600; tokens++) {
      const { text, tokens: made } = composer.compose(tokens, random);
      expect(made).toBe(tokens);
      expect(byteCount(text)).toBe(tokens);
    }
  });

  it("come as near as the words allow when no combination is exact, and say how long they are", () => {
    // Every further word costs 3: from a 22-token start, only 22 + 3k can be made.
    const costs: WordCosts = { firstWord: { of: 22 }, nextWord: { the: 3 } };
    const composer = new PromptComposer(costs);
    expect(composer.compose(27, seededRandom(1))).toEqual({ text: "of the the", tokens: 28 });
    expect(composer.compose(26, seededRandom(1))).toEqual({ text: "of the", tokens: 25 });
    expect(composer.compose(10, seededRandom(1))).toEqual({ text: "of", tokens: 22 });
  });

  it("leave out words that add no tokens (a server whose counts do not follow them)", () => {
    const composer = new PromptComposer({ firstWord: { of: 5 }, nextWord: { the: 0, and: 2 } });
    expect(composer.compose(9, seededRandom(1)).text).toBe("of and and");
  });

  it("vary from prompt to prompt, and repeat for the same seed", () => {
    const texts = (seed: number) => {
      const next = syntheticPrompts({ inputTokens: 128, spread: 0, seed, costs: byteCosts() });
      return Array.from({ length: 50 }, () => next());
    };
    const prompts = texts(4);
    expect(prompts.every((p) => p.estimatedTokens === 128)).toBe(true);
    expect(prompts.every((p) => byteCount(p.messages[0]?.content ?? "") === 128)).toBe(true);
    expect(new Set(prompts.map((p) => p.messages[0]?.content.split(" ").slice(0, 4).join(" "))).size).toBe(
      50,
    );
    expect(texts(4)).toEqual(prompts);
  });
});

describe("a JSONL prompt file", () => {
  it("reads chat messages and plain prompts, skipping blank lines and ignoring other fields", () => {
    const prompts = parsePromptFile(
      [
        JSON.stringify({
          id: "q1",
          messages: [
            { role: "system", content: "Be brief." },
            { role: "user", content: "Hi" },
          ],
        }),
        "",
        JSON.stringify({ prompt: "Count to ten, please.", answer: "1 2 3" }),
      ].join("\r\n"),
      "prompts.jsonl",
    );
    expect(prompts).toEqual([
      {
        messages: [
          { role: "system", content: "Be brief." },
          { role: "user", content: "Hi" },
        ],
        estimatedTokens: 4,
      },
      { messages: [{ role: "user", content: "Count to ten, please." }], estimatedTokens: 6 },
    ]);
  });

  it("names every bad line with its number and what is wrong, all at once", () => {
    const text = [
      JSON.stringify({ prompt: "fine" }),
      "{not json",
      JSON.stringify({ messages: [{ role: "robot", content: "beep" }] }),
      JSON.stringify({ question: "where is the prompt?" }),
      JSON.stringify({ prompt: "a", messages: [] }),
      "[1, 2]",
      JSON.stringify({ prompt: "" }),
      JSON.stringify({ messages: [] }),
    ].join("\n");
    const error = (() => {
      try {
        parsePromptFile(text, "set.jsonl");
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(PromptFileInvalid);
    const problems = (error as PromptFileInvalid).problems;
    expect(problems.map((p) => p.line)).toEqual([2, 3, 4, 5, 6, 7, 8]);
    expect(problems[0]?.message).toMatch(/^not JSON/);
    expect(problems[1]?.message).toMatch(/^messages\[0\]\.role: /);
    expect(problems[2]?.message).toBe("has neither `messages` nor `prompt`");
    expect(problems[3]?.message).toBe("has both `messages` and `prompt`; keep one");
    expect(problems[4]?.message).toBe("expected a JSON object, found an array");
    expect(problems[5]?.message).toBe("`prompt` must be a non-empty string");
    expect(problems[6]?.message).toBe("`messages` must be a non-empty list of {role, content}");
    expect((error as Error).message).toMatch(/^set\.jsonl: 7 bad line\(s\)/);
    expect((error as Error).message).toContain("  line 4: has neither `messages` nor `prompt`");
  });

  it("says so when the file holds no prompts", () => {
    expect(() => parsePromptFile("\n\n", "empty.jsonl")).toThrow("the file holds no prompts");
  });
});
