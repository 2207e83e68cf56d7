// The RolloutStore port on DynamoDB: one table, string keys `pk` (HASH) and `sk` (RANGE), a `ttl`
// attribute for expiring de-duplication claims. Items:
//   MODEL#<name> / STATE                           the model: lock, stable, candidate, weights, status
//   MODEL#<name> / TX#<iso time>#<rollout>#<n>     one item per transition, so history never outgrows an item
//   MODEL#<name> / VERSION#<version>               a version's stress/eval results, for regression gates
//   MODEL#<name> / OUTBOX#<rollout>#<time>#…       an event a transition left to announce (deleted once emitted)
//   DEDUP#<key>  / DEDUP                           a de-duplication claim (expires through `ttl`)
// The lock, the end claim and the de-duplication claims are conditional writes; a transition, the state
// change it makes, the lock's release and the events it announces are one transaction, conditioned — for a
// stage's write — on the rollout still owning the model (lib/core/rollout/rollout-ownership.ts). Throttling and server
// errors become `Transient`, so the state machine retries them.

import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import {
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  ScanCommand,
  TransactWriteCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import { Transient } from "../core/errors";
import type { ModelshipEvent } from "../core/events/events";
import type { HookRun } from "../core/gates/hooks";
import {
  type EndClaim,
  type LockHolder,
  type ModelRecord,
  RECORD_FIELDS,
  type RolloutStatus,
  type Transition,
} from "../core/rollout/rollout";
import { mayWriteAs, ownershipLost, pendingEventId } from "../core/rollout/rollout-ownership";
import type {
  EndClaimResult,
  LockResult,
  PendingEvent,
  RecordChanges,
  RecordOptions,
  RolloutStore,
} from "../ports";
import { asTransientWhenPassing } from "./transient-errors";

export interface DynamoRolloutStoreOptions {
  readonly tableName: string;
  /** Default: a document client over `new DynamoDBClient({})` (the environment's standard configuration). */
  readonly client?: DynamoDBDocumentClient;
}

/** How many of the newest transitions `get` and `list` return. */
const HISTORY_RETURNED = 50;
/** Duplicate deliveries (S3 → EventBridge retries) arrive within hours; a week is a wide margin. */
const CLAIM_TTL_SECONDS = 7 * 24 * 3600;
/** An acquireLock() that finds the lock released between its write and its read tries again, this many times in all. */
const LOCK_ATTEMPTS = 3;
/** A record() that loses a race with another writer re-reads and tries again, this many times in all. */
const RECORD_ATTEMPTS = 5;
const STATE_SK = "STATE";
const TRANSITION_SK_PREFIX = "TX#";
const OUTBOX_SK_PREFIX = "OUTBOX#";

type Item = Record<string, unknown>;

export class DynamoRolloutStore implements RolloutStore {
  private readonly tableName: string;
  private readonly client: DynamoDBDocumentClient;

  constructor({ tableName, client }: DynamoRolloutStoreOptions) {
    this.tableName = tableName;
    this.client = client ?? DynamoDBDocumentClient.from(new DynamoDBClient({}));
  }

  async acquireLock(model: string, holder: LockHolder): Promise<LockResult> {
    // The holder can release between our failed write and our read; then the lock is free: try again.
    for (let attempt = 1; attempt <= LOCK_ATTEMPTS; attempt++) {
      try {
        await this.call(`take the lock of ${model}`, () =>
          this.client.send(
            new UpdateCommand({
              TableName: this.tableName,
              Key: modelKey(model),
              UpdateExpression: "SET #lock = if_not_exists(#lock, :holder), #model = :model",
              ConditionExpression: "attribute_not_exists(#lock) OR #lock.#rolloutId = :rolloutId",
              ExpressionAttributeNames: { "#lock": "lock", "#model": "model", "#rolloutId": "rolloutId" },
              ExpressionAttributeValues: {
                ":holder": lockItem(holder),
                ":model": model,
                ":rolloutId": holder.rolloutId,
              },
            }),
          ),
        );
        return { acquired: true };
      } catch (error) {
        if (!isConditionFailed(error)) throw error;
      }
      const current = await this.getStateItem(model);
      const lock = current && readLock(current.lock);
      if (lock) return { acquired: false, holder: lock };
    }
    throw new Transient(`The lock of ${model} changed hands repeatedly while it was being taken.`, {
      hint: "Another rollout of this model is starting and stopping; the state machine retries.",
    });
  }

  async releaseLock(model: string, rolloutId: string): Promise<void> {
    try {
      await this.call(`release the lock of ${model}`, () =>
        this.client.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: modelKey(model),
            UpdateExpression: "REMOVE #lock",
            ConditionExpression: "#lock.#rolloutId = :rolloutId",
            ExpressionAttributeNames: { "#lock": "lock", "#rolloutId": "rolloutId" },
            ExpressionAttributeValues: { ":rolloutId": rolloutId },
          }),
        ),
      );
    } catch (error) {
      // Not held by this rollout (released already, or never taken): nothing to release.
      if (!isConditionFailed(error)) throw error;
    }
  }

  async claimEnd(model: string, rolloutId: string, claim: EndClaim): Promise<EndClaimResult> {
    try {
      await this.call(`claim the end of ${rolloutId} for ${claim.stage}`, () =>
        this.client.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: modelKey(model),
            UpdateExpression: "SET #lock.#ending = if_not_exists(#lock.#ending, :claim)",
            ConditionExpression: OWNERSHIP_CONDITION,
            ExpressionAttributeNames: OWNERSHIP_NAMES,
            ExpressionAttributeValues: {
              ":claim": { ...claim },
              ":rolloutId": rolloutId,
              ":stage": claim.stage,
            },
          }),
        ),
      );
      return { claimed: true };
    } catch (error) {
      if (!isConditionFailed(error)) throw error;
    }
    const lock = readLock((await this.getStateItem(model))?.lock);
    return lock ? { claimed: false, lock } : { claimed: false };
  }

  async record(
    model: string,
    transition: Transition,
    changes: RecordChanges = {},
    options: RecordOptions = {},
  ): Promise<void> {
    const owned = options.owned === true || options.releaseLock === true;
    for (let attempt = 1; attempt <= RECORD_ATTEMPTS; attempt++) {
      const state = await this.getStateItem(model);
      if (owned && !mayWriteAs(readLock(state?.lock), transition.rolloutId, transition.stage)) {
        throw ownershipLost(model, transition, readLock(state?.lock));
      }
      const previous = typeof state?.transitionCount === "number" ? state.transitionCount : 0;
      const next = previous + 1;
      const update = stateUpdate(model, transition, changes, previous, owned, options.releaseLock === true);
      try {
        await this.call(`record ${transition.stage} for ${model}`, () =>
          this.client.send(
            new TransactWriteCommand({
              TransactItems: [
                { Update: { TableName: this.tableName, ...update } },
                {
                  Put: {
                    TableName: this.tableName,
                    Item: transitionItem(model, transition, next),
                    ConditionExpression: "attribute_not_exists(#pk)",
                    ExpressionAttributeNames: { "#pk": "pk" },
                  },
                },
                ...(options.announce ?? []).map((event, index) => ({
                  Put: { TableName: this.tableName, Item: outboxItem(model, transition, index, event) },
                })),
              ],
            }),
          ),
        );
        return;
      } catch (error) {
        // Another writer changed the record first, or the rollout lost the model meanwhile: the next read tells.
        if (!isLostRace(error)) throw error;
      }
    }
    throw new Transient(
      `Could not record ${transition.stage} for ${model}: other writers kept changing it.`,
      {
        hint: "Many transitions of this model are being recorded at once; the state machine retries.",
      },
    );
  }

  async pendingEvents(model: string, rolloutId: string): Promise<PendingEvent[]> {
    const { Items = [] } = await this.call(`read the events ${rolloutId} left to announce`, () =>
      this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: "#pk = :pk AND begins_with(#sk, :outbox)",
          ExpressionAttributeNames: { "#pk": "pk", "#sk": "sk" },
          ExpressionAttributeValues: {
            ":pk": modelKey(model).pk,
            ":outbox": `${OUTBOX_SK_PREFIX}${rolloutId}#`,
          },
          ConsistentRead: true,
        }),
      ),
    );
    return Items.map((item) => ({
      id: String(item.sk).slice(OUTBOX_SK_PREFIX.length),
      event: JSON.parse(String(item.event)) as ModelshipEvent,
    }));
  }

  async markAnnounced(model: string, ids: readonly string[]): Promise<void> {
    for (const id of ids) {
      await this.call(`forget the announced event ${id}`, () =>
        this.client.send(
          new DeleteCommand({
            TableName: this.tableName,
            Key: { pk: modelKey(model).pk, sk: `${OUTBOX_SK_PREFIX}${id}` },
          }),
        ),
      );
    }
  }

  async get(model: string): Promise<ModelRecord | undefined> {
    const state = await this.getStateItem(model);
    return state && this.toRecord(state);
  }

  async list(): Promise<ModelRecord[]> {
    const states: Item[] = [];
    let startKey: Item | undefined;
    do {
      const page = await this.call("list the models", () =>
        this.client.send(
          new ScanCommand({
            TableName: this.tableName,
            FilterExpression: "#sk = :state",
            ExpressionAttributeNames: { "#sk": "sk" },
            ExpressionAttributeValues: { ":state": STATE_SK },
            ExclusiveStartKey: startKey,
            ConsistentRead: true,
          }),
        ),
      );
      states.push(...(page.Items ?? []));
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    const records = await Promise.all(states.map((state) => this.toRecord(state)));
    return records.sort((a, b) => (a.model < b.model ? -1 : a.model > b.model ? 1 : 0));
  }

  async claimOnce(key: string): Promise<boolean> {
    const now = Math.floor(Date.now() / 1000);
    try {
      await this.call(`claim ${key}`, () =>
        this.client.send(
          new PutCommand({
            TableName: this.tableName,
            Item: { pk: `DEDUP#${key}`, sk: "DEDUP", ttl: now + CLAIM_TTL_SECONDS },
            // DynamoDB deletes expired items lazily (within days), so an expired claim counts as absent.
            ConditionExpression: "attribute_not_exists(#pk) OR #ttl < :now",
            ExpressionAttributeNames: { "#pk": "pk", "#ttl": "ttl" },
            ExpressionAttributeValues: { ":now": now },
          }),
        ),
      );
      return true;
    } catch (error) {
      if (isConditionFailed(error)) return false;
      throw error;
    }
  }

  async saveVersionResults(
    model: string,
    version: string,
    results: Readonly<Record<string, unknown>>,
  ): Promise<void> {
    await this.call(`save the results of ${model} ${version}`, () =>
      this.client.send(
        new PutCommand({
          TableName: this.tableName,
          // Kept as JSON text: any JSON value round-trips exactly, with no DynamoDB type mapping in between.
          Item: { ...versionKey(model, version), model, version, results: JSON.stringify(results) },
        }),
      ),
    );
  }

  async getVersionResults(
    model: string,
    version: string,
  ): Promise<Readonly<Record<string, unknown>> | undefined> {
    const { Item } = await this.call(`read the results of ${model} ${version}`, () =>
      this.client.send(
        new GetCommand({ TableName: this.tableName, Key: versionKey(model, version), ConsistentRead: true }),
      ),
    );
    return typeof Item?.results === "string"
      ? (JSON.parse(Item.results) as Record<string, unknown>)
      : undefined;
  }

  private async getStateItem(model: string): Promise<Item | undefined> {
    const { Item } = await this.call(`read ${model}`, () =>
      this.client.send(
        new GetCommand({ TableName: this.tableName, Key: modelKey(model), ConsistentRead: true }),
      ),
    );
    return Item;
  }

  private async toRecord(state: Item): Promise<ModelRecord> {
    const model = String(state.model);
    const { Items = [] } = await this.call(`read the history of ${model}`, () =>
      this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: "#pk = :pk AND begins_with(#sk, :tx)",
          ExpressionAttributeNames: { "#pk": "pk", "#sk": "sk" },
          ExpressionAttributeValues: { ":pk": modelKey(model).pk, ":tx": TRANSITION_SK_PREFIX },
          ScanIndexForward: false,
          Limit: HISTORY_RETURNED,
          ConsistentRead: true,
        }),
      ),
    );
    const lock = readLock(state.lock);
    const weights = readWeights(state.weights);
    return {
      model,
      ...(lock && { lock }),
      ...(typeof state.stableVersion === "string" && { stableVersion: state.stableVersion }),
      ...(typeof state.candidateVersion === "string" && { candidateVersion: state.candidateVersion }),
      ...(weights && { weights }),
      ...(typeof state.status === "string" && { status: state.status as RolloutStatus }),
      ...storedObjects(state),
      ...(typeof state.updatedAt === "string" && { updatedAt: state.updatedAt }),
      history: Items.map(readTransition).reverse(),
    };
  }

  /** Runs one DynamoDB call; throttling and server errors become `Transient`. */
  private async call<Output>(operation: string, send: () => Promise<Output>): Promise<Output> {
    try {
      return await send();
    } catch (error) {
      throw asTransientWhenPassing(error, `DynamoDB (${this.tableName}): ${operation}`);
    }
  }
}

function modelKey(model: string): { pk: string; sk: string } {
  return { pk: `MODEL#${model}`, sk: STATE_SK };
}

function versionKey(model: string, version: string): { pk: string; sk: string } {
  return { pk: `MODEL#${model}`, sk: `VERSION#${version}` };
}

/** The lock is `rolloutId`'s and no stage but `:stage` has claimed the rollout's end (mayWriteAs). */
const OWNERSHIP_CONDITION =
  "#lock.#rolloutId = :rolloutId AND (attribute_not_exists(#lock.#ending) OR #lock.#ending.#stage = :stage)";
const OWNERSHIP_NAMES = {
  "#lock": "lock",
  "#rolloutId": "rolloutId",
  "#ending": "ending",
  "#stage": "stage",
};

function outboxItem(model: string, transition: Transition, index: number, event: ModelshipEvent): Item {
  return {
    pk: `MODEL#${model}`,
    sk: `${OUTBOX_SK_PREFIX}${pendingEventId(transition, index)}`,
    // As JSON text, like version results: the event comes back exactly as it was written.
    event: JSON.stringify(event),
  };
}

function lockItem(holder: LockHolder): Item {
  return {
    rolloutId: holder.rolloutId,
    version: holder.version,
    since: holder.since,
    ...(holder.executionId !== undefined && { executionId: holder.executionId }),
  };
}

/** The state item's update for one transition: the changes, the timestamp, and the transition counter. */
function stateUpdate(
  model: string,
  transition: Transition,
  changes: RecordChanges,
  previousCount: number,
  owned: boolean,
  releaseLock: boolean,
) {
  const names: Record<string, string> = {
    "#model": "model",
    "#updatedAt": "updatedAt",
    "#transitionCount": "transitionCount",
  };
  const values: Record<string, unknown> = {
    ":model": model,
    ":at": transition.at,
    ":next": previousCount + 1,
  };
  const set = ["#model = :model", "#updatedAt = :at", "#transitionCount = :next"];
  const remove: string[] = [];
  for (const field of RECORD_FIELDS) {
    const value = changes[field];
    if (value === undefined) continue;
    names[`#${field}`] = field;
    if (value === null) {
      remove.push(`#${field}`);
    } else {
      set.push(`#${field} = :${field}`);
      values[`:${field}`] = value;
    }
  }
  if (releaseLock) {
    names["#lock"] = "lock";
    remove.push("#lock");
  }
  // The counter is the optimistic lock: a concurrent record() changes it and this write fails.
  let condition = "attribute_not_exists(#transitionCount)";
  if (previousCount > 0) {
    condition = "#transitionCount = :previous";
    values[":previous"] = previousCount;
  }
  if (owned) {
    condition = `${condition} AND ${OWNERSHIP_CONDITION}`;
    Object.assign(names, OWNERSHIP_NAMES);
    values[":rolloutId"] = transition.rolloutId;
    values[":stage"] = transition.stage;
  }
  return {
    Key: modelKey(model),
    UpdateExpression: `SET ${set.join(", ")}${remove.length ? ` REMOVE ${remove.join(", ")}` : ""}`,
    ConditionExpression: condition,
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: values,
  };
}

function transitionItem(model: string, transition: Transition, sequence: number): Item {
  return {
    pk: `MODEL#${model}`,
    sk: `${TRANSITION_SK_PREFIX}${transition.at}#${transition.rolloutId}#${String(sequence).padStart(10, "0")}`,
    model,
    at: transition.at,
    rolloutId: transition.rolloutId,
    version: transition.version,
    stage: transition.stage,
    status: transition.status,
    reason: transition.reason,
    ...(transition.weights && { weights: { ...transition.weights } }),
    ...(transition.hook && { hook: { ...transition.hook } }),
  };
}

function readTransition(item: Item): Transition {
  const weights = readWeights(item.weights);
  return {
    at: String(item.at),
    rolloutId: String(item.rolloutId),
    version: String(item.version),
    stage: String(item.stage),
    status: item.status as RolloutStatus,
    reason: String(item.reason),
    ...(weights && { weights }),
    ...(typeof item.hook === "object" && item.hook !== null ? { hook: item.hook as HookRun } : {}),
  };
}

function readLock(value: unknown): LockHolder | undefined {
  if (!value || typeof value !== "object") return undefined;
  const lock = value as Item;
  const ending = lock.ending as Item | undefined;
  return {
    rolloutId: String(lock.rolloutId),
    version: String(lock.version),
    since: String(lock.since),
    ...(typeof lock.executionId === "string" && { executionId: lock.executionId }),
    ...(ending &&
      typeof ending === "object" && { ending: { stage: String(ending.stage), at: String(ending.at) } }),
  };
}

function readWeights(value: unknown): { stable: number; candidate: number } | undefined {
  if (!value || typeof value !== "object") return undefined;
  const weights = value as Item;
  return { stable: Number(weights.stable), candidate: Number(weights.candidate) };
}

function errorName(error: unknown): unknown {
  return error && typeof error === "object" ? (error as { name?: unknown }).name : undefined;
}

function isConditionFailed(error: unknown): boolean {
  return errorName(error) === "ConditionalCheckFailedException";
}

/** A transaction cancelled because a condition failed: another writer got there first. */
function isLostRace(error: unknown): boolean {
  if (errorName(error) !== "TransactionCanceledException") return false;
  const reasons = (error as { CancellationReasons?: { Code?: string }[] }).CancellationReasons ?? [];
  return reasons.some((reason) => reason.Code === "ConditionalCheckFailed");
}

/** The fields get() reads one by one, checking their type; every other field of RECORD_FIELDS is a map or list. */
const SCALAR_FIELDS: ReadonlySet<string> = new Set([
  "stableVersion",
  "candidateVersion",
  "weights",
  "status",
]);

/**
 * The record's structured fields, stored as DynamoDB maps and lists as they were written: every field a
 * transition may change (RECORD_FIELDS) but the scalars, so a field added there is read back here too.
 */
function storedObjects(state: Record<string, unknown>): Partial<ModelRecord> {
  const fields = RECORD_FIELDS.filter((field) => !SCALAR_FIELDS.has(field));
  return Object.fromEntries(
    fields.filter((field) => state[field] !== undefined && state[field] !== null).map((f) => [f, state[f]]),
  ) as Partial<ModelRecord>;
}
