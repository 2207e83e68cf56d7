// The MCP server on AWS, through the SDK's client over an in-memory transport: the tools read the rollout
// table and put commands on the bus as the CLI does (the agent named as who asked), and what cannot be done on
// AWS — a command without the bus, reports without the bucket, the events, a folder rollout — is an error
// result saying why and what to use instead.

import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { EventBridgeClient, PutEventsCommand } from "@aws-sdk/client-eventbridge";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { DynamoRolloutStore } from "../../lib/aws/dynamodb-rollout-store";
import { AwsOperations, type AwsOperationsOptions } from "../../lib/mcp/operations";
import { createModelshipMcpServer } from "../../lib/mcp/server";
import { DynamoTableDouble } from "./adapters/dynamodb-table-double";

const eventBridge = mockClient(EventBridgeClient);
const dynamo = mockClient(DynamoDBDocumentClient);
const TABLE = "rollouts";

beforeEach(async () => {
  vi.stubEnv("AWS_REGION", "eu-west-1");
  eventBridge.reset();
  eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: "event-7" }] });
  dynamo.reset();
  new DynamoTableDouble(TABLE).answer(dynamo);
  const store = new DynamoRolloutStore({
    tableName: TABLE,
    client: DynamoDBDocumentClient.from(new DynamoDBClient({ region: "eu-west-1" })),
  });
  await store.record("llama", {
    at: "2026-12-01T12:00:00.000Z",
    rolloutId: "llama-v3-0a1b2c3d",
    version: "v3",
    stage: "Finalize",
    status: "promoted",
    reason: "v3 serves 100%.",
  });
});

afterEach(() => {
  vi.unstubAllEnvs();
});

async function connect(options: Partial<AwsOperationsOptions> = {}) {
  const server = createModelshipMcpServer({
    operations: new AwsOperations({ table: TABLE, ...options }),
    version: "0.0.0-test",
  });
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await server.connect(serverSide);
  const client = new Client({ name: "ops-agent", version: "2.0.0" });
  await client.connect(clientSide);
  return async (name: string, args: Record<string, unknown>) => {
    const result = (await client.callTool({ name, arguments: args })) as CallToolResult;
    return {
      isError: result.isError ?? false,
      text: result.content.map((c) => (c.type === "text" ? c.text : "")).join("\n"),
    };
  };
}

describe("modelship mcp on AWS", () => {
  it("lists the models of the rollout table", async () => {
    const call = await connect();
    const listed = await call("list_models", {});
    expect(listed).toEqual({
      isError: false,
      text: expect.stringMatching(
        /^llama: no stable version; no rollout — last Finalize at 2026-12-01T12:00:00.000Z$/,
      ),
    });
  });

  it("puts a rollback on the pipeline's bus as the CLI does, naming the agent as who asked", async () => {
    const call = await connect({ bus: "modelship-bus" });
    const answer = await call("rollback", { model: "llama", reason: "p95 doubled in eu-west-1" });
    expect(answer.isError).toBe(false);
    expect(answer.text).toContain(
      '"Rollback Requested" for llama was put on bus modelship-bus (event event-7)',
    );
    const [entry] = eventBridge.commandCalls(PutEventsCommand)[0]?.args[0].input.Entries ?? [];
    expect(entry).toMatchObject({
      EventBusName: "modelship-bus",
      Source: "modelship.cli",
      DetailType: "Rollback Requested",
    });
    expect(JSON.parse(entry?.Detail ?? "{}")).toEqual({
      model: "llama",
      reason: "p95 doubled in eu-west-1",
      requestedBy: "ops-agent (modelship mcp)",
    });
  });

  it("refuses a command for a model the table does not know, naming the ones it does, and sends nothing", async () => {
    const call = await connect({ bus: "modelship-bus" });
    const answer = await call("abort", { model: "lama", reason: "typo in an incident" });
    expect(answer.isError).toBe(true);
    expect(answer.text).toContain("did you mean llama?");
    expect(eventBridge.commandCalls(PutEventsCommand)).toHaveLength(0);
  });

  it("says what to start it with when a tool needs the bus or the bucket, and what AWS keeps of events", async () => {
    const call = await connect();
    expect(await call("promote", { model: "llama", reason: "ship it now" })).toEqual({
      isError: true,
      text: expect.stringContaining("start it with --bus"),
    });
    expect(await call("compare_versions", { model: "llama", versions: ["v2", "v3"] })).toEqual({
      isError: true,
      text: expect.stringContaining("start it with --bucket"),
    });
    expect(await call("run_rollout", { folder: "/tmp/x", reason: "try it" })).toEqual({
      isError: true,
      text: expect.stringContaining("On AWS a rollout starts with an upload"),
    });
  });
});
