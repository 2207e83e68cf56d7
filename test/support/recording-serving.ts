// A Serving port for stages that only remove candidates: it records removals and can be told to fail
// them, the way a missing adapter (NotImplementedYet) or a failing cluster would.

import type { CandidateHandle, CandidateSpec, CandidateStatus, Endpoint, Serving } from "../../lib/ports";

export class RecordingServing implements Serving {
  readonly removed: string[] = [];
  private readonly removeFailure: Error | undefined;

  constructor(options: { readonly failRemoveWith?: Error } = {}) {
    this.removeFailure = options.failRemoveWith;
  }

  async remove(handle: CandidateHandle): Promise<void> {
    if (this.removeFailure) throw this.removeFailure;
    this.removed.push(handle.id);
  }

  deploy(_spec: CandidateSpec): Promise<CandidateHandle> {
    throw new Error("RecordingServing only removes candidates.");
  }

  status(_handle: CandidateHandle): Promise<CandidateStatus> {
    throw new Error("RecordingServing only removes candidates.");
  }

  endpoint(_handle: CandidateHandle): Promise<Endpoint> {
    throw new Error("RecordingServing only removes candidates.");
  }
}
