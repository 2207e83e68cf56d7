import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EventBridgeClient, PutEventsCommand } from "@aws-sdk/client-eventbridge";
import { mockClient } from "aws-sdk-client-mock";
import { hostname, userInfo } from "node:os";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { run as abort } from "../../lib/cli/abort";
import { run as promote } from "../../lib/cli/promote";
import { run as rollback } from "../../lib/cli/rollback";
import { type CommandEvent, handleCommand } from "../../lib/pipeline/commands";
import { canaryWorld } from "../support/canary-world";

const eventBridge = mockClient(EventBridgeClient);
const REQUESTER = `${userInfo().username}@${hostname()} (modelship CLI)`;
let out: string[];
let err: string[];

beforeEach(() => {
  eventBridge.reset();
  eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: "event-1" }] });
  out = [];
  err = [];
  vi.spyOn(console, "log").mockImplementation((line: unknown) => void out.push(String(line)));
  vi.spyOn(console, "error").mockImplementation((line: unknown) => void err.push(String(line)));
  vi.stubEnv("AWS_REGION", "eu-west-1");
  vi.stubEnv("MODELSHIP_BUS", "");
});
afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
});

const sentEntries = () =>
  eventBridge.commandCalls(PutEventsCommand).map((call) => call.args[0].input.Entries);

describe("modelship rollback | promote | abort", () => {
  it("puts one Rollback Requested event on the pipeline's bus, from the CLI's source, with the model, the reason and who asked", async () => {
    vi.stubEnv("MODELSHIP_BUS", "modelship");
    expect(await rollback(["llama-3-8b", "--reason", "p95 latency regressed in eu-west-1"])).toBe(0);
    expect(sentEntries()).toEqual([
      [
        {
          EventBusName: "modelship",
          Source: "modelship.cli",
          DetailType: "Rollback Requested",
          Detail: JSON.stringify({
            model: "llama-3-8b",
            reason: "p95 latency regressed in eu-west-1",
            requestedBy: REQUESTER,
          }),
        },
      ],
    ]);
    expect(out.join("\n")).toContain(
      '"Rollback Requested" for llama-3-8b sent to bus modelship (event event-1)',
    );
    expect(out.join("\n")).toContain("modelship status llama-3-8b");
  });

  it("sends Promote Requested and Abort Requested the same way, to the bus --bus or MODELSHIP_BUS names", async () => {
    vi.stubEnv("MODELSHIP_BUS", "platform-bus");
    expect(await promote(["llama-3-8b"])).toBe(0);
    expect(
      await abort(["llama-3-8b", "--bus", "arn:aws:events:eu-west-1:123456789012:event-bus/other"]),
    ).toBe(0);
    expect(sentEntries()).toEqual([
      [
        {
          EventBusName: "platform-bus",
          Source: "modelship.cli",
          DetailType: "Promote Requested",
          Detail: JSON.stringify({ model: "llama-3-8b", requestedBy: REQUESTER }),
        },
      ],
      [
        {
          EventBusName: "arn:aws:events:eu-west-1:123456789012:event-bus/other",
          Source: "modelship.cli",
          DetailType: "Abort Requested",
          Detail: JSON.stringify({ model: "llama-3-8b", requestedBy: REQUESTER }),
        },
      ],
    ]);
  });

  it("sends what the Command function reads: the detail passes its checks and names the model", async () => {
    vi.stubEnv("MODELSHIP_BUS", "modelship");
    await rollback(["llama", "--reason", "bad answers"]);
    await promote(["llama"]);
    const world = canaryWorld();
    const outcomes = [];
    for (const [entry] of sentEntries().map((entries) => entries ?? [])) {
      const event = { "detail-type": entry?.DetailType, detail: JSON.parse(entry?.Detail ?? "{}") };
      outcomes.push(await handleCommand(event as CommandEvent, world));
    }
    expect(outcomes.map((o) => [o.status, o.message])).toEqual([
      ["nothing to do", "No rollout of llama is running: a rollback has nothing to do."],
      ["refused", "No rollout of llama is running: there is no canary to promote."],
    ]);
  });

  it("refuses a name that is not a model name, and an empty or too long reason, sending nothing", async () => {
    expect(await rollback(["Llama_3", "--reason", ""])).toBe(1);
    expect(err.join("\n")).toContain("'Llama_3' is not a model name");
    expect(err.join("\n")).toContain("--reason is empty");
    expect(await rollback(["llama", "--reason", "x".repeat(1001)])).toBe(1);
    expect(err.join("\n")).toContain("--reason has 1001 characters; the Command function takes at most 1000");
    expect(eventBridge.calls()).toHaveLength(0);
  });

  it("is a usage error without a model, with two, or with an unknown option", async () => {
    expect(await rollback([])).toBe(2);
    expect(err.join("\n")).toContain("modelship rollback: name the model.");
    expect(await promote(["a", "b"])).toBe(2);
    expect(await abort(["llama", "--force"])).toBe(2);
    expect(err.join("\n")).toContain("Usage: modelship abort <model>");
    expect(eventBridge.calls()).toHaveLength(0);
  });

  it("with --local and no control plane running for the home, says how to start one and sends nothing", async () => {
    const home = await mkdtemp(join(tmpdir(), "modelship-no-control-plane-"));
    try {
      expect(await rollback(["llama", "--local", "--home", home])).toBe(1);
    } finally {
      await rm(home, { recursive: true, force: true });
    }
    expect(err.join("\n")).toContain(`No local control plane is running for ${home}`);
    expect(err.join("\n")).toContain(`Start it with \`modelship local --home ${home}\`.`);
    expect(eventBridge.calls()).toHaveLength(0);
  });

  it("refuses to guess the bus: the stack names it, so it must be named", async () => {
    expect(await rollback(["llama"])).toBe(1);
    expect(err.join("\n")).toContain("name the pipeline's event bus: --bus NAME or MODELSHIP_BUS");
    expect(eventBridge.calls()).toHaveLength(0);
  });

  it("fails when EventBridge refuses the entry or the call, saying why and what to check", async () => {
    vi.stubEnv("MODELSHIP_BUS", "modelship");
    eventBridge.on(PutEventsCommand).resolves({
      FailedEntryCount: 1,
      Entries: [{ ErrorCode: "AccessDeniedException", ErrorMessage: "not authorized to put events" }],
    });
    expect(await rollback(["llama"])).toBe(1);
    expect(err.join("\n")).toContain(
      'EventBridge refused "Rollback Requested" for llama on bus modelship: AccessDeniedException (not authorized to put events).',
    );
    eventBridge.on(PutEventsCommand).rejects(
      Object.assign(new Error("Event bus modelship does not exist."), {
        name: "ResourceNotFoundException",
      }),
    );
    expect(await abort(["llama"])).toBe(1);
    expect(err.join("\n")).toContain(
      '"Abort Requested" for llama was not sent to bus modelship: Event bus modelship does not exist.',
    );
    expect(err.join("\n")).toContain("describe-stacks --stack-name Modelship");
  });
});
