// Units as an SRE reads them: req/s, %, ms.

const nbsp = '\u00a0';

/** Significant digits: 3 below 1000 (12.3, 123), integers above with k/M/G. */
function short(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e9) return trim((v / 1e9).toFixed(2)) + 'G';
  if (a >= 1e6) return trim((v / 1e6).toFixed(2)) + 'M';
  if (a >= 1e4) return trim((v / 1e3).toFixed(1)) + 'k';
  if (a >= 100) return v.toFixed(0);
  if (a >= 10) return trim(v.toFixed(1));
  return trim(v.toFixed(2));
}

function trim(s: string): string {
  return s.includes('.') ? s.replace(/\.?0+$/, '') : s;
}

const missing = (v: number | null | undefined): v is null | undefined => v == null || Number.isNaN(v);

/** A rate in events per second: 40000 → "40k req/s". */
export function formatRate(v: number | null | undefined): string {
  return missing(v) ? '–' : `${short(v)}${nbsp}req/s`;
}

/** A ratio in [0, 1] as a percentage: 0.0123 → "1.23 %"; tiny non-zero ratios keep two significant digits. */
export function formatPercent(ratio: number | null | undefined): string {
  if (missing(ratio)) return '–';
  const p = ratio * 100;
  let s: string;
  if (p === 0) s = '0';
  else if (Math.abs(p) >= 10) s = trim(p.toFixed(1));
  else if (Math.abs(p) >= 0.01) s = trim(p.toFixed(2));
  else s = p.toPrecision(2);
  return `${s}${nbsp}%`;
}

/** A latency in seconds (as the API answers): 0.0123 → "12.3 ms", 1.5 → "1.5 s", 0.00042 → "420 µs". */
export function formatLatency(seconds: number | null | undefined): string {
  if (missing(seconds)) return '–';
  const a = Math.abs(seconds);
  if (a >= 1) return `${short(seconds)}${nbsp}s`;
  if (a >= 1e-3 || a === 0) return `${short(seconds * 1e3)}${nbsp}ms`;
  return `${short(seconds * 1e6)}${nbsp}µs`;
}

/** A count: 1234567 → "1.23M". */
export function formatCount(v: number | null | undefined): string {
  return missing(v) ? '–' : short(v);
}

/** A time of day in the browser's zone, HH:MM:SS, from unix ms. */
export function formatClock(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** The formatter for a measure name as the API spells it. */
export function formatterFor(measure: string): (v: number | null | undefined) => string {
  if (measure === 'rate') return formatRate;
  if (measure.endsWith('ratio')) return formatPercent;
  if (/^(p\d|q0)/.test(measure) || ['sum', 'min', 'max', 'avg'].includes(measure)) return formatLatency;
  return formatCount;
}
