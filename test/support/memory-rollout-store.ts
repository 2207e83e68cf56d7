// An in-memory RolloutStore with the real stores' semantics (lib/aws/dynamodb-rollout-store.ts,
// lib/local/json-rollout-store.ts): a per-model lock the same rollout may take again, release only by the
// holder, null clears a field, the newest 50 transitions returned, claimOnce true only the first time.
// Conditional writes (`owned`, `releaseLock`), end claims and the outbox of events follow the same rules
// (lib/core/rollout/rollout-ownership.ts). It passes the same contract suite (test/unit/memory-rollout-store.test.ts).

import {
  type EndClaim,
  type LockHolder,
  type ModelRecord,
  RECORD_FIELDS,
  type Transition,
} from "../../lib/core/rollout/rollout";
import { mayWriteAs, ownershipLost, pendingEventId } from "../../lib/core/rollout/rollout-ownership";
import type {
  EndClaimResult,
  LockResult,
  PendingEvent,
  RecordChanges,
  RecordOptions,
  RolloutStore,
} from "../../lib/ports";

const HISTORY_RETURNED = 50;

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
type StoredModel = Mutable<Omit<ModelRecord, "history">> & { history: Transition[] };

export class MemoryRolloutStore implements RolloutStore {
  private readonly models = new Map<string, StoredModel>();
  private readonly claims = new Set<string>();
  private readonly results = new Map<string, Record<string, unknown>>();
  /** Model → pending events, in the order written. */
  private readonly outbox = new Map<string, PendingEvent[]>();

  async acquireLock(model: string, holder: LockHolder): Promise<LockResult> {
    const stored = this.modelNamed(model);
    if (stored.lock && stored.lock.rolloutId !== holder.rolloutId)
      return { acquired: false, holder: stored.lock };
    stored.lock ??= { ...holder };
    return { acquired: true };
  }

  async releaseLock(model: string, rolloutId: string): Promise<void> {
    const stored = this.models.get(model);
    if (stored?.lock?.rolloutId === rolloutId) delete stored.lock;
  }

  async claimEnd(model: string, rolloutId: string, claim: EndClaim): Promise<EndClaimResult> {
    const stored = this.models.get(model);
    if (!mayWriteAs(stored?.lock, rolloutId, claim.stage) || !stored?.lock)
      return stored?.lock ? { claimed: false, lock: structuredClone(stored.lock) } : { claimed: false };
    stored.lock = { ...stored.lock, ending: stored.lock.ending ?? { ...claim } };
    return { claimed: true };
  }

  async record(
    model: string,
    transition: Transition,
    changes: RecordChanges = {},
    options: RecordOptions = {},
  ): Promise<void> {
    const owned = options.owned === true || options.releaseLock === true;
    if (owned && !mayWriteAs(this.models.get(model)?.lock, transition.rolloutId, transition.stage))
      throw ownershipLost(model, transition, this.models.get(model)?.lock);
    const stored = this.modelNamed(model);
    if (options.releaseLock) delete stored.lock;
    const pending = this.outbox.get(model) ?? [];
    (options.announce ?? []).forEach((event, index) =>
      pending.push({ id: pendingEventId(transition, index), event: structuredClone(event) }),
    );
    this.outbox.set(model, pending);
    for (const field of RECORD_FIELDS) {
      const value = changes[field];
      if (value === null) delete stored[field];
      else if (value !== undefined) Object.assign(stored, { [field]: structuredClone(value) });
    }
    stored.updatedAt = transition.at;
    stored.history.push(structuredClone(transition));
  }

  async pendingEvents(model: string, rolloutId: string): Promise<PendingEvent[]> {
    return structuredClone(
      (this.outbox.get(model) ?? []).filter((p) => p.id.startsWith(`${rolloutId}#`)),
    ).sort((a, b) => (a.id < b.id ? -1 : 1));
  }

  async markAnnounced(model: string, ids: readonly string[]): Promise<void> {
    const pending = this.outbox.get(model);
    if (pending)
      this.outbox.set(
        model,
        pending.filter((p) => !ids.includes(p.id)),
      );
  }

  async get(model: string): Promise<ModelRecord | undefined> {
    const stored = this.models.get(model);
    return stored && snapshot(stored);
  }

  async list(): Promise<ModelRecord[]> {
    return [...this.models.values()].sort((a, b) => (a.model < b.model ? -1 : 1)).map(snapshot);
  }

  async claimOnce(key: string): Promise<boolean> {
    if (this.claims.has(key)) return false;
    this.claims.add(key);
    return true;
  }

  async saveVersionResults(
    model: string,
    version: string,
    results: Readonly<Record<string, unknown>>,
  ): Promise<void> {
    this.results.set(JSON.stringify([model, version]), structuredClone(results));
  }

  async getVersionResults(
    model: string,
    version: string,
  ): Promise<Readonly<Record<string, unknown>> | undefined> {
    const results = this.results.get(JSON.stringify([model, version]));
    return results && structuredClone(results);
  }

  private modelNamed(model: string): StoredModel {
    let stored = this.models.get(model);
    if (!stored) {
      stored = { model, history: [] };
      this.models.set(model, stored);
    }
    return stored;
  }
}

/** A copy, as a real store returns: a caller changing it changes nothing stored. */
function snapshot(stored: StoredModel): ModelRecord {
  return structuredClone({ ...stored, history: stored.history.slice(-HISTORY_RETURNED) });
}
