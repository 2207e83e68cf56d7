import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { aslGraph, AslGraphInvalid } from "../../lib/core/state-machine/asl-graph";
import { executionProgress } from "../../lib/core/state-machine/execution-progress";

const PIPELINE = JSON.parse(
  readFileSync(new URL("../../statemachines/pipeline.asl.json", import.meta.url), "utf8"),
);

const LOOP = {
  StartAt: "Start",
  States: {
    Start: { Type: "Task", Next: "Wait", Catch: [{ ErrorEquals: ["States.ALL"], Next: "Failed" }] },
    Wait: { Type: "Wait", Next: "Ready" },
    Ready: { Type: "Choice", Choices: [{ Next: "Use" }, { Next: "Skip" }], Default: "Wait" },
    Skip: { Type: "Pass", Next: "Use" },
    Use: { Type: "Task", End: true },
    Failed: { Type: "Fail" },
  },
};

describe("aslGraph", () => {
  it("has a node for every top-level state and an edge for each Next, Choice rule, Default and Catch", () => {
    const graph = aslGraph(LOOP);
    expect(graph.nodes.map((n) => n.name).sort()).toEqual(Object.keys(LOOP.States).sort());
    expect(graph.edges.map((e) => `${e.from}>${e.to}:${e.kind}`).sort()).toEqual(
      [
        "Start>Wait:next",
        "Start>Failed:catch",
        "Wait>Ready:next",
        "Ready>Use:choice",
        "Ready>Skip:choice",
        "Ready>Wait:default",
        "Skip>Use:next",
      ].sort(),
    );
  });

  it("marks the edge back into a loop and places every other state below all states leading to it", () => {
    const graph = aslGraph(LOOP);
    const layer = Object.fromEntries(graph.nodes.map((n) => [n.name, n.layer]));
    expect(graph.edges.filter((e) => e.back).map((e) => `${e.from}>${e.to}`)).toEqual(["Ready>Wait"]);
    expect(layer).toMatchObject({ Start: 0, Wait: 1, Ready: 2, Skip: 3, Use: 4, Failed: 1 });
    for (const edge of graph.edges.filter((e) => !e.back)) {
      expect(layer[edge.to]).toBeGreaterThan(layer[edge.from] as number);
    }
  });

  it("gives states in the same layer distinct columns", () => {
    const graph = aslGraph(PIPELINE);
    const places = graph.nodes.map((n) => `${n.layer}:${n.column}`);
    expect(new Set(places).size).toBe(places.length);
    expect(graph.nodes.every((n) => n.column < graph.columns && n.layer < graph.layers)).toBe(true);
  });

  it("draws the pipeline from Prepare, with the capacity and readiness loops and the canary's steps as its back edges", () => {
    const graph = aslGraph(PIPELINE);
    expect(graph.nodes[0]).toMatchObject({ name: "Prepare", layer: 0 });
    expect(graph.nodes).toHaveLength(Object.keys(PIPELINE.States).length);
    expect(graph.edges.filter((e) => e.back).map((e) => `${e.from}>${e.to}`)).toEqual([
      "WaitForCapacity>CheckCapacity",
      // A deploy refused for capacity goes back to the looks (DeployCandidate's InsufficientCapacity Catch).
      "DeployCandidate>CheckCapacity",
      "IsCandidateReady>WaitForCandidate",
      "WaitForCanaryReplicas>CanaryStep",
      "CanaryVerdict>CanaryStep",
    ]);
    expect(graph.nodes.find((n) => n.name === "StressTest")?.type).toBe("Map");
  });

  it("refuses a definition whose transition names no state", () => {
    expect(() => aslGraph({ StartAt: "A", States: { A: { Type: "Pass", Next: "B" } } })).toThrow(
      new AslGraphInvalid("A leads to B, which is not in States."),
    );
    expect(() => aslGraph({ States: {} })).toThrow(AslGraphInvalid);
  });
});

describe("executionProgress", () => {
  const graph = aslGraph(LOOP);

  it("shows each state's status and the duration of its last visit", () => {
    const progress = executionProgress(
      graph,
      [
        { type: "entered", state: "Start", timestamp: 1000 },
        { type: "exited", state: "Start", timestamp: 1500 },
        { type: "entered", state: "Wait", timestamp: 1500 },
        { type: "exited", state: "Wait", timestamp: 2500 },
        { type: "entered", state: "Ready", timestamp: 2500 },
        { type: "exited", state: "Ready", timestamp: 2501 },
        { type: "entered", state: "Use", timestamp: 2501 },
      ],
      4000,
    );
    expect(progress["Start"]).toEqual({ status: "succeeded", durationMs: 500, visits: 1 });
    expect(progress["Use"]).toEqual({ status: "running", durationMs: 1499, visits: 1 });
    // The Choice went past Skip: a layer above the running state, never entered.
    expect(progress["Skip"]).toEqual({ status: "skipped", visits: 0 });
    expect(progress["Failed"]).toEqual({ status: "skipped", visits: 0 });
  });

  it("counts the visits of a loop and shows a failed state with its error", () => {
    const progress = executionProgress(
      graph,
      [
        { type: "entered", state: "Wait", timestamp: 0 },
        { type: "exited", state: "Wait", timestamp: 10 },
        { type: "entered", state: "Wait", timestamp: 20 },
        { type: "exited", state: "Wait", timestamp: 25 },
        { type: "entered", state: "Ready", timestamp: 25 },
        { type: "failed", state: "Ready", timestamp: 30, error: { Error: "States.Runtime" } },
      ],
      100,
    );
    expect(progress["Wait"]).toEqual({ status: "succeeded", durationMs: 5, visits: 2 });
    expect(progress["Ready"]).toEqual({
      status: "failed",
      durationMs: 5,
      visits: 1,
      error: "States.Runtime",
    });
    expect(progress["Use"]?.status).toBe("not-reached");
  });

  it("leaves the states of a Map's iterations to the Map's own node", () => {
    const progress = executionProgress(
      graph,
      [{ type: "entered", state: "Use", timestamp: 0, iteration: 2 }],
      5,
    );
    expect(progress["Use"]?.status).toBe("not-reached");
  });

  it("shows a state still running when the execution ended (aborted) as failed", () => {
    const progress = executionProgress(graph, [{ type: "entered", state: "Wait", timestamp: 0 }], 50, true);
    expect(progress["Wait"]).toEqual({ status: "failed", durationMs: 50, visits: 1 });
  });
});
