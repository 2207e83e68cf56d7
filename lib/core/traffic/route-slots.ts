// What a model's route holds, as the Gateway port sees it — a stable, a candidate and, after a promotion,
// the previous stable kept warm — and how each port call changes it. Pure, and the same rules for both
// gateways: on EKS lib/aws/gateway turns the slots into an HTTPRoute and back; locally the weighted gateway's
// route table keeps them.

import type { CandidateHandle, Variant } from "../candidate";
import { GatewayFailed } from "../errors";
import type { Mirror } from "./shadow";
import type { Stickiness } from "../manifest/rollout-settings";

/** One backend of a model's route, as the Gateway port describes it. */
export interface RouteBackend {
  readonly variant: Variant;
  readonly version: string;
  readonly weight: number;
  readonly handle: CandidateHandle;
}

export interface RouteSlots {
  readonly stable?: CandidateHandle;
  readonly candidate?: CandidateHandle;
  /**
   * After a promotion, the stable it replaced: still on the route (at weight 0, with no rule of its own), so
   * a rollback during the watch is `promote(model, previous.version)`, and Finalize's `removeBackend` drops it.
   */
  readonly previous?: CandidateHandle;
  /** The weights of the weighted rule's backendRefs; a backend absent from it has 0. */
  readonly weights: { readonly stable: number; readonly candidate: number };
  /**
   * The rollout's conversation key (`rollout.stickiness`) while a canary splits the model's traffic: set by
   * the register and the weight changes of a rollout that asks for it, gone with a promotion or a removal.
   */
  readonly stickiness?: Stickiness;
  /**
   * A shadow (core/traffic/shadow.ts): this share of the requests the weighted rule sends to the stable is copied to
   * the candidate, whose answers are thrown away. Gone with a promotion, or when stable or candidate leaves.
   */
  readonly mirror?: { readonly percent: number };
}

export const NO_SLOTS: RouteSlots = { weights: { stable: 0, candidate: 0 } };

/**
 * The candidate joins at weight 0: it is reachable by `x-modelship-variant: candidate` only. The route's
 * stickiness becomes the rollout's (none when it asks for none).
 */
export function registerCandidate(
  model: string,
  slots: RouteSlots,
  handle: CandidateHandle,
  stickiness?: Stickiness,
): RouteSlots {
  if (slots.stable?.version === handle.version) {
    throw new GatewayFailed(
      `${model} ${handle.version} is already the stable version on the route; it cannot also be the candidate.`,
      { hint: "Roll the model out under a new version." },
    );
  }
  const current = slots.candidate;
  if (current && current.version !== handle.version && slots.weights.candidate > 0) {
    throw new GatewayFailed(
      `The route of ${model} still sends ${slots.weights.candidate}% to candidate ${current.version} (rollout ${current.rolloutId}); ${handle.version} cannot replace it.`,
      {
        hint: `Roll ${current.version} back first (npx modelship rollback ${model}), then start this rollout again.`,
      },
    );
  }
  const sameCandidate = current?.version === handle.version;
  return withStickiness(
    {
      ...(sameCandidate ? slots : without(slots, "mirror")),
      candidate: handle,
      weights: { stable: slots.weights.stable, candidate: sameCandidate ? slots.weights.candidate : 0 },
    },
    stickiness,
  );
}

/** The new weights; the route's stickiness becomes the rollout's (none when it asks for none). */
export function setRouteWeights(
  model: string,
  slots: RouteSlots,
  weights: { readonly stable: number; readonly candidate: number },
  stickiness?: Stickiness,
): RouteSlots {
  const problems: string[] = [];
  for (const [variant, weight] of Object.entries(weights)) {
    if (!Number.isInteger(weight) || weight < 0 || weight > 100)
      problems.push(`${variant} is ${weight}, not a whole percent from 0 to 100`);
  }
  if (problems.length === 0 && weights.stable + weights.candidate !== 100)
    problems.push(`stable ${weights.stable} + candidate ${weights.candidate} is not 100`);
  if (weights.stable > 0 && !slots.stable) problems.push(`${model} has no stable version to send traffic to`);
  if (weights.candidate > 0 && !slots.candidate)
    problems.push(`${model} has no candidate on its route (register it first)`);
  if (problems.length > 0) {
    throw new GatewayFailed(`Cannot set the weights of ${model}'s route: ${problems.join("; ")}.`, {
      hint: "This is a modelship bug or a route edited by hand: look at the route (`modelship status <model>`; on EKS `kubectl get httproute -o yaml`) and report it.",
    });
  }
  return withStickiness(
    { ...slots, weights: { stable: weights.stable, candidate: weights.candidate } },
    stickiness,
  );
}

/**
 * `version` becomes the stable at 100%: the candidate (a promotion), the previous stable (a rollback during
 * the watch, which keeps the version it replaces as the new `previous`) or the stable itself (a repeat, and
 * a rollback during the canary). The split is over, and its stickiness with it.
 */
export function promoteVersion(model: string, slots: RouteSlots, version: string): RouteSlots {
  const all = { stable: 100, candidate: 0 };
  if (slots.stable?.version === version) {
    return { ...without(without(slots, "stickiness"), "mirror"), weights: all };
  }
  if (slots.candidate?.version === version) {
    const previous = slots.stable ?? slots.previous;
    return { stable: slots.candidate, ...(previous && { previous }), weights: all };
  }
  if (slots.previous?.version === version) {
    return {
      stable: slots.previous,
      ...(slots.candidate && { candidate: slots.candidate }),
      ...(slots.stable && { previous: slots.stable }),
      weights: all,
    };
  }
  throw new GatewayFailed(
    `${model} ${version} is not on the model's route (it has ${describeSlots(slots)}); nothing to promote.`,
    { hint: "Only the registered candidate or the previous stable kept during the watch can be promoted." },
  );
}

/**
 * Drops the version from the route (a no-op when it is not there). Whichever of stable and candidate remains
 * takes 100%, as the gateway would do anyway: weights are relative among a rule's backends; with one of them
 * left there is no split to be sticky in.
 */
export function removeVersion(slots: RouteSlots, version: string): RouteSlots {
  const { stable, candidate, previous } = slots;
  if (previous?.version === version) return without(slots, "previous");
  const role =
    stable?.version === version ? "stable" : candidate?.version === version ? "candidate" : undefined;
  if (!role) return slots;
  const remaining = without(without(without(slots, role), "stickiness"), "mirror");
  return {
    ...remaining,
    weights: { stable: remaining.stable ? 100 : 0, candidate: remaining.candidate ? 100 : 0 },
  };
}

/**
 * Starts (or, with undefined, stops) copying `mirror.percent` of the stable's requests to the candidate,
 * which must be `mirror.version`: a mirror to anything else would send users' requests to a version no
 * rollout is judging.
 */
export function setRouteMirror(model: string, slots: RouteSlots, mirror: Mirror | undefined): RouteSlots {
  if (!mirror) return without(slots, "mirror");
  const problems: string[] = [];
  if (!Number.isInteger(mirror.percent) || mirror.percent < 1 || mirror.percent > 100)
    problems.push(`${mirror.percent} is not a whole percent from 1 to 100`);
  if (slots.candidate?.version !== mirror.version)
    problems.push(
      `${mirror.version} is not the candidate on the route (it has ${describeSlots(slots)}): register it first`,
    );
  if (!slots.stable || slots.weights.stable <= 0)
    problems.push(`${model} has no stable version serving requests to copy`);
  if (problems.length > 0) {
    throw new GatewayFailed(
      `Cannot mirror ${model}'s requests to ${mirror.version}: ${problems.join("; ")}.`,
      {
        hint: "A shadow needs a stable version taking the model's traffic and the candidate registered beside it.",
      },
    );
  }
  return { ...slots, mirror: { percent: mirror.percent } };
}

/** The candidate the route copies the stable's requests to, and what share of them; undefined without a shadow. */
export function routeMirrorTarget(
  slots: RouteSlots,
): { readonly candidate: CandidateHandle; readonly percent: number } | undefined {
  return slots.mirror && slots.candidate
    ? { candidate: slots.candidate, percent: slots.mirror.percent }
    : undefined;
}

/** The mirror as the port shows it: to the candidate's version. */
export function routeMirror(slots: RouteSlots): Mirror | undefined {
  const target = routeMirrorTarget(slots);
  return target && { version: target.candidate.version, percent: target.percent };
}

/** The port's view: stable, candidate, then the previous stable (variant `stable`, weight 0). */
export function routeBackends(slots: RouteSlots): RouteBackend[] {
  const backends: RouteBackend[] = [];
  const add = (variant: RouteBackend["variant"], handle: CandidateHandle | undefined, weight: number) => {
    if (handle) backends.push({ variant, version: handle.version, weight, handle });
  };
  add("stable", slots.stable, slots.weights.stable);
  add("candidate", slots.candidate, slots.weights.candidate);
  add("stable", slots.previous, 0);
  return backends;
}

function without(
  slots: RouteSlots,
  field: "stable" | "candidate" | "previous" | "stickiness" | "mirror",
): RouteSlots {
  const { [field]: _dropped, ...rest } = slots;
  return rest;
}

function withStickiness(slots: RouteSlots, stickiness: Stickiness | undefined): RouteSlots {
  return stickiness ? { ...slots, stickiness: structuredClone(stickiness) } : without(slots, "stickiness");
}

function describeSlots(slots: RouteSlots): string {
  const parts = [
    slots.stable && `stable ${slots.stable.version}`,
    slots.candidate && `candidate ${slots.candidate.version}`,
    slots.previous && `previous stable ${slots.previous.version}`,
  ].filter(Boolean);
  return parts.length > 0 ? parts.join(", ") : "no backends";
}
