// CloudWatch metric math for the expressions our alarms use, parsed (never `eval`) and evaluated per period:
// numbers, metric ids, + - * /, unary minus, parentheses, MAX, MIN, SUM, AVG over an array `[…]`, the
// comparisons == != < <= > >=, AND (&&) and OR (||), IF(condition, trueValue[, falseValue]),
// TIME_SERIES(number) and EPOCH(series).
// Semantics follow CloudWatch's user guide ("Metric math syntax and functions", "Using IF expressions"):
// between two time series a value missing in one is taken as 0 — for arithmetic, comparisons and logical
// operators alike — and a period where every series is missing stays missing; a division by zero drops the
// datapoint; a comparison or logical operator gives 1 (true) or 0 (false); MAX and MIN of an array take the
// values present, SUM and AVG count a missing value as 0. IF drops a period whose condition is missing;
// where the condition is true it gives the true value, 0 where that series has no datapoint; where false,
// the false value, dropped where that series has none or when it is left out. TIME_SERIES and EPOCH are
// non-sparse: a value in every period of the range (EPOCH: the period's start in seconds since the epoch).
// Anything else is refused with a MetricMathError that says where and what was expected.

/** A period's value, or undefined where the series has no datapoint. */
export type PeriodValues = readonly (number | undefined)[];

export class MetricMathError extends Error {
  override readonly name = "MetricMathError";

  constructor(
    readonly expression: string,
    detail: string,
    /** 1-based column of the problem, when it has one. */
    readonly column?: number,
  ) {
    const shown = expression.length > 120 ? `${expression.slice(0, 120)}…` : expression;
    super(`Metric math "${shown}": ${detail}${column === undefined ? "" : ` (column ${column})`}.`);
  }
}

const MAX_EXPRESSION_CHARS = 2048;
const MAX_NESTING = 64;
const ARRAY_FUNCTIONS = ["MAX", "MIN", "SUM", "AVG"] as const;
type ArrayFunction = (typeof ARRAY_FUNCTIONS)[number];
const OTHER_FUNCTIONS = ["IF", "TIME_SERIES", "EPOCH"] as const;
const COMPARISONS = ["==", "!=", "<=", ">=", "<", ">"] as const;
type Comparison = (typeof COMPARISONS)[number];
type Operator = "+" | "-" | "*" | "/" | Comparison | "AND" | "OR";

type Node =
  | { readonly kind: "number"; readonly value: number }
  | { readonly kind: "id"; readonly id: string }
  | { readonly kind: "negate"; readonly operand: Node }
  | {
      readonly kind: "binary";
      readonly operator: Operator;
      readonly left: Node;
      readonly right: Node;
    }
  | { readonly kind: "call"; readonly fn: ArrayFunction; readonly items: readonly Node[] }
  | { readonly kind: "if"; readonly condition: Node; readonly then: Node; readonly otherwise?: Node }
  | { readonly kind: "timeSeries"; readonly value: Node }
  | { readonly kind: "epoch"; readonly series: Node };

/** A parsed expression: evaluate it with `evaluateMetricMath`. */
export interface MetricMathExpression {
  readonly source: string;
  /** The metric (or expression) ids it reads, in order of first use. */
  readonly ids: readonly string[];
  readonly root: Node;
}

interface Token {
  readonly kind: "number" | "id" | "word" | "symbol" | "end";
  readonly text: string;
  readonly column: number;
}

/** Parses `source`, or throws a MetricMathError naming the column and what was expected there. */
export function parseMetricMath(source: string): MetricMathExpression {
  if (source.length > MAX_EXPRESSION_CHARS) {
    throw new MetricMathError(
      source,
      `the expression has ${source.length} characters; CloudWatch accepts at most ${MAX_EXPRESSION_CHARS}`,
    );
  }
  const parser = new Parser(source, tokenize(source));
  const root = parser.parseAll();
  const ids = [...new Set(collectIds(root))];
  if (ids.length === 0) {
    throw new MetricMathError(
      source,
      "the expression reads no metric, so it is not a time series; an alarm's expression must use at least one metric id (e.g. 100 * errors / MAX([requests, 1]))",
    );
  }
  return { source, ids, root };
}

/**
 * Evaluates `expression` over `length` periods; `series(id)` gives each id's values (oldest first), or
 * undefined for an id that does not exist, which is a MetricMathError. `periodStarts` (epoch milliseconds,
 * one per period) are what EPOCH reads; an expression using EPOCH without them is a MetricMathError.
 */
export function evaluateMetricMath(
  expression: MetricMathExpression,
  series: (id: string) => PeriodValues | undefined,
  length: number,
  periodStarts?: readonly number[],
): (number | undefined)[] {
  const context: Context = {
    length,
    resolve: (id: string): PeriodValues => {
      const values = series(id);
      if (!values) {
        throw new MetricMathError(
          expression.source,
          `'${id}' is not the id of a metric or expression of this alarm`,
        );
      }
      return values;
    },
    periodStarts: () => {
      if (periodStarts?.length !== length) {
        throw new MetricMathError(
          expression.source,
          "EPOCH needs the timestamps of the periods it is evaluated over",
        );
      }
      return periodStarts;
    },
  };
  const result = evaluate(expression.root, context);
  return result.kind === "series" ? result.values : Array.from({ length }, () => result.value);
}

type Value =
  | { readonly kind: "scalar"; readonly value: number | undefined }
  | { readonly kind: "series"; readonly values: (number | undefined)[] };

interface Context {
  readonly length: number;
  resolve(id: string): PeriodValues;
  periodStarts(): readonly number[];
}

function evaluate(node: Node, context: Context): Value {
  const { length } = context;
  switch (node.kind) {
    case "number":
      return { kind: "scalar", value: node.value };
    case "id": {
      const values = context.resolve(node.id);
      return { kind: "series", values: Array.from({ length }, (_, i) => finiteOrMissing(values[i])) };
    }
    case "negate":
      return combine({ kind: "scalar", value: 0 }, evaluate(node.operand, context), "-", length);
    case "binary":
      return combine(evaluate(node.left, context), evaluate(node.right, context), node.operator, length);
    case "call":
      return callArrayFunction(
        node.fn,
        node.items.map((item) => evaluate(item, context)),
        length,
      );
    case "if":
      return evaluateIf(
        evaluate(node.condition, context),
        evaluate(node.then, context),
        node.otherwise === undefined ? undefined : evaluate(node.otherwise, context),
        length,
      );
    case "timeSeries": {
      const value = evaluate(node.value, context);
      // The parser lets only a scalar in; a dropped scalar (a division by zero) leaves every period empty.
      const scalar = value.kind === "scalar" ? value.value : undefined;
      return { kind: "series", values: Array.from({ length }, () => scalar) };
    }
    case "epoch":
      return { kind: "series", values: context.periodStarts().map((start) => Math.floor(start / 1000)) };
  }
}

/** IF over a condition, per the user guide's "Using IF expressions" (see the file's first lines). */
function evaluateIf(condition: Value, then: Value, otherwise: Value | undefined, length: number): Value {
  if (condition.kind === "scalar") {
    if (condition.value === undefined)
      return { kind: "series", values: Array.from({ length }, () => undefined) };
    const chosen = condition.value !== 0 ? then : otherwise;
    if (!chosen) return { kind: "series", values: Array.from({ length }, () => undefined) };
    return chosen;
  }
  const at = (value: Value | undefined, i: number, missing: number | undefined) =>
    value === undefined ? undefined : value.kind === "scalar" ? value.value : (value.values[i] ?? missing);
  return {
    kind: "series",
    values: condition.values.map((c, i) => {
      if (c === undefined) return undefined;
      return c !== 0 ? at(then, i, 0) : at(otherwise, i, undefined);
    }),
  };
}

function combine(left: Value, right: Value, operator: Operator, length: number): Value {
  if (left.kind === "scalar" && right.kind === "scalar") {
    return { kind: "scalar", value: arithmetic(left.value, right.value, operator) };
  }
  const values = Array.from({ length }, (_, i) => {
    const a = left.kind === "scalar" ? left.value : left.values[i];
    const b = right.kind === "scalar" ? right.value : right.values[i];
    // A scalar that was dropped (a division by zero) leaves nothing to compute with.
    if ((left.kind === "scalar" && a === undefined) || (right.kind === "scalar" && b === undefined)) {
      return undefined;
    }
    // A period missing from every series in the operation stays missing; otherwise the gap counts as 0.
    const everySeriesMissing =
      (left.kind === "scalar" || a === undefined) && (right.kind === "scalar" || b === undefined);
    if (everySeriesMissing) return undefined;
    return arithmetic(a ?? 0, b ?? 0, operator);
  });
  return { kind: "series", values };
}

function arithmetic(a: number | undefined, b: number | undefined, operator: Operator): number | undefined {
  if (a === undefined || b === undefined) return undefined;
  switch (operator) {
    case "+":
      return finiteOrMissing(a + b);
    case "-":
      return finiteOrMissing(a - b);
    case "*":
      return finiteOrMissing(a * b);
    case "/":
      return b === 0 ? undefined : finiteOrMissing(a / b);
    case "==":
      return a === b ? 1 : 0;
    case "!=":
      return a !== b ? 1 : 0;
    case "<":
      return a < b ? 1 : 0;
    case "<=":
      return a <= b ? 1 : 0;
    case ">":
      return a > b ? 1 : 0;
    case ">=":
      return a >= b ? 1 : 0;
    case "AND":
      return a !== 0 && b !== 0 ? 1 : 0;
    case "OR":
      return a !== 0 || b !== 0 ? 1 : 0;
  }
}

function callArrayFunction(fn: ArrayFunction, items: readonly Value[], length: number): Value {
  const scalars = items.flatMap((item) =>
    item.kind === "scalar" && item.value !== undefined ? [item.value] : [],
  );
  const series = items.flatMap((item) => (item.kind === "series" ? [item.values] : []));
  if (series.length === 0) return { kind: "scalar", value: reduce(fn, scalars, items.length) };
  const values = Array.from({ length }, (_, i) => {
    const present = series.flatMap((values) => (values[i] === undefined ? [] : [values[i] as number]));
    return present.length === 0 ? undefined : reduce(fn, [...present, ...scalars], items.length);
  });
  return { kind: "series", values };
}

/** `count` is how many items the array has: AVG divides by it, counting a missing value as 0. */
function reduce(fn: ArrayFunction, values: readonly number[], count: number): number | undefined {
  if (values.length === 0) return undefined;
  switch (fn) {
    case "MAX":
      return values.reduce((a, b) => (b > a ? b : a));
    case "MIN":
      return values.reduce((a, b) => (b < a ? b : a));
    case "SUM":
      return finiteOrMissing(values.reduce((a, b) => a + b, 0));
    case "AVG":
      return finiteOrMissing(values.reduce((a, b) => a + b, 0) / count);
  }
}

function finiteOrMissing(value: number | undefined): number | undefined {
  return value !== undefined && Number.isFinite(value) ? value : undefined;
}

function collectIds(node: Node): string[] {
  switch (node.kind) {
    case "number":
      return [];
    case "id":
      return [node.id];
    case "negate":
      return collectIds(node.operand);
    case "binary":
      return [...collectIds(node.left), ...collectIds(node.right)];
    case "call":
      return node.items.flatMap(collectIds);
    case "if":
      return [
        ...collectIds(node.condition),
        ...collectIds(node.then),
        ...(node.otherwise ? collectIds(node.otherwise) : []),
      ];
    case "timeSeries":
      return collectIds(node.value);
    case "epoch":
      return collectIds(node.series);
  }
}

// ── Tokens ───────────────────────────────────────────────────────────────────────────────────────────

const NUMBER = /^(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?/;
const ID = /^[a-z][A-Za-z0-9_]*/;
const WORD = /^[A-Z][A-Za-z0-9_]*/;
const SYMBOLS = "+-*/()[],<>";
/** Two-character operators, matched before their one-character starts. */
const PAIRS = ["==", "!=", "<=", ">=", "&&", "||"];

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let index = 0;
  while (index < source.length) {
    const char = source[index] ?? "";
    if (char === " " || char === "\t" || char === "\n" || char === "\r") {
      index++;
      continue;
    }
    const rest = source.slice(index);
    const column = index + 1;
    const number = NUMBER.exec(rest)?.[0];
    const id = number === undefined ? ID.exec(rest)?.[0] : undefined;
    const word = number === undefined && id === undefined ? WORD.exec(rest)?.[0] : undefined;
    const pair = PAIRS.find((p) => rest.startsWith(p));
    const text = number ?? id ?? word ?? pair ?? (SYMBOLS.includes(char) ? char : undefined);
    if (text === undefined) {
      throw new MetricMathError(
        source,
        `unexpected '${printable(char)}'; expected a number, a metric id, + - * /, a comparison, AND, OR, parentheses or a function (MAX, MIN, SUM, AVG over [ … ], IF, TIME_SERIES, EPOCH)`,
        column,
      );
    }
    tokens.push({
      kind:
        number !== undefined ? "number" : id !== undefined ? "id" : word !== undefined ? "word" : "symbol",
      text,
      column,
    });
    index += text.length;
  }
  tokens.push({ kind: "end", text: "", column: source.length + 1 });
  return tokens;
}

/** Whether a node makes a time series without reading a metric id (TIME_SERIES, EPOCH). */
function containsSeriesFunction(node: Node): boolean {
  switch (node.kind) {
    case "timeSeries":
    case "epoch":
      return true;
    case "number":
    case "id":
      return false;
    case "negate":
      return containsSeriesFunction(node.operand);
    case "binary":
      return containsSeriesFunction(node.left) || containsSeriesFunction(node.right);
    case "call":
      return node.items.some(containsSeriesFunction);
    case "if":
      return [node.condition, node.then, ...(node.otherwise ? [node.otherwise] : [])].some(
        containsSeriesFunction,
      );
  }
}

function printable(char: string): string {
  const code = char.codePointAt(0) ?? 0;
  return code < 0x20 || code === 0x7f ? `\\u${code.toString(16).padStart(4, "0")}` : char;
}

// ── Grammar ──────────────────────────────────────────────────────────────────────────────────────────
// expression := and (("OR" | "||") and)*
// and        := comparison (("AND" | "&&") comparison)*
// comparison := additive (("==" | "!=" | "<" | "<=" | ">" | ">=") additive)?
// additive   := term (("+" | "-") term)*
// term       := unary (("*" | "/") unary)*
// unary      := "-" unary | primary
// primary    := number | id | "(" expression ")" | ARRAY_FN "(" "[" expression ("," expression)* "]" ")"
//             | "IF" "(" expression "," expression ["," expression] ")" | "TIME_SERIES" "(" expression ")"
//             | "EPOCH" "(" expression ")"

class Parser {
  private position = 0;
  private depth = 0;

  constructor(
    private readonly source: string,
    private readonly tokens: readonly Token[],
  ) {}

  parseAll(): Node {
    const node = this.expression();
    const next = this.peek();
    if (next.kind !== "end")
      this.fail(next, "an operator (+ - * /, a comparison, AND, OR) or the end of the expression");
    return node;
  }

  private expression(): Node {
    let node = this.and();
    for (let next = this.peek(); next.text === "OR" || next.text === "||"; next = this.peek()) {
      this.position++;
      node = { kind: "binary", operator: "OR", left: node, right: this.and() };
    }
    return node;
  }

  private and(): Node {
    let node = this.comparison();
    for (let next = this.peek(); next.text === "AND" || next.text === "&&"; next = this.peek()) {
      this.position++;
      node = { kind: "binary", operator: "AND", left: node, right: this.comparison() };
    }
    return node;
  }

  private comparison(): Node {
    const node = this.additive();
    const next = this.peek();
    const operator = COMPARISONS.find((c) => c === next.text);
    if (!operator || next.kind !== "symbol") return node;
    this.position++;
    const right = this.additive();
    const after = this.peek();
    if (COMPARISONS.some((c) => c === after.text) && after.kind === "symbol") {
      throw new MetricMathError(
        this.source,
        "comparisons do not chain (a < b < c); join them with AND",
        after.column,
      );
    }
    return { kind: "binary", operator, left: node, right };
  }

  private additive(): Node {
    let node = this.term();
    for (let next = this.peek(); next.text === "+" || next.text === "-"; next = this.peek()) {
      this.position++;
      node = { kind: "binary", operator: next.text, left: node, right: this.term() };
    }
    return node;
  }

  private term(): Node {
    let node = this.unary();
    for (let next = this.peek(); next.text === "*" || next.text === "/"; next = this.peek()) {
      this.position++;
      node = { kind: "binary", operator: next.text, left: node, right: this.unary() };
    }
    return node;
  }

  private unary(): Node {
    const next = this.peek();
    if (next.kind === "symbol" && next.text === "-") {
      this.position++;
      return this.nested(next, () => ({ kind: "negate", operand: this.unary() }));
    }
    return this.primary();
  }

  private primary(): Node {
    const token = this.peek();
    this.position++;
    switch (token.kind) {
      case "number": {
        const value = Number(token.text);
        if (!Number.isFinite(value)) {
          throw new MetricMathError(this.source, `the number ${token.text} is too large`, token.column);
        }
        return { kind: "number", value };
      }
      case "id":
        return { kind: "id", id: token.text };
      case "word":
        return this.call(token);
      case "symbol":
        if (token.text === "(") {
          const node = this.nested(token, () => this.expression());
          this.expect(")", "')' to close the '(' at column " + token.column);
          return node;
        }
        if (token.text === "[") {
          throw new MetricMathError(
            this.source,
            "an array [ … ] may appear only as the argument of MAX, MIN, SUM or AVG",
            token.column,
          );
        }
        return this.fail(token, "a number, a metric id, '(' or a function");
      case "end":
        return this.fail(token, "a number, a metric id, '(' or a function");
    }
  }

  private call(name: Token): Node {
    if (name.text === "IF") return this.ifCall(name);
    if (name.text === "TIME_SERIES" || name.text === "EPOCH") return this.seriesCall(name);
    const fn = ARRAY_FUNCTIONS.find((f) => f === name.text);
    if (!fn) {
      const known = [...ARRAY_FUNCTIONS, ...OTHER_FUNCTIONS].join(", ");
      const hint =
        name.text === "AND" || name.text === "OR"
          ? `${name.text} joins two conditions; it cannot start one`
          : /^[A-Z][A-Z_0-9]*$/.test(name.text)
            ? `'${name.text}' is not a function this evaluator supports; use ${known}`
            : `'${name.text}' is not a metric id: ids start with a lowercase letter`;
      throw new MetricMathError(this.source, hint, name.column);
    }
    this.expect("(", `'(' after ${fn}`);
    const open = this.peek();
    if (open.text !== "[") {
      throw new MetricMathError(
        this.source,
        `${fn} takes an array here, e.g. ${fn}([m1, 1]); ${fn} of a single series gives one number over the whole range, which CloudWatch advises against in alarms`,
        open.column,
      );
    }
    this.position++;
    const items = this.nested(name, () => {
      const list = [this.expression()];
      while (this.peek().text === ",") {
        this.position++;
        list.push(this.expression());
      }
      return list;
    });
    this.expect("]", `',' or ']' to close the array of ${fn}`);
    this.expect(")", `')' to close ${fn}(`);
    return { kind: "call", fn, items };
  }

  /** IF(condition, trueValue[, falseValue]) */
  private ifCall(name: Token): Node {
    this.expect("(", "'(' after IF");
    const [condition, then, otherwise] = this.nested(name, () => {
      const list = [this.expression()];
      while (this.peek().text === "," && list.length < 3) {
        this.position++;
        list.push(this.expression());
      }
      return list;
    });
    if (!condition || !then) {
      return this.fail(this.peek(), "',' and the value IF gives where its condition holds");
    }
    this.expect(")", "')' to close IF( — it takes a condition, a true value and an optional false value");
    return { kind: "if", condition, then, ...(otherwise ? { otherwise } : {}) };
  }

  /** TIME_SERIES(number) and EPOCH(series): a number cannot stand for a series, nor a series for a number. */
  private seriesCall(name: Token): Node {
    this.expect("(", `'(' after ${name.text}`);
    const argument = this.nested(name, () => this.expression());
    this.expect(")", `')' to close ${name.text}(`);
    const readsMetric = collectIds(argument).length > 0 || containsSeriesFunction(argument);
    if (name.text === "TIME_SERIES") {
      if (readsMetric) {
        throw new MetricMathError(
          this.source,
          "TIME_SERIES takes a number, e.g. TIME_SERIES(20); a metric is a time series already",
          name.column,
        );
      }
      return { kind: "timeSeries", value: argument };
    }
    if (!readsMetric) {
      throw new MetricMathError(
        this.source,
        "EPOCH takes a time series, e.g. EPOCH(m1): it gives the timestamp of each of its periods",
        name.column,
      );
    }
    return { kind: "epoch", series: argument };
  }

  private nested<T>(at: Token, parse: () => T): T {
    if (++this.depth > MAX_NESTING) {
      throw new MetricMathError(this.source, `nesting deeper than ${MAX_NESTING} levels`, at.column);
    }
    try {
      return parse();
    } finally {
      this.depth--;
    }
  }

  private expect(text: string, what: string): void {
    const token = this.peek();
    if (token.text !== text || token.kind === "end") this.fail(token, what);
    this.position++;
  }

  private peek(): Token {
    return this.tokens[this.position] ?? this.tokens[this.tokens.length - 1]!;
  }

  private fail(token: Token, expected: string): never {
    const found = token.kind === "end" ? "the end of the expression" : `'${token.text}'`;
    throw new MetricMathError(this.source, `expected ${expected}, found ${found}`, token.column);
  }
}
