// The Serving port on this machine: each version is a set of server processes (replicas) on free 127.0.0.1
// ports — the built-in llama.cpp server (lib/local/llama-server) on the version's GGUF file, or the stack's
// command template — with their output in `<home>/logs/<rolloutId>.log` (replica 0) and
// `<rolloutId>.replica-<n>.log`. A replica is ready once its `GET /health` answers 200 (each new replica is
// polled until then); a process that exited is classified from its exit and log tail with the same signature
// table as the EKS adapter. The endpoint's `baseUrl` ends in `/v1`, the OpenAI SDK's convention. Each
// replica's `/metrics` is read as one "pod" of its version, named after its process.
//
// Replicas: `scale` starts or stops processes; a replica leaving is first taken out of the gateway's rotation
// (`replicasOf` no longer lists it), then waits until the gateway has nothing in flight to it (bounded), then
// stops. Threads are split on a small machine: a replica gets `local.threads`, or fewer when the version's
// replicas together would ask for more than the machine's cores (at least one each). The local autoscaler
// (local-autoscaler.ts) moves the count within the manifest's range on the gateway's requests per replica;
// a count the rollout sets pins it. Counts and autoscalers are kept in `<home>/serving.json`, so a restarted
// control plane starts a version with the replicas it had. A version runs at most MAX_LOCAL_REPLICAS (16)
// processes: a count above it is refused wherever it comes from (the manifest refuses it first).
//
// A replica that crashes (ends without being asked to) is replaced after a back-off that doubles with each
// crash, as Kubernetes' CrashLoopBackOff; the version stays ready while another replica serves, and is failed,
// with the crash's classification, while none does.
//
// Capacity: `local.maxServers` caps the server processes running at once, every model and version together
// (a replica draining still runs, and counts). A replica beyond the cap — an autoscaler's, a canary step's — is
// not started: it stays pending, not ready, with the reason in status, and starts when a process stops, as a
// pod Pending on a full cluster is scheduled when a node frees. A new version's first server is refused
// (InsufficientCapacity) instead: the rollout checks capacity before it deploys and waits there, so a deploy
// that meets a full machine lost a race, and the state machine goes back to waiting.
//
// Processes are tracked in memory: deploying a rollout again while its processes live adopts them. A handle
// from an earlier control plane (its process is gone, or belongs to no one here) is judged by its pid.
// Removing is SIGTERM, then SIGKILL after a grace period; children are also stopped when this process ends.

import { type ChildProcess, spawn } from "node:child_process";
import { mkdir, open, readdir, readFile, stat } from "node:fs/promises";
import { createServer, type AddressInfo, type Socket } from "node:net";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { StackConfig } from "../core/config/config";
import { CandidateFailed, InsufficientCapacity } from "../core/errors";
import { MAX_LOCAL_REPLICAS } from "../core/resolution/manifest-capacity";
import { classifyFailure } from "../core/smoke/failure-signatures";
import { request } from "undici";
import { describeNetworkError, readCappedText } from "../eval/http";
import type {
  AutoscalerChoice,
  AutoscalingSettings,
  CandidateHandle,
  CandidateSpec,
  CandidateStatus,
  CapacityCheck,
  CapacityNeed,
  Endpoint,
  PodMetrics,
  ReplicaCount,
  ReplicaRange,
  Serving,
} from "../ports";
import { writeFileAtomic } from "./atomic-write";
import { reapOnExit } from "./child-reaper";
import {
  type AutoscalerState,
  autoscaleStep,
  describeScaleCause,
  type ScaleCause,
  SLOTS_PER_SERVER,
} from "./local-autoscaler";
import { candidateCommand } from "./serving-command";
import { StateFileInvalid } from "./state-file-invalid";

export interface LocalServingOptions {
  /** The local runtime's home folder (`.modelship`): logs go to `<home>/logs/`, counts to `<home>/serving.json`. */
  readonly home: string;
  readonly config: StackConfig;
  /** The folder a bucket name stands for; the local bucket's name is its folder already (the default). */
  readonly weightsRoot?: (bucket: string) => string;
  /** How often the autoscaler measures and decides. @default 1000 (the HPA's sync period is 15 s; tiny local models answer in milliseconds) */
  readonly autoscaleEveryMs?: number;
  /** How long a replica leaving waits for the gateway's requests to it to end before it is stopped. @default 30000 */
  readonly drainMs?: number;
  /** The machine's cores, that the replicas of a version share. @default os.availableParallelism() */
  readonly cores?: number;
  /**
   * How long the replacement of a crashed replica waits after the first crash; it doubles with each crash, up
   * to 5 minutes, as Kubernetes' CrashLoopBackOff. @default 10000 (the kubelet's first delay)
   */
  readonly restartBackoffMs?: number;
}

/** What a local handle's `details` hold: the version's first replica. */
interface ServerDetails {
  readonly pid: number;
  readonly port: number;
  readonly logPath: string;
  /** Where this process's output starts in the log (a rollout deployed again appends to it). */
  readonly logOffset: number;
  /** ISO timestamp. */
  readonly startedAt: string;
  readonly command: readonly string[];
  /** What was deployed: a restarted control plane starts the same server again from it. */
  readonly spec?: CandidateSpec;
}

interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** One server process of a version. */
interface Replica {
  readonly child: ChildProcess;
  readonly details: ServerDetails;
  readonly exit: Promise<Exit>;
  exited?: Exit;
  readyAt?: number;
  /** Out of the gateway's rotation, about to stop. */
  draining: boolean;
}

/** How a replica ended: crashed (it was not asked to stop) or stopped. */
interface Ending {
  readonly details: ServerDetails;
  readonly exit: Exit;
  readonly crashed: boolean;
}

/** A version this instance serves: its replicas, the count it should run, its autoscaler. */
interface ServedVersion {
  readonly handle: CandidateHandle;
  readonly spec: CandidateSpec;
  /** The first replica's pid, the handle's: tells this deployment from an earlier one of the rollout. */
  readonly originPid: number;
  replicas: Replica[];
  desired: number;
  nextIndex: number;
  /** Replicas of `desired` not started because local.maxServers was reached; they start as servers stop. */
  pending: number;
  autoscaler?: AutoscalerState;
  lastScale?: ScaleCause;
  /** Scale changes, one after another. */
  changes: Promise<void>;
  changing: boolean;
  /** The replica that ended last: while none is ready, a crash there is the version's status. */
  lastEnding?: Ending;
  /** Crashes counted for the back-off; a replica that ran 10 minutes before it crashed starts the count again. */
  crashes: number;
  /** While set, a crashed replica's replacement waits: nothing of the version starts before this time. */
  restartAt?: number;
  restartTimer?: NodeJS.Timeout;
}

/** What `modelship status --local` shows of a version's replicas. */
export interface ReplicaStatus {
  readonly desired: number;
  readonly ready: number;
  /** Replicas waiting for a server slot (local.maxServers), and why. */
  readonly pending?: { readonly count: number; readonly reason: string };
  readonly pids: readonly number[];
  readonly autoscaler?: AutoscalingSettings & { readonly range: ReplicaRange };
  readonly lastScale?: ScaleCause & { readonly description: string };
  /** Replicas that crashed and the back-off of their replacement, once one has. */
  readonly restarts?: {
    readonly crashes: number;
    /** How the last one ended, e.g. `exit code 1` or `killed by SIGKILL`. */
    readonly lastExit: string;
    /** The wait after the last crash: doubles with each crash, up to 300 s. */
    readonly backoffSeconds: number;
    /** When the replacement starts (ISO); absent once it is started. */
    readonly replacementAt?: string;
  };
}

/** What `<home>/serving.json` keeps per rollout: enough to start a version again with its replicas. */
interface KeptScale {
  readonly desired: number;
  readonly autoscaler?: { readonly settings: AutoscalingSettings; readonly range: ReplicaRange };
}

const HEALTH_TIMEOUT_MS = 2_000;
const READY_POLL_MS = 250;
const METRICS_TIMEOUT_MS = 5_000;
/** As on EKS: a server's /metrics is a few hundred kilobytes; more is a failure, not read into memory. */
const METRICS_BYTES = 4 * 1024 * 1024;
const STOP_GRACE_MS = 10_000;
const KILL_WAIT_MS = 5_000;
const DRAIN_POLL_MS = 50;
// The kubelet's CrashLoopBackOff: "exponential back-off delay (10s, 20s, 40s, …), that is capped at five
// minutes. Once a container has executed for 10 minutes without any problems, the kubelet resets the restart
// backoff timer" (kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#container-restarts).
const MAX_RESTART_BACKOFF_MS = 300_000;
const BACKOFF_RESET_MS = 600_000;
const LOG_TAIL_LINES = 40;
const LOG_TAIL_BYTES = 64 * 1024;
const LOG_LINE_CHARS = 1_000;
/** Set in each server's environment, so a pid can be recognised as a candidate before it is signalled. */
const ROLLOUT_ENV = "MODELSHIP_ROLLOUT_ID";

export class LocalServing implements Serving {
  private readonly versions = new Map<string, ServedVersion>();
  private readonly home: string;
  private readonly config: StackConfig;
  private readonly weightsRoot: (bucket: string) => string;
  private readonly autoscaleEveryMs: number;
  private readonly drainMs: number;
  private readonly cores: number;
  private readonly restartBackoffMs: number;
  private readonly keptPath: string;
  private inFlightOf: (baseUrl: string) => number = () => 0;
  /** Server processes being started: counted against local.maxServers before they are in a version's list. */
  private starting = 0;
  private autoscaleTimer: NodeJS.Timeout | undefined;
  private keptWrites: Promise<void> = Promise.resolve();

  constructor(options: LocalServingOptions) {
    this.home = options.home;
    this.config = options.config;
    this.weightsRoot = options.weightsRoot ?? ((bucket) => bucket);
    this.autoscaleEveryMs = options.autoscaleEveryMs ?? 1_000;
    this.drainMs = options.drainMs ?? 30_000;
    this.cores = options.cores ?? availableParallelism();
    this.restartBackoffMs = options.restartBackoffMs ?? 10_000;
    this.keptPath = join(this.home, "serving.json");
  }

  /**
   * Where the requests in flight to a replica are counted (the gateway's, by the replica's base URL): the
   * autoscaler measures them and a replica leaving waits for them. Without it both see none.
   */
  countInFlightWith(inFlightOf: (baseUrl: string) => number): void {
    this.inFlightOf = inFlightOf;
  }

  async deploy(spec: CandidateSpec): Promise<CandidateHandle> {
    const existing = this.versions.get(spec.rolloutId);
    if (existing && existing.replicas.some((r) => !r.exited)) return existing.handle;

    const bucket = this.weightsRoot(spec.weights.bucket);
    const dir = join(bucket, spec.weights.prefix);
    if (!(await stat(dir).catch(() => undefined))?.isDirectory()) {
      throw new CandidateFailed(`The weights folder ${dir} does not exist.`, {
        hint: "Check that the version's files are in the local bucket under the rollout's prefix.",
      });
    }
    const full = this.serverLimitReached();
    if (full) {
      throw new InsufficientCapacity(`${spec.model} ${spec.version} was not started: ${full}`, {
        hint: "Wait for a server to stop (a rollout to end, a version to be retired), or raise local.maxServers in the local config.json.",
      });
    }
    if (existing) clearTimeout(existing.restartTimer);
    const first = await this.startCounted(spec, 0, 1);
    const handle: CandidateHandle = {
      id: `local-${spec.rolloutId}`,
      model: spec.model,
      version: spec.version,
      rolloutId: spec.rolloutId,
      servedName: spec.servedName,
      deployedAt: first.details.startedAt,
      details: { ...first.details, spec: structuredClone(spec) },
    };
    this.versions.set(spec.rolloutId, {
      handle,
      spec: structuredClone(spec),
      originPid: first.details.pid,
      replicas: [first],
      desired: 1,
      nextIndex: 1,
      pending: 0,
      changes: Promise.resolve(),
      changing: false,
      crashes: 0,
    });
    // It ended before it was listed: its exit found no version to tell.
    if (first.exited) this.replicaEnded(first);
    return handle;
  }

  async status(handle: CandidateHandle): Promise<CandidateStatus> {
    const details = readDetails(handle);
    const version = this.tracked(handle, details);
    if (version) return this.versionStatus(version);
    if (!isAlive(details.pid)) {
      return {
        phase: "failed",
        reason: "ServerGone",
        message: `The server process (pid ${details.pid}) is gone: the control plane that started it has stopped, or something else ended it.`,
        hint: "Run the rollout again to deploy the candidate again.",
        logTail: await readLogTail(details),
      };
    }
    const health = await probeHealth(details);
    if (health !== "ready") return health;
    return { phase: "ready", readySeconds: (Date.now() - Date.parse(details.startedAt)) / 1000 };
  }

  /**
   * Starts or stops server processes until the version runs `replicas` (a replica leaving drains first), and
   * pins its autoscaler to that count; `"autoscaled"` gives the autoscaler the manifest's range back (the
   * count is brought into it). Resolves once the processes are started or stopped, not when they are ready.
   */
  async scale(handle: CandidateHandle, replicas: number | "autoscaled"): Promise<void> {
    if (replicas !== "autoscaled" && (!Number.isInteger(replicas) || replicas < 0)) {
      throw new Error(`Cannot scale ${handle.id} to ${replicas} replicas: a count is a whole number ≥ 0.`);
    }
    const version = this.runningHere(handle);
    if (replicas === "autoscaled") {
      const { autoscaler } = version;
      if (!autoscaler) return;
      const { minReplicas, maxReplicas } = autoscaler.settings;
      autoscaler.range = { minReplicas, maxReplicas };
      autoscaler.history = [];
      const inRange = Math.min(maxReplicas, Math.max(minReplicas, version.desired));
      await this.change(version, inRange, "range");
      return;
    }
    if (replicas > MAX_LOCAL_REPLICAS) throw tooManyReplicas(handle, replicas);
    if (version.autoscaler) version.autoscaler.range = { minReplicas: replicas, maxReplicas: replicas };
    await this.change(version, replicas, "rollout");
  }

  async replicas(handle: CandidateHandle): Promise<ReplicaCount> {
    const details = readDetails(handle);
    const version = this.tracked(handle, details);
    if (!version) return { desired: 1, ready: (await this.status(handle)).phase === "ready" ? 1 : 0 };
    return { desired: version.desired, ready: inRotation(version).length };
  }

  /**
   * The local autoscaler for the version, on the gateway's requests per replica (local-autoscaler.ts) within
   * `range`; the manifest's own range is what `scale(…, "autoscaled")` gives back.
   */
  async autoscale(
    handle: CandidateHandle,
    settings: AutoscalingSettings,
    range: ReplicaRange,
  ): Promise<AutoscalerChoice> {
    if (settings.metric === "kvCacheUsage") {
      // The manifest refuses it first (core/resolution/manifest-capacity.ts); a state from elsewhere is refused here.
      throw new CandidateFailed(
        `The local runtime cannot autoscale ${handle.model} ${handle.version} on kvCacheUsage: its llama.cpp server evaluates one request at a time, so the KV cache follows prompt length, not load.`,
        { hint: "Use serving.autoscaling.metric: queueDepth or inFlight locally." },
      );
    }
    if (settings.metric === "queueDepth" && this.config.local.command.trim() !== "") {
      throw new CandidateFailed(
        `The local runtime cannot autoscale ${handle.model} ${handle.version} on queueDepth with local.command: how many requests its server serves at once is unknown here.`,
        { hint: "Use serving.autoscaling.metric: inFlight with local.command." },
      );
    }
    // The manifest refuses a maximum above the local cap first (core/resolution/manifest-capacity.ts).
    const most = Math.max(settings.maxReplicas, range.maxReplicas);
    if (most > MAX_LOCAL_REPLICAS) throw tooManyReplicas(handle, most);
    const version = this.runningHere(handle);
    version.autoscaler = { settings: structuredClone(settings), range: { ...range }, history: [] };
    const inRange = Math.min(range.maxReplicas, Math.max(range.minReplicas, version.desired));
    await this.change(version, inRange, "range");
    this.autoscaleTimer ??= setInterval(() => void this.autoscaleAll(), this.autoscaleEveryMs).unref();
    return {
      kind: "local",
      reason: `The local runtime scales ${handle.version} between ${settings.minReplicas} and ${settings.maxReplicas} server processes on ${settings.metric} (the gateway's ${settings.metric === "queueDepth" ? `requests waiting for one of a server's ${SLOTS_PER_SERVER} slot${SLOTS_PER_SERVER === 1 ? "" : "s"}` : "requests in flight"} per ready replica) against a target of ${settings.target}, down after ${settings.cooldownSeconds} s below it.`,
    };
  }

  /**
   * Server processes against local.maxServers: those running (draining ones too), being started and pending
   * all hold a slot. This machine's GPUs are not counted: whatever a server can use, it uses.
   */
  async checkCapacity({ gpus, replicas }: CapacityNeed): Promise<CapacityCheck> {
    const max = this.config.local.maxServers;
    if (max === undefined) {
      return {
        enough: true,
        neededGpus: gpus,
        freeGpus: 0,
        reason:
          "The local runtime sets no limit on its server processes (local.maxServers) and does not count GPUs: each server uses what this machine has.",
      };
    }
    const running = this.runningServers();
    const pending = this.pendingServers();
    const free = Math.max(0, max - running - pending);
    const waiting = pending > 0 ? ` and ${pending} wait${pending === 1 ? "s" : ""} for a slot` : "";
    return {
      enough: replicas <= free,
      neededGpus: gpus,
      freeGpus: 0,
      reason: `The rollout needs ${replicas} more server process${replicas === 1 ? "" : "es"}; ${free} of local.maxServers ${max} ${free === 1 ? "is" : "are"} free (${running} run${running === 1 ? "s" : ""}${waiting}).`,
    };
  }

  /** Processes running or being started, every version together. */
  private runningServers(): number {
    let running = this.starting;
    for (const version of this.versions.values()) running += version.replicas.filter((r) => !r.exited).length;
    return running;
  }

  private pendingServers(): number {
    let pending = 0;
    for (const version of this.versions.values()) pending += version.pending;
    return pending;
  }

  /** Why no server may start now (local.maxServers reached), or undefined when one may. */
  private serverLimitReached(): string | undefined {
    const max = this.config.local.maxServers;
    if (max === undefined) return undefined;
    const running = this.runningServers();
    return running < max
      ? undefined
      : `local.maxServers (${max}) is reached: ${running} server process${running === 1 ? "" : "es"} run${running === 1 ? "s" : ""}.`;
  }

  /**
   * Starts a server holding a slot from the moment it is decided (the count is checked and taken with no await
   * in between, so two versions never take the last slot both).
   */
  private async startCounted(spec: CandidateSpec, index: number, of: number): Promise<Replica> {
    this.starting++;
    try {
      return await this.startReplica(spec, index, of);
    } finally {
      this.starting--;
    }
  }

  /** A server stopped: versions with replicas waiting for a slot start them, oldest version first. */
  private admitPending(): void {
    for (const version of this.versions.values()) {
      if (version.pending > 0) this.queueReconcile(version);
    }
  }

  /** Reconciles the version after the changes queued before (a slot freed, a replacement's back-off ended). */
  private queueReconcile(version: ServedVersion): void {
    const run = () => this.reconcile(version).catch(() => undefined);
    version.changes = version.changes.then(run, run);
  }

  /**
   * A replica's process ended. One that was not asked to stop crashed: it is replaced, as a Deployment replaces
   * a failed pod, after a back-off that doubles with each crash (CrashLoopBackOff), so a server that cannot
   * run does not spin. Crashes while a replacement waits share its wait; it replaces them all.
   */
  private replicaEnded(replica: Replica): void {
    const version = [...this.versions.values()].find((v) => v.replicas.includes(replica));
    if (!version || !replica.exited) return;
    const crashed = !replica.draining;
    version.lastEnding = { details: replica.details, exit: replica.exited, crashed };
    if (!crashed) return;
    if (Date.now() - Date.parse(replica.details.startedAt) >= BACKOFF_RESET_MS) version.crashes = 0;
    version.crashes++;
    if (version.restartTimer) return;
    const wait = backoffMs(this.restartBackoffMs, version.crashes);
    version.restartAt = Date.now() + wait;
    version.restartTimer = setTimeout(() => {
      version.restartTimer = undefined;
      version.restartAt = undefined;
      this.queueReconcile(version);
    }, wait).unref();
  }

  /** A ready replica of the version (the first one in rotation; replica 0 while it starts). */
  async endpoint(handle: CandidateHandle, _purpose: "probe" | "load"): Promise<Endpoint> {
    const details = readDetails(handle);
    const version = this.tracked(handle, details);
    const port = (version && inRotation(version)[0]?.details.port) ?? details.port;
    return endpointAt(port, handle.servedName);
  }

  /** The replicas the gateway may send the version's requests to: ready and not draining. */
  async replicasOf(handle: CandidateHandle): Promise<readonly Endpoint[]> {
    const details = readDetails(handle);
    const version = this.tracked(handle, details);
    if (!version) return [endpointAt(details.port, handle.servedName)];
    return inRotation(version).map((replica) => endpointAt(replica.details.port, handle.servedName));
  }

  async scrapeMetrics(handle: CandidateHandle): Promise<PodMetrics[]> {
    const details = readDetails(handle);
    const version = this.tracked(handle, details);
    if (!version) return isAlive(details.pid) ? [await scrapeServer(details)] : [];
    return Promise.all(
      version.replicas
        .filter((r) => !r.exited && r.readyAt !== undefined)
        .map((r) => scrapeServer(r.details)),
    );
  }

  /** What status shows of the version's replicas; undefined for a handle this instance does not run. */
  replicaStatus(handle: CandidateHandle): ReplicaStatus | undefined {
    const version = this.tracked(handle, readDetails(handle));
    if (!version) return undefined;
    const { autoscaler, lastScale } = version;
    const full = version.pending > 0 ? this.serverLimitReached() : undefined;
    return {
      desired: version.desired,
      ready: inRotation(version).length,
      ...(version.pending > 0 && {
        pending: {
          count: version.pending,
          reason: full ?? "a server slot has just freed: starting",
        },
      }),
      pids: version.replicas.filter((r) => !r.exited).map((r) => r.details.pid),
      ...(autoscaler && { autoscaler: { ...autoscaler.settings, range: { ...autoscaler.range } } }),
      ...(lastScale && {
        lastScale: {
          ...lastScale,
          description: describeScaleCause(lastScale, autoscaler?.settings.cooldownSeconds),
        },
      }),
      ...(version.crashes > 0 && {
        restarts: {
          crashes: version.crashes,
          lastExit: describeExit(version.lastEnding?.exit),
          backoffSeconds: backoffMs(this.restartBackoffMs, version.crashes) / 1000,
          ...(version.restartAt !== undefined && {
            replacementAt: new Date(version.restartAt).toISOString(),
          }),
        },
      }),
    };
  }

  /**
   * Starts a version's servers again from the handle an earlier control plane recorded (its processes are
   * gone): the same spec, new processes and ports, so a new handle, with the replicas and autoscaler kept in
   * `<home>/serving.json`. A version of the rollout still running here is adopted instead.
   */
  async restart(handle: CandidateHandle): Promise<CandidateHandle> {
    const details = readDetails(handle);
    const running = this.versions.get(handle.rolloutId);
    if (running && running.replicas.some((r) => !r.exited)) return running.handle;
    if (!details.spec) {
      throw new CandidateFailed(
        `The server of ${handle.model} ${handle.version} (rollout ${handle.rolloutId}) cannot be started again: its handle was recorded by an older modelship without the deploy spec.`,
        { hint: `Roll ${handle.model} out again (copy a new version into the bucket).` },
      );
    }
    for (const pid of await candidatePids(handle.rolloutId)) await stopPid(pid);
    const kept = (await this.readKept())[handle.rolloutId];
    const restarted = await this.deploy(details.spec);
    if (kept) {
      const version = this.runningHere(restarted);
      if (kept.autoscaler) {
        await this.autoscale(restarted, kept.autoscaler.settings, kept.autoscaler.range);
      }
      if (kept.desired !== version.desired) await this.change(version, kept.desired, "range");
    }
    return restarted;
  }

  async remove(handle: CandidateHandle): Promise<void> {
    const details = readDetails(handle);
    const version = this.tracked(handle, details);
    if (version) {
      await this.stopVersion(version);
      return;
    }
    // Not started by this control plane: signal the pids only if they are still this rollout's servers.
    if (isAlive(details.pid) && (await isCandidateProcess(details.pid, handle.rolloutId))) {
      for (const pid of await candidatePids(handle.rolloutId)) await stopPid(pid);
    }
  }

  async removeRollout(_model: string, rolloutId: string): Promise<string[]> {
    const version = this.versions.get(rolloutId);
    if (!version) {
      // Started by another control plane (or before a restart): found by the marker in its environment.
      const said: string[] = [];
      for (const pid of await candidatePids(rolloutId)) {
        said.push(
          (await stopPid(pid)) === "stopped"
            ? `Stopped a server of rollout ${rolloutId} left running (pid ${pid}).`
            : `A server of rollout ${rolloutId} (pid ${pid}) was already gone.`,
        );
      }
      return said;
    }
    const pids = version.replicas.filter((r) => !r.exited).map((r) => r.details.pid);
    await this.stopVersion(version);
    return pids.map((pid) => `Stopped the server of rollout ${rolloutId} (pid ${pid}).`);
  }

  /** Stops every server this instance started and its autoscaler (test teardown, shutting the control plane down). */
  async stopAll(): Promise<void> {
    clearInterval(this.autoscaleTimer);
    this.autoscaleTimer = undefined;
    const versions = [...this.versions.values()];
    this.versions.clear();
    // Their counts stay in serving.json: a control plane started again brings them back.
    await Promise.all(versions.map((version) => this.stopProcesses(version)));
    await this.keptWrites;
  }

  private tracked(handle: CandidateHandle, details: ServerDetails): ServedVersion | undefined {
    const version = this.versions.get(handle.rolloutId);
    return version?.originPid === details.pid ? version : undefined;
  }

  /** The version of the handle, which must be served by this instance to be scaled. */
  private runningHere(handle: CandidateHandle): ServedVersion {
    const version = this.tracked(handle, readDetails(handle));
    if (!version) {
      throw new CandidateFailed(
        `${handle.model} ${handle.version} (rollout ${handle.rolloutId}) is not served by this local runtime: its servers were started by an earlier one.`,
        { hint: "Restart the local runtime (modelship local): it starts its stable versions again." },
      );
    }
    return version;
  }

  /**
   * As a Deployment is Available while a replica is: ready while one replica serves, even with others crashed
   * and being replaced (replicaStatus says so); failed when none serves and the last replica to end crashed —
   * the crash's classification, with when its replacement starts.
   */
  private async versionStatus(version: ServedVersion): Promise<CandidateStatus> {
    const live = version.replicas.filter((r) => !r.draining && !r.exited);
    await Promise.all(live.filter((r) => r.readyAt === undefined).map((r) => checkReady(r)));
    const ready = live.filter((r) => r.readyAt !== undefined && !r.exited);
    if (ready.length > 0) {
      const readyAt = Math.min(...ready.map((r) => r.readyAt as number));
      return { phase: "ready", readySeconds: (readyAt - Date.parse(version.handle.deployedAt)) / 1000 };
    }
    const ending = version.lastEnding;
    if (ending?.crashed) {
      const failed = await this.exitedStatus(ending.details, ending.exit);
      const replacement =
        version.restartAt !== undefined
          ? `A replacement starts in ${Math.max(0, Math.ceil((version.restartAt - Date.now()) / 1000))} s (crash ${version.crashes}: the wait doubles with each crash, up to 5 min).`
          : live.length > 0
            ? "A replacement is starting."
            : "";
      return replacement ? { ...failed, message: `${failed.message} ${replacement}` } : failed;
    }
    const [first] = live;
    if (!first && version.pending > 0) {
      return {
        phase: "pending",
        reason: "NoServerSlot",
        message: `${version.handle.version} waits for a server slot: ${this.serverLimitReached() ?? "one has just freed"}`,
      };
    }
    if (!first) {
      return {
        phase: "pending",
        reason: "ScaledToZero",
        message: `${version.handle.version} runs no server process now: it was scaled to 0 replicas.`,
      };
    }
    const health = await probeHealth(first.details);
    return health === "ready" ? { phase: "pending", reason: "Starting", message: "Starting." } : health;
  }

  /** Queues a change of the version's count; resolves once its processes are started or stopped. */
  private change(
    version: ServedVersion,
    replicas: number,
    by: ScaleCause["by"],
    cause?: ScaleCause,
  ): Promise<void> {
    // Every count is applied here, whoever asks (a rollout, Promote, the autoscaler, a restart): the cap holds.
    if (replicas > MAX_LOCAL_REPLICAS) return Promise.reject(tooManyReplicas(version.handle, replicas));
    const run = async () => {
      // Removed meanwhile: nothing to start, and nothing to keep.
      if (this.versions.get(version.handle.rolloutId) !== version) return;
      version.changing = true;
      try {
        const from = version.desired;
        version.desired = replicas;
        if (from !== replicas) {
          version.lastScale = cause ?? { at: new Date().toISOString(), from, to: replicas, by };
        }
        await this.reconcile(version);
        await this.keep(version);
      } finally {
        version.changing = false;
      }
    };
    const changed = version.changes.then(run, run);
    version.changes = changed.catch(() => undefined);
    return changed;
  }

  /** Starts or stops processes until the version runs its desired count. */
  private async reconcile(version: ServedVersion): Promise<void> {
    if (this.versions.get(version.handle.rolloutId) !== version) return;
    // A replica that crashed is replaced (replicaEnded), after its back-off: until then nothing of the version
    // starts, or a crash loop would spin through a scale change or a freed slot.
    version.replicas = version.replicas.filter((r) => !r.exited);
    const live = version.replicas.filter((r) => !r.draining);
    if (live.length < version.desired && version.restartAt !== undefined) {
      version.pending = 0;
      return;
    }
    if (live.length < version.desired) {
      let running = live.length;
      version.pending = version.desired - running;
      while (
        running < version.desired &&
        this.serverLimitReached() === undefined &&
        this.versions.get(version.handle.rolloutId) === version
      ) {
        const index = version.nextIndex++;
        const replica = await this.startCounted(version.spec, index, version.desired);
        version.replicas.push(replica);
        if (replica.exited) this.replicaEnded(replica);
        // Stopped meanwhile: the process just started belongs to no one, so it stops too.
        if (this.versions.get(version.handle.rolloutId) !== version) {
          await stopChild(replica);
          return;
        }
        running++;
        version.pending = version.desired - running;
      }
      return;
    }
    version.pending = 0;
    // The newest leave first: replica 0, the handle's, stays while the version runs any.
    const leaving = live.slice(version.desired).reverse();
    for (const replica of leaving) replica.draining = true;
    await Promise.all(leaving.map((replica) => this.drainAndStop(version, replica)));
  }

  /** Out of rotation already: waits until the gateway has nothing in flight to it (bounded), then stops it. */
  private async drainAndStop(version: ServedVersion, replica: Replica): Promise<void> {
    const key = endpointAt(replica.details.port, version.handle.servedName).baseUrl;
    const deadline = Date.now() + this.drainMs;
    // A version removed meanwhile stops at once: whoever removed it is waiting for its processes to end.
    while (
      this.inFlightOf(key) > 0 &&
      Date.now() < deadline &&
      !replica.exited &&
      this.versions.get(version.handle.rolloutId) === version
    ) {
      await sleep(DRAIN_POLL_MS);
    }
    await stopChild(replica);
    version.replicas = version.replicas.filter((r) => r !== replica);
  }

  private async stopVersion(version: ServedVersion): Promise<void> {
    if (this.versions.get(version.handle.rolloutId) === version)
      this.versions.delete(version.handle.rolloutId);
    await this.stopProcesses(version);
    await this.forget(version.handle.rolloutId);
    if (![...this.versions.values()].some((v) => v.autoscaler)) {
      clearInterval(this.autoscaleTimer);
      this.autoscaleTimer = undefined;
    }
  }

  /**
   * Stops the processes of a version already out of `versions`. A change in flight sees it gone before its next
   * start and stops what it just started; waiting for it first means no process of it outlives this.
   */
  private async stopProcesses(version: ServedVersion): Promise<void> {
    clearTimeout(version.restartTimer);
    await version.changes;
    await Promise.all(version.replicas.map(stopChild));
  }

  /** One autoscaler round: every autoscaled version not being changed measures and, if asked, scales. */
  private async autoscaleAll(): Promise<void> {
    for (const version of this.versions.values()) {
      const { autoscaler } = version;
      if (!autoscaler || version.changing) continue;
      const inFlight = inRotation(version).map((r) =>
        this.inFlightOf(endpointAt(r.details.port, version.handle.servedName).baseUrl),
      );
      const step = autoscaleStep(autoscaler, version.desired, inFlight, Date.now());
      if (!step) continue;
      await this.change(version, step.replicas, "autoscaler", step.cause).catch(() => undefined);
    }
  }

  /** Starts one server process of the version; `of` is how many replicas it will run (threads are split by it). */
  private async startReplica(spec: CandidateSpec, index: number, of: number): Promise<Replica> {
    const bucket = this.weightsRoot(spec.weights.bucket);
    const dir = join(bucket, spec.weights.prefix);
    const port = await freePort();
    const { threads } = this.config.local;
    const command = await candidateCommand(this.config.local.command, {
      dir,
      weights: { bucket, prefix: spec.weights.prefix },
      port,
      servedName: spec.servedName,
      format: spec.format,
      contextSize: spec.maxModelLen,
      // The version's replicas share the machine: never more threads than cores in all, one at least each.
      threads: threads * of > this.cores ? Math.max(1, Math.floor(this.cores / of)) : threads,
    });
    const argv = [command.command, ...command.args];
    const name = spec.rolloutId.replace(/[^A-Za-z0-9._-]/g, "_");
    const logPath = join(this.home, "logs", index === 0 ? `${name}.log` : `${name}.replica-${index}.log`);
    await mkdir(join(this.home, "logs"), { recursive: true });
    const startedAt = new Date();
    const log = await open(logPath, "a");
    let child: ChildProcess;
    let exit: Promise<Exit>;
    let logOffset: number;
    try {
      await log.write(
        `--- ${startedAt.toISOString()} modelship starts ${spec.servedName} (${spec.model} ${spec.version}, ` +
          `rollout ${spec.rolloutId}, replica ${index}) on port ${port}: ${JSON.stringify(argv)}\n`,
      );
      logOffset = (await log.stat()).size;
      child = spawn(command.command, command.args, {
        stdio: [command.stdin, log.fd, log.fd],
        env: { ...process.env, [ROLLOUT_ENV]: spec.rolloutId },
        detached: false,
      });
      exit = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
      await spawned(child);
    } catch (error) {
      throw new CandidateFailed(
        `Could not start the server \`${command.command}\`: ${(error as Error).message}.`,
        {
          hint: this.config.local.command
            ? "Check `local.command` in the local config.json: its program must exist and be executable (on PATH, or an absolute path)."
            : "The built-in llama.cpp server could not be started: check that node-llama-cpp is installed (`npm ls node-llama-cpp`).",
          cause: error,
        },
      );
    } finally {
      await log.close();
    }
    // A leaked candidate must not keep the control plane alive: the exit hooks stop it instead.
    child.unref();
    (child.stdin as Socket | null)?.unref();
    reapOnExit(child);

    const replica: Replica = {
      child,
      details: {
        pid: child.pid as number,
        port,
        logPath,
        logOffset,
        startedAt: startedAt.toISOString(),
        command: argv,
      },
      exit,
      draining: false,
    };
    void exit.then((exited) => {
      replica.exited = exited;
      child.stdin?.destroy();
      this.replicaEnded(replica);
      // Its slot is free: a replica waiting for one starts (local.maxServers).
      this.admitPending();
    });
    void untilReady(replica);
    return replica;
  }

  /** Keeps the version's count and autoscaler in `<home>/serving.json`, after earlier writes. */
  private keep(version: ServedVersion): Promise<void> {
    const { autoscaler } = version;
    const entry: KeptScale = {
      desired: version.desired,
      ...(autoscaler && { autoscaler: { settings: autoscaler.settings, range: autoscaler.range } }),
    };
    return this.updateKept((kept) => ({ ...kept, [version.handle.rolloutId]: entry }));
  }

  private forget(rolloutId: string): Promise<void> {
    return this.updateKept((kept) => {
      const { [rolloutId]: _gone, ...rest } = kept;
      return rest;
    });
  }

  private updateKept(update: (kept: Record<string, KeptScale>) => Record<string, KeptScale>): Promise<void> {
    const written = this.keptWrites.then(async () => {
      const kept = update(await this.readKept());
      await writeFileAtomic(this.keptPath, `${JSON.stringify({ versions: kept }, null, 2)}\n`);
    });
    this.keptWrites = written.catch(() => undefined);
    return written;
  }

  /** The kept counts by rollout; a file this version of modelship did not write is refused, not overwritten. */
  private async readKept(): Promise<Record<string, KeptScale>> {
    let text: string;
    try {
      text = await readFile(this.keptPath, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return {};
      throw error;
    }
    const problems: string[] = [];
    let versions: unknown;
    try {
      versions = (JSON.parse(text) as { versions?: unknown }).versions;
    } catch (error) {
      problems.push(`it is not JSON: ${(error as Error).message}`);
    }
    if (
      problems.length === 0 &&
      (typeof versions !== "object" || versions === null || Array.isArray(versions))
    ) {
      problems.push('it has no "versions" object');
    }
    for (const [rolloutId, entry] of Object.entries((problems.length === 0 ? versions : {}) as object)) {
      const kept = entry as { desired?: unknown; autoscaler?: unknown } | null;
      const desired = kept?.desired;
      if (typeof desired !== "number" || !Number.isInteger(desired) || desired < 0) {
        problems.push(`versions.${rolloutId}.desired must be a whole number ≥ 0`);
      } else if (desired > MAX_LOCAL_REPLICAS) {
        problems.push(
          `versions.${rolloutId}.desired is ${desired}, above the ${MAX_LOCAL_REPLICAS} server processes the local runtime runs per version`,
        );
      }
      const autoscaler = kept?.autoscaler as
        { settings?: { maxReplicas?: unknown }; range?: { maxReplicas?: unknown } } | undefined;
      for (const field of ["settings", "range"] as const) {
        const most = autoscaler?.[field]?.maxReplicas;
        if (typeof most === "number" && most > MAX_LOCAL_REPLICAS) {
          problems.push(
            `versions.${rolloutId}.autoscaler.${field}.maxReplicas is ${most}, above the ${MAX_LOCAL_REPLICAS} server processes the local runtime runs per version`,
          );
        }
      }
    }
    if (problems.length > 0) {
      throw new StateFileInvalid(
        this.keptPath,
        "the local runtime's replica counts",
        problems,
        "Fix it, or move it away: the versions then start again with one server process each.",
      );
    }
    return versions as Record<string, KeptScale>;
  }

  private async exitedStatus(details: ServerDetails, exit: Exit): Promise<CandidateStatus> {
    const logTail = await readLogTail(details);
    const classified = classifyFailure(
      { reasons: [], messages: [], logTail, ...(exit.code === null ? {} : { exitCode: exit.code }) },
      this.config.serving.failureSignatures,
    );
    if (classified) {
      return {
        phase: "failed",
        reason: classified.reason,
        message: classified.message,
        hint: classified.hint,
        logTail,
      };
    }
    if (exit.signal !== null) {
      return {
        phase: "failed",
        reason: "ServerKilled",
        message: `The server process was killed by ${exit.signal}${exit.signal === "SIGKILL" ? " (by the kernel's out-of-memory killer, or by kill -9)" : ""}.`,
        hint: "If nothing stopped it on purpose, check the machine's free memory (`dmesg | grep -i oom`) and serve a smaller model or context (serving.maxModelLen).",
        logTail,
      };
    }
    return {
      phase: "failed",
      reason: "ServerExited",
      message: `The server process exited with code ${exit.code}.`,
      hint: "Read the log tail for the first error.",
      logTail,
    };
  }
}

/** The wait before the replacement of a version's `crashes`-th crashed replica. */
function backoffMs(firstMs: number, crashes: number): number {
  return Math.min(MAX_RESTART_BACKOFF_MS, firstMs * 2 ** Math.max(0, crashes - 1));
}

function describeExit(exit: Exit | undefined): string {
  if (!exit) return "unknown";
  return exit.signal !== null ? `killed by ${exit.signal}` : `exit code ${exit.code}`;
}

function tooManyReplicas(handle: CandidateHandle, replicas: number): CandidateFailed {
  return new CandidateFailed(
    `The local runtime runs at most ${MAX_LOCAL_REPLICAS} server processes per version; ${handle.model} ${handle.version} asked for ${replicas}.`,
    {
      hint: `Set serving.replicas (or serving.autoscaling.maxReplicas) to ${MAX_LOCAL_REPLICAS} or fewer for a local rollout; larger fleets run on EKS.`,
    },
  );
}

/** One `GET /health`: ready, or why not yet. */
async function probeHealth(details: ServerDetails): Promise<"ready" | CandidateStatus> {
  let status: number;
  try {
    const response = await fetch(`http://127.0.0.1:${details.port}/health`, {
      signal: AbortSignal.timeout(HEALTH_TIMEOUT_MS),
    });
    await response.body?.cancel();
    status = response.status;
  } catch {
    return {
      phase: "pending",
      reason: "Starting",
      message: `The server process (pid ${details.pid}) is starting: nothing answers on port ${details.port} yet.`,
    };
  }
  if (status === 200) return "ready";
  return status === 503
    ? { phase: "pending", reason: "Loading", message: "The server is up and loading the model." }
    : { phase: "pending", reason: "Starting", message: `The server answers GET /health with ${status}.` };
}

async function stopChild(replica: Replica): Promise<void> {
  if (replica.exited) return;
  replica.draining = true;
  replica.child.kill("SIGTERM");
  if (await exitsWithin(replica.exit, STOP_GRACE_MS)) return;
  replica.child.kill("SIGKILL");
  if (await exitsWithin(replica.exit, KILL_WAIT_MS)) return;
  throw new Error(`The server process (pid ${replica.details.pid}) did not stop, even after SIGKILL.`);
}

/** The replicas the gateway may send requests to: ready, running and not draining. */
function inRotation(version: ServedVersion): Replica[] {
  return version.replicas.filter((r) => r.readyAt !== undefined && !r.exited && !r.draining);
}

function endpointAt(port: number, servedName: string): Endpoint {
  return { baseUrl: `http://127.0.0.1:${port}/v1`, headers: {}, servedName };
}

/** Marks the replica ready when its `GET /health` answers 200; true when it is. */
async function checkReady(replica: Replica): Promise<boolean> {
  if (replica.readyAt !== undefined) return true;
  if ((await probeHealth(replica.details)) !== "ready" || replica.exited) return false;
  replica.readyAt ??= Date.now();
  return true;
}

/** Polls a new replica's health until it is ready, exits or is taken away: the gateway sends it nothing before. */
async function untilReady(replica: Replica): Promise<void> {
  while (!replica.exited && !replica.draining && !(await checkReady(replica))) {
    await sleep(READY_POLL_MS, undefined, { ref: false });
  }
}

/** One server's `/metrics`, as a pod named after its process. */
async function scrapeServer(details: Pick<ServerDetails, "pid" | "port">): Promise<PodMetrics> {
  const pod = `server-pid-${details.pid}`;
  try {
    const response = await request(`http://127.0.0.1:${details.port}/metrics`, {
      headers: { accept: "text/plain;version=0.0.4" },
      signal: AbortSignal.timeout(METRICS_TIMEOUT_MS),
    });
    const text = await readCappedText(response.body, METRICS_BYTES);
    if (response.statusCode !== 200) {
      return { pod, error: `GET /metrics answered ${response.statusCode}: ${text.slice(0, 200).trim()}` };
    }
    return { pod, text };
  } catch (error) {
    return { pod, error: `GET /metrics failed: ${describeNetworkError(error)}` };
  }
}

/**
 * Stops a process by pid: SIGTERM, then SIGKILL after the grace period. A pid listed a moment ago may be gone by
 * the time it is signalled (a server's stop can take its helpers with it): that is "gone", not a failure, so a
 * loop over a rollout's pids stops the rest.
 */
async function stopPid(pid: number): Promise<"stopped" | "gone"> {
  if (!signal(pid, "SIGTERM")) return "gone";
  if (await goneWithin(pid, STOP_GRACE_MS)) return "stopped";
  if (!signal(pid, "SIGKILL")) return "stopped";
  if (await goneWithin(pid, KILL_WAIT_MS)) return "stopped";
  throw new Error(`The server process (pid ${pid}) did not stop, even after SIGKILL.`);
}

/** Sends the signal; false when no such process exists any more (ESRCH, see kill(2)). */
function signal(pid: number, name: NodeJS.Signals): boolean {
  try {
    process.kill(pid, name);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ESRCH") return false;
    throw error;
  }
}

function exitsWithin(exit: Promise<Exit>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  return Promise.race([exit.then(() => true), timeout]).finally(() => clearTimeout(timer));
}

async function goneWithin(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (isAlive(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return true;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The processes that carry this rollout's marker (Linux /proc; elsewhere none are found). */
async function candidatePids(rolloutId: string): Promise<number[]> {
  const entries = await readdir("/proc").catch(() => [] as string[]);
  const pids = entries
    .filter((e) => /^\d+$/.test(e))
    .map(Number)
    .filter((pid) => pid !== process.pid);
  const marked = await Promise.all(pids.map((pid) => isCandidateProcess(pid, rolloutId)));
  return pids.filter((_, i) => marked[i]);
}

/** Whether the process carries this rollout's marker in its environment (Linux /proc; elsewhere unknown: no). */
async function isCandidateProcess(pid: number, rolloutId: string): Promise<boolean> {
  try {
    const environment = await readFile(`/proc/${pid}/environ`, "utf8");
    return environment.split("\0").includes(`${ROLLOUT_ENV}=${rolloutId}`);
  } catch {
    return false;
  }
}

function spawned(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    child.once("spawn", resolve);
    child.once("error", reject);
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function readLogTail(details: ServerDetails): Promise<string[]> {
  let text: string;
  try {
    const file = await open(details.logPath, "r");
    try {
      const { size } = await file.stat();
      const start = Math.max(details.logOffset, size - LOG_TAIL_BYTES);
      const buffer = Buffer.alloc(Math.max(0, size - start));
      await file.read(buffer, 0, buffer.length, start);
      text = buffer.toString("utf8");
      // Cut inside the log: the first line is partial.
      if (start > details.logOffset) text = text.slice(text.indexOf("\n") + 1);
    } finally {
      await file.close();
    }
  } catch {
    return [];
  }
  return text
    .split("\n")
    .filter((line) => line.trim() !== "")
    .slice(-LOG_TAIL_LINES)
    .map((line) => (line.length > LOG_LINE_CHARS ? `${line.slice(0, LOG_LINE_CHARS)}…` : line));
}

function readDetails(handle: CandidateHandle): ServerDetails {
  const details = handle.details ?? {};
  const { pid, port, logPath, logOffset, startedAt, command, spec } = details;
  if (
    typeof pid !== "number" ||
    typeof port !== "number" ||
    typeof logPath !== "string" ||
    typeof logOffset !== "number" ||
    typeof startedAt !== "string" ||
    !Array.isArray(command)
  ) {
    throw new Error(
      `The candidate handle ${handle.id} was not made by the local serving adapter: its details lack pid, port, logPath, logOffset, startedAt or command.`,
    );
  }
  return {
    pid,
    port,
    logPath,
    logOffset,
    startedAt,
    command: command as string[],
    ...(typeof spec === "object" && spec !== null ? { spec: spec as CandidateSpec } : {}),
  };
}
