import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  MetricMathError,
  type PeriodValues,
  evaluateMetricMath,
  parseMetricMath,
} from "../../lib/core/alarms/metric-math";

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

describe("metric math: comparisons and logical operators, as the user guide's table shows them", () => {
  // metric1 = [30, 20, 0, 0], metric2 = [20, -, 20, -] ("Comparison and logical operators").
  const inputs = { metric1: [30, 20, 0, 0], metric2: [20, _, 20, _] };

  it.each([
    ["metric1 < metric2", [0, 0, 1, 0]],
    ["metric1 >= 30", [1, 0, 0, 0]],
    ["metric1 > 15 AND metric2 > 15", [1, 0, 0, 0]],
  ])("%s", (expression, expected) => {
    expect(evaluate(expression, inputs)).toEqual(expected);
  });

  it.each([
    ["== and !=", "(a == 2) + (a != 2) * 10", { a: [2, 3] }, [1, 10]],
    ["<= and >", "(a <= 2) + (a > 2) * 10", { a: [2, 3] }, [1, 10]],
    ["&& and || spell AND and OR", "a > 1 && a < 3 || a == 9", { a: [2, 3, 9] }, [1, 0, 1]],
    ["AND binds tighter than OR", "a == 1 OR a == 2 AND a == 3", { a: [1, 2] }, [1, 0]],
    ["a comparison with a number is missing where the series is", "a > 1", { a: [_, 2] }, [_, 1]],
    ["two missing series compare to nothing", "a < b", { a: [_], b: [_] }, [_]],
  ])("%s", (_title, expression, values, expected) => {
    expect(evaluate(expression, values)).toEqual(expected);
  });
});

describe("metric math: IF, as the user guide's tables show it", () => {
  // "Using IF expressions": metric1 = [1, 1, 0, 0, -], metric2 = [30, -, 0, 0, 30], metric3 = [0, 0, 20, -, 20].
  const inputs = { metric1: [1, 1, 0, 0, _], metric2: [30, _, 0, 0, 30], metric3: [0, 0, 20, _, 20] };

  it.each([
    ["IF(metric1, metric2, metric3)", [30, 0, 20, _, _]],
    ["IF(metric1, 5, metric3)", [5, 5, 20, _, _]],
    ["IF(metric1, metric2, 5)", [30, 0, 5, 5, _]],
    ["IF(metric1, metric2)", [30, 0, _, _, _]],
  ])("%s", (expression, expected) => {
    expect(evaluate(expression, inputs)).toEqual(expected);
  });

  it("takes the whole true or false series when the condition is a number", () => {
    expect(evaluate("IF(1, metric2, metric3)", inputs)).toEqual([30, _, 0, 0, 30]);
    expect(evaluate("IF(0, metric2, metric3)", inputs)).toEqual([0, 0, 20, _, 20]);
    expect(evaluate("IF(0, metric2)", inputs)).toEqual([_, _, _, _, _]);
  });

  it("filters a series by a comparison: IF(metric1 < 400, metric1)", () => {
    expect(evaluate("IF(m < 400, m)", { m: [100, 500, _, 399] })).toEqual([100, _, _, 399]);
  });

  it("drops every period when the condition is a dropped number (a division by zero)", () => {
    expect(evaluate("IF(1 / 0, m, m)", { m: [1, 2] })).toEqual([_, _]);
  });
});

describe("metric math: TIME_SERIES and EPOCH give a value in every period", () => {
  const starts = [1_750_000_000_000, 1_750_000_010_000, 1_750_000_020_000];

  it("TIME_SERIES(20) is 20 where the metric has no datapoint too", () => {
    expect(evaluate("m + TIME_SERIES(20)", { m: [1, _, 3] })).toEqual([21, 20, 23]);
  });

  it("a comparison against TIME_SERIES takes the metric's gaps as 0, so its condition is never missing", () => {
    expect(evaluate("IF(m >= TIME_SERIES(20), m, p)", { m: [25, _, 3], p: [1, 2, 3] })).toEqual([25, 2, 3]);
  });

  it("EPOCH gives each period's start in seconds since the epoch, with or without data", () => {
    const values = evaluateMetricMath(parseMetricMath("EPOCH(m)"), () => [_, 5, _], 3, starts);
    expect(values).toEqual([1_750_000_000, 1_750_000_010, 1_750_000_020]);
  });

  it("EPOCH keeps the periods before a moment out: IF(EPOCH(m) >= t, m + TIME_SERIES(0))", () => {
    const expression = parseMetricMath("IF(EPOCH(m) >= 1750000010, m + TIME_SERIES(0))");
    expect(evaluateMetricMath(expression, () => [4, _, 6], 3, starts)).toEqual([_, 0, 6]);
  });

  it("refuses to evaluate EPOCH without the periods' timestamps", () => {
    expect(() => evaluateMetricMath(parseMetricMath("EPOCH(m)"), () => [1], 1)).toThrow(
      "EPOCH needs the timestamps of the periods it is evaluated over",
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
    [
      "errors requests",
      "expected an operator (+ - * /, a comparison, AND, OR) or the end of the expression, found 'requests'",
      8,
    ],
    [
      "errors ^ 2",
      "unexpected '^'; expected a number, a metric id, + - * /, a comparison, AND, OR, parentheses or a function (MAX, MIN, SUM, AVG over [ … ], IF, TIME_SERIES, EPOCH)",
      8,
    ],
    ["MAX(requests)", "MAX takes an array here, e.g. MAX([m1, 1])", 5],
    [
      "FILL(errors, 0)",
      "'FILL' is not a function this evaluator supports; use MAX, MIN, SUM, AVG, IF, TIME_SERIES, EPOCH",
      1,
    ],
    ["a = 1", "unexpected '='", 3],
    ["a < b < c", "comparisons do not chain (a < b < c); join them with AND", 7],
    ["AND(a)", "AND joins two conditions; it cannot start one", 1],
    ["IF(a)", "expected ',' and the value IF gives where its condition holds, found ')'", 5],
    [
      "IF(a, 1, 2, 3)",
      "expected ')' to close IF( — it takes a condition, a true value and an optional false value, found ','",
      11,
    ],
    ["TIME_SERIES(a)", "TIME_SERIES takes a number, e.g. TIME_SERIES(20)", 1],
    ["EPOCH(20) + a", "EPOCH takes a time series, e.g. EPOCH(m1)", 1],
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
    "<",
    ">=",
    "==",
    " AND ",
    " OR ",
    "IF(",
    "TIME_SERIES(",
    "EPOCH(",
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
          values = evaluateMetricMath(parseMetricMath(text), (id) => ({ a, b })[id], 3, [0, 10_000, 20_000]);
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
