// The canary's alarm specs for tests: canaryAlarmSpecs with the stack's default alarms, real traffic
// scraped from the pods, the default probe plan (2 requests every 10 s), armed at a fixed instant — each
// overridable.

import { type CanaryAlarmsInput, canaryAlarmSpecs } from "../../lib/core/alarms/canary-alarms";
import { DEFAULT_STACK_CONFIG } from "../../lib/core/config/config";
import type { ResolvedAlarms } from "../../lib/core/manifest/manifest-schema";

export const ARMED_AT = new Date("2025-06-01T12:00:07.000Z");

export function canarySpecs(
  overrides: Partial<Omit<CanaryAlarmsInput, "alarms">> & { readonly alarms?: Partial<ResolvedAlarms> } = {},
) {
  const { alarms, ...rest } = overrides;
  return canaryAlarmSpecs({
    model: "llama",
    version: "v2",
    namespace: "modelship",
    trafficSource: "traffic",
    prober: { everySeconds: 10, requestsPerRound: 2 },
    armedAt: ARMED_AT,
    ...rest,
    alarms: { ...DEFAULT_STACK_CONFIG.defaults.rollout.alarms, ...alarms },
  });
}
