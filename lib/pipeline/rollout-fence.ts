// A stage's changes to the world, fenced by its rollout's ownership of the model (DESIGN §8). The rollout
// store's writes are conditional on the lock; the route, the registry, the alarms and the prober's schedule
// cannot carry that condition. So each such change is made only after checking that the rollout still owns
// the model, and checked again once made: a rollback (an alarm, a command, the state machine) may have run
// in between, acting on what the record said. When the rollout lost the model meanwhile, every change the
// stage made is undone — newest first — and the stage stops with `RolledBack`: the rollback has the last word.
// Undos are idempotent and touch only what the stage itself changed, so running one after the rollback
// already put things right changes nothing.

import { ModelshipError, RolledBack } from "../core/errors";
import type { ModelRecord, Transition } from "../core/rollout/rollout";
import type { RecordChanges, RecordOptions } from "../ports";
import { type DepsUsing, portUse } from "./port-use";
import { assertStillRunning, lostOwnershipReason, ownsModel } from "./rollout-record";

/** How to take back one change, and what it is, for a message when that fails. */
export interface Undo {
  /** A clause: `take llama v2 off the route`. */
  readonly what: string;
  readonly run: () => Promise<unknown>;
}

/** Reads the record to check ownership, and writes transitions on the condition of it. */
export const FENCE_USES = portUse({ store: ["get", "record"] });

export class RolloutFence {
  private readonly undos: Undo[] = [];

  constructor(
    private readonly store: DepsUsing<typeof FENCE_USES>["store"],
    private readonly rollout: { readonly id: string; readonly model: string },
    private readonly stage: string,
  ) {}

  /** The model's record, once it shows that the rollout still owns the model; `RolledBack` otherwise. */
  async check(): Promise<ModelRecord> {
    const record = await this.store.get(this.rollout.model);
    assertStillRunning(record, this.rollout.id, this.stage);
    return record;
  }

  /**
   * Makes one change while the rollout owns its model. If the rollout lost the model before the change was
   * made, nothing happens; if it lost it while the change was being made — or the change failed because a
   * rollback had already moved things — the stage's changes are undone and `RolledBack` is thrown.
   */
  async act<T>(change: () => Promise<T>, undo?: Undo): Promise<T> {
    await this.check();
    let result: { readonly value: T } | undefined;
    let failure: unknown;
    try {
      result = { value: await change() };
    } catch (error) {
      failure = error;
    }
    // A failed change may still have been applied in part: its undo is kept either way.
    if (undo) this.undos.push(undo);
    const record = await this.store.get(this.rollout.model);
    if (!ownsModel(record, this.rollout.id, this.stage)) throw await this.lost(record);
    if (!result) throw failure;
    return result.value;
  }

  /** Writes the stage's transition while the rollout owns its model; a refused write undoes the stage's changes. */
  async record(
    transition: Transition,
    changes: RecordChanges = {},
    options: Omit<RecordOptions, "owned"> = {},
  ): Promise<void> {
    try {
      await this.store.record(this.rollout.model, transition, changes, { ...options, owned: true });
    } catch (error) {
      if (!(error instanceof RolledBack)) throw error;
      throw await this.lost(await this.store.get(this.rollout.model));
    }
  }

  private async lost(record: ModelRecord | undefined): Promise<RolledBack> {
    const undone: string[] = [];
    const failed: string[] = [];
    for (const undo of this.undos.splice(0).reverse()) {
      try {
        await undo.run();
        undone.push(undo.what);
      } catch (error) {
        failed.push(`${undo.what} (${firstLine(error)})`);
      }
    }
    const reason = lostOwnershipReason(record, this.rollout.id, this.stage);
    const said =
      undone.length > 0 ? ` What ${this.stage} had changed meanwhile was undone: ${undone.join("; ")}.` : "";
    return new RolledBack(`${reason}${said}`, {
      ...(failed.length > 0 && {
        hint: `${this.stage} could not ${failed.join("; ")}: do it by hand (modelship status shows the route).`,
      }),
    });
  }
}

function firstLine(error: unknown): string {
  if (error instanceof ModelshipError) return error.reason;
  return error instanceof Error ? (error.message.split("\n")[0] ?? error.name) : String(error);
}
