// The ports: everything a stage needs from the world. Stages (lib/pipeline) depend only on these
// interfaces; lib/aws implements them on AWS and lib/local on one machine. Adapters are thin — the logic
// lives once, in the stages and lib/core. A new need from the world becomes a method here, with both adapters.

import type { AlarmMetricHistory, TimeSpan } from "./core/alarms/alarm-history";
import type { AlarmSpec, AlarmState } from "./core/alarms/alarm-spec";
import type { Observation, TrafficPeriod } from "./core/alarms/canary-metrics";
import type { CandidateHandle, Variant } from "./core/candidate";
import type { ModelshipEvent } from "./core/events/events";
import type { ResolvedScaling } from "./core/manifest/manifest-schema";
import type {
  EndClaim,
  ExecutionInput,
  LockHolder,
  ModelRecord,
  RecordField,
  Transition,
} from "./core/rollout/rollout";
import type { Mirror } from "./core/traffic/shadow";
import type { ShadowSamples } from "./core/traffic/shadow-samples";
import type { RouteBackend } from "./core/traffic/route-slots";
import type { Stickiness } from "./core/manifest/rollout-settings";
import type { UnreadableEntry } from "./core/weights/unreadable-entry";

// Domain types stages and adapters name through the ports; they live in lib/core, which imports nothing above it.
export type { Observation, RouteBackend, TrafficPeriod, Variant };

// ── ObjectStore: the bucket ──────────────────────────────────────────────────────────────────────────

export interface ObjectInfo {
  readonly key: string;
  readonly size: number;
  readonly etag?: string;
  readonly versionId?: string;
  /** ISO timestamp. */
  readonly lastModified?: string;
  /** Base64 SHA-256 as S3 reports it (`ChecksumSHA256`). */
  readonly checksumSha256?: string;
  /** `FULL_OBJECT`: the checksum is of the whole object and comparable to a file's sha256. */
  readonly checksumType?: "FULL_OBJECT" | "COMPOSITE";
  /**
   * Set when a folder-backed store lists an entry it will not read (a link out of its folder, a FIFO …):
   * its size is 0 and reading it throws. S3 never sets it.
   */
  readonly unreadable?: UnreadableEntry;
}

/**
 * Which version of an object to read: the S3 version id an upload's event carries, or, in an unversioned
 * bucket, the ETag it had. A read asking for a version that no longer matches finds nothing.
 */
export interface ObjectVersion {
  readonly versionId?: string;
  readonly etag?: string;
}

export interface ObjectStore {
  /** Where it is, for messages: `s3://bucket` or a folder path. */
  readonly location: string;
  /** The bucket's name as upload events and rollouts name it: the S3 bucket's name, or the folder's path. */
  readonly bucket: string;
  /** Every object under the prefix (all pages), sorted by key. */
  list(prefix: string): Promise<ObjectInfo[]>;
  /** Undefined when the object (in that version, when one is given) does not exist. */
  head(key: string, version?: ObjectVersion): Promise<ObjectInfo | undefined>;
  /** Bytes [start, start + length); fewer at the end of the object. Throws if the object does not exist. */
  getRange(key: string, start: number, length: number): Promise<Uint8Array>;
  /**
   * The whole object, or undefined when it (in that version, when one is given) does not exist. For small
   * objects (manifests, configs).
   */
  get(key: string, version?: ObjectVersion): Promise<Uint8Array | undefined>;
  put(key: string, body: Uint8Array | string, options?: { readonly contentType?: string }): Promise<void>;
}

// ── RolloutStore: what serves each model, the per-model lock, de-duplication ─────────────────────────

export type LockResult =
  { readonly acquired: true } | { readonly acquired: false; readonly holder: LockHolder };

/** Fields of the model record a transition changes; null clears a field. */
export type RecordChanges = {
  readonly [K in RecordField]?: NonNullable<ModelRecord[K]> | null;
};

/** How a transition is written (DESIGN §8, ownership: a stage writes only while its rollout holds the lock). */
export interface RecordOptions {
  /**
   * Write only while the transition's rollout owns the model: it holds the lock, and no stage other than the
   * transition's has claimed the rollout's end. Otherwise nothing is written and the store throws `RolledBack`.
   */
  readonly owned?: boolean;
  /** Release the lock in the same write: the rollout's last transition. Implies `owned`. */
  readonly releaseLock?: boolean;
  /**
   * Events to announce once this write has landed (a transactional outbox): kept with the model until
   * `markAnnounced`, so a stage that fails between its write and the emit announces them on its retry, and an
   * event that says a rollout is over can be written with the write that frees its lock and emitted after it.
   */
  readonly announce?: readonly ModelshipEvent[];
}

export type EndClaimResult =
  | { readonly claimed: true }
  /** The rollout does not hold the lock (`lock` is whoever does), or another stage claimed its end first. */
  | { readonly claimed: false; readonly lock?: LockHolder };

/** An event a write left to announce; `id` orders a rollout's events and names them to `markAnnounced`. */
export interface PendingEvent {
  readonly id: string;
  readonly event: ModelshipEvent;
}

export interface RolloutStore {
  /** Takes the model's lock. Idempotent: the same rollout taking it again succeeds. */
  acquireLock(model: string, holder: LockHolder): Promise<LockResult>;
  /** Releases the lock if this rollout holds it; a no-op otherwise (safe to call twice). */
  releaseLock(model: string, rolloutId: string): Promise<void>;
  /**
   * Claims the end of the rollout holding the lock for `claim.stage` (Rollback or Finalize), conditionally:
   * only while `rolloutId` holds the lock and no other stage claimed its end. Claiming again for the same
   * stage succeeds (a retry, or a second rollback caller).
   */
  claimEnd(model: string, rolloutId: string, claim: EndClaim): Promise<EndClaimResult>;
  /** Appends a transition to the model's history and applies the changes, in one write. */
  record(
    model: string,
    transition: Transition,
    changes?: RecordChanges,
    options?: RecordOptions,
  ): Promise<void>;
  /** The events the rollout's writes left to announce, oldest first. */
  pendingEvents(model: string, rolloutId: string): Promise<PendingEvent[]>;
  /** Forgets announced events; unknown ids are fine (announced twice). */
  markAnnounced(model: string, ids: readonly string[]): Promise<void>;
  get(model: string): Promise<ModelRecord | undefined>;
  list(): Promise<ModelRecord[]>;
  /** True for the first claim of a key, false for every repeat: de-duplicates deliveries. */
  claimOnce(key: string): Promise<boolean>;
  /** Results kept with a version (its stress and eval results) for later regression gates. */
  saveVersionResults(
    model: string,
    version: string,
    results: Readonly<Record<string, unknown>>,
  ): Promise<void>;
  getVersionResults(model: string, version: string): Promise<Readonly<Record<string, unknown>> | undefined>;
}

// ── Events ───────────────────────────────────────────────────────────────────────────────────────────

export interface Events {
  emit(event: ModelshipEvent): Promise<void>;
}

// ── Executions: starting a rollout ───────────────────────────────────────────────────────────────────

export interface StartedExecution {
  /** The execution ARN on AWS, the local execution id locally. */
  readonly executionId: string;
  /** True when this name was already started (a duplicate delivery): one rollout, not two. */
  readonly alreadyStarted: boolean;
}

export interface Executions {
  /** The id an execution of this name has (the ARN on AWS), known before it starts so the input can carry it. */
  idFor(name: string): string;
  /** Starts the pipeline under a readable, deterministic name; the same name twice is the same rollout. */
  start(name: string, input: ExecutionInput): Promise<StartedExecution>;
  /**
   * Resumes the execution whose `.waitForTaskToken` Task waits on `token`, with `output` as the Task's
   * result. False when no Task waits on it any more (answered already, timed out, its execution ended).
   */
  sendTaskSuccess(token: string, output: Readonly<Record<string, unknown>>): Promise<boolean>;
  /** Fails that Task with `error` (its Catch sees the name) and `cause`; false as for `sendTaskSuccess`. */
  sendTaskFailure(token: string, error: string, cause: string): Promise<boolean>;
}

// ── Clock ────────────────────────────────────────────────────────────────────────────────────────────

export interface Clock {
  now(): Date;
  /**
   * Resolves after `ms` milliseconds (a test's clock moves its time instead). Only for short, bounded waits
   * inside one stage call, well within its timeout — a wait of minutes is the state machine's (a Wait state).
   */
  sleep(ms: number): Promise<void>;
}

// ── Serving: the candidate workload ──────────────────────────────────────────────────────────────────

export interface CandidateSpec {
  readonly model: string;
  readonly version: string;
  readonly rolloutId: string;
  /** The name the server answers to in `/v1/models` and `model`. */
  readonly servedName: string;
  readonly runtime: "vllm" | "llama.cpp";
  readonly image: string;
  readonly gpus: number;
  readonly maxModelLen: number;
  readonly extraArgs: readonly string[];
  readonly format: "safetensors" | "gguf";
  /** Where the weights are: bucket + prefix (AWS) or a folder (local). */
  readonly weights: { readonly bucket: string; readonly prefix: string };
  /** Bytes of weights, to size the volume and the startup budget. */
  readonly weightBytes: number;
}

export type { CandidateHandle } from "./core/candidate";

/** What an autoscaler follows: the manifest's `serving.autoscaling`, resolved. */
export type AutoscalingSettings = Extract<ResolvedScaling, { kind: "autoscaling" }>;

export interface CandidateStatus {
  readonly phase: "pending" | "ready" | "failed";
  /** Why it is pending or failed, classified (e.g. `ImagePullBackOff`, `Unschedulable`). */
  readonly reason?: string;
  readonly message?: string;
  readonly hint?: string;
  readonly logTail?: readonly string[];
  /** Seconds from deploy to ready. */
  readonly readySeconds?: number;
}

/** How to reach a server: an OpenAI-compatible base URL plus headers (auth for a proxy). */
export interface Endpoint {
  readonly baseUrl: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly servedName: string;
  /** A CA certificate (PEM) to trust for `baseUrl`, when a private CA signed its server's (the EKS API server's). */
  readonly caCertificate?: string;
}

/** One serving pod's Prometheus metrics (`GET /metrics`, capped in size), or why they could not be read. */
export interface PodMetrics {
  /** The pod's name (locally: the server process), unique while it runs; a restarted pod may keep it. */
  readonly pod: string;
  readonly text?: string;
  readonly error?: string;
}

/** A workload's replicas: how many it should run, and how many are ready (pass their readiness probe). */
export interface ReplicaCount {
  readonly desired: number;
  readonly ready: number;
}

/** The replicas an autoscaler may choose between; min = max pins the workload to a count. */
export interface ReplicaRange {
  readonly minReplicas: number;
  readonly maxReplicas: number;
}

/** Which autoscaler a runtime made for a version, and why that one, in a sentence. */
export interface AutoscalerChoice {
  /**
   * `keda`: a KEDA ScaledObject; `hpa`: an autoscaling/v2 HorizontalPodAutoscaler; `local`: the local
   * runtime's own autoscaler, on the gateway's requests per replica.
   */
  readonly kind: "keda" | "hpa" | "local";
  readonly reason: string;
}

/** Whether the cluster has room for more GPUs of the stack's kind, with the numbers that decided it. */
/** What a rollout needs beyond what already runs, at its capacity plan's peak. */
export interface CapacityNeed {
  readonly gpus: number;
  /** Replicas (server processes, pods) more than run now. */
  readonly replicas: number;
}

export interface CapacityCheck {
  readonly enough: boolean;
  /** GPUs asked for, beyond what is already running. */
  readonly neededGpus: number;
  /** GPUs allocatable and not requested by running pods, on the nodes the stack's GPU selector picks. */
  readonly freeGpus: number;
  /** GPUs node autoscaling (Karpenter NodePools' limits) may still add; absent when unbounded or none. */
  readonly provisionableGpus?: number;
  /** The numbers in a sentence, for the event and the status. */
  readonly reason: string;
}

export interface Serving {
  /** Creates the workload; deploying the same candidate twice adopts the existing one. */
  deploy(spec: CandidateSpec): Promise<CandidateHandle>;
  status(handle: CandidateHandle): Promise<CandidateStatus>;
  /** `probe`: light traffic (smoke, eval); `load`: heavy traffic (stress), possibly by another route. */
  endpoint(handle: CandidateHandle, purpose: "probe" | "load"): Promise<Endpoint>;
  /**
   * The `/metrics` of every ready pod of the workload (on EKS through the API server's pods proxy). Throws
   * when the pods cannot be listed; a pod whose metrics cannot be read is an entry with its `error`.
   */
  scrapeMetrics(handle: CandidateHandle): Promise<PodMetrics[]>;
  /**
   * Sets the workload to `replicas` and pins its autoscaler, when it has one, to that count (the canary's
   * capacity plan decides it); `"autoscaled"` gives the autoscaler back the range it had before it was pinned
   * (a no-op without one). Idempotent. Readiness is read with `replicas`.
   */
  scale(handle: CandidateHandle, replicas: number | "autoscaled"): Promise<void>;
  /** The workload's desired and ready replicas. */
  replicas(handle: CandidateHandle): Promise<ReplicaCount>;
  /**
   * Creates or updates the workload's autoscaler on the manifest's signal within `range` (the manifest's
   * range, or a pinned count during a canary); answers which kind it made and why. Made pinned (min = max),
   * it keeps the settings' own range for `scale(…, "autoscaled")` to give back at Promote. The autoscaler goes
   * with the workload: `remove` takes both.
   */
  autoscale(
    handle: CandidateHandle,
    settings: AutoscalingSettings,
    range: ReplicaRange,
  ): Promise<AutoscalerChoice>;
  /**
   * Whether what the rollout needs beyond what already runs fits now: on EKS `gpus` more GPUs of the stack's
   * kind, free on its GPU nodes or addable within node autoscaling limits (0 GPUs always fit); locally
   * `replicas` more server processes under `local.maxServers`.
   */
  checkCapacity(need: CapacityNeed): Promise<CapacityCheck>;
  /** Deletes the workload (and its autoscaler); removing twice is fine. */
  remove(handle: CandidateHandle): Promise<void>;
  /**
   * Deletes every workload of a rollout, found by its rollout label or marker, with or without a handle:
   * Cleanup's safety net for a deploy that failed half-way. Returns what it removed, in sentences.
   */
  removeRollout(model: string, rolloutId: string): Promise<string[]>;
}

// ── Gateway: the model's route and weights ───────────────────────────────────────────────────────────

export interface RouteState {
  readonly model: string;
  readonly backends: readonly RouteBackend[];
  /** The conversation key that keeps a request on one version while the split lasts (`rollout.stickiness`). */
  readonly stickiness?: Stickiness;
  /** A shadow's mirror: a share of the stable's requests copied to the candidate (core/traffic/shadow.ts). */
  readonly mirror?: Mirror;
}

export interface Gateway {
  /**
   * Adds the candidate at weight 0 plus a rule for `x-modelship-variant: candidate`; creates the route on a
   * first release. `stickiness` is the rollout's conversation key (none when omitted), from now on.
   */
  register(model: string, candidate: CandidateHandle, stickiness?: Stickiness): Promise<void>;
  /**
   * Percent to stable and candidate; the two add up to 100. `stickiness`, the rollout's conversation key (none
   * when omitted): a request carrying it goes to the version its key hashes to in this split, or, where the
   * gateway has only session persistence, stays on the backend it was first sent to.
   */
  setWeights(
    model: string,
    weights: { readonly stable: number; readonly candidate: number },
    stickiness?: Stickiness,
  ): Promise<void>;
  /** The candidate becomes the stable backend at 100%; the split and its stickiness are over. */
  promote(model: string, version: string): Promise<void>;
  removeBackend(model: string, version: string): Promise<void>;
  describe(model: string): Promise<RouteState | undefined>;
  /**
   * Starts copying `mirror.percent` of the requests the stable answers to `mirror.version` (the route's
   * candidate), fire and forget: the user's answer is the stable's, never waiting on the copy; the candidate's
   * answers are thrown away. Undefined stops it; a promotion, or removing stable or candidate, stops it too.
   */
  mirror(model: string, mirror: Mirror | undefined): Promise<void>;
  /** The paired answers the gateway kept of the model's last shadow, or why it keeps none (on EKS). */
  shadowSamples(model: string): Promise<ShadowSamples>;
}

// ── Registry: the model registry's lifecycle ─────────────────────────────────────────────────────────

export type ApprovalStatus = "PendingManualApproval" | "Approved" | "Rejected";

export interface RegistryEntry {
  readonly model: string;
  readonly version: string;
  readonly rolloutId: string;
  /** Where the weights are, e.g. `s3://bucket/models/m/v2/`. */
  readonly artifactUri: string;
  /** Report name → URI (`stress`, `eval`, `validation`, `html`). */
  readonly reportUris: Readonly<Record<string, string>>;
  /** Gate summaries as strings. */
  readonly metadata: Readonly<Record<string, string>>;
}

/** A registered version as the registry describes it now: what a person's status change is read from. */
export interface RegistryVersion {
  readonly status: ApprovalStatus | undefined;
  /** The reason given with the status (SageMaker's ApprovalDescription), when one was. */
  readonly statusReason?: string;
  /** The rollout that registered the version, as modelship recorded it; absent when modelship did not. */
  readonly rollout?: { readonly model: string; readonly version: string; readonly rolloutId: string };
  /** Who last changed it: an IAM principal's ARN (or a SageMaker Studio user) on AWS, a user name locally. */
  readonly lastModifiedBy?: string;
}

export interface Registry {
  /** Creates the version (and the model's group on first use); idempotent per rollout. */
  register(entry: RegistryEntry): Promise<{ readonly id: string }>;
  setStatus(model: string, version: string, status: ApprovalStatus, reason: string): Promise<void>;
  getStatus(model: string, version: string): Promise<ApprovalStatus | undefined>;
  /** The version `id` names (an id `register` returns: a model package ARN on AWS); undefined when there is none. */
  describeVersion(id: string): Promise<RegistryVersion | undefined>;
}

// ── Alarms and Metrics ───────────────────────────────────────────────────────────────────────────────

export interface Alarms {
  /** Creates or updates every alarm (composites after the alarms they name). */
  ensure(specs: readonly AlarmSpec[]): Promise<void>;
  states(names: readonly string[]): Promise<AlarmState[]>;
  /**
   * Each named metric alarm's metric over `span`, one value per period (historyPeriodSeconds), with its
   * threshold: what the rollout report charts. Composites and missing names are left out.
   */
  metricHistory(names: readonly string[], span: TimeSpan): Promise<AlarmMetricHistory[]>;
  /** Deletes them; missing ones are fine. */
  remove(names: readonly string[]): Promise<void>;
}

export interface ProberTarget {
  readonly model: string;
  readonly version: string;
  readonly rolloutId: string;
  /** Seconds between probe rounds. */
  readonly everySeconds: number;
}

export interface Metrics {
  /** The prober's observations, as `Latency`, `Errors` and `Requests` with Source `probe`. */
  publish(observations: readonly Observation[]): Promise<void>;
  /** Windows of real traffic, each value as its metric with the window's Source. */
  publishTraffic(periods: readonly TrafficPeriod[]): Promise<void>;
  /**
   * The number a PromQL query answers at `at` from the stack's Prometheus (canaryMetrics.prometheus):
   * undefined for an empty answer or NaN. Throws when Prometheus cannot be asked, refuses the query, or
   * answers more than one number.
   */
  queryPrometheus(query: string, at: Date): Promise<number | undefined>;
  /** Starts the scheduled prober for a canary (idempotent). */
  startProber(target: ProberTarget): Promise<void>;
  /** Stops it; stopping twice is fine. */
  stopProber(model: string, version: string): Promise<void>;
}

// ── Hooks: the user's own checks (core/gates/hooks.ts) ─────────────────────────────────────────────────────────

export interface Hooks {
  /**
   * Runs the allow-listed function hook `name` (on AWS a Lambda function of the stack's allow-list, locally a
   * command of the home's config) with the request `body` (JSON) and answers the text it returned, at most
   * MAX_HOOK_ANSWER_BYTES. Throws, saying why, when it is not allowed, cannot be run, fails, answers too much or
   * outlasts `timeoutMs`.
   */
  callFunction(name: string, body: string, timeoutMs: number): Promise<string>;
  /** The key URL hooks' bodies are signed with (HMAC-SHA256): a Secrets Manager secret's value, or the home's key. */
  signingKey(): Promise<string>;
}
