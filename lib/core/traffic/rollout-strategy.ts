// How traffic moves from the stable version to the candidate once the gates pass: the same state machine runs
// every strategy, with a plan computed from the manifest.
// - canary: the manifest's steps (Flagger's and Argo's canary), each baked under the alarms;
// - linear: `stepPercent` more every `intervalSeconds` up to 100% (SageMaker's and CodeDeploy's linear);
// - blueGreen: no steps — after the gates the candidate, already fully warm, takes all traffic at once, and the
//   stable stays warm through the watch so an alarm takes everything back in one step (SageMaker's all at once).

import type { RolloutStrategy, StrategyStep } from "../manifest/rollout-settings";

/** `stepPercent`, `2·stepPercent`, … each baking `intervalSeconds`, the last at 100%. */
export function linearSteps(stepPercent: number, intervalSeconds: number): StrategyStep[] {
  const steps: StrategyStep[] = [];
  for (let weight = stepPercent; weight < 100; weight += stepPercent) {
    steps.push({ weight, bakeSeconds: intervalSeconds });
  }
  steps.push({ weight: 100, bakeSeconds: intervalSeconds });
  return steps;
}

/** `canary`, `linear (10% more every 300 s)`, `blue/green` — for events, status and the report. */
export function describeStrategy(strategy: RolloutStrategy): string {
  switch (strategy.kind) {
    case "canary":
      return "canary";
    case "linear":
      return `linear (${strategy.stepPercent}% more every ${strategy.intervalSeconds} s)`;
    case "blueGreen":
      return "blue/green";
  }
}
