// The local model registry's approval button: a person who edits `<home>/registry.json` and sets the status of
// the version a rollout waits with to Approved or Rejected answers that wait, as setting the model package's
// status in the SageMaker Model Registry does on AWS (the rule on "SageMaker Model Package State Change" →
// Command). The watcher notices the edit and hands on a state-change event shaped as SageMaker's; the Command
// reads who and why from the registry (LocalRegistry.describeVersion), as it does on AWS.
//
// A person's edit is told from modelship's own writes by the entry's history: LocalRegistry.setStatus appends
// every status it sets to `statusHistory`, a hand edit changes `status` alone. Statuses already set when
// watching starts are taken as handled (as the bucket watcher takes the manifests already there).
//
// fs.watch on the home folder (an atomic write replaces the file, so the folder is watched, not the file)
// answers at once; a poll of the file's size and mtime every `pollMs` catches what fs.watch misses on some
// filesystems. One check at a time, never a busy loop: events during a check ask for one more check.

import { type FSWatcher, watch } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { REGISTRY_STATE_CHANGE, type RegistryStateChangeEvent } from "../pipeline/commands";
import type { ApprovalStatus } from "../ports";
import {
  localVersionId,
  parseRegistry,
  REGISTRY_FILE_NAME,
  type RegistryGroups,
  statusSetByHand,
} from "./local-registry";

const DEFAULT_POLL_MS = 1_000;
/** fs.watch reports a write as several events: they are answered by one check this long after the first. */
const SETTLE_MS = 50;

/** A status a person set by hand on one registered version. */
export interface RegistryEdit {
  readonly model: string;
  readonly version: string;
  readonly rolloutId: string;
  readonly packageVersion: number;
  readonly status: "Approved" | "Rejected";
}

/** Each entry's status, by `<model>/<packageVersion>`: what the last check read. */
export type RegistryStatuses = ReadonlyMap<string, ApprovalStatus>;

/** Each entry's status in `groups`, by `<model>/<packageVersion>`. */
export function registryStatuses(groups: RegistryGroups): Map<string, ApprovalStatus> {
  const statuses = new Map<string, ApprovalStatus>();
  for (const [model, group] of groups) {
    for (const entry of group.entries)
      statuses.set(localVersionId(model, entry.packageVersion), entry.status);
  }
  return statuses;
}

/**
 * The entries whose status changed since `before` to Approved or Rejected by hand: their status is not the one
 * their history ends with (modelship's own changes append to the history). Another status (a typo is refused
 * by parseRegistry before this), a change back to PendingManualApproval, or modelship's writes answer nothing.
 */
export function registryEdits(before: RegistryStatuses, after: RegistryGroups): RegistryEdit[] {
  const edits: RegistryEdit[] = [];
  for (const [model, group] of after) {
    for (const entry of group.entries) {
      const { status } = entry;
      if (status !== "Approved" && status !== "Rejected") continue;
      if (before.get(localVersionId(model, entry.packageVersion)) === status) continue;
      if (!statusSetByHand(entry)) continue;
      edits.push({
        model,
        version: entry.version,
        rolloutId: entry.rolloutId,
        packageVersion: entry.packageVersion,
        status,
      });
    }
  }
  return edits;
}

/**
 * The state-change event SageMaker would send for the edit, with the fields AWS's example of it has that say
 * which version changed to what (the entry's id as the package's ARN); the rest is read from the registry.
 */
export function registryChangeEvent(edit: RegistryEdit): RegistryStateChangeEvent {
  const id = localVersionId(edit.model, edit.packageVersion);
  return {
    "detail-type": REGISTRY_STATE_CHANGE,
    resources: [id],
    detail: {
      ModelPackageGroupName: edit.model,
      ModelPackageVersion: edit.packageVersion,
      ModelPackageArn: id,
      ModelApprovalStatus: edit.status,
    },
  };
}

export interface RegistryWatcherOptions {
  /** The local runtime's home folder: the registry is `<home>/registry.json`. */
  readonly home: string;
  /** Called once per hand edit, in the file's order; the next check waits for it. */
  readonly onEdit: (edit: RegistryEdit) => Promise<void>;
  readonly log: (message: string) => void;
  readonly pollMs?: number;
}

export class RegistryWatcher {
  private readonly options: RegistryWatcherOptions;
  private readonly path: string;
  private statuses: RegistryStatuses = new Map();
  /** The file's size and mtime at the last check: a poll reads the file only when they change. */
  private marker: string | undefined;
  /** The marker of a file found malformed, so one bad edit is reported once. */
  private reportedMalformed: string | undefined;
  private fsWatcher: FSWatcher | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private settleTimer: NodeJS.Timeout | undefined;
  private checking: Promise<void> | undefined;
  private checkAgain = false;
  private closed = false;

  constructor(options: RegistryWatcherOptions) {
    this.options = options;
    this.path = join(options.home, REGISTRY_FILE_NAME);
  }

  /** Takes note of the statuses already set, then watches the file. */
  async start(): Promise<void> {
    await this.check({ baseline: true });
    try {
      this.fsWatcher = watch(this.options.home, { persistent: false }, (_type, name) => {
        if (name === null || name === REGISTRY_FILE_NAME) this.checkSoon();
      });
      this.fsWatcher.on("error", (error) => {
        this.options.log(
          `Watching ${this.path} for status edits stopped (${String(error)}); it is still read every ${this.pollMs()} ms.`,
        );
        this.fsWatcher?.close();
        this.fsWatcher = undefined;
      });
    } catch (error) {
      this.options.log(
        `${this.path} cannot be watched (${String(error)}); it is read every ${this.pollMs()} ms instead.`,
      );
    }
    this.pollTimer = setInterval(() => void this.checkNow(), this.pollMs());
    this.pollTimer.unref();
  }

  /** Stops watching and waits for a check in progress. */
  async close(): Promise<void> {
    this.closed = true;
    this.fsWatcher?.close();
    this.fsWatcher = undefined;
    clearInterval(this.pollTimer);
    clearTimeout(this.settleTimer);
    await this.checking;
  }

  /** Reads the file now if it changed, as fs.watch and the poll do (or waits for the check in progress). */
  checkNow(): Promise<void> {
    if (this.checking) {
      this.checkAgain = true;
      return this.checking;
    }
    this.checking = (async () => {
      do {
        this.checkAgain = false;
        await this.check({ baseline: false }).catch((error: unknown) =>
          this.options.log(`Reading ${this.path} for status edits failed: ${String(error)}`),
        );
      } while (this.checkAgain && !this.closed);
    })().finally(() => {
      this.checking = undefined;
    });
    return this.checking;
  }

  private checkSoon(): void {
    if (this.closed || this.settleTimer) return;
    this.settleTimer = setTimeout(() => {
      this.settleTimer = undefined;
      void this.checkNow();
    }, SETTLE_MS);
    this.settleTimer.unref();
  }

  private pollMs(): number {
    return this.options.pollMs ?? DEFAULT_POLL_MS;
  }

  private async check({ baseline }: { baseline: boolean }): Promise<void> {
    if (this.closed) return;
    const info = await stat(this.path, { bigint: true }).catch((error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT") return undefined;
      throw error;
    });
    const marker = info ? `${info.ino}:${info.size}:${info.mtimeNs}` : "absent";
    if (marker === this.marker) return;
    const text = info ? await readFile(this.path, "utf8") : undefined;
    let groups: RegistryGroups;
    try {
      groups = text === undefined ? new Map() : parseRegistry(text, this.path);
    } catch (error) {
      // Keep the statuses read last: once the file is fixed, an edit made in the meantime is still answered.
      if (this.reportedMalformed !== marker) {
        this.options.log(
          `${REGISTRY_FILE_NAME} was changed and cannot be read, so no status in it answers a rollout until it is fixed (a rollout waiting for approval keeps waiting): ${(error as Error).message}`,
        );
      }
      this.reportedMalformed = marker;
      this.marker = marker;
      return;
    }
    this.marker = marker;
    this.reportedMalformed = undefined;
    const edits = baseline ? [] : registryEdits(this.statuses, groups);
    const statuses = registryStatuses(groups);
    this.statuses = statuses;
    for (const edit of edits) {
      await this.options.onEdit(edit).catch((error: unknown) => {
        // Not taken as handled: the next write of the file (saving it again) tries it again.
        statuses.delete(localVersionId(edit.model, edit.packageVersion));
        this.options.log(
          `${edit.model} ${edit.version} set to ${edit.status} in ${this.path} was not carried out: ${String(error)}. Save the file again to retry.`,
        );
      });
    }
  }
}
