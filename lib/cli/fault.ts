// `modelship fault <model> --variant candidate|stable [--delay 800ms] [--abort 503] [--percent 50] [--clear]`:
// injects a fault into the requests one variant of a model serves through the running local control plane's
// gateway (Istio-style: a delay and/or an abort on a share of the requests), or clears it. It finds the
// control plane by `<home>/control-plane.json` and calls its admin API; a new fault replaces the old one.

import { resolve } from "node:path";
import { ControlPlaneClient, ControlPlaneRefused } from "../local/control-plane-client";
import { NoControlPlane } from "../local/control-plane-file";
import type { AdminFaultAnswer } from "../local/gateway/admin-api";
import type { Fault } from "../local/gateway/fault-injection";
import { runCliCommand, UsageError } from "./cli-command";
import { parseCommandLine } from "./command-line";

const USAGE = `Usage: modelship fault <model> --variant candidate|stable [--delay 800ms] [--abort 503] [--percent 50]
       modelship fault <model> --variant candidate|stable --clear

Injects a fault into the requests that one variant of a model serves through the local gateway of the
running control plane (\`modelship local\`), to see the canary's alarms roll a slow or failing candidate back.
A new fault replaces the variant's previous one.

  --variant V      candidate or stable
  --delay D        hold the requests this long before forwarding them (e.g. 800ms, 2s)
  --abort STATUS   answer the requests with this HTTP status (400–599) instead of forwarding them
  --percent P      the share of requests affected, 0–100 (default 100)
  --clear          remove the variant's fault
  --home DIR       the local runtime's folder (default .modelship)

Exit status: 0 done, 1 no control plane runs or it refused (e.g. an unknown model), 2 usage error.`;

export function run(argv: string[]): Promise<number> {
  return runCliCommand({ name: "fault", usage: USAGE, refusals: [NoControlPlane, ControlPlaneRefused] }, () =>
    faultCommand(argv),
  );
}

async function faultCommand(argv: string[]): Promise<number> {
  const parsed = parseCommandLine({
    args: argv,
    allowPositionals: true,
    options: {
      variant: { type: "string" },
      delay: { type: "string" },
      abort: { type: "string" },
      percent: { type: "string" },
      clear: { type: "boolean", default: false },
      home: { type: "string", default: ".modelship" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError("give exactly one model name.");
  const model = positionals[0] as string;
  const variant = values.variant;
  if (variant !== "candidate" && variant !== "stable") {
    throw new UsageError(
      `--variant must be candidate or stable${variant === undefined ? "" : `, not '${variant}'`}.`,
    );
  }
  const fault = values.clear ? undefined : faultFrom(values);
  if (values.clear && (values.delay ?? values.abort ?? values.percent) !== undefined) {
    throw new UsageError("--clear removes the fault; it takes no --delay, --abort or --percent.");
  }

  const controlPlane = await ControlPlaneClient.connect(resolve(values.home));
  const path = `faults/${encodeURIComponent(model)}/${variant}`;
  const answer = await controlPlane.call<AdminFaultAnswer>(fault ? "PUT" : "DELETE", path, fault);
  const who = `${model} ${variant}${answer.version ? ` (${answer.version})` : " (no such backend now)"}`;
  console.log(fault ? `✔ ${who}: ${answer.description}.` : `✔ ${who}: fault cleared.`);
  return 0;
}

function faultFrom(values: { delay?: string; abort?: string; percent?: string }): Fault {
  if (values.delay === undefined && values.abort === undefined) {
    throw new UsageError("give --delay, --abort (or both), or --clear.");
  }
  const percentage = values.percent === undefined ? 100 : Number(values.percent);
  if (values.percent !== undefined && !(/^\d+(\.\d+)?$/.test(values.percent) && percentage <= 100)) {
    throw new UsageError(`--percent must be a number from 0 to 100, not '${values.percent}'.`);
  }
  const fault: { delay?: Fault["delay"]; abort?: Fault["abort"] } = {};
  if (values.delay !== undefined) fault.delay = { fixedDelayMs: parseDelay(values.delay), percentage };
  if (values.abort !== undefined) {
    const status = Number(values.abort);
    if (!/^\d{3}$/.test(values.abort) || status < 400 || status > 599) {
      throw new UsageError(`--abort must be an HTTP error status from 400 to 599, not '${values.abort}'.`);
    }
    fault.abort = { httpStatus: status, percentage };
  }
  return fault;
}

/** `800ms`, `2s`, `1.5s` → milliseconds. */
function parseDelay(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s)$/.exec(text.trim());
  if (!match) throw new UsageError(`--delay must be a duration like 800ms or 2s, not '${text}'.`);
  const ms = Number(match[1]) * (match[2] === "s" ? 1000 : 1);
  if (ms > 86_400_000) throw new UsageError(`--delay must be at most a day, not '${text}'.`);
  return Math.round(ms);
}
