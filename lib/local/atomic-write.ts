// Writes a file so that a reader sees the old content or the new, never half of it: the bytes go to a
// temp file beside the target (same folder, so the rename cannot cross file systems), are flushed to disk,
// and the temp file is renamed over the target. Listings skip temp files of writes still in flight.

import { randomUUID } from "node:crypto";
import { mkdir, open, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

const TEMP_MARKER = ".modelship-tmp-";

/** True for the name of a temp file an in-flight (or crashed) atomic write left beside its target. */
export function isAtomicWriteTempName(fileName: string): boolean {
  return fileName.startsWith(".") && fileName.includes(TEMP_MARKER);
}

/** Replaces `filePath` with `bytes` atomically, creating missing folders; `mode` for a new file (default 0666 less the umask). */
export async function writeFileAtomic(
  filePath: string,
  bytes: Uint8Array | string,
  options: { readonly mode?: number } = {},
): Promise<void> {
  const folder = dirname(filePath);
  await mkdir(folder, { recursive: true });
  const tempPath = join(folder, `.${basename(filePath)}${TEMP_MARKER}${randomUUID()}`);
  try {
    const handle = await open(tempPath, "wx", options.mode ?? 0o666);
    try {
      await handle.writeFile(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tempPath, filePath);
  } catch (error) {
    await rm(tempPath, { force: true });
    throw error;
  }
}
