// What the MCP server's tools act on, on AWS or on this machine, through the code the CLI uses: the rollout
// records and their alarms (`modelship status`), commands (`modelship rollback|…`, answered by the Command
// function on AWS or at once by the local control plane), the rollouts' report documents in the bucket, the
// recent events (locally: the home's events.jsonl; on AWS they go to EventBridge and are not kept), and
// handing a model folder's rollout to the local control plane (`modelship run` beside `modelship local`).

import { open } from "node:fs/promises";
import { resolve } from "node:path";
import { CloudWatchAlarms } from "../aws/cloudwatch-alarms";
import { DynamoRolloutStore } from "../aws/dynamodb-rollout-store";
import { S3ObjectStore } from "../aws/s3-object-store";
import type { AlarmState } from "../core/alarms/alarm-spec";
import { type ModelRecord, recordForDisplay } from "../core/rollout/rollout";
import type { LocalModelStatus } from "../local/control-plane-api";
import { ControlPlaneClient } from "../local/control-plane-client";
import { FolderObjectStore } from "../local/folder-object-store";
import type { EventLine } from "../local/jsonl-events";
import { localPaths } from "../local/runtime";
import type { CommandName, CommandOutcome } from "../pipeline/commands";
import type { StartOutcome } from "../pipeline/start";
import type { ObjectStore, RouteState } from "../ports";
import { handRolloutToControlPlane } from "../cli/run";
import { assertKnownModel, putCommandEvent } from "../cli/send-command";

/** One model as the tools show it: its record, its alarms' states, and locally the gateway's route. */
export interface ModelView {
  readonly record: ModelRecord;
  readonly alarms: readonly AlarmState[];
  readonly route?: RouteState | null;
}

/** A tool cannot do this here; the message says why and what to use instead. */
export class NotAvailableHere extends Error {
  override readonly name = "NotAvailableHere";
}

export interface Operations {
  /** Where the tools act, for their answers: `the local control plane of /home/.modelship`, `AWS (table T)`. */
  readonly where: string;
  status(model?: string): Promise<ModelView[]>;
  /** `requestedBy` names the agent's session: who asked, as the records show it. */
  command(name: CommandName, model: string, reason: string, requestedBy: string): Promise<CommandOutcome>;
  /** The bucket the rollouts' reports are in; NotAvailableHere when it was not given. */
  reports(): ObjectStore;
  /** The most recent events, newest last, at most `limit`. */
  recentEvents(limit: number): Promise<EventLine[]>;
  /** Starts the rollout of a model folder on this machine. */
  runFolder(
    folder: string,
    names: { name?: string; version?: string },
  ): Promise<StartOutcome & { name: string; version: string }>;
}

/** The events file is read from its end: at most this many bytes, whatever its size. */
const MAX_EVENT_TAIL_BYTES = 512 * 1024;

export class LocalOperations implements Operations {
  readonly where: string;
  private readonly home: string;

  constructor(home: string) {
    this.home = resolve(home);
    this.where = `the local control plane of ${this.home}`;
  }

  async status(model?: string): Promise<ModelView[]> {
    const controlPlane = await ControlPlaneClient.connect(this.home);
    const query = model === undefined ? "" : `?model=${encodeURIComponent(model)}`;
    const { models } = await controlPlane.call<{ models: LocalModelStatus[] }>("GET", `status${query}`);
    return models.map(({ alarms, route, faults: _faults, prober: _prober, ...record }) => ({
      record,
      alarms,
      route,
    }));
  }

  async command(
    name: CommandName,
    model: string,
    reason: string,
    requestedBy: string,
  ): Promise<CommandOutcome> {
    const controlPlane = await ControlPlaneClient.connect(this.home);
    // Who asked is who the control plane authenticates (the home's user), as for the CLI; the agent that
    // asked on their behalf goes with the reason.
    return controlPlane.call<CommandOutcome>("POST", "commands", {
      command: name,
      model,
      reason: `${reason} (via ${requestedBy})`,
    });
  }

  reports(): ObjectStore {
    return new FolderObjectStore(localPaths(this.home).bucket);
  }

  async recentEvents(limit: number): Promise<EventLine[]> {
    const file = localPaths(this.home).events;
    const handle = await open(file, "r").catch((error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT") return undefined;
      throw error;
    });
    if (!handle) return [];
    try {
      const { size } = await handle.stat();
      const length = Math.min(size, MAX_EVENT_TAIL_BYTES);
      const buffer = Buffer.alloc(length);
      await handle.read(buffer, 0, length, size - length);
      const lines = buffer.toString("utf8").split("\n");
      // A read from the middle starts inside a line; an append in flight ends without its newline.
      if (length < size) lines.shift();
      lines.pop();
      const events: EventLine[] = [];
      for (const line of lines.slice(-limit)) {
        try {
          events.push(JSON.parse(line) as EventLine);
        } catch {
          // A line that is not an event is left out here; `modelship` readers that need every line say which.
        }
      }
      return events;
    } finally {
      await handle.close();
    }
  }

  async runFolder(folder: string, names: { name?: string; version?: string }) {
    const controlPlane = await ControlPlaneClient.connect(this.home);
    const { started, name, version } = await handRolloutToControlPlane(
      controlPlane,
      this.home,
      folder,
      names,
    );
    return { ...started, name, version };
  }
}

export interface AwsOperationsOptions {
  readonly table: string;
  /** The pipeline's bus, for commands; without it commands are refused. */
  readonly bus?: string;
  /** The pipeline's bucket, for reports; without it report tools are refused. */
  readonly bucket?: string;
}

export class AwsOperations implements Operations {
  readonly where: string;
  private readonly store: DynamoRolloutStore;
  private readonly alarms = new CloudWatchAlarms();

  constructor(private readonly options: AwsOperationsOptions) {
    this.store = new DynamoRolloutStore({ tableName: options.table });
    this.where = `AWS (rollout table ${options.table})`;
  }

  async status(model?: string): Promise<ModelView[]> {
    const records =
      model === undefined
        ? (await this.store.list()).sort((a, b) => a.model.localeCompare(b.model))
        : [await this.store.get(model)].filter((r): r is ModelRecord => r !== undefined);
    return Promise.all(
      records.map(async (record) => ({
        record: recordForDisplay(record),
        alarms: record.alarmNames?.length ? await this.alarms.states(record.alarmNames) : [],
      })),
    );
  }

  async command(
    name: CommandName,
    model: string,
    reason: string,
    requestedBy: string,
  ): Promise<CommandOutcome> {
    const { bus, table } = this.options;
    if (!bus) {
      throw new NotAvailableHere(
        `Commands go on the pipeline's event bus, and this server was started without one: start it with --bus (the stack's EventBusName output).`,
      );
    }
    await assertKnownModel(model, table);
    const eventId = await putCommandEvent(bus, name, { model, reason, requestedBy });
    return {
      command: name,
      model,
      status: "done",
      message: `"${name}" for ${model} was put on bus ${bus}${eventId ? ` (event ${eventId})` : ""}; the Command function acts on it within seconds — call model_status to see what it did.`,
    };
  }

  reports(): ObjectStore {
    if (!this.options.bucket) {
      throw new NotAvailableHere(
        "The rollouts' reports are in the pipeline's bucket, and this server was started without one: start it with --bucket (the stack's BucketName output).",
      );
    }
    return new S3ObjectStore({ bucket: this.options.bucket });
  }

  recentEvents(): Promise<EventLine[]> {
    throw new NotAvailableHere(
      "On AWS modelship's events go to EventBridge, which keeps none: add an archive or a rule to a log group on the bus to keep them, and read them there.",
    );
  }

  runFolder(): Promise<StartOutcome & { name: string; version: string }> {
    throw new NotAvailableHere(
      "On AWS a rollout starts with an upload to the pipeline's bucket (models/<name>/<version>/ with its manifest last), not from a folder on this machine.",
    );
  }
}
