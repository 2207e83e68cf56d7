// CloudWatch metric math for the expressions our alarms use, parsed (never `eval`) and evaluated per period:
// numbers, metric ids, + - * /, unary minus, parentheses, and MAX, MIN, SUM, AVG over an array `[…]`.
// Semantics follow CloudWatch's documentation: between two time series a value missing in one is taken as
// 0 (a period where every series is missing stays missing); a division by zero drops the datapoint; MAX and
// MIN of an array take the values present, SUM and AVG count a missing value as 0. Anything else is refused
// with a MetricMathError that says where and what was expected.

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

type Node =
  | { readonly kind: "number"; readonly value: number }
  | { readonly kind: "id"; readonly id: string }
  | { readonly kind: "negate"; readonly operand: Node }
  | {
      readonly kind: "binary";
      readonly operator: "+" | "-" | "*" | "/";
      readonly left: Node;
      readonly right: Node;
    }
  | { readonly kind: "call"; readonly fn: ArrayFunction; readonly items: readonly Node[] };

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
 * undefined for an id that does not exist, which is a MetricMathError.
 */
export function evaluateMetricMath(
  expression: MetricMathExpression,
  series: (id: string) => PeriodValues | undefined,
  length: number,
): (number | undefined)[] {
  const resolve = (id: string): PeriodValues => {
    const values = series(id);
    if (!values) {
      throw new MetricMathError(
        expression.source,
        `'${id}' is not the id of a metric or expression of this alarm`,
      );
    }
    return values;
  };
  const result = evaluate(expression.root, resolve, length);
  return result.kind === "series" ? result.values : Array.from({ length }, () => result.value);
}

type Value =
  | { readonly kind: "scalar"; readonly value: number | undefined }
  | { readonly kind: "series"; readonly values: (number | undefined)[] };

function evaluate(node: Node, resolve: (id: string) => PeriodValues, length: number): Value {
  switch (node.kind) {
    case "number":
      return { kind: "scalar", value: node.value };
    case "id": {
      const values = resolve(node.id);
      return { kind: "series", values: Array.from({ length }, (_, i) => finiteOrMissing(values[i])) };
    }
    case "negate":
      return combine({ kind: "scalar", value: 0 }, evaluate(node.operand, resolve, length), "-", length);
    case "binary":
      return combine(
        evaluate(node.left, resolve, length),
        evaluate(node.right, resolve, length),
        node.operator,
        length,
      );
    case "call":
      return callArrayFunction(
        node.fn,
        node.items.map((item) => evaluate(item, resolve, length)),
        length,
      );
  }
}

function combine(left: Value, right: Value, operator: "+" | "-" | "*" | "/", length: number): Value {
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

function arithmetic(
  a: number | undefined,
  b: number | undefined,
  operator: "+" | "-" | "*" | "/",
): number | undefined {
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
  }
}

// ── Tokens ───────────────────────────────────────────────────────────────────────────────────────────

const NUMBER = /^(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?/;
const ID = /^[a-z][A-Za-z0-9_]*/;
const WORD = /^[A-Z][A-Za-z0-9_]*/;
const SYMBOLS = "+-*/()[],";

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
    const text = number ?? id ?? word ?? (SYMBOLS.includes(char) ? char : undefined);
    if (text === undefined) {
      throw new MetricMathError(
        source,
        `unexpected '${printable(char)}'; expected a number, a metric id, + - * /, parentheses or MAX, MIN, SUM, AVG over [ … ]`,
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

function printable(char: string): string {
  const code = char.codePointAt(0) ?? 0;
  return code < 0x20 || code === 0x7f ? `\\u${code.toString(16).padStart(4, "0")}` : char;
}

// ── Grammar ──────────────────────────────────────────────────────────────────────────────────────────
// expression := term (("+" | "-") term)*
// term       := unary (("*" | "/") unary)*
// unary      := "-" unary | primary
// primary    := number | id | "(" expression ")" | FUNCTION "(" "[" expression ("," expression)* "]" ")"

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
    if (next.kind !== "end") this.fail(next, "an operator (+ - * /) or the end of the expression");
    return node;
  }

  private expression(): Node {
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
    const fn = ARRAY_FUNCTIONS.find((f) => f === name.text);
    if (!fn) {
      const hint = /^[A-Z][A-Z_0-9]*$/.test(name.text)
        ? `'${name.text}' is not a function this evaluator supports; use MAX, MIN, SUM or AVG over [ … ]`
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
