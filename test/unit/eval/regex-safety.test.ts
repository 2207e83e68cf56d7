import { describe, expect, it } from "vitest";
import { checkPattern, MAX_PATTERN_LENGTH } from "../../../lib/core/eval/regex-safety";

describe("checkPattern", () => {
  it.each([
    "^\\s*2000-01-01\\s*$",
    "\\b(yes|no)\\b",
    "(foo|bar)+",
    "(ab|cd){3}",
    "^(?i:paris)\\b",
    "(?<year>\\d{4})-(?<month>\\d{2})",
    "[(]a+[)]+",
    "\\d+(\\.\\d+)?",
    "(?:https?://)?example\\.com",
    "^\\W*(?i:yes)\\b",
  ])("accepts the ordinary pattern %s", (pattern) => {
    const check = checkPattern(pattern);
    expect(check.ok).toBe(true);
  });

  it.each([
    ["(a+)+$", "contains a quantifier ('(a+)+')"],
    ["(\\w+\\s?)*x", "contains a quantifier ('(\\w+\\s?)*')"],
    ["(?:a?){20}a{20}", "contains a quantifier ('(?:a?){20}')"],
    ["(.*a){12}", "contains a quantifier ('(.*a){12}')"],
    ["(a|a)*", "alternatives that can match the same text ('(a|a)*')"],
    ["(a|aa)+b", "alternatives that can match the same text ('(a|aa)+')"],
    ["((a|aa))+", "alternatives that can match the same text ('((a|aa))+')"],
    ["(\\d|x)+", "alternatives that can match the same text"],
  ])("refuses %s, which can backtrack exponentially, naming the group", (pattern, problem) => {
    const check = checkPattern(pattern);
    expect(check).toMatchObject({ ok: false, code: "unsafe-regex" });
    if (!check.ok) {
      expect(check.problem).toContain(problem);
      expect(check.hint).toContain("Rewrite the pattern");
    }
  });

  it("refuses back-references", () => {
    expect(checkPattern("(a)\\1")).toMatchObject({ ok: false, code: "unsafe-regex" });
    expect(checkPattern("(?<x>a)\\k<x>")).toMatchObject({ ok: false, code: "unsafe-regex" });
  });

  it("says why an invalid pattern does not compile", () => {
    const check = checkPattern("[a-");
    expect(check).toMatchObject({ ok: false, code: "invalid-regex" });
    if (!check.ok) expect(check.problem).toMatch(/^'\[a-' is not a valid regular expression: .*[^.]\.$/);
  });

  it("refuses a pattern longer than the cap", () => {
    expect(checkPattern("a".repeat(MAX_PATTERN_LENGTH + 1))).toMatchObject({
      ok: false,
      code: "unsafe-regex",
    });
  });
});
