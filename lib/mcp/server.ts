// The MCP server: modelship's operations as tools and resources an agent can call, over the same code the CLI
// uses (lib/mcp/operations.ts). Read tools answer what serves, what a rollout did and why one failed; acting
// tools (rollback, abort, promote, approve, reject, a local rollout of a folder) are annotated destructive and
// take the model and a reason, recorded with the agent's name as who asked. Every answer is text for the
// model to read plus, where it helps, the same data as structured content. A tool that cannot act here (a
// command on AWS without the bus, a folder rollout on AWS) answers an error saying why, never a stack trace.

import { spawn } from "node:child_process";
import { McpServer, ResourceTemplate } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import { classifyFailure } from "../core/smoke/failure-signatures";
import { MODEL_NAME_PATTERN } from "../core/manifest/manifest-schema";
import type { DocumentKind, DocumentOf, ReportDocument } from "../core/report/report-documents";
import { formatMs, formatPercent } from "../core/report/report-format";
import type { ModelRecord, Transition } from "../core/rollout/rollout";
import type { CommandName } from "../pipeline/commands";
import { readDocument } from "../pipeline/rollout-report";
import { packagePath } from "../package-files";
import type { ObjectStore } from "../ports";
import { formatModelStatus } from "../cli/status-report";
import type { ModelView, Operations } from "./operations";

export interface ModelshipMcpOptions {
  readonly operations: Operations;
  /** The package version the server reports. */
  readonly version: string;
}

const modelName = z
  .string()
  .regex(MODEL_NAME_PATTERN, "a model name: lowercase letters, digits and '-', 1–63 characters")
  .describe("The model's name, as in models/<name>/<version>/ (list_models lists them).");
const versionName = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9._-]+$/, "a version name");
const reason = z
  .string()
  .trim()
  .min(3)
  .max(1000)
  .describe("Why: recorded in the model's history and the events, with this agent as who asked.");

/** Transitions a timeline shows at most; older ones are counted. */
const MAX_TIMELINE = 200;
/** Events the events resource shows. */
const RECENT_EVENTS = 100;
/** Rollouts a report listing shows at most. */
const MAX_REPORTS_LISTED = 100;
/** `modelship validate --json` output read at most (a folder's findings are capped well below this). */
const MAX_VALIDATE_OUTPUT_BYTES = 4 * 1024 * 1024;
const VALIDATE_TIMEOUT_MS = 5 * 60_000;

export function createModelshipMcpServer(options: ModelshipMcpOptions): McpServer {
  const { operations } = options;
  const server = new McpServer(
    { name: "modelship", version: options.version },
    {
      instructions:
        `modelship rolls model versions out safely (gates, a canary with alarms, automatic rollback). These tools act on ${operations.where}. ` +
        "Read with list_models, model_status, rollout_timeline and explain_failure before acting; every acting tool needs the model and a reason.",
    },
  );
  const who = () => {
    const client = server.server.getClientVersion();
    return `${client?.name ?? "an MCP client"} (modelship mcp)`;
  };

  server.registerTool(
    "list_models",
    {
      title: "List models",
      description:
        "Every model modelship has rolled out: its stable and candidate versions, weights and status.",
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    () =>
      answer(async () => {
        const models = await operations.status();
        if (models.length === 0) return text(`No model has been rolled out on ${operations.where} yet.`);
        return {
          content: [{ type: "text", text: models.map(({ record }) => modelLine(record)).join("\n") }],
          structuredContent: { models: models.map(({ record }) => modelSummary(record)) },
        };
      }),
  );

  server.registerTool(
    "model_status",
    {
      title: "Status of a model",
      description:
        "What serves the model now: stable and candidate with weights, the canary's step, a waiting approval, each alarm's state with its value next to its threshold, and locally the gateway's route.",
      inputSchema: { model: modelName },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    ({ model }) =>
      answer(async () => {
        const view = await oneModel(operations, model);
        return {
          content: [{ type: "text", text: formatModelStatus(view) }],
          structuredContent: {
            model: modelSummary(view.record),
            alarms: view.alarms,
            route: view.route ?? null,
          },
        };
      }),
  );

  server.registerTool(
    "rollout_timeline",
    {
      title: "Timeline of a model's rollouts",
      description:
        "The model's history, oldest first: each stage's transition with its time, version, status and reason, and where each rollout's report is.",
      inputSchema: {
        model: modelName,
        version: versionName.optional().describe("Only this version's rollouts."),
      },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    ({ model, version }) =>
      answer(async () => {
        const { record } = await oneModel(operations, model);
        const history = record.history.filter((t) => version === undefined || t.version === version);
        const shown = history.slice(-MAX_TIMELINE);
        const lines = shown.map(transitionLine);
        if (history.length > shown.length)
          lines.unshift(`(${history.length - shown.length} earlier transitions left out)`);
        const reports = await reportKeys(operations, model, version).catch(() => undefined);
        if (reports?.length) lines.push("", "Reports:", ...reports.map((key) => `  ${key}`));
        return {
          content: [{ type: "text", text: lines.length ? lines.join("\n") : `${model} has no history yet.` }],
          structuredContent: { transitions: shown, reports: reports ?? [] },
        };
      }),
  );

  server.registerTool(
    "explain_failure",
    {
      title: "Explain why a rollout failed",
      description:
        "The model's last failed or rolled-back rollout: the stage that ended it, its error and reason, the failure-signature diagnosis with a hint when one matches, and the outcome report's detail.",
      inputSchema: { model: modelName },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    ({ model }) =>
      answer(async () => {
        const { record } = await oneModel(operations, model);
        const failure = [...record.history]
          .reverse()
          .find((t) => t.status === "failed" || t.status === "rolled_back");
        if (!failure) return text(`No rollout of ${model} has failed or been rolled back.`);
        const lines = [
          `${model} ${failure.version} (rollout ${failure.rolloutId}) ${failure.status === "failed" ? "failed" : "was rolled back"} at ${failure.stage}, ${failure.at}:`,
          `  ${failure.reason}`,
        ];
        const rolloutLines = record.history
          .filter((t) => t.rolloutId === failure.rolloutId)
          .map((t) => t.reason);
        const diagnosis = classifyFailure({ reasons: [], messages: rolloutLines, logTail: rolloutLines });
        if (diagnosis)
          lines.push("", `Diagnosis: ${diagnosis.reason} — ${diagnosis.message}`, `Hint: ${diagnosis.hint}`);
        const outcome = await readRolloutDocument(operations, "outcome", model, failure).catch(
          () => undefined,
        );
        if (outcome?.status === "read") {
          const end = outcome.value.end;
          lines.push(
            "",
            `Outcome report: ${end.state} at ${end.stage}${end.error ? ` (${end.error}${end.failedStage ? ` in ${end.failedStage}` : ""})` : ""}${end.trigger ? `, by ${end.trigger}${end.alarm ? ` ${end.alarm}` : ""}${end.requestedBy ? ` from ${end.requestedBy}` : ""}` : ""}.`,
            ...(end.hint ? [`Hint: ${end.hint}`] : []),
            ...(end.leftBehind?.length ? [`Left behind: ${end.leftBehind.join(", ")}`] : []),
          );
        }
        return {
          content: [{ type: "text", text: lines.join("\n") }],
          structuredContent: { failure, diagnosis: diagnosis ?? null },
        };
      }),
  );

  server.registerTool(
    "validate",
    {
      title: "Validate a model folder",
      description:
        "Runs modelship's validation of a model folder on this machine or an S3 prefix (s3://bucket/prefix): every finding, the parameters, dtypes, the serving settings it would choose and the GPU plan. Reads headers and bounded samples, never the whole weights.",
      inputSchema: { path: z.string().min(1).max(4096).describe("A folder path, or s3://bucket/prefix/.") },
      annotations: { readOnlyHint: true, openWorldHint: true },
    },
    ({ path }) => answer(() => validatePath(path)),
  );

  server.registerTool(
    "compare_versions",
    {
      title: "Compare two versions' gates",
      description:
        "Side by side, the latest stress and eval results of two versions of a model (latency percentiles, throughput, error rate, each suite's score).",
      inputSchema: { model: modelName, versions: z.tuple([versionName, versionName]) },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    ({ model, versions }) =>
      answer(async () => {
        const sides = await Promise.all(versions.map((v) => gateResults(operations, model, v)));
        return {
          content: [{ type: "text", text: compareText(model, versions, sides) }],
          structuredContent: { model, versions: sides },
        };
      }),
  );

  const commandTools: [string, CommandName, string][] = [
    [
      "rollback",
      "Rollback Requested",
      "Rolls the model's running rollout back: 100% to the stable version, the candidate removed.",
    ],
    ["abort", "Abort Requested", "Stops the model's running rollout wherever it is, as a rollback does."],
    [
      "promote",
      "Promote Requested",
      "Skips the running canary's remaining steps: the candidate is promoted after the current bake.",
    ],
    ["approve", "Approve Requested", "Lets a rollout waiting for approval (rollout.approval: manual) go on."],
    ["reject", "Reject Requested", "Rolls back a rollout waiting for approval."],
  ];
  for (const [name, command, description] of commandTools) {
    server.registerTool(
      name,
      {
        title: `${name[0]?.toUpperCase()}${name.slice(1)} a rollout`,
        description: `${description} Acts on ${operations.where}.`,
        inputSchema: { model: modelName, reason },
        annotations: {
          destructiveHint: true,
          readOnlyHint: false,
          idempotentHint: false,
          openWorldHint: false,
        },
      },
      ({ model, reason: why }) =>
        answer(async () => {
          const outcome = await operations.command(command, model, why, who());
          const done = outcome.status === "done" || outcome.status === "nothing to do";
          return {
            content: [{ type: "text", text: outcome.message }],
            structuredContent: { ...outcome },
            isError: !done,
          };
        }),
    );
  }

  server.registerTool(
    "run_rollout",
    {
      title: "Roll out a model folder (local)",
      description:
        "Copies a model folder on this machine into the local bucket and starts its rollout on the running local control plane (as `modelship run --local` beside `modelship local`); answers the execution id without waiting for its end — follow it with model_status.",
      inputSchema: {
        folder: z
          .string()
          .min(1)
          .max(4096)
          .describe("The model folder (weights, config, optional modelship.yaml)."),
        name: modelName
          .optional()
          .describe("The model's name when the manifest does not say (default: the folder's name)."),
        version: versionName
          .optional()
          .describe("The version when the manifest does not say (default: a timestamp)."),
        reason,
      },
      annotations: {
        destructiveHint: true,
        readOnlyHint: false,
        idempotentHint: false,
        openWorldHint: false,
      },
    },
    ({ folder, name, version }) =>
      answer(async () => {
        const started = await operations.runFolder(folder, {
          ...(name && { name }),
          ...(version && { version }),
        });
        if (started.status === "rejected") {
          return {
            content: [
              {
                type: "text",
                text: [started.reason, ...started.findings.map((f) => `  ${f.path ?? ""} ${f.message}`)].join(
                  "\n",
                ),
              },
            ],
            structuredContent: { ...started },
            isError: true,
          };
        }
        return {
          content: [
            {
              type: "text",
              text: `${started.status === "duplicate" ? "Already running" : "Started"}: ${started.name} ${started.version}, execution ${started.executionId}. Follow it with model_status ${started.name}.`,
            },
          ],
          structuredContent: {
            status: started.status,
            name: started.name,
            version: started.version,
            executionId: started.executionId,
          },
        };
      }),
  );

  server.registerResource(
    "report",
    new ResourceTemplate("modelship://reports/{model}/{version}/{rolloutId}", {
      list: async () => {
        const keys = await reportKeys(operations).catch(() => []);
        return {
          resources: keys.slice(-MAX_REPORTS_LISTED).map((key) => {
            const [, model, version, rolloutId] = key.split("/");
            return {
              uri: `modelship://reports/${model}/${version}/${rolloutId}`,
              name: `${model} ${version} (${rolloutId})`,
              mimeType: "text/plain",
            };
          }),
        };
      },
    }),
    {
      title: "A rollout's report",
      description: "How one rollout went, as text: its end, steps and gates.",
      mimeType: "text/plain",
    },
    async (uri, variables) => {
      const [model, version, rolloutId] = [variables.model, variables.version, variables.rolloutId].map(
        String,
      );
      const transition = { version: version ?? "", rolloutId: rolloutId ?? "" };
      const kinds = ["outcome", "validation", "stress", "eval"] as const;
      const documents = await Promise.all(
        kinds.map((kind) =>
          readRolloutDocument(operations, kind, model ?? "", transition).catch((e: Error) => e),
        ),
      );
      return {
        contents: [
          { uri: uri.href, mimeType: "text/plain", text: reportText(model ?? "", transition, documents) },
        ],
      };
    },
  );

  server.registerResource(
    "events",
    "modelship://events/recent",
    {
      title: "Recent events",
      description: `The last ${RECENT_EVENTS} events modelship emitted (local runtime), one JSON object per line, oldest first.`,
      mimeType: "application/x-ndjson",
    },
    async (uri) => {
      const events = await operations.recentEvents(RECENT_EVENTS);
      return {
        contents: [
          {
            uri: uri.href,
            mimeType: "application/x-ndjson",
            text: events.map((e) => JSON.stringify(e)).join("\n"),
          },
        ],
      };
    },
  );

  return server;
}

/** A tool's answer: what it returned, or its refusal as an error result a model reads (never a stack trace). */
async function answer(body: () => Promise<CallToolResult>): Promise<CallToolResult> {
  try {
    return await body();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const hint = (error as { hint?: unknown }).hint;
    return {
      content: [{ type: "text", text: `${message}${typeof hint === "string" ? `\nHint: ${hint}` : ""}` }],
      isError: true,
    };
  }
}

function text(message: string): CallToolResult {
  return { content: [{ type: "text", text: message }] };
}

async function oneModel(operations: Operations, model: string): Promise<ModelView> {
  const [view] = await operations.status(model);
  if (view) return view;
  const known = (await operations.status()).map(({ record }) => record.model);
  throw new Error(
    `modelship has no rollout of ${model} on ${operations.where}.${known.length ? ` The models it knows: ${known.join(", ")}.` : " It knows no model yet."}`,
  );
}

function modelSummary(record: ModelRecord) {
  return {
    model: record.model,
    status: record.status ?? null,
    stableVersion: record.stableVersion ?? null,
    candidateVersion: record.candidateVersion ?? null,
    weights: record.weights ?? null,
    canary: record.canary ?? null,
    rollout: record.lock
      ? { rolloutId: record.lock.rolloutId, version: record.lock.version, since: record.lock.since }
      : null,
    waitingForApproval:
      record.lock && record.approval?.rolloutId === record.lock.rolloutId
        ? {
            version: record.approval.version,
            at: record.approval.at,
            since: record.approval.since,
            until: record.approval.expiresAt,
          }
        : null,
    last: record.history.at(-1) ?? null,
  };
}

function modelLine(record: ModelRecord): string {
  const weights = record.weights ? ` (${record.weights.stable}% / ${record.weights.candidate}%)` : "";
  const serving = [
    record.stableVersion ? `stable ${record.stableVersion}` : "no stable version",
    record.candidateVersion ? `candidate ${record.candidateVersion}` : undefined,
  ]
    .filter(Boolean)
    .join(", ");
  const last = record.history.at(-1);
  return `${record.model}: ${serving}${weights}; ${record.status ?? "no rollout"}${last ? ` — last ${last.stage} at ${last.at}` : ""}`;
}

function transitionLine(t: Transition): string {
  const weights = t.weights ? ` [${t.weights.stable}/${t.weights.candidate}]` : "";
  return `${t.at}  ${t.version}  ${t.stage}  ${t.status}${weights}  ${t.reason}`;
}

/** `reports/<model>/<version>/<rolloutId>` of every rollout with a report.html (or an outcome), oldest key first. */
async function reportKeys(operations: Operations, model?: string, version?: string): Promise<string[]> {
  const prefix = `reports/${model ? `${model}/${version ? `${version}/` : ""}` : ""}`;
  const objects = await operations.reports().list(prefix);
  const rollouts = new Set<string>();
  for (const { key } of objects) {
    const parts = key.split("/");
    if (parts.length === 5 && (parts[4] === "report.html" || parts[4] === "outcome.json"))
      rollouts.add(parts.slice(0, 4).join("/"));
  }
  return [...rollouts].sort();
}

function readRolloutDocument<K extends DocumentKind>(
  operations: Operations,
  kind: K,
  model: string,
  rollout: Pick<Transition, "version" | "rolloutId">,
): Promise<ReportDocument<DocumentOf<K>>> {
  const objects: ObjectStore = operations.reports();
  const key = `reports/${model}/${rollout.version}/${rollout.rolloutId}/${kind}.json`;
  return readDocument(
    kind,
    key,
    { id: rollout.rolloutId, model, version: rollout.version } as never,
    objects,
  );
}

interface GateResults {
  readonly version: string;
  readonly rolloutId: string | null;
  readonly stress: DocumentOf<"stress">["summary"] | null;
  readonly stressPassed: boolean | null;
  readonly eval: { suite: string; score: number; pass: boolean }[] | null;
  readonly problems: string[];
}

/** The latest rollout of the version that has gate reports, and its stress summary and eval scores. */
async function gateResults(operations: Operations, model: string, version: string): Promise<GateResults> {
  const objects = await operations.reports().list(`reports/${model}/${version}/`);
  const withGates = objects
    .filter((o) => /\/(stress|eval)\.json$/.test(o.key))
    .sort((a, b) => (a.lastModified ?? "").localeCompare(b.lastModified ?? ""));
  const latest = withGates.at(-1)?.key.split("/")[3];
  if (!latest) {
    return {
      version,
      rolloutId: null,
      stress: null,
      stressPassed: null,
      eval: null,
      problems: [`no stress or eval report of ${model} ${version}`],
    };
  }
  const rollout = { version, rolloutId: latest };
  const [stress, evaluation] = await Promise.all([
    readRolloutDocument(operations, "stress", model, rollout),
    readRolloutDocument(operations, "eval", model, rollout),
  ]);
  const problems = [stress, evaluation].flatMap((d) =>
    d.status === "unreadable" ? [`${d.key}: ${d.problems.join("; ")}`] : [],
  );
  return {
    version,
    rolloutId: latest,
    stress: stress.status === "read" ? stress.value.summary : null,
    stressPassed: stress.status === "read" ? stress.value.passed : null,
    eval:
      evaluation.status === "read"
        ? evaluation.value.suites.map((s) => ({ suite: s.suite, score: s.score.score, pass: s.pass }))
        : null,
    problems,
  };
}

function compareText(model: string, versions: readonly string[], sides: readonly GateResults[]): string {
  const cell = (side: GateResults, pick: (s: NonNullable<GateResults["stress"]>) => string | undefined) =>
    side.stress ? (pick(side.stress) ?? "–") : "–";
  const rows: [string, ...string[]][] = [
    ["", ...versions],
    ["rollout", ...sides.map((s) => s.rolloutId ?? "–")],
    [
      "stress gate",
      ...sides.map((s) => (s.stressPassed === null ? "–" : s.stressPassed ? "passed" : "failed")),
    ],
    ["requests/s", ...sides.map((s) => cell(s, (x) => x.requestsPerSecond.toFixed(2)))],
    ["output tok/s", ...sides.map((s) => cell(s, (x) => x.outputTokensPerSecond.toFixed(1)))],
    ["error rate", ...sides.map((s) => cell(s, (x) => formatPercent(x.errorRate)))],
    [
      "TTFT p95",
      ...sides.map((s) => cell(s, (x) => (x.latency.ttft ? formatMs(x.latency.ttft.p95Ms) : undefined))),
    ],
    [
      "ITL p95",
      ...sides.map((s) => cell(s, (x) => (x.latency.itl ? formatMs(x.latency.itl.p95Ms) : undefined))),
    ],
    [
      "E2E p95",
      ...sides.map((s) => cell(s, (x) => (x.latency.e2e ? formatMs(x.latency.e2e.p95Ms) : undefined))),
    ],
  ];
  const suites = [...new Set(sides.flatMap((s) => s.eval?.map((e) => e.suite) ?? []))];
  for (const suite of suites) {
    rows.push([
      `eval ${suite}`,
      ...sides.map((s) => {
        const entry = s.eval?.find((e) => e.suite === suite);
        return entry ? `${formatPercent(entry.score)} (${entry.pass ? "pass" : "fail"})` : "–";
      }),
    ]);
  }
  const width = rows.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  const lines = rows.map((r) =>
    r
      .map((c, i) => c.padEnd(width[i] ?? 0))
      .join("  ")
      .trimEnd(),
  );
  const problems = sides.flatMap((s) => s.problems);
  return [`${model}:`, ...lines, ...(problems.length ? ["", ...problems] : [])].join("\n");
}

function reportText(
  model: string,
  rollout: Pick<Transition, "version" | "rolloutId">,
  documents: readonly (ReportDocument<unknown> | Error)[],
): string {
  const [outcome, validation, stress, evaluation] = documents as [
    ReportDocument<DocumentOf<"outcome">> | Error,
    ReportDocument<DocumentOf<"validation">> | Error,
    ReportDocument<DocumentOf<"stress">> | Error,
    ReportDocument<DocumentOf<"eval">> | Error,
  ];
  const lines = [`Rollout ${rollout.rolloutId} of ${model} ${rollout.version}`];
  const section = <T>(title: string, doc: ReportDocument<T> | Error, body: (value: T) => string[]) => {
    lines.push("", `${title}:`);
    if (doc instanceof Error) lines.push(`  could not be read: ${doc.message}`);
    else if (doc.status === "missing")
      lines.push("  none (the rollout did not get there, or the gate was off)");
    else if (doc.status === "unreadable") lines.push(`  unreadable: ${doc.problems.join("; ")}`);
    else lines.push(...body(doc.value).map((l) => `  ${l}`));
  };
  section("End", outcome, (o) => [
    `${o.end.state} at ${o.end.stage}, ${o.end.at}: ${o.end.reason}`,
    ...(o.steps.length ? [`Canary steps: ${o.steps.map((s) => `${s.weight}%`).join(" → ")}`] : []),
    ...(o.promotion ? [`Promoted at ${o.promotion.at}: ${o.promotion.reason}`] : []),
    ...(o.end.hint ? [`Hint: ${o.end.hint}`] : []),
  ]);
  section("Validation", validation, (v) => [JSON.stringify(v).slice(0, 2000)]);
  section("Stress gate", stress, (s) => [
    `${s.passed ? "passed" : "failed"}: ${s.summary.completed} of ${s.summary.requests} requests, ${formatPercent(s.summary.errorRate)} errors, ${s.summary.requestsPerSecond.toFixed(2)} req/s`,
    ...s.checks.map((c) => `${c.pass ? "✓" : "✗"} ${c.message}`),
  ]);
  section("Eval gate", evaluation, (e) => [
    `${e.passed ? "passed" : "failed"}`,
    ...e.suites.map(
      (s) =>
        `${s.pass ? "✓" : "✗"} ${s.suite}: ${formatPercent(s.score.score)} of ${s.score.items} items${s.reasons.length ? ` — ${s.reasons.join("; ")}` : ""}`,
    ),
  ]);
  return lines.join("\n");
}

/** `modelship validate --json <path>` in a child process: the CLI's own validation, its output bounded. */
function validatePath(path: string): Promise<CallToolResult> {
  const cli = packagePath("bin/modelship.mjs");
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, "validate", "--json", path], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let bytes = 0;
    const timer = setTimeout(() => child.kill("SIGKILL"), VALIDATE_TIMEOUT_MS);
    const collect = (into: Buffer[]) => (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > MAX_VALIDATE_OUTPUT_BYTES) child.kill("SIGKILL");
      else into.push(chunk);
    };
    child.stdout.on("data", collect(out));
    child.stderr.on("data", collect(err));
    child.once("close", (code) => {
      clearTimeout(timer);
      const stdout = Buffer.concat(out).toString("utf8");
      let report: Record<string, unknown> | undefined;
      try {
        report = JSON.parse(stdout) as Record<string, unknown>;
      } catch {
        report = undefined;
      }
      if (!report) {
        const said = Buffer.concat(err).toString("utf8").trim() || stdout.trim();
        resolve({
          content: [
            {
              type: "text",
              text: `Validation of ${path} did not answer (exit ${code}): ${said.slice(0, 2000)}`,
            },
          ],
          isError: true,
        });
        return;
      }
      const findings = Array.isArray(report.findings)
        ? (report.findings as { severity?: string; path?: string; message?: string }[])
        : [];
      const summary = [
        `${path}: ${report.valid ? "valid" : "invalid"}${findings.length ? `, ${findings.length} finding(s)` : ""}`,
        ...findings.slice(0, 50).map((f) => `  ${f.severity ?? ""} ${f.path ?? ""}: ${f.message ?? ""}`),
      ];
      resolve({
        content: [{ type: "text", text: summary.join("\n") }],
        structuredContent: report,
        isError: report.valid !== true,
      });
    });
  });
}
