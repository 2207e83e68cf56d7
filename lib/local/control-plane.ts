// The local control plane for one home folder: what the AWS stack is, on one machine and in one process.
// The local runtime (servers, weighted gateway, prober, alarm loop that rolls back, registry, executions),
// plus a watcher on the local bucket that starts a rollout for each new manifest as the S3 event rule does,
// a watcher on registry.json whose hand-set Approved/Rejected answers a rollout waiting for approval (the Model
// Registry's state-change rule on AWS), and the control plane's admin API beside the gateway's (status, commands, uploads, following an
// execution) and the web console (console/). It announces itself in `<home>/control-plane.json`, so the CLI's `--local` commands and
// `modelship run` find it; one control plane per home.

import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import type { ModelshipEvent } from "../core/events/events";
import { parseManifestKey } from "../core/rollout/keys";
import { handleCommand } from "../pipeline/commands";
import { recordedTransition } from "../pipeline/rollout-record";
import { start, type StartOutcome } from "../pipeline/start";
import { BucketWatcher } from "./bucket-watcher";
import { controlPlaneApi } from "./control-plane-api";
import {
  findRunningControlPlane,
  NoControlPlane,
  removeControlPlaneFile,
  writeControlPlaneFile,
} from "./control-plane-file";
import { CONSOLE_PREFIX, ConsoleServer } from "./console/console-api";
import { ConsoleFeed } from "./console/console-feed";
import { ExecutionJournal } from "./execution-journal";
import { type ExecutionResult, PIPELINE_DEFINITION, type StateTransition } from "./executor";
import { registryChangeEvent, RegistryWatcher } from "./registry-watcher";
import { localPaths, type LocalRuntime, openLocalRuntime } from "./runtime";

export interface ControlPlaneOptions {
  /** The local runtime's home folder. */
  readonly home: string;
  /** Scales Wait states and retry intervals: 1 is real time. */
  readonly timeFactor: number;
  /** The gateway's port: default `local.gatewayPort` from the config; 0 = any free port. */
  readonly port?: number;
  /** Start a rollout for each manifest written into the local bucket (default true). */
  readonly watchBucket?: boolean;
  readonly onTransition?: (executionId: string, transition: StateTransition) => void;
  readonly onEvent?: (event: ModelshipEvent) => void;
  /** Each execution's end: SUCCEEDED, or FAILED with the error. */
  readonly onExecutionEnd?: (executionId: string, result: ExecutionResult) => void;
  readonly log?: (message: string) => void;
}

export interface ControlPlane {
  readonly runtime: LocalRuntime;
  readonly home: string;
  /** The gateway's base URL; OpenAI clients use `${url}/v1`. */
  readonly url: string;
  readonly port: number;
  /** Starts the rollout of a manifest already in the local bucket, as its upload does. */
  startManifest(key: string): Promise<StartOutcome>;
  /** A new one-time link that signs a browser in to the web console (`<url>/_modelship/ui/login?token=…`). */
  consoleLoginUrl(): string;
  /** Stops watching, rolls back what still runs, stops every server and loop, removes control-plane.json. */
  close(): Promise<void>;
}

/** A control plane already runs for this home; the message says which. */
export class ControlPlaneRunning extends Error {
  override readonly name = "ControlPlaneRunning";
}

export async function startControlPlane(options: ControlPlaneOptions): Promise<ControlPlane> {
  const home = resolve(options.home);
  const log = options.log ?? ((message: string) => console.error(message));
  const other = await findRunningControlPlane(home).catch((error: unknown) => {
    if (error instanceof NoControlPlane) return undefined;
    throw error;
  });
  if (other) {
    throw new ControlPlaneRunning(
      `A control plane already runs for ${home} (pid ${other.pid}, started ${other.startedAt}, gateway http://127.0.0.1:${other.gatewayPort}). Use it, or stop it first.`,
    );
  }
  const journal = new ExecutionJournal();
  // The web console's feed, once the runtime it shows is open; transitions and events reach it from then on.
  const late: { feed?: ConsoleFeed } = {};
  const runtime = await openLocalRuntime(home, {
    timeFactor: options.timeFactor,
    onTransition: (executionId, transition) => {
      journal.record(executionId, transition);
      late.feed?.transition(executionId);
      options.onTransition?.(executionId, transition);
    },
    onEvent: (event) => {
      // Who follows an execution sees its rollout's events with its states (`modelship run` prints them).
      if (journal.has(event.detail.executionArn)) journal.recordEvent(event.detail.executionArn, event);
      late.feed?.event(event);
      options.onEvent?.(event);
    },
    ...(options.port === undefined ? {} : { gatewayPort: options.port }),
    log,
  });
  const { deps, executions, gateway } = runtime;

  const startManifest = async (key: string, retryOf?: string): Promise<StartOutcome> => {
    if (retryOf === undefined) await watcher?.claim(key);
    const head = await deps.objects.head(key);
    if (!head) {
      return {
        status: "rejected",
        reason: `Nothing was started: ${key} is not in the local bucket (${localPaths(home).bucket}).`,
        findings: [],
      };
    }
    const outcome = await start(
      retryOf === undefined
        ? {
            "detail-type": "Object Created",
            detail: {
              bucket: { name: deps.objects.bucket },
              object: {
                key: key.split("/").map(encodeURIComponent).join("/"),
                ...(head.etag === undefined ? {} : { etag: head.etag }),
                ...(head.versionId === undefined ? {} : { "version-id": head.versionId }),
              },
            },
          }
        : // The same write, requested again: a new execution, named apart from the one that found the model busy.
          {
            "detail-type": "Rollout Requested",
            detail: { bucket: deps.objects.bucket, key, requestId: `retry-of-${retryOf}` },
          },
      deps,
    );
    if (outcome.status === "started") {
      journal.begin(outcome.executionId);
      const execution = executions.get(outcome.executionId);
      void execution?.result.then((result) => {
        journal.end(outcome.executionId, result);
        options.onExecutionEnd?.(outcome.executionId, result);
        if (result.status === "FAILED" && result.error.Error === "RolloutInProgress") {
          void retryWhenFree(key, outcome.executionName).catch((error: unknown) =>
            log(`${key} was not tried again: ${String(error)}`),
          );
        }
      });
    }
    return outcome;
  };

  /**
   * A manifest written again while a rollout of its earlier write ran (a manifest copied in two parts, the
   * first read half-written) found the model's lock taken by that rollout. Once that rollout ends, this write
   * is tried again — if the earlier one never took traffic; a version that served is not rolled out again.
   */
  const retryWhenFree = async (key: string, executionName: string): Promise<void> => {
    const { model, version } = parseManifestKeyParts(key);
    const holder = (await deps.store.get(model))?.lock;
    if (!holder || holder.version !== version) return;
    const running = holder.executionId === undefined ? undefined : executions.get(holder.executionId);
    if (!running) {
      log(
        `${key} was not tried again: rollout ${holder.rolloutId} of ${model} ${version} holds its lock, and this control plane is not running it.`,
      );
      return;
    }
    await running.result;
    const record = await deps.store.get(model);
    if (recordedTransition(record, holder.rolloutId, "RegisterGateway")) {
      log(
        `${key} was written again while rollout ${holder.rolloutId} of ${model} ${version} ran, and that rollout took traffic: the new write is not rolled out. Upload it as a new version.`,
      );
      return;
    }
    log(
      `${key} was written again while rollout ${holder.rolloutId} of ${model} ${version} ran; that rollout ended before it served, so the new write is rolled out now.`,
    );
    const outcome = await startManifest(key, executionName);
    if (outcome.status === "rejected") log(`${key} was not started: ${outcome.reason}`);
  };

  const watcher =
    options.watchBucket === false
      ? undefined
      : new BucketWatcher({
          bucket: localPaths(home).bucket,
          onManifest: async (key) => {
            const outcome = await startManifest(key);
            if (outcome.status === "rejected") log(`${key} was not started: ${outcome.reason}`);
          },
          log,
        });
  const registryWatcher = new RegistryWatcher({
    home,
    onEdit: async (edit) => {
      // Who set the status is read from the registry: the user who may edit the home's files (LocalRegistry).
      const outcome = await handleCommand(registryChangeEvent(edit), deps);
      const done = outcome.status === "done";
      log(
        `registry.json: ${edit.model} ${edit.version} (entry ${edit.packageVersion}, rollout ${edit.rolloutId}) set to ${edit.status} by hand${done ? "" : ", ignored"}: ${outcome.message}`,
      );
    },
    log,
  });
  const surface = {
    deps,
    gateway,
    metrics: runtime.metrics,
    journal,
    startManifest,
    serving: runtime.serving,
  };
  const api = controlPlaneApi(surface);
  gateway.mountAdmin(api);
  let consoleServer: ConsoleServer;
  try {
    late.feed = new ConsoleFeed({
      surface,
      executions,
      definition: JSON.parse(await readFile(PIPELINE_DEFINITION, "utf8")),
    });
    consoleServer = new ConsoleServer({ gateway, feed: late.feed, controlPlaneApi: api });
    gateway.mountAdmin(consoleServer.loginLinks);
    gateway.mountPages(CONSOLE_PREFIX, (request, response) => consoleServer.serve(request, response));
    await watcher?.start();
    await registryWatcher.start();
    await writeControlPlaneFile(home, {
      pid: process.pid,
      gatewayPort: gateway.port,
      startedAt: new Date().toISOString(),
    });
  } catch (error) {
    late.feed?.close();
    await watcher?.close();
    await registryWatcher.close();
    await runtime.close();
    throw error;
  }

  let closing: Promise<void> | undefined;
  return {
    runtime,
    home,
    url: gateway.url,
    port: gateway.port,
    startManifest,
    consoleLoginUrl: () => consoleServer.loginUrl(),
    close: () =>
      (closing ??= (async () => {
        late.feed?.close();
        consoleServer.auth.clear();
        await watcher?.close();
        await registryWatcher.close();
        try {
          await runtime.close();
        } finally {
          await removeControlPlaneFile(home, process.pid);
        }
      })()),
  };
}

/** The model and version a manifest key names (keys reaching here were checked by Start already). */
function parseManifestKeyParts(key: string): { model: string; version: string } {
  const parsed = parseManifestKey(key);
  return parsed.ok ? { model: parsed.name, version: parsed.version } : { model: "", version: "" };
}
