// The local registry's approval button on real files: which edits of `<home>/registry.json` the RegistryWatcher
// hands on as a person's Approved / Rejected, which it ignores (modelship's own status changes, other statuses,
// the statuses there when watching starts), and a malformed edit reported once without losing a later answer.
// Checks are driven with checkNow() (the poll interval is an hour); one test lets fs.watch find the edit alone.

import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { LocalRegistry, parseRegistry } from "../../lib/local/local-registry";
import {
  registryChangeEvent,
  registryEdits,
  type RegistryEdit,
  registryStatuses,
  RegistryWatcher,
} from "../../lib/local/registry-watcher";

const AN_HOUR_MS = 3_600_000;

let home: string;
let registry: LocalRegistry;
let edits: RegistryEdit[];
let logged: string[];
let watcher: RegistryWatcher | undefined;

beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), "modelship-registry-watcher-"));
  registry = new LocalRegistry({ home });
  edits = [];
  logged = [];
});

afterEach(async () => {
  await watcher?.close();
  watcher = undefined;
  await rm(home, { recursive: true, force: true });
});

async function register(version: string): Promise<void> {
  await registry.register({
    model: "tiny",
    version,
    rolloutId: `tiny-${version}-0001`,
    artifactUri: `/bucket/models/tiny/${version}/`,
    reportUris: {},
    metadata: {},
  });
}

async function watch(pollMs = AN_HOUR_MS): Promise<RegistryWatcher> {
  watcher = new RegistryWatcher({
    home,
    onEdit: async (edit) => void edits.push(edit),
    log: (message) => void logged.push(message),
    pollMs,
  });
  await watcher.start();
  return watcher;
}

/** Edits the file as a person does: changes one entry's `status` and nothing else. */
async function setStatusByHand(version: string, status: string): Promise<void> {
  const path = join(home, "registry.json");
  const file = JSON.parse(await readFile(path, "utf8"));
  const entry = file.groups.tiny.entries.find((e: { version: string }) => e.version === version);
  entry.status = status;
  await writeFile(path, JSON.stringify(file, null, 2));
}

function groupsOf(text: string) {
  return parseRegistry(text, "registry.json");
}

describe("registryEdits", () => {
  const file = (status: string, history: string[]) =>
    JSON.stringify({
      format: "modelship-registry/1",
      groups: {
        tiny: {
          createdAt: "2026-01-01T00:00:00.000Z",
          entries: [
            {
              version: "v2",
              rolloutId: "tiny-v2-0001",
              packageVersion: 2,
              status,
              statusHistory: history.map((s) => ({ status: s, reason: "", at: "2026-01-01T00:00:00.000Z" })),
            },
          ],
        },
      },
    });

  it("finds a status set to Rejected by hand: the entry's history does not end with it", () => {
    const before = registryStatuses(groupsOf(file("PendingManualApproval", ["PendingManualApproval"])));
    expect(registryEdits(before, groupsOf(file("Rejected", ["PendingManualApproval"])))).toEqual([
      { model: "tiny", version: "v2", rolloutId: "tiny-v2-0001", packageVersion: 2, status: "Rejected" },
    ]);
  });

  it("takes a status modelship set (appended to the history) as no edit", () => {
    const before = registryStatuses(groupsOf(file("PendingManualApproval", ["PendingManualApproval"])));
    const after = groupsOf(file("Approved", ["PendingManualApproval", "Approved"]));
    expect(registryEdits(before, after)).toEqual([]);
  });

  it("takes a status set back to PendingManualApproval, or unchanged since the last read, as no edit", () => {
    const rejected = groupsOf(file("Rejected", ["PendingManualApproval"]));
    expect(registryEdits(registryStatuses(rejected), rejected)).toEqual([]);
    const pending = groupsOf(file("PendingManualApproval", ["PendingManualApproval", "Rejected"]));
    expect(registryEdits(registryStatuses(rejected), pending)).toEqual([]);
  });

  it("is told apart from a status that is not one of the registry's, which the file's parse names", () => {
    expect(() => groupsOf(file("Rejectd", ["PendingManualApproval"]))).toThrow(
      /groups\.tiny\.entries\[0\]\.status is "Rejectd"; expected one of PendingManualApproval, Approved, Rejected/,
    );
  });

  it("is handed on as the state-change event SageMaker sends, naming the rollout, who and why", () => {
    const [edit] = registryEdits(new Map(), groupsOf(file("Rejected", ["PendingManualApproval"]))) as [
      RegistryEdit,
    ];
    expect(registryChangeEvent(edit, "alice")).toEqual({
      "detail-type": "SageMaker Model Package State Change",
      detail: {
        ModelApprovalStatus: "Rejected",
        ApprovalDescription: "status set to Rejected in registry.json",
        CustomerMetadataProperties: {
          "modelship:model": "tiny",
          "modelship:version": "v2",
          "modelship:rolloutId": "tiny-v2-0001",
        },
        LastModifiedBy: { UserProfileName: "alice" },
      },
    });
  });
});

describe("RegistryWatcher", () => {
  it("hands on a version set to Rejected by hand, once", async () => {
    await register("v1");
    await register("v2");
    await watch();
    await setStatusByHand("v2", "Rejected");
    await watcher?.checkNow();
    await watcher?.checkNow();
    expect(edits).toEqual([
      { model: "tiny", version: "v2", rolloutId: "tiny-v2-0001", packageVersion: 2, status: "Rejected" },
    ]);
  });

  it("ignores the statuses modelship sets itself (promotion, rollback)", async () => {
    await register("v1");
    await register("v2");
    await watch();
    await registry.setStatus("tiny", "v1", "Approved", "Promoted by rollout tiny-v1-0001.");
    await registry.setStatus("tiny", "v2", "Rejected", "Rolled back by its latency alarm.");
    await watcher?.checkNow();
    expect(edits).toEqual([]);
  });

  it("takes the statuses already set when it starts as handled", async () => {
    await register("v2");
    await setStatusByHand("v2", "Approved");
    await watch();
    await watcher?.checkNow();
    expect(edits).toEqual([]);
  });

  it("reports a malformed edit once, and answers the edit that fixes it", async () => {
    await register("v2");
    await watch();
    const path = join(home, "registry.json");
    const good = await readFile(path, "utf8");
    await writeFile(path, `${good.slice(0, 40)}`);
    await watcher?.checkNow();
    await watcher?.checkNow();
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatch(
      /registry\.json was changed and cannot be read, so no status in it answers a rollout until it is fixed \(a rollout waiting for approval keeps waiting\): .*registry\.json is not a modelship registry:\n {2}it is not valid JSON/,
    );
    expect(edits).toEqual([]);

    await writeFile(path, good);
    await setStatusByHand("v2", "Approved");
    await watcher?.checkNow();
    expect(edits.map((e) => e.status)).toEqual(["Approved"]);
  });

  it("notices an edit without being asked to check, through fs.watch or its poll", async () => {
    await register("v2");
    await watch(200);
    await setStatusByHand("v2", "Rejected");
    await vi.waitFor(
      () => {
        if (edits.length === 0) throw new Error("the edit was not noticed yet");
      },
      { timeout: 30_000, interval: 50 },
    );
    expect(edits.map((e) => `${e.version} ${e.status}`)).toEqual(["v2 Rejected"]);
  });

  it("tries an edit whose answer failed again when the file is saved again", async () => {
    await register("v2");
    let failures = 1;
    watcher = new RegistryWatcher({
      home,
      onEdit: async (edit) => {
        if (failures-- > 0) throw new Error("the rollout store is locked");
        edits.push(edit);
      },
      log: (message) => void logged.push(message),
      pollMs: AN_HOUR_MS,
    });
    await watcher.start();
    await setStatusByHand("v2", "Rejected");
    await watcher.checkNow();
    expect(logged.join("\n")).toMatch(
      /tiny v2 set to Rejected in .*registry\.json was not carried out: Error: the rollout store is locked\. Save the file again to retry\./,
    );
    await setStatusByHand("v2", "Rejected");
    await watcher.checkNow();
    expect(edits.map((e) => e.status)).toEqual(["Rejected"]);
  });
});
