// Who may use the local admin API (DESIGN §8: local endpoints are authenticated). The API changes what
// serves — promote, roll back, abort, faults, uploads — so being on this machine is not enough: any web page
// the user visits can send a request to 127.0.0.1 (a `text/plain` POST needs no CORS preflight). As Jupyter
// and Docker do for their local control endpoints, the control plane writes a random secret into the home
// folder, readable by its owner only (0600), and every admin request must carry it
// (`Authorization: Bearer <secret>`); a page cannot read the file, so it cannot forge the header. Requests a
// browser marks as cross-origin are refused before the secret is even looked at, bodies must be JSON, and who
// acted is the one the secret authenticates — the home's owner — never a field of the body.

import { randomBytes, timingSafeEqual } from "node:crypto";
import { chmod, readFile } from "node:fs/promises";
import type { IncomingMessage } from "node:http";
import { userInfo } from "node:os";
import { join } from "node:path";
import { writeFileAtomic } from "./atomic-write";
import { OpenAiError } from "./llama-server/openai-error";

/** Who made an admin request, as the control plane writes it into a record (`requestedBy`). */
export interface AdminCaller {
  readonly requestedBy: string;
}

const SECRET_FILE = "admin-token";
const SECRET_BYTES = 32;

/** `<home>/admin-token`. */
export function adminSecretPath(home: string): string {
  return join(home, SECRET_FILE);
}

/**
 * A fresh secret for this control plane's life, written to `<home>/admin-token` with mode 0600 before the API
 * listens. A new one at each start: a secret that leaked dies with the process that used it.
 */
export async function createAdminSecret(home: string): Promise<string> {
  const secret = randomBytes(SECRET_BYTES).toString("base64url");
  const path = adminSecretPath(home);
  await writeFileAtomic(path, `${secret}\n`, { mode: 0o600 });
  // The mode is applied under the umask at creation; make it exactly owner-only whatever the umask.
  await chmod(path, 0o600);
  return secret;
}

/** The home's secret cannot be read; the message says why and what to do. */
export class AdminSecretUnreadable extends Error {
  override readonly name = "AdminSecretUnreadable";
}

/** The secret the running control plane wrote, for the CLI; AdminSecretUnreadable when it cannot be read. */
export async function readAdminSecret(home: string): Promise<string> {
  const path = adminSecretPath(home);
  try {
    return (await readFile(path, "utf8")).trim();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new AdminSecretUnreadable(
      code === "EACCES"
        ? `${path} is not readable by this user: the local admin API answers only the user who started the control plane.`
        : `${path} cannot be read (${code ?? String(error)}): the control plane writes it when it starts; start it again with \`modelship local\`.`,
      { cause: error },
    );
  }
}

/**
 * Who the home's secret (or the web console's session, which only the home's owner can open) authenticates:
 * the user the control plane runs as, and through what.
 */
export function homeOwner(through = "local admin API"): AdminCaller {
  return { requestedBy: `${localUserName()} (${through})` };
}

/** The name of the user this process runs as: on this machine, who may change the home's files. */
export function localUserName(): string {
  try {
    return userInfo().username;
  } catch {
    // No passwd entry for this uid (some containers): the environment's name will do.
    return process.env["USER"] ?? "the local user";
  }
}

/**
 * Checks one admin request beyond its loopback address and Host: not cross-origin, carrying the home's
 * secret, with a JSON body when it has one. Throws the OpenAiError to answer with; returns who is calling.
 */
export function authenticateAdminRequest(request: IncomingMessage, secret: string): AdminCaller {
  refuseCrossOrigin(request, "The admin API");
  if (!carriesSecret(request.headers.authorization, secret)) {
    throw new OpenAiError(
      401,
      "The admin API needs the control plane's secret: send `Authorization: Bearer <the contents of <home>/admin-token>` (the modelship CLI does this for you).",
      null,
      "unauthorized",
    );
  }
  refuseNonJsonBody(request, "The admin API");
  return homeOwner();
}

/** Throws a 403 for a request a browser marks as coming from another origin than the gateway's. */
export function refuseCrossOrigin(request: IncomingMessage, what: string): void {
  const origin = request.headers.origin;
  if (origin !== undefined && origin !== `http://${request.headers.host ?? ""}`) {
    throw new OpenAiError(
      403,
      `${what} answers requests from its own origin only, not from ${origin}.`,
      null,
      "cross_origin",
    );
  }
  const site = request.headers["sec-fetch-site"];
  if (site !== undefined && site !== "same-origin" && site !== "none") {
    throw new OpenAiError(
      403,
      `${what} answers requests from its own origin only (the browser marked this one ${site}).`,
      null,
      "cross_origin",
    );
  }
}

/** Throws a 415 for a request with a body that is not declared JSON. */
export function refuseNonJsonBody(request: IncomingMessage, what: string): void {
  if (hasBody(request) && mediaType(request.headers["content-type"]) !== "application/json") {
    throw new OpenAiError(
      415,
      `${what} takes JSON bodies: send \`Content-Type: application/json\`, not ${request.headers["content-type"] ?? "no content type"}.`,
      null,
      "unsupported_media_type",
    );
  }
}

function carriesSecret(authorization: string | undefined, secret: string): boolean {
  const match = /^Bearer ([A-Za-z0-9_-]+)$/.exec(authorization ?? "");
  return match !== null && sameSecret(match[1] as string, secret);
}

/**
 * Whether a secret a caller gave is the expected one, in time that does not depend on where they differ
 * (timingSafeEqual); only the length can be told apart, and a secret's length is no secret.
 */
export function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

function hasBody(request: IncomingMessage): boolean {
  const length = request.headers["content-length"];
  return (length !== undefined && length !== "0") || request.headers["transfer-encoding"] !== undefined;
}

function mediaType(contentType: string | undefined): string {
  return (contentType ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
}
