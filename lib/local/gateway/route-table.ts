// The local gateway's routes, with the rules of the EKS HTTPRoute adapter (lib/aws/gateway/route-slots.ts):
// a model's route holds a stable, a candidate and, after a promotion, the previous stable kept warm at
// weight 0 so a rollback during the watch can promote it back. The first register creates the route; a
// candidate joins at weight 0 (reachable by `x-modelship-variant: candidate` only) and may replace only a
// candidate that carries no traffic; weights are whole percents adding up to 100 that name only versions on
// the route; removing a version gives its share to what remains; a route left empty goes away. A request
// without the variant header is a draw weighted by the current weights.

import type { CandidateHandle } from "../../core/candidate";
import { GatewayFailed } from "../../core/errors";
import type { RouteBackend, RouteState, Variant } from "../../ports";

export interface RouteSlots {
  readonly stable?: CandidateHandle;
  readonly candidate?: CandidateHandle;
  /** After a promotion: the stable it replaced, at weight 0 with no variant rule of its own. */
  readonly previous?: CandidateHandle;
  readonly weights: { readonly stable: number; readonly candidate: number };
}

const NO_SLOTS: RouteSlots = { weights: { stable: 0, candidate: 0 } };

export class RouteTable {
  private readonly routes: Map<string, RouteSlots>;

  constructor(restored: ReadonlyMap<string, RouteSlots> = new Map()) {
    this.routes = new Map(structuredClone([...restored]));
  }

  register(model: string, handle: CandidateHandle): void {
    const slots = this.routes.get(model) ?? NO_SLOTS;
    if (slots.stable?.version === handle.version) {
      throw new GatewayFailed(
        `${model} ${handle.version} is already the stable version on the route; it cannot also be the candidate.`,
        { hint: "Copy the model into the bucket under a new version to roll it out." },
      );
    }
    const current = slots.candidate;
    if (current && current.version !== handle.version && slots.weights.candidate > 0) {
      throw new GatewayFailed(
        `The route of ${model} still sends ${slots.weights.candidate}% to candidate ${current.version} (rollout ${current.rolloutId}); ${handle.version} cannot replace it.`,
        { hint: `Roll ${current.version} back first, then start this rollout again.` },
      );
    }
    const candidateWeight = current?.version === handle.version ? slots.weights.candidate : 0;
    this.routes.set(model, {
      ...slots,
      candidate: structuredClone(handle),
      weights: { stable: slots.weights.stable, candidate: candidateWeight },
    });
  }

  setWeights(model: string, weights: { readonly stable: number; readonly candidate: number }): void {
    const slots = this.routeOf(model);
    const problems: string[] = [];
    for (const [variant, weight] of Object.entries(weights)) {
      if (!Number.isInteger(weight) || weight < 0 || weight > 100) {
        problems.push(`${variant} is ${weight}, not a whole percent from 0 to 100`);
      }
    }
    if (problems.length === 0 && weights.stable + weights.candidate !== 100) {
      problems.push(`stable ${weights.stable} + candidate ${weights.candidate} is not 100`);
    }
    if (weights.stable > 0 && !slots.stable)
      problems.push(`${model} has no stable version to send traffic to`);
    if (weights.candidate > 0 && !slots.candidate) {
      problems.push(`${model} has no candidate on its route (register it first)`);
    }
    if (problems.length > 0) {
      throw new GatewayFailed(`Cannot set the weights of ${model}'s route: ${problems.join("; ")}.`, {
        hint: "Describe the route (GET /_modelship/routes/<model> on the local gateway) to see what it holds.",
      });
    }
    this.routes.set(model, { ...slots, weights: { stable: weights.stable, candidate: weights.candidate } });
  }

  /**
   * `version` becomes the stable at 100%: the candidate (a promotion, the old stable kept as previous), the
   * previous stable (a rollback during the watch) or the stable itself (a repeat).
   */
  promote(model: string, version: string): void {
    const slots = this.routeOf(model);
    const all = { stable: 100, candidate: 0 };
    let promoted: RouteSlots;
    if (slots.stable?.version === version) {
      promoted = { ...slots, weights: all };
    } else if (slots.candidate?.version === version) {
      const previous = slots.stable ?? slots.previous;
      promoted = { stable: slots.candidate, ...(previous && { previous }), weights: all };
    } else if (slots.previous?.version === version) {
      promoted = {
        stable: slots.previous,
        ...(slots.candidate && { candidate: slots.candidate }),
        ...(slots.stable && { previous: slots.stable }),
        weights: all,
      };
    } else {
      throw new GatewayFailed(
        `${model} ${version} is not on the model's route (it has ${describeSlots(slots)}); nothing to promote.`,
        {
          hint: "Only the registered candidate or the previous stable kept during the watch can be promoted.",
        },
      );
    }
    this.routes.set(model, promoted);
  }

  /** Drops the version (a no-op when it is not there); its share goes to what remains. */
  removeBackend(model: string, version: string): void {
    const slots = this.routes.get(model);
    if (!slots) return;
    const { stable, candidate, previous } = slots;
    let remaining: RouteSlots;
    if (previous?.version === version) {
      remaining = without(slots, "previous");
    } else {
      const role =
        stable?.version === version ? "stable" : candidate?.version === version ? "candidate" : undefined;
      if (!role) return;
      const weights = { ...slots.weights, [role]: 0 };
      const total = weights.stable + weights.candidate;
      const stableShare = total === 0 ? 0 : Math.round((100 * weights.stable) / total);
      remaining = {
        ...without(slots, role),
        weights: { stable: stableShare, candidate: total === 0 ? 0 : 100 - stableShare },
      };
    }
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

  /**
   * The port's view: stable, candidate, then the previous stable. The previous one is shown as a weight-0
   * `candidate`: it is not the stable a canary's weights go back to, so Rollback promotes it back instead.
   */
  describe(model: string): RouteState | undefined {
    const slots = this.routes.get(model);
    if (!slots) return undefined;
    const backends: RouteBackend[] = [];
    const add = (variant: Variant, handle: CandidateHandle | undefined, weight: number) => {
      if (handle)
        backends.push({ variant, version: handle.version, weight, handle: structuredClone(handle) });
    };
    add("stable", slots.stable, slots.weights.stable);
    add("candidate", slots.candidate, slots.weights.candidate);
    add("candidate", slots.previous, 0);
    return { model, backends };
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
   * Where a request goes: the named variant's backend when the request asks for one, otherwise a draw
   * weighted by the current weights (`random` is uniform in [0, 1)). Undefined when nothing can serve it.
   */
  pick(model: string, variant: Variant | undefined, random: () => number): RouteBackend | undefined {
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

function without(slots: RouteSlots, role: "stable" | "candidate" | "previous"): RouteSlots {
  const { [role]: _dropped, ...rest } = slots;
  return rest;
}

function describeSlots(slots: RouteSlots): string {
  const parts = [
    slots.stable && `stable ${slots.stable.version}`,
    slots.candidate && `candidate ${slots.candidate.version}`,
    slots.previous && `previous stable ${slots.previous.version}`,
  ].filter(Boolean);
  return parts.length > 0 ? parts.join(", ") : "no backends";
}
