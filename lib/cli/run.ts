// `modelship run <folder> --local`: one rollout of a model folder on this machine, in the foreground. The
// folder is copied into the local bucket as a new version (the manifest last: it is the commit marker), the
// execution is started by the same Start logic an S3 upload triggers, and each state is printed as it runs.
// With a control plane running for the home (`modelship local`), it runs the rollout and `run` follows it;
// otherwise `run` is a control plane itself for the one rollout, and what it served stops with it.

import { formatBytes } from "../core/report/report-format";
import { existsSync } from "node:fs";
import { rm, stat } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { describeCaughtError, type CaughtError } from "../core/errors";
import type { ModelshipEvent } from "../core/events/events";
import { formatFinding, sortFindings } from "../core/findings";
import { loadManifest, MAX_MANIFEST_BYTES, manifestTooLarge } from "../core/resolution/manifest";
import { readManifestDocument } from "../core/manifest/manifest-document";
import { terminalText } from "../core/text/terminal-text";
import { unreadableEntryFinding } from "../core/weights/unreadable-entry";
import { whyVersionServed } from "../core/rollout/version-served";
import { parseManifestKey } from "../core/rollout/keys";
import type { ExecutionResult, StateTransition } from "../local/executor";
import { interruptExecution, type Interruption } from "../local/interrupt";
import type { LocalExecution } from "../local/local-executions";
import { ControlPlaneRunning, startControlPlane } from "../local/control-plane";
import { ControlPlaneClient, ControlPlaneRefused } from "../local/control-plane-client";
import { NoControlPlane } from "../local/control-plane-file";
import { FolderObjectStore } from "../local/folder-object-store";
import { JsonFileRolloutStore } from "../local/json-rollout-store";
import { localPaths, readLocalStackConfig } from "../local/runtime";
import { type InterruptedOutcome, stopInterruptedRollout } from "../pipeline/stop-interrupted";
import type { StageDeps } from "../pipeline/deps";
import type { StartOutcome } from "../pipeline/start";
import type { ObjectInfo, ObjectStore } from "../ports";
import { BadInput, runCliCommand, UsageError } from "./cli-command";
import { describeLocalConfigInvalid } from "./local-config-error";
import { HomeInvalid, StateFileInvalid } from "../local/state-file-invalid";
import { parseCommandLine } from "./command-line";

const USAGE = `Usage: modelship run <folder> --local [--home .modelship] [--name N] [--version V] [--time-factor F]

Runs one rollout of a model folder on this machine: copies it into the local bucket as
models/<name>/<version>/ and runs the pipeline on it, printing each state as it happens.
With \`modelship local\` running for the home, the control plane runs the rollout (and keeps serving the
model afterwards) and \`run\` follows it; otherwise \`run\` runs it, and serves the model until it exits.

  --local            run on this machine (the only place \`run\` runs for now)
  --home DIR         the local runtime's folder: bucket, records, events, config.json (default .modelship)
  --name N           the model's name (default: the manifest's \`name:\`, else the folder's name)
  --version V        the version to roll out (default: the manifest's \`version:\`, else a timestamp)
  --time-factor F    scale waits (bakes, watch, polls) and retry pauses: 1 = real time (default), 0.01 = 100× faster

Ctrl-C stops the rollout and runs Cleanup (lock released, failure recorded); Ctrl-C again quits at once.
Beside a control plane, Ctrl-C stops following: the rollout goes on (\`modelship abort <name> --local\`).

Exit status: 0 the model shipped, 1 the rollout failed or the input is bad, 2 usage error, 3 the rollout was
aborted or rolled back (by its alarm or a command), 130 interrupted.`;

const MANIFEST_NAMES = ["modelship.yaml", "modelship.yml", "modelship.json"];

type LocalPaths = ReturnType<typeof localPaths>;
/** State types worth a line; Choice and Pass states are the flow's plumbing. */
const SHOWN_STATE_TYPES = new Set(["Task", "Map", "Wait"]);

export function run(argv: string[]): Promise<number> {
  return runCliCommand(
    {
      name: "run",
      usage: USAGE,
      refusals: [ControlPlaneRefused, ControlPlaneRunning, HomeInvalid, StateFileInvalid],
      describe: describeLocalConfigInvalid,
    },
    () => runCommand(argv),
  );
}

async function runCommand(argv: string[]): Promise<number> {
  const parsed = parseCommandLine({
    args: argv,
    allowPositionals: true,
    options: {
      local: { type: "boolean" },
      home: { type: "string", default: ".modelship" },
      name: { type: "string" },
      version: { type: "string" },
      "time-factor": { type: "string", default: "1" },
      help: { type: "boolean", short: "h" },
    },
  });
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError("give exactly one model folder.");
  if (!values.local)
    throw new UsageError("add --local: running on AWS is an upload to the bucket, not `run`.");
  const timeFactor = Number(values["time-factor"]);
  if (!Number.isFinite(timeFactor) || timeFactor < 0) {
    throw new UsageError(`--time-factor must be a number ≥ 0, got '${values["time-factor"]}'.`);
  }
  const folder = resolve(positionals[0] as string);
  if (!(await stat(folder).catch(() => undefined))?.isDirectory()) {
    throw new UsageError(`${folder} is not a folder.`);
  }

  const manifest = await readManifest(folder);
  // Refused before anything starts: a folder whose links cannot be copied (copying checks them again).
  await filesToCopy(new FolderObjectStore(folder), manifest?.fileName);
  const { name, version, from } = rolloutName(folder, manifest, values.name, values.version);
  console.log(
    `Rolling out ${name} ${version}: the name from ${from.name}, the version from ${from.version}.`,
  );
  const home = resolve(values.home);
  await checkManifest(home, manifest, name, version);
  const running = await ControlPlaneClient.connect(home).catch((error: unknown) => {
    if (error instanceof NoControlPlane) return undefined;
    throw error;
  });
  if (running) {
    if (values["time-factor"] !== "1") {
      console.log(
        `--time-factor is the control plane's (pid ${running.info.pid}): it applies only when \`run\` runs the rollout itself.`,
      );
    }
    return runThroughControlPlane(running, home, folder, manifest, name, version);
  }
  return runHere(home, folder, manifest, name, version, timeFactor);
}

/** No control plane runs for the home: this process is one, for this rollout, and stops with it. */
async function runHere(
  home: string,
  folder: string,
  manifest: FolderManifest | undefined,
  name: string,
  version: string,
  timeFactor: number,
): Promise<number> {
  const paths = localPaths(home);
  const transitions = new TransitionPrinter();
  const controlPlane = await startControlPlane({
    home,
    timeFactor,
    port: 0,
    watchBucket: false,
    onTransition: (_, transition) => transitions.print(transition),
    onEvent: (event) => transitions.event(event),
  });
  const { runtime } = controlPlane;
  // Every way out — a finished rollout, a refusal, an error, Ctrl-C — stops the servers this run started.
  try {
    for (const line of runtime.restored) console.log(`Restored: ${line}`);
    const manifestKey = await copyIntoBucket(runtime.deps.objects, paths, folder, manifest, name, version);
    const started = await controlPlane.startManifest(manifestKey);
    if (started.status === "rejected") {
      console.error(`✖ ${terminalText(started.reason)}`);
      for (const finding of started.findings) console.error(`  ${formatFinding(finding)}`);
      return 1;
    }
    console.log(`Execution ${started.executionId} (gateway ${controlPlane.url}/v1 while it runs)`);
    const execution = runtime.executions.get(started.executionId);
    if (!execution) throw new Error(`The execution ${started.executionId} was started but is not tracked.`);
    const { result, interruption } = await followExecution(execution, runtime.deps);
    if (interruption) {
      const outcome = (await interruption).cleanup as InterruptedOutcome | undefined;
      console.log(`✖ The rollout of ${name} ${version} was interrupted.`);
      for (const line of outcome?.cleaned ?? []) console.log(`  ✔ ${line}`);
      for (const line of outcome?.leftBehind ?? []) console.log(`  ✖ left behind: ${line}`);
    } else {
      printResult(result, name, version);
      if (result.status === "SUCCEEDED") {
        console.log(
          `  It is served while this process runs, which is now ending: run \`modelship local --home ${home}\` to keep serving it (it starts ${name} again).`,
        );
      }
    }
    printWhereToLook(paths, started.executionName, name, version);
    if (interruption) return 130;
    return exitCodeOf(result);
  } finally {
    await controlPlane.close();
  }
}

/**
 * A control plane runs for the home: the folder goes into its bucket, it runs the rollout, and this
 * process follows it. Ctrl-C stops following, not the rollout.
 */
async function runThroughControlPlane(
  controlPlane: ControlPlaneClient,
  home: string,
  folder: string,
  manifest: FolderManifest | undefined,
  name: string,
  version: string,
): Promise<number> {
  const paths = localPaths(home);
  const objects = new FolderObjectStore(paths.bucket);
  const manifestKey = await copyIntoBucket(objects, paths, folder, manifest, name, version);
  const started = await controlPlane.call<StartOutcome>("POST", "uploads", { key: manifestKey });
  if (started.status === "rejected") {
    console.error(`✖ ${terminalText(started.reason)}`);
    for (const finding of started.findings) console.error(`  ${formatFinding(finding)}`);
    return 1;
  }
  console.log(
    `Execution ${started.executionId}, run by the control plane (pid ${controlPlane.info.pid}, gateway ${controlPlane.url}/v1)`,
  );
  const transitions = new TransitionPrinter();
  const stopFollowing = new AbortController();
  const interrupt = () => stopFollowing.abort();
  process.once("SIGINT", interrupt);
  process.once("SIGTERM", interrupt);
  try {
    for await (const entry of controlPlane.follow(started.executionId, stopFollowing.signal)) {
      if ("transition" in entry) transitions.print(entry.transition);
      else if ("event" in entry) transitions.event(entry.event);
      else if ("dropped" in entry) console.log(`(${entry.dropped} earlier transitions are no longer kept)`);
      else {
        printResult(entry.result, name, version);
        printWhereToLook(paths, started.executionName, name, version);
        return exitCodeOf(entry.result);
      }
    }
    throw new BadInput(
      `The control plane stopped before the rollout of ${name} ${version} ended.`,
      `See \`modelship status ${name} --local\` once it runs again.`,
    );
  } catch (error) {
    if (!stopFollowing.signal.aborted) throw error;
    console.log(
      `Stopped following. The rollout of ${name} ${version} goes on in the control plane: \`modelship status ${name} --local\` shows it, \`modelship abort ${name} --local\` stops it.`,
    );
    return 130;
  } finally {
    process.off("SIGINT", interrupt);
    process.off("SIGTERM", interrupt);
  }
}

/** A rollout handed to a running control plane: what it answered, under the name and version used. */
export interface HandedRollout {
  readonly started: StartOutcome;
  readonly name: string;
  readonly version: string;
}

/**
 * Checks a model folder as `run` does (its links, its manifest's findings, its name and version), copies it
 * into the home's bucket and asks the running control plane to start its rollout; returns its answer without
 * following it. For callers that are not a terminal (the MCP server): bad input is a BadInput to report.
 */
export async function handRolloutToControlPlane(
  controlPlane: ControlPlaneClient,
  home: string,
  folderPath: string,
  names: { readonly name?: string; readonly version?: string } = {},
): Promise<HandedRollout> {
  const folder = resolve(folderPath);
  if (!(await stat(folder).catch(() => undefined))?.isDirectory()) {
    throw new BadInput(`${folder} is not a folder.`, "Give the path of a model folder on this machine.");
  }
  const manifest = await readManifest(folder);
  await filesToCopy(new FolderObjectStore(folder), manifest?.fileName);
  const { name, version } = rolloutName(folder, manifest, names.name, names.version);
  await checkManifest(home, manifest, name, version);
  const paths = localPaths(home);
  const manifestKey = await copyIntoBucket(
    new FolderObjectStore(paths.bucket),
    paths,
    folder,
    manifest,
    name,
    version,
  );
  const started = await controlPlane.call<StartOutcome>("POST", "uploads", { key: manifestKey });
  return { started, name, version };
}

/**
 * The manifest as Prepare will read it, before anything is copied: a manifest with errors is refused here
 * with every finding, and the bucket is left as it was.
 */
async function checkManifest(
  home: string,
  manifest: FolderManifest | undefined,
  name: string,
  version: string,
): Promise<void> {
  if (!manifest) return;
  const config = await readLocalStackConfig(home);
  const { findings } = loadManifest(manifest.text, { name, version, fileName: manifest.fileName }, config);
  const errors = findings.filter((f) => f.severity === "error");
  if (errors.length === 0) return;
  throw new BadInput(
    [
      `${manifest.fileName} has ${errors.length} error${errors.length === 1 ? "" : "s"}; nothing was copied into the local bucket.`,
      ...sortFindings(findings).map((f) => `  ${formatFinding(f)}`),
    ].join("\n"),
    "Fix every finding, then run again.",
  );
}

/**
 * The version is in the local bucket already. If it never served — its rollout failed in its gates, or never
 * started — the new upload replaces it, as a new upload of an S3 key is a new object version; a version that
 * served, or one being rolled out, is kept and the run refused.
 */
async function replaceUnservedUpload(paths: LocalPaths, name: string, version: string): Promise<void> {
  const folder = join(paths.bucket, "models", name, version);
  const record = await new JsonFileRolloutStore(paths.rollouts).get(name);
  const lock = record?.lock;
  const refusal =
    lock?.version === version
      ? `rollout ${lock.rolloutId} of it is running`
      : whyVersionServed(record, version);
  if (refusal !== undefined) {
    throw new BadInput(
      `${name} ${version} is already in the local bucket (${folder}) and ${refusal}.`,
      "Roll out a new version: pass --version, or change `version:` in the manifest.",
    );
  }
  await rm(folder, { recursive: true, force: true });
  console.log(`${name} ${version} was uploaded before and never served: this upload replaces it.`);
}

/** Copies the folder into the bucket as models/<name>/<version>/, the manifest last; returns its key. */
async function copyIntoBucket(
  objects: ObjectStore,
  paths: LocalPaths,
  folder: string,
  manifest: FolderManifest | undefined,
  name: string,
  version: string,
): Promise<string> {
  const prefix = `models/${name}/${version}/`;
  if ((await objects.list(prefix)).length > 0) await replaceUnservedUpload(paths, name, version);
  const source = new FolderObjectStore(folder);
  const files = await filesToCopy(source, manifest?.fileName);
  let bytes = 0;
  for (const file of files) {
    const body = await source.get(file);
    if (!body) throw new BadInput(`${join(folder, file)} was removed while it was being copied.`);
    await objects.put(`${prefix}${file}`, body);
    bytes += body.byteLength;
  }
  const manifestKey = `${prefix}${manifest?.fileName ?? "modelship.yaml"}`;
  await objects.put(manifestKey, manifest?.text ?? defaultManifest(folder, name, version));
  console.log(
    `${name} ${version}: copied ${files.length} file(s), ${formatBytes(bytes)}, and the ${manifest ? "manifest" : "default manifest"} to ${join(paths.bucket, prefix)}`,
  );
  return manifestKey;
}

/**
 * Waits for the execution; Ctrl-C (or SIGTERM) stops it and sends it through Cleanup, so an interrupted
 * rollout leaves no lock or workload behind. A second Ctrl-C quits at once.
 */
async function followExecution(
  execution: LocalExecution,
  deps: StageDeps,
): Promise<{ result: ExecutionResult; interruption?: Promise<Interruption> }> {
  let interruption: Promise<Interruption> | undefined;
  const interrupt = (signal: NodeJS.Signals) => {
    if (interruption) {
      console.error(`${signal} again: quitting without waiting for Cleanup.`);
      process.exit(130);
    }
    console.error(`\n${signal}: stopping the rollout and cleaning up (press Ctrl-C again to quit at once)…`);
    interruption = interruptExecution(
      execution,
      (state) => stopInterruptedRollout(state, deps),
      `Interrupted by ${signal}.`,
    );
  };
  process.on("SIGINT", interrupt);
  process.on("SIGTERM", interrupt);
  try {
    const result = await execution.result;
    return interruption ? { result, interruption } : { result };
  } finally {
    process.off("SIGINT", interrupt);
    process.off("SIGTERM", interrupt);
  }
}

interface FolderManifest {
  readonly fileName: string;
  readonly text: string;
  /** `name` and `version` when the manifest sets them; Prepare checks the rest. */
  readonly name?: string;
  readonly version?: string;
}

/**
 * The folder's manifest, read through the folder store as the rest of the folder is: a manifest that is a link
 * out of the folder, or bigger than a manifest can be, is refused here rather than copied.
 */
async function readManifest(folder: string): Promise<FolderManifest | undefined> {
  const source = new FolderObjectStore(folder);
  const present: ObjectInfo[] = [];
  for (const fileName of MANIFEST_NAMES) {
    const info = await source.head(fileName);
    if (info) present.push(info);
  }
  if (present.length > 1) {
    throw new BadInput(
      `${folder} has ${present.length} manifests (${present.map((info) => info.key).join(", ")}); a rollout has one.`,
      "Keep one of them.",
    );
  }
  const [info] = present;
  if (!info) return undefined;
  const fileName = info.key;
  if (info.unreadable) {
    const finding = unreadableEntryFinding(fileName, info.unreadable, folder);
    throw new BadInput(`${join(folder, fileName)}: ${finding.message}`, finding.hint);
  }
  if (info.size > MAX_MANIFEST_BYTES) {
    throw new BadInput(`${join(folder, fileName)}: ${manifestTooLarge(fileName, info.size).message}`);
  }
  const bytes = await source.get(fileName);
  const text = new TextDecoder().decode(bytes);
  // An unreadable manifest is still rolled out: Prepare reports every finding in it, as for an upload.
  const read = readManifestDocument(text, extensionOf(fileName), { codePrefix: "manifest", file: fileName });
  const data = read.readable ? read.data : undefined;
  const fields = typeof data === "object" && data !== null ? (data as Record<string, unknown>) : {};
  return {
    fileName,
    text,
    ...(typeof fields["name"] === "string" ? { name: fields["name"] } : {}),
    ...(typeof fields["version"] === "string" ? { version: fields["version"] } : {}),
  };
}

function extensionOf(fileName: string): "yaml" | "yml" | "json" {
  return fileName.endsWith(".json") ? "json" : fileName.endsWith(".yml") ? "yml" : "yaml";
}

/** Where the name and version come from, for the line that says which were used. */
interface NameSources {
  readonly name: string;
  readonly version: string;
}

function rolloutName(
  folder: string,
  manifest: FolderManifest | undefined,
  nameFlag: string | undefined,
  versionFlag: string | undefined,
): { name: string; version: string; from: NameSources } {
  const disagreements = [
    manifest?.name !== undefined && nameFlag !== undefined && manifest.name !== nameFlag
      ? `--name ${nameFlag} disagrees with name: ${manifest.name}`
      : undefined,
    manifest?.version !== undefined && versionFlag !== undefined && manifest.version !== versionFlag
      ? `--version ${versionFlag} disagrees with version: ${manifest.version}`
      : undefined,
  ].filter((d) => d !== undefined);
  if (disagreements.length > 0) {
    throw new BadInput(
      `${disagreements.join("; ")} in ${manifest?.fileName}.`,
      "Drop the flag, or change the manifest.",
    );
  }
  const name = manifest?.name ?? nameFlag ?? basename(folder);
  const version = manifest?.version ?? versionFlag ?? timestampVersion(new Date());
  const from: NameSources = {
    name:
      manifest?.name !== undefined
        ? `${manifest.fileName}`
        : nameFlag !== undefined
          ? "--name"
          : `the folder's name (pass --name to choose another)`,
    version:
      manifest?.version !== undefined
        ? `${manifest.fileName}`
        : versionFlag !== undefined
          ? "--version"
          : "the time now (pass --version to choose one)",
  };
  const key = parseManifestKey(`models/${name}/${version}/modelship.yaml`);
  if (!key.ok) {
    throw new BadInput(
      `Cannot roll out as ${name} ${version} (the name from ${from.name}, the version from ${from.version}): ${key.finding.message}`,
      "Set `name:` and `version:` in the manifest, or pass --name and --version.",
    );
  }
  return { name, version, from };
}

/** `local-20250102-030405`: sortable, and unique per second. */
function timestampVersion(now: Date): string {
  const stamp = now.toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15);
  return `local-${stamp}`;
}

/**
 * Every file under the folder except the manifest and hidden files (`.git`, `.DS_Store`), as keys. What the
 * folder store will not read — a link out of the folder, a broken link, a FIFO — is refused, every one named.
 */
async function filesToCopy(
  source: FolderObjectStore,
  manifestFileName: string | undefined,
): Promise<string[]> {
  const files: string[] = [];
  const refused: string[] = [];
  const hints = new Set<string>();
  for (const info of await source.list("")) {
    if (info.key === manifestFileName || info.key.split("/").some((segment) => segment.startsWith(".")))
      continue;
    if (info.unreadable) {
      const finding = unreadableEntryFinding(info.key, info.unreadable, source.location);
      refused.push(`  ${info.key}: ${finding.message}`);
      if (finding.hint) hints.add(finding.hint);
    } else files.push(info.key);
  }
  if (refused.length > 0) {
    throw new BadInput(
      `${source.location} holds ${refused.length} file(s) that are not copied:\n${refused.join("\n")}`,
      [...hints].join(" "),
    );
  }
  return files;
}

function defaultManifest(folder: string, name: string, version: string): string {
  return [
    `# Written by \`modelship run\`: ${folder} has no manifest, so every setting is the stack's default.`,
    `name: ${name}`,
    `version: ${version}`,
    "",
  ].join("\n");
}

/** Prints `▶ Validate` when a state starts and `✔ Validate 0.4s` / `✖ …` with the reason when it ends. */
class TransitionPrinter {
  private readonly enteredAt = new Map<string, number>();
  /** States whose failure was caught: the interpreter still reports them exited, which is no success. */
  private readonly caught = new Set<string>();

  print(t: StateTransition): void {
    if (!SHOWN_STATE_TYPES.has(t.stateType)) return;
    const indent = t.iteration === undefined ? "" : "  ";
    const label = t.iteration === undefined ? t.state : `${t.state} #${t.iteration}`;
    const key = `${t.state}#${t.iteration ?? ""}`;
    const elapsed = () => `${((t.timestamp - (this.enteredAt.get(key) ?? t.timestamp)) / 1000).toFixed(1)}s`;
    switch (t.type) {
      case "entered":
        this.enteredAt.set(key, t.timestamp);
        console.log(`${indent}▶ ${label}${t.wait ? ` (${this.describeWait(t.wait)})` : ""}`);
        return;
      case "exited":
        if (!this.caught.delete(key)) console.log(`${indent}✔ ${label} ${elapsed()}`);
        return;
      case "failed":
        console.log(`${indent}✖ ${label} ${elapsed()}`);
        console.log(describeFailure(t.error, `${indent}  `));
        return;
      case "retried":
        console.log(`${indent}↻ ${label} again in ${t.retryDelaySeconds ?? 0}s`);
        this.enteredAt.set(key, t.timestamp);
        return;
      case "caught":
        this.caught.add(key);
        return;
    }
  }

  /** A line for what the rollout announced — a gate's summary, a canary step's weights, the end. */
  event(event: ModelshipEvent): void {
    console.log(`  ● ${event.detailType}: ${event.detail.message}`);
  }

  private describeWait(wait: NonNullable<StateTransition["wait"]>): string {
    return wait.scaledSeconds === wait.seconds
      ? `${wait.seconds}s`
      : `${wait.seconds}s, scaled to ${wait.scaledSeconds}s`;
  }
}

/** The error name and reason, every finding line, then the hint. */
function describeFailure(error: CaughtError | undefined, indent: string): string {
  const failure = describeCaughtError(error);
  const details = failure.message
    .split("\n")
    .slice(1)
    .filter((line) => line.trim() !== "" && !line.startsWith("Hint: "));
  return [
    `${failure.error}: ${failure.reason}`,
    ...details,
    ...(failure.hint ? [`Hint: ${failure.hint}`] : []),
  ]
    .map((line) => `${indent}${terminalText(line)}`)
    .join("\n");
}

/** The rollout's end as an exit status: 0 shipped, 3 stopped by an alarm or a command, 1 any other failure. */
function exitCodeOf(result: ExecutionResult): number {
  if (result.status === "SUCCEEDED") return 0;
  if (result.status === "FAILED" && STOPPED_ERRORS.has(result.error.Error)) return 3;
  return 1;
}

/** The errors of a rollout stopped on purpose — an abort or rollback command, an alarm — not one that failed. */
const STOPPED_ERRORS = new Set(["Aborted", "RolledBack"]);

function printResult(result: ExecutionResult, name: string, version: string): void {
  switch (result.status) {
    case "SUCCEEDED":
      console.log(`✔ ${name} ${version} shipped.`);
      return;
    case "FAILED": {
      const failure = describeCaughtError(result.error);
      if (STOPPED_ERRORS.has(failure.error)) {
        console.log(
          terminalText(
            `✖ The rollout of ${name} ${version} was ${failure.error === "Aborted" ? "aborted" : "rolled back"}: ${failure.reason}`,
          ),
        );
        return;
      }
      console.log(
        terminalText(`✖ The rollout of ${name} ${version} failed: ${failure.error}: ${failure.reason}`),
      );
      if (failure.hint) console.log(terminalText(`  Hint: ${failure.hint}`));
      return;
    }
    default:
      console.log(`✖ The rollout of ${name} ${version} ended ${result.status}.`);
  }
}

/** The rollout's report page (when a stage wrote one), its events and the records, last. */
function printWhereToLook(paths: LocalPaths, rolloutId: string, name: string, version: string): void {
  const report = join(paths.bucket, "reports", name, version, rolloutId, "report.html");
  const lines = [
    ...(existsSync(report) ? [`Report:  ${report}`] : []),
    `Events:  ${paths.events}`,
    `Records: ${paths.rollouts}`,
  ];
  console.log(lines.join("\n"));
}
