// How the rollout report writes numbers: milliseconds, percentages, counts, rates, bytes and p-values, the
// same way in every table and chart of the page.

const GROUPED = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });

/** `4.21 ms`, `312.4 ms`, `1,234 ms`: about three significant digits, what an HDR histogram resolves. */
export function formatMs(ms: number): string {
  return `${formatMagnitude(ms)} ms`;
}

/** `0.95` → `95.0%`. */
export function formatPercent(fraction: number, digits = 1): string {
  return `${(fraction * 100).toFixed(digits)}%`;
}

export function formatCount(count: number): string {
  return GROUPED.format(count);
}

/** `12.3 requests/s`. */
export function formatRate(perSecond: number, unit: string): string {
  return `${formatMagnitude(perSecond)} ${unit}/s`;
}

/** `1.25×`. */
export function formatRatio(ratio: number): string {
  return `${ratio.toFixed(2)}×`;
}

/** `0.041`, or `3.2e-5` when it is that small. */
export function formatPValue(p: number): string {
  return p >= 0.001 ? p.toFixed(3) : p.toExponential(1);
}

/** `512 B`, `459.3 KiB`, `15.0 GiB`. */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** `42.0 s`, `2 min 5 s`. */
export function formatSeconds(seconds: number): string {
  if (seconds < 120) return `${seconds.toFixed(1)} s`;
  return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
}

/** `2025-06-01T12:00:00.000Z` → `2025-06-01 12:00:00 UTC`; anything else as it is. */
export function formatTimestamp(iso: string): string {
  const match = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(?:\.\d+)?Z$/.exec(iso);
  return match ? `${match[1]} ${match[2]} UTC` : iso;
}

function formatMagnitude(value: number): string {
  const size = Math.abs(value);
  if (size >= 1000) return GROUPED.format(value);
  if (size >= 100) return value.toFixed(1);
  return value.toFixed(2);
}
