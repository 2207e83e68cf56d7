// The rooms of lib/core (STYLE.md, "Rooms inside lib/core"): each folder is a room, the files at lib/core's
// root are the shared vocabulary (findings, errors, the JSON readers, the candidate's handle). Checked from
// the imports themselves, so a regrouping that loops is caught here rather than by eye: no two rooms import
// each other (directly or round a longer loop), the manifest's room imports no other room, and the root
// imports only the plain-text helpers.

import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const CORE = resolve(import.meta.dirname, "../../lib/core");
const ROOT = "(root)";

function coreFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return coreFiles(path);
    return entry.name.endsWith(".ts") ? [path] : [];
  });
}

function roomOf(file: string): string {
  const parts = relative(CORE, file).split(sep);
  return parts.length > 1 ? (parts[0] ?? ROOT) : ROOT;
}

/** room → the rooms it imports, each with one import that shows it (`a/x.ts → b/y.ts`). */
function roomImports(): Map<string, Map<string, string>> {
  const rooms = new Map<string, Map<string, string>>();
  for (const file of coreFiles(CORE)) {
    const from = roomOf(file);
    const edges = rooms.get(from) ?? new Map<string, string>();
    rooms.set(from, edges);
    for (const { fileName } of ts.preProcessFile(readFileSync(file, "utf8"), true, true).importedFiles) {
      if (!fileName.startsWith(".")) continue;
      const target = resolve(dirname(file), fileName.endsWith(".ts") ? fileName : `${fileName}.ts`);
      const to = roomOf(target);
      if (to !== from && !edges.has(to)) {
        edges.set(to, `${relative(CORE, file)} → ${relative(CORE, target)}`);
      }
    }
  }
  return rooms;
}

/** A loop of rooms, as the imports that make it, or undefined. */
function findLoop(rooms: Map<string, Map<string, string>>): string[] | undefined {
  const done = new Set<string>();
  const path: string[] = [];
  const visit = (room: string): string[] | undefined => {
    const at = path.indexOf(room);
    if (at >= 0) {
      const loop = [...path.slice(at), room];
      return loop.slice(1).map((to, i) => rooms.get(loop[i] ?? "")?.get(to) ?? `${loop[i]} → ${to}`);
    }
    if (done.has(room)) return undefined;
    path.push(room);
    for (const next of rooms.get(room)?.keys() ?? []) {
      const loop = visit(next);
      if (loop) return loop;
    }
    path.pop();
    done.add(room);
    return undefined;
  };
  for (const room of rooms.keys()) {
    const loop = visit(room);
    if (loop) return loop;
  }
  return undefined;
}

describe("lib/core's rooms", () => {
  const rooms = roomImports();

  it("reads every room (the walk finds the folders the regrouping made)", () => {
    expect([...rooms.keys()]).toEqual(
      expect.arrayContaining([ROOT, "manifest", "config", "rollout", "traffic"]),
    );
  });

  it("import each other in no loop", () => {
    expect(findLoop(rooms)).toBeUndefined();
  });

  it("keep the manifest low: its room imports only the shared vocabulary at the root", () => {
    expect([...(rooms.get("manifest")?.entries() ?? [])].filter(([to]) => to !== ROOT)).toEqual([]);
  });

  it("keep the root's vocabulary below every room but the plain-text helpers", () => {
    expect([...(rooms.get(ROOT)?.entries() ?? [])].filter(([to]) => to !== "text")).toEqual([]);
  });

  it("finds a loop when there is one (the check can fail)", () => {
    const looped = new Map([
      ["a", new Map([["b", "a/x.ts → b/y.ts"]])],
      ["b", new Map([["a", "b/y.ts → a/z.ts"]])],
    ]);
    expect(findLoop(looped)).toEqual(["a/x.ts → b/y.ts", "b/y.ts → a/z.ts"]);
  });
});
