// A state machine's definition (Amazon States Language) as a graph to draw, like the Step Functions console's
// graph view: each top-level state a node, each Next, Choice rule, Default and Catch an edge, laid out in
// layers from the StartAt state down. The layout is computed here, not in the browser, so it is tested once
// and every page draws the same picture: edges that go back to a state still being visited (the readiness
// loop, the canary's steps) are back edges and do not push their target down; every other state sits one
// layer below the lowest state that leads to it (longest path), and within a layer states keep the order a
// depth-first walk first met them in. A Map state is one node: its iterations run inside it.

/** How one state leads to another. */
export type AslEdgeKind = "next" | "choice" | "default" | "catch";

export interface AslNode {
  readonly name: string;
  /** `Task`, `Map`, `Wait`, `Choice`, `Pass`, `Succeed`, `Fail`, `Parallel`. */
  readonly type: string;
  /** 0 for StartAt, growing downwards. */
  readonly layer: number;
  /** Its place from the left within its layer, from 0. */
  readonly column: number;
}

export interface AslEdge {
  readonly from: string;
  readonly to: string;
  readonly kind: AslEdgeKind;
  /** True when it leads back up to a state that led to it (a loop). */
  readonly back: boolean;
}

export interface AslGraph {
  readonly startAt: string;
  readonly nodes: readonly AslNode[];
  readonly edges: readonly AslEdge[];
  /** How many layers and the widest layer's states: the grid the nodes are placed on. */
  readonly layers: number;
  readonly columns: number;
}

interface AslState {
  readonly Type?: unknown;
  readonly Next?: unknown;
  readonly Default?: unknown;
  readonly Choices?: unknown;
  readonly Catch?: unknown;
}

/** The definition is not a state machine this can draw; the message says which field is wrong. */
export class AslGraphInvalid extends Error {
  override readonly name = "AslGraphInvalid";
}

/** The graph of a definition's top-level states, laid out in layers. */
export function aslGraph(definition: unknown): AslGraph {
  const { StartAt: startAt, States: states } = (definition ?? {}) as {
    StartAt?: unknown;
    States?: unknown;
  };
  if (typeof startAt !== "string" || !states || typeof states !== "object") {
    throw new AslGraphInvalid("The definition needs a StartAt string and a States object.");
  }
  const byName = states as Record<string, AslState>;
  if (!(startAt in byName)) throw new AslGraphInvalid(`StartAt names ${startAt}, which is not in States.`);
  const outgoing = new Map<string, { to: string; kind: AslEdgeKind }[]>();
  for (const [name, state] of Object.entries(byName)) {
    const out = edgesOf(state);
    for (const edge of out) {
      if (!(edge.to in byName)) {
        throw new AslGraphInvalid(`${name} leads to ${edge.to}, which is not in States.`);
      }
    }
    outgoing.set(name, out);
  }

  // Depth-first from StartAt: the order states are met in, and the edges to a state still on the path.
  const order: string[] = [];
  const onPath = new Set<string>();
  const backEdges = new Set<string>();
  const visit = (name: string): void => {
    order.push(name);
    onPath.add(name);
    for (const { to, kind } of outgoing.get(name) ?? []) {
      if (onPath.has(to)) backEdges.add(edgeKey(name, to, kind));
      else if (!order.includes(to)) visit(to);
    }
    onPath.delete(name);
  };
  visit(startAt);
  // States nothing reaches are still drawn, after the rest.
  for (const name of Object.keys(byName)) if (!order.includes(name)) visit(name);

  const edges: AslEdge[] = [];
  const seen = new Set<string>();
  for (const from of order) {
    for (const { to, kind } of outgoing.get(from) ?? []) {
      const key = edgeKey(from, to, kind);
      if (seen.has(key)) continue;
      seen.add(key);
      edges.push({ from, to, kind, back: backEdges.has(key) });
    }
  }

  // Longest path over the forward edges, in topological order (the forward edges make no cycle).
  const layerOf = new Map<string, number>(order.map((name) => [name, 0]));
  for (const name of topologicalOrder(order, edges)) {
    for (const edge of edges) {
      if (edge.back || edge.from !== name) continue;
      layerOf.set(edge.to, Math.max(layerOf.get(edge.to) ?? 0, (layerOf.get(name) ?? 0) + 1));
    }
  }
  const filled = new Map<number, number>();
  const nodes = order.map((name) => {
    const layer = layerOf.get(name) ?? 0;
    const column = filled.get(layer) ?? 0;
    filled.set(layer, column + 1);
    return { name, type: String(byName[name]?.Type ?? "Task"), layer, column };
  });
  return {
    startAt,
    nodes,
    edges,
    layers: Math.max(0, ...nodes.map((n) => n.layer)) + 1,
    columns: Math.max(1, ...filled.values()),
  };
}

function edgesOf(state: AslState): { to: string; kind: AslEdgeKind }[] {
  const edges: { to: string; kind: AslEdgeKind }[] = [];
  if (typeof state.Next === "string") edges.push({ to: state.Next, kind: "next" });
  if (Array.isArray(state.Choices)) {
    for (const rule of state.Choices as { Next?: unknown }[]) {
      if (typeof rule?.Next === "string") edges.push({ to: rule.Next, kind: "choice" });
    }
  }
  if (typeof state.Default === "string") edges.push({ to: state.Default, kind: "default" });
  if (Array.isArray(state.Catch)) {
    for (const catcher of state.Catch as { Next?: unknown }[]) {
      if (typeof catcher?.Next === "string") edges.push({ to: catcher.Next, kind: "catch" });
    }
  }
  return edges;
}

function edgeKey(from: string, to: string, kind: AslEdgeKind): string {
  return `${from}\u0000${to}\u0000${kind}`;
}

/** Kahn's algorithm over the forward edges, ties broken by the depth-first order. */
function topologicalOrder(order: readonly string[], edges: readonly AslEdge[]): string[] {
  const incoming = new Map<string, number>(order.map((name) => [name, 0]));
  for (const edge of edges) if (!edge.back) incoming.set(edge.to, (incoming.get(edge.to) ?? 0) + 1);
  const ready = order.filter((name) => incoming.get(name) === 0);
  const sorted: string[] = [];
  while (ready.length > 0) {
    const name = ready.shift() as string;
    sorted.push(name);
    for (const edge of edges) {
      if (edge.back || edge.from !== name) continue;
      const left = (incoming.get(edge.to) ?? 0) - 1;
      incoming.set(edge.to, left);
      if (left === 0) ready.push(edge.to);
    }
  }
  return sorted;
}
