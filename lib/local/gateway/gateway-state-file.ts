// `<home>/gateway.json`: the local gateway's routes and faults, so a restarted control plane serves every
// model as it did. Written whole by an atomic rename after each change (a reader never sees half a file);
// a file that is not a gateway state is reported with what is wrong and never overwritten.

import { readFile } from "node:fs/promises";
import { isStickiness } from "../../core/traffic/sticky-routing";
import type { Variant } from "../../ports";
import { writeFileAtomic } from "../atomic-write";
import { StateFileInvalid } from "../state-file-invalid";
import { type Fault, parseFault } from "./fault-injection";
import type { RouteSlots } from "./route-table";

const FORMAT = "modelship-gateway/1";

/** Model → variant → fault. */
export type FaultTable = ReadonlyMap<string, ReadonlyMap<Variant, Fault>>;

interface GatewayState {
  /** Model → what its route holds. */
  readonly routes: ReadonlyMap<string, RouteSlots>;
  readonly faults: FaultTable;
}

export async function readGatewayState(filePath: string): Promise<GatewayState> {
  let text: string;
  try {
    text = await readFile(filePath, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { routes: new Map(), faults: new Map() };
    throw error;
  }
  return parseGatewayState(text, filePath);
}

export function writeGatewayState(filePath: string, state: GatewayState): Promise<void> {
  const file = {
    format: FORMAT,
    routes: Object.fromEntries(state.routes),
    faults: Object.fromEntries(
      [...state.faults].map(([model, byVariant]) => [model, Object.fromEntries(byVariant)]),
    ),
  };
  return writeFileAtomic(filePath, `${JSON.stringify(file, null, 2)}\n`);
}

function parseGatewayState(text: string, filePath: string): GatewayState {
  const problems: string[] = [];
  let file: unknown;
  try {
    file = JSON.parse(text);
  } catch (error) {
    throw notAGatewayState(filePath, [`it is not valid JSON (${(error as Error).message})`]);
  }
  if (!isObject(file) || file["format"] !== FORMAT)
    throw notAGatewayState(filePath, [`expected "format": "${FORMAT}"`]);
  const { routes, faults } = file;
  if (!isObject(routes) || !isObject(faults)) {
    throw notAGatewayState(filePath, ['expected the objects "routes" and "faults"']);
  }
  const restoredRoutes = new Map<string, RouteSlots>();
  for (const [model, slots] of Object.entries(routes)) {
    const before = problems.length;
    if (!isObject(slots)) {
      problems.push(
        `routes.${model}: expected {"stable"?, "candidate"?, "previous"?, "weights", "stickiness"?, "mirror"?}`,
      );
      continue;
    }
    const weights = slots["weights"];
    if (!isObject(weights) || !isPercent(weights["stable"]) || !isPercent(weights["candidate"])) {
      problems.push(`routes.${model}.weights: expected {"stable": 0–100, "candidate": 0–100}`);
    }
    for (const slot of ["stable", "candidate", "previous"]) {
      if (slots[slot] !== undefined && !isHandle(slots[slot])) {
        problems.push(
          `routes.${model}.${slot}: expected a candidate handle {"id", "version", "servedName", ...}`,
        );
      }
    }
    if (slots["stickiness"] !== undefined && !isStickiness(slots["stickiness"])) {
      problems.push(`routes.${model}.stickiness: expected {"header": <name>} or {"cookie": <name>}`);
    }
    const mirror = slots["mirror"];
    if (
      mirror !== undefined &&
      !(isObject(mirror) && isPercent(mirror["percent"]) && mirror["percent"] !== 0)
    ) {
      problems.push(`routes.${model}.mirror: expected {"percent": 1–100}`);
    }
    if (problems.length === before) restoredRoutes.set(model, slots as unknown as RouteSlots);
  }
  const restoredFaults = new Map<string, Map<Variant, Fault>>();
  for (const [model, byVariant] of Object.entries(faults)) {
    if (!isObject(byVariant)) {
      problems.push(`faults.${model}: expected an object of variants`);
      continue;
    }
    const parsed = new Map<Variant, Fault>();
    for (const [variant, value] of Object.entries(byVariant)) {
      const fault = parseFault(value);
      if (variant !== "stable" && variant !== "candidate")
        problems.push(`faults.${model}.${variant}: unknown variant`);
      else if ("problems" in fault)
        problems.push(...fault.problems.map((p) => `faults.${model}.${variant}: ${p}`));
      else parsed.set(variant, fault.fault);
    }
    restoredFaults.set(model, parsed);
  }
  if (problems.length > 0) throw notAGatewayState(filePath, problems);
  return { routes: restoredRoutes, faults: restoredFaults };
}

function notAGatewayState(filePath: string, problems: readonly string[]): StateFileInvalid {
  return new StateFileInvalid(
    filePath,
    "a modelship gateway state",
    problems,
    "Fix it, or move it away to start with no routes (the models it routed are then not reachable through the gateway until a version of each is released again).",
  );
}

function isPercent(value: unknown): boolean {
  return typeof value === "number" && Number.isInteger(value) && value >= 0 && value <= 100;
}

function isHandle(value: unknown): boolean {
  return (
    isObject(value) &&
    ["id", "model", "version", "rolloutId", "servedName", "deployedAt"].every(
      (k) => typeof value[k] === "string",
    )
  );
}

function isObject(value: unknown): value is Record<string, unknown> {
  return !!value && typeof value === "object" && !Array.isArray(value);
}
