// `<home>/control-plane.json`: how commands run beside the local control plane (`modelship fault`, …) find
// it — its pid, the port of its gateway and admin API, and when it started. The control plane writes it once
// it listens and removes it when it stops; a file left by one that crashed is recognised by its dead pid.

import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic } from "./atomic-write";

export interface ControlPlaneInfo {
  readonly pid: number;
  readonly gatewayPort: number;
  /** ISO timestamp. */
  readonly startedAt: string;
}

/** No control plane runs for this home, and why we think so; the message says how to start one. */
export class NoControlPlane extends Error {
  override readonly name = "NoControlPlane";
}

export function writeControlPlaneFile(home: string, info: ControlPlaneInfo): Promise<void> {
  return writeFileAtomic(controlPlanePath(home), `${JSON.stringify(info, null, 2)}\n`);
}

/** Removes the file if it is this process's (a newer control plane's file is left alone). */
export async function removeControlPlaneFile(home: string, pid: number): Promise<void> {
  const info = await readControlPlaneFile(home).catch(() => undefined);
  if (info?.pid === pid) await rm(controlPlanePath(home), { force: true });
}

/** The control plane running for this home, or NoControlPlane saying why there is none. */
export async function findRunningControlPlane(home: string): Promise<ControlPlaneInfo> {
  const info = await readControlPlaneFile(home);
  const start = `Start it with \`modelship local --home ${home}\`.`;
  if (!info) {
    throw new NoControlPlane(
      `No local control plane is running for ${home} (${controlPlanePath(home)} does not exist). ${start}`,
    );
  }
  if (!isAlive(info.pid)) {
    throw new NoControlPlane(
      `The local control plane for ${home} (pid ${info.pid}, started ${info.startedAt}) is no longer running. ${start}`,
    );
  }
  return info;
}

async function readControlPlaneFile(home: string): Promise<ControlPlaneInfo | undefined> {
  const path = controlPlanePath(home);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = undefined;
  }
  const { pid, gatewayPort, startedAt } = (value ?? {}) as Record<string, unknown>;
  if (
    !Number.isSafeInteger(pid) ||
    (pid as number) <= 0 ||
    !Number.isInteger(gatewayPort) ||
    (gatewayPort as number) <= 0 ||
    (gatewayPort as number) > 65535 ||
    typeof startedAt !== "string"
  ) {
    throw new NoControlPlane(
      `${path} is not a control plane file: expected {"pid": <number>, "gatewayPort": 1–65535, "startedAt": "<ISO time>"}. Delete it if no control plane runs, then start one.`,
    );
  }
  return { pid: pid as number, gatewayPort: gatewayPort as number, startedAt };
}

function controlPlanePath(home: string): string {
  return join(home, "control-plane.json");
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
