// Reading request bodies and writing JSON answers for the local gateway's front door and admin API. Bodies
// are read up to a cap (a gateway that buffers whatever it is sent can be run out of memory); errors are
// OpenAI-shaped (`{"error": {"message", "type", "param", "code"}}`) so OpenAI clients show them as their own.

import type { IncomingMessage, ServerResponse } from "node:http";
import { OpenAiError } from "../llama-server/openai-error";

/** The whole body, or an OpenAiError 413 once it passes `maxBytes` (the rest is read and dropped). */
export function readCappedBody(request: IncomingMessage, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBytes) {
        chunks.push(chunk);
        return;
      }
      request.off("data", onData);
      request.resume();
      reject(
        new OpenAiError(
          413,
          `The request body is over the gateway's limit of ${maxBytes} bytes.`,
          null,
          "request_too_large",
        ),
      );
    };
    request.on("data", onData);
    request.once("end", () => resolve(Buffer.concat(chunks)));
    request.once("error", reject);
  });
}

/** The body as a JSON object, or a 400 saying what is wrong with it. */
export function parseJsonObject(body: Buffer, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(body.toString("utf8"));
  } catch (error) {
    throw new OpenAiError(
      400,
      `${what} is not valid JSON (${(error as Error).message}): send a JSON object with \`Content-Type: application/json\`.`,
      null,
      "invalid_json",
    );
  }
  if (!value || typeof value !== "object" || Array.isArray(value)) {
    throw new OpenAiError(400, `${what} must be a JSON object.`, null, "invalid_json");
  }
  return value as Record<string, unknown>;
}

export function sendJson(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Readonly<Record<string, string>> = {},
): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    ...headers,
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
  });
  response.end(text);
}

/** Answers with the error, or — when the answer has already started — cuts the response short. */
export function sendError(
  response: ServerResponse,
  error: unknown,
  headers: Readonly<Record<string, string>> = {},
): void {
  if (response.headersSent) {
    response.destroy();
    return;
  }
  const failure =
    error instanceof OpenAiError
      ? error
      : new OpenAiError(500, `The gateway failed: ${(error as Error).message}`, null, "internal_error");
  sendJson(response, failure.status, failure.toBody(), headers);
}
