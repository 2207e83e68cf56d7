import { describe, expect, it } from "vitest";
import { readAnswerPart } from "../../lib/core/openai/answer-part";

describe("readAnswerPart", () => {
  it("reads a chat answer's message, finish reason and usage", () => {
    const answer = {
      choices: [{ message: { role: "assistant", content: "Paris." }, finish_reason: "stop" }],
      usage: { prompt_tokens: 12, completion_tokens: 3 },
    };
    expect(readAnswerPart(answer, "message")).toEqual({
      text: "Paris.",
      finishReason: "stop",
      usage: { promptTokens: 12, completionTokens: 3 },
    });
  });

  it("reads a completion's text, and a chunk's delta with a null finish reason", () => {
    expect(readAnswerPart({ choices: [{ text: "4" }] }, "message")).toEqual({ text: "4" });
    expect(
      readAnswerPart({ choices: [{ delta: { content: "Hel" }, finish_reason: null }] }, "delta"),
    ).toEqual({
      text: "Hel",
      finishReason: null,
    });
  });

  it("joins the text parts of an array content", () => {
    const answer = {
      choices: [{ message: { content: [{ type: "text", text: "a" }, { type: "x" }, { text: "b" }] } }],
    };
    expect(readAnswerPart(answer, "message").text).toBe("ab");
  });

  it("has no text for a role-only or usage-only chunk, and no usage without a whole completion count", () => {
    expect(readAnswerPart({ choices: [{ delta: { role: "assistant" } }] }, "delta")).toEqual({});
    expect(readAnswerPart({ choices: [], usage: { completion_tokens: 2 } }, "delta")).toEqual({
      usage: { promptTokens: 0, completionTokens: 2 },
    });
    expect(readAnswerPart({ usage: { completion_tokens: 2.5 } }, "delta")).toEqual({});
    expect(readAnswerPart("not an object", "message")).toEqual({});
  });
});
