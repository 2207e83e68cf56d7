// The local gateway's admin API under `/_modelship/`, on the gateway's own port, answering loopback clients
// addressing it as 127.0.0.1 or localhost only, from its own origin, with the home's secret (admin-auth.ts;
// `modelship fault` and the other `--local` commands send it):
//   GET    /_modelship/routes                      every model's backends, weights and faults
//   GET    /_modelship/routes/<model>              one model's
//   PUT    /_modelship/faults/<model>/<variant>    set the variant's fault: {"delay": {...}, "abort": {...}}
//   DELETE /_modelship/faults/<model>/<variant>    clear it (clearing no fault is fine)
// Errors are `{"error": {"message", ...}}` with 400 (a bad fault, every problem listed), 401 (no secret), 403
// (not loopback, or cross-origin), 404, 405 or 415 (a body that is not JSON).

import type { IncomingMessage, ServerResponse } from "node:http";
import type { RouteState, Variant } from "../../ports";
import { type AdminCaller, authenticateAdminRequest } from "../admin-auth";
import { OpenAiError } from "../llama-server/openai-error";
import { describeFault, type Fault, parseFault } from "./fault-injection";
import { parseJsonObject, readCappedBody, sendJson } from "./http-messages";
import type { RouteTable } from "./route-table";

export const ADMIN_PREFIX = "/_modelship/";

const MAX_ADMIN_BODY_BYTES = 64 * 1024;
const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]"]);

/**
 * More admin routes, from the process that owns the gateway: called with the path's segments after
 * `/_modelship/` and who is calling, once the request passed the checks; resolves false for a path it does
 * not serve.
 */
export type AdminExtension = (
  request: IncomingMessage,
  response: ServerResponse,
  segments: readonly string[],
  caller: AdminCaller,
) => Promise<boolean>;

interface AdminSurface {
  /** The home's secret every request must carry (`Authorization: Bearer …`). */
  readonly adminSecret: string;
  readonly routes: RouteTable;
  readonly extensions?: readonly AdminExtension[];
  faultOf(model: string, variant: Variant): Fault | undefined;
  setFault(model: string, variant: Variant, fault: Fault | undefined): Promise<void>;
}

/** A route as the admin API shows it: its backends and, per variant, its fault. */
interface AdminRoute extends RouteState {
  readonly faults: { readonly stable?: Fault; readonly candidate?: Fault };
}

/** What a PUT or DELETE of a fault answers. */
export interface AdminFaultAnswer {
  readonly model: string;
  readonly variant: Variant;
  readonly fault: Fault | null;
  /** The fault in a sentence, e.g. `delay 800 ms on 50% of requests`. */
  readonly description: string;
  /** The version serving that variant now, if any. */
  readonly version: string | null;
}

export async function serveAdminRequest(
  request: IncomingMessage,
  response: ServerResponse,
  admin: AdminSurface,
): Promise<void> {
  if (!isFromThisMachine(request)) {
    throw new OpenAiError(
      403,
      "The admin API answers this machine only, at 127.0.0.1 or localhost.",
      null,
      "forbidden",
    );
  }
  const caller = authenticateAdminRequest(request, admin.adminSecret);
  const path = new URL(request.url ?? "/", "http://gateway").pathname;
  const segments = path.slice(ADMIN_PREFIX.length).split("/").map(decodeSegment);
  const method = request.method ?? "GET";

  if (segments[0] === "routes" && segments.length <= 2) {
    allow(method, ["GET"], path);
    if (segments.length === 1 || segments[1] === "") {
      sendJson(response, 200, { routes: admin.routes.all().map((route) => withFaults(route, admin)) });
      return;
    }
    sendJson(response, 200, withFaults(routeOf(admin, segments[1] as string), admin));
    return;
  }
  if (segments[0] === "faults" && segments.length === 3) {
    allow(method, ["PUT", "DELETE"], path);
    const model = segments[1] as string;
    const variant = segments[2] as string;
    if (variant !== "candidate" && variant !== "stable") {
      throw new OpenAiError(
        400,
        `Unknown variant '${variant}': use candidate or stable.`,
        null,
        "invalid_variant",
      );
    }
    const route = routeOf(admin, model);
    let fault: Fault | undefined;
    if (method === "PUT") {
      const parsed = parseFault(
        parseJsonObject(await readCappedBody(request, MAX_ADMIN_BODY_BYTES), "The fault"),
      );
      if ("problems" in parsed) {
        throw new OpenAiError(
          400,
          `The fault is not valid: ${parsed.problems.join("; ")}.`,
          null,
          "invalid_fault",
        );
      }
      fault = parsed.fault;
    }
    await admin.setFault(model, variant, fault);
    const answer: AdminFaultAnswer = {
      model,
      variant,
      fault: fault ?? null,
      description: describeFault(fault),
      version: route.backends.find((b) => b.variant === variant)?.version ?? null,
    };
    sendJson(response, 200, answer);
    return;
  }
  for (const extension of admin.extensions ?? []) {
    if (await extension(request, response, segments, caller)) return;
  }
  throw new OpenAiError(
    404,
    `Unknown admin path ${path}: the admin API has GET ${ADMIN_PREFIX}routes[/<model>] and PUT|DELETE ${ADMIN_PREFIX}faults/<model>/<variant>${(admin.extensions?.length ?? 0) > 0 ? `, and the control plane's ${ADMIN_PREFIX}status, commands, uploads and executions/<id>` : ""}.`,
    null,
    "unknown_url",
  );
}

function routeOf(admin: AdminSurface, model: string): RouteState {
  const route = admin.routes.describe(model);
  if (!route) {
    const known = admin.routes.all().map((r) => r.model);
    throw new OpenAiError(
      404,
      `The gateway has no route for '${model}'. ${known.length > 0 ? `Models served: ${known.join(", ")}.` : "No model is served yet."}`,
      "model",
      "model_not_found",
    );
  }
  return route;
}

function withFaults(route: RouteState, admin: AdminSurface): AdminRoute {
  const stable = admin.faultOf(route.model, "stable");
  const candidate = admin.faultOf(route.model, "candidate");
  return { ...route, faults: { ...(stable ? { stable } : {}), ...(candidate ? { candidate } : {}) } };
}

function allow(method: string, allowed: readonly string[], path: string): void {
  if (!allowed.includes(method)) {
    throw new OpenAiError(
      405,
      `${path} answers ${allowed.join(" and ")}, not ${method}.`,
      null,
      "method_not_allowed",
    );
  }
}

/**
 * A loopback client addressing the gateway as 127.0.0.1, localhost or [::1]. The Host check keeps a web page
 * from reaching the API through a DNS name rebound to 127.0.0.1.
 */
export function isFromThisMachine(request: IncomingMessage): boolean {
  return isLoopback(request.socket.remoteAddress) && LOOPBACK_HOSTS.has(hostnameOf(request.headers.host));
}

export function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

function hostnameOf(host: string | undefined): string {
  return (host ?? "").replace(/:\d+$/, "").toLowerCase();
}

function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  return address === "::1" || /^(::ffff:)?127\./.test(address);
}
