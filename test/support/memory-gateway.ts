// An in-memory Gateway port with the contract of lib/ports.ts, as both adapters keep it: a model's route
// holds a stable, a candidate and, after a promotion, the previous stable (weight 0) kept warm for the watch.
// The first register creates the route and the candidate joins at weight 0; weights are whole percents
// adding up to 100 that name only backends the route has; promote makes a version on the route (the
// candidate, the previous stable, or the stable again) the stable at 100%; removing a version that is not
// there is fine, its share goes to what remains, and a route left empty is removed. Register and setWeights
// set the route's stickiness (none when omitted); promote and remove end it. A mirror copies a share of the
// stable's requests to the candidate until it is stopped, a promotion, or stable or candidate leaving; it
// keeps no answers. Every change is kept, so a test can assert the weights (and the mirror) over time.

import type { Mirror } from "../../lib/core/traffic/shadow";
import type { ShadowSamples } from "../../lib/core/traffic/shadow-samples";
import type { Stickiness } from "../../lib/core/manifest/rollout-settings";
import type { CandidateHandle, Gateway, RouteBackend, RouteState } from "../../lib/ports";

interface Slots {
  stable?: CandidateHandle;
  candidate?: CandidateHandle;
  previous?: CandidateHandle;
  weights: { stable: number; candidate: number };
  stickiness?: Stickiness;
  mirror?: Mirror;
}

export class MemoryGateway implements Gateway {
  /** `version: weight` of every backend of the model (and the route's stickiness) after each change, oldest first. */
  readonly changes: {
    readonly model: string;
    readonly weights: Readonly<Record<string, number>>;
    readonly stickiness?: Stickiness;
    readonly mirror?: Mirror;
  }[] = [];
  private readonly routes = new Map<string, Slots>();

  async register(model: string, candidate: CandidateHandle, stickiness?: Stickiness): Promise<void> {
    const slots = this.routes.get(model) ?? { weights: { stable: 0, candidate: 0 } };
    if (slots.stable?.version === candidate.version) {
      throw new Error(`${model} ${candidate.version} is the stable version; it cannot be the candidate too.`);
    }
    if (slots.candidate && slots.candidate.version !== candidate.version && slots.weights.candidate > 0) {
      throw new Error(`${model}'s candidate ${slots.candidate.version} still takes traffic.`);
    }
    if (slots.candidate?.version !== candidate.version) {
      slots.weights.candidate = 0;
      delete slots.mirror;
    }
    slots.candidate = structuredClone(candidate);
    setStickiness(slots, stickiness);
    this.routes.set(model, slots);
    this.note(model);
  }

  async setWeights(
    model: string,
    weights: { readonly stable: number; readonly candidate: number },
    stickiness?: Stickiness,
  ): Promise<void> {
    const slots = this.routeOf(model);
    const whole = [weights.stable, weights.candidate].every((w) => Number.isInteger(w) && w >= 0 && w <= 100);
    if (!whole || weights.stable + weights.candidate !== 100) {
      throw new Error(`Weights must be whole percents adding up to 100, got ${JSON.stringify(weights)}.`);
    }
    if (weights.stable > 0 && !slots.stable) throw new Error(`${model} has no stable backend.`);
    if (weights.candidate > 0 && !slots.candidate) throw new Error(`${model} has no candidate backend.`);
    slots.weights = { ...weights };
    setStickiness(slots, stickiness);
    this.note(model);
  }

  async promote(model: string, version: string): Promise<void> {
    const slots = this.routeOf(model);
    const { stable, candidate, previous } = slots;
    if (candidate?.version === version) {
      slots.previous = stable ?? previous;
      slots.stable = candidate;
      delete slots.candidate;
    } else if (previous?.version === version) {
      slots.stable = previous;
      if (stable) slots.previous = stable;
      else delete slots.previous;
    } else if (stable?.version !== version) {
      throw new Error(`${model}'s route has no backend ${version} to promote.`);
    }
    if (!slots.previous) delete slots.previous;
    delete slots.stickiness;
    delete slots.mirror;
    slots.weights = { stable: 100, candidate: 0 };
    this.note(model);
  }

  async removeBackend(model: string, version: string): Promise<void> {
    const slots = this.routes.get(model);
    if (!slots) return;
    if (slots.previous?.version === version) delete slots.previous;
    else {
      const role =
        slots.stable?.version === version
          ? "stable"
          : slots.candidate?.version === version
            ? "candidate"
            : undefined;
      if (!role) return;
      delete slots[role];
      delete slots.stickiness;
      delete slots.mirror;
      const other = role === "stable" ? "candidate" : "stable";
      slots.weights = { stable: 0, candidate: 0, [other]: slots[other] ? 100 : 0 } as Slots["weights"];
    }
    if (!slots.stable && !slots.candidate && !slots.previous) this.routes.delete(model);
    this.note(model);
  }

  async describe(model: string): Promise<RouteState | undefined> {
    const slots = this.routes.get(model);
    if (!slots) return undefined;
    const backends: RouteBackend[] = [];
    if (slots.stable) backends.push(backend("stable", slots.stable, slots.weights.stable));
    if (slots.candidate) backends.push(backend("candidate", slots.candidate, slots.weights.candidate));
    if (slots.previous) backends.push(backend("stable", slots.previous, 0));
    return structuredClone({
      model,
      backends,
      ...(slots.stickiness && { stickiness: slots.stickiness }),
      ...(slots.mirror && { mirror: slots.mirror }),
    });
  }

  async mirror(model: string, mirror: Mirror | undefined): Promise<void> {
    const slots = this.routeOf(model);
    if (mirror) {
      if (slots.candidate?.version !== mirror.version) {
        throw new Error(`${model}'s candidate is not ${mirror.version}: nothing to mirror to.`);
      }
      if (!slots.stable || slots.weights.stable <= 0)
        throw new Error(`${model} has no stable taking traffic.`);
      slots.mirror = { ...mirror };
    } else delete slots.mirror;
    this.note(model);
  }

  async shadowSamples(model: string): Promise<ShadowSamples> {
    return { unavailable: `the memory gateway sends no requests, so ${model} has no answers to pair.` };
  }

  /** `version: weight` of the model's backends now; empty when it has no route. */
  weightsOf(model: string): Record<string, number> {
    const slots = this.routes.get(model);
    if (!slots) return {};
    // The previous stable first: during a rollback in the watch it is also the candidate, with its weight.
    return {
      ...(slots.previous ? { [slots.previous.version]: 0 } : {}),
      ...(slots.stable ? { [slots.stable.version]: slots.weights.stable } : {}),
      ...(slots.candidate ? { [slots.candidate.version]: slots.weights.candidate } : {}),
    };
  }

  private routeOf(model: string): Slots {
    const slots = this.routes.get(model);
    if (!slots) throw new Error(`${model} has no route.`);
    return slots;
  }

  private note(model: string): void {
    const slots = this.routes.get(model);
    this.changes.push({
      model,
      weights: this.weightsOf(model),
      ...(slots?.stickiness && { stickiness: slots.stickiness }),
      ...(slots?.mirror && { mirror: { ...slots.mirror } }),
    });
  }
}

function setStickiness(slots: Slots, stickiness: Stickiness | undefined): void {
  if (stickiness) slots.stickiness = structuredClone(stickiness);
  else delete slots.stickiness;
}

function backend(variant: RouteBackend["variant"], handle: CandidateHandle, weight: number): RouteBackend {
  return { variant, version: handle.version, weight, handle };
}
