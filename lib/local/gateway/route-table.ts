// The local gateway's routes: per model, the slots of lib/core/traffic/route-slots.ts — the same rules as the EKS
// HTTPRoute adapter (a stable, a candidate joining at weight 0 and reachable by `x-modelship-variant:
// candidate` only, the previous stable kept warm through the watch, whole-percent weights adding up to 100).
// The first register creates the route and a route left empty goes away. A request without the variant
// header goes by its conversation key when the rollout is sticky and the request carries one (the key's
// hash against the candidate's weight, lib/core/traffic/sticky-routing.ts), otherwise by a draw weighted by the
// current weights.

import type { CandidateHandle } from "../../core/candidate";
import { GatewayFailed } from "../../core/errors";
import {
  NO_SLOTS,
  promoteVersion,
  registerCandidate,
  removeVersion,
  routeBackends,
  routeMirror,
  routeMirrorTarget,
  type RouteSlots,
  setRouteMirror,
  setRouteWeights,
} from "../../core/traffic/route-slots";
import type { Mirror } from "../../core/traffic/shadow";
import { stickyKey, stickyPoint, stickyVariant } from "../../core/traffic/sticky-routing";
import { type Stickiness } from "../../core/manifest/rollout-settings";
import type { RouteBackend, RouteState, Variant } from "../../ports";

export type { RouteSlots } from "../../core/traffic/route-slots";

export class RouteTable {
  private readonly routes: Map<string, RouteSlots>;

  constructor(restored: ReadonlyMap<string, RouteSlots> = new Map()) {
    this.routes = new Map(structuredClone([...restored]));
  }

  register(model: string, handle: CandidateHandle, stickiness?: Stickiness): void {
    this.routes.set(
      model,
      registerCandidate(model, this.routes.get(model) ?? NO_SLOTS, structuredClone(handle), stickiness),
    );
  }

  setWeights(
    model: string,
    weights: { readonly stable: number; readonly candidate: number },
    stickiness?: Stickiness,
  ): void {
    this.routes.set(model, setRouteWeights(model, this.routeOf(model), weights, stickiness));
  }

  /** Starts (or, with undefined, stops) copying a share of the stable's requests to the candidate. */
  mirror(model: string, mirror: Mirror | undefined): void {
    this.routes.set(model, setRouteMirror(model, this.routeOf(model), mirror));
  }

  /** The candidate the route copies the stable's requests to, and what share of them; undefined without a shadow. */
  mirrorTarget(model: string): ReturnType<typeof routeMirrorTarget> {
    const slots = this.routes.get(model);
    return slots && routeMirrorTarget(slots);
  }

  /**
   * `version` becomes the stable at 100%: the candidate (a promotion, the old stable kept as previous), the
   * previous stable (a rollback during the watch) or the stable itself (a repeat).
   */
  promote(model: string, version: string): void {
    this.routes.set(model, promoteVersion(model, this.routeOf(model), version));
  }

  /** Drops the version (a no-op when it is not there); what remains takes 100%; an empty route goes away. */
  removeBackend(model: string, version: string): void {
    const slots = this.routes.get(model);
    if (!slots) return;
    const remaining = removeVersion(slots, version);
    if (remaining.stable || remaining.candidate || remaining.previous) this.routes.set(model, remaining);
    else this.routes.delete(model);
  }

  /**
   * Points the backend of the handle's rollout at the handle (its server was started again, on a new port);
   * returns false when the route holds no backend of that rollout.
   */
  rebind(model: string, handle: CandidateHandle): boolean {
    const slots = this.routes.get(model);
    if (!slots) return false;
    const roles = (["stable", "candidate", "previous"] as const).filter(
      (role) => slots[role]?.rolloutId === handle.rolloutId,
    );
    if (roles.length === 0) return false;
    this.routes.set(model, {
      ...slots,
      ...Object.fromEntries(roles.map((role) => [role, structuredClone(handle)])),
    });
    return true;
  }

  /** The port's view: stable, candidate, then the previous stable (variant `stable`, weight 0), as on EKS. */
  describe(model: string): RouteState | undefined {
    const slots = this.routes.get(model);
    const mirror = slots && routeMirror(slots);
    return (
      slots && {
        model,
        backends: structuredClone(routeBackends(slots)),
        ...(slots.stickiness && { stickiness: structuredClone(slots.stickiness) }),
        ...(mirror && { mirror }),
      }
    );
  }

  /** Every route, by model name. */
  all(): RouteState[] {
    return [...this.routes.keys()].sort().map((model) => this.describe(model) as RouteState);
  }

  /** The slots of every route, for the state file. */
  snapshot(): Map<string, RouteSlots> {
    return new Map(structuredClone([...this.routes]));
  }

  has(model: string): boolean {
    return this.routes.has(model);
  }

  /**
   * Where a request goes: the named variant's backend when the request asks for one; while stable and
   * candidate split the traffic of a sticky rollout, the version the request's key hashes to; otherwise a
   * draw weighted by the current weights (`random` is uniform in [0, 1)). Undefined when nothing can serve it.
   */
  pick(
    model: string,
    variant: Variant | undefined,
    random: () => number,
    headers: Readonly<Record<string, string | readonly string[] | undefined>> = {},
  ): RouteBackend | undefined {
    const slots = this.routes.get(model);
    if (!slots) return undefined;
    const backend = (of: Variant): RouteBackend | undefined => {
      const handle = slots[of];
      return handle && { variant: of, version: handle.version, weight: slots.weights[of], handle };
    };
    if (variant) return backend(variant);
    const { stable, candidate } = slots.weights;
    const weighted = (slots.stable ? stable : 0) + (slots.candidate ? candidate : 0);
    if (weighted <= 0) return undefined;
    if (!slots.stable || stable <= 0) return backend("candidate");
    if (!slots.candidate || candidate <= 0) return backend("stable");
    const key = slots.stickiness && stickyKey(slots.stickiness, headers);
    if (key !== undefined) {
      const point = stickyPoint(model, slots.candidate.version, key);
      return backend(stickyVariant(point, (candidate / weighted) * 100));
    }
    return random() * weighted < stable ? backend("stable") : backend("candidate");
  }

  private routeOf(model: string): RouteSlots {
    const slots = this.routes.get(model);
    if (!slots) {
      throw new GatewayFailed(`${model} has no route in the local gateway.`, {
        hint: "A model's route is created when its first version is registered (RegisterGateway).",
      });
    }
    return slots;
  }
}
