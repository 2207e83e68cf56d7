// The HTTP plumbing of the eval client: one keep-alive connection pool per run (trusting an endpoint's
// private CA next to the public ones), bodies read with a size cap (a server's size claims are not
// trusted), and network errors turned into a sentence that names the cause (ECONNREFUSED, a reset …).

import { rootCertificates } from "node:tls";
import { Agent, type Dispatcher } from "undici";
import { clipText } from "../core/text/clip-text";
import type { Endpoint } from "../ports";

/** A server's error message is kept to this many characters, cut at a word. */
const MAX_MESSAGE_CHARS = 300;

/** A pool of up to `connections` keep-alive connections; time limits are the caller's own timers. */
export function connectionPool(endpoint: Endpoint, connections: number): Agent {
  return new Agent({
    connections,
    headersTimeout: 0,
    bodyTimeout: 0,
    ...(endpoint.caCertificate ? { connect: { ca: [...rootCertificates, endpoint.caCertificate] } } : {}),
  });
}

/** `https://host/v1` + `/chat/completions`. */
export function endpointUrl(endpoint: Endpoint, path: string): string {
  return `${endpoint.baseUrl.replace(/\/+$/, "")}${path}`;
}

export class BodyTooLarge extends Error {}

/** The body as text; reading stops (and the connection is dropped) past `maxBytes`. */
export async function readCappedText(
  body: Dispatcher.ResponseData["body"],
  maxBytes: number,
): Promise<string> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of body) {
    const buffer = chunk as Buffer;
    total += buffer.byteLength;
    if (total > maxBytes) {
      body.destroy();
      throw new BodyTooLarge(`the answer is larger than ${maxBytes} bytes`);
    }
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** `connect ECONNREFUSED 127.0.0.1:8000`, `other side closed`, … */
export function describeNetworkError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? error.cause : undefined;
  const code = (cause && "code" in cause ? cause.code : "code" in error ? error.code : undefined) as unknown;
  const parts = [error.message, cause?.message].filter((p): p is string => Boolean(p));
  const text = [...new Set(parts)].join(": ");
  return typeof code === "string" && !text.includes(code) ? `${text} (${code})` : text;
}

/** The message of an OpenAI-style error body (`{"error": {"message"}}`), else the body's start. */
export function errorMessageOf(text: string): string {
  try {
    const parsed: unknown = JSON.parse(text);
    const error = field(parsed, "error");
    const message = typeof error === "string" ? error : field(error, "message");
    if (typeof message === "string") return clipText(message, MAX_MESSAGE_CHARS);
  } catch {
    // Not JSON: the text itself says what happened.
  }
  return clipText(text.trim(), MAX_MESSAGE_CHARS);
}

export function field(value: unknown, key: string): unknown {
  return typeof value === "object" && value !== null ? (value as Record<string, unknown>)[key] : undefined;
}
