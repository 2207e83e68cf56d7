// A step of `npm run build`, after tsc: gives every relative import in dist/'s .js and .d.ts files the full
// name of the file it means ("./manifest" → "./manifest.js", "./eval" → "./eval/index.js"). The sources
// import without extensions, which tsx, vitest and esbuild resolve (bundler rules); Node's ESM loader and
// TypeScript's node16/nodenext resolution, which run and type an installed package, need the file's name.
// The build does it once rather than lib/ carrying an extension on each of its many imports, which many
// hands edit at once. Specifiers are found with TypeScript's parser, so text in strings and comments that
// looks like an import is left alone.

import { existsSync } from "node:fs";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import ts from "typescript";

/** A relative module specifier in a file: where its text is (without quotes) and what it says. */
export interface SpecifierAt {
  readonly start: number;
  readonly end: number;
  readonly specifier: string;
}

/** Every relative specifier of import/export declarations, `import()` calls and `import("…")` types. */
export function relativeSpecifiers(text: string, fileName: string): SpecifierAt[] {
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true);
  const found: SpecifierAt[] = [];
  const take = (node: ts.Node | undefined) => {
    if (!node || !ts.isStringLiteral(node) || !node.text.startsWith(".")) return;
    // The literal's text sits between its quotes.
    found.push({ start: node.getStart(source) + 1, end: node.getEnd() - 1, specifier: node.text });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) take(node.moduleSpecifier);
    else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      take(node.arguments[0]);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) take(node.argument.literal);
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/**
 * The specifier naming the emitted file a bare one means, or undefined when none exists: `<spec>.js`, else
 * `<spec>/index.js` (a declaration file counts for its .js: a types-only module may emit only types).
 */
export function fullSpecifier(specifier: string, fromDir: string): string | undefined {
  const base = resolve(fromDir, specifier);
  if (/\.(m?js|json)$/.test(specifier) && existsSync(base)) return specifier;
  for (const [suffix, files] of [
    [".js", [".js", ".d.ts"]],
    ["/index.js", ["/index.js", "/index.d.ts"]],
  ] as const) {
    if (files.some((file) => existsSync(`${base}${file}`))) return `${specifier}${suffix}`;
  }
  return undefined;
}

/** The file's text with its relative specifiers made full, and those that name no file. */
export function withFullSpecifiers(
  text: string,
  fileName: string,
): { readonly text: string; readonly unresolved: readonly string[] } {
  const unresolved: string[] = [];
  let out = "";
  let at = 0;
  for (const { start, end, specifier } of relativeSpecifiers(text, fileName)) {
    const full = fullSpecifier(specifier, dirname(fileName));
    if (full === undefined) unresolved.push(specifier);
    out += text.slice(at, start) + (full ?? specifier);
    at = end;
  }
  return { text: out + text.slice(at), unresolved };
}

/** Rewrites every .js and .d.ts file under `dir`; throws naming every specifier that names no file. */
export async function rewriteSpecifiersIn(dir: string): Promise<number> {
  const problems: string[] = [];
  let rewritten = 0;
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !/\.(js|d\.ts)$/.test(entry.name)) continue;
    const file = join(entry.parentPath, entry.name);
    const text = await readFile(file, "utf8");
    const result = withFullSpecifiers(text, file);
    problems.push(...result.unresolved.map((specifier) => `${file}: '${specifier}' names no emitted file`));
    if (result.text !== text) {
      await writeFile(file, result.text);
      rewritten += 1;
    }
  }
  if (problems.length > 0) {
    throw new Error(
      `${problems.length} relative imports in ${dir} name no file tsc emitted:\n${problems.join("\n")}\n` +
        "Check that tsconfig.build.json includes the imported file.",
    );
  }
  return rewritten;
}
