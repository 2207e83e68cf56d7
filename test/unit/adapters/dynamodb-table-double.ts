// A small in-memory DynamoDB table for aws-sdk-client-mock: Get, Put, Update, Delete, TransactWrite, Query
// and Scan on `pk`/`sk` items, with the condition, key-condition, filter and update expressions the rollout
// store sends evaluated here — so the store's conditional logic is exercised against real semantics
// (all-or-nothing transactions, conditions on the old item, paginated scans), not assumed.

import { ConditionalCheckFailedException, TransactionCanceledException } from "@aws-sdk/client-dynamodb";
import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  ScanCommand,
  TransactWriteCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import type { AwsClientStub } from "aws-sdk-client-mock";

type Item = Record<string, unknown>;
type Names = Record<string, string> | undefined;
type Values = Record<string, unknown> | undefined;

interface Conditional {
  readonly ConditionExpression?: string;
  readonly ExpressionAttributeNames?: Names;
  readonly ExpressionAttributeValues?: Values;
}

export class DynamoTableDouble {
  private readonly items = new Map<string, Item>();

  /** `scanPageSize`: items a Scan examines per page, small so that pagination is exercised. */
  constructor(
    readonly tableName: string,
    private readonly scanPageSize = 2,
  ) {}

  /** Makes the mocked client answer from this table. */
  answer(mock: AwsClientStub<DynamoDBDocumentClient>): void {
    mock.on(GetCommand).callsFake((input: GetCommand["input"]) => this.get(input));
    mock.on(PutCommand).callsFake((input: PutCommand["input"]) => this.put(input));
    mock.on(UpdateCommand).callsFake((input: UpdateCommand["input"]) => this.update(input));
    mock.on(DeleteCommand).callsFake((input: DeleteCommand["input"]) => this.delete(input));
    mock.on(TransactWriteCommand).callsFake((input: TransactWriteCommand["input"]) => this.transact(input));
    mock.on(QueryCommand).callsFake((input: QueryCommand["input"]) => this.query(input));
    mock.on(ScanCommand).callsFake((input: ScanCommand["input"]) => this.scan(input));
  }

  /** Puts an item as it is, for a state the store could only reach with time passing. */
  seed(item: Item): void {
    this.items.set(keyOf(item), structuredClone(item));
  }

  /** Every item, for assertions on what the store wrote. */
  all(): Item[] {
    return [...this.items.values()].map((item) => structuredClone(item));
  }

  private get(input: GetCommand["input"]) {
    this.checkTable(input.TableName);
    const item = this.items.get(keyOf(input.Key as Item));
    return { Item: item && structuredClone(item) };
  }

  private put(input: PutCommand["input"]) {
    this.checkTable(input.TableName);
    const item = input.Item as Item;
    if (!this.conditionHolds(input, this.items.get(keyOf(item)))) throw conditionFailed();
    this.items.set(keyOf(item), structuredClone(item));
    return {};
  }

  private update(input: UpdateCommand["input"]) {
    this.checkTable(input.TableName);
    const key = input.Key as Item;
    const old = this.items.get(keyOf(key));
    if (!this.conditionHolds(input, old)) throw conditionFailed();
    this.items.set(keyOf(key), this.updated(input, key, old));
    return {};
  }

  private delete(input: DeleteCommand["input"]) {
    this.checkTable(input.TableName);
    const key = input.Key as Item;
    if (!this.conditionHolds(input, this.items.get(keyOf(key)))) throw conditionFailed();
    this.items.delete(keyOf(key));
    return {};
  }

  private transact(input: TransactWriteCommand["input"]) {
    const writes = (input.TransactItems ?? []).map((entry) => {
      if (entry.Put) {
        this.checkTable(entry.Put.TableName);
        const item = entry.Put.Item as Item;
        return {
          entry: entry.Put,
          old: this.items.get(keyOf(item)),
          key: item,
          next: () => structuredClone(item),
        };
      }
      if (entry.Update) {
        const update = entry.Update;
        this.checkTable(update.TableName);
        const key = update.Key as Item;
        const old = this.items.get(keyOf(key));
        return { entry: update, old, key, next: () => this.updated(update, key, old) };
      }
      throw new Error(`The table double does not emulate ${Object.keys(entry).join(", ")} in a transaction.`);
    });
    const reasons = writes.map(({ entry, old }) =>
      this.conditionHolds(entry, old) ? { Code: "None" } : { Code: "ConditionalCheckFailed" },
    );
    if (reasons.some((r) => r.Code !== "None")) {
      throw new TransactionCanceledException({
        message: "Transaction cancelled, please refer cancellation reasons for specific reasons",
        $metadata: { httpStatusCode: 400 },
        CancellationReasons: reasons,
      });
    }
    for (const { key, next } of writes) this.items.set(keyOf(key), next());
    return {};
  }

  private query(input: QueryCommand["input"]) {
    this.checkTable(input.TableName);
    const matches = compileCondition(
      input.KeyConditionExpression ?? "",
      input.ExpressionAttributeNames,
      input.ExpressionAttributeValues,
    );
    let items = this.sorted().filter((item) => matches(item));
    if (input.ScanIndexForward === false) items.reverse();
    if (input.Limit !== undefined) items = items.slice(0, input.Limit);
    return { Items: items.map((item) => structuredClone(item)) };
  }

  private scan(input: ScanCommand["input"]) {
    this.checkTable(input.TableName);
    const all = this.sorted();
    const start = input.ExclusiveStartKey
      ? all.findIndex((item) => keyOf(item) === keyOf(input.ExclusiveStartKey as Item)) + 1
      : 0;
    const page = all.slice(start, start + this.scanPageSize);
    const filter = input.FilterExpression
      ? compileCondition(
          input.FilterExpression,
          input.ExpressionAttributeNames,
          input.ExpressionAttributeValues,
        )
      : () => true;
    const last = page.at(-1);
    return {
      Items: page.filter((item) => filter(item)).map((item) => structuredClone(item)),
      LastEvaluatedKey:
        start + this.scanPageSize < all.length && last ? { pk: last.pk, sk: last.sk } : undefined,
    };
  }

  private sorted(): Item[] {
    return [...this.items.values()].sort((a, b) => compare(keyOf(a), keyOf(b)));
  }

  private conditionHolds(entry: Conditional, old: Item | undefined): boolean {
    if (!entry.ConditionExpression) return true;
    const holds = compileCondition(
      entry.ConditionExpression,
      entry.ExpressionAttributeNames,
      entry.ExpressionAttributeValues,
    );
    return holds(old ?? {});
  }

  private updated(input: UpdateCommand["input"], key: Item, old: Item | undefined): Item {
    const apply = compileUpdate(
      input.UpdateExpression ?? "",
      input.ExpressionAttributeNames,
      input.ExpressionAttributeValues,
    );
    return apply(old ?? { ...key });
  }

  private checkTable(tableName: string | undefined): void {
    if (tableName !== this.tableName) throw new Error(`Expected table ${this.tableName}, got ${tableName}.`);
  }
}

function keyOf(item: Item): string {
  return `${String(item.pk)}\u0000${String(item.sk)}`;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function conditionFailed(): ConditionalCheckFailedException {
  return new ConditionalCheckFailedException({
    message: "The conditional request failed",
    $metadata: { httpStatusCode: 400 },
  });
}

// ── Expressions: a recursive-descent parser for the subset the store uses ───────────────────────────────

type Evaluate = (item: Item) => unknown;

function tokenize(expression: string): string[] {
  const tokens: string[] = [];
  const pattern = /\s*(#\w+|:\w+|[A-Za-z_]\w*|<>|<=|>=|[=<>(),.])/y;
  let match: RegExpExecArray | null;
  while (pattern.lastIndex < expression.trimEnd().length && (match = pattern.exec(expression))) {
    tokens.push(match[1] as string);
  }
  if (pattern.lastIndex < expression.trimEnd().length) {
    throw new Error(`Cannot read the expression "${expression}" at ${pattern.lastIndex}.`);
  }
  return tokens;
}

class ExpressionParser {
  private position = 0;

  constructor(
    private readonly tokens: readonly string[],
    private readonly names: Names,
    private readonly values: Values,
  ) {}

  done(): boolean {
    return this.position >= this.tokens.length;
  }

  peek(): string | undefined {
    return this.tokens[this.position];
  }

  next(): string {
    const token = this.tokens[this.position++];
    if (token === undefined) throw new Error("The expression ends too early.");
    return token;
  }

  expect(token: string): void {
    const found = this.next();
    if (found.toUpperCase() !== token.toUpperCase()) throw new Error(`Expected ${token}, found ${found}.`);
  }

  condition(): (item: Item) => boolean {
    let left = this.conjunction();
    while (this.peek()?.toUpperCase() === "OR") {
      this.next();
      const [a, b] = [left, this.conjunction()];
      left = (item) => a(item) || b(item);
    }
    return left;
  }

  private conjunction(): (item: Item) => boolean {
    let left = this.unary();
    while (this.peek()?.toUpperCase() === "AND") {
      this.next();
      const [a, b] = [left, this.unary()];
      left = (item) => a(item) && b(item);
    }
    return left;
  }

  private unary(): (item: Item) => boolean {
    const token = this.peek();
    if (token?.toUpperCase() === "NOT") {
      this.next();
      const inner = this.unary();
      return (item) => !inner(item);
    }
    if (token === "(") {
      this.next();
      const inner = this.condition();
      this.expect(")");
      return inner;
    }
    if (token === "attribute_exists" || token === "attribute_not_exists") {
      this.next();
      this.expect("(");
      const path = this.path();
      this.expect(")");
      return token === "attribute_exists"
        ? (item) => path(item) !== undefined
        : (item) => path(item) === undefined;
    }
    if (token === "begins_with") {
      this.next();
      this.expect("(");
      const path = this.path();
      this.expect(",");
      const prefix = this.operand();
      this.expect(")");
      return (item) => {
        const [value, start] = [path(item), prefix(item)];
        return typeof value === "string" && typeof start === "string" && value.startsWith(start);
      };
    }
    return this.comparison();
  }

  private comparison(): (item: Item) => boolean {
    const left = this.operand();
    const operator = this.next();
    const right = this.operand();
    const comparisons: Record<string, (a: never, b: never) => boolean> = {
      "=": (a, b) => JSON.stringify(a) === JSON.stringify(b),
      "<>": (a, b) => JSON.stringify(a) !== JSON.stringify(b),
      "<": (a, b) => a < b,
      "<=": (a, b) => a <= b,
      ">": (a, b) => a > b,
      ">=": (a, b) => a >= b,
    };
    const compareWith = comparisons[operator];
    if (!compareWith) throw new Error(`Unknown comparison ${operator}.`);
    return (item) => {
      const [a, b] = [left(item), right(item)];
      // DynamoDB: a comparison with a missing attribute is false, whatever the operator.
      if (a === undefined || b === undefined) return false;
      return compareWith(a as never, b as never);
    };
  }

  operand(): Evaluate {
    const token = this.peek();
    if (token?.startsWith(":")) {
      this.next();
      if (!this.values || !(token in this.values))
        throw new Error(`${token} is not in ExpressionAttributeValues.`);
      const value = this.values[token];
      return () => value;
    }
    return this.path();
  }

  pathNames(): string[] {
    const names = [this.name()];
    while (this.peek() === ".") {
      this.next();
      names.push(this.name());
    }
    return names;
  }

  private path(): Evaluate {
    const names = this.pathNames();
    return (item) =>
      names.reduce<unknown>(
        (value, name) => (value && typeof value === "object" ? (value as Item)[name] : undefined),
        item,
      );
  }

  private name(): string {
    const token = this.next();
    if (!token.startsWith("#")) throw new Error(`Use a #placeholder for attribute names, found ${token}.`);
    const name = this.names?.[token];
    if (name === undefined) throw new Error(`${token} is not in ExpressionAttributeNames.`);
    return name;
  }
}

function compileCondition(expression: string, names: Names, values: Values): (item: Item) => boolean {
  const parser = new ExpressionParser(tokenize(expression), names, values);
  const condition = parser.condition();
  if (!parser.done()) throw new Error(`Unexpected "${parser.peek()}" in "${expression}".`);
  return condition;
}

/** SET path = operand | if_not_exists(path, operand), …  REMOVE path, …  — evaluated on the old item. */
function compileUpdate(expression: string, names: Names, values: Values): (item: Item) => Item {
  const parser = new ExpressionParser(tokenize(expression), names, values);
  const actions: ((old: Item, next: Item) => void)[] = [];
  while (!parser.done()) {
    const clause = parser.next().toUpperCase();
    do {
      if (parser.peek() === ",") parser.next();
      const path = parser.pathNames();
      if (clause === "REMOVE") {
        actions.push((_old, next) => removeAt(next, path));
      } else if (clause === "SET") {
        parser.expect("=");
        let value: Evaluate;
        if (parser.peek() === "if_not_exists") {
          parser.next();
          parser.expect("(");
          const existing = parser.pathNames();
          parser.expect(",");
          const fallback = parser.operand();
          parser.expect(")");
          value = (old) => valueAt(old, existing) ?? fallback(old);
        } else {
          value = parser.operand();
        }
        actions.push((old, next) => setAt(next, path, structuredClone(value(old))));
      } else {
        throw new Error(`The table double does not emulate the ${clause} clause.`);
      }
    } while (parser.peek() === ",");
  }
  return (old) => {
    const next = structuredClone(old);
    for (const action of actions) action(old, next);
    return next;
  };
}

function valueAt(item: Item, path: readonly string[]): unknown {
  return path.reduce<unknown>(
    (v, name) => (v && typeof v === "object" ? (v as Item)[name] : undefined),
    item,
  );
}

function setAt(item: Item, path: readonly string[], value: unknown): void {
  const parent = valueAt(item, path.slice(0, -1)) as Item;
  parent[path.at(-1) as string] = value;
}

function removeAt(item: Item, path: readonly string[]): void {
  const parent = valueAt(item, path.slice(0, -1));
  if (parent && typeof parent === "object") delete (parent as Item)[path.at(-1) as string];
}
