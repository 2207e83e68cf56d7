// PromQL templates from the stack config (canaryMetrics.prometheus.queries): `{{model}}`, `{{version}}` and
// `{{variant}}` stand for the version a query is about and may appear only inside quoted strings (label
// values), where each value is escaped for that string — and, inside a regular-expression matcher (`=~`,
// `!~`), escaped as a literal first, so a version like `v1.2` matches only itself; `{{window}}` stands for
// the probe window as a PromQL duration (`10s`) and may appear only outside strings, in a range `[…]`.
// A template is checked once, when the config is read (every problem named); rendering a checked template
// cannot produce a query that means something else than the template says.

export const PROMQL_PLACEHOLDERS = ["model", "version", "variant", "window"] as const;
type Placeholder = (typeof PROMQL_PLACEHOLDERS)[number];

export interface PromqlValues {
  readonly model: string;
  readonly version: string;
  readonly variant: string;
  readonly windowSeconds: number;
}

/** A PromQL query is a line of a few hundred characters; a template far longer is a mistake. */
const MAX_TEMPLATE_CHARS = 4096;
const PLACEHOLDER = /^\{\{([^{}]*)\}\}/;
/** RE2's metacharacters: a value inside a regex matcher must match itself only. */
const REGEX_METACHARACTERS = /[\\.+*?()|[\]{}^$]/g;

interface Piece {
  readonly text?: string;
  readonly placeholder?: Placeholder;
  /** Where the placeholder is: outside strings, or inside one quoted by `quote` (regex: of a =~ or !~). */
  readonly quote?: '"' | "'" | "`";
  readonly regex?: boolean;
}

/** The problems of a template, each a sentence; empty when it can be rendered safely. */
export function promqlTemplateProblems(template: string): string[] {
  const scanned = scan(template);
  if ("problem" in scanned) return [scanned.problem];
  const problems: string[] = [];
  for (const piece of scanned.pieces) {
    const name = piece.placeholder;
    if (name === undefined) continue;
    if (name === "window" && piece.quote !== undefined) {
      problems.push("{{window}} is a duration: write it in a range outside quotes, e.g. [{{window}}]");
    } else if (name !== "window" && piece.quote === undefined) {
      problems.push(
        `{{${name}}} must be inside a quoted label value, e.g. {model_name="{{${name}}}"}, where it is escaped; outside quotes it could change the query`,
      );
    } else if (piece.quote === "`") {
      problems.push(
        `{{${name}}} is inside a \`raw\` string, which cannot escape anything: use double quotes`,
      );
    }
  }
  return problems;
}

/** The query for one version and window; throws a RangeError naming the problem for an unchecked template. */
export function renderPromql(template: string, values: PromqlValues): string {
  const problems = promqlTemplateProblems(template);
  if (problems.length > 0) throw new RangeError(`PromQL template refused: ${problems.join("; ")}.`);
  const scanned = scan(template);
  if ("problem" in scanned) throw new RangeError(scanned.problem);
  return scanned.pieces
    .map((piece) => {
      if (piece.placeholder === undefined) return piece.text ?? "";
      if (piece.placeholder === "window") return `${Math.max(1, Math.round(values.windowSeconds))}s`;
      const raw = values[piece.placeholder];
      const literal = piece.regex ? raw.replace(REGEX_METACHARACTERS, "\\$&") : raw;
      return escapeForString(literal, piece.quote === "'" ? "'" : '"');
    })
    .join("");
}

/** Go-style escaping of a PromQL string literal's content. */
function escapeForString(value: string, quote: '"' | "'"): string {
  return value.replace(/[\\"'\n\r\t]/g, (char) => {
    if (char === "\n") return "\\n";
    if (char === "\r") return "\\r";
    if (char === "\t") return "\\t";
    if (char === "\\") return "\\\\";
    return char === quote ? `\\${char}` : char;
  });
}

/** The template in pieces: text, and each placeholder with where it stands. */
function scan(template: string): { readonly pieces: Piece[] } | { readonly problem: string } {
  if (template.trim() === "") return { problem: "the query is empty" };
  if (template.length > MAX_TEMPLATE_CHARS) {
    return {
      problem: `the query has ${template.length} characters; at most ${MAX_TEMPLATE_CHARS} are accepted`,
    };
  }
  const pieces: Piece[] = [];
  let text = "";
  let quote: '"' | "'" | "`" | undefined;
  let regex = false;
  for (let i = 0; i < template.length;) {
    const char = template[i] as string;
    const placeholder = PLACEHOLDER.exec(template.slice(i));
    if (placeholder) {
      const name = (placeholder[1] ?? "").trim();
      const known = PROMQL_PLACEHOLDERS.find((p) => p === name);
      if (!known) {
        return {
          problem: `{{${name}}} is not a placeholder modelship fills in; use ${PROMQL_PLACEHOLDERS.map((p) => `{{${p}}}`).join(", ")}`,
        };
      }
      if (text) pieces.push({ text });
      text = "";
      pieces.push({ placeholder: known, ...(quote ? { quote, regex } : {}) });
      i += placeholder[0].length;
      continue;
    }
    text += char;
    i++;
    if (quote) {
      if (char === "\\" && quote !== "`" && i < template.length) {
        text += template[i];
        i++;
      } else if (char === quote) {
        quote = undefined;
      }
      continue;
    }
    if (char === '"' || char === "'" || char === "`") {
      quote = char;
      regex = /[=!]~\s*.$/.test(template.slice(0, i));
    }
  }
  if (quote) return { problem: `a string opened with ${quote} is never closed` };
  if (text) pieces.push({ text });
  return { pieces };
}
