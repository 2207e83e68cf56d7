// Mutual exclusion for a read-modify-write of one file, within a process and across processes on one
// machine (the local control plane, and CLI commands like `modelship rollback` run beside it). In a
// process, callers queue on a promise chain per file; across processes, the holder owns `<file>.lock`,
// created exclusively (`wx`) with its pid inside. A lock whose pid is gone, or older than any write could
// take, is stale (its holder crashed) and is broken.
//
// The limit: two processes breaking the same stale lock at the same instant can both proceed. That needs
// a crash and a race together, on one developer machine; the store's atomic writes keep the file whole.

import { open, readFile, rm, stat } from "node:fs/promises";
import { resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

/** A write holds the lock for milliseconds; one older than this was left by a crash. */
const STALE_AFTER_MS = 30_000;
/** Give up waiting after this long (only reachable when the lock file cannot be removed). */
const GIVE_UP_AFTER_MS = 60_000;

const queues = new Map<string, Promise<unknown>>();

/** Runs `work` while holding the lock of `filePath`: no other caller, in this process or another, holds it. */
export async function withFileLock<T>(filePath: string, work: () => Promise<T>): Promise<T> {
  const path = resolve(filePath);
  const previous = queues.get(path) ?? Promise.resolve();
  const run = previous.then(() => withLockFile(`${path}.lock`, work));
  const settled = run.catch(() => undefined);
  queues.set(path, settled);
  void settled.then(() => {
    if (queues.get(path) === settled) queues.delete(path);
  });
  return run;
}

async function withLockFile<T>(lockPath: string, work: () => Promise<T>): Promise<T> {
  await acquire(lockPath);
  try {
    return await work();
  } finally {
    await rm(lockPath, { force: true });
  }
}

async function acquire(lockPath: string): Promise<void> {
  const deadline = Date.now() + GIVE_UP_AFTER_MS;
  for (let attempt = 0; ; attempt++) {
    try {
      const handle = await open(lockPath, "wx");
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      return;
    } catch (error) {
      if ((error as { code?: unknown }).code !== "EEXIST") throw error;
    }
    const holder = await lockHolder(lockPath);
    // Gone: released while we looked. Try again at once — never remove it: the lock file there now may
    // already be a new holder's.
    if (holder === "gone") continue;
    if (holder === "stale") {
      await rm(lockPath, { force: true });
      continue;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `${lockPath} has been held for over ${GIVE_UP_AFTER_MS / 1000} s. If no modelship process is running, delete it.`,
      );
    }
    await sleep(Math.min(5 * 2 ** attempt, 100));
  }
}

async function lockHolder(lockPath: string): Promise<"alive" | "stale" | "gone"> {
  try {
    const [content, stats] = await Promise.all([readFile(lockPath, "utf8"), stat(lockPath)]);
    if (Date.now() - stats.mtimeMs > STALE_AFTER_MS) return "stale";
    const pid = Number.parseInt(content, 10);
    // An empty file is a holder between creating and writing it: not stale.
    return Number.isSafeInteger(pid) && pid > 0 && !isAlive(pid) ? "stale" : "alive";
  } catch (error) {
    if ((error as { code?: unknown }).code === "ENOENT") return "gone";
    throw error;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to another user.
    return (error as { code?: unknown }).code === "EPERM";
  }
}
