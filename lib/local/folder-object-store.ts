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
//
// Nothing is read or written through a link that leaves the folder (DESIGN §8): a key's real path, links
// resolved, must lie inside the folder's real path. A link inside it (`v2/model.gguf → ../v1/model.gguf`) is
// read like the file it names; a link out of it, a broken link, a link to a folder, and anything that is not
// a regular file (a FIFO would block its reader) are listed with `unreadable` set — size 0, never followed —
// and reading one throws. A read opens the resolved path, so a link changed after the check is not followed.
// Beyond this: a folder swapped for a link in the instant between the check and the open (whoever can do that
// can read the file themselves), and a hard link, which is the file itself (making one needs permission on
// the file).

import { createHash } from "node:crypto";
import { constants, type Stats } from "node:fs";
import { type FileHandle, lstat, mkdir, open, readdir, readlink, realpath, stat } from "node:fs/promises";
import { dirname, join, relative, resolve, sep } from "node:path";
import { type UnreadableEntry, unreadableEntryFinding } from "../core/weights/unreadable-entry";
import type { ObjectInfo, ObjectStore, ObjectVersion } from "../ports";
import { isAtomicWriteTempName, writeFileAtomic } from "./atomic-write";

const META_FOLDER = ".modelship-meta";
/** O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer that never comes. */
const READ_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK;

/** Reading an entry the store lists as unreadable, or a key whose real path leaves the folder. */
export class UnreadableObject extends Error {
  constructor(
    readonly key: string,
    readonly entry: UnreadableEntry,
    root: string,
  ) {
    super(`${key}: ${unreadableEntryFinding(key, entry, root).message}`);
    this.name = "UnreadableObject";
  }
}

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
  /** The folder's own real path (it may itself be reached through a link), once it exists. */
  private realRoot: string | undefined;

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
    const startInside = await this.realPathInside(start);
    if (startInside === "missing") return [];
    if (startInside === "outside") {
      throw new UnreadableObject(`${folderSegments.join("/")}/`, { reason: "link-outside" }, this.root);
    }
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
      // readdir does not descend through links, so a regular file it found under `start` is inside.
      const info = await this.describe(key, path, entry.isFile());
      if (info) objects.push(info);
    }
    return objects.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async head(key: string, version?: ObjectVersion): Promise<ObjectInfo | undefined> {
    this.refuseVersionId(key, version);
    const info = await this.describe(key, this.pathOf(key));
    if (info?.unreadable) return info;
    if (!info || !matches(info, version)) return undefined;
    const sha256 = await this.recordedSha256(key, info);
    return sha256 ? { ...info, checksumSha256: sha256, checksumType: "FULL_OBJECT" } : info;
  }

  async getRange(key: string, start: number, length: number): Promise<Uint8Array> {
    if (!Number.isSafeInteger(start) || start < 0 || !Number.isSafeInteger(length) || length < 0) {
      throw new RangeError(`${this.describeKey(key)}: invalid range start=${start} length=${length}.`);
    }
    const opened = await this.openInside(key, this.pathOf(key));
    if (!opened) throw new Error(`${this.describeKey(key)} does not exist.`);
    if (opened === "folder") throw new Error(`${this.describeKey(key)} is a folder, not an object.`);
    const { handle, stats } = opened;
    try {
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
    const opened = await this.openInside(key, this.pathOf(key));
    if (!opened || opened === "folder") return undefined;
    try {
      // The ETag of the file this handle reads, not of a later file renamed over the key.
      if (!matches({ etag: etagOf(await opened.handle.stat({ bigint: true })) }, version)) return undefined;
      const bytes = await opened.handle.readFile();
      return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    } finally {
      await opened.handle.close();
    }
  }

  async put(key: string, body: Uint8Array | string): Promise<void> {
    const path = this.pathOf(key);
    const bytes = typeof body === "string" ? Buffer.from(body, "utf8") : body;
    await this.makeFolderInside(key, dirname(path));
    await writeFileAtomic(path, bytes);
    const written = await stat(path, { bigint: true });
    const sidecar: ChecksumSidecar = {
      key,
      size: Number(written.size),
      mtimeNs: written.mtimeNs.toString(),
      sha256: createHash("sha256").update(bytes).digest("base64"),
    };
    const sidecarPath = this.sidecarPath(key);
    await this.makeFolderInside(key, dirname(sidecarPath));
    await writeFileAtomic(sidecarPath, JSON.stringify(sidecar));
  }

  /**
   * The object at `path` as a listing shows it: a regular file (or a link to one inside the folder) with its
   * size; an entry the store will not read with `unreadable` and size 0; undefined for a folder or nothing.
   */
  private async describe(key: string, path: string, knownInside = false): Promise<ObjectInfo | undefined> {
    let own;
    try {
      own = await lstat(path);
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
    if (own.isDirectory()) return undefined;
    const unreadable = (entry: UnreadableEntry): ObjectInfo => ({ key, size: 0, unreadable: entry });
    if (!own.isFile() && !own.isSymbolicLink()) return unreadable({ reason: "not-a-file" });
    const target = own.isSymbolicLink() ? { target: await readlink(path) } : {};
    const inside = knownInside && own.isFile() ? "inside" : await this.realPathInside(path);
    if (inside === "missing")
      return own.isSymbolicLink() ? unreadable({ reason: "link-broken", ...target }) : undefined;
    if (inside === "outside") return unreadable({ reason: "link-outside", ...target });
    const stats = await stat(path, { bigint: true });
    if (stats.isDirectory()) return unreadable({ reason: "link-to-folder", ...target });
    if (!stats.isFile()) return unreadable({ reason: "not-a-file", ...target });
    return {
      key,
      size: Number(stats.size),
      etag: etagOf(stats),
      lastModified: stats.mtime.toISOString(),
    };
  }

  /**
   * Opens `path` for reading if it is a regular file whose real path lies inside the folder; undefined when
   * there is nothing there, "folder" for a folder. Throws UnreadableObject for anything else. It opens the resolved path, not the
   * name: a link changed after the check is not followed.
   */
  private async openInside(
    key: string,
    path: string,
  ): Promise<{ handle: FileHandle; stats: Stats } | "folder" | undefined> {
    const linkTarget = async (): Promise<{ target?: string }> => {
      const own = await lstat(path).catch(() => undefined);
      return own?.isSymbolicLink() ? { target: await readlink(path) } : {};
    };
    let real: string;
    try {
      real = await realpath(path);
    } catch (error) {
      if (!isMissing(error) && (error as { code?: unknown }).code !== "ELOOP") throw error;
      const link = await linkTarget();
      if (link.target === undefined) return undefined;
      throw new UnreadableObject(key, { reason: "link-broken", ...link }, this.root);
    }
    if (!isInside(real, await this.rootReal())) {
      throw new UnreadableObject(key, { reason: "link-outside", ...(await linkTarget()) }, this.root);
    }
    let handle: FileHandle;
    try {
      handle = await open(real, READ_FLAGS);
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
    try {
      const stats = await handle.stat();
      if (stats.isFile()) return { handle, stats };
      const link = await linkTarget();
      if (stats.isDirectory() && link.target === undefined) {
        await handle.close();
        return "folder";
      }
      const reason = stats.isDirectory() ? "link-to-folder" : "not-a-file";
      throw new UnreadableObject(key, { reason, ...link }, this.root);
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  /** Whether `path`, links resolved, lies inside the folder ("missing" when it leads nowhere). */
  private async realPathInside(path: string): Promise<"inside" | "outside" | "missing"> {
    let real: string;
    try {
      real = await realpath(path);
    } catch (error) {
      if (isMissing(error) || (error as { code?: unknown }).code === "ELOOP") return "missing";
      throw error;
    }
    return isInside(real, await this.rootReal()) ? "inside" : "outside";
  }

  private async rootReal(): Promise<string> {
    this.realRoot ??= await realpath(this.root).catch((error: unknown) => {
      // Before the folder exists nothing can be inside it but what is created under its own name.
      if (isMissing(error)) return undefined;
      throw error;
    });
    return this.realRoot ?? this.root;
  }

  /**
   * Creates the folders a write needs, first checking that the deepest one that exists lies inside the store's
   * folder: a write never lands outside it through a linked folder.
   */
  private async makeFolderInside(key: string, folder: string): Promise<void> {
    let existing = folder;
    while (!(await stat(existing).catch(() => undefined)) && existing.startsWith(this.root + sep)) {
      existing = dirname(existing);
    }
    if ((await this.realPathInside(existing)) === "outside") {
      throw new UnreadableObject(key, { reason: "link-outside" }, this.root);
    }
    await mkdir(folder, { recursive: true });
  }

  private async recordedSha256(key: string, info: ObjectInfo): Promise<string | undefined> {
    let sidecar: Partial<ChecksumSidecar>;
    try {
      const opened = await this.openInside(key, this.sidecarPath(key));
      if (!opened || opened === "folder") return undefined;
      const text = await opened.handle.readFile("utf8").finally(() => opened.handle.close());
      sidecar = JSON.parse(text) as Partial<ChecksumSidecar>;
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

function isInside(path: string, root: string): boolean {
  return path === root || path.startsWith(root + sep);
}

function isMissing(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  return code === "ENOENT" || code === "ENOTDIR" || code === "EISDIR";
}
