import { describe, expect, it } from "vitest";
import { clipText } from "../../lib/core/text/clip-text";

describe("clipText", () => {
  it("keeps a text within the bound as it is", () => {
    expect(clipText("The prompt is 298 tokens.", 25)).toBe("The prompt is 298 tokens.");
  });

  it("cuts at the last word that fits, with an ellipsis, never inside a word", () => {
    const text = "The prompt is 298 tokens, and this server's context is 256 tokens, which must also hold";
    const clipped = clipText(text, 60);
    expect(clipped).toBe("The prompt is 298 tokens, and this server's context is 256…");
    expect(clipped.length).toBeLessThanOrEqual(60);
  });

  it("keeps a word that ends exactly at the bound", () => {
    expect(clipText("alpha beta gamma", 11)).toBe("alpha beta…");
  });

  it("cuts a text with no space to break at (a URL, one long token) at the bound, still marking the cut", () => {
    const url = `http://example.com/${"x".repeat(100)}`;
    const clipped = clipText(url, 40);
    expect(clipped).toHaveLength(40);
    expect(clipped.endsWith("…")).toBe(true);
  });

  it("cuts mid-word rather than keep less than half the bound", () => {
    const text = `short ${"y".repeat(200)}`;
    expect(clipText(text, 50)).toBe(`short ${"y".repeat(43)}…`);
  });
});
