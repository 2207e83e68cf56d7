import { describe, expect, it } from "vitest";
import { describeDegenerateOutput } from "../../lib/core/smoke/degenerate-output";

const loop = (cycle: string, times: number, prefix = "") => `${prefix}${cycle.repeat(times)}`;

describe("describeDegenerateOutput", () => {
  it.each([
    ["a chat greeting", "Hello! I can help you write, summarize, translate and answer questions."],
    ["a plain completion", " red, yellow and blue. Mixing them gives the secondary colors."],
    ["a short instruction's answer", "Mars, Jupiter"],
    ["one word", "Paris"],
    ["a short answer that repeats itself on purpose", "No, no, no."],
    ["code", "def add(a, b):\n    return a + b\n\nprint(add(2, 3))\n"],
    ["a numbered list", "1. Preheat the oven.\n2. Mix the flour and sugar.\n3. Bake for 20 minutes."],
    ["counting", "1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20"],
    ["JSON", '{"name": "Alice", "age": 30, "languages": ["en", "fr"], "active": true}'],
    ["Chinese, without spaces", "你好！我是一个人工智能助手，可以帮你写作、翻译和回答问题。"],
    [
      "a song's refrain",
      "Row, row, row your boat, gently down the stream. Merrily, merrily, merrily, merrily, life is but a dream.",
    ],
    ["tabs and Windows line endings", "Name:\tMars\r\nMoons:\t2\r\n"],
    [
      "text with one stray replacement character",
      "The caf\uFFFD on the corner serves the best coffee in town.",
    ],
    ["a markdown table", "| planet | moons |\n| --- | --- |\n| Mars | 2 |\n| Earth | 1 |"],
  ])("accepts %s", (_, text) => {
    expect(describeDegenerateOutput(text)).toBeUndefined();
  });

  it.each([
    ["nothing", "", "is empty"],
    ["whitespace and newlines", "  \n\n\t  ", "is only whitespace"],
    [
      "bytes that are not UTF-8",
      "\uFFFD\uFFFD\uFFFDa\uFFFD\uFFFD\uFFFD\uFFFDb\uFFFD",
      "is mostly not text: 8 of 10 characters are replacement characters (U+FFFD, 8) or control characters (0)",
    ],
    [
      "one word repeated",
      "the the the the the the the the the the the the",
      'repeats "the" in 12 of 12 words',
    ],
    [
      "a word loop after a fair start",
      loop(" the answer is", 12, "Sure! Here is"),
      'repeats the 3-word cycle "is the answer" over 94% of its words',
    ],
    [
      "random-weight noise: broken UTF-8 and control characters",
      "��+�+\u001dy��p�i��+\u001dy��\u000eC\u0011��Cw�Gy���",
      "is mostly not text: 20 of 32 characters are replacement characters (U+FFFD, 16) or control characters (4)",
    ],
    [
      "punctuation repeated",
      "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!",
      'repeats "!" over 100% of its characters',
    ],
    ["a character cycle without spaces", loop("abc", 12), 'repeats "abc" over 100% of its characters'],
    ["a control token repeated", loop("<|im_end|>", 6), 'repeats "<|im_end|>" over 100% of its characters'],
    ["Chinese repeated", loop("我是", 15), 'repeats "我是" over 100% of its characters'],
  ])("rejects %s", (_, text, reason) => {
    expect(describeDegenerateOutput(text)).toContain(reason);
  });

  it("rejects a line repeated over and over, naming the cycle", () => {
    expect(describeDegenerateOutput(loop("I am a bot.\n", 10))).toBe(
      'repeats the 4-word cycle "I am a bot." over 100% of its words',
    );
  });
});
