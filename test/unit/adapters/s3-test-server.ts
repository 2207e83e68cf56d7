// A small HTTP server that answers like S3, path-style (`/<bucket>/<key>`), for the S3 adapter to talk to
// over real HTTP: ListObjectsV2 XML with continuation tokens (a tiny page size, so pagination is
// exercised), HEAD with the SHA-256 checksum headers when asked for them, GET with Range → 206 or 416,
// PUT (verifying a sent SHA-256), reads of an older version (`versionId`) or on a condition (`If-Match`),
// NoSuchKey errors — and scripted failures for the error paths.

import { createHash } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

interface StoredObject {
  readonly body: Buffer;
  readonly etag: string;
  readonly lastModified: Date;
  readonly sha256?: string;
  /** Set on objects of a versioned bucket. */
  readonly versionId?: string;
}

export interface ReceivedRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: IncomingHttpHeaders;
}

export class S3TestServer {
  readonly objects = new Map<string, StoredObject>();
  /** Older versions of objects of a versioned bucket, by `<key>\0<versionId>`. */
  readonly noncurrent = new Map<string, StoredObject>();
  readonly requests: ReceivedRequest[] = [];
  /** Status codes and S3 error codes to answer the next requests with, first to last. */
  readonly failures: { status: number; code: string }[] = [];
  /** Answer GETs with the whole object, ignoring Range, as a misbehaving server might. */
  ignoreRange = false;
  private server: Server | undefined;

  constructor(
    readonly bucket: string,
    private readonly pageSize = 2,
  ) {}

  async start(): Promise<string> {
    this.server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on("data", (chunk: Buffer) => chunks.push(chunk));
      request.on("end", () =>
        this.answer(request.method ?? "GET", request.url ?? "/", request.headers, chunks, response),
      );
    });
    await new Promise<void>((resolve) => this.server?.listen(0, "127.0.0.1", resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve, reject) => this.server?.close((e) => (e ? reject(e) : resolve())));
  }

  private answer(
    method: string,
    url: string,
    headers: IncomingHttpHeaders,
    chunks: Buffer[],
    response: ServerResponse,
  ): void {
    const parsed = new URL(url, "http://s3.test");
    this.requests.push({ method, path: parsed.pathname, query: parsed.searchParams, headers });
    const failure = this.failures.shift();
    if (failure) return sendError(response, failure.status, failure.code, method);
    const [, bucket = "", ...keyParts] = parsed.pathname.split("/");
    if (decodeURIComponent(bucket) !== this.bucket) return sendError(response, 404, "NoSuchBucket", method);
    const key = keyParts.map(decodeURIComponent).join("/");
    if (method === "GET" && key === "" && parsed.searchParams.get("list-type") === "2") {
      return this.list(parsed.searchParams, response);
    }
    if (method === "PUT") return this.put(key, headers, Buffer.concat(chunks), response);
    const versionId = parsed.searchParams.get("versionId");
    const current = this.objects.get(key);
    const object =
      versionId === null || current?.versionId === versionId
        ? current
        : this.noncurrent.get(`${key}\0${versionId}`);
    if (!object) return sendError(response, 404, versionId === null ? "NoSuchKey" : "NoSuchVersion", method);
    const ifMatch = headers["if-match"];
    if (ifMatch !== undefined && ifMatch !== `"${object.etag}"`) {
      return sendError(response, 412, "PreconditionFailed", method);
    }
    if (method === "HEAD") return this.head(object, headers, response);
    if (method === "GET") return this.get(object, headers, response);
    sendError(response, 405, "MethodNotAllowed", method);
  }

  private list(query: URLSearchParams, response: ServerResponse): void {
    const prefix = query.get("prefix") ?? "";
    const keys = [...this.objects.keys()].filter((k) => k.startsWith(prefix)).sort();
    const token = query.get("continuation-token");
    const start = token ? Number(Buffer.from(token, "base64url").toString()) : 0;
    const page = keys.slice(start, start + this.pageSize);
    const truncated = start + this.pageSize < keys.length;
    const contents = page.map((key) => {
      const object = this.objects.get(key) as StoredObject;
      return `<Contents><Key>${xml(key)}</Key><LastModified>${object.lastModified.toISOString()}</LastModified><ETag>&quot;${object.etag}&quot;</ETag><Size>${object.body.length}</Size><StorageClass>STANDARD</StorageClass></Contents>`;
    });
    const next = truncated
      ? `<NextContinuationToken>${Buffer.from(String(start + this.pageSize)).toString("base64url")}</NextContinuationToken>`
      : "";
    const body = `<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>${this.bucket}</Name><Prefix>${xml(prefix)}</Prefix><KeyCount>${page.length}</KeyCount><MaxKeys>${this.pageSize}</MaxKeys><IsTruncated>${truncated}</IsTruncated>${contents.join("")}${next}</ListBucketResult>`;
    response.writeHead(200, { "content-type": "application/xml" }).end(body);
  }

  private put(key: string, headers: IncomingHttpHeaders, body: Buffer, response: ServerResponse): void {
    const sent = headers["x-amz-checksum-sha256"];
    const sha256 = createHash("sha256").update(body).digest("base64");
    if (typeof sent === "string" && sent !== sha256) return sendError(response, 400, "BadDigest", "PUT");
    const etag = createHash("md5").update(body).digest("hex");
    this.objects.set(key, {
      body,
      etag,
      lastModified: new Date(),
      ...(typeof sent === "string" && { sha256 }),
    });
    response.writeHead(200, {
      etag: `"${etag}"`,
      ...(typeof sent === "string" && { "x-amz-checksum-sha256": sha256 }),
    });
    response.end();
  }

  private head(object: StoredObject, headers: IncomingHttpHeaders, response: ServerResponse): void {
    response.writeHead(200, {
      ...objectHeaders(object),
      "content-length": object.body.length,
      ...(headers["x-amz-checksum-mode"] === "ENABLED" &&
        object.sha256 && { "x-amz-checksum-sha256": object.sha256, "x-amz-checksum-type": "FULL_OBJECT" }),
    });
    response.end();
  }

  private get(object: StoredObject, headers: IncomingHttpHeaders, response: ServerResponse): void {
    const range = /^bytes=(\d+)-(\d+)$/.exec(headers.range ?? "");
    if (!range || this.ignoreRange) {
      response.writeHead(200, { ...objectHeaders(object), "content-length": object.body.length });
      return void response.end(object.body);
    }
    const size = object.body.length;
    const first = Number(range[1]);
    if (first >= size) return sendError(response, 416, "InvalidRange", "GET");
    const last = Math.min(Number(range[2]), size - 1);
    const slice = object.body.subarray(first, last + 1);
    response.writeHead(206, {
      ...objectHeaders(object),
      "content-length": slice.length,
      "content-range": `bytes ${first}-${last}/${size}`,
    });
    response.end(slice);
  }
}

function objectHeaders(object: StoredObject): Record<string, string> {
  return {
    etag: `"${object.etag}"`,
    "last-modified": object.lastModified.toUTCString(),
    "accept-ranges": "bytes",
    ...(object.versionId && { "x-amz-version-id": object.versionId }),
  };
}

function sendError(response: ServerResponse, status: number, code: string, method: string): void {
  response.writeHead(status, { "content-type": "application/xml" });
  // HEAD answers carry no body; S3 clients read the error from the status alone.
  if (method === "HEAD") return void response.end();
  response.end(
    `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${code} from the test server</Message><RequestId>test</RequestId></Error>`,
  );
}

function xml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}
