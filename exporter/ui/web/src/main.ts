// kwindow's live page: the DOM side. The logic it leans on (steps, series,
// units, the event-stream parser, anomalies, health) lives in pure modules with
// tests; this file fetches, listens and draws.

import './style.css';
import { THRESHOLD, anomalies, scoreMetric, type Anomaly } from './anomaly';
import { api, metrics, stream, token, Unauthorized } from './api';
import { Chart, PALETTE } from './chart';
import { formatDuration, parseDuration } from './duration';
import { formatClock, formatCount, formatLatency, formatPercent, formatRate, formatterFor } from './format';
import { health, HEALTH_METRICS, type Scrape } from './health';
import { Table, type TableWindow } from './latest';
import { parseMetrics, type Sample } from './prom';
import { applyUpdate, chartData, fromRange, latestClosed, topKeys, valueOf, xs, type Model } from './series';
import { alignedRange, chooseStep, RANGES, type Range, type Step, type WindowSpec } from './step';
import { num, type Aggregation, type Envelope, type LatestResult, type RangeResult, type Status, type TopKResult, type WindowUpdate } from './types';

const TOP_KEYS = 5;
const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const el = <K extends keyof HTMLElementTagNameMap>(tag: K, props: Record<string, unknown> = {}, ...kids: (Node | string)[]): HTMLElementTagNameMap[K] => {
  const e = Object.assign(document.createElement(tag), props);
  e.append(...kids);
  return e;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface State {
  aggs: Aggregation[];
  agg: Aggregation;
  spec: WindowSpec;
  range: Range;
  step: Step;
  quantile: string;
  model: Model | null;
  table: Table | null;
  selected: string[] | null; // null: the top keys by traffic
  anomalies: Map<string, Anomaly[]>;
  colors: Map<string, string>;
  abort: AbortController;
  lastCommit: number; // committed_at of the latest update drawn, unix s
}

let st: State;
const charts: Record<string, Chart> = {};
let scrape: Scrape | null = null;
let prevScrape: Scrape | null = null;
let status: Status | null = null;

function specOf(a: Aggregation): WindowSpec {
  const d = (s?: string) => (s ? parseDuration(s) : 0);
  return { type: a.window.type, sizeMs: d(a.window.size), advanceMs: d(a.window.advance), gapMs: d(a.window.gap) };
}

/** The measures the page asks of an aggregation: what its panels show, of what it has. */
function measuresOf(a: Aggregation): string[] {
  return ['count', 'rate', 'error_ratio', 'client_error_ratio', 'p50', 'p95', 'p99'].filter((m) => a.measures.includes(m));
}

function colorOf(key: string): string {
  let c = st.colors.get(key);
  if (!c) {
    c = PALETTE[st.colors.size % PALETTE.length];
    st.colors.set(key, c);
  }
  return c;
}

// ---- token ------------------------------------------------------------------------

async function askToken(refused: boolean): Promise<void> {
  const dlg = $<HTMLDialogElement>('token-dialog');
  if (dlg.open) return new Promise<void>((resolve) => dlg.addEventListener('close', () => resolve(), { once: true }));
  $('token-refused').hidden = !refused;
  const input = $<HTMLInputElement>('token-input');
  input.value = '';
  dlg.showModal();
  await new Promise<void>((resolve) => dlg.addEventListener('close', () => resolve(), { once: true }));
  token.set(input.value.trim());
}

/** withToken runs f, asking for the API's token as long as the API refuses it. */
async function withToken<T>(f: () => Promise<T>): Promise<T> {
  for (let refused = token.get() !== ''; ; refused = true) {
    try {
      return await f();
    } catch (e) {
      if (!(e instanceof Unauthorized)) throw e;
      await askToken(refused);
    }
  }
}

function showError(e: unknown) {
  const box = $('error');
  box.textContent = e instanceof Error ? e.message : String(e);
  box.hidden = false;
}

// ---- loading ----------------------------------------------------------------------

async function start() {
  // Status waits for the first draw: the charts need only the aggregations, which
  // index.html asked for while this bundle loaded.
  const w = window as { kwindowAggregations?: Promise<Response | null> };
  const early = w.kwindowAggregations;
  w.kwindowAggregations = undefined;
  const aggs = await withToken(async () => {
    const r = early && (await early);
    if (r?.ok) return ((await r.json()) as Envelope<Aggregation[]>).data!;
    return api<Aggregation[]>('aggregations');
  });
  const sel = $<HTMLSelectElement>('agg');
  sel.replaceChildren(...aggs.map((a) => el('option', { value: a.name, textContent: `${a.name} (${a.window.type} ${a.window.size ?? a.window.gap}, by ${a.group_by.join(', ') || 'nothing'})` })));
  const wanted = new URLSearchParams(location.hash.slice(1));
  const first = aggs.find((a) => a.name === wanted.get('aggregation')) ?? aggs[0];
  const range = RANGES.find((r) => r.label === wanted.get('range')) ?? RANGES[0];
  st = {
    aggs, agg: first, spec: specOf(first), range, step: chooseStep(range, specOf(first)), quantile: 'p99',
    model: null, table: null, selected: null, anomalies: new Map(), colors: new Map(), abort: new AbortController(), lastCommit: 0,
  };
  sel.value = first.name;
  sel.addEventListener('change', () => select(aggs.find((a) => a.name === sel.value)!, st.range));
  const rangeBox = $('ranges');
  rangeBox.replaceChildren(...RANGES.map((r) => el('button', { type: 'button', textContent: r.label, value: r.label, onclick: () => select(st.agg, r) })));
  for (const q of ['p50', 'p95', 'p99']) {
    $('quantiles').append(el('button', { type: 'button', textContent: q.toUpperCase(), value: q, onclick: () => ((st.quantile = q), render()) }));
  }
  window.matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => Object.values(charts).forEach((c) => c.retheme()));
  for (const [id, measure] of [['rate', 'rate'], ['e5xx', 'error_ratio'], ['e4xx', 'client_error_ratio'], ['lat', 'p99']]) {
    charts[id] = new Chart($(`chart-${id}`), formatterFor(measure));
  }
  setInterval(sideFallback, 5000);
  await select(first, range);
}

async function select(agg: Aggregation, range: Range) {
  st.abort.abort();
  if (agg !== st.agg) {
    // Another aggregation has other keys: start again from its top keys and first colours.
    st.selected = null;
    st.colors.clear();
  }
  const spec = specOf(agg);
  Object.assign(st, { agg, spec, range, step: chooseStep(range, spec), model: null, table: null, abort: new AbortController() });
  history.replaceState(null, '', `#aggregation=${encodeURIComponent(agg.name)}&range=${range.label}`);
  for (const b of $('ranges').querySelectorAll('button')) b.setAttribute('aria-pressed', String(b.value === range.label));
  try {
    await load(st.abort.signal);
  } catch (e) {
    if (!st.abort.signal.aborted) showError(e);
  }
}

async function load(signal: AbortSignal) {
  const { agg, step, range } = st;
  const measures = measuresOf(agg);
  const { from, to } = alignedRange(Date.now(), range, step);
  const since = Math.floor((Date.now() - 2 * (st.spec.sizeMs || step.ms) - parseDuration(agg.window.grace)) / 1000);
  const [r, latest] = await withToken(() =>
    Promise.all([
      api<RangeResult>('query_range', { aggregation: agg.name, measure: measures.join(','), step: formatDuration(step.ms), from: String(from / 1000), to: String(to / 1000) }, signal),
      api<LatestResult>('latest', { aggregation: agg.name, measure: measures.join(','), since: String(since) }, signal),
    ]),
  );
  if (signal.aborted) return;
  $('error').hidden = true;
  st.model = fromRange(r, step.ms / 1000, range.ms / 1000);
  st.table = Table.from(latest);
  buildKeyPicker();
  render();
  refreshSide();
  refreshRegions(signal);
  void listen(agg, measures, signal);
  const ra = regionAggregation();
  if (ra && ra !== agg) void listen(ra, ['count'], signal);
}

/** listen follows the stream of agg's window updates until signal aborts; a stream the server ends is opened again, and what it missed read again. */
async function listen(agg: Aggregation, measures: string[], signal: AbortSignal) {
  const main = agg === st.agg;
  try {
    await stream({ aggregation: agg.name, measure: measures.join(',') }, (e) => {
      if (e.event === 'update') onUpdate(JSON.parse(e.data) as WindowUpdate, main);
    }, signal);
  } catch (e) {
    if (signal.aborted) return;
    if (e instanceof Unauthorized) return void select(st.agg, st.range); // asks for a token again
  }
  if (signal.aborted || !main) return;
  setLive(false);
  await sleep(2000);
  if (!signal.aborted) void select(st.agg, st.range);
}

let renderTimer = 0;
let tailTimer = 0;
let sideTimer = 0;
let lastSide = 0;
let lastEvent = 0;

function onUpdate(u: WindowUpdate, main: boolean) {
  lastEvent = Date.now();
  setLive(true);
  if (!main) {
    if (!u.partial) scheduleRegions();
    return;
  }
  if (u.aggregation !== st.agg.name || !st.model || !st.table) return;
  st.table.apply(u);
  if (st.step.onePerWindow) applyUpdate(st.model, u);
  else if (!tailTimer) tailTimer = window.setTimeout(refetchTail, 500);
  st.lastCommit = Math.max(st.lastCommit, u.committed_at);
  if (!u.partial) {
    scheduleRegions();
    clearTimeout(sideTimer);
    sideTimer = window.setTimeout(refreshSide, 1000); // the anomaly scores of the windows that closed
  } else if (Date.now() - lastSide > 5000) {
    refreshSide();
  }
  if (!renderTimer) renderTimer = window.setTimeout(() => ((renderTimer = 0), render()), 50);
}

/** refetchTail reads the last two steps again: with merged steps a window update cannot be added on the page (sketches do not merge here). */
async function refetchTail() {
  tailTimer = 0;
  const { agg, step, model } = st;
  const signal = st.abort.signal;
  if (!model) return;
  const to = alignedRange(Date.now(), st.range, step).to;
  const from = to - 2 * step.ms;
  try {
    const r = await api<RangeResult>('query_range', { aggregation: agg.name, measure: measuresOf(agg).join(','), step: formatDuration(step.ms), from: String(from / 1000), to: String(to / 1000) }, signal);
    if (signal.aborted || model !== st.model) return;
    for (const [k, ks] of fromRange(r, model.stepSec, model.rangeSec).keys) {
      const cur = model.keys.get(k);
      if (!cur) model.keys.set(k, ks);
      else for (const [t, c] of ks.points) cur.points.set(t, c);
    }
    render();
  } catch (e) {
    if (!signal.aborted) showError(e);
  }
}

function setLive(on: boolean) {
  const l = $('live');
  l.className = on ? 'live on' : 'live';
  l.textContent = on ? 'live' : 'reconnecting…';
}

// ---- anomalies and health: /metrics and /api/v1/status ----------------------------

function sideFallback() {
  // Nothing streams while the exporter restores: read its progress anyway.
  if (Date.now() - lastEvent > 10_000 && Date.now() - lastSide > 10_000) refreshSide();
}

async function refreshSide() {
  lastSide = Date.now();
  try {
    const names = new Set([...HEALTH_METRICS, ...st.aggs.map((a) => scoreMetric(a.name))]);
    const [text, s] = await Promise.all([metrics(), withToken(() => api<Status>('status'))]);
    const samples: Sample[] = parseMetrics(text, (n) => names.has(n));
    prevScrape = scrape;
    scrape = { at: Date.now(), samples };
    status = s;
    st.anomalies = anomalies(samples, st.agg.name, st.agg.group_by);
    renderHealth();
    renderTable();
  } catch (e) {
    showError(e);
  }
}

function renderHealth() {
  if (!scrape || !status) return;
  const h = health(scrape, prevScrape);
  const restoring = status.members.reduce((n, m) => n + m.restoring.length, 0);
  let state = status.ready ? 'ready' : `restoring${status.reason ? ': ' + status.reason : ''}`;
  if (h.restoring) state = `restoring ${formatPercent(h.restoring.done / (h.restoring.done + h.restoring.left))} (${formatCount(h.restoring.left)} records left${restoring ? `, ${restoring} partitions` : ''})`;
  const items: [string, string, string][] = [
    ['state', status.ready && !h.restoring ? 'ok' : 'warn', state],
    ['consumer lag', h.lag != null && h.lag > 100_000 ? 'warn' : '', h.lag == null ? '–' : `${formatCount(h.lag)} records`],
    ['consumed', '', h.recordsPerSec == null ? '…' : formatRate(h.recordsPerSec).replace('req/s', 'records/s')],
    ['aborted transactions', h.aborted ? 'warn' : '', formatCount(h.aborted)],
    ['instances', '', `${status.members.length} (${status.partitions} partitions)`],
    ['version', '', status.version || '–'],
  ];
  $('health').replaceChildren(...items.map(([k, cls, v]) => el('div', { className: `stat ${cls}` }, el('span', { className: 'k', textContent: k }), el('span', { className: 'v', textContent: v }))));
  $('health').dataset.ready = String(status.ready);
}

// ---- drawing ----------------------------------------------------------------------

function shownKeys(): string[] {
  if (!st.model) return [];
  const top = topKeys(st.model);
  return st.selected ? top.filter((k) => st.selected!.includes(k)) : top.slice(0, TOP_KEYS);
}

let pickerKeys = 0;
function buildKeyPicker() {
  const box = $('keylist');
  const all = st.model ? topKeys(st.model) : [];
  pickerKeys = all.length;
  const shown = new Set(shownKeys());
  box.replaceChildren(
    el('button', { type: 'button', textContent: `top ${TOP_KEYS} by traffic`, onclick: () => ((st.selected = null), buildKeyPicker(), render()) }),
    ...all.map((k) => {
      const cb = el('input', { type: 'checkbox', checked: shown.has(k), value: k });
      cb.addEventListener('change', () => {
        st.selected = [...box.querySelectorAll<HTMLInputElement>('input:checked')].map((i) => i.value);
        render();
      });
      return el('label', {}, cb, ' ' + k);
    }),
  );
  $('keys-summary').textContent = st.selected ? `${st.selected.length} of ${all.length} keys` : `top ${Math.min(TOP_KEYS, all.length)} of ${all.length} keys`;
}

function render() {
  const { model, agg, step } = st;
  if (!model) return;
  if (model.keys.size !== pickerKeys) buildKeyPicker(); // a key the stream brought
  const keys = shownKeys();
  const colors = keys.map(colorOf);
  const x = xs(model, Date.now() / 1000);
  let partialFrom = Infinity;
  for (const k of keys) for (const [t, c] of model.keys.get(k)?.points ?? []) if (c.partial && t >= x[0]) partialFrom = Math.min(partialFrom, t);
  const draw = (id: string, measure: string) => {
    const has = agg.measures.includes(measure);
    $(`p-${id}`).hidden = !has;
    if (has) charts[id].set(keys, colors, chartData(model, keys, measure, x), partialFrom, model.stepSec);
  };
  draw('rate', 'rate');
  draw('e5xx', 'error_ratio');
  draw('e4xx', 'client_error_ratio');
  const q = agg.measures.includes(st.quantile) ? st.quantile : (['p99', 'p95', 'p50'].find((m) => agg.measures.includes(m)) ?? 'p99');
  draw('lat', q);
  for (const b of $('quantiles').querySelectorAll('button')) {
    b.setAttribute('aria-pressed', String(b.value === q));
    b.hidden = !agg.measures.includes(b.value);
  }

  const closed = latestClosed(model, 'rate');
  const latest = $('rate-latest');
  latest.replaceChildren(
    ...(closed
      ? [el('span', { className: 'big', textContent: formatRate(closed.total) }), el('span', { className: 'unit', textContent: ` Σ all keys, last closed step ${formatClock(closed.start * 1000)}–${formatClock((closed.start + model.stepSec) * 1000)}` })]
      : [el('span', { className: 'unit', textContent: 'no closed window yet' })]),
  );
  latest.dataset.value = closed ? String(closed.total) : '';
  latest.dataset.start = closed ? String(closed.start) : '';
  $('p-rate').dataset.committedAt = String(st.lastCommit);

  const size = formatDuration(st.spec.sizeMs || step.ms);
  const n = st.spec.sizeMs ? step.ms / st.spec.sizeMs : 0;
  $('note').textContent =
    `Step ${formatDuration(step.ms)}. ` +
    (step.merged
      ? `Each point merges the ${n >= 2 ? n + ' ' : ''}windows of ${size} of a key that start in its step, exactly: counts add and the latency sketches merge bucket by bucket, so a point's P99 is the P99 of all the step's events (within the sketch's ±${((agg.sketch_relative_error ?? 0.0054) * 100).toFixed(2)} %), never an average of per-window P99s. `
      : `Each point is one ${size} window of a key. `) +
    'Shaded: open windows — partial, their values change until the window closes (a partial window\'s rate is its events over the time it has covered).';
  renderTable();
  // Every panel but the regions (drawn once its own queries answer) is drawn: the load time.
  if (performance.getEntriesByName('kwindow:first-draw').length === 0) performance.mark('kwindow:first-draw');
}

function renderTable() {
  const { table, model, agg } = st;
  if (!table || !model) return;
  const has = (m: string) => agg.measures.includes(m);
  const cols: [string, string, (w: TableWindow) => string][] = [
    ['req/s', 'rate', (w) => formatRate(valueOf(w.cell, 'rate', (w.end - w.start)))],
    ['5xx', 'error_ratio', (w) => formatPercent(w.cell.values.error_ratio)],
    ['4xx', 'client_error_ratio', (w) => formatPercent(w.cell.values.client_error_ratio)],
    ['P50', 'p50', (w) => formatLatency(w.cell.values.p50)],
    ['P95', 'p95', (w) => formatLatency(w.cell.values.p95)],
    ['P99', 'p99', (w) => formatLatency(w.cell.values.p99)],
  ];
  const use = cols.filter(([, m]) => has(m));
  const order = topKeys(model);
  const rank = (k: string) => (order.indexOf(k) + 1 || order.length + 1);
  const rows = [...table.rows.values()].sort((a, b) => rank(a.key) - rank(b.key) || (a.key < b.key ? -1 : 1));
  const head = el('tr', {}, el('th', { textContent: agg.group_by.join(' · ') || 'key' }), el('th', { textContent: 'window' }), ...use.map(([h]) => el('th', { textContent: h, className: 'num' })), el('th', { textContent: `anomaly (z > ${THRESHOLD})` }));
  const body: HTMLElement[] = [];
  for (const r of rows) {
    const an = st.anomalies.get(r.key);
    const wins = [...(r.closed ? [r.closed] : []), ...r.open.slice(-1)];
    wins.forEach((w, i) => {
      const tr = el('tr', { className: `${w.cell.partial ? 'partial' : 'closed'}${an ? ' anomalous' : ''}` });
      if (i === 0) {
        const sw = el('span', { className: 'swatch' });
        sw.style.background = st.colors.get(r.key) ?? 'transparent';
        tr.append(el('td', { rowSpan: wins.length, className: 'key' }, sw, r.key));
      }
      tr.append(el('td', { textContent: `${formatClock(w.start * 1000)}–${formatClock(w.end * 1000)}${w.cell.partial ? ' open (partial)' : ' closed'}` }));
      for (const [, , f] of use) tr.append(el('td', { className: 'num', textContent: f(w) }));
      if (i === 0) tr.append(el('td', { rowSpan: wins.length, className: 'anomaly', textContent: an ? an.map((a) => `${a.measure} ${a.score.toFixed(1)}σ`).join(', ') : '' }));
      body.push(tr);
    });
  }
  $('table').replaceChildren(el('thead', {}, head), el('tbody', {}, ...body));
  $('anomaly-count').textContent = st.anomalies.size ? `${st.anomalies.size} anomalous` : '';
}

// ---- regions ----------------------------------------------------------------------

function regionAggregation(): Aggregation | undefined {
  const byRegion = (a: Aggregation) => a.group_by.includes('region');
  return byRegion(st.agg) ? st.agg : st.aggs.find(byRegion);
}

let regionTimer = 0;
function scheduleRegions() {
  clearTimeout(regionTimer);
  regionTimer = window.setTimeout(() => refreshRegions(st.abort.signal), 1000);
}

/** refreshRegions splits the latest closed window of a region aggregation by region, merged exactly by /api/v1/topk. */
async function refreshRegions(signal: AbortSignal) {
  const ra = regionAggregation();
  $('p-region').hidden = !ra;
  if (!ra) return;
  try {
    const spec = specOf(ra);
    const since = Math.floor((Date.now() - 3 * spec.sizeMs) / 1000);
    const latest = await withToken(() => api<LatestResult>('latest', { aggregation: ra.name, measure: 'count', since: String(since) }, signal));
    const start = Math.max(...latest.keys.map((k) => k.closed?.start ?? -Infinity));
    if (!Number.isFinite(start)) {
      $('regions').replaceChildren(el('p', { className: 'empty', textContent: 'no closed window yet' }));
      return;
    }
    const width = (spec.type === 'hopping' ? spec.advanceMs : spec.sizeMs) / 1000;
    const ms = ['count', ...['error_ratio', 'p99'].filter((m) => ra.measures.includes(m))];
    const results = await Promise.all(ms.map((m) => api<TopKResult>('topk', { aggregation: ra.name, group_by: 'region', measure: m, k: '100', from: String(start), to: String(start + width) }, signal)));
    if (signal.aborted) return;
    const by = (i: number) => new Map<string, number | null>(results[i].entries.map((e) => [e.labels.region ?? '', num(e.value)]));
    const counts = by(0);
    const total = [...counts.values()].reduce<number>((a, b) => a + (b ?? 0), 0);
    const secs = spec.sizeMs / 1000;
    const rows = [...counts.entries()].map(([region, n]) => {
      const share = total ? (n ?? 0) / total : 0;
      const bar = el('span', { className: 'bar' });
      bar.style.width = `${(share * 100).toFixed(1)}%`;
      return el('tr', {},
        el('td', { textContent: region }),
        el('td', { className: 'barcell' }, bar, el('span', { textContent: formatPercent(share) })),
        el('td', { className: 'num', textContent: formatRate((n ?? 0) / secs) }),
        el('td', { className: 'num', textContent: ms.includes('error_ratio') ? formatPercent(by(ms.indexOf('error_ratio')).get(region)) : '' }),
        el('td', { className: 'num', textContent: ms.includes('p99') ? formatLatency(by(ms.indexOf('p99')).get(region)) : '' }));
    });
    $('regions').replaceChildren(
      el('caption', { textContent: `${ra.name}, window ${formatClock(start * 1000)}–${formatClock((start + secs) * 1000)}` }),
      el('thead', {}, el('tr', {}, ...['region', 'share of requests', 'req/s', '5xx', 'P99'].map((h) => el('th', { textContent: h })))),
      el('tbody', {}, ...rows),
    );
  } catch (e) {
    if (!signal.aborted) showError(e);
  }
}

start().catch(showError);
