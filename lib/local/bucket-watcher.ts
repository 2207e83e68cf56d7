// The local bucket's S3 event notification: polls `<bucket>/models/<name>/<version>/` for a manifest
// (`modelship.yaml|yml|json`) that is new or was written again, and hands its key on — what the EventBridge
// rule on `Object Created` does on AWS. Manifests present when watching starts are taken as already handled
// (their rollouts ran before). A manifest is the commit marker: copy the weights first, the manifest last.
// A manifest is handed on once two scans in a row find it unchanged, so one still being copied is not read
// half-written.
// Polling, not fs.watch: recursive watching is not portable and misses writes on some filesystems; one scan
// a second of two directory levels is cheap.

import type { Dirent } from "node:fs";
import { lstat, readdir } from "node:fs/promises";
import { join } from "node:path";

const MANIFEST_NAMES = ["modelship.yaml", "modelship.yml", "modelship.json"];
const DEFAULT_POLL_MS = 1_000;

export interface BucketWatcherOptions {
  /** The local bucket's folder. */
  readonly bucket: string;
  /** Called once per new or rewritten manifest, with its key; the next scan waits for it. */
  readonly onManifest: (key: string) => Promise<void>;
  readonly log: (message: string) => void;
  readonly pollMs?: number;
}

export class BucketWatcher {
  private readonly options: BucketWatcherOptions;
  /** Each manifest's key → its size and mtime when it was last handed on (or found at start). */
  private readonly seen = new Map<string, string>();
  /** Manifests new or changed at the last scan: handed on if the next scan finds them unchanged. */
  private readonly settling = new Map<string, string>();
  private timer: NodeJS.Timeout | undefined;
  private scanning: Promise<void> | undefined;

  constructor(options: BucketWatcherOptions) {
    this.options = options;
  }

  /** Takes note of the manifests already there, then scans every `pollMs`. */
  async start(): Promise<void> {
    for (const [key, marker] of await this.manifests()) this.seen.set(key, marker);
    this.timer = setInterval(() => void this.scanNow(), this.options.pollMs ?? DEFAULT_POLL_MS);
    this.timer.unref();
  }

  /** Marks a manifest handled by someone else (an upload through the admin API), so no scan repeats it. */
  async claim(key: string): Promise<void> {
    const marker = await markerOf(join(this.options.bucket, ...key.split("/")));
    if (marker) this.seen.set(key, marker);
  }

  /** Stops scanning and waits for a scan in progress. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.scanning;
  }

  /** Scans the bucket now, as the timer does every `pollMs` (or waits for the scan in progress). */
  scanNow(): Promise<void> {
    this.scanning ??= this.scanOnce()
      .catch((error: unknown) => this.options.log(`Scanning the local bucket failed: ${String(error)}`))
      .finally(() => {
        this.scanning = undefined;
      });
    return this.scanning;
  }

  private async scanOnce(): Promise<void> {
    for (const [key, marker] of await this.manifests()) {
      if (!this.timer || this.seen.get(key) === marker) continue;
      if (this.settling.get(key) !== marker) {
        this.settling.set(key, marker);
        continue;
      }
      this.settling.delete(key);
      this.seen.set(key, marker);
      await this.options.onManifest(key).catch((error: unknown) => {
        this.options.log(`Starting the rollout of ${key} failed: ${String(error)}`);
      });
    }
  }

  /** Every manifest key under models/, with a marker that changes when the file is written again. */
  private async manifests(): Promise<Map<string, string>> {
    const found = new Map<string, string>();
    const models = join(this.options.bucket, "models");
    for (const model of await folders(models)) {
      for (const version of await folders(join(models, model))) {
        for (const name of MANIFEST_NAMES) {
          const marker = await markerOf(join(models, model, version, name));
          if (marker) found.set(`models/${model}/${version}/${name}`, marker);
        }
      }
    }
    return found;
  }
}

async function folders(path: string): Promise<string[]> {
  let entries: Dirent[];
  try {
    entries = await readdir(path, { withFileTypes: true });
  } catch {
    return [];
  }
  return entries.filter((e) => e.isDirectory() && !e.name.startsWith(".")).map((e) => e.name);
}

/**
 * The manifest's own size and mtime, a link's included: the watcher never follows a link (DESIGN §8). A link
 * is handed on like a file, and Prepare reads it through the bucket's store, which reads one only when it
 * stays inside the bucket and otherwise rejects the rollout naming the link.
 */
async function markerOf(path: string): Promise<string | undefined> {
  const info = await lstat(path, { bigint: true }).catch(() => undefined);
  return info?.isFile() || info?.isSymbolicLink() ? `${info.size}:${info.mtimeNs}` : undefined;
}
