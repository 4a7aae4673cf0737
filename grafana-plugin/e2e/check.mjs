// check.mjs — the checks of make e2e-grafana, against the stack grafana-plugin/e2e/run.sh
// started (two kwindow instances, Prometheus, the load generator, Grafana 10.0 with the
// plugin, the dashboards and the alerting overlay). Each check prints what it measured;
// the process exits 1 when any fails. Environment: see run.sh.
//
//   1. the kwindow data source's health check passes;
//   2. /api/ds/query: the request rate within 5 % of the load generator's, P99s within
//      the sketch's bound (0.54 %) of the query API's own answer for the same range;
//   3. every provisioned dashboard renders in Chromium with no panel in error or
//      showing "No data" (screenshots in OUT);
//   4. a Live panel changes within 2 s of the commit that changed its data;
//   5. a Grafana-managed alert rule on the plugin's query fires on the error spike and
//      notifies the test's webhook;
//   6. the Live dashboard shows one bar per key of the API's top k, a latest table of
//      closed windows only (each endpoint once), and live panels grouped by endpoint
//      with one series per endpoint the API has, named by the legend format.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { chromium } from 'playwright-core';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (run through grafana-plugin/e2e/run.sh)`);
  return v;
};
const GRAFANA = env('GRAFANA_URL');
const API = [env('KWINDOW_URL_0'), env('KWINDOW_URL_1')];
const OUT = env('OUT');
const RATE = Number(env('RATE'));
const LOADGEN_START = Number(env('LOADGEN_START_MS'));
const SPIKE_START = Number(env('SPIKE_START_MS'));
const SPIKE_END = Number(env('SPIKE_END_MS'));
const BROKER = env('BROKER');
const DASHBOARDS = env('DASHBOARDS');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

const DS = { type: 'kwindow-kwindow-datasource', uid: 'kwindow' };
const WINDOW_MS = 10_000; // grafana-plugin/e2e/kwindow.yml: every aggregation's window (or advance)
const SKETCH_BOUND = 0.0054; // relative error of a quantile at sketch schema 6
const RATE_TOLERANCE = 0.05;
const LIVE_LIMIT_MS = 2000;
const ALERT_RULE = 'KwindowCheckoutErrorRatio';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const since = (t) => `${((Date.now() - t) / 1000).toFixed(1)}s`;
const log = (...a) => console.log(`[+${since(LOADGEN_START)}]`, ...a);
const pct = (x) => `${(x * 100).toFixed(3)} %`;

// ---- HTTP helpers --------------------------------------------------------------------
async function grafana(method, p, body) {
  const res = await fetch(GRAFANA + p, {
    method,
    headers: {
      Authorization: 'Basic ' + Buffer.from('admin:admin').toString('base64'),
      'Content-Type': 'application/json',
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = { raw: text };
  }
  return { status: res.status, json };
}

async function kwindow(base, route, params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) for (const x of [v].flat()) q.append(k, String(x));
  const res = await fetch(`${base}/api/v1/${route}?${q}`);
  const j = await res.json();
  if (j.status !== 'success') throw new Error(`${base} ${route}: ${res.status} ${JSON.stringify(j.error)}`);
  return j.data;
}

// dsQuery runs queries through the plugin (/api/ds/query) over [from, to) and returns
// Grafana's results by refId; a query's error fails.
async function dsQuery(from, to, queries) {
  const r = await grafana('POST', '/api/ds/query', {
    from: String(from),
    to: String(to),
    queries: queries.map((q) => ({ datasource: DS, intervalMs: WINDOW_MS, maxDataPoints: 1000, ...q })),
  });
  for (const q of queries) {
    const res = r.json.results?.[q.refId];
    if (!res || res.error || r.status >= 400) {
      throw new Error(`/api/ds/query ${q.refId}: HTTP ${r.status}: ${res?.error ?? JSON.stringify(r.json).slice(0, 300)}`);
    }
  }
  return r.json.results;
}

// wide reads a wide frame: its times, its number fields ({measure, name, labels,
// values}) and its meta.
function wide(frame) {
  const fs = frame.schema.fields;
  const times = frame.data.values[0];
  return {
    times,
    series: fs.slice(1).map((f, i) => ({ measure: f.name, name: f.config?.displayNameFromDS ?? f.name, labels: f.labels ?? {}, values: frame.data.values[i + 1] })),
    meta: frame.schema.meta ?? {},
  };
}

async function retry(ms, what, fn) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`${what} after ${ms / 1000}s: ${last?.message ?? last}`);
    await sleep(500);
  }
}

// ---- the webhook receiver Grafana's contact point posts to ----------------------------
const notifications = [];
const webhook = http.createServer((req, res) => {
  let body = '';
  req.on('data', (d) => (body += d));
  req.on('end', () => {
    const at = Date.now();
    try {
      const msg = JSON.parse(body);
      for (const a of msg.alerts ?? []) {
        notifications.push({ at, status: a.status, labels: a.labels ?? {}, startsAt: Date.parse(a.startsAt), valueString: a.valueString ?? '', summary: a.annotations?.summary ?? '' });
      }
      log(`webhook: ${msg.status} ${(msg.alerts ?? []).map((a) => `${a.labels?.alertname} ${a.status} ${a.valueString ?? ''}`).join('; ')}`);
    } catch (e) {
      log(`webhook: unreadable body (${e.message}): ${body.slice(0, 200)}`);
    }
    res.writeHead(200).end();
  });
});
await new Promise((r) => webhook.listen(Number(env('WEBHOOK_PORT')), '127.0.0.1', r));

// The alert rule's state, sampled from the start: proves it evaluated, and how.
const ruleStates = [];
let ruleSampler = true;
(async () => {
  while (ruleSampler) {
    try {
      const r = await grafana('GET', '/api/prometheus/grafana/api/v1/rules');
      for (const g of r.json.data?.groups ?? []) {
        for (const rule of g.rules ?? []) {
          if (rule.name !== ALERT_RULE) continue;
          const last = ruleStates.at(-1);
          const s = { at: Date.now(), state: rule.state, health: rule.health, error: rule.lastError ?? '', value: rule.alerts?.[0]?.value ?? '' };
          if (!last || last.state !== s.state || last.health !== s.health || last.error !== s.error) {
            ruleStates.push(s);
            log(`alert rule ${ALERT_RULE}: ${s.state}, health ${s.health}${s.error ? `, error: ${s.error}` : ''}`);
          }
        }
      }
    } catch {
      // Grafana still starting
    }
    await sleep(1000);
  }
})();

// ---- the checks ------------------------------------------------------------------------
const results = [];
async function check(n, name, fn) {
  const figures = [];
  const t0 = Date.now();
  log(`check ${n}: ${name}`);
  try {
    await fn((line) => {
      figures.push(line);
      log(`  ${line}`);
    });
    results.push({ n, name, ok: true, figures, seconds: (Date.now() - t0) / 1000 });
    log(`check ${n}: PASS`);
  } catch (e) {
    figures.push(`FAIL: ${e.message}`);
    log(`  FAIL: ${e.message}`);
    results.push({ n, name, ok: false, figures, seconds: (Date.now() - t0) / 1000 });
  }
}
const assert = (cond, msg) => {
  if (!cond) throw new Error(msg);
};

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--disable-dev-shm-usage'],
});

const dashboards = fs
  .readdirSync(DASHBOARDS)
  .filter((f) => f.endsWith('.json'))
  .map((f) => JSON.parse(fs.readFileSync(path.join(DASHBOARDS, f), 'utf8')));

// One browser context for every page, so Grafana's bundle comes from the cache after
// the first page. openPage records what goes wrong on the page and its Grafana Live
// traffic.
const context = await browser.newContext();
async function openPage(p, height) {
  const page = await context.newPage();
  await page.setViewportSize({ width: 1600, height });
  page.problems = [];
  page.on('console', (m) => m.type() === 'error' && page.problems.push(`console: ${m.text()}`));
  page.on('pageerror', (e) => page.problems.push(`pageerror: ${e.message}\n${e.stack ?? ''}`));
  page.on('requestfailed', (r) => !r.url().includes('/api/live/ws') && page.problems.push(`request failed: ${r.failure()?.errorText} ${r.url()}`));
  page.on('response', (r) => r.status() >= 400 && page.problems.push(`HTTP ${r.status()} ${r.url()}`));
  page.wsFrames = [];
  page.wsSent = [];
  page.on('websocket', (ws) => {
    if (!ws.url().includes('/api/live/ws')) return;
    ws.on('framereceived', (f) => page.wsFrames.push({ at: Date.now(), s: String(f.payload) }));
    ws.on('framesent', (f) => page.wsSent.push(String(f.payload)));
  });
  await page.goto(GRAFANA + p, { waitUntil: 'domcontentloaded' });
  return page;
}

// openDashboard opens a dashboard on a page tall enough for every panel (Grafana
// loads only the panels in view), over the last 5 minutes: the stack is minutes old,
// and the live panels stay live (their step must be one window; over the dashboard's
// default 6 hours it would be 20 s or more).
async function openDashboard(d) {
  const rows = Math.max(...d.panels.map((p) => p.gridPos.y + p.gridPos.h));
  const page = await openPage(`/d/${d.uid}?orgId=1&from=now-5m&to=now`, rows * 38 + 260);
  await page.locator('[data-testid^="data-testid Panel header "]').first().waitFor({ timeout: 60000 });
  return page;
}

// panelStates reads every panel: its title, whether it shows an error or "No data",
// whether it is still loading, and its text.
const panelStates = (page) =>
  page.evaluate(() =>
    [...document.querySelectorAll('[data-testid^="data-testid Panel header "]')].map((el) => {
      const text = el.innerText.replace(/\s+/g, ' ').trim();
      return {
        title: el.getAttribute('data-testid').replace('data-testid Panel header ', ''),
        error: !!el.querySelector('[aria-label="Panel status"]'),
        noData: /\bNo data\b/.test(text),
        loading: !!el.querySelector('[aria-label="Panel loading bar"]'),
        text,
      };
    }),
  );

// 1 ---------------------------------------------------------------------------------------
await check(1, 'the kwindow data source health check', async (fig) => {
  const r = await retry(60000, 'health', async () => {
    const r = await grafana('GET', '/api/datasources/uid/kwindow/health');
    if (r.json.status !== 'OK') throw new Error(`HTTP ${r.status}: ${JSON.stringify(r.json)}`);
    return r;
  });
  fig(`GET /api/datasources/uid/kwindow/health: ${r.status} ${r.json.status}: ${r.json.message}`);
  assert(/ready/.test(r.json.message) && /2 instances/.test(r.json.message), `the message does not say ready with 2 instances`);
  const ds = await grafana('GET', '/api/datasources/uid/kwindow');
  fig(`provisioned URLs: ${JSON.stringify(ds.json.jsonData?.urls)}`);
});

// 2 ---------------------------------------------------------------------------------------
await check(2, 'request rate and P99 through /api/ds/query', async (fig) => {
  // Whole windows of steady load: from the first window that starts after the load
  // generator did; a 30 s span (aligned, as the plugin aligns a 30 s step) for one P99
  // over three windows' merged sketches.
  const from = Math.ceil(LOADGEN_START / WINDOW_MS) * WINDOW_MS;
  const span = 30_000;
  const p99From = Math.ceil(from / span) * span;
  const p99To = p99From + span;
  let api;
  await retry(120000, 'closed windows', async () => {
    api = await kwindow(API[0], 'query_range', { aggregation: 'endpoint_1m', group_by: '', measure: 'rate', from: from / 1000, to: Math.floor(Date.now() / WINDOW_MS) * WINDOW_MS / 1000, step: '10s' });
    const pts = api.series[0]?.points ?? [];
    const done = pts.filter((p) => p.complete);
    assert(done.length >= 3 && done.at(-1).end * 1000 >= p99To, `${done.length} complete windows, want 3 and up to ${new Date(p99To).toISOString()}`);
  });
  const done = api.series[0].points.filter((p) => p.complete);
  const to = done.at(-1).end * 1000;

  // The rate, through the plugin, per window.
  const res = await dsQuery(from, to, [{ refId: 'R', queryType: 'range', aggregation: 'endpoint_1m', measures: ['rate', 'count'], groupBy: [] }]);
  const f = wide(res.R.frames[0]);
  const rate = f.series.find((s) => s.measure === 'rate');
  assert(rate, `no rate field in the plugin's frame: ${f.series.map((s) => s.measure).join(', ')}`);
  const rates = rate.values.filter((v) => v != null);
  const mean = rates.reduce((a, b) => a + b, 0) / rates.length;
  const lg = loadgenReport();
  fig(`${rates.length} windows ${new Date(from).toISOString().slice(11, 19)}–${new Date(to).toISOString().slice(11, 19)} through the plugin: rate ${rates.map((r) => r.toFixed(1)).join(', ')} req/s; mean ${mean.toFixed(1)}`);
  fig(`load generator: ${RATE}/s asked${lg ? `, it reports ${lg}` : ''}; plugin / asked = ${(mean / RATE).toFixed(4)} (tolerance ±${RATE_TOLERANCE * 100} %)`);
  fig(`executed: ${f.meta.executedQueryString ?? '(none)'}`);
  assert(Math.abs(mean / RATE - 1) <= RATE_TOLERANCE, `mean rate ${mean.toFixed(1)} is ${pct(mean / RATE - 1)} from ${RATE}`);
  for (const r of rates) assert(Math.abs(r / RATE - 1) <= RATE_TOLERANCE, `a window's rate ${r} is ${pct(r / RATE - 1)} from ${RATE}`);

  // P99 over 30 s (three windows' sketches merged), all endpoints and per endpoint,
  // through the plugin and straight from the query API with the same parameters.
  const pres = await dsQuery(p99From, p99To, [
    { refId: 'P', queryType: 'range', aggregation: 'endpoint_1m', measures: ['p99'], groupBy: [], step: '30s' },
    { refId: 'E', queryType: 'range', aggregation: 'endpoint_1m', measures: ['p99'], groupBy: ['endpoint'], step: '30s', legendFormat: '{{endpoint}}' },
  ]);
  const worst = { rel: 0, what: '' };
  for (const [refId, groupBy] of [['P', ''], ['E', 'endpoint']]) {
    const pf = wide(pres[refId].frames[0]);
    fig(`${refId} executed: ${pf.meta.executedQueryString ?? '(none)'}`);
    assert(pf.times.length === 1 && pf.times[0] === p99From, `the plugin answered ${pf.times.length} points from ${pf.times[0]}, want one at ${p99From}`);
    for (const i of [0, 1]) {
      const direct = await kwindow(API[i], 'query_range', { aggregation: 'endpoint_1m', group_by: groupBy, measure: 'p99', from: p99From / 1000, to: p99To / 1000, step: '30s' });
      assert(direct.complete, `${API[i]}: the 30 s P99 span is not complete`);
      assert(direct.series.length === pf.series.length, `${API[i]} answered ${direct.series.length} series, the plugin ${pf.series.length}`);
      for (const s of direct.series) {
        const want = s.points[0].values.p99;
        const key = s.labels.endpoint ?? '(all)';
        const got = pf.series.find((x) => (x.labels.endpoint ?? '(all)') === key)?.values[0];
        assert(got != null, `the plugin has no P99 for ${key}`);
        const rel = Math.abs(got - want) / want;
        if (rel >= worst.rel) Object.assign(worst, { rel, what: `${key}: plugin ${got.toFixed(6)} s, ${API[i]} ${want.toFixed(6)} s` });
        assert(rel <= SKETCH_BOUND, `P99 of ${key}: plugin ${got}, ${API[i]} ${want}: ${pct(rel)} apart`);
        if (key === '(all)') fig(`P99 ${new Date(p99From).toISOString().slice(11, 19)}+30s, all endpoints, ${s.points[0].windows} windows merged: plugin ${got.toFixed(6)} s, ${API[i]} ${want.toFixed(6)} s (${pct(rel)})`);
      }
    }
    if (refId === 'E') fig(`P99 per endpoint: ${pf.series.length} series, ${pf.series.map((s) => `${s.labels.endpoint} ${(s.values[0] * 1000).toFixed(1)} ms`).join(', ')}`);
  }
  fig(`largest plugin-vs-API P99 difference: ${pct(worst.rel)} (${worst.what}); bound ${pct(SKETCH_BOUND)}`);
});

// 5 (waits for the spike) ------------------------------------------------------------------
await check(5, 'a Grafana-managed alert on the plugin query fires on the error spike and reaches the webhook', async (fig) => {
  fig(`spike: /api/checkout 5xx ratio 0.5 from ${new Date(SPIKE_START).toISOString().slice(11, 19)} to ${new Date(SPIKE_END).toISOString().slice(11, 19)}`);
  const firing = () => notifications.find((n) => n.status === 'firing' && n.labels.alertname === ALERT_RULE);
  await retry(Math.max(0, SPIKE_START - Date.now()) + 90000, 'a firing notification', async () => assert(firing(), 'none yet'));
  const n = firing();
  const before = ruleStates.filter((s) => s.at < SPIKE_START);
  fig(`rule states before the spike: ${before.map((s) => `${s.state}/${s.health}`).join(' → ') || '(none sampled)'}`);
  fig(`first firing notification ${((n.at - SPIKE_START) / 1000).toFixed(1)} s after the spike's start (the alert's startsAt: ${((n.startsAt - SPIKE_START) / 1000).toFixed(1)} s after it): ${JSON.stringify(n.labels)} ${n.valueString}`);
  if (n.summary) fig(`summary: ${n.summary}`);
  const fired = ruleStates.find((s) => s.state === 'firing');
  if (fired) fig(`rule state firing ${((fired.at - SPIKE_START) / 1000).toFixed(1)} s after the spike's start`);
  assert(n.at >= SPIKE_START, `it fired ${((SPIKE_START - n.at) / 1000).toFixed(1)} s before the spike`);
  assert(n.labels.endpoint === '/api/checkout', `it fired for ${JSON.stringify(n.labels)}, want endpoint /api/checkout`);
  assert(before.some((s) => s.state === 'inactive' && s.health === 'ok'), 'the rule was never seen evaluated and normal before the spike');
  assert(!ruleStates.some((s) => s.health === 'error'), `the rule's query failed: ${ruleStates.find((s) => s.health === 'error')?.error}`);
});

// 3 (during the spike, after the alert: the screenshots show both) ------------------------------
await check(3, 'every provisioned dashboard renders with no panel in error or "No data"', async (fig) => {
  const search = await grafana('GET', '/api/search?type=dash-db');
  const provisioned = new Set(search.json.map((d) => d.uid));
  const bad = [];
  for (const d of dashboards) {
    assert(provisioned.has(d.uid), `Grafana has no dashboard ${d.uid}`);
    const opened = Date.now();
    const page = await openDashboard(d);
    const firstPanel = Date.now();
    let states = [];
    const deadline = Date.now() + 60000;
    let okSince = 0;
    for (;;) {
      states = await panelStates(page);
      const good = states.length === d.panels.length && states.every((s) => !s.error && !s.noData && !s.loading);
      okSince = good ? okSince || Date.now() : 0;
      if ((okSince && Date.now() - okSince >= 1500) || Date.now() > deadline) break;
      await sleep(500);
    }
    await page.screenshot({ path: path.join(OUT, `${d.uid}.png`), fullPage: true });
    // For the record (not checked): with every live panel on the page, how soon a
    // commit reaches it on this machine.
    const lat = d.uid === 'kwindow-live' ? await commitToPush(page, API[0], '/api/checkout', 3000) : [];
    const wrong = states.filter((s) => s.error || s.noData);
    const took = okSince ? ` in ${((okSince - opened) / 1000).toFixed(1)} s (first panel at ${((firstPanel - opened) / 1000).toFixed(1)} s)` : '';
    fig(`${d.uid} ("${d.title}"): ${states.length} of ${d.panels.length} panels rendered${took}, ${wrong.length} in error or without data → ${d.uid}.png`);
    if (lat.length) fig(`  with all its live panels on the page, commits of /api/checkout reached it p50 ${quantile(lat, 0.5)} ms, max ${Math.max(...lat)} ms after the commit (${lat.length} commits; not checked)`);
    for (const s of wrong) {
      const p = d.panels.find((x) => x.title === s.title || x.title.replace(/\$\w+/g, '') === s.title);
      const why = s.error ? await panelError(page, s.title) : 'No data';
      fig(`  panel "${s.title}"${p ? ` (id ${p.id})` : ''}: ${why}`);
      bad.push(`${d.uid}: ${s.title}`);
    }
    if (states.length !== d.panels.length) bad.push(`${d.uid}: ${states.length} of ${d.panels.length} panels rendered`);
    // The plugin's own code failing in the browser fails the check; other console
    // errors and failed requests are reported.
    const problems = [...new Set(page.problems)];
    const plugin = problems.filter((p) => p.includes('kwindow-kwindow-datasource') || p.startsWith('pageerror'));
    for (const p of plugin) {
      fig(`  browser error: ${p.replace(/\s+/g, ' ').slice(0, 500)}`);
      bad.push(`${d.uid}: ${p.split('\n')[0].slice(0, 200)}`);
    }
    const other = problems.filter((p) => !plugin.includes(p));
    if (other.length) fig(`  browser: ${other.length} other console errors or failed requests: ${other.slice(0, 5).join(' | ').replace(/\s+/g, ' ').slice(0, 600)}`);
    await page.close();
  }
  assert(bad.length === 0, `${bad.length} problems: ${bad.join('; ')}`);
});

// 6 (after 3, before 4's probes) ------------------------------------------------------------
await check(6, 'the Live dashboard shows a bar per key, closed windows only, and a live series per key named by its legend', async (fig) => {
  const d = dashboards.find((x) => x.uid === 'kwindow-live');
  assert(d, 'no kwindow-live dashboard in dashboards/provisioning');
  const aggregation = d.templating.list.find((v) => v.name === 'aggregation')?.current?.value ?? 'endpoint_1m';
  const bad = [];

  // a) "Busiest keys" (a bar gauge of the top-k table): one bar per key the query
  // API's own top k has over the same 5 minutes, each named by its key.
  const page = await openDashboard(d);
  try {
    const busy = page.locator('[data-testid^="data-testid Panel header Busiest keys"]');
    const bars = busy.locator('[data-testid="data-testid Bar gauge value"]');
    await retry(60000, 'the bar gauge drawn', async () => assert((await bars.count()) > 1, `${await bars.count()} bars`));
    const now = Date.now();
    const top = await kwindow(API[0], 'topk', { aggregation, k: 10, from: (now - 300_000) / 1000, to: now / 1000 });
    const keys = top.entries.map((e) => top.group_by.map((g) => e.labels[g]).join(' '));
    const n = await bars.count();
    const text = await busy.innerText();
    const missing = keys.filter((k) => !text.includes(k));
    fig(`"Busiest keys" (${aggregation}): ${n} bars; the API's top ${top.k} over the last 5 minutes has ${keys.length} keys (${keys.slice(0, 4).join(', ')}${keys.length > 4 ? ', …' : ''})`);
    if (n !== keys.length) bad.push(`"Busiest keys" shows ${n} bars, the API has ${keys.length} keys`);
    if (missing.length) bad.push(`"Busiest keys" names no bar ${missing.join(', ')}`);

    // b) "Latest closed window per endpoint": every row is a window whose end plus
    // grace (2 s, e2e/kwindow.yml) had passed when the page read it, and each endpoint
    // once (the rows in view: the table scrolls).
    const table = page.locator('[data-testid="data-testid Panel header Latest closed window per endpoint"]');
    await retry(30000, 'the latest table drawn', async () => assert((await table.locator('[role="row"]').count()) > 2, 'no rows yet'));
    const read = Date.now();
    const header = (await table.locator('[role="row"]').first().innerText()).split(/\s*\n\s*/).map((h) => h.trim());
    const rows = await table.locator('[role="row"]').evaluateAll((rs) => rs.slice(1).map((r) => [...r.querySelectorAll('[role="cell"]')].map((c) => c.innerText.trim())));
    const col = (name) => header.indexOf(name);
    const endpoints = rows.map((r) => r[col('endpoint')]);
    const open = rows.filter((r) => Date.parse(r[col('end')]) + 2000 > read);
    fig(`"Latest closed window": columns ${header.join(', ')}; ${rows.length} rows in view: ${rows.map((r) => `${r[col('endpoint')]} ${r[col('start')].slice(11)}–${r[col('end')].slice(11)}`).join(', ')}`);
    if (col('partial') >= 0) bad.push('"Latest closed window" shows a partial column');
    if (open.length) bad.push(`"Latest closed window" lists ${open.length} windows not yet closed (${open.map((r) => `${r[col('endpoint')]} ending ${r[col('end')]}`).join(', ')})`);
    if (new Set(endpoints).size !== endpoints.length) bad.push(`"Latest closed window" lists an endpoint twice: ${endpoints.join(', ')}`);
  } finally {
    await page.close();
  }

  // c) Live panels grouped by endpoint: one series per endpoint that the query API has
  // a window of in the last 5 minutes, named by the legend format ({{endpoint}}).
  // The provisioned panel (per key: each update relayed) and one grouping a two-
  // dimension aggregation (status_5m by endpoint: merged points asked again).
  const live = async (title, target, dims, url) => {
    const page = await openPage(url, 1000);
    try {
      const panel = page.locator(`[data-testid="data-testid Panel header ${title}"]`);
      await panel.waitFor({ timeout: 60000 });
      const legend = panel.locator('[aria-label^="VizLegend series "]');
      await retry(60000, `"${title}" subscribed and drawn`, async () => {
        assert(page.wsSent.some((f) => f.includes('ds/kwindow/stream/')), 'no subscription yet');
        assert((await legend.count()) > 0, 'no legend yet');
      });
      // Two windows' worth of live updates, then read.
      await sleep(2 * WINDOW_MS);
      const names = (await legend.evaluateAll((ls) => ls.map((l) => l.getAttribute('aria-label').replace('VizLegend series ', '')))).sort();
      const now = Date.now();
      const api = await kwindow(API[0], 'query_range', { aggregation: target.aggregation, group_by: dims, measure: target.measures[0], from: (now - 300_000) / 1000, to: now / 1000 });
      const want = api.series.map((s) => s.labels.endpoint).sort();
      fig(`"${title}": ${names.length} live series (${names.slice(0, 4).join(', ')}${names.length > 4 ? ', …' : ''}); the API has ${want.length} endpoints`);
      if (names.join('|') !== want.join('|')) bad.push(`"${title}": series ${JSON.stringify(names)}, want one per endpoint named by it: ${JSON.stringify(want)}`);
      await page.screenshot({ path: path.join(OUT, `live-${target.aggregation}.png`) });
    } finally {
      await page.close();
    }
  };
  const perEndpoint = d.panels.find((p) => p.title === 'Requests/s per endpoint (live)');
  assert(perEndpoint, 'no panel "Requests/s per endpoint (live)" on kwindow-live');
  await live(perEndpoint.title, perEndpoint.targets[0], 'endpoint', `/d/kwindow-live?orgId=1&from=now-5m&to=now&viewPanel=${perEndpoint.id}`);

  const title = 'Requests/s per endpoint of status_5m (live)';
  const target = { refId: 'A', datasource: DS, queryType: 'range', aggregation: 'status_5m', measures: ['rate'], groupBy: ['endpoint'], legendFormat: '{{endpoint}}', live: true };
  const r = await grafana('POST', '/api/dashboards/db', {
    overwrite: true,
    dashboard: {
      uid: 'kwindow-e2e-live-grouped',
      title: 'kwindow e2e: live grouped',
      time: { from: 'now-5m', to: 'now' },
      panels: [{ id: 1, type: 'timeseries', title, datasource: DS, gridPos: { x: 0, y: 0, w: 24, h: 12 }, targets: [target],
        options: { legend: { displayMode: 'list', placement: 'bottom', showLegend: true } } }],
    },
  });
  assert(r.status === 200, `creating the grouped dashboard: HTTP ${r.status} ${JSON.stringify(r.json)}`);
  try {
    await live(title, target, 'endpoint', '/d/kwindow-e2e-live-grouped?orgId=1');
  } finally {
    await grafana('DELETE', '/api/dashboards/uid/kwindow-e2e-live-grouped');
  }
  assert(bad.length === 0, bad.join('; '));
});

// 4 (last: its probe events would show in the other checks' screenshots) -------------------
await check(4, 'a Live panel changes within 2 s of a commit', async (fig) => {
  const d = dashboards.find((x) => x.uid === 'kwindow-live');
  assert(d, 'no kwindow-live dashboard in dashboards/provisioning');

  // Every live query of the Live dashboard gets a Grafana Live channel (the plugin
  // says "not live: …" in a notice when it cannot stream a query).
  const now = Date.now();
  const live = [];
  for (const p of d.panels) {
    for (const t of p.targets ?? []) {
      if (!t.live) continue;
      const q = JSON.parse(JSON.stringify(t).replaceAll('${endpoint:regex}', '.*').replaceAll('${region:regex}', '.*'));
      const r = await dsQuery(now - 300_000, now, [{ ...q, refId: 'L', intervalMs: 500, maxDataPoints: 800 }]);
      const meta = r.L.frames?.[0]?.schema?.meta ?? {};
      const notes = (meta.notices ?? []).map((n) => n.text).filter((t) => /live/.test(t));
      assert(meta.channel, `panel "${p.title}" is not live: ${notes.join('; ') || 'no channel'}`);
      live.push(p.title);
    }
  }
  fig(`${live.length} live queries on kwindow-live, each with a Grafana Live channel: ${live.map((t) => `"${t}"`).join(', ')}`);

  // a) The provisioned panel, alone on the page (viewPanel: the browser renders only
  // it). A probe: an event of a new endpoint, produced with kcat. The commit that
  // takes it in is seen on the query API's own stream (committed_at, the commit's
  // time); the panel's legend must show the new series within 2 s of that commit.
  const title = 'Requests/s per endpoint (live)';
  const panelId = d.panels.find((p) => p.title === title)?.id;
  assert(panelId, `no panel "${title}" on kwindow-live`);
  const page = await openPage(`/d/kwindow-live?orgId=1&from=now-5m&to=now&viewPanel=${panelId}`, 1000);
  try {
    await page.locator(`[data-testid="data-testid Panel header ${title}"]`).waitFor({ timeout: 60000 });
    await retry(60000, 'a Grafana Live push of the panel', async () => assert(page.wsFrames.some((f) => f.s.includes('/api/checkout')), 'none yet'));
    const probe = `/e2e/live-probe-${Date.now() % 100000}`;
    const sse = subscribe(API[1], probe);
    await sse.ready;
    await watchText(page, `[data-testid="data-testid Panel header ${title}"]`, probe);
    const produced = Date.now();
    await produce(probe);
    const u = await sse.next((u) => u.values.count === 1, 10000);
    const seen = await waitWatched(page, 10000);
    const commit = u.committed_at * 1000;
    const push = page.wsFrames.find((f) => f.at >= produced && f.s.includes(probe));
    fig(`"${title}" (provisioned, viewPanel=${panelId}): probe ${probe} committed ${Math.round(commit - produced)} ms after kcat started` +
      `, Grafana Live push ${push ? Math.round(push.at - commit) : '?'} ms after the commit, in the legend ${Math.round(seen - commit)} ms after it (limit ${LIVE_LIMIT_MS})`);
    assert(seen - commit <= LIVE_LIMIT_MS, `the panel showed the probe ${Math.round(seen - commit)} ms after its commit`);
    sse.close();

    // Ordinary traffic: each commit's update of /api/checkout, matched to the push
    // that carried it to this page.
    const lat = await commitToPush(page, API[0], '/api/checkout', 5000);
    fig(`/api/checkout over 5 s: ${lat.length} commits matched to pushes; commit → browser p50 ${quantile(lat, 0.5)} ms, p95 ${quantile(lat, 0.95)} ms, max ${Math.max(...lat)} ms`);
    assert(lat.length > 0, 'no commit of /api/checkout matched a Grafana Live push');
    assert(Math.max(...lat) <= LIVE_LIMIT_MS, `a commit reached the browser ${Math.max(...lat)} ms after it was made`);
    await page.screenshot({ path: path.join(OUT, 'live-panel.png') });
  } finally {
    await page.close();
  }

  // b) A value: a live stat panel of one key (a dashboard the test adds through the
  // API, with the query a user would build in the editor: count of the probe's
  // endpoint, live). Three events one second apart: the stat must read 1, 2, 3, each
  // within 2 s of the commit that made it.
  const probe = `/e2e/live-stat-${Date.now() % 100000}`;
  const stat = 'Probe count (live)';
  const r = await grafana('POST', '/api/dashboards/db', {
    overwrite: true,
    dashboard: {
      uid: 'kwindow-e2e-live-stat',
      title: 'kwindow e2e: live stat',
      time: { from: 'now-5m', to: 'now' },
      panels: [{
        id: 1, type: 'stat', title: stat, datasource: DS, gridPos: { x: 0, y: 0, w: 8, h: 6 },
        targets: [{ refId: 'A', datasource: DS, queryType: 'range', aggregation: 'endpoint_1m', measures: ['count'],
          filters: [{ dim: 'endpoint', op: '=', value: probe }], groupBy: ['endpoint'], live: true }],
        options: { reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false }, textMode: 'value', graphMode: 'none' },
        fieldConfig: { defaults: { unit: 'none', decimals: 0 }, overrides: [] },
      }],
    },
  });
  assert(r.status === 200, `creating the probe dashboard: HTTP ${r.status} ${JSON.stringify(r.json)}`);
  const sp = await openPage('/d/kwindow-e2e-live-stat?orgId=1', 600);
  try {
    const sel = `[data-testid="data-testid Panel header ${stat}"]`;
    await sp.locator(sel).waitFor({ timeout: 60000 });
    // Subscribed: Grafana answered the subscription to the panel's channel.
    await retry(60000, 'the stat panel subscribed', async () => assert(sp.wsSent.some((f) => f.includes('ds/kwindow/stream/')), 'no subscription yet'));
    await sleep(1000);
    const sse = subscribe(API[0], probe);
    await sse.ready;
    // All three in one window (the count starts again in the next one): start just
    // after a window opens; the three take about 5 s of its 10.
    await sleep((WINDOW_MS + 300 - (Date.now() % WINDOW_MS)) % WINDOW_MS);
    const shown = [];
    for (const n of [1, 2, 3]) {
      await watchText(sp, sel, null, String(n));
      await produce(probe);
      const u = await sse.next((u) => u.values.count === n, 10000);
      const seen = await waitWatched(sp, 10000);
      shown.push(Math.round(seen - u.committed_at * 1000));
      await sleep(1000);
    }
    sse.close();
    const text = (await sp.locator(sel).innerText()).replace(/\s+/g, ' ');
    fig(`stat "${stat}" of ${probe}: read 1, 2, 3 at ${shown.join(', ')} ms after each commit (limit ${LIVE_LIMIT_MS}); now shows "${text}"`);
    assert(shown.every((ms) => ms <= LIVE_LIMIT_MS), `the stat changed ${Math.max(...shown)} ms after a commit`);
    await sp.screenshot({ path: path.join(OUT, 'live-stat.png') });
  } finally {
    await sp.close();
    await grafana('DELETE', '/api/dashboards/uid/kwindow-e2e-live-stat');
  }
});

// ---- helpers of the checks above -----------------------------------------------------------

// subscribe follows the query API's live stream of one endpoint.
function subscribe(base, endpoint) {
  const ac = new AbortController();
  const updates = [];
  let wake = () => {};
  let onReady;
  const ready = new Promise((r) => (onReady = r));
  (async () => {
    const q = new URLSearchParams({ aggregation: 'endpoint_1m', 'match[]': `endpoint="${endpoint}"`, measure: 'rate,count' });
    const res = await fetch(`${base}/api/v1/stream?${q}`, { signal: ac.signal });
    let buf = '';
    for await (const chunk of res.body) {
      buf += Buffer.from(chunk).toString();
      if (buf.includes(': subscribed')) onReady();
      let i;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const ev = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const data = ev.split('\n').find((l) => l.startsWith('data: '));
        if (ev.includes('event: update') && data) {
          updates.push({ ...JSON.parse(data.slice(6)), receivedAt: Date.now() });
          wake();
        }
      }
    }
  })().catch(() => {});
  return {
    ready,
    close: () => ac.abort(),
    next: async (pred, ms) => {
      const deadline = Date.now() + ms;
      for (;;) {
        const u = updates.find(pred);
        if (u) return u;
        if (Date.now() > deadline) throw new Error(`no matching update of ${endpoint} on ${base}'s stream within ${ms} ms`);
        await new Promise((r) => {
          wake = r;
          setTimeout(r, 100);
        });
      }
    },
  };
}

// produce writes one request event for endpoint, stamped now, to the input topic.
function produce(endpoint) {
  const ev = JSON.stringify({ timestamp: Date.now(), endpoint, method: 'GET', status: 200, region: 'us-east-1', latency_ms: 5 });
  return new Promise((resolve, reject) => {
    const p = spawn('kcat', ['-P', '-b', BROKER, '-t', 'requests'], { stdio: ['pipe', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d) => (err += d));
    p.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`kcat exited ${code}: ${err}`))));
    p.stdin.end(ev + '\n');
  });
}

// watchText starts a watcher in the page: the time (Date.now(), the same clock as
// this process's) at which the element's text first contains text, or, with
// value, the stat value reads exactly value. waitWatched waits for it.
async function watchText(page, selector, text, value) {
  await page.evaluate(
    ({ selector, text, value }) => {
      clearInterval(window.__watch?.timer);
      const w = (window.__watch = { seen: 0 });
      w.timer = setInterval(() => {
        const el = document.querySelector(selector);
        if (!el || w.seen) return;
        const t = el.innerText;
        const ok = text ? t.includes(text) : t.split('\n').map((l) => l.trim()).includes(value);
        if (ok) {
          w.seen = Date.now();
          clearInterval(w.timer);
        }
      }, 10);
    },
    { selector, text, value },
  );
}
function waitWatched(page, ms) {
  return page.waitForFunction(() => window.__watch.seen, null, { timeout: ms, polling: 50 }).then((h) => h.jsonValue());
}

// commitToPush follows endpoint's updates on base's stream for ms and, for each, finds
// the first Grafana Live push after its commit that carries that value for that key:
// the commit-to-browser latency of each update (ms).
async function commitToPush(page, base, endpoint, ms) {
  const sse = subscribe(base, endpoint);
  await sse.ready;
  const t0 = Date.now();
  await sleep(ms);
  await sleep(LIVE_LIMIT_MS + 500); // the last updates' pushes
  sse.close();
  const lat = [];
  const ups = [];
  try {
    for (;;) ups.push(await sse.next((u) => !ups.includes(u) && u.committed_at * 1000 >= t0, 0));
  } catch {
    // all taken
  }
  // Each frame read once (JSON parsing every frame for every update would hold up the
  // event loop, and with it the timestamps of everything else this process records).
  const frames = page.wsFrames.filter((f) => f.at >= t0 - 100 && f.s.includes(endpoint)).map((f) => ({ at: f.at, rows: liveRows(f.s) }));
  for (const u of ups.filter((u) => u.receivedAt <= t0 + ms)) {
    const c = u.committed_at * 1000;
    const push = frames.find((f) => f.at >= c - 50 && f.rows.some((r) => r.labels.includes(endpoint) && r.time === u.start * 1000 && r.value === u.values.rate));
    if (push) lat.push(Math.round(push.at - c));
  }
  return lat;
}

// liveRows reads the rows of the kwindow frames in a Grafana Live websocket frame
// (centrifuge JSON, one message a line): labels, time and first measure.
function liveRows(s) {
  const rows = [];
  for (const line of s.split('\n')) {
    let m;
    try {
      m = JSON.parse(line);
    } catch {
      continue;
    }
    const data = m.push?.pub?.data ?? m.result?.data?.data ?? m.result?.publications?.[0]?.data;
    const frame = data?.frame ?? data;
    const v = frame?.data?.values;
    if (!Array.isArray(v) || v.length < 3) continue;
    for (let i = 0; i < v[0].length; i++) rows.push({ labels: String(v[0][i]), time: v[1][i], value: v[2][i] });
  }
  return rows;
}

// panelError reads a panel's error text from the tooltip of its status icon.
async function panelError(page, title) {
  const status = page.locator(`[data-testid="data-testid Panel header ${title}"] [aria-label="Panel status"]`).first();
  try {
    await status.hover({ timeout: 3000 });
    await sleep(300);
    const tip = await page.locator('[role="tooltip"], .tooltip, [data-popper-placement]').last().innerText({ timeout: 2000 });
    return `error: ${tip.replace(/\s+/g, ' ').slice(0, 400)}`;
  } catch {
    return 'error (no tooltip text)';
  }
}

function loadgenReport() {
  try {
    const lines = fs.readFileSync(env('LOADGEN_LOG'), 'utf8').split('\n').filter((l) => l.startsWith('…'));
    return lines.at(-1)?.replace(/^…\s*/, '');
  } catch {
    return '';
  }
}

function quantile(xs, q) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)];
}

// ---- summary -----------------------------------------------------------------------------------
ruleSampler = false;
// The alert's resolution comes after the spike, usually once the other checks are done:
// reported, not checked.
const resolved = notifications.find((n) => n.status === 'resolved' && n.labels.alertname === ALERT_RULE && n.at > SPIKE_START);
results.find((r) => r.n === 5)?.figures.push(resolved
  ? `resolved notification ${((resolved.at - SPIKE_END) / 1000).toFixed(1)} s after the spike's end`
  : `no resolved notification yet (the spike ${Date.now() < SPIKE_END ? 'ends in' : 'ended'} ${(Math.abs(SPIKE_END - Date.now()) / 1000).toFixed(0)} s${Date.now() < SPIKE_END ? '' : ' ago'})`);
await browser.close();
webhook.close();
results.sort((a, b) => a.n - b.n);
console.log('\n==== make e2e-grafana: summary');
for (const r of results) {
  console.log(`${r.ok ? 'PASS' : 'FAIL'}  ${r.n}. ${r.name} (${r.seconds.toFixed(1)} s)`);
  for (const f of r.figures) console.log(`        ${f}`);
}
const failed = results.filter((r) => !r.ok).length;
console.log(`${results.length - failed} passed, ${failed} failed; screenshots in ${OUT}`);
fs.writeFileSync(path.join(OUT, 'summary.json'), JSON.stringify({ results, notifications, ruleStates }, null, 2));
process.exit(failed ? 1 : 0);
