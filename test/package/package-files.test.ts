import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { packagePath, RUNS_COMPILED } from "../../lib/package-files";

describe("packagePath", () => {
  it("finds the package's own files from the TypeScript sources", async () => {
    expect(RUNS_COMPILED).toBe(false);
    const manifest = JSON.parse(await readFile(packagePath("package.json"), "utf8")) as { name: string };
    expect(manifest.name).toBe("modelship");
  });
});

describe("lib/", () => {
  it("finds no file of the package by counting ../ from a module, which differs between the sources and dist/", async () => {
    const lib = packagePath("lib/");
    const offenders: string[] = [];
    for (const file of await readdir(lib, { recursive: true })) {
      if (!file.endsWith(".ts") || file === "package-files.ts") continue;
      const lines = (await readFile(join(lib, file), "utf8")).split("\n");
      lines.forEach((line, i) => {
        if (/new URL\(\s*["'`]\.\.\//.test(line)) offenders.push(`lib/${file}:${i + 1}: ${line.trim()}`);
      });
    }
    expect(offenders, "use packagePath() from lib/package-files.ts").toEqual([]);
  });
});
