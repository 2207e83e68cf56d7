// The Registry port on one JSON file (`<home>/registry.json`), with the SageMaker Model Registry's
// lifecycle: a group per model, created on its first version; one numbered entry per rollout (registering
// the same rollout again returns the same entry; a new rollout of a version makes a new one); each entry
// starts PendingManualApproval and moves to Approved or Rejected with a reason and a timestamp. A status
// change names a registered version, or fails as UpdateModelPackage does for a missing package. A status a
// person set by editing the file (registry-watcher.ts) is described as set by the user who may edit it. Changes
// are read-modify-writes under the file lock, landing by atomic rename; a file that is not a registry is
// reported and never overwritten.

import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { ApprovalStatus, Registry, RegistryEntry, RegistryVersion } from "../ports";
import { localUserName } from "./admin-auth";
import { writeFileAtomic } from "./atomic-write";
import { withFileLock } from "./file-lock";
import { StateFileInvalid } from "./state-file-invalid";

/** The registry's file in the local runtime's home. */
export const REGISTRY_FILE_NAME = "registry.json";
const FORMAT = "modelship-registry/1";
const APPROVAL_STATUSES: readonly string[] = [
  "PendingManualApproval",
  "Approved",
  "Rejected",
] satisfies readonly ApprovalStatus[];

/** One registered version of a model, as the file keeps it. */
export interface StoredRegistryEntry extends RegistryEntry {
  readonly id: string;
  /** 1, 2, 3 … within the model's group, like a model package version. */
  readonly packageVersion: number;
  readonly createdAt: string;
  readonly status: ApprovalStatus;
  /** Every status the entry has had, oldest first, with the reason given and when. */
  readonly statusHistory: readonly {
    readonly status: ApprovalStatus;
    readonly reason: string;
    readonly at: string;
  }[];
}

interface RegistryGroup {
  readonly createdAt: string;
  readonly entries: StoredRegistryEntry[];
}

/** The registry's groups by model. */
export type RegistryGroups = Map<string, RegistryGroup>;
type Groups = RegistryGroups;

export interface LocalRegistryOptions {
  /** The local runtime's home folder: the registry is `<home>/registry.json`. */
  readonly home: string;
  readonly now?: () => Date;
  /**
   * Who a status set by editing the file is described as set by: whoever may change the home's files.
   * @default the user this process runs as
   */
  readonly editor?: string;
}

/** The id of a model's numbered entry, as `register` returns it and an approval names it: `<model>/<n>`. */
export function localVersionId(model: string, packageVersion: number): string {
  return `${model}/${packageVersion}`;
}

/** True when the entry's status was set by editing the file: modelship appends each status it sets to the history. */
export function statusSetByHand(entry: Pick<StoredRegistryEntry, "status" | "statusHistory">): boolean {
  return entry.statusHistory.at(-1)?.status !== entry.status;
}

export class LocalRegistry implements Registry {
  private readonly filePath: string;
  private readonly now: () => Date;
  private readonly editor: string;

  constructor(options: LocalRegistryOptions) {
    this.filePath = join(options.home, REGISTRY_FILE_NAME);
    this.now = options.now ?? (() => new Date());
    this.editor = options.editor ?? localUserName();
  }

  register(entry: RegistryEntry): Promise<{ readonly id: string }> {
    return this.update((groups) => {
      const at = this.now().toISOString();
      const group = groups.get(entry.model) ?? { createdAt: at, entries: [] };
      groups.set(entry.model, group);
      const existing = group.entries.find(
        (e) => e.version === entry.version && e.rolloutId === entry.rolloutId,
      );
      if (existing) return { id: existing.id };
      const packageVersion = Math.max(0, ...group.entries.map((e) => e.packageVersion)) + 1;
      const status = "PendingManualApproval";
      const stored: StoredRegistryEntry = {
        ...structuredClone(entry),
        id: localVersionId(entry.model, packageVersion),
        packageVersion,
        createdAt: at,
        status,
        statusHistory: [{ status, reason: `Registered by rollout ${entry.rolloutId}.`, at }],
      };
      group.entries.push(stored);
      return { id: stored.id };
    });
  }

  setStatus(model: string, version: string, status: ApprovalStatus, reason: string): Promise<void> {
    return this.update((groups) => {
      const entries = groups.get(model)?.entries ?? [];
      const index = entries.findLastIndex((e) => e.version === version);
      const entry = entries[index];
      if (!entry) {
        throw new Error(
          `The local registry has no ${model} ${version} (${this.filePath}): it was never registered, so its status cannot become ${status}.`,
        );
      }
      // A retried stage repeats its status change: the first reason stands. A status a person set by editing
      // the file (registry-watcher.ts) has no history entry yet: this change gives it its reason.
      if (entry.status === status && entry.statusHistory.at(-1)?.status === status) return;
      const at = this.now().toISOString();
      entries[index] = { ...entry, status, statusHistory: [...entry.statusHistory, { status, reason, at }] };
    });
  }

  async getStatus(model: string, version: string): Promise<ApprovalStatus | undefined> {
    return (await this.read()).get(model)?.entries.findLast((e) => e.version === version)?.status;
  }

  async describeVersion(id: string): Promise<RegistryVersion | undefined> {
    for (const [model, group] of await this.read()) {
      const entry = group.entries.find((e) => localVersionId(model, e.packageVersion) === id);
      if (!entry) continue;
      const byHand = statusSetByHand(entry);
      return {
        status: entry.status,
        statusReason: byHand
          ? `status set to ${entry.status} in ${REGISTRY_FILE_NAME}`
          : (entry.statusHistory.at(-1)?.reason ?? ""),
        rollout: { model, version: entry.version, rolloutId: entry.rolloutId },
        lastModifiedBy: byHand ? this.editor : "modelship",
      };
    }
    return undefined;
  }

  private update<T>(change: (groups: Groups) => T): Promise<T> {
    return withFileLock(this.filePath, async () => {
      const groups = await this.read();
      const result = change(groups);
      await writeFileAtomic(
        this.filePath,
        `${JSON.stringify({ format: FORMAT, groups: Object.fromEntries(groups) }, null, 2)}\n`,
      );
      return result;
    });
  }

  /** Forgets a model's group, or one version's entries in it (`modelship forget`); returns how many entries went. */
  forget(model: string, version: string | undefined): Promise<number> {
    return this.update((groups) => {
      const group = groups.get(model);
      if (!group) return 0;
      const kept = version === undefined ? [] : group.entries.filter((e) => e.version !== version);
      const removed = group.entries.length - kept.length;
      if (kept.length === 0) groups.delete(model);
      else groups.set(model, { ...group, entries: kept });
      return removed;
    });
  }

  /** Reads the file, for a check at start: throws StateFileInvalid when it is not a registry. */
  async check(): Promise<void> {
    await this.read();
  }

  private async read(): Promise<Groups> {
    let text: string;
    try {
      text = await readFile(this.filePath, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return new Map();
      throw error;
    }
    return parseRegistry(text, this.filePath);
  }
}

/** The registry in `text` (the file at `filePath`); StateFileInvalid naming every problem when it is not one. */
export function parseRegistry(text: string, filePath: string): Groups {
  const notARegistry = (...problems: string[]) =>
    new StateFileInvalid(
      filePath,
      "a modelship registry",
      problems,
      "Fix it, or move it away to start an empty registry (the versions it lists are then not in it).",
    );
  let file: unknown;
  try {
    file = JSON.parse(text);
  } catch (error) {
    throw notARegistry(`it is not valid JSON (${(error as Error).message})`);
  }
  if (!isObject(file) || file["format"] !== FORMAT) throw notARegistry(`expected "format": "${FORMAT}"`);
  const groups = file["groups"];
  if (!isObject(groups)) throw notARegistry('expected the object "groups"');
  const problems: string[] = [];
  for (const [model, group] of Object.entries(groups)) {
    if (!isObject(group) || !Array.isArray(group["entries"])) {
      problems.push(`groups.${model} should be {"createdAt", "entries": [...]}`);
      continue;
    }
    group["entries"].forEach((entry: unknown, i) => {
      if (
        isObject(entry) &&
        typeof entry["status"] === "string" &&
        !APPROVAL_STATUSES.includes(entry["status"])
      ) {
        problems.push(
          `groups.${model}.entries[${i}].status is ${JSON.stringify(entry["status"])}; expected one of ${APPROVAL_STATUSES.join(", ")}`,
        );
      } else if (
        !isObject(entry) ||
        typeof entry["version"] !== "string" ||
        typeof entry["rolloutId"] !== "string" ||
        typeof entry["packageVersion"] !== "number" ||
        typeof entry["status"] !== "string" ||
        !Array.isArray(entry["statusHistory"])
      ) {
        problems.push(
          `groups.${model}.entries[${i}] should have version, rolloutId, packageVersion, status and statusHistory`,
        );
      }
    });
  }
  if (problems.length > 0) throw notARegistry(...problems);
  return new Map(Object.entries(groups as Record<string, RegistryGroup>));
}

function isObject(value: unknown): value is Record<string, unknown> {
  return !!value && typeof value === "object" && !Array.isArray(value);
}
