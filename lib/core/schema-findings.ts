// Turns a zod validation failure into findings a user can act on: each names the path
// (`rollout.steps[2].weight`), what was expected and what was found, and an unknown key or value comes
// with the nearest known one ("did you mean 'bakeSeconds'?"). Every issue becomes a finding, not the first.

import { z } from "zod";
import { CappedFindings } from "./capped-findings";
import type { Finding } from "./findings";
import { suggestNearest } from "./suggest";

type Issue = z.core.$ZodIssue;
type PathSegment = PropertyKey;

export interface FindingSource {
  /** Prefix of every finding's code: `manifest` → `manifest.unknown-key`. */
  readonly codePrefix: string;
  /** The file the input came from, for the findings' `file`. */
  readonly file?: string;
}

/**
 * One finding (or one per unknown key) for every issue of a failed `schema.safeParse(input)`, capped per kind
 * (a mapping of 10,000 unknown keys is a few findings and a count, not 10,000).
 */
export function findingsFromSchemaIssues(
  issues: readonly Issue[],
  input: unknown,
  schema: z.ZodType,
  source: FindingSource,
): Finding[] {
  const findings = new CappedFindings();
  for (const issue of issues) findings.addAll(findingsFromIssue(issue, [], input, schema, source));
  return findings.list();
}

/** `["rollout", "steps", 2, "weight"]` → `rollout.steps[2].weight`. */
export function formatPath(path: readonly PathSegment[]): string {
  let text = "";
  for (const segment of path) {
    if (typeof segment === "number") text += `[${segment}]`;
    else if (typeof segment === "string" && /^[A-Za-z_][A-Za-z0-9_]*$/.test(segment)) {
      text += text ? `.${segment}` : segment;
    } else text += `[${JSON.stringify(String(segment))}]`;
  }
  return text;
}

/** A value as a user would recognise it in their file: `'vlm'`, `42`, `a list of 3 items`. */
export function describeValue(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null";
  if (typeof value === "string") {
    const shown = value.length > 60 ? `${value.slice(0, 57)}...` : value;
    return `'${shown}'`;
  }
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (Array.isArray(value)) return `a list of ${value.length} item${value.length === 1 ? "" : "s"}`;
  if (typeof value === "object") return "a mapping";
  return typeof value;
}

function findingsFromIssue(
  issue: Issue,
  basePath: readonly PathSegment[],
  input: unknown,
  schema: z.ZodType,
  source: FindingSource,
): Finding[] {
  const path = [...basePath, ...issue.path];
  const found = valueAt(input, path);
  const finding = (kind: string, message: string, hint?: string, at = path): Finding => ({
    severity: "error",
    code: `${source.codePrefix}.${kind}`,
    message,
    ...(source.file === undefined ? {} : { file: source.file }),
    path: formatPath(at),
    ...(hint === undefined ? {} : { hint }),
  });

  switch (issue.code) {
    case "unrecognized_keys": {
      const known = knownKeysAt(schema, path);
      const where = path.length ? `under ${formatPath(path)}` : "at the top level";
      return issue.keys.map((key) => {
        const nearest = suggestNearest(key, known);
        const message = nearest
          ? `unknown key '${key}': did you mean '${nearest}'?`
          : `unknown key '${key}' is not a setting here.`;
        return finding("unknown-key", message, `The keys known ${where} are: ${known.join(", ")}.`, [
          ...path,
          key,
        ]);
      });
    }
    case "invalid_type": {
      const expected = describeExpectedType(issue.expected);
      if (found === undefined) return [finding("missing", `is required: expected ${expected}.`)];
      return [finding("invalid-type", `expected ${expected}, found ${describeValue(found)}.`)];
    }
    case "invalid_value": {
      const options = issue.values.map((v) => (typeof v === "string" ? `'${v}'` : String(v)));
      const nearest =
        typeof found === "string"
          ? suggestNearest(
              found,
              issue.values.filter((v): v is string => typeof v === "string"),
            )
          : undefined;
      const expected = options.length === 1 ? options[0] : `one of ${options.join(", ")}`;
      return [
        finding(
          "invalid-value",
          `expected ${expected}, found ${describeValue(found)}.`,
          nearest ? `Did you mean '${nearest}'?` : undefined,
        ),
      ];
    }
    case "too_small":
    case "too_big":
      return [finding(issue.code === "too_small" ? "too-small" : "too-big", describeBound(issue, found))];
    case "not_multiple_of":
      return [
        finding("invalid-value", `expected a multiple of ${issue.divisor}, found ${describeValue(found)}.`),
      ];
    case "invalid_format": {
      const isDefaultMessage = issue.message.startsWith("Invalid");
      const expected = isDefaultMessage ? `a ${issue.format}` : issue.message;
      return [finding("invalid-format", `expected ${expected}, found ${describeValue(found)}.`)];
    }
    case "invalid_union":
      return findingsFromUnion(issue, path, found, input, schema, source, finding);
    default:
      return [finding("invalid", `${issue.message}; found ${describeValue(found)}.`)];
  }
}

function findingsFromUnion(
  issue: Extract<Issue, { code: "invalid_union" }>,
  path: readonly PathSegment[],
  found: unknown,
  input: unknown,
  schema: z.ZodType,
  source: FindingSource,
  finding: (kind: string, message: string, hint?: string) => Finding,
): Finding[] {
  // A branch with issues below the union's own path matched the value's shape (an object step with a bad
  // weight): its issues are the real explanation. Otherwise the value fits no branch: list what would.
  const matching = issue.errors.filter((branch) => branch.some((i) => i.path.length > 0));
  const only = matching.length === 1 ? matching[0] : undefined;
  if (only) return only.flatMap((i) => findingsFromIssue(i, path, input, schema, source));
  const alternatives = issue.errors.flatMap((branch) =>
    branch.filter((i) => i.path.length === 0).map(describeBranchExpectation),
  );
  const expected = [...new Set(alternatives)].join(" or ");
  return [finding("invalid-type", `expected ${expected || "another value"}, found ${describeValue(found)}.`)];
}

function describeBranchExpectation(issue: Issue): string {
  if (issue.code === "invalid_type") return describeExpectedType(issue.expected);
  if (issue.code === "invalid_value") {
    return issue.values.map((v) => (typeof v === "string" ? `'${v}'` : String(v))).join(" or ");
  }
  return issue.message;
}

function describeExpectedType(expected: string): string {
  switch (expected) {
    case "number":
      return "a number";
    case "int":
      return "a whole number";
    case "string":
      return "text";
    case "boolean":
      return "true or false";
    case "array":
      return "a list";
    case "object":
    case "record":
      return "a mapping";
    case "nonoptional":
      return "a value";
    default:
      return expected;
  }
}

function describeBound(issue: Extract<Issue, { code: "too_small" | "too_big" }>, found: unknown): string {
  const small = issue.code === "too_small";
  const limit = small ? issue.minimum : issue.maximum;
  const inclusive = issue.inclusive ?? true;
  if (issue.origin === "array" || issue.origin === "set") {
    const count = Array.isArray(found) ? found.length : 0;
    return `expected ${small ? "at least" : "at most"} ${String(limit)} item${limit === 1 ? "" : "s"}, found ${count}.`;
  }
  if (issue.origin === "string") {
    return `expected ${small ? "at least" : "at most"} ${String(limit)} character${limit === 1 ? "" : "s"}, found ${describeValue(found)}.`;
  }
  const relation = small ? (inclusive ? "≥" : ">") : inclusive ? "≤" : "<";
  return `expected a number ${relation} ${String(limit)}, found ${describeValue(found)}.`;
}

function valueAt(input: unknown, path: readonly PathSegment[]): unknown {
  let value = input;
  for (const segment of path) {
    if (value === null || typeof value !== "object" || typeof segment === "symbol") return undefined;
    value = (value as Record<string | number, unknown>)[segment];
  }
  return value;
}

/** The keys the schema knows for the object at `path`, found by walking the schema like the input. */
function knownKeysAt(schema: z.ZodType, path: readonly PathSegment[]): string[] {
  let current: z.ZodType | undefined = schema;
  for (const segment of path) {
    current = current && childSchema(current, segment);
  }
  const object = current && findObject(current);
  return object ? Object.keys(object.shape) : [];
}

function childSchema(schema: z.ZodType, segment: PathSegment): z.ZodType | undefined {
  const inner = unwrap(schema);
  if (inner instanceof z.ZodArray) return inner.element as z.ZodType;
  if (inner instanceof z.ZodRecord) return inner.valueType as z.ZodType;
  const object = findObject(inner);
  if (object && typeof segment === "string") return object.shape[segment] as z.ZodType | undefined;
  return undefined;
}

function findObject(schema: z.ZodType): z.ZodObject | undefined {
  const inner = unwrap(schema);
  if (inner instanceof z.ZodObject) return inner;
  if (inner instanceof z.ZodUnion) {
    for (const option of inner.options as readonly z.ZodType[]) {
      const object = findObject(option);
      if (object) return object;
    }
  }
  return undefined;
}

function unwrap(schema: z.ZodType): z.ZodType {
  let current = schema;
  while (
    current instanceof z.ZodOptional ||
    current instanceof z.ZodNullable ||
    current instanceof z.ZodDefault
  ) {
    current = current.unwrap() as z.ZodType;
  }
  return current;
}

/** A finding of a rule beyond the schema's shapes (core/resolution/manifest-rules.ts, the hooks) at `path`. */
export function ruleFinding(
  source: FindingSource,
  kind: string,
  path: string,
  message: string,
  hint?: string,
): Finding {
  return {
    severity: "error",
    code: `${source.codePrefix}.${kind}`,
    message,
    ...(source.file === undefined ? {} : { file: source.file }),
    path,
    ...(hint === undefined ? {} : { hint }),
  };
}
