import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  MetricMathError,
  type PeriodValues,
  evaluateMetricMath,
  parseMetricMath,
} from "../../lib/core/metric-math";

const _ = undefined;

function evaluate(expression: string, inputs: Record<string, PeriodValues>): (number | undefined)[] {
  const length = Math.max(...Object.values(inputs).map((values) => values.length));
  return evaluateMetricMath(parseMetricMath(expression), (id) => inputs[id], length);
}

function parseError(expression: string): MetricMathError {
  try {
    parseMetricMath(expression);
  } catch (error) {
    if (error instanceof MetricMathError) return error;
    throw error;
  }
  throw new Error(`expected ${expression} to be refused`);
}

describe("metric math: the error rate 100 * errors / MAX([requests, 1])", () => {
  const errorRate = "100 * errors / MAX([requests, 1])";

  it.each([
    ["is 0 with zero requests and zero errors, not a division by zero", [0], [0], [0]],
    ["counts errors against 1 when no request was counted", [2], [0], [200]],
    ["is the percentage of failed requests", [1], [4], [25]],
    ["is missing when neither errors nor requests have a datapoint", [_], [_], [_]],
    ["takes missing errors as 0 beside counted requests", [_], [8], [0]],
  ])("%s", (_title, errors, requests, expected) => {
    expect(evaluate(errorRate, { errors, requests })).toEqual(expected);
  });
});

describe("metric math: missing values and division by zero, as CloudWatch documents them", () => {
  it.each([
    [
      "a + b takes a value missing in one series as 0",
      "a + b",
      { a: [1, _, 3], b: [10, 20, _] },
      [11, 20, 3],
    ],
    ["a + b stays missing where both series are", "a + b", { a: [1, _], b: [1, _] }, [2, _]],
    ["a / b drops the datapoint that divides by zero", "a / b", { a: [6, 6, 0], b: [3, 0, 0] }, [2, _, _]],
    ["a / b drops it when the divisor is missing (taken as 0)", "a / b", { a: [6], b: [_] }, [_]],
    ["a / b with a missing dividend is 0", "a / b", { a: [_], b: [4] }, [0]],
    ["a series times a scalar is missing where the series is", "a * 2", { a: [1, _] }, [2, _]],
    ["a scalar divided by zero drops every datapoint", "a + 1 / 0", { a: [1, 2] }, [_, _]],
    ["MAX of an array takes the values present", "MAX([a, b])", { a: [1, _, 5], b: [3, 2, _] }, [3, 2, 5]],
    ["MIN of an array takes the values present", "MIN([a, b])", { a: [1, _, 5], b: [3, 2, _] }, [1, 2, 5]],
    ["MAX with a scalar floors the series", "MAX([a, 1])", { a: [0, 7, _] }, [1, 7, _]],
    ["SUM of an array counts missing as 0", "SUM([a, b])", { a: [1, _, _], b: [2, 3, _] }, [3, 3, _]],
    ["AVG of an array counts missing as 0", "AVG([a, b])", { a: [4, _], b: [2, 6] }, [3, 3]],
  ])("%s", (_title, expression, inputs, expected) => {
    expect(evaluate(expression, inputs)).toEqual(expected);
  });
});

describe("metric math: operators", () => {
  it.each([
    ["1 + 2 * a", [10], [21]],
    ["(1 + 2) * a", [10], [30]],
    ["a - 2 - 3", [10], [5]],
    ["a / 2 / 5", [100], [10]],
    ["-a + 3", [10], [-7]],
    ["- -a", [4], [4]],
    ["2 * -a", [4], [-8]],
    ["a * 1.5e2", [2], [300]],
    ["a*.5", [4], [2]],
  ])("evaluates %s", (expression, a, expected) => {
    expect(evaluate(expression, { a })).toEqual(expected);
  });

  it("evaluates the ratio of two latencies, dropping periods without a baseline", () => {
    expect(
      evaluate("candidate_p95 / stable_p95", { candidate_p95: [2500, 900, _], stable_p95: [2000, _, 800] }),
    ).toEqual([1.25, _, 0]);
  });

  it("lists the ids an expression reads, once each, in order", () => {
    expect(parseMetricMath("(a + b) / MAX([b, c, 1]) - a").ids).toEqual(["a", "b", "c"]);
  });

  it("refuses to evaluate an id the alarm does not define", () => {
    expect(() => evaluate("a + ghost", { a: [1] })).toThrow(
      `Metric math "a + ghost": 'ghost' is not the id of a metric or expression of this alarm.`,
    );
  });
});

describe("metric math: the parser refuses anything else, saying where and what it expected", () => {
  it.each([
    [
      "100 * errors /",
      "expected a number, a metric id, '(' or a function, found the end of the expression",
      15,
    ],
    ["(errors + 1", "expected ')' to close the '(' at column 1, found the end of the expression", 12],
    ["errors requests", "expected an operator (+ - * /) or the end of the expression, found 'requests'", 8],
    [
      "errors ^ 2",
      "unexpected '^'; expected a number, a metric id, + - * /, parentheses or MAX, MIN, SUM, AVG over [ … ]",
      8,
    ],
    ["MAX(requests)", "MAX takes an array here, e.g. MAX([m1, 1])", 5],
    [
      "FILL(errors, 0)",
      "'FILL' is not a function this evaluator supports; use MAX, MIN, SUM or AVG over [ … ]",
      1,
    ],
    ["Errors + 1", "'Errors' is not a metric id: ids start with a lowercase letter", 1],
    ["[a, b] / c", "an array [ … ] may appear only as the argument of MAX, MIN, SUM or AVG", 1],
    ["MAX([a, b)", "expected ',' or ']' to close the array of MAX, found ')'", 10],
    ["MAX([a, 1]", "expected ')' to close MAX(, found the end of the expression", 11],
    ["a + 1e400", "the number 1e400 is too large", 5],
    ["a\u0007", "unexpected '\\u0007'", 2],
  ])("refuses %j", (expression, message, column) => {
    const error = parseError(expression);
    expect(error.message).toContain(message);
    expect(error.column).toBe(column);
    expect(error.name).toBe("MetricMathError");
  });

  it("refuses an expression that reads no metric: an alarm needs a time series", () => {
    expect(parseError("1 + MAX([2, 3])").message).toContain("the expression reads no metric");
  });

  it("refuses an expression longer than CloudWatch accepts", () => {
    expect(parseError(`a${" + a".repeat(600)}`).message).toContain("CloudWatch accepts at most 2048");
  });

  it("refuses nesting deep enough to exhaust the stack, with its own error", () => {
    expect(parseError(`${"(".repeat(5000)}a${")".repeat(5000)}`.slice(0, 2048)).message).toContain(
      "nesting deeper than 64 levels",
    );
    expect(parseError(`${"-".repeat(1000)}a`).message).toContain("nesting deeper than 64 levels");
  });
});

describe("metric math: fuzzing", () => {
  const tokens = [
    "a",
    "b",
    "1",
    "0",
    "2.5",
    "+",
    "-",
    "*",
    "/",
    "(",
    ")",
    "[",
    "]",
    ",",
    "MAX",
    "AVG",
    "SUM",
    "MIN",
    " ",
    "FILL",
    "^",
    "e",
  ];
  const soup = fc.array(fc.constantFrom(...tokens), { maxLength: 40 }).map((parts) => parts.join(""));
  const series = fc.array(fc.option(fc.double({ noNaN: false }), { nil: undefined }), {
    minLength: 3,
    maxLength: 3,
  });

  it("never throws anything but its own error on arbitrary text", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (text) => {
        try {
          parseMetricMath(text);
        } catch (error) {
          expect(error).toBeInstanceOf(MetricMathError);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it("parses or refuses token soup, and what parses evaluates to finite numbers or gaps", () => {
    fc.assert(
      fc.property(soup, series, series, (text, a, b) => {
        let values;
        try {
          // An id other than a and b (`aa`, `ae`) is refused when evaluated, with the same error class.
          values = evaluateMetricMath(parseMetricMath(text), (id) => ({ a, b })[id], 3);
        } catch (error) {
          expect(error).toBeInstanceOf(MetricMathError);
          return;
        }
        expect(values).toHaveLength(3);
        for (const value of values) if (value !== undefined) expect(Number.isFinite(value)).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });
});
