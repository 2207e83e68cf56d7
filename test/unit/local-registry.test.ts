// LocalRegistry: the SageMaker Model Registry's lifecycle in `<home>/registry.json` — a group per model, one
// numbered entry per rollout, PendingManualApproval → Approved or Rejected with the reason and when.

import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalRegistry } from "../../lib/local/local-registry";
import type { RegistryEntry } from "../../lib/ports";

let work: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "modelship-registry-"));
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

function entry(version: string, rolloutId = `chat-${version}-0000000a`): RegistryEntry {
  return {
    model: "chat",
    version,
    rolloutId,
    artifactUri: `/bucket/models/chat/${version}/`,
    reportUris: { validation: `/bucket/reports/chat/${version}/${rolloutId}/validation.json` },
    metadata: { smoke: "passed 3 prompts" },
  };
}

async function registry(now = () => new Date("2026-03-01T12:00:00.000Z")) {
  const home = await mkdtemp(join(work, "home-"));
  return { home, registry: new LocalRegistry({ home, now }) };
}

async function fileOf(home: string) {
  return JSON.parse(await readFile(join(home, "registry.json"), "utf8"));
}

describe("LocalRegistry", () => {
  it("creates the model's group with its first version, pending approval", async () => {
    const { home, registry: reg } = await registry();
    expect(await reg.register(entry("v1"))).toEqual({ id: "chat/1" });
    expect(await reg.getStatus("chat", "v1")).toBe("PendingManualApproval");
    expect(await fileOf(home)).toEqual({
      format: "modelship-registry/1",
      groups: {
        chat: {
          createdAt: "2026-03-01T12:00:00.000Z",
          entries: [
            {
              ...entry("v1"),
              id: "chat/1",
              packageVersion: 1,
              createdAt: "2026-03-01T12:00:00.000Z",
              status: "PendingManualApproval",
              statusHistory: [
                {
                  status: "PendingManualApproval",
                  reason: "Registered by rollout chat-v1-0000000a.",
                  at: "2026-03-01T12:00:00.000Z",
                },
              ],
            },
          ],
        },
      },
    });
  });

  it("is idempotent per rollout, and numbers each new rollout's entry", async () => {
    const { registry: reg } = await registry();
    expect(await reg.register(entry("v1"))).toEqual({ id: "chat/1" });
    expect(await reg.register(entry("v1"))).toEqual({ id: "chat/1" });
    expect(await reg.register(entry("v2"))).toEqual({ id: "chat/2" });
    // The same version rolled out again is a new entry, pending again.
    await reg.setStatus("chat", "v2", "Rejected", "rolled back");
    expect(await reg.register(entry("v2", "chat-v2-0000000b"))).toEqual({ id: "chat/3" });
    expect(await reg.getStatus("chat", "v2")).toBe("PendingManualApproval");
  });

  it("moves an entry to Approved or Rejected with the reason and when", async () => {
    let now = new Date("2026-03-01T12:00:00.000Z");
    const { home, registry: reg } = await registry(() => now);
    await reg.register(entry("v1"));
    await reg.register(entry("v2"));
    now = new Date("2026-03-01T12:30:00.000Z");
    await reg.setStatus("chat", "v1", "Approved", "Promoted to 100% after 4 canary steps.");
    await reg.setStatus("chat", "v2", "Rejected", "Rolled back: p95 latency 2600 ms > 2000 ms.");
    expect(await reg.getStatus("chat", "v1")).toBe("Approved");
    expect(await reg.getStatus("chat", "v2")).toBe("Rejected");
    const [v1, v2] = (await fileOf(home)).groups.chat.entries;
    expect(v1.statusHistory.at(-1)).toEqual({
      status: "Approved",
      reason: "Promoted to 100% after 4 canary steps.",
      at: "2026-03-01T12:30:00.000Z",
    });
    expect(v2.statusHistory.at(-1)).toMatchObject({
      status: "Rejected",
      reason: expect.stringContaining("2600 ms"),
    });
  });

  it("keeps the first reason when a retried stage sets the same status again", async () => {
    const { home, registry: reg } = await registry();
    await reg.register(entry("v1"));
    await reg.setStatus("chat", "v1", "Rejected", "the first reason");
    await reg.setStatus("chat", "v1", "Rejected", "a retry's reason");
    const [v1] = (await fileOf(home)).groups.chat.entries;
    expect(v1.statusHistory.map((h: { reason: string }) => h.reason)).toEqual([
      "Registered by rollout chat-v1-0000000a.",
      "the first reason",
    ]);
  });

  it("gives a status a person set by editing the file its history entry when modelship sets the same status", async () => {
    const { home, registry: reg } = await registry();
    await reg.register(entry("v1"));
    const file = await fileOf(home);
    file.groups.chat.entries[0].status = "Rejected";
    await writeFile(join(home, "registry.json"), JSON.stringify(file));
    await reg.setStatus("chat", "v1", "Rejected", "Rolled back: rejected in registry.json.");
    const [v1] = (await fileOf(home)).groups.chat.entries;
    expect(v1.statusHistory.map((h: { status: string; reason: string }) => [h.status, h.reason])).toEqual([
      ["PendingManualApproval", "Registered by rollout chat-v1-0000000a."],
      ["Rejected", "Rolled back: rejected in registry.json."],
    ]);
  });

  it("refuses a status for a version never registered, and knows no status for it", async () => {
    const { registry: reg } = await registry();
    await expect(reg.setStatus("chat", "v9", "Approved", "x")).rejects.toThrow(
      "The local registry has no chat v9",
    );
    expect(await reg.getStatus("chat", "v9")).toBeUndefined();
    expect(await reg.getStatus("other", "v1")).toBeUndefined();
  });

  it("keeps what it holds across instances (a restarted control plane), and numbers concurrent rollouts apart", async () => {
    const { home, registry: reg } = await registry();
    await Promise.all([reg.register(entry("v1")), reg.register(entry("v2")), reg.register(entry("v3"))]);
    const again = new LocalRegistry({ home });
    expect(await again.getStatus("chat", "v2")).toBe("PendingManualApproval");
    const ids = (await fileOf(home)).groups.chat.entries.map((e: { id: string }) => e.id).sort();
    expect(ids).toEqual(["chat/1", "chat/2", "chat/3"]);
  });

  it("refuses a registry.json that is not its own and leaves it as it is", async () => {
    const home = await mkdtemp(join(work, "home-"));
    const foreign = JSON.stringify({
      format: "modelship-registry/1",
      groups: { chat: { entries: [{ version: 1 }] } },
    });
    await writeFile(join(home, "registry.json"), foreign);
    const reg = new LocalRegistry({ home });
    await expect(reg.register(entry("v1"))).rejects.toThrow(
      "groups.chat.entries[0] should have version, rolloutId",
    );
    await expect(reg.getStatus("chat", "v1")).rejects.toThrow("will not overwrite it");
    expect(await readFile(join(home, "registry.json"), "utf8")).toBe(foreign);
  });
});
