// The control plane's part of the admin API on the gateway's port (loopback, same-origin, with the home's
// secret, like the rest of it: admin-auth.ts):
//   GET  /_modelship/status[?model=<name>]     every model's record, alarms with values and thresholds, route and faults,
//                                               each served version's replicas (ready/desired, autoscaler, last scale)
//   POST /_modelship/commands                  {"command": "Rollback Requested" | "Abort Requested" | "Promote Requested"
//                                               | "Approve Requested" | "Reject Requested", "model", "reason"?} → what was done, or why nothing was; who asked
//                                               is who the secret authenticates, never a field of the body
//   POST /_modelship/uploads                   {"key": "models/<name>/<version>/modelship.yaml"}: start its rollout now,
//                                               as the bucket watcher would (the manifest must be in the local bucket)
//   GET  /_modelship/executions/<id>           the execution's transitions so far and as they happen, then its result,
//                                               as NDJSON (one JournalEntry per line)
// These are what `modelship status|rollback|promote|abort --local` and `modelship run` beside a running
// control plane use.

import type { IncomingMessage, ServerResponse } from "node:http";
import type { AlarmState } from "../core/alarms/alarm-spec";
import { parseManifestKey } from "../core/rollout/keys";
import { type ModelRecord, recordForDisplay } from "../core/rollout/rollout";
import { COMMAND_NAMES, type CommandName, handleCommand, type CommandOutcome } from "../pipeline/commands";
import type { StageDeps } from "../pipeline/deps";
import type { StartOutcome } from "../pipeline/start";
import type { ProberTarget, RouteState } from "../ports";
import type { ExecutionJournal } from "./execution-journal";
import type { AdminCaller } from "./admin-auth";
import type { AdminExtension } from "./gateway/admin-api";
import type { Fault } from "./gateway/fault-injection";
import type { LocalGateway } from "./gateway/local-gateway";
import type { LocalMetrics } from "./local-metrics";
import type { LocalServing, ReplicaStatus } from "./local-serving";
import { parseJsonObject, readCappedBody, sendJson } from "./gateway/http-messages";
import { OpenAiError } from "./llama-server/openai-error";

const MAX_BODY_BYTES = 64 * 1024;
const COMMANDS: readonly CommandName[] = COMMAND_NAMES;

/** One model as `GET /_modelship/status` shows it. */
export interface LocalModelStatus extends ModelRecord {
  readonly alarms: readonly AlarmState[];
  readonly route: RouteState | null;
  readonly faults: { readonly stable?: Fault; readonly candidate?: Fault };
  /** The canary's prober of this model, while one runs. */
  readonly prober: ProberTarget | null;
  /** The replicas of each version this control plane serves of the model: stable, candidate, previous stable. */
  readonly replicas: readonly (ReplicaStatus & { readonly version: string })[];
}

export interface ControlPlaneSurface {
  readonly deps: StageDeps;
  readonly gateway: LocalGateway;
  readonly metrics: LocalMetrics;
  readonly journal: ExecutionJournal;
  /** Where the replicas of the versions served are counted. @default none: status shows no replicas */
  readonly serving?: Pick<LocalServing, "replicaStatus">;
  /** Starts the rollout of a manifest in the local bucket, as its upload would. */
  startManifest(key: string): Promise<StartOutcome>;
}

export function controlPlaneApi(surface: ControlPlaneSurface): AdminExtension {
  return async (request, response, segments, caller) => {
    const method = request.method ?? "GET";
    const [resource, id, ...rest] = segments;
    if (resource === "status" && segments.length === 1) {
      allow(method, "GET", request);
      const model = new URL(request.url ?? "/", "http://control-plane").searchParams.get("model");
      sendJson(response, 200, { models: await statusOf(surface, model ?? undefined) });
      return true;
    }
    if (resource === "commands" && segments.length === 1) {
      allow(method, "POST", request);
      const body = parseJsonObject(await readCappedBody(request, MAX_BODY_BYTES), "The command");
      const outcome = await runCommand(body, caller, surface.deps);
      sendJson(response, outcome.status === "rejected" ? 400 : 200, outcome);
      return true;
    }
    if (resource === "uploads" && segments.length === 1) {
      allow(method, "POST", request);
      const { key } = parseJsonObject(await readCappedBody(request, MAX_BODY_BYTES), "The upload");
      if (typeof key !== "string" || key === "") {
        throw new OpenAiError(
          400,
          'The upload needs {"key": "models/<name>/<version>/modelship.yaml"}: the manifest\'s key in the local bucket.',
          "key",
          "invalid_upload",
        );
      }
      const shape = parseManifestKey(key);
      if (!shape.ok) {
        throw new OpenAiError(
          400,
          `The upload's key cannot start a rollout: ${shape.finding.message} ${shape.finding.hint ?? ""}`.trim(),
          "key",
          "invalid_upload",
        );
      }
      const outcome = await surface.startManifest(key);
      sendJson(response, outcome.status === "rejected" ? 400 : 200, outcome);
      return true;
    }
    if (resource === "executions" && id !== undefined && id !== "" && rest.length === 0) {
      allow(method, "GET", request);
      follow(id, surface.journal, request, response);
      return true;
    }
    return false;
  };
}

/** Every model's status (or the one named), as `GET /_modelship/status` and the web console show it. */
export async function statusOf(
  surface: ControlPlaneSurface,
  model: string | undefined,
): Promise<LocalModelStatus[]> {
  const { store, alarms } = surface.deps;
  const records = model === undefined ? await store.list() : [await store.get(model)];
  const statuses: LocalModelStatus[] = [];
  for (const record of records) {
    if (!record) continue;
    const stable = surface.gateway.faultOf(record.model, "stable");
    const candidate = surface.gateway.faultOf(record.model, "candidate");
    statuses.push({
      ...recordForDisplay(record),
      alarms: record.alarmNames?.length ? await alarms.states(record.alarmNames) : [],
      route: (await surface.gateway.describe(record.model)) ?? null,
      faults: { ...(stable ? { stable } : {}), ...(candidate ? { candidate } : {}) },
      prober: surface.metrics.probers().find((p) => p.model === record.model) ?? null,
      replicas: [record.stable, record.candidate, record.previousStable].flatMap((served) => {
        const replicas = served && surface.serving?.replicaStatus(served.handle);
        return replicas ? [{ version: served.version, ...replicas }] : [];
      }),
    });
  }
  return statuses.sort((a, b) => a.model.localeCompare(b.model));
}

function runCommand(
  body: Record<string, unknown>,
  caller: AdminCaller,
  deps: StageDeps,
): Promise<CommandOutcome> {
  const { command, ...detail } = body;
  if ("requestedBy" in detail) {
    return Promise.resolve({
      status: "rejected",
      message: `The command names requestedBy, but who asked is who the admin API authenticated (${caller.requestedBy}): leave requestedBy out.`,
    });
  }
  if (typeof command !== "string" || !COMMANDS.includes(command as CommandName)) {
    return Promise.resolve({
      status: "rejected",
      message: `The command must be one of ${COMMANDS.map((c) => `"${c}"`).join(", ")}, found ${JSON.stringify(command)}.`,
    });
  }
  return handleCommand(
    {
      "detail-type": command as CommandName,
      detail: { ...(detail as { model: string }), requestedBy: caller.requestedBy },
    },
    deps,
  );
}

function follow(
  executionId: string,
  journal: ExecutionJournal,
  request: IncomingMessage,
  response: ServerResponse,
): void {
  if (!journal.has(executionId)) {
    throw new OpenAiError(
      404,
      `This control plane has not run an execution ${executionId}.`,
      null,
      "execution_not_found",
    );
  }
  response.writeHead(200, { "content-type": "application/x-ndjson; charset=utf-8" });
  const stop = journal.follow(executionId, (entry) => {
    response.write(`${JSON.stringify(entry)}\n`);
    if ("result" in entry) response.end();
  });
  request.socket.once("close", stop);
}

function allow(method: string, allowed: string, request: IncomingMessage): void {
  if (method !== allowed) {
    throw new OpenAiError(
      405,
      `${new URL(request.url ?? "/", "http://control-plane").pathname} answers ${allowed}, not ${method}.`,
      null,
      "method_not_allowed",
    );
  }
}
