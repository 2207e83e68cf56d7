import { beforeEach, describe, expect, it } from "vitest";
import { type ObjectCreatedEvent, type StartEvent, start } from "../../lib/pipeline/start";
import { FixedClock } from "../support/fixed-clock";
import { MemoryEvents } from "../support/memory-events";
import { RecordingExecutions } from "../support/recording-executions";

function objectCreated(
  key: string,
  object: Partial<ObjectCreatedEvent["detail"]["object"]> = {},
): ObjectCreatedEvent {
  return {
    "detail-type": "Object Created",
    detail: {
      bucket: { name: "models-bucket" },
      object: {
        key,
        etag: "9b2cf535f27731c974343645a3985328",
        "version-id": "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY",
        size: 812,
        ...object,
      },
    },
  };
}

describe("Start", () => {
  let executions: RecordingExecutions;
  let events: MemoryEvents;
  let deps: {
    executions: RecordingExecutions;
    events: MemoryEvents;
    clock: FixedClock;
    objects: { bucket: string };
  };

  beforeEach(() => {
    executions = new RecordingExecutions();
    events = new MemoryEvents();
    deps = { executions, events, clock: new FixedClock(), objects: { bucket: "models-bucket" } };
  });

  describe("an uploaded manifest", () => {
    it("starts one execution named <model>-<version>-<hash>, with the rollout's source and execution id as input", async () => {
      const outcome = await start(objectCreated("models/llama/v3/modelship.yaml"), deps);
      expect(outcome.status).toBe("started");
      expect(executions.started).toHaveLength(1);
      const [execution] = executions.started;
      expect(execution?.name).toMatch(/^llama-v3-[0-9a-f]{8}$/);
      expect(execution?.input).toEqual({
        rollout: {
          id: execution?.name,
          model: "llama",
          version: "v3",
          executionId: `arn:aws:states:eu-west-1:123456789012:execution:modelship-pipeline:${execution?.name}`,
          source: {
            bucket: "models-bucket",
            key: "models/llama/v3/modelship.yaml",
            prefix: "models/llama/v3/",
            etag: "9b2cf535f27731c974343645a3985328",
            versionId: "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY",
          },
        },
      });
      expect(outcome).toMatchObject({
        executionName: execution?.name,
        executionId: execution?.input.rollout.executionId,
      });
      expect(events.emitted).toEqual([]);
    });

    it("decodes a URL-encoded key before reading it", async () => {
      await start(objectCreated("models%2Fllama%2Fv3.1%2Fmodelship.yml"), deps);
      expect(executions.started[0]?.input.rollout).toMatchObject({
        version: "v3.1",
        source: { key: "models/llama/v3.1/modelship.yml" },
      });
    });

    it("treats the same upload delivered twice as one rollout, and says it was a duplicate", async () => {
      const first = await start(objectCreated("models/llama/v3/modelship.yaml"), deps);
      deps.clock.advance(30);
      const second = await start(objectCreated("models/llama/v3/modelship.yaml"), deps);
      expect(second.status).toBe("duplicate");
      expect(second).toMatchObject({ executionName: (first as { executionName: string }).executionName });
      expect(executions.started).toHaveLength(1);
    });

    it("gives the same execution input for a repeat delivery, as Step Functions needs to see the same execution", async () => {
      const first = await start(objectCreated("models/llama/v3/modelship.yaml"), deps);
      deps.clock.advance(3600);
      const second = await start(objectCreated("models/llama/v3/modelship.yaml"), deps);
      expect(second).toMatchObject({ input: (first as { input: unknown }).input });
    });

    it("starts a new rollout for a new upload of the same key", async () => {
      await start(objectCreated("models/llama/v3/modelship.yaml", { "version-id": "version-1" }), deps);
      const again = await start(
        objectCreated("models/llama/v3/modelship.yaml", { "version-id": "version-2" }),
        deps,
      );
      expect(again.status).toBe("started");
      expect(new Set(executions.started.map((s) => s.name)).size).toBe(2);
    });

    it("tells uploads apart by ETag in a bucket without versioning", async () => {
      const unversioned = (etag: string) => {
        const event = objectCreated("models/llama/v3/modelship.yaml", { etag });
        const { "version-id": _versionId, ...object } = event.detail.object;
        return { ...event, detail: { ...event.detail, object } };
      };
      await start(unversioned("etag-a"), deps);
      expect((await start(unversioned("etag-a"), deps)).status).toBe("duplicate");
      expect((await start(unversioned("etag-b"), deps)).status).toBe("started");
    });
  });

  describe("a key of the wrong shape", () => {
    it("starts nothing and emits Rollout Rejected with the error, reason and hint", async () => {
      const outcome = await start(objectCreated("models/Llama/v3/modelship.yaml"), deps);
      expect(outcome.status).toBe("rejected");
      expect(executions.started).toEqual([]);
      expect(events.emitted).toHaveLength(1);
      const [event] = events.emitted;
      expect(event).toMatchObject({
        detailType: "Rollout Rejected",
        time: "2025-06-01T12:00:00.000Z",
        detail: {
          model: "Llama",
          version: "v3",
          rolloutId: "",
          executionArn: "",
          stage: "Start",
          error: "InvalidKey",
          hint: "Upload again under a valid key: name the folder 'llama'.",
          data: { bucket: "models-bucket", key: "models/Llama/v3/modelship.yaml" },
        },
      });
      expect(event?.detail.reason).toContain("model name 'Llama' is not valid");
    });

    it("rejects a manifest nested deeper than models/<name>/<version>/", async () => {
      const outcome = await start(objectCreated("models/llama/v3/extra/modelship.yaml"), deps);
      expect(outcome).toMatchObject({ status: "rejected", findings: [{ code: "key.shape" }] });
      expect(events.ofType("Rollout Rejected")).toHaveLength(1);
    });

    it("rejects a key whose escapes are malformed, without throwing", async () => {
      const outcome = await start(objectCreated("models/llama/v%E0%A4%A/modelship.yaml"), deps);
      expect(outcome.status).toBe("rejected");
      expect(executions.started).toEqual([]);
    });
  });

  describe("a malformed event", () => {
    it("rejects an Object Created event with neither ETag nor version id, naming the field", async () => {
      const event = {
        "detail-type": "Object Created",
        detail: { bucket: { name: "b" }, object: { key: "models/llama/v3/modelship.yaml" } },
      } as ObjectCreatedEvent;
      const outcome = await start(event, deps);
      expect(outcome).toMatchObject({ status: "rejected", findings: [{ path: "detail.object" }] });
      expect(events.emitted[0]?.detail).toMatchObject({ error: "InvalidEvent", model: "", version: "" });
    });

    it("rejects an event that is neither an upload nor a rollout request", async () => {
      const outcome = await start(
        { "detail-type": "Object Deleted", detail: {} } as unknown as StartEvent,
        deps,
      );
      expect(outcome).toMatchObject({
        status: "rejected",
        findings: [
          {
            message:
              "expected an 'Object Created' event or a 'Rollout Requested' command, found 'Object Deleted'.",
          },
        ],
      });
    });
  });

  describe("a Rollout Requested command", () => {
    const requested = (requestId?: string, id?: string): StartEvent => ({
      "detail-type": "Rollout Requested",
      ...(id === undefined ? {} : { id }),
      detail: {
        bucket: "models-bucket",
        key: "models/llama/v3/modelship.json",
        ...(requestId === undefined ? {} : { requestId }),
      },
    });

    it("starts the rollout of a manifest already in the bucket", async () => {
      const outcome = await start(requested("req-1"), deps);
      expect(outcome.status).toBe("started");
      expect(executions.started[0]?.input.rollout).toMatchObject({
        model: "llama",
        version: "v3",
        source: {
          bucket: "models-bucket",
          key: "models/llama/v3/modelship.json",
          prefix: "models/llama/v3/",
        },
      });
    });

    it("is one rollout when the same request arrives twice, and another for a new request", async () => {
      await start(requested("req-1"), deps);
      expect((await start(requested("req-1"), deps)).status).toBe("duplicate");
      expect((await start(requested("req-2"), deps)).status).toBe("started");
    });

    it("falls back to the EventBridge event id to recognise a redelivery", async () => {
      await start(requested(undefined, "event-1"), deps);
      expect((await start(requested(undefined, "event-1"), deps)).status).toBe("duplicate");
    });

    it("is refused without a request id or event id, saying what to send", async () => {
      const outcome = await start(requested(), deps);
      expect(outcome).toMatchObject({ status: "rejected", findings: [{ path: "detail.requestId" }] });
      expect(executions.started).toEqual([]);
    });

    it("is refused for a bucket other than the pipeline's, starting nothing and saying which bucket to use", async () => {
      const outcome = await start(
        {
          "detail-type": "Rollout Requested",
          detail: { bucket: "unvalidated-weights", key: "models/llama/v3/modelship.json", requestId: "r" },
        },
        deps,
      );
      expect(outcome).toMatchObject({
        status: "rejected",
        findings: [{ code: "start-event.bucket", path: "detail.bucket" }],
      });
      expect(executions.started).toEqual([]);
      expect(events.emitted[0]).toMatchObject({
        detailType: "Rollout Rejected",
        detail: { model: "llama", version: "v3", error: "InvalidEvent" },
      });
      expect(events.emitted[0]?.detail.reason).toBe(
        "Nothing was started: expected this pipeline's bucket 'models-bucket', found 'unvalidated-weights': modelship rolls out only models in its own bucket, where Validate checks them and candidates load them from.",
      );
    });

    it("is refused for a key of the wrong shape, like an upload", async () => {
      const outcome = await start(
        {
          "detail-type": "Rollout Requested",
          detail: { bucket: "models-bucket", key: "llama/v3/modelship.yaml", requestId: "r" },
        },
        deps,
      );
      expect(outcome.status).toBe("rejected");
      expect(events.emitted[0]?.detail.error).toBe("InvalidKey");
    });
  });
});
