// The ObjectStore port on a local folder: the local runtime's bucket. A key is a `/`-separated path
// relative to the folder and may never leave it. Behaves like S3 where the stages can tell: a listing is
// by string prefix (not by folder), sorted, complete; a range past the end is short; writes are atomic.
//
// Cheap metadata only, because weights are gigabytes and `head` is called for every file:
// - ETag: file size and modification time in nanoseconds (changes whenever the file is rewritten), not a
//   content hash;
// - SHA-256: only for objects written through `put`, which hashes the bytes it already holds and keeps the
//   digest in a sidecar under `.modelship-meta/` together with the size and mtime it belongs to. A file
//   copied in by other means, or changed since, has no checksum (as on S3 without a SHA-256 checksum).
// Content types are not kept: nothing reads them back locally.
// A folder keeps no versions: a read by ETag finds the file only while it is unchanged (the local runtime's
// uploads carry an ETag, never a version id), and a read by version id is refused, not answered with
// whatever the file holds now.

import { createHash } from "node:crypto";
import { open, readdir, readFile, stat } from "node:fs/promises";
import { join, relative, resolve, sep } from "node:path";
import type { ObjectInfo, ObjectStore, ObjectVersion } from "../ports";
import { isAtomicWriteTempName, writeFileAtomic } from "./atomic-write";

const META_FOLDER = ".modelship-meta";

interface ChecksumSidecar {
  readonly key: string;
  readonly size: number;
  readonly mtimeNs: string;
  readonly sha256: string;
}

export class FolderObjectStore implements ObjectStore {
  readonly location: string;
  readonly bucket: string;
  private readonly root: string;

  constructor(rootDir: string) {
    this.root = resolve(rootDir);
    this.location = this.root;
    this.bucket = this.root;
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    const prefixSegments = prefix.split("/");
    const folderSegments = prefixSegments.slice(0, -1);
    if (folderSegments.length > 0) this.checkSegments(prefix, folderSegments);
    const start = join(this.root, ...folderSegments);
    let entries;
    try {
      entries = await readdir(start, { recursive: true, withFileTypes: true });
    } catch (error) {
      if (isMissing(error)) return [];
      throw error;
    }
    const objects: ObjectInfo[] = [];
    for (const entry of entries) {
      if (entry.isDirectory() || isAtomicWriteTempName(entry.name)) continue;
      const path = join(entry.parentPath, entry.name);
      const key = relative(this.root, path).split(sep).join("/");
      if (!key.startsWith(prefix) || key === META_FOLDER || key.startsWith(`${META_FOLDER}/`)) continue;
      const info = await this.describe(key, path);
      if (info) objects.push(info);
    }
    return objects.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async head(key: string, version?: ObjectVersion): Promise<ObjectInfo | undefined> {
    this.refuseVersionId(key, version);
    const info = await this.describe(key, this.pathOf(key));
    if (!info || !matches(info, version)) return undefined;
    const sha256 = await this.recordedSha256(key, info);
    return sha256 ? { ...info, checksumSha256: sha256, checksumType: "FULL_OBJECT" } : info;
  }

  async getRange(key: string, start: number, length: number): Promise<Uint8Array> {
    if (!Number.isSafeInteger(start) || start < 0 || !Number.isSafeInteger(length) || length < 0) {
      throw new RangeError(`${this.describeKey(key)}: invalid range start=${start} length=${length}.`);
    }
    let handle;
    try {
      handle = await open(this.pathOf(key), "r");
    } catch (error) {
      if (isMissing(error)) throw new Error(`${this.describeKey(key)} does not exist.`, { cause: error });
      throw error;
    }
    try {
      const stats = await handle.stat();
      if (!stats.isFile()) throw new Error(`${this.describeKey(key)} is a folder, not an object.`);
      // Sized by what the file holds, not by what was asked: a length is never trusted for an allocation.
      const bytes = new Uint8Array(Math.max(0, Math.min(length, stats.size - start)));
      let filled = 0;
      while (filled < bytes.byteLength) {
        const { bytesRead } = await handle.read(bytes, filled, bytes.byteLength - filled, start + filled);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
      return bytes.subarray(0, filled);
    } finally {
      await handle.close();
    }
  }

  async get(key: string, version?: ObjectVersion): Promise<Uint8Array | undefined> {
    this.refuseVersionId(key, version);
    let handle;
    try {
      handle = await open(this.pathOf(key), "r");
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
    try {
      // The ETag of the file this handle reads, not of a later file renamed over the key.
      const stats = await handle.stat({ bigint: true });
      if (!stats.isFile() || !matches({ etag: etagOf(stats) }, version)) return undefined;
      const bytes = await handle.readFile();
      return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    } finally {
      await handle.close();
    }
  }

  async put(key: string, body: Uint8Array | string): Promise<void> {
    const path = this.pathOf(key);
    const bytes = typeof body === "string" ? Buffer.from(body, "utf8") : body;
    await writeFileAtomic(path, bytes);
    const written = await stat(path, { bigint: true });
    const sidecar: ChecksumSidecar = {
      key,
      size: Number(written.size),
      mtimeNs: written.mtimeNs.toString(),
      sha256: createHash("sha256").update(bytes).digest("base64"),
    };
    await writeFileAtomic(this.sidecarPath(key), JSON.stringify(sidecar));
  }

  private async describe(key: string, path: string): Promise<ObjectInfo | undefined> {
    try {
      const stats = await stat(path, { bigint: true });
      if (!stats.isFile()) return undefined;
      return {
        key,
        size: Number(stats.size),
        etag: etagOf(stats),
        lastModified: stats.mtime.toISOString(),
      };
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
  }

  private async recordedSha256(key: string, info: ObjectInfo): Promise<string | undefined> {
    let sidecar: Partial<ChecksumSidecar>;
    try {
      sidecar = JSON.parse(await readFile(this.sidecarPath(key), "utf8")) as Partial<ChecksumSidecar>;
    } catch {
      return undefined;
    }
    const current = await stat(this.pathOf(key), { bigint: true });
    const unchanged =
      sidecar.key === key && sidecar.size === info.size && sidecar.mtimeNs === current.mtimeNs.toString();
    return unchanged && typeof sidecar.sha256 === "string" ? sidecar.sha256 : undefined;
  }

  /** One flat file per key, named by the key's hash: no key can collide with another's sidecar. */
  private sidecarPath(key: string): string {
    return join(this.root, META_FOLDER, "sha256", `${createHash("sha256").update(key).digest("hex")}.json`);
  }

  private pathOf(key: string): string {
    const segments = key.split("/");
    this.checkSegments(key, segments);
    if (segments[0] === META_FOLDER || segments.some(isAtomicWriteTempName)) {
      throw new Error(
        `Key "${key}" uses a name modelship reserves in ${this.root} (${META_FOLDER}/ or a temp-file name); choose another key.`,
      );
    }
    const path = join(this.root, ...segments);
    if (!path.startsWith(this.root + sep)) throw this.escapes(key);
    return path;
  }

  private checkSegments(key: string, segments: readonly string[]): void {
    const bad = segments.some(
      (s) => s === "" || s === "." || s === ".." || s.includes("\\") || s.includes("\0"),
    );
    if (bad) throw this.escapes(key);
  }

  private escapes(key: string): Error {
    return new Error(
      `Key "${key}" is not a path inside ${this.root}: keys are relative, "/"-separated, with no empty, "." or ".." segments (e.g. models/my-model/v1/config.json).`,
    );
  }

  private refuseVersionId(key: string, version: ObjectVersion | undefined): void {
    if (version?.versionId === undefined) return;
    throw new Error(
      `${this.describeKey(key)}: a folder keeps no object versions, so version ${version.versionId} cannot be read. ` +
        "Start local rollouts from the folder's own events (they carry an ETag, not a version id).",
    );
  }

  private describeKey(key: string): string {
    return `${key} in ${this.root}`;
  }
}

/** Size and modification time in nanoseconds: it changes whenever the file is rewritten. */
function etagOf(stats: { readonly size: bigint; readonly mtimeNs: bigint }): string {
  return `${stats.size.toString(16)}-${stats.mtimeNs.toString(16)}`;
}

function matches(info: { readonly etag?: string }, version: ObjectVersion | undefined): boolean {
  return version?.etag === undefined || version.etag.replace(/^"(.*)"$/, "$1") === info.etag;
}

function isMissing(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  return code === "ENOENT" || code === "ENOTDIR" || code === "EISDIR";
}
