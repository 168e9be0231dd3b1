// The bench's driver of the software center's page: one node process per
// scenario, one headless Chromium, JSON commands a line on stdin, JSON
// answers a line on stdout. Times are in milliseconds: ms as node saw it
// (from before the action to the page saying it is done), page_ms inside
// the page (from the navigation's start or the key's event to the DOM
// showing the result, after the next animation frame).
//
// Conditions are watched in the page with a MutationObserver rather than
// polled from node, so a figure of a few milliseconds is not rounded up to
// a polling interval.
//
// ARBOR_BENCH_PROFILE=FILE appends a line of JSON to FILE for each timed
// install: the CPU time each of Chromium's processes, node and the daemon
// used from before the click to Remove shown, and what Chromium's
// Performance metrics (layouts, style recalcs, script, tasks) counted, and
// the server-sent events the page got, with ms from the profile's start;
// ARBOR_BENCH_TRACE=PREFIX writes a Chromium trace of the same time to
// PREFIX.<time>.json, for chrome://tracing or Perfetto.
import { createRequire } from 'node:module';
import { readFileSync, readdirSync, appendFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { performance } from 'node:perf_hooks';

const require = createRequire(import.meta.url);
const { chromium } = require(process.env.ARBOR_PLAYWRIGHT_CORE || '../center/node_modules/playwright-core');

let browser = null;
let context = null;
let page = null;

// In the page: helpers to say whether a text is shown and whether a
// button is, and to wait for a condition as the DOM changes.
const helpers = () => {
  if (window.__arbor) return;
  const shown = el => el && (el.checkVisibility ? el.checkVisibility() : el.getClientRects().length > 0);
  const hasText = name => {
    if (!document.body) return false;
    const w = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let n = w.nextNode(); n; n = w.nextNode()) {
      if (n.data.trim() === name && shown(n.parentElement)) return true;
    }
    return false;
  };
  const accName = b => (b.getAttribute('aria-label') || b.textContent || '').trim();
  const hasButton = name => [...document.querySelectorAll('button, [role=button]')].some(b => accName(b) === name && shown(b));
  const check = c => (c.show || []).every(hasText) && (c.hide || []).every(t => !hasText(t)) &&
    (c.buttons || []).every(hasButton);
  const wait = c => new Promise(resolve => {
    let obs = null;
    const done = () => {
      if (!check(c)) return false;
      const seen = performance.now();
      if (obs) obs.disconnect();
      requestAnimationFrame(() => resolve({ seen, painted: performance.now() }));
      return true;
    };
    if (done()) return;
    obs = new MutationObserver(done);
    obs.observe(document, { subtree: true, childList: true, characterData: true, attributes: true });
  });
  window.__arbor = { wait, check };
  // When the input arrived, as the event says (the same clock as
  // performance.now()).
  window.addEventListener('keydown', ev => { window.__arborKey = ev.timeStamp; }, true);
  window.addEventListener('mousedown', ev => { window.__arborDown = ev.timeStamp; }, true);
  window.addEventListener('click', ev => { window.__arborClick = ev.timeStamp; }, true);
};

const launch = async () => {
  browser = await chromium.launch({
    executablePath: process.env.ARBOR_CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  return {};
};

const newPage = async () => {
  if (context) await context.close();
  context = await browser.newContext();
  await context.addInitScript(helpers);
  if (process.env.ARBOR_BENCH_PROFILE) await context.addInitScript(heard);
  page = await context.newPage();
};

// heard, in the page when profiling: when each server-sent event of a job
// came, on the page's clock, before the page's own listener ran.
const heard = () => {
  const ES = window.EventSource;
  window.__arborHeard = [];
  window.EventSource = function (...args) {
    const es = new ES(...args);
    es.addEventListener('job', ev => {
      let what = '';
      try { const j = JSON.parse(ev.data); what = `${j.state} ${j.phase || ''}`; } catch { /* torn */ }
      window.__arborHeard.push([performance.now(), what]);
    });
    return es;
  };
};

// cpuByProcess is the CPU time (ms, from the scheduler's nanoseconds) of
// every process of the browser (node's descendants), keyed by pid and kind
// ("renderer", "gpu-process", "browser", "renderer-webui" for the browser's
// own interface), and, with daemon, of processes named arbor or arbord.
const cpuByProcess = (daemon = false) => {
  const procs = {};
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const st = readFileSync(`/proc/${p}/stat`, 'utf8');
      const close = st.lastIndexOf(')');
      procs[p] = { ppid: st.slice(close + 2).split(' ')[1], comm: st.slice(st.indexOf('(') + 1, close) };
    } catch { /* gone */ }
  }
  const me = String(process.pid);
  const mine = p => { for (let q = procs[p] && procs[p].ppid; q && procs[q]; q = procs[q].ppid) if (q === me) return true; return false; };
  const out = {};
  for (const p of Object.keys(procs)) {
    let kind;
    if (mine(p)) {
      let cmd = '';
      try { cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8'); } catch { continue; }
      kind = (cmd.match(/--type=([a-z-]+)/) || [0, 'browser'])[1];
      if (cmd.includes('--top-chrome-webui')) kind += '-webui';
    } else if (daemon && (procs[p].comm === 'arbor' || procs[p].comm === 'arbord')) {
      kind = procs[p].comm;
    } else continue;
    let ns = 0;
    try {
      for (const t of readdirSync(`/proc/${p}/task`)) ns += Number(readFileSync(`/proc/${p}/task/${t}/schedstat`, 'utf8').split(' ')[0]);
    } catch { continue; }
    out[`${p} ${kind}`] = ns / 1e6;
  }
  return out;
};
const browserCPU = () => Object.values(cpuByProcess()).reduce((a, b) => a + b, 0);

// quiet waits until the browser's processes together use under budget ms
// of CPU in a window of ms (up to max ms), and says how long it waited. A
// new context makes a new window, and this Chromium's headless mode draws
// the browser's own interface for it in a WebUI renderer, which takes about
// half a second of CPU in the second after it opens: a user's browser did
// that when its window opened, not while they click.
const quiet = async ({ window = 100, budget = 5, max = 5000 } = {}) => {
  const t0 = performance.now();
  let last = browserCPU();
  while (performance.now() - t0 < max) {
    await new Promise(r => setTimeout(r, window));
    const now = browserCPU();
    if (now - last < budget) break;
    last = now;
  }
  return performance.now() - t0;
};

// profile starts counting what the browser does; its stop appends the
// counts to ARBOR_BENCH_PROFILE.
const profile = async () => {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Performance.enable');
  await cdp.send('Network.enable');
  const t0 = performance.now();
  const events = [];
  cdp.on('Network.eventSourceMessageReceived', e => {
    let what = e.eventName;
    try { const j = JSON.parse(e.data); if (j.state) what += ` ${j.state} ${j.phase || ''}: ${j.message || ''}`; } catch { /* not JSON */ }
    events.push(`+${(performance.now() - t0).toFixed(1)} ${what}`);
  });
  const metrics = async () => Object.fromEntries((await cdp.send('Performance.getMetrics')).metrics.map(m => [m.name, m.value]));
  const m0 = await metrics();
  if (process.env.ARBOR_BENCH_TRACE) await browser.startTracing(page, { path: `${process.env.ARBOR_BENCH_TRACE}.${Date.now()}.json`, categories: ['devtools.timeline', 'disabled-by-default-devtools.timeline', 'toplevel', 'blink', 'cc', 'viz', 'renderer.scheduler'] });
  const c0 = cpuByProcess(true);
  let cm = null;
  let ce = null;
  const stop = async extra => {
    const c1 = ce || cpuByProcess(true);
    const m1 = await metrics();
    if (process.env.ARBOR_BENCH_TRACE) await browser.stopTracing();
    await cdp.detach();
    const cpu = {};
    for (const [k, v] of Object.entries(c1)) if (v - (c0[k] || 0) >= 0.05) cpu[k] = +(v - (c0[k] || 0)).toFixed(1);
    const after = {};
    for (const [k, v] of Object.entries(c1)) if (cm && v - (cm[k] || 0) >= 0.05) after[k] = +(v - (cm[k] || 0)).toFixed(1);
    const perf = {};
    for (const k of ['LayoutCount', 'RecalcStyleCount', 'LayoutDuration', 'RecalcStyleDuration', 'ScriptDuration', 'TaskDuration', 'TaskOtherDuration', 'ThreadTime', 'ProcessTime', 'DevToolsCommandDuration']) {
      if (k in m1) perf[k] = +((m1[k] - (m0[k] || 0)) * (k.endsWith('Count') ? 1 : 1000)).toFixed(1);
    }
    appendFileSync(process.env.ARBOR_BENCH_PROFILE, JSON.stringify({ ...extra, cpu_ms: cpu, cpu_after_click_ms: after, perf, events }) + '\n');
  };
  // clicked marks the end of Playwright's click: what follows is the job.
  // ended, the end of the timed part.
  stop.clicked = () => { cm = cpuByProcess(true); };
  stop.ended = () => { ce = cpuByProcess(true); };
  return stop;
};

// arm starts watching for a condition in the page; the promise is kept in
// the page, to be awaited by settle.
const arm = c => page.evaluate(c => { window.__arborPending = window.__arbor.wait(c); }, c);
const settle = () => page.evaluate(() => window.__arborPending);

const withTimeout = (p, ms, what) => Promise.race([p,
  new Promise((_, reject) => setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms))]);

const ops = {
  launch,

  // first: a fresh context opens the URL; done when the first card's name
  // is shown. The condition is armed before the document exists, by an
  // init script, so nothing is missed.
  async first({ url, name, timeout = 30000 }) {
    if (context) await context.close();
    context = await browser.newContext();
    await context.addInitScript(helpers);
    await context.addInitScript(name => { window.__arborPending = window.__arbor.wait({ show: [name] }); }, name);
    page = await context.newPage();
    const t0 = performance.now();
    await page.goto(url, { waitUntil: 'commit', timeout });
    const r = await withTimeout(settle(), timeout, `"${name}" shown`);
    const t1 = performance.now();
    return { ms: t1 - t0, page_ms: r.painted };
  },

  // open: a page that stays, for the searches and details that follow.
  async open({ url, name, timeout = 30000 }) {
    await newPage();
    const t0 = performance.now();
    await page.goto(url, { waitUntil: 'commit', timeout });
    await page.waitForFunction(() => window.__arbor, null, { timeout });
    await arm({ show: [name] });
    await withTimeout(settle(), timeout, `"${name}" shown`);
    return { ms: performance.now() - t0 };
  },

  // search: type prefix into the searchbox and wait for its results (shown,
  // hidden), then press one more key and time the results narrowing (show
  // and hide after it); then empty the box and wait for reset.
  async search({ prefix, key, before, after, reset, timeout = 10000 }) {
    const box = page.getByRole('searchbox');
    await box.fill('');
    await box.focus();
    await page.keyboard.type(prefix);
    await arm(before);
    await withTimeout(settle(), timeout, `results for "${prefix}"`);
    await arm(after);
    const t0 = performance.now();
    await page.keyboard.press(key);
    const r = await withTimeout(settle(), timeout, `results for "${prefix}${key}"`);
    const t1 = performance.now();
    const k = await page.evaluate(() => window.__arborKey);
    await arm(reset || {});
    await box.fill('');
    await withTimeout(settle(), timeout, 'the unfiltered list back');
    return { ms: t1 - t0, page_ms: r.painted - k };
  },

  // details: the app's page, by its hash route; done when its name and the
  // button (Install or Remove) are shown.
  async details({ id, name, button, timeout = 10000 }) {
    await arm({ show: [name], buttons: [button] });
    const t0 = performance.now();
    await page.evaluate(id => { location.hash = '#/app/' + encodeURIComponent(id); }, id);
    await withTimeout(settle(), timeout, `details of ${id}`);
    return { ms: performance.now() - t0 };
  },

  // install: click Install on the app's page and wait for the job to end:
  // the page offers Remove. The job's state is read back from the API.
  // page_ms runs from the click event (the button acts on it, for the
  // mouse as for the keyboard; before it, the press is the user's) to
  // Remove in the page's document, as the CLI's time runs to its last line
  // written and its exit: neither holds the display's next frame, which
  // painted_ms (to the frame after Remove) and down_ms (from the
  // mousedown) add for the record. node's ms also holds Playwright's
  // checks before it clicks (the button visible, stable over two frames,
  // not covered), which are no part of the page's cost.
  // The pointer is put on the button first, and the browser let go quiet
  // (see quiet): a user's pointer reaches the button, and the button shows
  // it, before they press it.
  async install({ id, timeout = 120000 }) {
    const btn = page.getByRole('button', { name: 'Install', exact: true });
    await btn.waitFor({ state: 'visible', timeout });
    await btn.hover({ timeout });
    const idle = await quiet();
    await arm({ buttons: ['Remove'] });
    const stop = process.env.ARBOR_BENCH_PROFILE ? await profile() : null;
    // What the page fetched meanwhile, and when it had the answer.
    const seen = [];
    const onDone = req => seen.push(`${req.method()} ${new URL(req.url()).pathname} +${(performance.now() - t0).toFixed(0)}`);
    page.on('requestfinished', onDone);
    const t0 = performance.now();
    await btn.click({ noWaitAfter: true });
    if (stop) stop.clicked();
    const r = await withTimeout(settle(), timeout, `install of ${id}`);
    const t1 = performance.now();
    if (stop) stop.ended();
    const [c, down] = await page.evaluate(() => [window.__arborClick, window.__arborDown]);
    if (stop) {
      // The page's own timeline from the click: the mousedown before it,
      // the POST's answer, each job event heard, Remove in the page, the
      // frame after it.
      const tl = await page.evaluate(([c, down]) => {
        const post = performance.getEntriesByType('resource').filter(e => e.name.endsWith('/api/jobs') && e.startTime >= down).shift();
        return [
          `mousedown ${(down - c).toFixed(1)}`,
          post ? `POST sent +${(post.requestStart - c).toFixed(1)} answered +${(post.responseEnd - c).toFixed(1)}` : 'no POST timing',
          ...window.__arborHeard.filter(([t]) => t >= c).map(([t, w]) => `${w} heard +${(t - c).toFixed(1)}`),
        ];
      }, [c, down]);
      tl.push(`Remove shown +${(r.seen - c).toFixed(1)}`, `next frame +${(r.painted - c).toFixed(1)}`);
      await stop({ page_ms: +(r.seen - c).toFixed(1), idle_ms: +idle.toFixed(0), page: tl });
    }
    page.off('requestfinished', onDone);
    const jobs = await page.evaluate(() => fetch('/api/jobs').then(r => r.json()));
    const j = (jobs || []).filter(j => j.item === id && j.action === 'install').pop();
    if (!j || j.state !== 'done') throw new Error(`install of ${id}: job ${JSON.stringify(j)}`);
    return {
      ms: t1 - t0, page_ms: r.seen - c, painted_ms: r.painted - c, down_ms: r.seen - down,
      text: JSON.stringify(j), requests: seen, idle_ms: idle,
    };
  },

  // quiet: wait for the browser to go quiet (see quiet).
  async quiet() {
    return { ms: await quiet() };
  },

  // route: another view by its hash route, done when show is shown.
  async route({ hash, show, timeout = 10000 }) {
    await arm({ show });
    const t0 = performance.now();
    await page.evaluate(h => { location.hash = h; }, hash);
    await withTimeout(settle(), timeout, `the view ${hash}`);
    return { ms: performance.now() - t0 };
  },

  async close() {
    if (context) await context.close();
    context = page = null;
    return {};
  },
};

const rl = createInterface({ input: process.stdin });
for await (const line of rl) {
  if (!line.trim()) continue;
  let cmd;
  try { cmd = JSON.parse(line); } catch (e) { console.log(JSON.stringify({ ok: false, error: 'bad JSON: ' + e.message })); continue; }
  if (cmd.op === 'quit') break;
  try {
    const f = ops[cmd.op];
    if (!f) throw new Error('unknown op ' + cmd.op);
    const r = await f(cmd);
    console.log(JSON.stringify({ ok: true, ...r }));
  } catch (e) {
    console.log(JSON.stringify({ ok: false, error: String(e && e.message || e) }));
  }
}
if (browser) await browser.close();
