// The Start function (outside the state machine): turns an upload's "Object Created" event, or a
// "Rollout Requested" command, into one named pipeline execution. A bad key is rejected with an event and
// starts nothing; the same upload delivered twice maps to the same execution name: one rollout.
//
// A "Rollout Requested" command names the manifest by `{bucket, key}` (the key as stored, not URL-encoded)
// and is de-duplicated by its `requestId`, or the EventBridge event id when it has none.
//
// Only the pipeline's own bucket is rolled out: Validate reads that bucket and DeployCandidate serves from
// it, so an event naming any other bucket is rejected — a command cannot deploy weights nobody validated.

import { z } from "zod";
import type { Finding } from "../core/findings";
import { decodeS3EventKey, executionName, parseManifestKey } from "../core/rollout/keys";
import type { ExecutionInput } from "../core/rollout/rollout";
import { describeValue, findingsFromSchemaIssues } from "../core/schema-findings";
import { type DepsUsing, portUse } from "./port-use";
import { rolloutEvent } from "./events";

/** S3's "Object Created" event as EventBridge delivers it (only the fields Start reads). */
export interface ObjectCreatedEvent {
  readonly "detail-type": "Object Created";
  readonly id?: string;
  readonly detail: {
    readonly bucket: { readonly name: string };
    readonly object: {
      /** URL-encoded, as S3 notifications send it. */
      readonly key: string;
      readonly etag?: string;
      readonly "version-id"?: string;
      readonly size?: number;
    };
  };
}

/** A command to roll out a manifest that is already in the bucket. */
export interface RolloutRequestedEvent {
  readonly "detail-type": "Rollout Requested";
  readonly id?: string;
  readonly detail: { readonly bucket: string; readonly key: string; readonly requestId?: string };
}

export type StartEvent = ObjectCreatedEvent | RolloutRequestedEvent;

export type StartOutcome =
  | {
      /** `duplicate`: this upload or request had already started its execution; nothing new was started. */
      readonly status: "started" | "duplicate";
      readonly executionName: string;
      readonly executionId: string;
      readonly input: ExecutionInput;
    }
  | { readonly status: "rejected"; readonly reason: string; readonly findings: readonly Finding[] };

const objectCreatedSchema = z.object({
  "detail-type": z.literal("Object Created"),
  detail: z.object({
    bucket: z.object({ name: z.string().min(1) }),
    object: z
      .object({
        key: z.string().min(1),
        etag: z.string().min(1).optional(),
        "version-id": z.string().min(1).optional(),
      })
      .refine((o) => o.etag !== undefined || o["version-id"] !== undefined, {
        message: "an S3 object with an etag or a version-id",
      }),
  }),
});

const rolloutRequestedSchema = z.object({
  "detail-type": z.literal("Rollout Requested"),
  id: z.string().min(1).optional(),
  detail: z.object({
    bucket: z.string().min(1),
    key: z.string().min(1),
    requestId: z.string().min(1).optional(),
  }),
});

interface Upload {
  readonly bucket: string;
  readonly key: string;
  readonly etag?: string;
  readonly versionId?: string;
  /** What makes this upload or request unique: a repeat delivery has the same. */
  readonly dedupKey: string;
}

export const START_USES = portUse({
  executions: ["idFor", "start"],
  events: ["emit"],
  clock: ["now"],
  objects: { bucket: [] },
});

export async function start(event: StartEvent, deps: DepsUsing<typeof START_USES>): Promise<StartOutcome> {
  const read = readUpload(event);
  if (!read.upload) return reject(read.findings, undefined, deps);
  const { upload } = read;
  if (upload.bucket !== deps.objects.bucket) {
    return reject([foreignBucket(event, upload.bucket, deps.objects.bucket)], upload, deps);
  }

  const parsed = parseManifestKey(upload.key);
  if (!parsed.ok) return reject([parsed.finding], upload, deps);

  const name = executionName(parsed.name, parsed.version, upload.dedupKey);
  const input: ExecutionInput = {
    rollout: {
      id: name,
      model: parsed.name,
      version: parsed.version,
      executionId: deps.executions.idFor(name),
      source: {
        bucket: upload.bucket,
        key: upload.key,
        prefix: parsed.prefix,
        ...(upload.etag === undefined ? {} : { etag: upload.etag }),
        ...(upload.versionId === undefined ? {} : { versionId: upload.versionId }),
      },
    },
  };
  const started = await deps.executions.start(name, input);
  return {
    status: started.alreadyStarted ? "duplicate" : "started",
    executionName: name,
    executionId: started.executionId,
    input,
  };
}

function readUpload(event: StartEvent): { upload?: Upload; findings: Finding[] } {
  const kind: unknown = (event as { "detail-type"?: unknown } | null)?.["detail-type"];
  if (kind === "Object Created") {
    const parsed = objectCreatedSchema.safeParse(event);
    if (!parsed.success) return { findings: eventFindings(parsed.error.issues, event, objectCreatedSchema) };
    const { bucket, object } = parsed.data.detail;
    const key = decodeS3EventKey(object.key);
    const versionId = object["version-id"];
    return {
      findings: [],
      upload: {
        bucket: bucket.name,
        key,
        ...(object.etag === undefined ? {} : { etag: object.etag }),
        ...(versionId === undefined ? {} : { versionId }),
        dedupKey: `${key}#${versionId ?? object.etag ?? ""}`,
      },
    };
  }
  if (kind === "Rollout Requested") {
    const parsed = rolloutRequestedSchema.safeParse(event);
    if (!parsed.success)
      return { findings: eventFindings(parsed.error.issues, event, rolloutRequestedSchema) };
    const { detail, id } = parsed.data;
    const requestId = detail.requestId ?? id;
    if (requestId === undefined) {
      return {
        findings: [
          {
            severity: "error",
            code: "start-event.request-id",
            path: "detail.requestId",
            message:
              "a Rollout Requested command needs a requestId (or an event id) to tell a retry from a new request.",
            hint: "Send a unique detail.requestId with each request; send the same one to retry it.",
          },
        ],
      };
    }
    return {
      findings: [],
      upload: { bucket: detail.bucket, key: detail.key, dedupKey: `${detail.key}#request:${requestId}` },
    };
  }
  return {
    findings: [
      {
        severity: "error",
        code: "start-event.detail-type",
        path: "detail-type",
        message: `expected an 'Object Created' event or a 'Rollout Requested' command, found ${describeValue(kind)}.`,
        hint: "Route only S3 Object Created events for models/*/*/modelship.* and Rollout Requested commands to Start.",
      },
    ],
  };
}

function foreignBucket(event: StartEvent, bucket: string, ownBucket: string): Finding {
  const upload = event["detail-type"] === "Object Created";
  return {
    severity: "error",
    code: "start-event.bucket",
    path: upload ? "detail.bucket.name" : "detail.bucket",
    message: `expected this pipeline's bucket '${ownBucket}', found '${bucket}': modelship rolls out only models in its own bucket, where Validate checks them and candidates load them from.`,
    hint: `Upload the model under models/<name>/<version>/ in ${ownBucket}${upload ? "" : ", and name that bucket in the command"}.`,
  };
}

function eventFindings(issues: readonly z.core.$ZodIssue[], event: unknown, schema: z.ZodType): Finding[] {
  return findingsFromSchemaIssues(issues, event, schema, { codePrefix: "start-event" });
}

async function reject(
  findings: readonly Finding[],
  upload: Upload | undefined,
  deps: Pick<DepsUsing<typeof START_USES>, "events" | "clock">,
): Promise<StartOutcome> {
  const key = upload?.key ?? "";
  const [, model = "", version = ""] = key.split("/");
  const first = findings[0];
  const reason = first ? `Nothing was started: ${first.message}` : "Nothing was started.";
  await deps.events.emit(
    rolloutEvent(
      "Rollout Rejected",
      { id: "", model, version },
      "Start",
      key ? `The upload ${key} was not rolled out: ${first?.message ?? ""}` : reason,
      deps.clock,
      {
        error: first?.code.startsWith("key.") ? "InvalidKey" : "InvalidEvent",
        reason,
        ...(first?.hint === undefined ? {} : { hint: first.hint }),
        data: {
          bucket: upload?.bucket ?? "",
          key,
          findings: findings.map((f) => `${f.path ? `${f.path}: ` : ""}${f.message}`),
        },
      },
    ),
  );
  return { status: "rejected", reason, findings };
}
