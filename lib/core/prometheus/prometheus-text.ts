// A reader of the Prometheus text exposition format (version 0.0.4, and the OpenMetrics lines a server may
// add: `# EOF`, exemplars) for the few metric families modelship reads from a serving pod's `/metrics`. The
// pod is not trusted to be small or well-formed, so everything is capped: the text's length, each line's
// length and the samples kept; a sample of a family nobody asked for is skipped without being stored. A
// malformed line of a kept family is an ExpositionInvalid naming the line; other families' lines are only
// checked as far as needed to tell which family they belong to.
//
// Worst case: O(maxChars) time and, besides the text itself, O(maxSamples) kept samples (each with at most
// MAX_LABELS labels of at most maxLineChars characters).
//
// Written here rather than taken from `parse-prometheus-text-format` or `prom-client`: the first parses every
// family of the whole text into objects with no cap on anything, the second is a registry for exporting
// metrics and has no parser; neither runs in lib/core without I/O or bounds what a hostile pod can make it
// allocate.

export interface PromSample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface ExpositionLimits {
  /** Characters of text read (the adapter caps the bytes it reads to about this much). */
  readonly maxChars: number;
  /** Characters of one line. */
  readonly maxLineChars: number;
  /** Samples kept (of the families asked for). */
  readonly maxSamples: number;
}

/** 4 MiB of text: vLLM's `/metrics` is a few hundred kilobytes even with several engines. */
export const DEFAULT_EXPOSITION_LIMITS: ExpositionLimits = {
  maxChars: 4 * 1024 * 1024,
  maxLineChars: 16 * 1024,
  maxSamples: 20_000,
};

/** Labels one sample may carry; vLLM's have two or three, its info gauges a few dozen. */
const MAX_LABELS = 64;
const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;

export class ExpositionInvalid extends Error {
  override readonly name = "ExpositionInvalid";

  constructor(
    detail: string,
    /** 1-based line number, when the problem is on a line. */
    readonly line?: number,
  ) {
    super(line === undefined ? detail : `line ${line}: ${detail}`);
  }
}

/**
 * The samples of the families `keep` accepts (by sample name, e.g. `vllm:e2e_request_latency_seconds_bucket`),
 * in text order. Throws ExpositionInvalid for a text over the limits or a malformed line of a kept family.
 */
export function parsePrometheusText(
  text: string,
  keep: (name: string) => boolean,
  limits: ExpositionLimits = DEFAULT_EXPOSITION_LIMITS,
): PromSample[] {
  if (text.length > limits.maxChars) {
    throw new ExpositionInvalid(
      `the text has ${text.length} characters; at most ${limits.maxChars} are read`,
    );
  }
  const samples: PromSample[] = [];
  let lineNumber = 0;
  let start = 0;
  while (start <= text.length) {
    const end = text.indexOf("\n", start);
    const stop = end === -1 ? text.length : end;
    lineNumber++;
    if (stop - start > limits.maxLineChars) {
      throw new ExpositionInvalid(
        `the line has ${stop - start} characters; at most ${limits.maxLineChars}`,
        lineNumber,
      );
    }
    const line = text.slice(start, stop).replace(/\r$/, "").trim();
    start = stop + 1;
    if (line === "") {
      if (end === -1) break;
      continue;
    }
    if (line.startsWith("#")) {
      if (line === "# EOF") break;
      if (end === -1) break;
      continue;
    }
    const name = NAME.exec(line)?.[0];
    if (name === undefined)
      throw new ExpositionInvalid(`expected a metric name, found '${preview(line)}'`, lineNumber);
    if (keep(name)) {
      if (samples.length >= limits.maxSamples) {
        throw new ExpositionInvalid(
          `more than ${limits.maxSamples} samples of the metrics read; a serving pod exposes far fewer`,
          lineNumber,
        );
      }
      samples.push(parseSample(line, name, lineNumber));
    }
    if (end === -1) break;
  }
  return samples;
}

/** `name{label="value",…} value [timestamp] [# exemplar]` */
function parseSample(line: string, name: string, lineNumber: number): PromSample {
  let position = name.length;
  const labels: Record<string, string> = {};
  if (line[position] === "{") {
    position = parseLabels(line, position + 1, labels, lineNumber);
  }
  const rest = line.slice(position).trim();
  const [valueText, timestamp, ...after] = rest.split(/\s+/);
  if (valueText === undefined || valueText === "") {
    throw new ExpositionInvalid(`${name} has no value`, lineNumber);
  }
  const value = parseValue(valueText);
  if (value === undefined) {
    throw new ExpositionInvalid(
      `${name} has value '${preview(valueText)}', expected a number, +Inf, -Inf or NaN`,
      lineNumber,
    );
  }
  // An OpenMetrics exemplar (`# {…} 1.0`) may follow; anything else after the timestamp is wrong.
  if (timestamp !== undefined && timestamp !== "#" && !/^-?\d+(\.\d+)?$/.test(timestamp)) {
    throw new ExpositionInvalid(
      `${name} has '${preview(timestamp)}' where a timestamp or the line's end belongs`,
      lineNumber,
    );
  }
  if (timestamp !== undefined && timestamp !== "#" && after.length > 0 && after[0] !== "#") {
    throw new ExpositionInvalid(`${name} has '${preview(after.join(" "))}' after its timestamp`, lineNumber);
  }
  return { name, labels, value };
}

/** Reads `label="value",…}` from `position`; returns the position after `}`. */
function parseLabels(
  line: string,
  position: number,
  labels: Record<string, string>,
  lineNumber: number,
): number {
  let count = 0;
  for (;;) {
    while (line[position] === " " || line[position] === "\t") position++;
    if (line[position] === "}") return position + 1;
    const label = LABEL_NAME.exec(line.slice(position, position + 1024))?.[0];
    if (label === undefined)
      throw new ExpositionInvalid(`expected a label name at column ${position + 1}`, lineNumber);
    position += label.length;
    while (line[position] === " ") position++;
    if (line[position] !== "=") throw new ExpositionInvalid(`expected ="…" after label ${label}`, lineNumber);
    position++;
    while (line[position] === " ") position++;
    if (line[position] !== '"') throw new ExpositionInvalid(`expected ="…" after label ${label}`, lineNumber);
    position++;
    let value = "";
    for (;;) {
      const char = line[position];
      if (char === undefined)
        throw new ExpositionInvalid(`the value of label ${label} is never closed`, lineNumber);
      position++;
      if (char === '"') break;
      if (char === "\\") {
        const escaped = line[position];
        position++;
        if (escaped === "n") value += "\n";
        else if (escaped === "\\" || escaped === '"') value += escaped;
        else
          throw new ExpositionInvalid(`label ${label} has an unknown escape \\${escaped ?? ""}`, lineNumber);
      } else {
        value += char;
      }
    }
    if (Object.hasOwn(labels, label)) throw new ExpositionInvalid(`label ${label} appears twice`, lineNumber);
    if (++count > MAX_LABELS) throw new ExpositionInvalid(`more than ${MAX_LABELS} labels`, lineNumber);
    Object.defineProperty(labels, label, { value, enumerable: true, writable: false, configurable: false });
    while (line[position] === " ") position++;
    if (line[position] === ",") position++;
    else if (line[position] !== "}")
      throw new ExpositionInvalid(`expected ',' or '}' after label ${label}`, lineNumber);
  }
}

/** A sample value as Go's ParseFloat reads it (the format's reference), or undefined. */
export function parseValue(text: string): number | undefined {
  if (/^[+]?inf$/i.test(text) || /^\+?Inf$/.test(text)) return Number.POSITIVE_INFINITY;
  if (/^-inf$/i.test(text)) return Number.NEGATIVE_INFINITY;
  if (/^nan$/i.test(text)) return Number.NaN;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) return undefined;
  return Number(text);
}

function preview(text: string): string {
  return text.length > 60 ? `${text.slice(0, 60)}…` : text;
}
