// The RolloutStore port on one JSON file: the local runtime's rollout table, with the DynamoDB store's
// semantics — a conditional per-model lock that the same rollout may take again, de-duplication claims
// that expire after a week, a transition history (the newest 50 returned), results kept per version.
// Every change is a read-modify-write under a file lock (in-process queue + lock file, see file-lock.ts)
// and lands by an atomic rename, so readers never see half a file. A file that is not a rollout store is
// reported and never overwritten.

import { readFile } from "node:fs/promises";
import type { ModelshipEvent } from "../core/events/events";
import {
  type EndClaim,
  type LockHolder,
  type ModelRecord,
  RECORD_FIELDS,
  type Transition,
} from "../core/rollout/rollout";
import { mayWriteAs, ownershipLost, pendingEventId } from "../core/rollout/rollout-ownership";
import type {
  EndClaimResult,
  LockResult,
  PendingEvent,
  RecordChanges,
  RecordOptions,
  RolloutStore,
} from "../ports";
import { writeFileAtomic } from "./atomic-write";
import { withFileLock } from "./file-lock";
import { StateFileInvalid } from "./state-file-invalid";

/** How many of the newest transitions `get` and `list` return (as the DynamoDB store does). */
const HISTORY_RETURNED = 50;
/** How many transitions a model keeps in the file, so a long-running control plane's file stays small. */
const HISTORY_KEPT = 1_000;
const CLAIM_TTL_MS = 7 * 24 * 3600 * 1000;
const FORMAT = "modelship-rollouts/1";

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
type StoredModel = Mutable<Omit<ModelRecord, "history">> & {
  history: Transition[];
  /** Events written with a transition and not yet announced (the outbox), oldest first. */
  outbox?: PendingEvent[];
};

interface StoreContent {
  readonly models: Map<string, StoredModel>;
  /** Claim key → when it expires (epoch ms). */
  readonly claims: Map<string, number>;
  /** Model → version → results. */
  readonly versionResults: Map<string, Map<string, Record<string, unknown>>>;
}

export class JsonFileRolloutStore implements RolloutStore {
  private readonly filePath: string;

  constructor(filePath: string) {
    this.filePath = filePath;
  }

  acquireLock(model: string, holder: LockHolder): Promise<LockResult> {
    return this.update((content) => {
      const stored = modelIn(content, model);
      if (stored.lock && stored.lock.rolloutId !== holder.rolloutId) {
        return { acquired: false, holder: stored.lock };
      }
      stored.lock ??= { ...holder };
      return { acquired: true };
    });
  }

  releaseLock(model: string, rolloutId: string): Promise<void> {
    return this.update((content) => {
      const stored = content.models.get(model);
      if (stored?.lock?.rolloutId === rolloutId) delete stored.lock;
    });
  }

  claimEnd(model: string, rolloutId: string, claim: EndClaim): Promise<EndClaimResult> {
    return this.update((content): EndClaimResult => {
      const stored = content.models.get(model);
      const lock = stored?.lock;
      if (!stored || !lock || !mayWriteAs(lock, rolloutId, claim.stage))
        return lock ? { claimed: false, lock } : { claimed: false };
      stored.lock = { ...lock, ending: lock.ending ?? { ...claim } };
      return { claimed: true };
    });
  }

  record(
    model: string,
    transition: Transition,
    changes: RecordChanges = {},
    options: RecordOptions = {},
  ): Promise<void> {
    return this.update((content) => {
      const owned = options.owned === true || options.releaseLock === true;
      const lock = content.models.get(model)?.lock;
      if (owned && !mayWriteAs(lock, transition.rolloutId, transition.stage))
        throw ownershipLost(model, transition, lock);
      const stored = modelIn(content, model);
      if (options.releaseLock) delete stored.lock;
      const announced = (options.announce ?? []).map((event: ModelshipEvent, index) => ({
        id: pendingEventId(transition, index),
        event,
      }));
      if (announced.length > 0) stored.outbox = [...(stored.outbox ?? []), ...announced];
      for (const field of RECORD_FIELDS) {
        const value = changes[field];
        if (value === null) delete stored[field];
        else if (value !== undefined) Object.assign(stored, { [field]: value });
      }
      stored.updatedAt = transition.at;
      stored.history.push({ ...transition });
      stored.history.splice(0, Math.max(0, stored.history.length - HISTORY_KEPT));
    });
  }

  async pendingEvents(model: string, rolloutId: string): Promise<PendingEvent[]> {
    const outbox = (await this.read()).models.get(model)?.outbox ?? [];
    return outbox.filter((p) => p.id.startsWith(`${rolloutId}#`)).sort((a, b) => (a.id < b.id ? -1 : 1));
  }

  markAnnounced(model: string, ids: readonly string[]): Promise<void> {
    return this.update((content) => {
      const stored = content.models.get(model);
      if (!stored?.outbox) return;
      stored.outbox = stored.outbox.filter((p) => !ids.includes(p.id));
      if (stored.outbox.length === 0) delete stored.outbox;
    });
  }

  /**
   * Forgets a model — its record and kept results — or one version of it: the version's transitions and kept
   * results (`modelship forget`). `refuse` sees the record under the file's lock and may say why not; nothing
   * changes then. A record left with nothing in it goes too.
   */
  forget(
    model: string,
    version: string | undefined,
    refuse: (record: ModelRecord | undefined) => string | undefined,
  ): Promise<
    { readonly refused: string } | { readonly transitions: number; readonly recordRemoved: boolean }
  > {
    return this.update((content) => {
      const stored = content.models.get(model);
      const refused = refuse(stored && toRecord(stored));
      if (refused !== undefined) return { refused };
      const before = stored?.history.length ?? 0;
      if (version === undefined) {
        content.models.delete(model);
        content.versionResults.delete(model);
        return { transitions: before, recordRemoved: stored !== undefined };
      }
      content.versionResults.get(model)?.delete(version);
      if (!stored) return { transitions: 0, recordRemoved: false };
      stored.history = stored.history.filter((t) => t.version !== version);
      if (stored.candidateVersion === version) delete stored.candidateVersion;
      // The record's status was its latest rollout's; with that one forgotten, it is what serves now.
      if (stored.stableVersion) stored.status = "promoted";
      else delete stored.status;
      const empty = !stored.lock && !stored.stable && !stored.stableVersion && stored.history.length === 0;
      if (empty) content.models.delete(model);
      return { transitions: before - stored.history.length, recordRemoved: empty };
    });
  }

  async get(model: string): Promise<ModelRecord | undefined> {
    const stored = (await this.read()).models.get(model);
    return stored && toRecord(stored);
  }

  async list(): Promise<ModelRecord[]> {
    const { models } = await this.read();
    return [...models.values()]
      .sort((a, b) => (a.model < b.model ? -1 : a.model > b.model ? 1 : 0))
      .map(toRecord);
  }

  claimOnce(key: string): Promise<boolean> {
    return this.update((content) => {
      const now = Date.now();
      const expires = content.claims.get(key);
      if (expires !== undefined && expires >= now) return false;
      content.claims.set(key, now + CLAIM_TTL_MS);
      return true;
    });
  }

  saveVersionResults(
    model: string,
    version: string,
    results: Readonly<Record<string, unknown>>,
  ): Promise<void> {
    return this.update((content) => {
      const versions = content.versionResults.get(model) ?? new Map<string, Record<string, unknown>>();
      versions.set(version, JSON.parse(JSON.stringify(results)) as Record<string, unknown>);
      content.versionResults.set(model, versions);
    });
  }

  async getVersionResults(
    model: string,
    version: string,
  ): Promise<Readonly<Record<string, unknown>> | undefined> {
    return (await this.read()).versionResults.get(model)?.get(version);
  }

  /** Applies `change` to the file's content under the lock and writes the result back atomically. */
  private update<T>(change: (content: StoreContent) => T): Promise<T> {
    return withFileLock(this.filePath, async () => {
      const content = await this.read();
      const result = change(content);
      pruneExpiredClaims(content);
      await writeFileAtomic(this.filePath, serialize(content));
      return result;
    });
  }

  private async read(): Promise<StoreContent> {
    let text: string;
    try {
      text = await readFile(this.filePath, "utf8");
    } catch (error) {
      if ((error as { code?: unknown }).code === "ENOENT") {
        return { models: new Map(), claims: new Map(), versionResults: new Map() };
      }
      throw error;
    }
    return parse(text, this.filePath);
  }
}

function modelIn(content: StoreContent, model: string): StoredModel {
  let stored = content.models.get(model);
  if (!stored) {
    stored = { model, history: [] };
    content.models.set(model, stored);
  }
  return stored;
}

function toRecord({ outbox: _outbox, ...stored }: StoredModel): ModelRecord {
  return { ...stored, history: stored.history.slice(-HISTORY_RETURNED) };
}

function pruneExpiredClaims(content: StoreContent): void {
  const now = Date.now();
  for (const [key, expires] of content.claims) if (expires < now) content.claims.delete(key);
}

function serialize(content: StoreContent): string {
  const file = {
    format: FORMAT,
    models: Object.fromEntries(content.models),
    claims: Object.fromEntries(content.claims),
    versionResults: Object.fromEntries(
      [...content.versionResults].map(([model, versions]) => [model, Object.fromEntries(versions)]),
    ),
  };
  return `${JSON.stringify(file, null, 2)}\n`;
}

function parse(text: string, filePath: string): StoreContent {
  const notAStore = (...problems: string[]) =>
    new StateFileInvalid(
      filePath,
      "a modelship rollout store",
      problems,
      "Fix it, or move it away to start with no rollout records (the versions it names as serving are then not started again).",
    );
  let file: unknown;
  try {
    file = JSON.parse(text);
  } catch (error) {
    throw notAStore(`it is not valid JSON (${(error as Error).message})`);
  }
  if (!isObject(file) || file.format !== FORMAT) throw notAStore(`expected "format": "${FORMAT}"`);
  const { models, claims, versionResults } = file;
  if (!isObject(models) || !isObject(claims) || !isObject(versionResults)) {
    throw notAStore(`expected the objects "models", "claims" and "versionResults"`);
  }
  const problems: string[] = [];
  for (const [name, stored] of Object.entries(models)) {
    if (!isObject(stored) || stored.model !== name || !Array.isArray(stored.history)) {
      problems.push(`models.${name} should be {"model": "${name}", "history": [...], ...}`);
      continue;
    }
    const lock = stored.lock;
    if (
      lock !== undefined &&
      (!isObject(lock) || typeof lock.rolloutId !== "string" || typeof lock.version !== "string")
    ) {
      problems.push(`models.${name}.lock should be {"rolloutId", "version", "since"}`);
    }
    stored.history.forEach((transition: unknown, i: number) => {
      if (
        !isObject(transition) ||
        typeof transition.rolloutId !== "string" ||
        typeof transition.stage !== "string"
      ) {
        problems.push(
          `models.${name}.history[${i}] should be a transition {"at", "rolloutId", "version", "stage", "status", "reason"}`,
        );
      }
    });
  }
  for (const [model, versions] of Object.entries(versionResults)) {
    if (!isObject(versions)) problems.push(`versionResults.${model} should be an object of versions`);
  }
  if (problems.length > 0) throw notAStore(...problems);
  return {
    models: new Map(Object.entries(models as Record<string, StoredModel>)),
    claims: new Map(Object.entries(claims).filter((e): e is [string, number] => typeof e[1] === "number")),
    versionResults: new Map(
      Object.entries(versionResults as Record<string, Record<string, Record<string, unknown>>>).map(
        ([model, versions]) => [model, new Map(Object.entries(versions))],
      ),
    ),
  };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return !!value && typeof value === "object" && !Array.isArray(value);
}
