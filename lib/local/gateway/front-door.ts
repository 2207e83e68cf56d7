// The local gateway's OpenAI-compatible front door (`/v1/…`): reads the body's `model`, picks that model's
// backend — the variant `x-modelship-variant` names, the version a sticky rollout's conversation key hashes
// to, or a draw by the route's weights — applies the variant's injected fault, and forwards the request to
// one of the backend's replicas — the one with the fewest requests in flight (replica-balancer.ts); while a
// shadow runs, a share of the requests the stable serves is also copied to the candidate (request-mirror.ts),
// the user's answer still the stable's alone. It measures nothing itself:
// as on EKS, the canary's alarms watch the prober's chats and the servers' own metrics (scraped by the
// prober), so a fault meant for real-traffic alarms is a server delay the server itself measures.

import type { IncomingMessage, ServerResponse } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import type { CandidateHandle, Endpoint, RouteBackend, Variant } from "../../ports";
import { OpenAiError } from "../llama-server/openai-error";
import { decideFault, type Fault, SERVER_DELAY_HEADER, withServerDelay } from "./fault-injection";
import { forward, type Upstream } from "./forwarding";
import type { RequestMirrors } from "./request-mirror";
import { parseJsonObject, readCappedBody, sendError, sendJson } from "./http-messages";
import type { ReplicaBalancer } from "./replica-balancer";
import type { RouteTable } from "./route-table";

/** Chat requests with long contexts are a few MB; anything far bigger is not a model request. */
const MAX_BODY_BYTES = 32 * 1024 * 1024;
const VARIANT_HEADER = "x-modelship-variant";
/** A backend's listing is local and small: one that takes longer is not answering. */
const BACKEND_LISTING_TIMEOUT_MS = 2000;

interface FrontDoor {
  readonly routes: RouteTable;
  faultOf(model: string, variant: Variant): Fault | undefined;
  readonly random: () => number;
  readonly endpointOf: (handle: CandidateHandle) => Promise<Endpoint>;
  /** The backend's replicas in rotation (ready and not draining); one, its endpoint, when not given. */
  readonly replicasOf?: (handle: CandidateHandle) => Promise<readonly Endpoint[]>;
  readonly balancer: ReplicaBalancer;
  readonly agents: Upstream["agents"];
  readonly mirrors: RequestMirrors;
}

export async function serveModelRequest(
  request: IncomingMessage,
  response: ServerResponse,
  door: FrontDoor,
): Promise<void> {
  const url = new URL(request.url ?? "/", "http://gateway");
  if (url.pathname === "/v1/models" && request.method === "GET") {
    await listModels(response, door);
    return;
  }
  if (!url.pathname.startsWith("/v1/")) {
    throw new OpenAiError(
      404,
      `Unknown path: ${request.method} ${url.pathname}. The gateway serves the OpenAI API under /v1/ (and its admin API under /_modelship/).`,
      null,
      "unknown_url",
    );
  }
  const body = await readCappedBody(request, MAX_BODY_BYTES);
  const parsed = parseJsonObject(body, "The request body");
  const model = parsed["model"];
  if (typeof model !== "string" || model === "") {
    throw new OpenAiError(
      400,
      "The request body has no `model`: the gateway routes each request by the model it names.",
      "model",
      "missing_model",
    );
  }
  const variant = requestedVariant(request);
  if (!door.routes.has(model)) {
    const known = door.routes.all().map((r) => r.model);
    throw new OpenAiError(
      404,
      `The model '${model}' does not exist here. ${known.length > 0 ? `Models served: ${known.join(", ")}.` : "No model is served yet."}`,
      "model",
      "model_not_found",
    );
  }
  const backend = door.routes.pick(model, variant, door.random, request.headers);
  if (!backend) {
    throw new OpenAiError(
      503,
      variant
        ? `The model '${model}' has no ${variant} backend now.`
        : `The model '${model}' has no backend carrying traffic now.`,
      null,
      "no_backend",
      "unavailable_error",
    );
  }

  const served: Record<string, string> = {
    "x-modelship-version": backend.version,
    "x-modelship-variant": backend.variant,
  };
  const fault = decideFault(door.faultOf(model, backend.variant), door.random);
  if (fault.delayMs > 0) {
    served["x-modelship-fault-delay-ms"] = String(fault.delayMs);
    if (!(await waitUnlessClientLeaves(response, fault.delayMs))) return;
  }
  if (fault.abortStatus !== undefined) {
    served["x-modelship-fault-abort"] = String(fault.abortStatus);
    sendError(
      response,
      new OpenAiError(
        fault.abortStatus,
        `Aborted by a fault injected into ${model}'s ${backend.variant} (modelship fault).`,
        null,
        "fault_injected",
      ),
      served,
    );
    return;
  }

  let replicas: readonly Endpoint[];
  try {
    replicas = door.replicasOf
      ? await door.replicasOf(backend.handle)
      : [await door.endpointOf(backend.handle)];
  } catch (error) {
    sendError(response, unreachable(model, backend, error), served);
    return;
  }
  const picked = door.balancer.pick(backend.handle.rolloutId, replicas, (replica) => replica.baseUrl);
  if (!picked) {
    sendError(response, unreachable(model, backend, new Error("none of its replicas is ready now")), served);
    return;
  }
  // The client sees the delay the server was asked to hold its request for.
  if (fault.serverDelay) served[SERVER_DELAY_HEADER] = String(fault.serverDelay.delayMs);
  const endpoint = withServerDelay(picked.replica, fault.serverDelay);
  const forwarded = {
    method: request.method ?? "POST",
    path: `${url.pathname.slice("/v1".length)}${url.search}`,
    headers: request.headers,
    body,
    clientAddress: request.socket.remoteAddress,
  };
  // Only requests the weighted rule sends to the stable are copied: never a test's (variant header) request.
  const shadow = !variant && backend.variant === "stable" ? door.routes.mirrorTarget(model) : undefined;
  const copy = shadow && door.mirrors.mirror(model, shadow.candidate, shadow.percent, forwarded, parsed);
  try {
    const outcome = await forward(forwarded, { endpoint, agents: door.agents }, response, served, copy?.tap);
    copy?.stableDone(
      outcome.status,
      outcome.outcome === "completed"
        ? undefined
        : `the stable's answer did not complete (${outcome.outcome})`,
    );
  } finally {
    picked.done();
  }
}

function requestedVariant(request: IncomingMessage): Variant | undefined {
  const value = request.headers[VARIANT_HEADER];
  if (value === undefined) return undefined;
  if (value === "candidate" || value === "stable") return value;
  throw new OpenAiError(
    400,
    `${VARIANT_HEADER} must be candidate or stable, got '${String(value)}'. Leave it out to be routed by the weights.`,
    null,
    "invalid_variant",
  );
}

/**
 * Every routed model, with `max_model_len` as vLLM lists it when each of its backends reports one: the
 * smallest, since a request may reach any of them (a client sizes its prompts and answers by it).
 */
async function listModels(response: ServerResponse, door: FrontDoor): Promise<void> {
  const routes = door.routes.all();
  const contexts = await Promise.all(
    routes.map(async (route) => {
      const reported = await Promise.all(route.backends.map((b) => backendContext(b.handle, door)));
      return reported.every((n) => n !== undefined) && reported.length > 0
        ? Math.min(...reported)
        : undefined;
    }),
  );
  sendJson(response, 200, {
    object: "list",
    data: routes.map((route, i) => ({
      id: route.model,
      object: "model",
      created: Math.floor(Date.parse(route.backends[0]?.handle.deployedAt ?? "") / 1000) || 0,
      owned_by: "modelship",
      ...(contexts[i] === undefined ? {} : { max_model_len: contexts[i] }),
    })),
  });
}

/** The `max_model_len` a backend's own `/v1/models` lists for its served name; undefined when it says none. */
async function backendContext(handle: CandidateHandle, door: FrontDoor): Promise<number | undefined> {
  try {
    const endpoint = await door.endpointOf(handle);
    const answer = await fetch(`${endpoint.baseUrl.replace(/\/+$/, "")}/models`, {
      headers: { accept: "application/json", ...endpoint.headers },
      signal: AbortSignal.timeout(BACKEND_LISTING_TIMEOUT_MS),
    });
    if (!answer.ok) return undefined;
    const { data } = (await answer.json()) as { data?: unknown };
    const entry = Array.isArray(data)
      ? (data as { id?: unknown; max_model_len?: unknown }[]).find((m) => m?.id === endpoint.servedName)
      : undefined;
    const length = entry?.max_model_len;
    return typeof length === "number" && Number.isSafeInteger(length) && length > 0 ? length : undefined;
  } catch {
    // A backend that does not answer its listing has no context to report; requests to it fail on their own.
    return undefined;
  }
}

function unreachable(model: string, backend: RouteBackend, error: unknown): OpenAiError {
  return new OpenAiError(
    503,
    `The ${backend.variant} backend of '${model}' (${backend.version}) cannot be reached: ${(error as Error).message}`,
    null,
    "no_backend",
    "unavailable_error",
  );
}

/** Waits `ms`; false when the client left meanwhile (nothing more to send it). */
async function waitUnlessClientLeaves(response: ServerResponse, ms: number): Promise<boolean> {
  const left = new AbortController();
  const onClose = () => left.abort();
  response.once("close", onClose);
  try {
    await sleep(ms, undefined, { signal: left.signal });
    return true;
  } catch {
    return false;
  } finally {
    response.off("close", onClose);
  }
}
