import { describe, expect, it } from "vitest";
import { scoreOutput } from "../../../lib/core/eval/score-output";
import { checkSuiteItem, type SuiteItem, type SuiteLine } from "../../../lib/core/eval/suite-item";

function item(line: Omit<SuiteLine, "id" | "messages">): SuiteItem {
  const checked = checkSuiteItem({ id: "q", messages: [{ role: "user", content: "?" }], ...line });
  if (!checked.item) throw new Error(JSON.stringify(checked.findings));
  return checked.item;
}

describe("the choice scorer (MMLU-Pro extraction cascade)", () => {
  const fourChoices = item({ scorer: "choice", answer: "C", choices: ["a", "b", "c", "d"] });
  const tenLetters = item({ scorer: "choice", answer: "C" });

  it.each([
    ["The answer is (C).", "C"],
    ["the answer is C", "C"],
    ["Let's think step by step. A is too small and B too large, so the answer is (C)", "C"],
    ["The answer is **(C)**", "C"],
    ["**(C)**", "C"],
    ["The correct answer is: C.", "C"],
    ["Answer: C", "C"],
    ["answer: (C) Paris", "C"],
    ["C", "C"],
    ["C.", "C"],
    ["(C)", "C"],
    ["C) 100 degrees", "C"],
    ["Options A and B are wrong. C", "C"],
  ])("reads %j as %s", (output, letter) => {
    expect(scoreOutput(fourChoices, output)).toEqual({ correct: true, extracted: letter });
  });

  it.each([
    ["The answer is (B).", "B"],
    ["I think it is A, but the answer is (D)", "D"],
    ["Answer: B", "B"],
    ["A or B. I'd pick B.", "B"],
  ])("marks %j wrong, having read %s", (output, letter) => {
    expect(scoreOutput(fourChoices, output)).toEqual({ correct: false, extracted: letter });
  });

  it("prefers 'answer is' over a later standalone letter", () => {
    expect(scoreOutput(fourChoices, "The answer is (C). Option A is a distractor.").extracted).toBe("C");
  });

  it("does not read the start of a word after 'answer is' as a letter", () => {
    expect(scoreOutput(fourChoices, "The answer is Because of gravity").correct).toBe(false);
  });

  it("ignores letters beyond the item's choices, such as the pronoun I", () => {
    expect(scoreOutput(fourChoices, "C, I think.")).toEqual({ correct: true, extracted: "C" });
    expect(scoreOutput(tenLetters, "C, I think.")).toEqual({ correct: false, extracted: "I" });
  });

  it("finds no letter in an output without one", () => {
    expect(scoreOutput(fourChoices, "I do not know.")).toEqual({ correct: false });
    expect(scoreOutput(fourChoices, "")).toEqual({ correct: false });
  });
});

describe("the numeric scorer (GSM8K strict and flexible)", () => {
  const flexible = (answer: string | number) => item({ scorer: "numeric", answer });
  const strict = (answer: string | number) => item({ scorer: "numeric", answer, mode: "strict" });

  it.each([
    ["72", 72],
    ["#### 72", 72],
    ["The answer is 72.", 72],
    ["1,234.", 1234],
    ["$12", 12],
    ["It costs $1,000.50 in total.", 1000.5],
    ["-5", -5],
    ["1000.0", "1,000"],
    [
      "She starts with 12 apples, gives away 5, so 12 - 5 = 7. Then she buys 3 more: 7 + 3 = 10. So she has 10",
      10,
    ],
    ["Each box has 6 eggs and there are 4 boxes: 4 × 6 = 24 eggs.\n#### 24", 24],
    ["e.g., 5", 5],
  ])("reads %j as %s", (output, answer) => {
    expect(scoreOutput(flexible(answer), output).correct).toBe(true);
  });

  it("takes the last number of a chain of thought, not the first", () => {
    const output = "There are 3 boxes of 8 pens, 3 × 8 = 24, and 2 pens are lost: 24 - 2 = 22.";
    expect(scoreOutput(flexible(22), output)).toEqual({ correct: true, extracted: "22" });
    expect(scoreOutput(flexible(24), output).correct).toBe(false);
  });

  it("in strict mode reads only the number after '#### '", () => {
    expect(scoreOutput(strict(24), "4 boxes × 6 = 24\n#### 24")).toEqual({ correct: true, extracted: "24" });
    expect(scoreOutput(strict("1,250"), "#### 1,250")).toEqual({ correct: true, extracted: "1250" });
    expect(scoreOutput(strict(24), "The answer is 24.")).toEqual({ correct: false });
    expect(scoreOutput(strict(24), "#### 20\nwait, #### 24").extracted).toBe("20");
  });

  it("marks an output without a number wrong, with nothing extracted", () => {
    expect(scoreOutput(flexible(7), "seven")).toEqual({ correct: false });
  });

  it("compares numbers as numbers, not as text", () => {
    expect(scoreOutput(flexible("0.5"), "It is .5").correct).toBe(true);
    expect(scoreOutput(flexible(3), "3.0").correct).toBe(true);
    expect(scoreOutput(flexible(3), "3.01").correct).toBe(false);
  });
});

describe("the exact scorer (lm-eval normalisation)", () => {
  it.each([
    ["OK", "OK"],
    ["ok", "OK"],
    ["OK.", "OK"],
    ["  **OK**!\n", "OK"],
    ['"hello, world"', "hello world"],
    ["Hello   World", "hello world"],
  ])("accepts %j for %j", (output, answer) => {
    expect(scoreOutput(item({ scorer: "exact", answer }), output).correct).toBe(true);
  });

  it.each([
    ["OK, sure", "OK"],
    ["Okay", "OK"],
    ["hello world!!! and more", "hello world"],
  ])("rejects %j for %j", (output, answer) => {
    expect(scoreOutput(item({ scorer: "exact", answer }), output).correct).toBe(false);
  });

  it("shows the normalised output it compared", () => {
    expect(scoreOutput(item({ scorer: "exact", answer: "Paris" }), "PARIS.")).toEqual({
      correct: true,
      extracted: "paris",
    });
  });

  it("removes the item's ignore patterns from both texts first", () => {
    const withIgnore = item({ scorer: "exact", answer: "Paris", ignore: ["^(?:the answer is)\\s*"] });
    expect(scoreOutput(withIgnore, "The answer is Paris").correct).toBe(false);
    const caseless = item({ scorer: "exact", answer: "Paris", ignore: ["^(?i:the answer is)\\s*"] });
    expect(scoreOutput(caseless, "The answer is Paris").correct).toBe(true);
  });
});

describe("the contains scorer", () => {
  const tokyo = item({ scorer: "contains", answer: "Tokyo" });

  it("finds the answer anywhere, ignoring case", () => {
    expect(scoreOutput(tokyo, "The capital of Japan is TOKYO.")).toEqual({
      correct: true,
      extracted: "TOKYO",
    });
  });

  it("marks an output without it wrong", () => {
    expect(scoreOutput(tokyo, "Kyoto")).toEqual({ correct: false });
  });
});

describe("the regex scorer", () => {
  const date = item({ scorer: "regex", answer: "^\\s*2000-01-01\\s*$" });

  it("accepts an output the pattern matches and keeps the match", () => {
    expect(scoreOutput(date, "2000-01-01\n")).toEqual({ correct: true, extracted: "2000-01-01\n" });
  });

  it("rejects an output it does not match", () => {
    expect(scoreOutput(date, "The date is 2000-01-01.").correct).toBe(false);
  });

  it("is case-sensitive unless the pattern says (?i:…)", () => {
    expect(scoreOutput(item({ scorer: "regex", answer: "^yes" }), "Yes.").correct).toBe(false);
    expect(scoreOutput(item({ scorer: "regex", answer: "^(?i:yes)" }), "Yes.").correct).toBe(true);
  });
});

describe("the json-valid scorer", () => {
  const json = item({ scorer: "json-valid" });

  it.each([
    ['{"city": "Paris"}', '{"city": "Paris"}'],
    ['```json\n{"city": "Paris"}\n```', '{"city": "Paris"}'],
    ["```\n[1, 2, 3]\n```\n", "[1, 2, 3]"],
    ['  {"name": "Ada", "age": 36}  ', '{"name": "Ada", "age": 36}'],
  ])("accepts %j", (output, extracted) => {
    expect(scoreOutput(json, output)).toEqual({ correct: true, extracted });
  });

  it.each(['Here is the JSON: {"city": "Paris"}', "{city: 'Paris'}", '{"city": "Paris"', "```json\n```", ""])(
    "rejects %j",
    (output) => {
      expect(scoreOutput(json, output)).toEqual({ correct: false });
    },
  );
});
