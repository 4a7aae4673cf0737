// Durations as the API writes them (Prometheus style: "30s", "1m", "1h30m", "1d",
// "1w", "1y", "500ms"), in milliseconds.

const UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 7 * 86_400_000,
  y: 365 * 86_400_000,
};

/** parseDuration reads "1h30m" as 5400000; NaN for anything else. "0s" is 0. */
export function parseDuration(s: string): number {
  if (s === '0' || s === '') return s === '0' ? 0 : NaN;
  const re = /(\d+)(ms|s|m|h|d|w|y)/gy;
  let total = 0;
  let at = 0;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    total += Number(m[1]) * UNITS[m[2]];
    at = re.lastIndex;
  }
  return at === s.length && at > 0 ? total : NaN;
}

/** formatDuration writes ms as the API does: 90000 is "1m30s", 0 is "0s". */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  let out = '';
  let left = ms;
  for (const u of ['y', 'w', 'd', 'h', 'm', 's', 'ms']) {
    const n = Math.floor(left / UNITS[u]);
    if (n > 0) {
      out += `${n}${u}`;
      left -= n * UNITS[u];
    }
  }
  return out;
}
