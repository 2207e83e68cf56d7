// Who may use the web console. A page cannot send the admin API's `Authorization: Bearer <home secret>`
// (it cannot read <home>/admin-token: admin-auth.ts), so the console does what Jupyter does: `modelship
// local` prints a login link with a one-time token, valid once and for a few minutes; opening it exchanges
// the token for a session cookie (HttpOnly: no script reads it; SameSite=Strict: no other site's page sends
// it; Path=/_modelship; no Max-Age: it lives as long as the browser session, and the session itself as long
// as this control plane) and redirects to the console, so the token leaves the address bar and the history.
// Every console request must come from this machine addressing it as 127.0.0.1 or localhost (DNS
// rebinding), from the console's own origin, with the cookie; a POST also needs the session's CSRF value in
// a header (the page got it from the server: another origin's page cannot read it) and a JSON body.
// Who acts is the home's owner, through the web console — never a field of the body.

import { randomBytes } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { type AdminCaller, homeOwner, refuseCrossOrigin, refuseNonJsonBody, sameSecret } from "../admin-auth";
import { isFromThisMachine } from "../gateway/admin-api";
import { OpenAiError } from "../llama-server/openai-error";

/** How long a login link works, unless told otherwise: long enough to click it, short enough to leak less. */
export const LOGIN_TOKEN_TTL_MS = 10 * 60 * 1000;
/** The header a state-changing request carries the session's CSRF value in. */
export const CSRF_HEADER = "x-modelship-csrf";
/** Login links not used yet, and sessions, kept at most: older ones are forgotten first. */
const MAX_TOKENS = 16;
const MAX_SESSIONS = 32;
const TOKEN_BYTES = 32;

export interface ConsoleAuthOptions {
  /** The gateway's port: the cookie is named after it, as cookies are shared by every port of a host. */
  readonly port: number;
  readonly tokenTtlMs?: number;
  readonly now?: () => number;
}

/** A signed-in browser: what it shows the server, and the value its POSTs must repeat. */
export interface ConsoleSession {
  readonly id: string;
  readonly csrf: string;
}

export class ConsoleAuth {
  /** The cookie's name: `modelship_console_<port>`. */
  readonly cookieName: string;
  private readonly tokenTtlMs: number;
  private readonly now: () => number;
  private readonly tokens = new Map<string, number>();
  private readonly sessions = new Map<string, ConsoleSession>();

  constructor(options: ConsoleAuthOptions) {
    this.cookieName = `modelship_console_${options.port}`;
    this.tokenTtlMs = options.tokenTtlMs ?? LOGIN_TOKEN_TTL_MS;
    this.now = options.now ?? Date.now;
  }

  /** A new one-time login token (for the link `modelship local` prints). */
  loginToken(): string {
    const token = randomBytes(TOKEN_BYTES).toString("base64url");
    this.tokens.set(token, this.now() + this.tokenTtlMs);
    for (const old of this.tokens.keys()) {
      if (this.tokens.size <= MAX_TOKENS) break;
      this.tokens.delete(old);
    }
    return token;
  }

  /**
   * Exchanges a login request's token for a new session and the Set-Cookie header value that carries it.
   * The token is spent whether or not it was still valid; a 401 says what to do for a new one.
   */
  login(request: IncomingMessage, token: string | null): { session: ConsoleSession; setCookie: string } {
    this.refuseOtherMachines(request);
    refuseCrossOrigin(request, "The web console");
    const expires = token === null ? undefined : this.takeToken(token);
    if (expires === undefined || expires < this.now()) {
      throw new OpenAiError(
        401,
        `This login link ${expires === undefined ? "is not valid or was already used" : "has expired"}: each link works once, for ${Math.round(this.tokenTtlMs / 60000)} minutes. Ask for a new one: \`POST /_modelship/console-logins\` with the home's secret (README: Web console), or restart \`modelship local\`.`,
        null,
        "login_token_invalid",
      );
    }
    const session: ConsoleSession = {
      id: randomBytes(TOKEN_BYTES).toString("base64url"),
      csrf: randomBytes(TOKEN_BYTES).toString("base64url"),
    };
    this.sessions.set(session.id, session);
    for (const old of this.sessions.keys()) {
      if (this.sessions.size <= MAX_SESSIONS) break;
      this.sessions.delete(old);
    }
    return {
      session,
      setCookie: `${this.cookieName}=${session.id}; HttpOnly; SameSite=Strict; Path=/_modelship`,
    };
  }

  /**
   * Checks a console request: this machine, the console's origin, a session cookie; for a POST the CSRF
   * header and a JSON body too. Throws the OpenAiError to answer with; returns the session and who acts.
   */
  authenticate(request: IncomingMessage): { session: ConsoleSession; caller: AdminCaller } {
    this.refuseOtherMachines(request);
    refuseCrossOrigin(request, "The web console");
    const session = this.sessionOf(request);
    if (!session) {
      throw new OpenAiError(
        401,
        "The web console needs you to sign in: open the login link `modelship local` printed (a new one: `POST /_modelship/console-logins` with the home's secret; README: Web console).",
        null,
        "unauthorized",
      );
    }
    if ((request.method ?? "GET") !== "GET" && (request.method ?? "GET") !== "HEAD") {
      const given = request.headers[CSRF_HEADER];
      if (typeof given !== "string" || !sameSecret(given, session.csrf)) {
        throw new OpenAiError(
          403,
          `The web console's actions need the ${CSRF_HEADER} header with the value the console's page got from the server; reload the page.`,
          null,
          "csrf",
        );
      }
      refuseNonJsonBody(request, "The web console");
    }
    return { session, caller: homeOwner("web console") };
  }

  /** Forgets every session and unused link (the control plane stops). */
  clear(): void {
    this.tokens.clear();
    this.sessions.clear();
  }

  private takeToken(token: string): number | undefined {
    for (const [known, expires] of this.tokens) {
      if (sameSecret(token, known)) {
        this.tokens.delete(known);
        return expires;
      }
    }
    return undefined;
  }

  private sessionOf(request: IncomingMessage): ConsoleSession | undefined {
    const id = cookieValue(request.headers.cookie, this.cookieName);
    if (id === undefined) return undefined;
    for (const [known, session] of this.sessions) if (sameSecret(id, known)) return session;
    return undefined;
  }

  private refuseOtherMachines(request: IncomingMessage): void {
    if (!isFromThisMachine(request)) {
      throw new OpenAiError(
        403,
        "The web console answers this machine only, at 127.0.0.1 or localhost.",
        null,
        "forbidden",
      );
    }
  }
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? "").split(";")) {
    const [key, ...value] = part.trim().split("=");
    if (key === name) return value.join("=");
  }
  return undefined;
}
