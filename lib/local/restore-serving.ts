// Bringing back what served when the local runtime opens again: its servers are processes of the last
// runtime, gone with it (or orphaned by a crash). A rollout the last runtime was running cannot resume — a
// local execution lives in its process — so it is rolled back, as an abort would; then each model's stable
// version (and, during a watch, the previous stable) is started again from its recorded deploy spec, and the
// gateway's route and the record point at the new server. What cannot be restarted is said, not hidden.

import { setTimeout as sleep } from "node:timers/promises";
import type { ServingVersion } from "../core/rollout/rollout";
import type { CandidateHandle } from "../ports";
import type { StageDeps } from "../pipeline/deps";
import { rollback } from "../pipeline/rollback";
import type { LocalGateway } from "./gateway/local-gateway";
import type { LocalServing } from "./local-serving";

const STAGE = "Restore";
const READY_POLL_MS = 250;
/** A version that served before loaded once already: this is ample for it to load again. */
const READY_BUDGET_MS = 300_000;

/** Returns what was done, a sentence per rollout rolled back and per server started (or not) again. */
export async function restoreServing(
  deps: StageDeps,
  serving: LocalServing,
  gateway: LocalGateway,
): Promise<string[]> {
  const said: string[] = [];
  for (const record of await deps.store.list()) {
    if (!record.lock) continue;
    const outcome = await rollback(
      {
        by: "command",
        command: "Abort Requested",
        model: record.model,
        reason: "the local runtime that ran it stopped before it ended",
        requestedBy: "modelship (local runtime, on restart)",
      },
      deps,
    );
    said.push(outcome.reason);
  }
  for (const record of await deps.store.list()) {
    const versions = [record.stable, record.previousStable].filter((v): v is ServingVersion => !!v);
    const restarted: Partial<Record<"stable" | "previousStable", ServingVersion>> = {};
    for (const [slot, version] of [
      ["stable", record.stable],
      ["previousStable", record.previousStable],
    ] as const) {
      if (!version) continue;
      try {
        const handle = await serving.restart(version.handle);
        await untilReady(serving, handle);
        await gateway.rebind(record.model, handle);
        restarted[slot] = { ...version, handle };
        said.push(`Started ${record.model} ${version.version} again (rollout ${version.rolloutId}).`);
      } catch (error) {
        said.push(
          `Could not start ${record.model} ${version.version} again: ${error instanceof Error ? error.message : String(error)}`,
        );
      }
    }
    if (Object.keys(restarted).length === 0) continue;
    const [first] = versions;
    await deps.store.record(
      record.model,
      {
        at: deps.clock.now().toISOString(),
        rolloutId: first?.rolloutId ?? "",
        version: first?.version ?? "",
        stage: STAGE,
        status: record.status ?? "promoted",
        reason: `The local runtime started ${Object.values(restarted)
          .map((v) => v.version)
          .join(" and ")} again after a restart.`,
      },
      restarted,
    );
  }
  return said;
}

async function untilReady(serving: LocalServing, handle: CandidateHandle): Promise<void> {
  const deadline = Date.now() + READY_BUDGET_MS;
  for (;;) {
    const status = await serving.status(handle);
    if (status.phase === "ready") return;
    if (status.phase === "failed" || Date.now() > deadline) {
      await serving.remove(handle);
      throw new Error(
        status.phase === "failed"
          ? `its server failed (${status.reason}: ${status.message})`
          : `its server was not ready within ${READY_BUDGET_MS / 1000} s`,
      );
    }
    await sleep(READY_POLL_MS);
  }
}
