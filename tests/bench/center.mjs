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
import { createRequire } from 'node:module';
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
  window.addEventListener('mousedown', ev => { window.__arborClick = ev.timeStamp; }, true);
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
  page = await context.newPage();
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
  // page_ms starts at the button's mousedown: node's ms also holds
  // Playwright's checks before it clicks (the button visible, stable over
  // two frames, not covered), which are no part of the page's cost.
  async install({ id, timeout = 120000 }) {
    const btn = page.getByRole('button', { name: 'Install', exact: true });
    await btn.waitFor({ state: 'visible', timeout });
    await arm({ buttons: ['Remove'] });
    // What the page fetched meanwhile, and when it had the answer.
    const seen = [];
    const onDone = req => seen.push(`${req.method()} ${new URL(req.url()).pathname} +${(performance.now() - t0).toFixed(0)}`);
    page.on('requestfinished', onDone);
    const t0 = performance.now();
    await btn.click({ noWaitAfter: true });
    const r = await withTimeout(settle(), timeout, `install of ${id}`);
    const t1 = performance.now();
    page.off('requestfinished', onDone);
    const c = await page.evaluate(() => window.__arborClick);
    const jobs = await page.evaluate(() => fetch('/api/jobs').then(r => r.json()));
    const j = (jobs || []).filter(j => j.item === id && j.action === 'install').pop();
    if (!j || j.state !== 'done') throw new Error(`install of ${id}: job ${JSON.stringify(j)}`);
    return { ms: t1 - t0, page_ms: r.painted - c, text: JSON.stringify(j), requests: seen };
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
