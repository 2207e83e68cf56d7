import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { promqlTemplateProblems, renderPromql } from "../../lib/core/prometheus/promql-template";

const VALUES = { model: "llama", version: "v1.2", variant: "candidate", windowSeconds: 10 };

/** Reads back the content of a PromQL string literal as Go (and PromQL) unquote it. */
function unquote(literal: string): string {
  return literal
    .slice(1, -1)
    .replace(/\\(.)/g, (_, char: string) => ({ n: "\n", r: "\r", t: "\t" })[char] ?? char);
}

describe("renderPromql", () => {
  it("fills in the version's labels inside quotes and the window as a duration", () => {
    expect(
      renderPromql(
        'sum(increase(vllm:request_success_total{model_name="{{model}}-{{version}}", role="{{variant}}"}[{{window}}]))',
        VALUES,
      ),
    ).toBe('sum(increase(vllm:request_success_total{model_name="llama-v1.2", role="candidate"}[10s]))');
  });

  it("escapes a value inside a regular-expression matcher so that it matches only itself", () => {
    expect(renderPromql('up{version=~"{{version}}|canary"}', VALUES)).toBe('up{version=~"v1\\\\.2|canary"}');
    expect(renderPromql("up{version!~'{{version}}'}", VALUES)).toBe("up{version!~'v1\\\\.2'}");
  });

  it("keeps any value inside its string, whatever characters it has", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (model) => {
        const query = renderPromql('up{m="{{model}}"}', { ...VALUES, model });
        const literal = /^up\{m=(".*")\}$/s.exec(query)?.[1];
        expect(literal).toBeDefined();
        expect(unquote(literal ?? "")).toBe(model);
      }),
      { numRuns: 500 },
    );
  });

  it("turns any value into a regular expression that matches exactly that value", () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 30 }), (version) => {
        const query = renderPromql('up{v=~"{{version}}"}', { ...VALUES, version });
        const pattern = unquote(/^up\{v=~(".*")\}$/s.exec(query)?.[1] ?? '""');
        const regex = new RegExp(`^(?:${pattern})$`, "s");
        expect(regex.test(version)).toBe(true);
        expect(regex.test(`${version}x`)).toBe(false);
      }),
      { numRuns: 500 },
    );
  });

  it("refuses to render a template that was never checked", () => {
    expect(() => renderPromql("up{m={{model}}}", VALUES)).toThrow(
      /PromQL template refused: \{\{model\}\} must be inside/,
    );
  });
});

describe("promqlTemplateProblems", () => {
  it.each([
    ["up{m={{model}}}", "{{model}} must be inside a quoted label value"],
    ['rate(x[{{window}}]) and on() up{m="{{window}}"}', "{{window}} is a duration"],
    ["up{m=`{{version}}`}", "{{version}} is inside a `raw` string"],
    ['up{m="{{modle}}"}', "{{modle}} is not a placeholder modelship fills in"],
    ['up{m="{{model}}}', 'a string opened with " is never closed'],
    ["   ", "the query is empty"],
    [`up${" ".repeat(5000)}`, "at most 4096 are accepted"],
  ])("refuses %j", (template, problem) => {
    expect(promqlTemplateProblems(template).join("; ")).toContain(problem);
  });

  it("accepts a quote escaped inside a string, and placeholders after it", () => {
    expect(promqlTemplateProblems('up{m="a\\"b{{model}}"}')).toEqual([]);
  });
});
