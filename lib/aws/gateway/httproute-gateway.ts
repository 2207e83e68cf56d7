// The Gateway port on a Kubernetes cluster: each model's HTTPRoute (httproute-object.ts), changed by the
// port's calls (lib/core/traffic/route-slots.ts). Every change reads the route, applies the call to what it holds and writes
// it back with the resourceVersion it read, so an edit someone made in between is never overwritten: the
// API server answers 409, and the change is applied again to the route as it is now, a bounded number of
// times. A route left with no rule is deleted, with the same precondition. A route written with session
// persistence (a sticky rollout) that comes back without it was pruned by a CRD without the field: refused.
// Likewise a mirror whose `percent` comes back pruned (a CRD older than Gateway API v1.3 would then mirror
// every request): the mirror is taken off again at once and the shadow refused.

import { ApiException } from "@kubernetes/client-node";
import type { StackConfig } from "../../core/config/config";
import { CandidateFailed, GatewayFailed, Transient } from "../../core/errors";
import { describeStickiness } from "../../core/traffic/sticky-routing";
import { type Stickiness } from "../../core/manifest/rollout-settings";
import type { Mirror } from "../../core/traffic/shadow";
import type { ShadowSamples } from "../../core/traffic/shadow-samples";
import type { CandidateHandle, Gateway, RouteState } from "../../ports";
import { apiMessage, apiStatus, kubernetesFailure } from "../eks/api-errors";
import { type ClusterConnection, connectKubernetes, type KubernetesClients } from "../eks/cluster";
import {
  asHttpRoute,
  buildRoute,
  HTTPROUTE_API,
  type HttpRoute,
  readRouteSlots,
  sameRoute,
} from "./httproute-object";
import {
  NO_SLOTS,
  promoteVersion,
  registerCandidate,
  removeVersion,
  routeBackends,
  routeMirror,
  type RouteSlots,
  setRouteMirror,
  setRouteWeights,
} from "../../core/traffic/route-slots";

export interface HttpRouteGatewayOptions {
  readonly config: StackConfig;
  readonly connection: ClusterConnection;
  /** Read-modify-write attempts before a route that keeps changing under us is reported. Default 5. */
  readonly maxAttempts?: number;
}

const FIELD_MANAGER = "modelship";

/** What the functions' Kubernetes identity needs on routes, for the message when it lacks it. */
const REQUIRED_ACCESS =
  "get, create, update and delete on httproutes.gateway.networking.k8s.io. The AmazonEKSEditPolicy access policy does not cover Gateway API resources: bind a Role with these verbs to the Kubernetes group the ModelPipeline construct puts the functions' access entries in (modelship-routes; the prober reads through modelship-route-readers): docs/eks.md";

export class HttpRouteGateway implements Gateway {
  private readonly config: StackConfig;
  private readonly connection: ClusterConnection;
  private readonly maxAttempts: number;
  private clients: Promise<KubernetesClients> | undefined;

  constructor(options: HttpRouteGatewayOptions) {
    this.config = options.config;
    this.connection = options.connection;
    this.maxAttempts = options.maxAttempts ?? 5;
  }

  async register(model: string, candidate: CandidateHandle, stickiness?: Stickiness): Promise<void> {
    this.checkKeepsSessions(model, stickiness);
    await this.change(model, `register ${model} ${candidate.version}`, (slots) =>
      registerCandidate(model, slots, candidate, stickiness),
    );
  }

  async setWeights(
    model: string,
    weights: { readonly stable: number; readonly candidate: number },
    stickiness?: Stickiness,
  ): Promise<void> {
    this.checkKeepsSessions(model, stickiness);
    await this.change(
      model,
      `set the weights of ${model} to stable ${weights.stable} / candidate ${weights.candidate}`,
      (slots) => setRouteWeights(model, slots, weights, stickiness),
    );
  }

  async promote(model: string, version: string): Promise<void> {
    await this.change(model, `promote ${model} ${version}`, (slots) => promoteVersion(model, slots, version));
  }

  async removeBackend(model: string, version: string): Promise<void> {
    await this.change(model, `remove ${model} ${version} from its route`, (slots) =>
      removeVersion(slots, version),
    );
  }

  async describe(model: string): Promise<RouteState | undefined> {
    const route = await this.read(await this.api(), model);
    if (!route) return undefined;
    const slots = readRouteSlots(route);
    const mirror = routeMirror(slots);
    return {
      model,
      backends: routeBackends(slots),
      ...(slots.stickiness && { stickiness: slots.stickiness }),
      ...(mirror && { mirror }),
    };
  }

  async mirror(model: string, mirror: Mirror | undefined): Promise<void> {
    const what = mirror
      ? `mirror ${mirror.percent}% of ${model}'s stable requests to ${mirror.version}`
      : `stop mirroring ${model}'s requests`;
    const written = await this.change(model, what, (slots) => setRouteMirror(model, slots, mirror));
    if (!mirror || !written) return;
    const kept = readRouteSlots(written).mirror;
    if (kept?.percent === mirror.percent) return;
    await this.change(model, `take back the mirror of ${model}`, (slots) =>
      setRouteMirror(model, slots, undefined),
    );
    throw new GatewayFailed(
      `The cluster stored ${model}'s RequestMirror filter without its percent (${mirror.percent}%): its HTTPRoute CRD is older than Gateway API v1.3, whose standard channel added percent mirroring, and would have mirrored every request. The mirror was taken off again.`,
      {
        hint: "Install the Gateway API CRDs v1.3.0 or later (standard channel) and a gateway that implements percent mirroring (docs/eks.md, Shadow traffic), or remove rollout.shadow from the manifest.",
      },
    );
  }

  /** The gateway on the cluster sends the copies and throws their answers away: there is nothing to pair. */
  async shadowSamples(model: string): Promise<ShadowSamples> {
    return {
      unavailable: `the cluster's gateway discards the answers to ${model}'s mirrored requests (a Gateway API RequestMirror filter ignores the mirror's response), so no paired answers are kept; compare versions with the eval gate or a hook.`,
    };
  }

  /** A sticky rollout needs a gateway that keeps sessions; the stack says whether its gateway does. */
  private checkKeepsSessions(model: string, stickiness: Stickiness | undefined): void {
    if (!stickiness || this.config.gateway.sessionPersistence) return;
    throw new GatewayFailed(
      `${model}'s rollout asks for stickiness (${describeStickiness(stickiness)}), but the stack's gateway is not set up to keep sessions (gateway.sessionPersistence is false): its traffic split would move a conversation between versions.`,
      {
        hint: "If the cluster's gateway implements HTTPRoute sessionPersistence (Envoy Gateway, kgateway; not Istio) with the Gateway API's experimental-channel CRDs, set gateway.sessionPersistence: true in the stack config; otherwise remove rollout.stickiness from the manifest (docs/eks.md, Sticky canaries).",
      },
    );
  }

  /**
   * Applies the call to the route; returns the route as the API server has it: as written, or as read when
   * the call changes nothing (mirror() reads the unchanged route's mirror from it); undefined when the route
   * was deleted, or there was none and the call makes none.
   */
  private async change(
    model: string,
    what: string,
    apply: (slots: RouteSlots) => RouteSlots,
  ): Promise<HttpRoute | undefined> {
    const api = await this.api();
    const namespace = this.config.namespace;
    const where = `HTTPRoute ${namespace}/${model}`;
    for (let attempt = 1; attempt <= this.maxAttempts; attempt++) {
      const current = await this.read(api, model);
      const slots = apply(current ? readRouteSlots(current) : NO_SLOTS);
      const next = buildRoute(model, slots, this.config, current);
      if (sameRoute(current, next)) return current;
      const collection = { ...HTTPROUTE_API, namespace };
      let written: unknown;
      try {
        if (!current) {
          written = await api.custom.createNamespacedCustomObject({
            ...collection,
            body: next,
            fieldManager: FIELD_MANAGER,
          });
        } else if (next) {
          written = await api.custom.replaceNamespacedCustomObject({
            ...collection,
            name: model,
            body: next,
            fieldManager: FIELD_MANAGER,
          });
        } else {
          const preconditions = { resourceVersion: current.metadata.resourceVersion };
          await api.custom.deleteNamespacedCustomObject({
            ...collection,
            name: model,
            body: { preconditions },
          });
        }
      } catch (error) {
        const status = apiStatus(error);
        // 409: changed, created or deleted since we read it (AlreadyExists, Conflict); 404 on a write to an
        // existing route: deleted meanwhile. Either way, read it again and apply the change to what is there.
        if (status === 409 || (current && status === 404 && next)) continue;
        if (current && !next && status === 404) return undefined;
        const verb = !current ? "create" : next ? "update" : "delete";
        throw routeFailure(error, `${verb} ${where} to ${what}`, namespace, !current);
      }
      if (!next) return undefined;
      const stored = asHttpRoute(written, where);
      if (slots.stickiness && !readRouteSlots(stored).stickiness) {
        throw sessionPersistencePruned(where, slots.stickiness);
      }
      return stored;
    }
    throw new Transient(
      `${where} changed while modelship tried to ${what}, ${this.maxAttempts} times in a row; nothing was overwritten.`,
      {
        hint: "Another controller keeps rewriting the route (a GitOps sync, an operator): leave modelship's rules and its modelship.io/backends annotation out of what it manages. The state machine tries again.",
      },
    );
  }

  private async read(api: KubernetesClients, model: string): Promise<HttpRoute | undefined> {
    const namespace = this.config.namespace;
    const where = `HTTPRoute ${namespace}/${model}`;
    const body: unknown = await api.custom
      .getNamespacedCustomObject({ ...HTTPROUTE_API, namespace, name: model })
      .catch((error: unknown) => {
        if (apiStatus(error) === 404) return undefined;
        throw routeFailure(error, `read ${where}`, namespace, false);
      });
    return body === undefined ? undefined : asHttpRoute(body, where);
  }

  private api(): Promise<KubernetesClients> {
    this.clients ??= connectKubernetes(this.connection).catch((error: unknown) => {
      this.clients = undefined;
      throw error;
    });
    return this.clients;
  }
}

/**
 * The API server stored the route without the rule's sessionPersistence: its HTTPRoute CRD is the standard
 * channel's, which has no such field and prunes it (the field is experimental in Gateway API v1.1 and later).
 */
function sessionPersistencePruned(where: string, stickiness: Stickiness): GatewayFailed {
  return new GatewayFailed(
    `The cluster dropped the session persistence (${describeStickiness(stickiness)}) modelship wrote on ${where}: its HTTPRoute CRD has no sessionPersistence field, so the rollout's stickiness cannot be kept.`,
    {
      hint: "Install the Gateway API CRDs of the experimental channel (v1.1 or later) and a gateway that implements HTTPRoute session persistence (docs/eks.md, Sticky canaries), or remove rollout.stickiness from the manifest.",
    },
  );
}

/**
 * A failed route call as the user should read it: GatewayFailed with what to do, or Transient for
 * throttling, a server error or the network. A 404 on create means the Gateway API is not installed.
 */
function routeFailure(error: unknown, operation: string, namespace: string, creating: boolean): Error {
  if (!(error instanceof ApiException)) {
    const failure = kubernetesFailure(error, operation, namespace);
    return failure instanceof CandidateFailed
      ? new GatewayFailed(failure.reason, { ...(failure.hint && { hint: failure.hint }), cause: error })
      : failure;
  }
  const status = error.code;
  const detail = apiMessage(error);
  const said = detail ? `: ${detail}` : ".";
  if (status === 429 || status >= 500) {
    return new Transient(`The Kubernetes API answered ${status} to ${operation}${said}`, {
      hint: "A passing failure of the API server; the state machine retries it. If it persists, check the cluster's control plane health.",
      cause: error,
    });
  }
  if (status === 401) {
    return new GatewayFailed(
      `The cluster did not accept modelship's credentials (401) to ${operation}${said}`,
      {
        hint: "The function's IAM role needs an EKS access entry on the cluster (authentication mode API or API_AND_CONFIG_MAP).",
        cause: error,
      },
    );
  }
  if (status === 403) {
    return new GatewayFailed(`modelship may not ${operation} (403 Forbidden)${said}`, {
      hint: `Grant the function's Kubernetes identity, in namespace '${namespace}': ${REQUIRED_ACCESS}.`,
      cause: error,
    });
  }
  if (status === 404 && creating) {
    return new GatewayFailed(
      `The cluster does not serve HTTPRoutes (gateway.networking.k8s.io/v1), so modelship cannot ${operation}.`,
      {
        hint: "Install the Gateway API CRDs (v1.0 or later, standard channel) and a Gateway implementation (Istio, Kgateway, Envoy Gateway), and set the stack's gatewayParent to your Gateway.",
        cause: error,
      },
    );
  }
  return new GatewayFailed(`The Kubernetes API refused to ${operation} (${status})${said}`, {
    hint: "Read the API server's message: the stack's gateway settings (gatewayParent, gateway.modelHeader, gateway.pathPrefix) or an admission policy are the usual cause.",
    cause: error,
  });
}
