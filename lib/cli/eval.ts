// `modelship eval <base-url> --model <name> --suite <file.jsonl | sanity> …`: the eval runner on its own,
// against any OpenAI-compatible endpoint. Prints each suite's accuracy with its Wilson 95% interval and,
// with --compare (a stable version's `--json` output), the paired comparison and the gate's verdict. Items
// that got no answer (the server refused them, failed or timed out) are counted apart from wrong answers, by
// kind; a suite with more of them than --max-errors allows could not be evaluated, and says so.
// Exit codes: 0 done (and the gate passed, when one applies); 1 a suite or results file is bad (every
// finding printed), the endpoint cannot be reached, a suite could not be evaluated, or the gate failed;
// 2 usage error.

import { readFile } from "node:fs/promises";
import { basename } from "node:path";
import {
  checkUnanswered,
  decideSuiteGate,
  type SuiteGateVerdict,
  type UnansweredCheck,
} from "../core/eval/eval-gate";
import {
  type ItemResult,
  type SuiteOutcomes,
  type SuiteReport,
  suiteOutcomes,
} from "../core/eval/eval-results";
import { mergeShardDetails } from "../core/eval/merge-shards";
import { comparePaired, type PairedComparison } from "../core/eval/paired-comparison";
import { SANITY_SUITE, SANITY_SUITE_NAME } from "../core/eval/sanity-suite";
import { type SuiteItem, DEFAULT_MAX_TOKENS } from "../core/eval/suite-item";
import { parseSuite } from "../core/eval/suite-parser";
import { readStoredOutcomes } from "../core/eval/stored-outcomes";
import { describeKinds, unansweredByKind } from "../core/eval/unanswered-items";
import { DEFAULT_STACK_CONFIG } from "../core/config/config";
import { type Finding, formatFinding, sortFindings } from "../core/findings";
import { checkEndpoint } from "../eval/endpoint-check";
import { DEFAULT_CONCURRENCY, DEFAULT_ITEM_TIMEOUT_MS, runEvalItems } from "../eval/run-eval";
import type { Endpoint } from "../ports";
import { parseCommandLine } from "./command-line";
import { UsageError } from "./cli-command";

const DEFAULT_MAX_REGRESSION = 0.02;
const DEFAULT_MAX_ERRORS = DEFAULT_STACK_CONFIG.defaults.gates.eval.maxErrorRate;
/** The gate's cap on max_tokens may not exceed this (the manifest's gates.eval.maxTokens has the same bound). */
const MAX_MAX_TOKENS = 32_768;

const USAGE = `Usage: modelship eval <base-url> --model <name> --suite <file.jsonl | sanity> [--suite …]
                      [--max-tokens N] [--max-errors ${DEFAULT_MAX_ERRORS * 100}%]
                      [--concurrency ${DEFAULT_CONCURRENCY}] [--timeout ${DEFAULT_ITEM_TIMEOUT_MS / 1000}] [--json]
                      [--compare stable-results.json] [--min-score 0] [--max-regression ${DEFAULT_MAX_REGRESSION}]

Runs eval suites against an OpenAI-compatible server (<base-url>/v1/chat/completions, or /v1/completions
for plain prompts) at temperature 0, and prints each suite's accuracy with its Wilson 95% interval.
A suite is a JSONL file (one item per line: id, messages or prompt, choices, answer, scorer) or the
built-in 'sanity' suite. See docs/evals.md.

Options:
  --model <name>          the model name to send (as the server lists it in /v1/models)
  --suite <file|sanity>   a suite to run; repeat for several
  --max-tokens <n>        caps every item's max_tokens (default: each item's own, else ${DEFAULT_MAX_TOKENS}); a
                          small context needs a small cap
  --max-errors <share>    the largest share of a suite's items that may get no answer, as 10% or 0.1
                          (default ${DEFAULT_MAX_ERRORS * 100}%): past it the suite could not be evaluated (exit 1)
  --concurrency <n>       items in flight at once (default ${DEFAULT_CONCURRENCY})
  --timeout <seconds>     time limit of one attempt at one item (default ${DEFAULT_ITEM_TIMEOUT_MS / 1000})
  --compare <file>        a stable version's results (this command's --json output): compare item by item
                          and apply the gate
  --min-score <0..1>      the gate's minimum accuracy (default 0)
  --max-regression <0..1> the gate's allowed drop against stable (default ${DEFAULT_MAX_REGRESSION})
  --json                  print the full results as JSON (keep it to --compare a later run with)
  -h, --help              show this help

Exit codes: 0 done (gate passed, if --compare or --min-score); 1 a bad suite or results file, an
unreachable endpoint, a suite that could not be evaluated, or a failed gate; 2 usage error.`;

interface Settings {
  readonly endpoint: Endpoint;
  readonly suites: readonly string[];
  readonly concurrency: number;
  readonly timeoutMs: number;
  /** Caps every item's max_tokens; undefined: each item's own. */
  readonly maxTokens?: number;
  readonly maxErrorRate: number;
  readonly json: boolean;
  readonly compare?: string;
  readonly minScore?: number;
  readonly maxRegression: number;
}

interface LoadedSuite {
  readonly name: string;
  readonly items: readonly SuiteItem[];
}

interface SuiteRun {
  readonly report: SuiteReport;
  readonly outcomes: SuiteOutcomes;
  readonly unanswered: UnansweredCheck;
  readonly comparison?: PairedComparison;
  readonly stableMissing: boolean;
  readonly gate?: SuiteGateVerdict;
}

export async function run(argv: string[]): Promise<number> {
  let settings: Settings;
  let suites: LoadedSuite[];
  let stable: readonly SuiteOutcomes[] | undefined;
  try {
    const read = readSettings(argv);
    if (read === "help") {
      console.log(USAGE);
      return 0;
    }
    settings = read;
    const loaded = await loadSuites(settings.suites);
    const compared = settings.compare === undefined ? undefined : await loadStable(settings.compare);
    const findings = [...loaded.findings, ...(compared?.findings ?? [])];
    if (findings.some((f) => f.severity === "error")) {
      printFindings(findings);
      return 1;
    }
    if (findings.length > 0) printFindings(findings);
    suites = loaded.suites;
    stable = compared?.outcomes;
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`modelship eval: ${(error as Error).message}\n\n${USAGE}`);
      return 2;
    }
    throw error;
  }

  const reach = await checkEndpoint(settings.endpoint);
  if (!reach.reachable) {
    console.error(`modelship eval: cannot reach the endpoint: ${reach.reason}`);
    console.error("Hint: check the URL and that the server is running (try curl <base-url>/v1/models).");
    return 1;
  }
  if (reach.models && reach.models.length > 0 && !reach.models.includes(settings.endpoint.servedName)) {
    console.error(
      `modelship eval: warning: the server lists ${reach.models.map((m) => `'${m}'`).join(", ")}, not '${settings.endpoint.servedName}'.`,
    );
  }

  const runs: SuiteRun[] = [];
  for (const suite of suites) {
    const result = await runEvalItems(suite.items, settings.endpoint, {
      suite: suite.name,
      concurrency: settings.concurrency,
      timeoutMs: settings.timeoutMs,
      ...(settings.maxTokens === undefined ? {} : { maxTokens: settings.maxTokens }),
      onItem: progress(suite.name),
    });
    clearProgress();
    runs.push(judge(mergeShardDetails([result.detail]), settings, stable));
  }
  console.log(
    settings.json ? JSON.stringify(jsonReport(settings, runs), null, 2) : humanReport(settings, runs),
  );
  const notEvaluated = runs.filter((r) => r.unanswered.tooMany);
  for (const run of notEvaluated) console.error(notEvaluatedMessage(run, settings));
  return notEvaluated.length > 0 || runs.some((r) => r.gate && !r.gate.pass) ? 1 : 0;
}

/** Why a suite could not be evaluated, and what to do about it: `✖ …` then a hint. */
function notEvaluatedMessage({ report, unanswered }: SuiteRun, settings: Settings): string {
  const kinds = unansweredByKind(report.items);
  const refused = Object.keys(kinds)[0] === "HTTP 400";
  const hint = refused
    ? `the server refused them (HTTP 400): when a prompt and its max_tokens do not fit the model's context, lower --max-tokens${settings.maxTokens === undefined ? ` (items ask for up to ${DEFAULT_MAX_TOKENS} tokens unless they set their own)` : ""}.`
    : "each item's error is in the table above (all of them with --json): make the server answer, or raise --timeout.";
  return (
    `✖ ${report.score.suite} could not be evaluated: ${unanswered.count} of ${unanswered.items} items got no answer (${describeKinds(kinds)}), ` +
    `more than --max-errors ${percent(unanswered.maxErrorRate)} allows.\n  Hint: ${hint} Raise --max-errors only if some failures are expected.`
  );
}

function readSettings(argv: string[]): Settings | "help" {
  const { values, positionals } = parseCommandLine({
    args: argv,
    options: {
      model: { type: "string" },
      suite: { type: "string", multiple: true },
      concurrency: { type: "string" },
      timeout: { type: "string" },
      "max-tokens": { type: "string" },
      "max-errors": { type: "string" },
      compare: { type: "string" },
      "min-score": { type: "string" },
      "max-regression": { type: "string" },
      json: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
    allowPositionals: true,
    strict: true,
  });
  if (values.help) return "help";
  if (positionals.length !== 1) {
    throw new UsageError(
      positionals.length === 0 ? "give the server's base URL." : "give exactly one base URL.",
    );
  }
  if (!values.model) throw new UsageError("give the model name with --model (as /v1/models lists it).");
  const suites = values.suite ?? [];
  if (suites.length === 0)
    throw new UsageError(`give a suite with --suite <file.jsonl> or --suite ${SANITY_SUITE_NAME}.`);
  const minScore =
    values["min-score"] === undefined ? undefined : fraction("--min-score", values["min-score"]);
  return {
    endpoint: { baseUrl: baseUrlOf(positionals[0]!), headers: {}, servedName: values.model },
    suites,
    concurrency: wholeNumber("--concurrency", values.concurrency, DEFAULT_CONCURRENCY, 256),
    timeoutMs: seconds("--timeout", values.timeout, DEFAULT_ITEM_TIMEOUT_MS),
    ...(values["max-tokens"] === undefined
      ? {}
      : { maxTokens: wholeNumber("--max-tokens", values["max-tokens"], DEFAULT_MAX_TOKENS, MAX_MAX_TOKENS) }),
    maxErrorRate:
      values["max-errors"] === undefined ? DEFAULT_MAX_ERRORS : share("--max-errors", values["max-errors"]),
    json: values.json,
    ...(values.compare === undefined ? {} : { compare: values.compare }),
    ...(minScore === undefined ? {} : { minScore }),
    maxRegression:
      values["max-regression"] === undefined
        ? DEFAULT_MAX_REGRESSION
        : fraction("--max-regression", values["max-regression"]),
  };
}

/** `http://host:8000`, `http://host:8000/` and `http://host:8000/v1` all mean `http://host:8000/v1`. */
function baseUrlOf(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`'${text}' is not a URL; write e.g. http://localhost:8000.`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new UsageError(`'${text}' is not an http(s) URL.`);
  }
  const path = url.pathname.replace(/\/+$/, "");
  url.pathname = path.endsWith("/v1") ? path : `${path}/v1`;
  return url.toString().replace(/\/+$/, "");
}

async function loadSuites(names: readonly string[]): Promise<{ suites: LoadedSuite[]; findings: Finding[] }> {
  const suites: LoadedSuite[] = [];
  const findings: Finding[] = [];
  for (const source of names) {
    const name = source === SANITY_SUITE_NAME ? SANITY_SUITE_NAME : basename(source).replace(/\.jsonl$/i, "");
    if (suites.some((s) => s.name === name)) throw new UsageError(`suite '${name}' is given twice.`);
    if (source === SANITY_SUITE_NAME) {
      suites.push({ name, items: SANITY_SUITE });
      continue;
    }
    const bytes = await readFile(source).catch((error: NodeJS.ErrnoException) => {
      throw new UsageError(
        error.code === "ENOENT" ? `no such suite file: ${source}` : `cannot read ${source}: ${error.message}`,
      );
    });
    const parsed = parseSuite(bytes, { file: source });
    findings.push(...parsed.findings);
    suites.push({ name, items: parsed.items });
  }
  return { suites, findings };
}

async function loadStable(
  file: string,
): Promise<{ outcomes: readonly SuiteOutcomes[]; findings: Finding[] }> {
  const text = await readFile(file, "utf8").catch((error: NodeJS.ErrnoException) => {
    throw new UsageError(
      error.code === "ENOENT" ? `no such results file: ${file}` : `cannot read ${file}: ${error.message}`,
    );
  });
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return {
      outcomes: [],
      findings: [
        {
          severity: "error",
          code: "eval-results.not-json",
          file,
          message: `is not JSON (${(error as Error).message}).`,
          hint: "Give the file that `modelship eval --json` wrote for the stable version.",
        },
      ],
    };
  }
  const stored = readStoredOutcomes(value, file);
  return { outcomes: stored.outcomes, findings: [...stored.findings] };
}

function judge(
  report: SuiteReport,
  settings: Settings,
  stable: readonly SuiteOutcomes[] | undefined,
): SuiteRun {
  const outcomes = suiteOutcomes(report);
  const unanswered = checkUnanswered(report.score, settings.maxErrorRate);
  const stableSuite = stable?.find((s) => s.score.suite === report.score.suite);
  const comparison = stableSuite ? comparePaired(outcomes, stableSuite) : undefined;
  const gated = stable !== undefined || settings.minScore !== undefined;
  const gate = gated
    ? decideSuiteGate({
        score: report.score,
        minScore: settings.minScore ?? 0,
        maxRegression: settings.maxRegression,
        maxErrorRate: settings.maxErrorRate,
        ...(comparison ? { comparison } : {}),
      })
    : undefined;
  return {
    report,
    outcomes,
    unanswered,
    ...(comparison ? { comparison } : {}),
    stableMissing: stable !== undefined && !stableSuite,
    ...(gate ? { gate } : {}),
  };
}

function jsonReport(settings: Settings, runs: readonly SuiteRun[]): object {
  return {
    model: settings.endpoint.servedName,
    baseUrl: settings.endpoint.baseUrl,
    suites: runs.map((r) => ({
      score: r.outcomes.score,
      evaluated: !r.unanswered.tooMany,
      unanswered: { ...r.unanswered, kinds: unansweredByKind(r.report.items) },
      ...(r.gate ? { gate: r.gate } : {}),
      verdicts: r.outcomes.verdicts,
      items: r.report.items,
    })),
  };
}

function humanReport(settings: Settings, runs: readonly SuiteRun[]): string {
  const lines = [`${settings.endpoint.servedName} at ${settings.endpoint.baseUrl}`];
  for (const { report, comparison, stableMissing, gate, unanswered } of runs) {
    const { score } = report;
    lines.push(
      "",
      `${score.suite}: ${percent(score.score)} (${score.correct}/${score.items} correct), 95% CI ${percent(score.interval.low)}–${percent(score.interval.high)}`,
      `  answered ${score.items - score.errors} of ${score.items}: ${score.correct} correct, ${score.wrong} wrong`,
    );
    if (score.errors > 0) {
      lines.push(
        `  no answer for ${score.errors} of ${score.items} (${percent(unanswered.share)}; at most ${percent(unanswered.maxErrorRate)} allowed): ${describeKinds(unansweredByKind(report.items))}`,
      );
    }
    for (const item of failures(report.items)) lines.push(`    '${item.id}': ${item.error}`);
    if (score.errors > MAX_PRINTED_FAILURES) {
      lines.push(`    … and ${score.errors - MAX_PRINTED_FAILURES} more without an answer (see --json).`);
    }
    if (unanswered.tooMany) {
      lines.push(
        `  ✗ not evaluated: more than --max-errors ${percent(unanswered.maxErrorRate)} of the items got no answer; the score would measure the server's failures, not the model.`,
      );
    }
    if (comparison) lines.push(...describeComparison(comparison));
    if (stableMissing)
      lines.push(`  the stable results have no suite '${score.suite}': nothing to compare with.`);
    if (gate) {
      lines.push(`  gate: ${gate.pass ? "✓ pass" : "✗ FAIL"}`);
      for (const reason of gate.reasons) lines.push(`    ${reason}`);
    }
  }
  return lines.join("\n");
}

const MAX_PRINTED_FAILURES = 5;

function failures(items: readonly ItemResult[]): ItemResult[] {
  return items.filter((i) => i.verdict === "error").slice(0, MAX_PRINTED_FAILURES);
}

function describeComparison(c: PairedComparison): string[] {
  const difference = `${c.difference >= 0 ? "+" : "−"}${Math.abs(c.difference * 100).toFixed(1)} points`;
  const lines = [
    `  vs stable on ${c.paired} paired items: ${percent(c.candidateScore)} vs ${percent(c.stableScore)} (${difference})`,
    `    b=${c.onlyStableCorrect} only stable right, c=${c.onlyCandidateCorrect} only this run right, exact McNemar p=${c.pValue.toPrecision(3)}`,
  ];
  const unpaired = (side: string, u: PairedComparison["onlyInCandidate"]) =>
    `    ${u.count} item${u.count === 1 ? "" : "s"} only in ${side}, not compared: ${u.ids.join(", ")}${u.count > u.ids.length ? ", …" : ""}`;
  if (c.onlyInCandidate.count > 0) lines.push(unpaired("this run", c.onlyInCandidate));
  if (c.onlyInStable.count > 0) lines.push(unpaired("the stable results", c.onlyInStable));
  return lines;
}

function printFindings(findings: readonly Finding[]): void {
  const errors = findings.filter((f) => f.severity === "error").length;
  if (errors > 0) console.error(`modelship eval: ${errors} problem${errors === 1 ? "" : "s"} in the input:`);
  for (const finding of sortFindings(findings)) console.error(formatFinding(finding));
}

function progress(
  suite: string,
): ((result: ItemResult, finished: number, total: number) => void) | undefined {
  if (!process.stderr.isTTY) return undefined;
  return (_result, finished, total) => process.stderr.write(`\r${suite}: ${finished}/${total} items`);
}

function clearProgress(): void {
  if (process.stderr.isTTY) process.stderr.write("\r\x1b[K");
}

function wholeNumber(option: string, value: string | undefined, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > max) {
    throw new UsageError(`${option} takes a whole number from 1 to ${max}, not '${value}'.`);
  }
  return n;
}

function seconds(option: string, value: string | undefined, fallbackMs: number): number {
  if (value === undefined) return fallbackMs;
  const n = Number(value.replace(/s$/, ""));
  if (!Number.isFinite(n) || n <= 0)
    throw new UsageError(`${option} takes seconds (e.g. 60), not '${value}'.`);
  return n * 1000;
}

/** `10%` or `0.1`: a share from 0 to 1. */
function share(option: string, value: string): number {
  const percentage = /^(\d+(?:\.\d+)?)%$/.exec(value.trim());
  const n = percentage ? Number(percentage[1]) / 100 : Number(value);
  if (value.trim() === "" || !Number.isFinite(n) || n < 0 || n > 1) {
    throw new UsageError(`${option} takes a share from 0% to 100% (e.g. 10% or 0.1), not '${value}'.`);
  }
  return n;
}

function fraction(option: string, value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || n > 1) {
    throw new UsageError(`${option} takes a fraction from 0 to 1 (e.g. 0.45), not '${value}'.`);
  }
  return n;
}

function percent(fraction: number): string {
  return `${(fraction * 100).toFixed(1)}%`;
}
