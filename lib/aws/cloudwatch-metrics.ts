// The Metrics port on AWS. `publish` and `publishTraffic` write Embedded Metric Format records to stdout,
// one JSON line each: in Lambda, CloudWatch Logs turns them into the probe's and real traffic's metrics the
// alarms watch (lib/core/alarms/canary-metrics.ts), with no API call and no extra dimension. The prober runs on an EventBridge Scheduler schedule, one
// per model version, with the ProberTarget as its input: a schedule fires at most once a minute, so each
// invocation runs a minute of rounds `everySeconds` apart (probeMinute); rounds a minute or more apart get a
// schedule of that many minutes. No flexible window and no retries (a late or repeated round measures
// nothing useful), and the schedule ends — and deletes itself — after a safety-net period, should Finalize
// or Rollback never stop it.

import { createHash } from "node:crypto";
import {
  CreateScheduleCommand,
  type CreateScheduleInput,
  DeleteScheduleCommand,
  SchedulerClient,
  UpdateScheduleCommand,
} from "@aws-sdk/client-scheduler";
import { emfRecords, trafficEmfRecords } from "../core/alarms/emf";
import type { Clock, Metrics, Observation, ProberTarget, TrafficPeriod } from "../ports";
import { asTransientWhenPassing } from "./transient-errors";

export interface CloudWatchMetricsOptions {
  /** CloudWatch namespace of the metrics (the stack's `canaryMetrics.namespace`). */
  readonly namespace: string;
  /** The prober function the schedules invoke. */
  readonly proberFunctionArn: string;
  /** The role EventBridge Scheduler assumes to invoke it (lambda:InvokeFunction on the prober). */
  readonly schedulerRoleArn: string;
  /** The schedule group the probers' schedules are created in; it must exist. */
  readonly scheduleGroup: string;
  /** Hours after which a schedule nobody stopped ends and deletes itself. Default 24. */
  readonly safetyNetHours?: number;
  /** Default: `new SchedulerClient({})` (the environment's standard configuration). */
  readonly client?: SchedulerClient;
  readonly clock?: Pick<Clock, "now">;
  /** Where EMF lines go. Default: stdout, which Lambda sends to CloudWatch Logs. */
  readonly write?: (line: string) => void;
}

const SCHEDULE_NAME_CHARS = 64;
const SCHEDULE_DESCRIPTION_CHARS = 512;
const REQUIRED_PERMISSIONS =
  "scheduler:CreateSchedule, UpdateSchedule and DeleteSchedule on the group's modelship-* schedules, and iam:PassRole on the scheduler role";

/** Metrics into CloudWatch and the prober's schedules; Prometheus queries are prometheus-queries.ts'. */
export class CloudWatchMetrics implements Omit<Metrics, "queryPrometheus"> {
  private readonly options: CloudWatchMetricsOptions;
  private readonly client: SchedulerClient;
  private readonly clock: Pick<Clock, "now">;
  private readonly write: (line: string) => void;

  constructor(options: CloudWatchMetricsOptions) {
    this.options = options;
    this.client = options.client ?? new SchedulerClient({});
    this.clock = options.clock ?? { now: () => new Date() };
    this.write = options.write ?? ((line) => process.stdout.write(`${line}\n`));
  }

  async publish(observations: readonly Observation[]): Promise<void> {
    for (const record of emfRecords(observations, this.options.namespace)) this.write(JSON.stringify(record));
  }

  async publishTraffic(periods: readonly TrafficPeriod[]): Promise<void> {
    for (const record of trafficEmfRecords(periods, this.options.namespace)) {
      this.write(JSON.stringify(record));
    }
  }

  /** Creates the version's schedule, or brings an existing one up to date (a retried CanaryStep). */
  async startProber(target: ProberTarget): Promise<void> {
    const schedule = this.scheduleFor(target);
    const what = `the prober schedule ${schedule.Name} for ${target.model} ${target.version}`;
    try {
      await this.client.send(new CreateScheduleCommand(schedule));
    } catch (error) {
      if ((error as { name?: unknown }).name !== "ConflictException")
        throw schedulerFailure(error, `create ${what}`);
      try {
        await this.client.send(new UpdateScheduleCommand(schedule));
      } catch (updateError) {
        throw schedulerFailure(updateError, `update ${what}`);
      }
    }
  }

  async stopProber(model: string, version: string): Promise<void> {
    const name = proberScheduleName(model, version);
    try {
      await this.client.send(
        new DeleteScheduleCommand({ Name: name, GroupName: this.options.scheduleGroup }),
      );
    } catch (error) {
      if ((error as { name?: unknown }).name === "ResourceNotFoundException") return;
      throw schedulerFailure(error, `delete the prober schedule ${name} of ${model} ${version}`);
    }
  }

  private scheduleFor(target: ProberTarget): CreateScheduleInput {
    const { everySeconds } = target;
    if (!(everySeconds > 0)) {
      throw new Error(
        `The prober of ${target.model} ${target.version} cannot probe every ${everySeconds} seconds: give a positive number (canaryMetrics.probeEverySeconds).`,
      );
    }
    const minutes = Math.max(1, Math.round(everySeconds / 60));
    const input: ProberTarget = {
      model: target.model,
      version: target.version,
      rolloutId: target.rolloutId,
      everySeconds,
    };
    const safetyNetMs = (this.options.safetyNetHours ?? 24) * 3600 * 1000;
    return {
      Name: proberScheduleName(target.model, target.version),
      GroupName: this.options.scheduleGroup,
      Description:
        `modelship prober of ${target.model} ${target.version} (rollout ${target.rolloutId})`.slice(
          0,
          SCHEDULE_DESCRIPTION_CHARS,
        ),
      ScheduleExpression: minutes === 1 ? "rate(1 minute)" : `rate(${minutes} minutes)`,
      FlexibleTimeWindow: { Mode: "OFF" },
      EndDate: new Date(this.clock.now().getTime() + safetyNetMs),
      ActionAfterCompletion: "DELETE",
      State: "ENABLED",
      Target: {
        Arn: this.options.proberFunctionArn,
        RoleArn: this.options.schedulerRoleArn,
        Input: JSON.stringify(input),
        RetryPolicy: { MaximumRetryAttempts: 0, MaximumEventAgeInSeconds: 60 },
      },
    };
  }
}

/** `modelship-<model>-<version>`, shortened with a hash past the 64 characters a schedule name may have. */
function proberScheduleName(model: string, version: string): string {
  const name = `modelship-${model}-${version}`;
  if (name.length <= SCHEDULE_NAME_CHARS) return name;
  const hash = createHash("sha256").update(name).digest("hex").slice(0, 8);
  return `${name.slice(0, SCHEDULE_NAME_CHARS - 9)}-${hash}`;
}

function schedulerFailure(error: unknown, operation: string): unknown {
  const transient = asTransientWhenPassing(error, operation);
  if (transient !== error) return transient;
  const { name, message } = error as { name?: unknown; message?: unknown };
  const hint =
    name === "AccessDeniedException"
      ? `The function's role needs ${REQUIRED_PERMISSIONS}; the ModelPipeline construct grants them.`
      : name === "ResourceNotFoundException"
        ? "The schedule group does not exist: the ModelPipeline construct creates it; check the stack is deployed."
        : name === "ServiceQuotaExceededException"
          ? "The account's EventBridge Scheduler quota is reached: delete unused schedules or ask for a higher quota."
          : "Read EventBridge Scheduler's message: the prober function's ARN or the scheduler role is the usual cause.";
  return new Error(
    `EventBridge Scheduler refused to ${operation} (${String(name)}: ${String(message)}).\nHint: ${hint}`,
    {
      cause: error,
    },
  );
}
