// The web console's HTTP side, on the gateway's port under /_modelship/ui (it authenticates with its own
// session, not the admin API's secret: console-auth.ts):
//   GET  /_modelship/ui/login?token=…     spends a one-time token: sets the session cookie, redirects to the console
//   GET  /_modelship/ui/                  the page (static files under ./static/, a strict Content-Security-Policy)
//   GET  /_modelship/ui/static/<file>     its script, style sheet
//   GET  /_modelship/ui/api/session       who is signed in, the CSRF value for POSTs, the state machine's graph
//   GET  /_modelship/ui/api/stream        server-sent events: snapshots, events (console-feed.ts)
//   POST /_modelship/ui/api/commands      {"command", "model", "reason"?}: as POST /_modelship/commands, by the
//                                          home's owner through the web console
//   POST /_modelship/ui/api/faults        {"model", "variant", "fault": {...} | null}: set or clear a fault
//   GET  /_modelship/ui/reports/<model>/<version>/<rollout>   the rollout's report.html from the local bucket
// And, with the home's secret like the rest of the admin API, a new login link:
//   POST /_modelship/console-logins       → {"url": "http://127.0.0.1:<port>/_modelship/ui/login?token=…"}

import { readFile } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { reportPrefix } from "../../pipeline/rollout-report";
import type { AdminExtension } from "../gateway/admin-api";
import { decodeSegment } from "../gateway/admin-api";
import { describeFault, parseFault } from "../gateway/fault-injection";
import { parseJsonObject, readCappedBody, sendJson } from "../gateway/http-messages";
import type { LocalGateway } from "../gateway/local-gateway";
import { OpenAiError } from "../llama-server/openai-error";
import { ConsoleAuth } from "./console-auth";
import type { ConsoleFeed } from "./console-feed";

export const CONSOLE_PREFIX = "/_modelship/ui";
/**
 * The page's files, next to this module: found the same way under tsx and once lib/ is compiled, as long as
 * packaging copies static/ beside the compiled console-api.js.
 */
const STATIC_DIR = new URL("./static/", import.meta.url);
const STATIC_FILE = /^[a-z][a-z0-9-]*\.(html|js|css|svg)$/;
const CONTENT_TYPES: Readonly<Record<string, string>> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  svg: "image/svg+xml",
};
/** No inline script, no other origin: the page's own files, its stream and its API. */
const CONSOLE_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
/** A report is a generated document: its own inline styles, never a script, in a sandbox. */
const REPORT_CSP =
  "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'; sandbox";
const PAGE_HEADERS = {
  "cache-control": "no-store",
  "referrer-policy": "no-referrer",
  "x-content-type-options": "nosniff",
} as const;
const MAX_BODY_BYTES = 64 * 1024;
const SAFE_SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export interface ConsoleServerOptions {
  readonly gateway: LocalGateway;
  readonly feed: ConsoleFeed;
  /** The control plane's admin API (control-plane-api.ts): commands go through it. */
  readonly controlPlaneApi: AdminExtension;
  readonly auth?: ConsoleAuth;
}

export class ConsoleServer {
  readonly auth: ConsoleAuth;
  private readonly options: ConsoleServerOptions;

  constructor(options: ConsoleServerOptions) {
    this.options = options;
    this.auth = options.auth ?? new ConsoleAuth({ port: options.gateway.port });
  }

  /** A new one-time login link. */
  loginUrl(): string {
    return `${this.options.gateway.url}${CONSOLE_PREFIX}/login?token=${this.auth.loginToken()}`;
  }

  /** The admin API's route to a new login link (with the home's secret). */
  readonly loginLinks: AdminExtension = async (request, response, segments) => {
    if (segments.length !== 1 || segments[0] !== "console-logins") return false;
    if (request.method !== "POST") {
      throw new OpenAiError(405, "/_modelship/console-logins answers POST.", null, "method_not_allowed");
    }
    sendJson(response, 200, { url: this.loginUrl() });
    return true;
  };

  /** Serves a request under /_modelship/ui; the gateway routes them here before the admin API's checks. */
  async serve(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? "/", "http://console");
    const path = url.pathname.slice(CONSOLE_PREFIX.length);
    const method = request.method ?? "GET";
    if (path === "/login") {
      allow(method, "GET", url.pathname);
      const { setCookie } = this.auth.login(request, url.searchParams.get("token"));
      response.writeHead(303, { ...PAGE_HEADERS, "set-cookie": setCookie, location: `${CONSOLE_PREFIX}/` });
      response.end();
      return;
    }
    const { session, caller } = this.auth.authenticate(request);
    if (path === "" || path === "/") {
      allow(method, "GET", url.pathname);
      await sendStatic(response, "index.html");
      return;
    }
    const [, area, ...rest] = path.split("/").map(decodeSegment);
    if (area === "static" && rest.length === 1) {
      allow(method, "GET", url.pathname);
      await sendStatic(response, rest[0] as string);
      return;
    }
    if (area === "reports" && rest.length === 3) {
      allow(method, "GET", url.pathname);
      await this.sendReport(response, rest as [string, string, string]);
      return;
    }
    if (area === "api" && rest.length === 1) {
      switch (rest[0]) {
        case "session":
          allow(method, "GET", url.pathname);
          sendJson(
            response,
            200,
            { csrf: session.csrf, actingAs: caller.requestedBy, graph: this.options.feed.graph },
            PAGE_HEADERS,
          );
          return;
        case "stream":
          allow(method, "GET", url.pathname);
          this.options.feed.stream.attach(response, await this.options.feed.opening());
          return;
        case "commands":
          allow(method, "POST", url.pathname);
          await this.options.controlPlaneApi(request, response, ["commands"], caller);
          return;
        case "faults":
          allow(method, "POST", url.pathname);
          await this.setFault(request, response);
          return;
      }
    }
    throw new OpenAiError(
      404,
      `Unknown console path ${url.pathname}: the console is at ${CONSOLE_PREFIX}/.`,
      null,
      "unknown_url",
    );
  }

  private async setFault(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const body = parseJsonObject(await readCappedBody(request, MAX_BODY_BYTES), "The fault");
    const { model, variant, fault } = body;
    const problems: string[] = [];
    for (const key of Object.keys(body)) {
      if (key !== "model" && key !== "variant" && key !== "fault") problems.push(`unknown field '${key}'`);
    }
    if (typeof model !== "string" || model === "") problems.push("'model' must name a model");
    if (variant !== "candidate" && variant !== "stable")
      problems.push("'variant' must be candidate or stable");
    const parsed = fault === null ? { fault: undefined } : parseFault(fault);
    if ("problems" in parsed) problems.push(...parsed.problems.map((p) => `fault: ${p}`));
    if (problems.length > 0) {
      throw new OpenAiError(400, `The fault is not valid: ${problems.join("; ")}.`, null, "invalid_fault");
    }
    const name = model as string;
    if (!(await this.options.gateway.describe(name))) {
      throw new OpenAiError(404, `The gateway has no route for '${name}'.`, "model", "model_not_found");
    }
    const set = "fault" in parsed ? parsed.fault : undefined;
    await this.options.gateway.setFault(name, variant as "candidate" | "stable", set);
    sendJson(response, 200, { model: name, variant, fault: set ?? null, description: describeFault(set) });
  }

  private async sendReport(response: ServerResponse, [model, version, rolloutId]: [string, string, string]) {
    if (![model, version, rolloutId].every((s) => SAFE_SEGMENT.test(s))) {
      throw new OpenAiError(
        400,
        "A report is named by its model, version and rollout id.",
        null,
        "invalid_report",
      );
    }
    const key = `${reportPrefix({ model, version, id: rolloutId })}/report.html`;
    const body = await this.options.feed.reportObjects.get(key);
    if (!body) {
      throw new OpenAiError(
        404,
        `No report for rollout ${rolloutId} of ${model} ${version} in the local bucket (${key}): a rollout writes it once its validation ran.`,
        null,
        "report_not_found",
      );
    }
    response.writeHead(200, {
      ...PAGE_HEADERS,
      "content-type": "text/html; charset=utf-8",
      "content-security-policy": REPORT_CSP,
      "content-length": body.byteLength,
    });
    response.end(body);
  }
}

async function sendStatic(response: ServerResponse, name: string): Promise<void> {
  const type = STATIC_FILE.exec(name)?.[1];
  let body: Buffer | undefined;
  if (type !== undefined) {
    body = await readFile(new URL(name, STATIC_DIR)).catch((error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT") return undefined;
      throw error;
    });
  }
  if (type === undefined || body === undefined) {
    throw new OpenAiError(404, `The console has no file ${name}.`, null, "unknown_url");
  }
  response.writeHead(200, {
    ...PAGE_HEADERS,
    "content-type": CONTENT_TYPES[type] as string,
    "content-security-policy": CONSOLE_CSP,
    "content-length": body.byteLength,
  });
  response.end(body);
}

function allow(method: string, allowed: string, path: string): void {
  if (method !== allowed) {
    throw new OpenAiError(405, `${path} answers ${allowed}, not ${method}.`, null, "method_not_allowed");
  }
}
