import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { hookSigningKeyPath, LocalHooks } from "../../lib/local/local-hooks";
import { readLocalStackConfig } from "../../lib/local/runtime";
import { isRunning } from "../support/process-alive";

const homes: string[] = [];
afterEach(async () => {
  await Promise.all(homes.splice(0).map((home) => rm(home, { recursive: true, force: true })));
});

async function home(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "modelship-hooks-"));
  homes.push(dir);
  return dir;
}

/** A hook command: node running `script`, which gets the request on stdin. */
function nodeHook(name: string, script: string) {
  return { name, command: [process.execPath, "-e", script] };
}

describe("LocalHooks", () => {
  it("runs the config's command with the request on stdin and answers what it printed", async () => {
    const hooks = new LocalHooks({
      home: await home(),
      functions: [
        nodeHook(
          "echo-model",
          `let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const r=JSON.parse(s);console.log(JSON.stringify({pass:true,reason:"saw "+r.model}))})`,
        ),
      ],
    });

    await expect(hooks.callFunction("echo-model", '{"model":"llama"}', 20_000)).resolves.toBe(
      '{"pass":true,"reason":"saw llama"}\n',
    );
  });

  it("refuses a name the config does not map to a command", async () => {
    const hooks = new LocalHooks({ home: await home(), functions: [] });

    await expect(hooks.callFunction("rm-rf", "{}", 1000)).rejects.toThrow(
      "no hook command 'rm-rf' in the home's config.json",
    );
  });

  it("fails a command that exits non-zero, quoting its stderr", async () => {
    const hooks = new LocalHooks({
      home: await home(),
      functions: [nodeHook("crash", `console.error("regression.py: no such model");process.exit(3)`)],
    });

    await expect(hooks.callFunction("crash", "{}", 20_000)).rejects.toThrow(
      "exited with code 3: regression.py: no such model",
    );
  });

  it("kills a command that outlasts its time, and whatever it started, leaving nothing running", async () => {
    const dir = await home();
    const pidFile = join(dir, "grandchild.pid");
    const hooks = new LocalHooks({
      home: dir,
      functions: [
        nodeHook(
          "slow",
          `const {spawn}=require("child_process");const c=spawn(process.execPath,["-e","setInterval(()=>{},1000)"],{stdio:"ignore"});require("fs").writeFileSync(${JSON.stringify(pidFile)},String(c.pid));setInterval(()=>{},1000)`,
        ),
      ],
    });

    await expect(hooks.callFunction("slow", "{}", 1500)).rejects.toThrow("did not answer within 1.5 s");
    const grandchild = Number(await readFile(pidFile, "utf8"));
    await expect.poll(() => isRunning(grandchild), { timeout: 10_000 }).toBe(false);
  });

  it("kills a command that prints more than 64 KiB", async () => {
    const hooks = new LocalHooks({
      home: await home(),
      functions: [nodeHook("chatty", `setInterval(()=>process.stdout.write("x".repeat(16384)),1)`)],
    });

    await expect(hooks.callFunction("chatty", "{}", 20_000)).rejects.toThrow("printed more than 64 KiB");
  });

  it("fails a command that cannot be started", async () => {
    const hooks = new LocalHooks({
      home: await home(),
      functions: [{ name: "missing", command: ["/nonexistent/regression-check"] }],
    });

    await expect(hooks.callFunction("missing", "{}", 5000)).rejects.toThrow("could not be run");
  });

  it("keeps one signing key in the home, readable by its owner only", async () => {
    const dir = await home();
    const first = await new LocalHooks({ home: dir, functions: [] }).signingKey();
    const again = await new LocalHooks({ home: dir, functions: [] }).signingKey();

    expect(first).toMatch(/^[0-9a-f]{64}$/);
    expect(again).toBe(first);
    expect((await stat(hookSigningKeyPath(dir))).mode & 0o777).toBe(0o600);
  });
});

describe("The home's hooks config", () => {
  it("takes signed URL hooks, plain http to loopback included, unless config.json says otherwise", async () => {
    const dir = await home();
    expect((await readLocalStackConfig(dir)).hooks).toEqual({
      functions: [],
      urlHooks: true,
      loopbackHttp: true,
    });
    await writeFile(join(dir, "config.json"), JSON.stringify({ hooks: { loopbackHttp: false } }));
    expect((await readLocalStackConfig(dir)).hooks.loopbackHttp).toBe(false);
  });

  it("refuses a hook function without a command, naming it", async () => {
    const dir = await home();
    await writeFile(
      join(dir, "config.json"),
      JSON.stringify({ hooks: { functions: [{ name: "regression", arn: "arn:aws:lambda:x" }] } }),
    );
    await expect(readLocalStackConfig(dir)).rejects.toMatchObject({
      findings: [
        expect.objectContaining({
          path: "hooks.functions[0]",
          message: expect.stringContaining("hook function 'regression' needs a 'command'"),
        }),
      ],
    });
  });
});
