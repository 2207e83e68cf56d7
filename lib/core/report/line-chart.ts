// A line chart as inline SVG, drawn here so the report needs no chart script and no network: labelled axes
// with their units, a legend when there is more than one line, and a <title> and <desc> that screen readers
// announce. The y axis starts at 0 so heights compare honestly; a printed page scales it from its viewBox.
// Markers are labelled vertical lines at moments on the x axis (a canary's steps, a rollback).

import { type Html, markup } from "./html";

export interface ChartPoint {
  readonly x: number;
  readonly y: number;
}

export interface ChartSeries {
  readonly name: string;
  readonly points: readonly ChartPoint[];
}

export interface Tick {
  readonly value: number;
  readonly label: string;
}

interface LineChart {
  /** Unique in the page: the ids of the chart's <title> and <desc> are made from it. */
  readonly id: string;
  readonly title: string;
  /** What the chart shows, in a sentence or two, for someone who cannot see it. */
  readonly description: string;
  /** With its unit, e.g. `Seconds after the warm-up`. */
  readonly xLabel: string;
  /** With its unit, e.g. `TTFT (ms)`. */
  readonly yLabel: string;
  readonly xDomain: readonly [number, number];
  readonly xTicks: readonly Tick[];
  readonly series: readonly ChartSeries[];
  /** Vertical lines at these x values, each labelled at the top of the plot. */
  readonly markers?: readonly Tick[];
}

const WIDTH = 640;
const HEIGHT = 260;
const PLOT = { left: 64, right: WIDTH - 16, top: 28, bottom: HEIGHT - 48 } as const;
/** About the width of a character of the 11-pixel sans-serif labels, to space the legend's entries. */
const LEGEND_CHAR_WIDTH = 6.5;
/** Told apart by dash as well as colour: the page may be printed in black and white. */
const STYLES = [
  { color: "#1f5fa8", dash: "" },
  { color: "#c0392b", dash: "6 3" },
  { color: "#2e7d32", dash: "2 3" },
] as const;

export function renderLineChart(chart: LineChart): Html {
  const [xMin, xMax] = chart.xDomain;
  const ys = chart.series.flatMap((s) => s.points.map((p) => p.y)).filter(Number.isFinite);
  const yTicks = niceTicks(0, Math.max(0, ...ys));
  const yMax = yTicks.at(-1)?.value ?? 1;
  const xSpan = xMax > xMin ? xMax - xMin : 1;
  const toX = (x: number) => PLOT.left + ((clamp(x, xMin, xMax) - xMin) / xSpan) * (PLOT.right - PLOT.left);
  const toY = (y: number) => PLOT.bottom - (clamp(y, 0, yMax) / yMax) * (PLOT.bottom - PLOT.top);

  const grid = yTicks.map(
    (t) =>
      markup`<line
          x1="${PLOT.left}"
          x2="${PLOT.right}"
          y1="${coordinate(toY(t.value))}"
          y2="${coordinate(toY(t.value))}"
          stroke="#dddddd"
          stroke-width="1"
        /><text x="${PLOT.left - 6}" y="${coordinate(toY(t.value) + 4)}" text-anchor="end">${t.label}</text>`,
  );
  const xAxis = chart.xTicks
    .filter((t) => t.value >= xMin && t.value <= xMax)
    .map(
      (t) =>
        markup`<line
            x1="${coordinate(toX(t.value))}"
            x2="${coordinate(toX(t.value))}"
            y1="${PLOT.bottom}"
            y2="${PLOT.bottom + 5}"
            stroke="#333333"
          /><text x="${coordinate(toX(t.value))}" y="${PLOT.bottom + 18}" text-anchor="middle"
            >${t.label}</text
          >`,
    );
  const lines = chart.series.map((series, i) => {
    const style = STYLES[i % STYLES.length] ?? STYLES[0];
    const points = series.points
      .filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y))
      .map((p) => `${coordinate(toX(p.x))},${coordinate(toY(p.y))}`)
      .join(" ");
    return markup`<polyline
      points="${points}"
      fill="none"
      stroke="${style.color}"
      stroke-width="2"
      ${style.dash ? markup` stroke-dasharray="${style.dash}"` : ""}
      ><title>${series.name}</title></polyline
    >`;
  });
  const markers = (chart.markers ?? [])
    .filter((m) => Number.isFinite(m.value) && m.value >= xMin && m.value <= xMax)
    .map(
      (m) =>
        markup`<line
            x1="${coordinate(toX(m.value))}"
            x2="${coordinate(toX(m.value))}"
            y1="${PLOT.top}"
            y2="${PLOT.bottom}"
            stroke="#888888"
            stroke-dasharray="3 3"
          />${
            // A label near the right edge runs leftwards from its line, so it stays inside the chart.
            toX(m.value) > PLOT.right - (PLOT.right - PLOT.left) * 0.15
              ? markup`<text x="${coordinate(toX(m.value) - 3)}" y="${PLOT.top + 10}" fill="#555555" text-anchor="end">${m.label}</text>`
              : markup`<text x="${coordinate(toX(m.value) + 3)}" y="${PLOT.top + 10}" fill="#555555">${m.label}</text>`
          }`,
    );
  const legend: Html[] = [];
  if (chart.series.length > 1) {
    let x = PLOT.left + 8;
    chart.series.forEach((series, i) => {
      const style = STYLES[i % STYLES.length] ?? STYLES[0];
      legend.push(
        markup`<line x1="${x}" x2="${x + 24}" y1="12" y2="12" stroke="${style.color}" stroke-width="2"${style.dash ? markup` stroke-dasharray="${style.dash}"` : ""}/><text x="${x + 30}" y="16">${series.name}</text>`,
      );
      x += 30 + series.name.length * LEGEND_CHAR_WIDTH + 24;
    });
  }

  return markup`<svg
    class="chart"
    viewBox="0 0 ${WIDTH} ${HEIGHT}"
    width="${WIDTH}"
    height="${HEIGHT}"
    role="img"
    aria-labelledby="${chart.id}-title ${chart.id}-desc"
    font-size="11"
    font-family="sans-serif"
  >
    <title id="${chart.id}-title">${chart.title}</title>
    <desc id="${chart.id}-desc">${chart.description}</desc>
    <g>${grid}</g>
    <line x1="${PLOT.left}" x2="${PLOT.right}" y1="${PLOT.bottom}" y2="${PLOT.bottom}" stroke="#333333" />
    <line x1="${PLOT.left}" x2="${PLOT.left}" y1="${PLOT.top}" y2="${PLOT.bottom}" stroke="#333333" />
    <g>${xAxis}</g>
    <text x="${(PLOT.left + PLOT.right) / 2}" y="${HEIGHT - 10}" text-anchor="middle">${chart.xLabel}</text>
    <text transform="translate(14 ${(PLOT.top + PLOT.bottom) / 2}) rotate(-90)" text-anchor="middle">
      ${chart.yLabel}
    </text>
    <g>${markers}</g>
    <g>${lines}</g>
    <g>${legend}</g>
  </svg>`;
}

/** About `count` round ticks (1, 2 or 5 × 10ⁿ apart) from `min` to the first at or above `max`; at least two. */
export function niceTicks(min: number, max: number, count = 5): Tick[] {
  const span = max > min ? max - min : Math.max(Math.abs(max), 1);
  const rough = span / count;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = ([1, 2, 5, 10].find((m) => m * power >= rough) ?? 10) * power;
  const digits = Math.max(0, -Math.floor(Math.log10(step)));
  const first = Math.floor(min / step);
  const ticks: Tick[] = [];
  for (let i = first; ticks.length < 2 || (ticks.at(-1)?.value ?? 0) < max; i++) {
    const value = Number((i * step).toFixed(digits));
    ticks.push({ value, label: formatTick(value, digits) });
  }
  return ticks;
}

function formatTick(value: number, digits: number): string {
  return value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function clamp(value: number, low: number, high: number): number {
  return Math.min(high, Math.max(low, value));
}

function coordinate(value: number): string {
  return value.toFixed(1);
}
