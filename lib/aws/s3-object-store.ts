// The ObjectStore port on Amazon S3 (or anything that speaks its API: MinIO, LocalStack). The default
// client takes the SDK's standard configuration from the environment — AWS_REGION, AWS_ENDPOINT_URL_S3 /
// AWS_ENDPOINT_URL, the credentials chain. The SDK reads no setting for path-style addressing, which
// MinIO and LocalStack usually need, so MODELSHIP_S3_FORCE_PATH_STYLE=true turns it on.

import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type GetObjectCommandOutput,
} from "@aws-sdk/client-s3";
import type { ObjectInfo, ObjectStore, ObjectVersion } from "../ports";
import { asTransientWhenPassing } from "./transient-errors";

export interface S3ObjectStoreOptions {
  readonly bucket: string;
  /** Default: `new S3Client(...)` from the environment's standard configuration. */
  readonly client?: S3Client;
}

export class S3ObjectStore implements ObjectStore {
  readonly location: string;
  readonly bucket: string;
  private readonly client: S3Client;

  constructor({ bucket, client }: S3ObjectStoreOptions) {
    this.bucket = bucket;
    this.location = `s3://${bucket}`;
    this.client = client ?? new S3Client({ forcePathStyle: forcePathStyleFromEnvironment() });
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    const objects: ObjectInfo[] = [];
    let continuationToken: string | undefined;
    do {
      const page = await this.client
        .send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: prefix,
            ContinuationToken: continuationToken,
          }),
        )
        .catch((error: unknown) => {
          throw asTransientWhenPassing(error, `ListObjectsV2 ${this.url(prefix)}`);
        });
      for (const object of page.Contents ?? []) {
        if (object.Key === undefined) continue;
        objects.push({
          key: object.Key,
          size: object.Size ?? 0,
          ...(object.ETag && { etag: stripQuotes(object.ETag) }),
          ...(object.LastModified && { lastModified: object.LastModified.toISOString() }),
        });
      }
      const next = page.IsTruncated ? page.NextContinuationToken : undefined;
      if (next !== undefined && next === continuationToken) {
        throw new Error(`${this.url(prefix)}: the listing repeated its continuation token; stopping.`);
      }
      continuationToken = next;
    } while (continuationToken);
    return objects.sort((a, b) => compareKeys(a.key, b.key));
  }

  async head(key: string, version?: ObjectVersion): Promise<ObjectInfo | undefined> {
    try {
      const head = await this.client.send(
        new HeadObjectCommand({
          Bucket: this.bucket,
          Key: key,
          ChecksumMode: "ENABLED",
          ...versionParameters(version),
        }),
      );
      return {
        key,
        size: head.ContentLength ?? 0,
        ...(head.ETag && { etag: stripQuotes(head.ETag) }),
        ...(head.VersionId && { versionId: head.VersionId }),
        ...(head.LastModified && { lastModified: head.LastModified.toISOString() }),
        ...(head.ChecksumSHA256 && { checksumSha256: head.ChecksumSHA256 }),
        ...((head.ChecksumType === "FULL_OBJECT" || head.ChecksumType === "COMPOSITE") && {
          checksumType: head.ChecksumType,
        }),
      };
    } catch (error) {
      if (isNotFound(error) || isOtherVersion(error)) return undefined;
      throw asTransientWhenPassing(error, `HeadObject ${this.url(key)}`);
    }
  }

  async getRange(key: string, start: number, length: number): Promise<Uint8Array> {
    if (!Number.isSafeInteger(start) || start < 0 || !Number.isSafeInteger(length) || length < 0) {
      throw new RangeError(`${this.url(key)}: invalid range start=${start} length=${length}.`);
    }
    if (length === 0) {
      if (!(await this.head(key))) throw this.missing(key);
      return new Uint8Array(0);
    }
    let response: GetObjectCommandOutput;
    try {
      response = await this.client.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Range: `bytes=${start}-${start + length - 1}`,
        }),
      );
    } catch (error) {
      if (isNotFound(error)) throw this.missing(key);
      // S3 answers 416 when the range starts at or past the end: there are no bytes left to read.
      if (errorName(error) === "InvalidRange") return new Uint8Array(0);
      throw asTransientWhenPassing(error, `GetObject ${this.url(key)} bytes ${start}+${length}`);
    }
    if (start > 0 && response.ContentRange === undefined) {
      throw new Error(
        `${this.url(key)}: the server ignored the Range header and sent the whole object; modelship reads large files by ranges only.`,
      );
    }
    return readAtMost(response.Body, length);
  }

  async get(key: string, version?: ObjectVersion): Promise<Uint8Array | undefined> {
    try {
      const response = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: key, ...versionParameters(version) }),
      );
      return (await response.Body?.transformToByteArray()) ?? new Uint8Array(0);
    } catch (error) {
      if (isNotFound(error) || isOtherVersion(error)) return undefined;
      throw asTransientWhenPassing(error, `GetObject ${this.url(key)}`);
    }
  }

  async put(
    key: string,
    body: Uint8Array | string,
    options?: { readonly contentType?: string },
  ): Promise<void> {
    try {
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: body,
          ContentType: options?.contentType,
          // A full-object SHA-256 lets Validate compare what it reads with a manifest's checksums.
          ChecksumAlgorithm: "SHA256",
        }),
      );
    } catch (error) {
      throw asTransientWhenPassing(error, `PutObject ${this.url(key)}`);
    }
  }

  private url(key: string): string {
    return `s3://${this.bucket}/${key}`;
  }

  private missing(key: string): Error {
    return new Error(`${this.url(key)} does not exist.`);
  }
}

function forcePathStyleFromEnvironment(): boolean {
  return /^(true|1|yes)$/i.test(process.env.MODELSHIP_S3_FORCE_PATH_STYLE ?? "");
}

function stripQuotes(etag: string): string {
  return etag.replace(/^"(.*)"$/, "$1");
}

/** Code-unit order, the same order the folder store uses, so both list identically. */
function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function errorName(error: unknown): string | undefined {
  return error && typeof error === "object" && "name" in error ? String(error.name) : undefined;
}

function isNotFound(error: unknown): boolean {
  const name = errorName(error);
  return name === "NoSuchKey" || name === "NotFound";
}

/**
 * The version asked for is not there: S3 answers `NoSuchVersion` for a version id it does not have (also
 * `InvalidArgument` for one that cannot be an id of this bucket's), and 412 `PreconditionFailed` when the
 * object's ETag no longer matches `If-Match`.
 */
function isOtherVersion(error: unknown): boolean {
  const name = errorName(error);
  // A HEAD answer has no body to name its error, so 412 is known by its status alone.
  const status = (error as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata
    ?.httpStatusCode;
  return (
    name === "NoSuchVersion" || name === "PreconditionFailed" || name === "InvalidArgument" || status === 412
  );
}

/** GetObject/HeadObject parameters reading exactly `version`: by id, else by ETag (S3 wants it quoted). */
function versionParameters(version: ObjectVersion | undefined): { VersionId?: string; IfMatch?: string } {
  if (version?.versionId !== undefined) return { VersionId: version.versionId };
  if (version?.etag !== undefined) return { IfMatch: `"${stripQuotes(version.etag)}"` };
  return {};
}

/** Never more than `limit` bytes, whatever the server sends: a response's size is not trusted. */
async function readAtMost(body: GetObjectCommandOutput["Body"], limit: number): Promise<Uint8Array> {
  if (!body) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let total = 0;
  // Leaving the loop early destroys the stream, so the rest of an over-long answer is never downloaded.
  for await (const chunk of body as AsyncIterable<Uint8Array>) {
    const take = Math.min(chunk.byteLength, limit - total);
    chunks.push(chunk.subarray(0, take));
    total += take;
    if (total >= limit) break;
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}
