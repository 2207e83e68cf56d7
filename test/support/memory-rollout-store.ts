// An in-memory RolloutStore with the real stores' semantics (lib/aws/dynamodb-rollout-store.ts,
// lib/local/json-rollout-store.ts): a per-model lock the same rollout may take again, release only by the
// holder, null clears a field, the newest 50 transitions returned, claimOnce true only the first time.
// It passes the same contract suite (test/unit/memory-rollout-store.test.ts).

import { type LockHolder, type ModelRecord, RECORD_FIELDS, type Transition } from "../../lib/core/rollout";
import type { LockResult, RecordChanges, RolloutStore } from "../../lib/ports";

const HISTORY_RETURNED = 50;

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
type StoredModel = Mutable<Omit<ModelRecord, "history">> & { history: Transition[] };

export class MemoryRolloutStore implements RolloutStore {
  private readonly models = new Map<string, StoredModel>();
  private readonly claims = new Set<string>();
  private readonly results = new Map<string, Record<string, unknown>>();

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

  async record(model: string, transition: Transition, changes: RecordChanges = {}): Promise<void> {
    const stored = this.modelNamed(model);
    for (const field of RECORD_FIELDS) {
      const value = changes[field];
      if (value === null) delete stored[field];
      else if (value !== undefined) Object.assign(stored, { [field]: structuredClone(value) });
    }
    stored.updatedAt = transition.at;
    stored.history.push(structuredClone(transition));
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
