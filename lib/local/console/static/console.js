// The local web console's script (an ES module, no build step, no dependency): it signs its POSTs with the
// session's CSRF value (GET api/session), follows the control plane's server-sent events (api/stream) and
// redraws the models, the execution's graph, the alarm charts, the events and the report links from each
// snapshot. Every value from the server is put in the page as text (textContent), except the alarm charts:
// SVG the server made with the report's chart code, which escapes every value it holds.

import { drawGraph } from "./graph.js";

const API = "/_modelship/ui/api";
const COMMANDS = [
  ["Approve", "Approve Requested", ""],
  ["Promote", "Promote Requested", ""],
  ["Rollback", "Rollback Requested", "danger"],
  ["Abort", "Abort Requested", "danger"],
];
const FAULTS = {
  "errors on candidate": { variant: "candidate", fault: { abort: { httpStatus: 500, percentage: 100 } } },
  "1.5 s delay on candidate": {
    variant: "candidate",
    fault: { delay: { fixedDelayMs: 1500, percentage: 100 } },
  },
  "clear candidate's fault": { variant: "candidate", fault: null },
};

let session;
let followedState;

/** An element with its class and text. */
function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function byId(id) {
  return document.getElementById(id);
}

async function post(path, body) {
  const response = await fetch(`${API}/${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-modelship-csrf": session.csrf },
    body: JSON.stringify(body),
    credentials: "same-origin",
  });
  const answer = await response.json().catch(() => ({}));
  const message = answer.message ?? answer.error?.message ?? answer.description ?? `HTTP ${response.status}`;
  const outcome = byId("outcome");
  outcome.hidden = false;
  outcome.textContent = message;
  outcome.className = `outcome${response.ok && answer.status !== "refused" ? "" : " refused"}`;
}

function modelCard(name) {
  const id = `model-${name}`;
  let card = document.getElementById(id);
  if (card) return card;
  card = el("article", "model");
  card.id = id;
  card.dataset.model = name;
  const title = el("h3");
  title.append(el("span", "name", name), el("span", "status"));
  const versions = el("div", "versions");
  const bar = el("div", "bar");
  bar.append(el("div", "stable"), el("div", "candidate"));
  const route = el("p", "route muted");
  const actions = el("div", "actions");
  const reason = el("input");
  reason.type = "text";
  reason.placeholder = "reason (recorded with the command)";
  reason.setAttribute("aria-label", `Reason for a command on ${name}`);
  actions.append(reason);
  for (const [label, command, style] of COMMANDS) {
    const button = el("button", style, label);
    button.type = "button";
    button.addEventListener("click", () => {
      const text = reason.value.trim();
      void post("commands", { command, model: name, ...(text ? { reason: text } : {}) });
    });
    actions.append(button);
  }
  const fault = el("select");
  fault.setAttribute("aria-label", `Fault to inject into ${name}`);
  for (const label of Object.keys(FAULTS)) fault.append(el("option", "", label));
  const inject = el("button", "", "Fault");
  inject.type = "button";
  inject.addEventListener("click", () => void post("faults", { model: name, ...FAULTS[fault.value] }));
  actions.append(fault, inject);
  card.append(title, versions, bar, route, actions);
  const models = byId("models");
  models.querySelector("p.muted")?.remove();
  models.append(card);
  return card;
}

function renderModel(model) {
  const card = modelCard(model.model);
  card.querySelector(".status").textContent = model.status ?? "idle";
  const weights =
    model.weights ??
    (model.stable && !model.candidate ? { stable: 100, candidate: 0 } : { stable: 0, candidate: 0 });
  const versions = card.querySelector(".versions");
  const rows = [];
  if (model.stableVersion) rows.push(["stable", model.stableVersion, weights.stable]);
  if (model.candidateVersion) rows.push(["candidate", model.candidateVersion, weights.candidate]);
  versions.replaceChildren(
    ...rows.flatMap(([variant, version, weight]) => {
      const w = el("span", `weight weight-${variant}`, `${weight}%`);
      return [el("span", `label-${variant}`, variant), el("span", `version-${variant}`, version), w];
    }),
  );
  card.querySelector(".bar .stable").style.width = `${weights.stable}%`;
  card.querySelector(".bar .candidate").style.width = `${weights.candidate}%`;
  const backends = model.route?.backends ?? [];
  card.querySelector(".route").textContent =
    backends.length === 0
      ? "gateway: no route"
      : `gateway: ${backends.map((b) => `${b.version} (${b.variant}) ${b.weight}%`).join(" · ")}${model.canary ? ` — step ${model.canary.step} of ${model.canary.steps}` : ""}${model.approval ? " — waiting for approval" : ""}`;
}

function renderAlarms(alarms) {
  const box = byId("alarms");
  if (alarms.length === 0) {
    box.replaceChildren(el("p", "muted", "No canary is baking."));
    return;
  }
  box.replaceChildren(
    ...alarms.map((bake) => {
      const wrap = el("div");
      wrap.append(
        el(
          "p",
          "muted",
          `${bake.model}, rollout ${bake.rolloutId}: since the alarms were armed at ${bake.since.slice(11, 19)} UTC`,
        ),
      );
      const grid = el("div", "alarm-charts");
      for (const chart of bake.charts) {
        const figure = el("figure");
        const caption = el("figcaption");
        caption.append(
          el("span", "", `${chart.name} `),
          el("span", `state-${chart.state ?? ""}`, chart.state ?? ""),
        );
        const holder = el("div");
        // Server-made SVG (lib/core/report/line-chart.ts escapes every value in it).
        holder.innerHTML = chart.svg;
        figure.append(caption, holder);
        grid.append(figure);
      }
      wrap.append(grid);
      return wrap;
    }),
  );
}

function eventItem(event) {
  const item = el("li");
  item.append(
    el("time", "", event.time.slice(11, 19)),
    el("span", "type", `${event.detailType}:`),
    el("span", "", event.detail.message),
  );
  return item;
}

function renderReports(reports) {
  byId("reports").replaceChildren(
    ...reports.map((r) => {
      const item = el("li");
      const link = el("a", "", `${r.model} ${r.version} — ${r.rolloutId}`);
      link.href = `/_modelship/ui/reports/${encodeURIComponent(r.model)}/${encodeURIComponent(r.version)}/${encodeURIComponent(r.rolloutId)}`;
      link.target = "_blank";
      link.rel = "noopener";
      item.append(link);
      return item;
    }),
  );
}

function renderExecution(executions) {
  const execution = executions[0];
  const summary = byId("execution-summary");
  if (!execution) {
    summary.textContent = "No execution yet.";
    drawGraph(byId("graph"), session.graph, {});
    return;
  }
  summary.className = "";
  summary.textContent = `${execution.model ?? ""} ${execution.version ?? ""} — ${execution.status}${execution.error ? ` (${execution.error})` : ""}`;
  summary.dataset.status = execution.status;
  drawGraph(byId("graph"), session.graph, execution.states);
  const running = Object.entries(execution.states).find(([, p]) => p.status === "running")?.[0];
  if (running && running !== followedState) {
    followedState = running;
    // Scroll the graph's own box, not the page, to keep the running state in view.
    const box = byId("graph");
    const node = box.querySelector(`[data-state="${CSS.escape(running)}"]`);
    if (node) {
      const offset = node.getBoundingClientRect().top - box.getBoundingClientRect().top + box.scrollTop;
      box.scrollTop = Math.max(0, offset - box.clientHeight / 2);
    }
  }
}

function render(snapshot) {
  for (const model of snapshot.models) renderModel(model);
  renderExecution(snapshot.executions);
  renderAlarms(snapshot.alarms);
  renderReports(snapshot.reports);
}

async function start() {
  const response = await fetch(`${API}/session`, { credentials: "same-origin" });
  if (!response.ok) {
    const answer = await response.json().catch(() => ({}));
    byId("connection").textContent =
      answer.error?.message ?? `The console refused this page (${response.status}).`;
    byId("connection").className = "connection lost";
    return;
  }
  session = await response.json();
  drawGraph(byId("graph"), session.graph, {});
  const stream = new EventSource(`${API}/stream`);
  const connection = byId("connection");
  stream.addEventListener("open", () => {
    connection.textContent = `live — acting as ${session.actingAs}`;
    connection.className = "connection live";
  });
  stream.addEventListener("error", () => {
    connection.textContent = "disconnected — retrying…";
    connection.className = "connection lost";
  });
  stream.addEventListener("snapshot", (message) => render(JSON.parse(message.data)));
  stream.addEventListener("events", (message) => {
    const events = JSON.parse(message.data);
    byId("events").replaceChildren(...events.reverse().map(eventItem));
  });
  stream.addEventListener("event", (message) => {
    const list = byId("events");
    list.prepend(eventItem(JSON.parse(message.data)));
    while (list.children.length > 200) list.lastElementChild.remove();
  });
}

void start();
