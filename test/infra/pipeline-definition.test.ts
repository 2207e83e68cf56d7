import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readPipelineDefinition } from "../../lib/infra/pipeline-definition";

const dir = mkdtempSync(join(tmpdir(), "modelship-asl-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function definitionFile(name: string, definition: unknown): string {
  const file = join(dir, name);
  writeFileSync(file, JSON.stringify(definition, null, 2));
  return file;
}

const task = (fn: string, timeoutSeconds?: number) => ({
  Type: "Task",
  Resource: `\${${fn}FunctionArn}`,
  ...(timeoutSeconds === undefined ? {} : { TimeoutSeconds: timeoutSeconds }),
  End: true,
});

describe("The state machine definition, as the CDK app reads it", () => {
  it("finds each function's shortest Task TimeoutSeconds, Map iterations included", () => {
    const file = definitionFile("ok.asl.json", {
      StartAt: "Check",
      States: {
        Check: { ...task("Check", 120), End: undefined, Next: "Work" },
        Work: {
          Type: "Map",
          ItemProcessor: { StartAt: "Inner", States: { Inner: task("Worker", 900) } },
          Next: "CheckAgain",
        },
        CheckAgain: task("Check", 300),
      },
    });
    const { taskTimeoutSeconds } = readPipelineDefinition(["CheckFunctionArn", "WorkerFunctionArn"], file);
    expect(Object.fromEntries(taskTimeoutSeconds)).toEqual({ CheckFunctionArn: 120, WorkerFunctionArn: 900 });
  });

  it("names every substitution the app does not provide and every Task without a timeout, at once", () => {
    const file = definitionFile("bad.asl.json", {
      StartAt: "A",
      States: {
        A: { ...task("Prepare", 60), End: undefined, Next: "B" },
        B: { ...task("Valdiate"), End: undefined, Next: "C" },
        C: { Type: "Parallel", Branches: [{ StartAt: "D", States: { D: task("Prepare") } }], End: true },
      },
    });
    let message = "";
    try {
      readPipelineDefinition(["PrepareFunctionArn", "ValidateFunctionArn"], file);
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain(file);
    expect(message).toContain("${ValdiateFunctionArn}");
    expect(message).toMatch(/Task states B, D have no TimeoutSeconds/);
  });

  it("says which file is not JSON", () => {
    const file = join(dir, "broken.asl.json");
    writeFileSync(file, '{"StartAt": ');
    expect(() => readPipelineDefinition([], file)).toThrow(new RegExp(`${file} is not valid JSON`));
  });
});
