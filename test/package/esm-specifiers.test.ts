import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { rewriteSpecifiersIn, withFullSpecifiers } from "../../scripts/esm-specifiers";

let dist: string;

beforeEach(async () => {
  dist = await mkdtemp(join(tmpdir(), "modelship-esm-specifiers-"));
  await mkdir(join(dist, "core/eval"), { recursive: true });
  for (const file of [
    "core/manifest.js",
    "core/manifest.d.ts",
    "core/eval/index.js",
    "core/types-only.d.ts",
  ]) {
    await writeFile(join(dist, file), "export {};\n");
  }
});

afterEach(async () => {
  await rm(dist, { recursive: true, force: true });
});

describe("withFullSpecifiers", () => {
  it("names the emitted file of each relative import, export, import() call and import type", () => {
    const text = [
      'import { parseManifest } from "./manifest";',
      'export * from "./eval";',
      'export { x } from "../core/manifest";',
      'const later = () => import("./manifest");',
      'export type T = import("./types-only").T;',
      'import { z } from "zod";',
    ].join("\n");
    const { text: out, unresolved } = withFullSpecifiers(text, join(dist, "core/cli.js"));
    expect(out.split("\n")).toEqual([
      'import { parseManifest } from "./manifest.js";',
      'export * from "./eval/index.js";',
      'export { x } from "../core/manifest.js";',
      'const later = () => import("./manifest.js");',
      'export type T = import("./types-only.js").T;',
      'import { z } from "zod";',
    ]);
    expect(unresolved).toEqual([]);
  });

  it("leaves text in strings and comments that only looks like an import", () => {
    const text = ['const hint = "import x from \\"./manifest\\"";', '// import y from "./manifest"', ""].join(
      "\n",
    );
    expect(withFullSpecifiers(text, join(dist, "core/hint.js")).text).toBe(text);
  });

  it("keeps a specifier that already names a file", () => {
    const text = 'import a from "./manifest.js";\n';
    expect(withFullSpecifiers(text, join(dist, "core/a.js")).text).toBe(text);
  });

  it("reports the specifiers that name no emitted file", () => {
    const text = 'import a from "./missing";\nimport b from "./manifest";\n';
    expect(withFullSpecifiers(text, join(dist, "core/a.js")).unresolved).toEqual(["./missing"]);
  });
});

describe("rewriteSpecifiersIn", () => {
  it("rewrites every .js and .d.ts file under the folder", async () => {
    await writeFile(join(dist, "index.js"), 'export { parseManifest } from "./core/manifest";\n');
    await writeFile(join(dist, "index.d.ts"), 'export { parseManifest } from "./core/manifest";\n');
    expect(await rewriteSpecifiersIn(dist)).toBe(2);
    expect(await readFile(join(dist, "index.js"), "utf8")).toContain('"./core/manifest.js"');
    expect(await readFile(join(dist, "index.d.ts"), "utf8")).toContain('"./core/manifest.js"');
  });

  it("fails naming every file and specifier that names no emitted file", async () => {
    await writeFile(join(dist, "a.js"), 'import "./gone";\n');
    await writeFile(join(dist, "b.js"), 'import "./also-gone";\n');
    await expect(rewriteSpecifiersIn(dist)).rejects.toThrow(/a\.js: '\.\/gone'[\s\S]*b\.js: '\.\/also-gone'/);
  });
});
