import { describe, expect, it } from "vitest";
import { renderPrompt } from "../../../lib/core/eval/item-prompt";
import { SANITY_SUITE } from "../../../lib/core/eval/sanity-suite";
import { scoreOutput } from "../../../lib/core/eval/score-output";
import type { SuiteItem } from "../../../lib/core/eval/suite-item";

/** What a model that follows the instructions would write, e.g. "The answer is (B)." or "#### 24". */
function goodOutput(item: SuiteItem): string {
  switch (item.scorer) {
    case "choice":
      return `The answer is (${item.answer}).`;
    case "numeric":
      return item.mode === "strict" ? `Step by step.\n#### ${item.answer}` : item.answer;
    case "exact":
    case "contains":
      return item.answer;
    case "json-valid":
      return '{"ok": true}';
    case "regex":
      return item.id === "format-date" ? "2000-01-01" : "Yes.";
  }
}

describe("the built-in sanity suite", () => {
  it("has a few dozen items with unique ids", () => {
    expect(SANITY_SUITE.length).toBeGreaterThanOrEqual(30);
    expect(new Set(SANITY_SUITE.map((i) => i.id)).size).toBe(SANITY_SUITE.length);
  });

  it("covers arithmetic, format following and multiple choice", () => {
    const scorers = new Set(SANITY_SUITE.map((i) => i.scorer));
    expect([...scorers].sort()).toEqual(["choice", "contains", "exact", "json-valid", "numeric", "regex"]);
    const choiceAnswers = SANITY_SUITE.flatMap((i) => (i.scorer === "choice" ? [i.answer] : []));
    expect(new Set(choiceAnswers)).toEqual(new Set(["A", "B", "C", "D"]));
  });

  it("gives full marks to a model that follows its instructions, and none to one that does not", () => {
    for (const item of SANITY_SUITE) {
      expect(scoreOutput(item, goodOutput(item)).correct, item.id).toBe(true);
      expect(scoreOutput(item, "I cannot help with that.").correct, item.id).toBe(false);
    }
  });

  it("renders each multiple-choice item with its options", () => {
    for (const item of SANITY_SUITE.filter((i) => i.scorer === "choice")) {
      const prompt = renderPrompt(item);
      const text = "prompt" in prompt ? prompt.prompt : prompt.messages.at(-1)!.content;
      expect(text).toContain("\nA. ");
      expect(text).toContain("\nD. ");
    }
  });
});
