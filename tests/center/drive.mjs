// drive.mjs drives arbor's software center page in headless Chromium and
// prints one JSON object of what it saw, for tests/center/center_test.go to
// assert. It asserts nothing itself and never measures time: a step waits
// for what the page shows, up to a generous bound, and says what it saw.
//
//   node drive.mjs URL SCENARIO SHOTDIR [PARAMS-JSON]
//
// URL is what `arbor center --url` printed; SHOTDIR gets a screenshot of
// each view the scenario visits.
import { chromium } from 'playwright-core';
import path from 'node:path';
import fs from 'node:fs';

const [url, scenario, shots, paramsJSON] = process.argv.slice(2);
if (!url || !scenario || !shots) {
  console.error('usage: node drive.mjs URL SCENARIO SHOTDIR [PARAMS-JSON]');
  process.exit(2);
}
const params = (paramsJSON && JSON.parse(paramsJSON)) || {};
const WAIT = params.wait_ms || 120000; // a bound, not a measure
fs.mkdirSync(shots, { recursive: true });

const out = { scenario, errors: [], requests: [] };

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, reducedMotion: 'reduce' });
const page = await context.newPage();
page.setDefaultTimeout(WAIT);
page.on('pageerror', e => out.errors.push('pageerror: ' + e.message));
page.on('console', m => { if (m.type() === 'error') out.errors.push('console: ' + m.text()); });
page.on('request', r => {
  const u = new URL(r.url());
  if (u.pathname.startsWith('/api/') && u.pathname !== '/api/events') out.requests.push({ method: r.method(), path: u.pathname + u.search });
});
page.on('requestfailed', r => {
  const u = new URL(r.url());
  const f = r.failure();
  if (f && f.errorText.includes('ERR_ABORTED')) {
    const hit = out.requests.findLast(x => x.path === u.pathname + u.search && !x.aborted);
    if (hit) hit.aborted = true;
  }
});

async function shot(name) {
  await page.screenshot({ path: path.join(shots, name + '.png'), fullPage: false });
}

// open loads the page through its secret URL, then goes to a view.
async function open(hash) {
  const resp = await page.goto(url, { waitUntil: 'domcontentloaded' });
  out.status = resp ? resp.status() : 0;
  // The page listens for security policy violations too: inline code or
  // style would show up here.
  await page.evaluate(() => document.addEventListener('securitypolicyviolation', e => console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI)));
  if (hash) await go(hash);
}

async function go(hash) {
  await page.evaluate(h => { location.hash = h; }, hash);
  await page.waitForFunction(h => document.getElementById('main').dataset.rendered === h, hash, { timeout: WAIT });
}

const main = () => page.locator('#main');
const jobsPanel = () => page.getByRole('complementary', { name: 'Jobs' });
const btn = (scope, name) => scope.getByRole('button', { name, exact: true });

async function cardNames() {
  return main().getByRole('list', { name: 'Apps' }).getByRole('link').evaluateAll(ls => ls.map(l => l.querySelector('.name').textContent));
}

// watchJobs records, for every job the panel shows from now on, each state
// its progress bar and message went through.
async function watchJobs() {
  await page.evaluate(() => {
    window.__samples = [];
    const list = document.getElementById('jobs-list');
    const take = () => {
      for (const li of list.children) {
        const bar = li.querySelector('[role=progressbar]');
        const s = {
          job: li.dataset.job,
          state: li.className.replace('job ', ''),
          valuenow: bar ? bar.getAttribute('aria-valuenow') : null,
          valuetext: bar ? bar.getAttribute('aria-valuetext') : null,
          bar: !!bar,
          message: (li.querySelector('.jobmsg .msg') || {}).textContent || '',
          counts: (li.querySelector('.jobmsg .counts') || {}).textContent || '',
          error: (li.querySelector('.error') || {}).textContent || '',
          cancel: !!Array.from(li.querySelectorAll('button')).find(b => b.textContent === 'Cancel'),
        };
        const last = window.__samples.findLast(x => x.job === s.job);
        if (!last || JSON.stringify(last) !== JSON.stringify(s)) window.__samples.push(s);
      }
    };
    new MutationObserver(take).observe(list, { childList: true, subtree: true, attributes: true, characterData: true });
    take();
  });
}

// waitJob waits for the job id to end in the panel, and returns what the
// panel showed of it.
async function waitJob(id) {
  await page.waitForFunction(id => {
    const li = document.querySelector(`#jobs-list > li[data-job="${CSS.escape(id)}"]`);
    return li && /\b(done|failed|cancelled)\b/.test(li.className);
  }, id, { timeout: WAIT });
  const samples = await page.evaluate(id => window.__samples.filter(s => s.job === id), id);
  const last = samples[samples.length - 1] || {};
  return {
    id, state: last.state, error: last.error, samples,
    title: await page.locator(`#jobs-list > li[data-job="${id}"] .jobtitle span`).first().textContent(),
    // A bar at 0% and no words for why is what a user must never see.
    silent_zero: samples.filter(s => s.bar && (s.valuenow === '0' || s.valuenow === null) && !s.message.trim()).length,
    with_message: samples.filter(s => s.message.trim()).length,
    determinate: samples.filter(s => s.valuenow !== null).length,
    cancel_seen: samples.some(s => s.cancel),
  };
}

// act clicks a button and follows the job it starts (the one the POST
// answered with) to its end. late: the page is as on a loaded machine, its
// animation frames held and the POST's answer held until the job has
// ended, so that the page hears of the job first by its end.
async function act(button, late) {
  await watchJobs();
  if (late) {
    await page.evaluate(() => {
      window.__frames = [];
      window.__raf = window.requestAnimationFrame;
      window.requestAnimationFrame = cb => { window.__frames.push(cb); return 0; };
    });
    await page.route(u => u.pathname === '/api/jobs', async route => {
      if (route.request().method() !== 'POST') return route.fallback();
      const resp = await route.fetch();
      const job = await resp.json();
      await page.waitForFunction(id => {
        const li = document.querySelector(`#jobs-list > li[data-job="${CSS.escape(id)}"]`);
        return li && /\b(done|failed|cancelled)\b/.test(li.className);
      }, job.id, { timeout: WAIT }).catch(() => {});
      await route.fulfill({ response: resp, json: job });
    });
  }
  const posted = page.waitForResponse(r => r.request().method() === 'POST' && new URL(r.url()).pathname === '/api/jobs', { timeout: WAIT });
  await button.click();
  const resp = await posted;
  const job = await resp.json();
  if (late) {
    await page.unrouteAll();
    await page.evaluate(() => {
      window.requestAnimationFrame = window.__raf;
      window.__frames.splice(0).forEach(cb => cb(performance.now()));
    });
  }
  if (!resp.ok()) return { state: 'refused', error: job.error, samples: [] };
  const j = await waitJob(job.id);
  // The view refetches when the job ends; let it settle.
  await page.waitForLoadState('networkidle').catch(() => {});
  await page.waitForFunction(id => {
    const li = document.querySelector(`#jobs-list > li[data-job="${CSS.escape(id)}"]`);
    const m = document.getElementById('main');
    return m.dataset.rendered === (location.hash || '#/explore') && (!li || !li.dataset.after || Number(m.dataset.drawn) > Number(li.dataset.after));
  }, job.id, { timeout: WAIT });
  return j;
}

// detailsFacts reads the details view as it stands, waiting for nothing.
async function detailsFacts() {
  await main().locator('article.details').waitFor({ timeout: WAIT });
  return main().evaluate(m => {
    const text = sel => { const e = m.querySelector(sel); return e ? e.innerText.trim() : ''; };
    const section = h => Array.from(m.querySelectorAll('section')).find(s => { const x = s.querySelector('h2'); return x && x.textContent === h; });
    const facts = {};
    for (const dt of m.querySelectorAll('dl.facts dt')) facts[dt.textContent] = dt.nextElementSibling ? dt.nextElementSibling.textContent : '';
    const perms = section('Permissions');
    const ver = section('Version');
    const img = m.querySelector('.apphead img.icon');
    return {
      name: text('h1'),
      summary: text('.apphead .summary'),
      developer: text('.apphead .developer'),
      state: text('.apphead .state'),
      description: text('.description'),
      version: ver ? ver.innerText.trim() : '',
      facts,
      permissions: perms ? Array.from(perms.querySelectorAll('.perm .label')).map(e => e.textContent) : [],
      safety: perms ? (perms.querySelector('.safety') || {}).textContent || '' : '',
      held: Array.from(m.querySelectorAll('section.held .perm .label')).map(e => e.textContent),
      buttons: Array.from(m.querySelectorAll('.details > .actions button, section.held button')).map(b => b.textContent),
      icon: img ? (img.complete ? img.naturalWidth : -1) : 0,
      screenshots: m.querySelectorAll('.shots img').length,
    };
  });
}

async function rowsOf(listName) {
  const list = main().getByRole('list', { name: listName });
  if (!(await list.count())) return [];
  return list.locator(':scope > li').evaluateAll(ls => ls.map(l => ({
    name: l.getAttribute('aria-label'),
    text: l.innerText,
    buttons: Array.from(l.querySelectorAll('button')).map(b => b.textContent),
    permissions: Array.from(l.querySelectorAll('.perm .label')).map(p => p.textContent),
  })));
}

async function tableRows(sel) {
  return main().locator(sel + ' tbody tr').evaluateAll(rs => rs.map(r => ({
    cells: Array.from(r.cells).map(c => c.innerText.trim()),
    buttons: Array.from(r.querySelectorAll('button')).map(b => b.textContent),
  })));
}

async function osState() {
  const sr = main().locator('section.stateroot').first();
  return {
    update: await sr.locator('.update').textContent(),
    deployments: await tableRows('section.stateroot:first-of-type table.deployments'),
    rollback_enabled: await btn(sr, 'Roll back').isEnabled(),
  };
}

const scenarios = {
  // The catalogue: cards with icons, categories, the nav.
  async browse() {
    await open();
    await main().getByRole('list', { name: 'Apps' }).getByRole('link').first().waitFor({ timeout: WAIT });
    out.cards = await cardNames();
    out.count = await main().getByRole('status').first().textContent();
    out.categories = await main().getByRole('combobox', { name: 'Category' }).locator('option').allTextContents();
    await page.waitForFunction(() => { const i = document.querySelector('#main .card img.icon'); return !i || i.complete; }, null, { timeout: WAIT });
    out.icons = await main().locator('.card img.icon').evaluateAll(is => is.filter(i => i.complete).map(i => i.naturalWidth));
    out.nav = await page.getByRole('navigation', { name: 'Views' }).getByRole('link').allTextContents();
    out.searchbox = await page.getByRole('searchbox').count();
    out.more = await btn(main(), 'Show more').count();
    if (params.category) {
      await main().getByRole('combobox', { name: 'Category' }).selectOption(params.category);
      await page.waitForFunction(c => document.querySelector('#main [role=status]').textContent.includes('found'), params.category, { timeout: WAIT });
      await page.waitForLoadState('networkidle').catch(() => {});
      out.category_cards = await cardNames();
    }
    await shot('explore');
  },

  // Search as one types: one request per keystroke, stale ones aborted,
  // the newest answer shown.
  async search() {
    await open();
    await main().getByRole('list', { name: 'Apps' }).getByRole('link').first().waitFor({ timeout: WAIT });
    const box = page.getByRole('searchbox', { name: 'Search apps' });
    out.requests.length = 0;
    await box.pressSequentially(params.query, { delay: 0 });
    await page.waitForFunction(() => document.querySelector('#main [role=status]').textContent.includes('found'), null, { timeout: WAIT });
    await page.waitForLoadState('networkidle').catch(() => {});
    out.cards = await cardNames();
    out.count = await main().getByRole('status').first().textContent();
    out.search_requests = out.requests.filter(r => r.path.startsWith('/api/items?') && r.path.includes('q=')).length;
    out.aborted = out.requests.filter(r => r.aborted).length;
    out.keystrokes = params.query.length;
    await shot('search');
    if (params.nothing) {
      await box.fill(params.nothing);
      await page.waitForFunction(() => document.querySelector('#main .grid .empty'), null, { timeout: WAIT });
      out.nothing = await main().locator('.grid .empty').textContent();
    }
  },

  // Details of an app, and Escape back to the list.
  async details() {
    await open();
    await main().getByRole('list', { name: 'Apps' }).getByRole('link').first().waitFor({ timeout: WAIT });
    await main().getByRole('link').filter({ hasText: params.name }).first().click();
    await page.getByRole('heading', { level: 1, name: params.name }).waitFor({ timeout: WAIT });
    out.hash = await page.evaluate(() => location.hash);
    out.details = await detailsFacts();
    await shot('details');
    await page.keyboard.press('Escape');
    await page.getByRole('heading', { level: 1, name: 'Explore' }).waitFor({ timeout: WAIT });
    out.after_escape = await page.evaluate(() => location.hash);
  },

  // Install from the details page, following the job to its end.
  async install() {
    await open('#/app/' + encodeURIComponent(params.id));
    out.before = await detailsFacts();
    const b = btn(main(), 'Install');
    out.job = await act(b);
    await btn(main(), 'Remove').waitFor({ timeout: WAIT }).catch(() => {});
    out.after = await detailsFacts();
    await shot('install');
    await go('#/installed');
    out.installed = await rowsOf('Installed');
    await shot('installed');
  },

  async remove() {
    await open('#/app/' + encodeURIComponent(params.id));
    out.before = await detailsFacts();
    out.job = await act(btn(main(), 'Remove'));
    await btn(main(), 'Install').waitFor({ timeout: WAIT }).catch(() => {});
    out.after = await detailsFacts();
    await go('#/installed');
    out.installed = await rowsOf('Installed');
  },

  // Updates: Update all leaves the app that asks for new permissions, which
  // shows them; Update anyway applies it.
  async update() {
    await open('#/updates');
    if (params.refresh) out.refresh = await act(btn(main(), 'Check for updates'));
    out.before = await rowsOf('Updates');
    await shot('updates-available');
    out.update_all = await act(btn(main(), 'Update all'), params.late);
    out.held_after_all = await rowsOf('Updates');
    const row = main().getByRole('listitem', { name: params.held });
    if (await row.count()) {
      out.anyway = await act(btn(row, 'Update anyway'));
    }
    out.after = await rowsOf('Updates');
    out.empty = await main().locator('p.empty').textContent().catch(() => '');
    await go('#/app/' + encodeURIComponent(params.held_id));
    out.held_details = await detailsFacts();
  },

  // A .flatpakref opened from a file (or an address), previewed, installed.
  async flatpakref() {
    await open();
    if (params.file) {
      await page.getByLabel('Open file').setInputFiles(params.file);
    } else {
      await page.getByRole('textbox', { name: /Address of a/ }).fill(params.url);
      await page.getByRole('button', { name: 'Open', exact: true }).click();
    }
    const pv = page.locator('#preview');
    await btn(pv, 'Install').waitFor({ timeout: WAIT });
    out.preview = { title: await pv.getByRole('heading').textContent(), text: await pv.innerText() };
    await shot('flatpakref');
    out.job = await act(btn(pv, 'Install'));
    out.preview_hidden = await pv.isHidden();
    await go('#/installed');
    out.installed = await rowsOf('Installed');
    await go('#/remotes');
    out.remotes = await rowsOf('Remotes');
  },

  // The OS: check, upgrade, roll back, pin.
  async os() {
    await open('#/os');
    out.before = await osState();
    await shot('os');
    const sr = main().locator('section.stateroot').first();
    out.check = await act(btn(sr, 'Check for updates'));
    out.checked = await osState();
    out.upgrade = await act(btn(main().locator('section.stateroot').first(), 'Upgrade'));
    out.upgraded = await osState();
    await shot('os-upgraded');
    out.pin = await act(btn(main().locator('section.stateroot').first().getByRole('row', { name: 'Deployment 1' }), 'Pin'));
    out.pinned = await osState();
    out.unpin = await act(btn(main().locator('section.stateroot').first().getByRole('row', { name: 'Deployment 1' }), 'Unpin'));
    out.rollback = await act(btn(main().locator('section.stateroot').first(), 'Roll back'));
    out.rolledback = await osState();
    await go('#/history');
    out.history = await tableRows('table.history');
  },

  async history() {
    await open('#/history');
    out.history = await tableRows('table.history');
    await shot('history');
  },

  async disk() {
    await open('#/disk');
    out.disk = await tableRows('table.disk');
    out.total = await main().locator('.count').textContent();
    await shot('disk');
    if (params.remove_unused) {
      const row = main().getByRole('row', { name: params.remove_unused });
      out.job = await act(btn(row, 'Remove'));
      out.after = await tableRows('table.disk');
    }
  },

  async remotes() {
    await open('#/remotes');
    out.remotes = await rowsOf('Remotes');
    await shot('remotes');
    if (params.disable) {
      const row = main().getByRole('listitem', { name: params.disable });
      const done = page.waitForResponse(r => r.request().method() === 'PATCH');
      await row.getByRole('checkbox', { name: 'Enabled' }).uncheck();
      out.patch_status = (await done).status();
      await go('#/explore');
      // The grid fills after the view is drawn: wait for its first entry
      // (a card, or the line that says there is none).
      await main().getByRole('list', { name: 'Apps' }).locator('li').first().waitFor({ timeout: WAIT });
      out.cards_disabled = await cardNames();
      await go('#/remotes');
      const row2 = main().getByRole('listitem', { name: params.disable });
      const done2 = page.waitForResponse(r => r.request().method() === 'PATCH');
      await row2.getByRole('checkbox', { name: 'Enabled' }).check();
      out.patch_status2 = (await done2).status();
      out.remotes_after = await rowsOf('Remotes');
    }
  },

  // Running: the instances and their use; the form of params.name's sets
  // params.memory_mib and params.processes, by label, and the table is
  // read again.
  async running() {
    await open('#/running');
    out.rows = await tableRows('table.running');
    await shot('running');
    if (params.name) {
      const row = main().getByRole('row', { name: params.name });
      await row.getByLabel('Memory (MiB)').fill(String(params.memory_mib));
      await row.getByLabel('Processes').fill(String(params.processes));
      const done = page.waitForResponse(r => r.request().method() === 'POST' && r.url().includes('/limit'));
      await btn(row, 'Set limits').click();
      out.limit_status = (await done).status();
      await main().getByRole('status').filter({ hasText: 'Limited' }).waitFor({ timeout: WAIT });
      await page.waitForFunction(() => document.querySelector('table.running tbody tr .held')?.textContent !== 'none', null, { timeout: WAIT });
      out.after = await tableRows('table.running');
      await shot('running-limited');
    }
  },

  // Keyboard only: Tab to a card, Enter opens it, Escape leaves.
  async keyboard() {
    await open();
    await main().getByRole('list', { name: 'Apps' }).getByRole('link').first().waitFor({ timeout: WAIT });
    const seen = [];
    for (let i = 0; i < 40; i++) {
      await page.keyboard.press('Tab');
      const f = await page.evaluate(() => {
        const a = document.activeElement;
        const cs = getComputedStyle(a);
        return { tag: a.tagName, role: a.getAttribute('role') || a.type || '', text: (a.textContent || a.getAttribute('aria-label') || '').trim().slice(0, 40),
          card: !!a.closest('.card'), outline: cs.outlineStyle !== 'none' && cs.outlineWidth !== '0px' };
      });
      seen.push(f);
      if (f.card) break;
    }
    out.focus_path = seen;
    out.focus_visible = seen.every(f => f.outline);
    await page.keyboard.press('Enter');
    await page.locator('#main article.details h1').waitFor({ timeout: WAIT });
    out.opened = await page.evaluate(() => location.hash);
    out.focused_heading = await page.evaluate(() => document.activeElement.tagName);
    await page.keyboard.press('Escape');
    await page.getByRole('heading', { level: 1, name: 'Explore' }).waitFor({ timeout: WAIT });
    out.after_escape = await page.evaluate(() => location.hash);
  },

  // Every view, for docs/.
  async views() {
    await open();
    await main().getByRole('list', { name: 'Apps' }).getByRole('link').first().waitFor({ timeout: WAIT });
    await shot('explore');
    out.headings = {};
    for (const v of ['installed', 'updates', 'running', 'os', 'history', 'disk', 'remotes']) {
      await go('#/' + v);
      out.headings[v] = await main().getByRole('heading', { level: 1 }).textContent();
      await shot(v);
    }
    out.banners = await page.locator('#banners .restart').allTextContents();
  },
};

try {
  if (!scenarios[scenario]) throw new Error('no scenario ' + scenario);
  await scenarios[scenario]();
  out.ok = true;
} catch (e) {
  out.ok = false;
  out.failure = String(e && e.stack || e);
  try {
    await shot('failure-' + scenario);
    out.main_text = (await main().innerText()).slice(0, 4000);
    out.jobs_text = (await jobsPanel().innerText()).slice(0, 2000);
  } catch { /* the page is gone */ }
}
out.banners = out.banners || await page.locator('#banners .banner').allTextContents().catch(() => []);
delete out.requests_all;
await browser.close();
process.stdout.write(JSON.stringify(out) + '\n');
