// One model's HTTPRoute, built from its RouteSlots and read back into them. Standard Gateway API v1 fields
// only, so Istio, Kgateway and Envoy Gateway take it unchanged. The route, named after the model in the
// stack's namespace and attached to `config.gatewayParent`, has up to three rules of its own:
//   1. the model match + `x-modelship-variant: candidate` → the candidate alone (test traffic, the prober);
//   2. the model match + `x-modelship-variant: stable`    → the stable alone;
//   3. the model match (`config.gateway.modelHeader: <model>` when set, and the path prefix) → stable and
//      candidate by weight.
// Rules 1 and 2 win over 3 for a request that has the header: Gateway API prefers the match with more
// header matches. A backend at weight 0 is left out of rule 3 instead of being written with `weight: 0`:
// some implementations have sent traffic to a lone weight-0 backend (kgateway#13833, istio#31745) or
// rejected a rule whose weights are all 0 (kgateway#11548). With nothing to weigh, rule 3 is left out and
// the model's requests get the gateway's 404 — a first release is reachable by its variant header only
// until it goes to 100%. Which handle each backend is travels in an annotation, so `describe` can return
// handles that Serving can reach and remove. Rules and fields other tools added are kept as they are.
//
// A sticky rollout (`rollout.stickiness`) puts Gateway API session persistence on rule 3 — HTTPRouteRule
// `sessionPersistence` {sessionName, type: Header | Cookie} (GEP-1619; experimental channel since v1.1, so
// the only field here outside the standard channel) — from its register until the promotion or rollback
// ends the split; modelship owns that field of its rule 3. It is not modelship's key hashing: the gateway
// pins a session to the backend it first chose, see docs/eks.md.
//
// A shadow (`rollout.shadow`) puts a `RequestMirror` filter on rule 3: HTTPRouteFilter {type: RequestMirror,
// requestMirror: {backendRef, percent}} (HTTPRequestMirrorFilter; `percent` and `fraction` from GEP-3171,
// standard channel since Gateway API v1.3.0 — kubernetes-sigs/gateway-api geps/gep-3171, and the v1.3 release
// post on kubernetes.io, 2025-06-02). The gateway sends the copy and discards its answer. modelship owns the
// RequestMirror filters of its rule 3 that point at its own Services; other filters are kept.

import { isDeepStrictEqual } from "node:util";
import type { CandidateHandle } from "../../core/candidate";
import type { StackConfig } from "../../core/config/config";
import { GatewayFailed } from "../../core/errors";
import type { RouteSlots } from "../../core/traffic/route-slots";
import type { Stickiness } from "../../core/manifest/rollout-settings";

export const HTTPROUTE_API = { group: "gateway.networking.k8s.io", version: "v1", plural: "httproutes" };
const VARIANT_HEADER = "x-modelship-variant";
const SLOTS_ANNOTATION = "modelship.io/backends";
const MANAGED_BY_LABEL = "app.kubernetes.io/managed-by";
const MODEL_LABEL = "modelship.io/model";

interface HeaderMatch {
  type?: string;
  name: string;
  value: string;
}

interface RouteMatch {
  path?: { type?: string; value?: string };
  headers?: HeaderMatch[];
  [field: string]: unknown;
}

interface BackendRef {
  group?: string;
  kind?: string;
  name: string;
  namespace?: string;
  port?: number;
  weight?: number;
  [field: string]: unknown;
}

/** Gateway API HTTPRouteRule `sessionPersistence` (v1.1+, experimental channel). */
interface SessionPersistence {
  sessionName?: string;
  /** Default Cookie. */
  type?: string;
  cookieConfig?: { lifetimeType?: string };
  [field: string]: unknown;
}

/** Gateway API HTTPRouteFilter; modelship writes only `RequestMirror` (HTTPRequestMirrorFilter). */
interface RouteFilter {
  type: string;
  requestMirror?: { backendRef: BackendRef; percent?: number; fraction?: unknown; [field: string]: unknown };
  [field: string]: unknown;
}

interface RouteRule {
  matches?: RouteMatch[];
  backendRefs?: BackendRef[];
  filters?: RouteFilter[];
  sessionPersistence?: SessionPersistence;
  [field: string]: unknown;
}

interface ParentRef {
  group?: string;
  kind?: string;
  name: string;
  namespace?: string;
  sectionName?: string;
  [field: string]: unknown;
}

/** An HTTPRoute as the API server returns it; fields modelship does not know are carried along untouched. */
export interface HttpRoute {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    [field: string]: unknown;
  };
  spec: { parentRefs?: ParentRef[]; rules?: RouteRule[]; [field: string]: unknown };
  [field: string]: unknown;
}

type Role = "stable" | "candidate" | "previous";
const ROLES: readonly Role[] = ["stable", "candidate", "previous"];

/** Where a version's Service is, from its handle's details (EKS handles carry them). */
interface ServiceRef {
  readonly namespace: string;
  readonly name: string;
  readonly port: number;
}

/** The slots a route holds: its handles from the annotation, the weights from its weighted rule. */
export function readRouteSlots(route: HttpRoute): RouteSlots {
  const handles = storedHandles(route);
  const namespace = route.metadata.namespace;
  const services = {
    stable: handles.stable && serviceOf(handles.stable),
    candidate: handles.candidate && serviceOf(handles.candidate),
  };
  const known = [services.stable, services.candidate].filter((s): s is ServiceRef => s !== undefined);
  const weighted = (route.spec.rules ?? []).find(
    (rule) =>
      variantOf(rule) === undefined &&
      (rule.backendRefs ?? []).some((ref) => known.some((s) => refersTo(ref, s, namespace))),
  );
  const weightOf = (service: ServiceRef | undefined) =>
    service === undefined
      ? 0
      : (weighted?.backendRefs ?? [])
          .filter((ref) => refersTo(ref, service, namespace))
          .reduce((sum, ref) => sum + (ref.weight ?? 1), 0);
  const stickiness = stickinessOf(weighted?.sessionPersistence);
  const mirror = services.candidate && mirrorOf(weighted?.filters ?? [], services.candidate, namespace);
  return {
    ...handles,
    weights: { stable: weightOf(services.stable), candidate: weightOf(services.candidate) },
    ...(stickiness && { stickiness }),
    ...(mirror && { mirror }),
  };
}

/**
 * The rule's mirror to the candidate's Service. A filter without `percent` or `fraction` mirrors every
 * request (HTTPRequestMirrorFilter: "If both percent and fraction are not specified, all requests to the
 * backend are mirrored"), which is also what a CRD that pruned `percent` leaves.
 */
function mirrorOf(
  filters: readonly RouteFilter[],
  candidate: ServiceRef,
  namespace: string,
): { percent: number } | undefined {
  const filter = filters.find(
    (f) =>
      f.type === "RequestMirror" &&
      f.requestMirror !== undefined &&
      refersTo(f.requestMirror.backendRef, candidate, namespace),
  );
  if (!filter?.requestMirror) return undefined;
  const { percent, fraction } = filter.requestMirror;
  if (typeof percent === "number") return { percent };
  const { numerator, denominator = 100 } = (fraction ?? {}) as { numerator?: unknown; denominator?: unknown };
  if (typeof numerator === "number" && typeof denominator === "number" && denominator > 0) {
    return { percent: (numerator / denominator) * 100 };
  }
  return { percent: 100 };
}

/**
 * The route for these slots, keeping everything of `existing` that is not modelship's (its metadata,
 * resourceVersion included; other rules; other fields of modelship's rules). Undefined when the route would
 * have no rule left: then it should be deleted.
 */
export function buildRoute(
  model: string,
  slots: RouteSlots,
  config: StackConfig,
  existing?: HttpRoute,
): HttpRoute | undefined {
  const namespace = existing?.metadata.namespace ?? config.namespace;
  const before = existing ? storedHandles(existing) : {};
  const ownServices = [...ROLES.map((r) => before[r]), ...ROLES.map((r) => slots[r])]
    .filter((h): h is CandidateHandle => h !== undefined)
    .map(serviceOf);
  const modelMatch = matchOf(model, config);
  const isOwn = (rule: RouteRule) =>
    variantOf(rule) !== undefined ||
    isDeepStrictEqual(rule.matches, [modelMatch]) ||
    ((rule.backendRefs ?? []).length > 0 &&
      (rule.backendRefs ?? []).every((ref) => ownServices.some((s) => refersTo(ref, s, namespace))));
  const existingRules = existing?.spec.rules ?? [];
  const ownRule = (role: "stable" | "candidate" | "weighted") =>
    existingRules.find((rule) => isOwn(rule) && (variantOf(rule) ?? "weighted") === role) ?? {};

  const weightedRefs = (["stable", "candidate"] as const).flatMap((role) => {
    const handle = slots[role];
    const weight = slots.weights[role];
    return handle && weight > 0 ? [backendRef(serviceOf(handle), namespace, weight)] : [];
  });
  const variantRule = (variant: "stable" | "candidate") => {
    const handle = slots[variant];
    if (!handle) return [];
    const match: RouteMatch = {
      ...modelMatch,
      headers: [...(modelMatch.headers ?? []), { type: "Exact", name: VARIANT_HEADER, value: variant }],
    };
    return [
      { ...ownRule(variant), matches: [match], backendRefs: [backendRef(serviceOf(handle), namespace, 1)] },
    ];
  };
  const { sessionPersistence: _written, filters: weightedFilters, ...weightedRule } = ownRule("weighted");
  // Mirrors to modelship's own Services are modelship's to write; any other filter stays as it is.
  const otherFilters = (weightedFilters ?? []).filter(
    (f) =>
      !(
        f.type === "RequestMirror" &&
        f.requestMirror !== undefined &&
        ownServices.some((s) => refersTo(f.requestMirror?.backendRef as BackendRef, s, namespace))
      ),
  );
  const mirrorTo = slots.mirror && slots.candidate;
  const filters: RouteFilter[] = [
    ...otherFilters,
    ...(slots.mirror && mirrorTo
      ? [
          {
            type: "RequestMirror",
            requestMirror: {
              backendRef: mirrorRef(serviceOf(mirrorTo), namespace),
              percent: slots.mirror.percent,
            },
          },
        ]
      : []),
  ];
  const rules: RouteRule[] = [
    ...variantRule("candidate"),
    ...variantRule("stable"),
    ...(weightedRefs.length > 0
      ? [
          {
            ...weightedRule,
            matches: [modelMatch],
            backendRefs: weightedRefs,
            ...(filters.length > 0 && { filters }),
            ...(slots.stickiness && { sessionPersistence: sessionPersistenceOf(slots.stickiness) }),
          },
        ]
      : []),
    ...existingRules.filter((rule) => !isOwn(rule)),
  ];
  if (rules.length === 0) return undefined;

  const { [SLOTS_ANNOTATION]: _previousSlots, ...otherAnnotations } = existing?.metadata.annotations ?? {};
  const handles = Object.fromEntries(ROLES.flatMap((role) => (slots[role] ? [[role, slots[role]]] : [])));
  const annotations =
    Object.keys(handles).length > 0
      ? { ...otherAnnotations, [SLOTS_ANNOTATION]: JSON.stringify(handles) }
      : otherAnnotations;
  return {
    ...existing,
    apiVersion: `${HTTPROUTE_API.group}/${HTTPROUTE_API.version}`,
    kind: "HTTPRoute",
    metadata: {
      ...existing?.metadata,
      name: model,
      namespace,
      labels: { ...existing?.metadata.labels, [MANAGED_BY_LABEL]: "modelship", [MODEL_LABEL]: model },
      annotations,
    },
    spec: {
      ...existing?.spec,
      parentRefs: withParent(existing?.spec.parentRefs ?? [], config.gatewayParent, namespace),
      rules,
    },
  };
}

/** True when writing `next` over `current` would change nothing modelship or anyone else cares about. */
export function sameRoute(current: HttpRoute | undefined, next: HttpRoute | undefined): boolean {
  if (current === undefined || next === undefined) return current === next;
  return (
    isDeepStrictEqual(current.spec, next.spec) &&
    isDeepStrictEqual(current.metadata.labels ?? {}, next.metadata.labels ?? {}) &&
    isDeepStrictEqual(current.metadata.annotations ?? {}, next.metadata.annotations ?? {})
  );
}

/** The API server's answer, checked to be an HTTPRoute before anything reads it. */
export function asHttpRoute(body: unknown, where: string): HttpRoute {
  const route = body as Partial<HttpRoute> | undefined;
  const rules = route?.spec?.rules;
  if (
    typeof route?.metadata?.name !== "string" ||
    typeof route.metadata.namespace !== "string" ||
    typeof route.spec !== "object" ||
    (rules !== undefined && !Array.isArray(rules))
  ) {
    throw new GatewayFailed(`The API server returned something that is not an HTTPRoute for ${where}.`, {
      hint: "Check that the cluster serves the Gateway API's gateway.networking.k8s.io/v1 HTTPRoute (kubectl get crd httproutes.gateway.networking.k8s.io).",
    });
  }
  return route as HttpRoute;
}

/**
 * The session persistence for a stickiness: the header or cookie named as the session's name. The values the
 * API server would default (type Cookie, a Session cookie) are written out, so a route read back compares
 * equal and a repeated call writes nothing. No absoluteTimeout: the field goes away when the split ends.
 */
function sessionPersistenceOf(stickiness: Stickiness): SessionPersistence {
  return "header" in stickiness
    ? { sessionName: stickiness.header, type: "Header" }
    : { sessionName: stickiness.cookie, type: "Cookie", cookieConfig: { lifetimeType: "Session" } };
}

function stickinessOf(persistence: SessionPersistence | undefined): Stickiness | undefined {
  const name = persistence?.sessionName;
  if (typeof name !== "string" || name === "") return undefined;
  if (persistence?.type === "Header") return { header: name };
  return (persistence?.type ?? "Cookie") === "Cookie" ? { cookie: name } : undefined;
}

/** The handle's Service; a handle from another runtime has none, and cannot be routed to on the cluster. */
function serviceOf(handle: CandidateHandle): ServiceRef {
  const { namespace, service, port } = handle.details ?? {};
  if (typeof namespace !== "string" || typeof service !== "string" || typeof port !== "number") {
    throw new GatewayFailed(
      `${handle.model} ${handle.version} (${handle.id}) was not deployed on EKS: its handle names no Service and port to route to.`,
      {
        hint: "The gateway route on the cluster can only send traffic to candidates EksServing deployed.",
      },
    );
  }
  return { namespace, name: service, port };
}

function storedHandles(route: HttpRoute): Pick<RouteSlots, Role> {
  const text = route.metadata.annotations?.[SLOTS_ANNOTATION];
  if (text === undefined) return {};
  const where = `HTTPRoute ${route.metadata.namespace}/${route.metadata.name}`;
  const broken = (problem: string) =>
    new GatewayFailed(
      `The annotation ${SLOTS_ANNOTATION} on ${where} is not what modelship writes: ${problem}.`,
      {
        hint: `It was edited by hand. Restore it with the handles the rollout record holds (npx modelship status ${route.metadata.name}), or delete the annotation and register the versions again.`,
      },
    );
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw broken("it is not JSON");
  }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw broken("it is not a JSON object");
  const stored: Partial<Record<Role, CandidateHandle>> = {};
  for (const role of ROLES) {
    const value = (parsed as Record<string, unknown>)[role];
    if (value === undefined) continue;
    if (!isHandle(value)) throw broken(`its ${role} is not a candidate handle`);
    stored[role] = value;
  }
  return stored;
}

function isHandle(value: unknown): value is CandidateHandle {
  if (!value || typeof value !== "object") return false;
  const handle = value as Record<string, unknown>;
  return (
    ["id", "model", "version", "rolloutId", "servedName", "deployedAt"].every(
      (field) => typeof handle[field] === "string",
    ) &&
    (handle.details === undefined || (typeof handle.details === "object" && handle.details !== null))
  );
}

function matchOf(model: string, config: StackConfig): RouteMatch {
  const { modelHeader, pathPrefix } = config.gateway;
  return {
    path: { type: "PathPrefix", value: pathPrefix },
    ...(modelHeader && { headers: [{ type: "Exact", name: modelHeader, value: model }] }),
  };
}

/** `stable` or `candidate` for a variant rule (its matches carry the header), undefined for any other rule. */
function variantOf(rule: RouteRule): "stable" | "candidate" | undefined {
  for (const match of rule.matches ?? []) {
    const header = match.headers?.find((h) => h.name.toLowerCase() === VARIANT_HEADER);
    if (header?.value === "stable" || header?.value === "candidate") return header.value;
  }
  return undefined;
}

function backendRef(service: ServiceRef, routeNamespace: string, weight: number): BackendRef {
  return {
    group: "",
    kind: "Service",
    name: service.name,
    ...(service.namespace !== routeNamespace && { namespace: service.namespace }),
    port: service.port,
    weight,
  };
}

/** A mirror's BackendObjectReference: no weight (HTTPRequestMirrorFilter's backendRef has none). */
function mirrorRef(service: ServiceRef, routeNamespace: string): BackendRef {
  const { weight: _none, ...ref } = backendRef(service, routeNamespace, 1);
  return ref;
}

function refersTo(ref: BackendRef, service: ServiceRef, routeNamespace: string): boolean {
  return (
    (ref.kind ?? "Service") === "Service" &&
    (ref.group ?? "") === "" &&
    ref.name === service.name &&
    (ref.namespace ?? routeNamespace) === service.namespace
  );
}

function withParent(
  parents: readonly ParentRef[],
  parent: StackConfig["gatewayParent"],
  routeNamespace: string,
): ParentRef[] {
  const attached = parents.some(
    (p) =>
      p.name === parent.name &&
      (p.namespace ?? routeNamespace) === parent.namespace &&
      p.sectionName === parent.sectionName,
  );
  if (attached) return [...parents];
  return [
    ...parents,
    {
      group: HTTPROUTE_API.group,
      kind: "Gateway",
      name: parent.name,
      namespace: parent.namespace,
      ...(parent.sectionName !== undefined && { sectionName: parent.sectionName }),
    },
  ];
}
