// An in-memory Registry port with the model registry's lifecycle (lib/ports.ts): registering a version is
// idempotent per rollout (a new rollout of the same version makes a new entry, PendingManualApproval again);
// a status change names a registered version, or fails like UpdateModelPackage on a missing package; a
// version is described by its id with who changed its status last — modelship, or a person (`setStatusAs`).

import type { ApprovalStatus, Registry, RegistryEntry, RegistryVersion } from "../../lib/ports";

interface StoredEntry {
  readonly id: string;
  readonly entry: RegistryEntry;
  status: ApprovalStatus;
  /** Every status with the reason given for it and who set it, oldest first. */
  readonly statusHistory: { readonly status: ApprovalStatus; readonly reason: string; readonly by: string }[];
}

export class MemoryRegistry implements Registry {
  private readonly entries = new Map<string, StoredEntry>();
  private versionsMade = 0;

  async register(entry: RegistryEntry): Promise<{ readonly id: string }> {
    const key = keyOf(entry.model, entry.version);
    const existing = this.entries.get(key);
    if (existing?.entry.rolloutId === entry.rolloutId) return { id: existing.id };
    const id = `${entry.model}/${++this.versionsMade}`;
    const status = "PendingManualApproval";
    this.entries.set(key, {
      id,
      entry: structuredClone(entry),
      status,
      statusHistory: [{ status, reason: "registered", by: "modelship" }],
    });
    return { id };
  }

  async setStatus(model: string, version: string, status: ApprovalStatus, reason: string): Promise<void> {
    this.setStatusAs("modelship", model, version, status, reason);
  }

  /** A person's status change (the registry console's button): returns the version's id, as the event names it. */
  setStatusAs(by: string, model: string, version: string, status: ApprovalStatus, reason: string): string {
    const stored = this.entries.get(keyOf(model, version));
    if (!stored) throw new Error(`The registry has no ${model} ${version}.`);
    stored.status = status;
    stored.statusHistory.push({ status, reason, by });
    return stored.id;
  }

  async getStatus(model: string, version: string): Promise<ApprovalStatus | undefined> {
    return this.entries.get(keyOf(model, version))?.status;
  }

  async describeVersion(id: string): Promise<RegistryVersion | undefined> {
    const stored = [...this.entries.values()].find((e) => e.id === id);
    if (!stored) return undefined;
    const last = stored.statusHistory.at(-1);
    const { model, version, rolloutId } = stored.entry;
    return {
      status: stored.status,
      ...(last && { statusReason: last.reason, lastModifiedBy: last.by }),
      rollout: { model, version, rolloutId },
    };
  }

  /** The entry as registered and its statuses, for assertions. */
  entry(model: string, version: string): Readonly<StoredEntry> | undefined {
    const stored = this.entries.get(keyOf(model, version));
    return stored && structuredClone(stored);
  }
}

function keyOf(model: string, version: string): string {
  return JSON.stringify([model, version]);
}
