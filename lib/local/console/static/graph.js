// The state machine's graph as SVG, like the Step Functions console's graph view: the server laid it out
// (lib/core/state-machine/asl-graph.ts: layers from StartAt down, a column within each), this draws each state as a box
// coloured by its status (not reached, running, succeeded, failed, skipped) with its duration, and each
// transition as a curve: Catch edges dashed red, loops back drawn along the left.

const SVG = "http://www.w3.org/2000/svg";
const NODE_W = 140;
const NODE_H = 28;
const COL_W = 152;
const ROW_H = 44;
const MARGIN = 18;

function svg(tag, attributes) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  return node;
}

function formatDuration(ms) {
  if (ms === undefined) return "";
  if (ms < 1000) return `${ms} ms`;
  const s = ms / 1000;
  return s < 60 ? `${s.toFixed(1)} s` : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

/** Draws `graph` into `container`, each state with its progress (by name; absent: not reached). */
export function drawGraph(container, graph, progress) {
  const place = new Map(
    graph.nodes.map((n) => [n.name, { x: MARGIN + n.column * COL_W, y: MARGIN + n.layer * ROW_H }]),
  );
  const width = MARGIN * 2 + graph.columns * COL_W;
  const height = MARGIN * 2 + graph.layers * ROW_H;
  const root = svg("svg", { width, height, viewBox: `0 0 ${width} ${height}`, role: "img" });
  const title = svg("title", {});
  title.textContent = "The state machine's graph, each state coloured by its status in the execution";
  root.append(title);
  const defs = svg("defs", {});
  const marker = svg("marker", {
    id: "arrow",
    viewBox: "0 0 10 10",
    refX: 9,
    refY: 5,
    markerWidth: 6,
    markerHeight: 6,
    orient: "auto-start-reverse",
  });
  marker.append(svg("path", { d: "M 0 0 L 10 5 L 0 10 z", fill: "#9aa5b1" }));
  defs.append(marker);
  root.append(defs);
  for (const edge of graph.edges) {
    const from = place.get(edge.from);
    const to = place.get(edge.to);
    const x1 = from.x + NODE_W / 2;
    const y1 = from.y + NODE_H;
    const x2 = to.x + NODE_W / 2;
    const y2 = to.y;
    let d;
    if (edge.back) {
      // Up the left side, back into the top of the state the loop returns to.
      const left = Math.min(from.x, to.x) - 10;
      d = `M ${from.x} ${from.y + NODE_H / 2} C ${left} ${from.y + NODE_H / 2}, ${left} ${to.y + NODE_H / 2}, ${to.x} ${to.y + NODE_H / 2}`;
    } else {
      const bend = Math.max(12, (y2 - y1) / 2);
      d = `M ${x1} ${y1} C ${x1} ${y1 + bend}, ${x2} ${y2 - bend}, ${x2} ${y2}`;
    }
    root.append(
      svg("path", { d, class: `edge ${edge.kind}${edge.back ? " back" : ""}`, "marker-end": "url(#arrow)" }),
    );
  }
  for (const node of graph.nodes) {
    const at = place.get(node.name);
    const state = progress[node.name] ?? { status: "not-reached", visits: 0 };
    const group = svg("g", {
      class: `node ${node.type.toLowerCase()} ${state.status}`,
      "data-state": node.name,
      "data-status": state.status,
      transform: `translate(${at.x} ${at.y})`,
    });
    group.append(svg("rect", { width: NODE_W, height: NODE_H, rx: node.type === "Choice" ? 12 : 3 }));
    const name = svg("text", { x: 6, y: 12 });
    name.textContent = node.name.length > 24 ? `${node.name.slice(0, 23)}…` : node.name;
    const detail = svg("text", { x: 6, y: 24, class: "duration" });
    detail.textContent = [
      node.type,
      state.status === "not-reached" ? "" : state.status,
      formatDuration(state.durationMs),
      state.visits > 1 ? `×${state.visits}` : "",
      state.error ?? "",
    ]
      .filter(Boolean)
      .join(" · ");
    const tooltip = svg("title", {});
    tooltip.textContent = `${node.name} (${node.type}): ${state.status}${state.durationMs !== undefined ? `, ${formatDuration(state.durationMs)}` : ""}`;
    group.append(tooltip, name, detail);
    root.append(group);
  }
  container.replaceChildren(root);
}
