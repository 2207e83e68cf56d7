import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import {
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  ScanCommand,
  TransactWriteCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DynamoRolloutStore } from "../../../lib/aws/dynamodb-rollout-store";
import { DynamoTableDouble } from "./dynamodb-table-double";
import { describeRolloutStoreContract } from "./rollout-store-contract";

const TABLE = "modelship-rollouts";
const documentClient = DynamoDBDocumentClient.from(new DynamoDBClient({ region: "us-east-1" }));
const dynamo = mockClient(DynamoDBDocumentClient);

describeRolloutStoreContract("DynamoRolloutStore", async () => {
  dynamo.reset();
  new DynamoTableDouble(TABLE).answer(dynamo);
  return new DynamoRolloutStore({ tableName: TABLE, client: documentClient });
});

describe("DynamoRolloutStore", () => {
  let table: DynamoTableDouble;
  let store: DynamoRolloutStore;
  const holder = { rolloutId: "llama-v2-0a1b2c3d", version: "v2", since: "2025-01-01T10:00:00.000Z" };
  const transition = {
    at: "2025-01-01T10:00:00.000Z",
    rolloutId: holder.rolloutId,
    version: "v2",
    stage: "Prepare",
    status: "running",
    reason: "Rollout of llama v2 started.",
  } as const;

  beforeEach(() => {
    dynamo.reset();
    table = new DynamoTableDouble(TABLE);
    table.answer(dynamo);
    store = new DynamoRolloutStore({ tableName: TABLE, client: documentClient });
  });
  afterEach(() => dynamo.reset());

  it("takes the lock with one conditional update on the model's state item", async () => {
    await store.acquireLock("llama", holder);
    expect(dynamo.commandCalls(UpdateCommand)[0]?.args[0].input).toEqual({
      TableName: TABLE,
      Key: { pk: "MODEL#llama", sk: "STATE" },
      UpdateExpression: "SET #lock = if_not_exists(#lock, :holder), #model = :model",
      ConditionExpression: "attribute_not_exists(#lock) OR #lock.#rolloutId = :rolloutId",
      ExpressionAttributeNames: { "#lock": "lock", "#model": "model", "#rolloutId": "rolloutId" },
      ExpressionAttributeValues: { ":holder": holder, ":model": "llama", ":rolloutId": holder.rolloutId },
    });
  });

  it("releases the lock only on the condition that this rollout holds it", async () => {
    await store.releaseLock("llama", holder.rolloutId);
    expect(dynamo.commandCalls(UpdateCommand)[0]?.args[0].input).toMatchObject({
      Key: { pk: "MODEL#llama", sk: "STATE" },
      UpdateExpression: "REMOVE #lock",
      ConditionExpression: "#lock.#rolloutId = :rolloutId",
      ExpressionAttributeValues: { ":rolloutId": holder.rolloutId },
    });
    expect(table.all()).toEqual([]);
  });

  it("writes a transition and the state change in one transaction, the transition as its own item", async () => {
    await store.record("llama", transition, {
      candidateVersion: "v2",
      stableVersion: null,
      status: "running",
    });
    const [update, put] = dynamo.commandCalls(TransactWriteCommand)[0]?.args[0].input.TransactItems ?? [];
    expect(update?.Update).toMatchObject({
      TableName: TABLE,
      Key: { pk: "MODEL#llama", sk: "STATE" },
      UpdateExpression:
        "SET #model = :model, #updatedAt = :at, #transitionCount = :next, #candidateVersion = :candidateVersion, #status = :status REMOVE #stableVersion",
      ConditionExpression: "attribute_not_exists(#transitionCount)",
    });
    expect(put?.Put).toMatchObject({
      TableName: TABLE,
      Item: { pk: "MODEL#llama", sk: `TX#${transition.at}#${holder.rolloutId}#0000000001`, ...transition },
      ConditionExpression: "attribute_not_exists(#pk)",
    });
    await store.record("llama", transition);
    const second = dynamo.commandCalls(TransactWriteCommand)[1]?.args[0].input.TransactItems?.[0]?.Update;
    expect(second).toMatchObject({
      ConditionExpression: "#transitionCount = :previous",
      ExpressionAttributeValues: { ":previous": 1, ":next": 2 },
    });
  });

  it("reads the newest transitions with one descending, limited query", async () => {
    await store.record("llama", transition);
    await store.get("llama");
    expect(dynamo.commandCalls(QueryCommand)[0]?.args[0].input).toEqual({
      TableName: TABLE,
      KeyConditionExpression: "#pk = :pk AND begins_with(#sk, :tx)",
      ExpressionAttributeNames: { "#pk": "pk", "#sk": "sk" },
      ExpressionAttributeValues: { ":pk": "MODEL#llama", ":tx": "TX#" },
      ScanIndexForward: false,
      Limit: 50,
      ConsistentRead: true,
    });
  });

  it("retries a record that lost a race with another writer, and loses neither transition", async () => {
    await store.record("llama", transition);
    const rival = new DynamoRolloutStore({ tableName: TABLE, client: documentClient });
    // The rival records between this store's read of the counter and its transaction.
    let raced = false;
    dynamo.on(GetCommand).callsFake(async (input: GetCommand["input"]) => {
      const answer = table.all().find((i) => i.pk === input.Key?.pk && i.sk === input.Key?.sk);
      if (!raced && input.Key?.sk === "STATE") {
        raced = true;
        await rival.record("llama", { ...transition, stage: "Rival" });
      }
      return { Item: answer };
    });
    await store.record("llama", { ...transition, stage: "Validate" });
    dynamo.reset();
    table.answer(dynamo);
    expect((await store.get("llama"))?.history.map((t) => t.stage)).toEqual(["Prepare", "Rival", "Validate"]);
  });

  it("claims a key with a conditional put that expires through the ttl attribute", async () => {
    const before = Math.floor(Date.now() / 1000);
    await store.claimOnce("s3://bucket/models/llama/v2/modelship.yaml#v1");
    const input = dynamo.commandCalls(PutCommand)[0]?.args[0].input;
    expect(input).toMatchObject({
      TableName: TABLE,
      Item: { pk: "DEDUP#s3://bucket/models/llama/v2/modelship.yaml#v1", sk: "DEDUP" },
      ConditionExpression: "attribute_not_exists(#pk) OR #ttl < :now",
      ExpressionAttributeNames: { "#pk": "pk", "#ttl": "ttl" },
    });
    expect(input?.Item?.ttl).toBeGreaterThanOrEqual(before + 7 * 24 * 3600);
  });

  it("claims a key again once its claim has expired, even before DynamoDB deletes the item", async () => {
    table.seed({ pk: "DEDUP#k", sk: "DEDUP", ttl: Math.floor(Date.now() / 1000) - 60 });
    expect(await store.claimOnce("k")).toBe(true);
    expect(await store.claimOnce("k")).toBe(false);
  });

  it("keeps a version's results under the model, apart from its history", async () => {
    await store.saveVersionResults("llama", "v2", { stress: { ttftP95Ms: 300 } });
    expect(table.all()).toEqual([
      {
        pk: "MODEL#llama",
        sk: "VERSION#v2",
        model: "llama",
        version: "v2",
        results: JSON.stringify({ stress: { ttftP95Ms: 300 } }),
      },
    ]);
  });

  it("lists models across every page of the scan", async () => {
    for (const model of ["a", "b", "c", "d", "e"]) await store.record(model, transition);
    expect((await store.list()).map((r) => r.model)).toEqual(["a", "b", "c", "d", "e"]);
    expect(dynamo.commandCalls(ScanCommand).length).toBeGreaterThan(2);
  });

  it("turns throttling into Transient, so the state machine retries", async () => {
    dynamo.on(UpdateCommand).rejects(
      Object.assign(new Error("Rate of requests exceeds the allowed throughput."), {
        name: "ProvisionedThroughputExceededException",
        $metadata: { httpStatusCode: 400 },
      }),
    );
    await expect(store.acquireLock("llama", holder)).rejects.toMatchObject({
      name: "Transient",
      message: expect.stringContaining(`DynamoDB (${TABLE}): take the lock of llama failed`),
    });
  });

  it("lets a validation error through as it is", async () => {
    dynamo.on(GetCommand).rejects(
      Object.assign(new Error("Requested resource not found"), {
        name: "ResourceNotFoundException",
        $metadata: { httpStatusCode: 400 },
      }),
    );
    await expect(store.get("llama")).rejects.toMatchObject({ name: "ResourceNotFoundException" });
  });
});
