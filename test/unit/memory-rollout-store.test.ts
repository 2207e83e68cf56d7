// The in-memory rollout store the stage tests use keeps the real stores' contract, so a stage that passes
// against it behaves the same on DynamoDB and on the local JSON file.

import { MemoryRolloutStore } from "../support/memory-rollout-store";
import { describeRolloutStoreContract } from "./adapters/rollout-store-contract";

describeRolloutStoreContract("MemoryRolloutStore", async () => new MemoryRolloutStore());
