// The words a manifest's rollout section is made of — the strategy, the capacity mode, the shadow, the
// stickiness — declared here, beside the schema that reads them, so the rooms that act on them (traffic,
// capacity) import them downward and the manifest imports no room above it.

/** A step of the plan: the candidate's weight, baked this long (manifest-schema's CanaryStep). */
export interface StrategyStep {
  readonly weight: number;
  readonly bakeSeconds: number;
}

export type RolloutStrategyKind = "canary" | "linear" | "blueGreen";

/** How traffic moves to the candidate once the gates pass (core/traffic/rollout-strategy.ts). */
export type RolloutStrategy =
  | { readonly kind: "canary" }
  | { readonly kind: "linear"; readonly stepPercent: number; readonly intervalSeconds: number }
  | { readonly kind: "blueGreen" };

/** A linear rollout's default step when the manifest names the strategy but not its step: SageMaker's 10%. */
export const DEFAULT_LINEAR_STEP_PERCENT = 10;

/** `surge`: the stable stays at full size through the canary; `constrained`: fleet + 1 replica at most. */
export const CAPACITY_MODES = ["surge", "constrained"] as const;
export type CapacityMode = (typeof CAPACITY_MODES)[number];

/**
 * The longest `rollout.capacityWaitSeconds`, a day: past that, whether to keep a rollout waiting for GPUs is a
 * person's decision, not a setting's (core/capacity/capacity-wait.ts).
 */
export const MAX_CAPACITY_WAIT_SECONDS = 86_400;

/** The manifest's shadow, as the plan carries it to the state machine (core/traffic/shadow.ts). */
export interface ShadowSettings {
  /** Whole percent, 1–100, of the stable's real requests copied to the candidate. */
  readonly percent: number;
  /** How long the shadow lasts before its check, like a bake. */
  readonly seconds: number;
}

/** The request's conversation key: a header's value or a cookie's, by name (core/traffic/sticky-routing.ts). */
export type Stickiness = { readonly header: string } | { readonly cookie: string };

/**
 * RFC 9110 §5.6.2 `token`: what a header field name may be, and (RFC 6265 §4.1.1) a cookie name. Capped at
 * 128 characters, the Gateway API's limit on a session name (HTTPRouteRule sessionPersistence.sessionName).
 */
export const HTTP_TOKEN_PATTERN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,128}$/;
