// The Serving port on this machine: each candidate is a server process on a free 127.0.0.1 port — the
// built-in llama.cpp server (lib/local/llama-server) on the version's GGUF file, or the stack's command
// template — with its output in `<home>/logs/<rolloutId>.log`. Readiness is one `GET /health` per status
// call; a process that exited is classified from its exit and log tail with the same signature table as the
// EKS adapter. The endpoint's `baseUrl` ends in `/v1`, the OpenAI SDK's convention. A server's `/metrics` is
// read as the one "pod" of its version, named after its process (a restarted server is a new pod).
//
// Processes are tracked in memory: deploying a rollout again while its process lives adopts it. A handle from
// an earlier control plane (its process is gone, or belongs to no one here) is judged by its pid. Removing
// is SIGTERM, then SIGKILL after a grace period; children are also stopped when this process ends.

import { type ChildProcess, spawn } from "node:child_process";
import { mkdir, open, readdir, readFile, stat } from "node:fs/promises";
import { createServer, type AddressInfo, type Socket } from "node:net";
import { join } from "node:path";
import type { StackConfig } from "../core/config";
import { CandidateFailed } from "../core/errors";
import { classifyFailure } from "../core/failure-signatures";
import { request } from "undici";
import { describeNetworkError, readCappedText } from "../eval/http";
import type {
  AutoscalerChoice,
  CandidateHandle,
  CandidateSpec,
  CandidateStatus,
  CapacityCheck,
  Endpoint,
  PodMetrics,
  ReplicaCount,
  Serving,
} from "../ports";
import { reapOnExit } from "./child-reaper";
import { candidateCommand } from "./serving-command";

export interface LocalServingOptions {
  /** The local runtime's home folder (`.modelship`): logs go to `<home>/logs/`. */
  readonly home: string;
  readonly config: StackConfig;
  /** The folder a bucket name stands for; the local bucket's name is its folder already (the default). */
  readonly weightsRoot?: (bucket: string) => string;
}

/** What a local handle's `details` hold. */
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

interface Candidate {
  readonly child: ChildProcess;
  readonly handle: CandidateHandle;
  readonly details: ServerDetails;
  readonly exit: Promise<Exit>;
  exited?: Exit;
  readyAt?: number;
}

const HEALTH_TIMEOUT_MS = 2_000;
const METRICS_TIMEOUT_MS = 5_000;
/** As on EKS: a server's /metrics is a few hundred kilobytes; more is a failure, not read into memory. */
const METRICS_BYTES = 4 * 1024 * 1024;
const STOP_GRACE_MS = 10_000;
const KILL_WAIT_MS = 5_000;
const LOG_TAIL_LINES = 40;
const LOG_TAIL_BYTES = 64 * 1024;
const LOG_LINE_CHARS = 1_000;
/** Set in each server's environment, so a pid can be recognised as a candidate before it is signalled. */
const ROLLOUT_ENV = "MODELSHIP_ROLLOUT_ID";

export class LocalServing implements Serving {
  private readonly candidates = new Map<string, Candidate>();
  private readonly home: string;
  private readonly config: StackConfig;
  private readonly weightsRoot: (bucket: string) => string;

  constructor(options: LocalServingOptions) {
    this.home = options.home;
    this.config = options.config;
    this.weightsRoot = options.weightsRoot ?? ((bucket) => bucket);
  }

  async deploy(spec: CandidateSpec): Promise<CandidateHandle> {
    const existing = this.candidates.get(spec.rolloutId);
    if (existing && !existing.exited) return existing.handle;

    const bucket = this.weightsRoot(spec.weights.bucket);
    const dir = join(bucket, spec.weights.prefix);
    if (!(await stat(dir).catch(() => undefined))?.isDirectory()) {
      throw new CandidateFailed(`The weights folder ${dir} does not exist.`, {
        hint: "Check that the version's files are in the local bucket under the rollout's prefix.",
      });
    }
    const port = await freePort();
    const command = await candidateCommand(this.config.local.command, {
      dir,
      weights: { bucket, prefix: spec.weights.prefix },
      port,
      servedName: spec.servedName,
      format: spec.format,
      contextSize: spec.maxModelLen,
      threads: this.config.local.threads,
    });
    const argv = [command.command, ...command.args];
    const logPath = join(this.home, "logs", `${spec.rolloutId.replace(/[^A-Za-z0-9._-]/g, "_")}.log`);
    await mkdir(join(this.home, "logs"), { recursive: true });
    const startedAt = new Date();
    const log = await open(logPath, "a");
    let child: ChildProcess;
    let exit: Promise<Exit>;
    let logOffset: number;
    try {
      await log.write(
        `--- ${startedAt.toISOString()} modelship starts ${spec.servedName} (${spec.model} ${spec.version}, ` +
          `rollout ${spec.rolloutId}) on port ${port}: ${JSON.stringify(argv)}\n`,
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

    const details: ServerDetails = {
      pid: child.pid as number,
      port,
      logPath,
      logOffset,
      startedAt: startedAt.toISOString(),
      command: argv,
      spec: structuredClone(spec),
    };
    const handle: CandidateHandle = {
      id: `local-${spec.rolloutId}`,
      model: spec.model,
      version: spec.version,
      rolloutId: spec.rolloutId,
      servedName: spec.servedName,
      deployedAt: details.startedAt,
      details: { ...details },
    };
    const candidate: Candidate = { child, handle, details, exit };
    void exit.then((exited) => {
      candidate.exited = exited;
      child.stdin?.destroy();
    });
    this.candidates.set(spec.rolloutId, candidate);
    return handle;
  }

  async status(handle: CandidateHandle): Promise<CandidateStatus> {
    const details = readDetails(handle);
    const candidate = this.tracked(handle, details);
    if (candidate?.exited) return this.exitedStatus(details, candidate.exited);
    if (!candidate && !isAlive(details.pid)) {
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
    const readyAt = candidate ? (candidate.readyAt ??= Date.now()) : Date.now();
    return { phase: "ready", readySeconds: (readyAt - Date.parse(details.startedAt)) / 1000 };
  }

  /**
   * One server process per version: a count of one (or the autoscaler's, which a version here never has) is
   * what it runs; more is refused — the manifest refuses it first (core/manifest-capacity.ts).
   */
  async scale(handle: CandidateHandle, replicas: number | "autoscaled"): Promise<void> {
    if (replicas === 1 || replicas === "autoscaled") return;
    throw new CandidateFailed(
      `The local runtime serves ${handle.model} ${handle.version} with one server process and cannot run ${replicas}.`,
      {
        hint: "Run more replicas on EKS; locally leave serving.replicas and rollout.capacity at their defaults.",
      },
    );
  }

  async replicas(handle: CandidateHandle): Promise<ReplicaCount> {
    return { desired: 1, ready: (await this.status(handle)).phase === "ready" ? 1 : 0 };
  }

  async autoscale(handle: CandidateHandle): Promise<AutoscalerChoice> {
    throw new CandidateFailed(
      `The local runtime has no autoscaler for ${handle.model} ${handle.version}: it serves one server process per version.`,
      { hint: "Autoscale on EKS; locally remove serving.autoscaling." },
    );
  }

  /** This machine's GPUs are not counted: whatever the server can use, it uses. */
  async checkCapacity(gpus: number): Promise<CapacityCheck> {
    return {
      enough: true,
      neededGpus: gpus,
      freeGpus: 0,
      reason: "The local runtime does not count GPUs: each server uses what this machine has.",
    };
  }

  async endpoint(handle: CandidateHandle, _purpose: "probe" | "load"): Promise<Endpoint> {
    const { port } = readDetails(handle);
    return { baseUrl: `http://127.0.0.1:${port}/v1`, headers: {}, servedName: handle.servedName };
  }

  async scrapeMetrics(handle: CandidateHandle): Promise<PodMetrics[]> {
    const details = readDetails(handle);
    const candidate = this.tracked(handle, details);
    if (candidate?.exited || (!candidate && !isAlive(details.pid))) return [];
    const pod = `server-pid-${details.pid}`;
    try {
      const response = await request(`http://127.0.0.1:${details.port}/metrics`, {
        headers: { accept: "text/plain;version=0.0.4" },
        signal: AbortSignal.timeout(METRICS_TIMEOUT_MS),
      });
      const text = await readCappedText(response.body, METRICS_BYTES);
      if (response.statusCode !== 200) {
        return [{ pod, error: `GET /metrics answered ${response.statusCode}: ${text.slice(0, 200).trim()}` }];
      }
      return [{ pod, text }];
    } catch (error) {
      return [{ pod, error: `GET /metrics failed: ${describeNetworkError(error)}` }];
    }
  }

  /**
   * Starts a version's server again from the handle an earlier control plane recorded (its process is gone):
   * the same spec, a new process and port, so a new handle. A server of the rollout still running here is
   * adopted instead.
   */
  async restart(handle: CandidateHandle): Promise<CandidateHandle> {
    const details = readDetails(handle);
    const candidate = this.candidates.get(handle.rolloutId);
    if (candidate && !candidate.exited) return candidate.handle;
    if (!details.spec) {
      throw new CandidateFailed(
        `The server of ${handle.model} ${handle.version} (rollout ${handle.rolloutId}) cannot be started again: its handle was recorded by an older modelship without the deploy spec.`,
        { hint: `Roll ${handle.model} out again (copy a new version into the bucket).` },
      );
    }
    if (isAlive(details.pid) && (await isCandidateProcess(details.pid, handle.rolloutId))) {
      await stopPid(details.pid);
    }
    return this.deploy(details.spec);
  }

  async remove(handle: CandidateHandle): Promise<void> {
    const details = readDetails(handle);
    const candidate = this.tracked(handle, details);
    if (candidate) {
      await stopChild(candidate);
      this.candidates.delete(handle.rolloutId);
      return;
    }
    // Not started by this control plane: signal the pid only if it is still this rollout's server.
    if (isAlive(details.pid) && (await isCandidateProcess(details.pid, handle.rolloutId))) {
      await stopPid(details.pid);
    }
  }

  async removeRollout(_model: string, rolloutId: string): Promise<string[]> {
    const candidate = this.candidates.get(rolloutId);
    if (!candidate) {
      // Started by another control plane (or before a restart): found by the marker in its environment.
      const pids = await candidatePids(rolloutId);
      for (const pid of pids) await stopPid(pid);
      return pids.map((pid) => `Stopped a server of rollout ${rolloutId} left running (pid ${pid}).`);
    }
    const { pid } = candidate.details;
    const running = !candidate.exited;
    await stopChild(candidate);
    this.candidates.delete(rolloutId);
    return running ? [`Stopped the server of rollout ${rolloutId} (pid ${pid}).`] : [];
  }

  /** Stops every candidate this instance started (test teardown, shutting the control plane down). */
  async stopAll(): Promise<void> {
    await Promise.all([...this.candidates.values()].map(stopChild));
    this.candidates.clear();
  }

  private tracked(handle: CandidateHandle, details: ServerDetails): Candidate | undefined {
    const candidate = this.candidates.get(handle.rolloutId);
    return candidate?.details.pid === details.pid ? candidate : undefined;
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

async function stopChild(candidate: Candidate): Promise<void> {
  if (candidate.exited) return;
  candidate.child.kill("SIGTERM");
  if (await exitsWithin(candidate.exit, STOP_GRACE_MS)) return;
  candidate.child.kill("SIGKILL");
  if (await exitsWithin(candidate.exit, KILL_WAIT_MS)) return;
  throw new Error(`The server process (pid ${candidate.details.pid}) did not stop, even after SIGKILL.`);
}

async function stopPid(pid: number): Promise<void> {
  process.kill(pid, "SIGTERM");
  if (await goneWithin(pid, STOP_GRACE_MS)) return;
  process.kill(pid, "SIGKILL");
  if (await goneWithin(pid, KILL_WAIT_MS)) return;
  throw new Error(`The server process (pid ${pid}) did not stop, even after SIGKILL.`);
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
