// The events modelship emits on its bus (source `modelship`) and the commands it accepts. Users hang
// EventBridge rules on these: the detail-types and detail fields are a public contract. Each detail-type's
// detail is a zod schema here; the TypeScript types stages emit with are inferred from them, and the JSON
// Schemas the package ships (schemas/events/, event-json-schemas.ts) are generated from them, so the three
// cannot drift apart. Detail objects stay open (a consumer's validator accepts fields added later); the
// types are exact, so a stage cannot emit a field the schema does not describe.

import { z } from "zod";

export const EVENT_SOURCE = "modelship";

export const COMMAND_DETAIL_TYPES = [
  "Rollout Requested",
  "Rollback Requested",
  "Promote Requested",
  "Abort Requested",
  "Approve Requested",
  "Reject Requested",
] as const;
export type CommandDetailType = (typeof COMMAND_DETAIL_TYPES)[number];

/**
 * The sources a command may come from: the CLI's own, and the one any other sender (a script, a catalog's
 * automation) uses. The bus's rules take commands from these sources only — never modelship's own events —
 * and the bus's policy lets only the pipeline's command principals put them.
 */
export const COMMAND_SOURCES = { cli: "modelship.cli", other: "modelship.commands" } as const;

/** The fields every event carries, whatever its detail-type: what rules match on. */
const identity = {
  model: z.string().describe("The model's name."),
  version: z.string().describe("The version the event is about."),
  rolloutId: z.string().describe("The rollout's id; empty when no rollout was started (a refused upload)."),
  executionArn: z
    .string()
    .describe("The execution ARN on AWS; the local execution id locally. Empty when nothing was started."),
  stage: z.string().describe("The state that emitted it (Start, Prepare, Validate, CanaryStep, …)."),
  message: z.string().describe("A sentence a human understands."),
};

const failure = {
  error: z.string().describe("The error's name, as the state machine's Catch sees it (ModelInvalid, …)."),
  reason: z.string().describe("What went wrong."),
  hint: z.string().optional().describe("What to do about it."),
};

/**
 * What replaces `data` when the event would exceed EventBridge's 256 KiB entry limit (lib/aws
 * eventbridge-events.ts): the rest of the detail still goes out.
 */
const trimmedData = z
  .object({ trimmed: z.string().describe("How many bytes of data were dropped, and why.") })
  .describe("Left in place of data that made the event too large for EventBridge.");

/** A detail's `data`: its own fields, or the note that they were dropped for size. */
function dataOf<Shape extends z.ZodRawShape>(shape: Shape, description: string) {
  return z.union([z.object(shape), trimmedData]).describe(description);
}

const weights = z
  .object({
    stable: z.number().describe("Percent of traffic to the stable version."),
    candidate: z.number().describe("Percent of traffic to the candidate."),
  })
  .describe("The model route's weights.");
const nullableVersion = (description: string) => z.string().nullable().describe(description);
const stickiness = z
  .union([
    z.object({ header: z.string().describe("The header that carries the conversation's key.") }),
    z.object({ cookie: z.string().describe("The cookie that carries the conversation's key.") }),
  ])
  .describe("The conversation key that keeps a request on one version during the canary.");
const urisByGate = z
  .record(z.string(), z.string())
  .describe("The URI of each gate's report, by gate (smoke, stress, eval, …).");

/** The data of "Stage Succeeded", one shape per stage that announces its success. */
const stageSucceededData = [
  z
    .object({
      candidate: z.string().describe("The candidate's workload id."),
      runtime: z.enum(["vllm", "llama.cpp"]).describe("The server it runs."),
      image: z.string().describe("The server's image."),
      gpus: z.number().describe("GPUs per replica."),
      capacity: z
        .object({
          plan: z
            .string()
            .describe("The rollout's capacity plan, in a sentence: replicas and GPUs at its peak."),
          neededGpus: z.number().describe("The GPUs the plan needs at its peak beyond what already serves."),
          freeGpus: z.number().describe("The GPUs the cluster has free for it."),
          waitedSeconds: z
            .number()
            .optional()
            .describe(
              "Seconds the rollout waited for the capacity (rollout.capacityWaitSeconds) before deploying.",
            ),
        })
        .optional()
        .describe("The capacity check before deploying."),
      autoscaler: z
        .object({
          kind: z
            .enum(["keda", "hpa", "local"])
            .describe(
              "A KEDA ScaledObject, an autoscaling/v2 HPA, or the local runtime's autoscaler on the gateway's requests per replica.",
            ),
          reason: z.string().describe("Why this kind."),
        })
        .optional()
        .describe("The candidate's autoscaler, when serving.autoscaling is set."),
      where: z
        .record(z.string(), z.unknown())
        .optional()
        .describe("Where the runtime put it: a Deployment and Service, or a process and port."),
    })
    .describe("DeployCandidate: the candidate's workload was created."),
  z
    .object({
      requests: z.number().describe("Smoke prompts answered."),
      loadSeconds: z.number().nullable().describe("Seconds the server took to become ready."),
      ttftMs: z.number().nullable().describe("Time to the first token of a streamed answer, in ms."),
      tokensPerSecond: z.number().nullable().describe("Output tokens per second of one answer."),
    })
    .describe("SmokeTest: the candidate answered every smoke prompt."),
  z
    .object({
      requests: z.number().describe("Requests sent."),
      errorRate: z.number().describe("Fraction of failed requests, 0..1."),
      ttftP95Ms: z.number().nullable().describe("p95 time to first token, ms."),
      tpotP95Ms: z.number().nullable().describe("p95 time per output token, ms."),
      e2eP95Ms: z.number().nullable().describe("p95 end-to-end time, ms."),
      outputTokensPerSecond: z.number().describe("Output tokens per second over the run."),
      stableVersion: nullableVersion("The stable version compared against; null: none."),
      reportKey: z.string().describe("The report's key in the bucket."),
      pageKey: z.string().describe("The report page's key in the bucket."),
    })
    .describe("MergeStress: the candidate met the stress gate's SLOs."),
  z
    .object({
      suites: z
        .array(
          z.object({
            suite: z.string().describe("The suite's name."),
            score: z.number().describe("Accuracy, 0..1."),
            items: z.number().describe("Items scored."),
          }),
        )
        .describe("Each suite's score."),
      stableVersion: nullableVersion("The stable version compared against; null: none."),
      reportKey: z.string().describe("The report's key in the bucket."),
      pageKey: z.string().describe("The report page's key in the bucket."),
    })
    .describe("MergeEval: the candidate passed the eval gate."),
  z
    .object({
      registryId: z.string().describe("The version's id in the model registry."),
      artifactUri: z.string().describe("Where its weights are."),
      reportUris: urisByGate,
    })
    .describe("RegisterGateway: the candidate is on the model's route at weight 0 and in the registry."),
  z
    .object({
      at: z.enum(["preTraffic", "eachStep", "prePromote", "postPromote"]).describe("The hook point."),
      results: z
        .array(
          z.object({
            name: z.string().describe("The hook's name."),
            pass: z.boolean().describe("Whether it passed."),
            reason: z.string().describe("Its answer, or why it failed."),
            ignored: z
              .literal(true)
              .optional()
              .describe("Failed, and onFailure: ignore let the rollout go on."),
          }),
        )
        .describe("Each hook's verdict."),
    })
    .describe("RunHooks: the hooks of one point passed (or were ignored)."),
  z
    .object({
      retired: nullableVersion("The previous stable version, removed after the watch; null: none."),
      alarmsRemoved: z.number().describe("The candidate's alarms removed."),
      leftBehind: z.array(z.string()).optional().describe("What could not be removed, each a sentence."),
    })
    .describe("Finalize: the watch ended quietly; the old stable is retired."),
] as const;

/** Each emitted detail-type's detail. */
export const EVENT_DETAIL_SCHEMAS = {
  "Rollout Started": z
    .object({
      ...identity,
      data: dataOf(
        {
          stableVersion: nullableVersion("The version serving now; null: a first release."),
          strategy: z.enum(["canary", "linear", "blueGreen"]).describe("How traffic will move."),
          canarySteps: z.array(z.number()).describe("The candidate's weight at each step, in percent."),
          gates: z
            .object({
              smoke: z.boolean().describe("The smoke test runs."),
              stress: z.boolean().describe("The stress test runs."),
              eval: z.boolean().describe("The eval gate runs."),
            })
            .describe("Which gates run."),
          warnings: z.number().describe("Warnings validating the manifest."),
        },
        "The rollout's plan.",
      ),
    })
    .describe("A rollout took the model's lock and begins: its manifest is valid."),
  "Stage Succeeded": z
    .object({
      ...identity,
      data: z
        .union([...stageSucceededData, trimmedData])
        .describe("What the stage did; its shape depends on the stage."),
    })
    .describe(
      "A stage passed: the candidate deployed, a gate passed, hooks passed, or the rollout finished.",
    ),
  "Stage Failed": z
    .object({
      ...identity,
      ...failure,
      data: dataOf(
        {
          cleaned: z.array(z.string()).describe("What Cleanup removed, each a sentence."),
          leftBehind: z.array(z.string()).describe("What it could not remove, each a sentence."),
        },
        "What Cleanup did.",
      ),
    })
    .describe(
      "The rollout failed before any traffic moved (a gate, the candidate); Cleanup ran and the lock is free.",
    ),
  "Canary Weight Changed": z
    .object({
      ...identity,
      data: dataOf(
        {
          step: z.number().describe("The step, from 1."),
          steps: z.number().describe("The steps in all."),
          weight: z.number().describe("The candidate's percent of traffic now."),
          previousWeight: z.number().describe("Its percent before."),
          weights,
          stableVersion: z.string().describe("The version taking the rest."),
          bakeSeconds: z.number().describe("Seconds this step bakes under the alarms."),
          replicas: z
            .object({
              candidate: z.number().describe("The candidate's replicas at this step."),
              stable: z.number().describe("The stable's replicas at this step."),
            })
            .optional()
            .describe("The replicas each version runs at this step (rollout.capacity)."),
          stickiness: stickiness.optional(),
        },
        "Where the canary is.",
      ),
    })
    .describe("The canary moved to its next step."),
  "Model Promoted": z
    .object({
      ...identity,
      data: dataOf(
        {
          previousStable: nullableVersion(
            "The version it replaced, kept warm through the watch; null: none.",
          ),
          watchSeconds: z.number().describe("Seconds the alarms keep watching."),
          weights,
        },
        "The promotion.",
      ),
    })
    .describe("The candidate takes all traffic and is the stable version."),
  "Model Rolled Back": z
    .object({
      ...identity,
      reason: z.string().describe("Why it was rolled back."),
      data: dataOf(
        {
          trigger: z.enum(["state machine", "alarm", "command"]).describe("What rolled it back."),
          alarm: z.string().optional().describe("The alarm that fired (trigger alarm)."),
          command: z.string().optional().describe("The command received (trigger command)."),
          requestedBy: z.string().optional().describe("Who sent the command (trigger command)."),
          restoredVersion: nullableVersion("The version serving again; null: none (a first release)."),
          weights: weights.nullable(),
          removed: z.array(z.string()).describe("What was removed, each a sentence."),
          restoredReplicas: z
            .object({
              replicas: z.number().describe("The replicas the stable had when the canary began."),
              ready: z.number().describe("How many were ready when the last of the traffic returned to it."),
              seconds: z
                .number()
                .describe(
                  "Seconds from the restore's first move to its last: the stable grows back one replica at a time, each taking back its share once ready.",
                ),
            })
            .optional()
            .describe(
              "The stable scaled back, one replica at a time, before all traffic returned (rollout.capacity: constrained).",
            ),
        },
        "The rollback.",
      ),
    })
    .describe("The rollout was rolled back; the lock is free."),
  "Rollout Rejected": z
    .object({
      ...identity,
      ...failure,
      data: dataOf(
        {
          bucket: z.string().optional().describe("The bucket of a refused upload (stage Start)."),
          key: z.string().optional().describe("The key of a refused upload (stage Start)."),
          findings: z.array(z.string()).describe("What is wrong, each a sentence (at most 20 from Prepare)."),
          errors: z.number().optional().describe("How many errors the manifest has (stage Prepare)."),
        },
        "What was refused.",
      )
        .optional()
        .describe("What was refused; absent when the reason says it all."),
    })
    .describe(
      "An upload or a rollout was refused before it began: a bad key, an invalid manifest, another rollout of the model running.",
    ),
  "Approval Requested": z
    .object({
      ...identity,
      data: dataOf(
        {
          at: z.enum(["beforeTraffic", "beforePromote"]).describe("Where the rollout waits."),
          since: z.string().describe("When it began waiting (ISO time)."),
          expiresAt: z.string().describe("When it is rolled back unless answered (ISO time)."),
          timeoutSeconds: z.number().describe("Seconds it waits."),
          weights: weights.nullable(),
          canary: z
            .object({
              strategy: z.literal("linear").optional().describe("linear's step; absent: the canary's."),
              step: z.number().describe("The step, from 1."),
              steps: z.number().describe("The steps in all."),
              weight: z.number().describe("The candidate's percent of traffic."),
              stickiness: stickiness.optional(),
            })
            .nullable()
            .describe("Where the canary is; null before any traffic."),
          stableVersion: nullableVersion("The version serving now; null: a first release."),
          gates: z.record(z.string(), z.string()).describe("A sentence on each gate's result, by gate."),
          reportUris: urisByGate,
        },
        "What the approver decides on.",
      ),
    })
    .describe("A rollout waits for a person: `modelship approve` or `reject`, or the registry's status."),
  "Shadow Started": z
    .object({
      ...identity,
      data: dataOf(
        {
          percent: z.number().describe("The share of the stable's requests copied to the candidate, 1..100."),
          seconds: z.number().describe("How long the shadow lasts."),
          stableVersion: z.string().describe("The version whose requests are copied (and who answers them)."),
        },
        "The shadow's share and length.",
      ),
    })
    .describe(
      "The route began copying a share of the stable's requests to the candidate; every user is still answered by the stable.",
    ),
  "Shadow Ended": z
    .object({
      ...identity,
      data: dataOf(
        {
          percent: z.number().describe("The share that was copied."),
          seconds: z.number().describe("How long the shadow lasted."),
          passed: z.literal(true).describe("The alarms stayed quiet; the canary goes on."),
        },
        "How the shadow ended.",
      ),
    })
    .describe(
      "The shadow passed and the mirror came off the route; a shadow that alarms ends in Model Rolled Back instead.",
    ),
} as const;

export type EmittedDetailType = keyof typeof EVENT_DETAIL_SCHEMAS;
export const EMITTED_DETAIL_TYPES = Object.keys(EVENT_DETAIL_SCHEMAS) as readonly EmittedDetailType[];

/** The detail of one detail-type, exactly as its schema describes it: what stages emit. */
export type EventDetailOf<T extends EmittedDetailType> = z.input<(typeof EVENT_DETAIL_SCHEMAS)[T]>;

/** Any event's detail, as a reader of any event sees it: the common fields, and data by name. */
export type EventDetail = { readonly [field in keyof typeof identity]: string } & {
  readonly error?: string;
  readonly reason?: string;
  readonly hint?: string;
  readonly data?: Readonly<Record<string, unknown>>;
};

export interface ModelshipEvent {
  readonly detailType: EmittedDetailType;
  readonly detail: EventDetail;
  /** ISO timestamp. */
  readonly time: string;
}
