// A composite alarm's rule, as PutCompositeAlarm takes it: ALARM(name), OK(name), INSUFFICIENT_DATA(name),
// TRUE and FALSE, combined with NOT, AND, OR (binding in that order) and parentheses. A name may be quoted or
// not, and may be an alarm ARN (`arn:aws:cloudwatch:…:alarm:<name>`). Parsed, never evaluated as code; a rule
// that does not parse is a CompositeRuleError saying where and what was expected.

import type { AlarmStateValue } from "./alarm-spec";

export class CompositeRuleError extends Error {
  override readonly name = "CompositeRuleError";

  constructor(
    readonly rule: string,
    detail: string,
    /** 1-based column of the problem. */
    readonly column: number,
  ) {
    const shown = rule.length > 160 ? `${rule.slice(0, 160)}…` : rule;
    super(`Composite alarm rule "${shown}": ${detail} (column ${column}).`);
  }
}

type RuleNode =
  | { readonly kind: "constant"; readonly value: boolean }
  | { readonly kind: "state"; readonly state: AlarmStateValue; readonly alarm: string }
  | { readonly kind: "not"; readonly operand: RuleNode }
  | { readonly kind: "and" | "or"; readonly left: RuleNode; readonly right: RuleNode };

export interface CompositeRule {
  readonly source: string;
  /** The alarms the rule names, in order of first mention. */
  readonly alarmNames: readonly string[];
  readonly root: RuleNode;
}

const STATE_FUNCTIONS: readonly AlarmStateValue[] = ["ALARM", "OK", "INSUFFICIENT_DATA"];
/** CloudWatch caps a rule at 10240 characters. */
const MAX_RULE_CHARS = 10_240;
const MAX_NESTING = 64;

/** Parses a rule, or throws a CompositeRuleError. */
export function parseCompositeRule(source: string): CompositeRule {
  if (source.length > MAX_RULE_CHARS) {
    throw new CompositeRuleError(
      source,
      `the rule has ${source.length} characters, more than ${MAX_RULE_CHARS}`,
      1,
    );
  }
  const root = new RuleParser(source).parseAll();
  return { source, alarmNames: [...new Set(namesIn(root))], root };
}

/** Whether the rule holds for these member states; every named alarm must have one. */
export function ruleHolds(rule: CompositeRule, stateOf: (alarm: string) => AlarmStateValue): boolean {
  const holds = (node: RuleNode): boolean => {
    switch (node.kind) {
      case "constant":
        return node.value;
      case "state":
        return stateOf(node.alarm) === node.state;
      case "not":
        return !holds(node.operand);
      case "and":
        return holds(node.left) && holds(node.right);
      case "or":
        return holds(node.left) || holds(node.right);
    }
  };
  return holds(rule.root);
}

function namesIn(node: RuleNode): string[] {
  switch (node.kind) {
    case "constant":
      return [];
    case "state":
      return [node.alarm];
    case "not":
      return namesIn(node.operand);
    case "and":
    case "or":
      return [...namesIn(node.left), ...namesIn(node.right)];
  }
}

/** `arn:aws:cloudwatch:eu-west-1:123456789012:alarm:my-alarm` → `my-alarm`; a plain name stays as it is. */
function alarmNameOf(reference: string): string {
  const match = /^arn:[^:]+:cloudwatch:[^:]*:[^:]*:alarm:(.+)$/.exec(reference);
  return match?.[1] ?? reference;
}

class RuleParser {
  private index = 0;
  private depth = 0;

  constructor(private readonly source: string) {}

  parseAll(): RuleNode {
    const node = this.or();
    this.skipSpace();
    if (this.index < this.source.length) this.fail("AND, OR or the end of the rule");
    return node;
  }

  private or(): RuleNode {
    let node = this.and();
    while (this.keyword("OR")) node = { kind: "or", left: node, right: this.and() };
    return node;
  }

  private and(): RuleNode {
    let node = this.not();
    while (this.keyword("AND")) node = { kind: "and", left: node, right: this.not() };
    return node;
  }

  private not(): RuleNode {
    if (this.keyword("NOT")) return this.nested(() => ({ kind: "not", operand: this.not() }));
    return this.atom();
  }

  private atom(): RuleNode {
    this.skipSpace();
    if (this.source[this.index] === "(") {
      const column = this.index + 1;
      this.index++;
      const node = this.nested(() => this.or());
      this.skipSpace();
      if (this.source[this.index] !== ")") this.fail(`')' to close the '(' at column ${column}`);
      this.index++;
      return node;
    }
    if (this.keyword("TRUE")) return { kind: "constant", value: true };
    if (this.keyword("FALSE")) return { kind: "constant", value: false };
    for (const state of STATE_FUNCTIONS) {
      if (this.keyword(state, "(")) return { kind: "state", state, alarm: this.alarmReference(state) };
    }
    return this.fail("ALARM(name), OK(name), INSUFFICIENT_DATA(name), TRUE, FALSE, NOT or '('");
  }

  /** After `STATE`: `("name")` or `(name)`. */
  private alarmReference(state: AlarmStateValue): string {
    this.skipSpace();
    this.index++; // the "(" keyword() saw
    this.skipSpace();
    let reference: string;
    if (this.source[this.index] === '"') {
      const close = this.source.indexOf('"', this.index + 1);
      if (close < 0) this.fail(`a closing '"' after the alarm name in ${state}(`);
      reference = this.source.slice(this.index + 1, close);
      this.index = close + 1;
    } else {
      const start = this.index;
      while (this.index < this.source.length && !/[\s()"]/.test(this.source[this.index] ?? "")) this.index++;
      reference = this.source.slice(start, this.index);
    }
    if (reference.length === 0) this.fail(`an alarm name or ARN in ${state}( )`);
    this.skipSpace();
    if (this.source[this.index] !== ")") this.fail(`')' after the alarm name in ${state}(`);
    this.index++;
    return alarmNameOf(reference);
  }

  /** Consumes `word` when it stands alone (or is followed by `next`), after any spaces. */
  private keyword(word: string, next?: string): boolean {
    this.skipSpace();
    if (!this.source.startsWith(word, this.index)) return false;
    let after = this.index + word.length;
    if (next !== undefined) {
      while (/\s/.test(this.source[after] ?? "")) after++;
      if (this.source[after] !== next) return false;
      this.index = after;
      return true;
    }
    if (/[A-Za-z0-9_]/.test(this.source[after] ?? "")) return false;
    this.index = after;
    return true;
  }

  private nested<T>(parse: () => T): T {
    if (++this.depth > MAX_NESTING) this.fail(`at most ${MAX_NESTING} levels of nesting`);
    try {
      return parse();
    } finally {
      this.depth--;
    }
  }

  private skipSpace(): void {
    while (/\s/.test(this.source[this.index] ?? "")) this.index++;
  }

  private fail(expected: string): never {
    const rest = this.source.slice(this.index, this.index + 20);
    const found = rest.length === 0 ? "the end of the rule" : `'${rest}${rest.length === 20 ? "…" : ""}'`;
    throw new CompositeRuleError(this.source, `expected ${expected}, found ${found}`, this.index + 1);
  }
}
