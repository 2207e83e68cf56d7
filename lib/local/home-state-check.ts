// The check a local runtime makes of its home before it starts anything: every state file it keeps —
// rollouts.json, registry.json, gateway.json — is read as it will be read later, and every one that is not
// what modelship wrote is reported at once (HomeInvalid), before a server starts or a file is written.

import { readGatewayState } from "./gateway/gateway-state-file";
import { JsonFileRolloutStore } from "./json-rollout-store";
import { LocalRegistry } from "./local-registry";
import { HomeInvalid, StateFileInvalid } from "./state-file-invalid";

export interface HomeStateFiles {
  readonly home: string;
  readonly rollouts: string;
  readonly gateway: string;
}

export async function checkHomeStateFiles(files: HomeStateFiles): Promise<void> {
  const reads = await Promise.allSettled([
    new JsonFileRolloutStore(files.rollouts).list(),
    new LocalRegistry({ home: files.home }).check(),
    readGatewayState(files.gateway),
  ]);
  const failures = reads.flatMap((read) => (read.status === "rejected" ? [read.reason as unknown] : []));
  // Anything else (a file that cannot be read at all: permissions, a folder in its place) is not bad content.
  const other = failures.find((failure) => !(failure instanceof StateFileInvalid));
  if (other !== undefined) throw other;
  if (failures.length > 0) throw new HomeInvalid(files.home, failures as StateFileInvalid[]);
}
