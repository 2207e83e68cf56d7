// How a failed request is told to a person: the server's own error message (an OpenAI-style body's
// `error.message`, else the body's start) or the network's reason, kept short — cut at a word, never in one,
// so an example in a summary still reads as the server's sentence.

import { clipText } from "../core/text/clip-text";

/** The most characters of one failure's detail a result keeps. */
export const DETAIL_CHARS = 200;

/** An OpenAI-style `{"error": {"message"}}` body's message, else the body's start. */
export function serverErrorMessage(text: string): string {
  try {
    const parsed = JSON.parse(text) as { error?: { message?: unknown } | string } | null;
    const message = typeof parsed?.error === "string" ? parsed.error : parsed?.error?.message;
    if (typeof message === "string") return clipText(message, DETAIL_CHARS);
  } catch {
    // Not JSON: the text says what happened.
  }
  return clipText(text.trim(), DETAIL_CHARS) || "(empty body)";
}

/** A network error with its cause and code: `connect ECONNREFUSED 127.0.0.1:8000: … (ECONNREFUSED)`. */
export function networkErrorMessage(error: unknown): string {
  if (!(error instanceof Error)) return clipText(String(error), DETAIL_CHARS);
  const code = "code" in error ? String(error.code) : undefined;
  const cause = error.cause instanceof Error ? error.cause.message : undefined;
  const parts = [error.message, cause, code && !error.message.includes(code) ? code : undefined];
  return clipText(parts.filter((p) => p !== undefined && p !== "").join(": "), DETAIL_CHARS);
}
