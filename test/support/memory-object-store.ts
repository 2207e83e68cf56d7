// An in-memory ObjectStore that behaves like S3 where stages can tell: listings are sorted and carry no
// checksums (ListObjectsV2 returns none), head reports a full-object SHA-256 for objects stored with one,
// a range past the end is short, an object put again gets a new version id and ETag while its older versions
// stay readable by id (a versioned bucket). It logs every read so tests can assert how much a stage asked for.

import { createHash } from "node:crypto";
import type { ObjectInfo, ObjectStore, ObjectVersion } from "../../lib/ports";

interface StoredObject {
  readonly bytes: Uint8Array;
  readonly checksumSha256?: string;
  readonly versionId: string;
  readonly etag: string;
}

export interface ReadRecord {
  readonly key: string;
  readonly start: number;
  /** Bytes asked for: the whole object for `get`. */
  readonly length: number;
}

export class MemoryObjectStore implements ObjectStore {
  readonly bucket = "memory-bucket";
  readonly location = `s3://${this.bucket}`;
  readonly reads: ReadRecord[] = [];
  private readonly objects = new Map<string, StoredObject>();
  /** Every version ever stored, by `<key>#<versionId>`. */
  private readonly versions = new Map<string, StoredObject>();
  private nextVersion = 1;

  /** Stores each file under `prefix`, with a SHA-256 checksum unless `checksums` is false. */
  addFiles(
    prefix: string,
    files: ReadonlyMap<string, Uint8Array>,
    options: { checksums?: boolean } = {},
  ): this {
    for (const [path, bytes] of files) {
      this.store(`${prefix}${path}`, bytes, options.checksums !== false);
    }
    return this;
  }

  /** The version id and ETag the object has now, as an upload's event would carry them. */
  versionOf(key: string): { versionId: string; etag: string } | undefined {
    const object = this.objects.get(key);
    return object && { versionId: object.versionId, etag: object.etag };
  }

  /** The object's bytes, for assertions on what a stage wrote. */
  text(key: string): string | undefined {
    const object = this.objects.get(key);
    return object && new TextDecoder().decode(object.bytes);
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    return [...this.objects]
      .filter(([key]) => key.startsWith(prefix))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([key, object]) => ({ key, size: object.bytes.byteLength }));
  }

  async head(key: string, version?: ObjectVersion): Promise<ObjectInfo | undefined> {
    const object = this.find(key, version);
    if (!object) return undefined;
    return {
      key,
      size: object.bytes.byteLength,
      ...(object.checksumSha256 && {
        checksumSha256: object.checksumSha256,
        checksumType: "FULL_OBJECT" as const,
      }),
    };
  }

  async getRange(key: string, start: number, length: number): Promise<Uint8Array> {
    const object = this.objects.get(key);
    if (!object) throw new Error(`${this.location}/${key} does not exist.`);
    this.reads.push({ key, start, length });
    return object.bytes.slice(start, start + length);
  }

  async get(key: string, version?: ObjectVersion): Promise<Uint8Array | undefined> {
    const object = this.find(key, version);
    if (object) this.reads.push({ key, start: 0, length: object.bytes.byteLength });
    return object?.bytes.slice();
  }

  async put(key: string, body: Uint8Array | string): Promise<void> {
    this.store(key, typeof body === "string" ? new TextEncoder().encode(body) : body, true);
  }

  private store(key: string, bytes: Uint8Array, checksum: boolean): void {
    const object: StoredObject = {
      bytes,
      versionId: `version-${this.nextVersion++}`,
      etag: createHash("md5").update(bytes).digest("hex"),
      ...(checksum && { checksumSha256: sha256Base64(bytes) }),
    };
    this.objects.set(key, object);
    this.versions.set(`${key}#${object.versionId}`, object);
  }

  private find(key: string, version: ObjectVersion | undefined): StoredObject | undefined {
    const object =
      version?.versionId === undefined
        ? this.objects.get(key)
        : this.versions.get(`${key}#${version.versionId}`);
    return object && (version?.etag === undefined || version.etag === object.etag) ? object : undefined;
  }
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

function sha256Base64(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("base64");
}
