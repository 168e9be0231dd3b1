// The arbor software center's page. No framework and no build step: the
// daemon embeds this file as it is. Text from the server is only ever put in
// the page as text (textContent, text nodes, attribute values), never parsed
// as markup.

// The first page of the catalogue is asked for before anything else, so the
// first paint waits on one round trip only.
const firstExplore = api('/api/items?view=explore&limit=60').catch(e => e);

const PAGE = 60;

// ---------- helpers ----------

async function api(path, opts = {}) {
  const init = { credentials: 'same-origin', headers: { Accept: 'application/json' }, signal: opts.signal };
  if (opts.method) init.method = opts.method;
  if (opts.body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(opts.body);
    if (!init.method) init.method = 'POST';
  }
  const r = await fetch(path, init);
  let data = null;
  const text = await r.text();
  if (text) {
    try { data = JSON.parse(text); } catch { data = { error: text }; }
  }
  if (!r.ok) {
    const msg = data && data.error ? data.error : `${r.status} ${r.statusText}`;
    const err = new Error(msg);
    err.status = r.status;
    throw err;
  }
  return data;
}

// el builds an element: attrs are set as properties or attributes, children
// are nodes or strings (made text nodes).
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else if (k === 'dataset') Object.assign(e.dataset, v);
      else if (k in e && typeof v !== 'string') e[k] = v;
      else e.setAttribute(k, v === true ? '' : v);
    }
  }
  append(e, children);
  return e;
}

function append(e, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

function clear(e) { while (e.firstChild) e.firstChild.remove(); return e; }

function bytes(n) {
  if (!n && n !== 0) return '';
  const u = ['bytes', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  let v = Number(n);
  while (v >= 1000 && i < u.length - 1) { v /= 1000; i++; }
  return i === 0 ? `${v} ${u[0]}` : `${v.toFixed(v < 10 ? 1 : 0)} ${u[i]}`;
}

function short(commit) { return commit ? String(commit).slice(0, 10) : ''; }

function when(t) {
  if (!t) return '';
  const d = new Date(t);
  if (isNaN(d)) return String(t);
  return d.toLocaleString();
}

const levelWords = {
  'safe': 'Safe',
  'probably-safe': 'Probably safe',
  'potentially-unsafe': 'Potentially unsafe',
  'unsafe': 'Unsafe',
};

// button makes an action button whose accessible name is its verb only.
function button(verb, onclick, extra = {}) {
  return el('button', { type: 'button', class: extra.class, dataset: { key: extra.key || verb }, disabled: extra.disabled, onclick }, verb);
}

function icon(src, alt = '') {
  if (src) return el('img', { class: 'icon', src, alt, width: 64, height: 64, loading: 'lazy', decoding: 'async' });
  return el('span', { class: 'icon placeholder', 'aria-hidden': 'true' });
}

function paragraphs(ps) {
  const out = [];
  for (const p of ps || []) {
    if (p.text) out.push(el('p', { text: p.text }));
    if (p.items && p.items.length) out.push(el('ul', null, p.items.map(i => el('li', { text: i }))));
  }
  return out;
}

function errorBox(e) {
  return el('p', { class: 'error', role: 'alert' }, e && e.message ? e.message : String(e));
}

// A name for an item ID, from the items seen so far.
const names = new Map();
function remember(items) { for (const it of items || []) names.set(it.id, it.name || it.id); }
function idName(id) {
  if (names.has(id)) return names.get(id);
  const parts = String(id || '').split('/');
  return parts.length > 2 ? parts[2] : String(id || '');
}
// jobTitle names the item as the catalogue does, not by its ID.
function jobTitle(j) {
  return j.item && j.title ? j.title.replace(j.item, idName(j.item)) : j.title;
}
function refName(ref) {
  const parts = String(ref || '').split('/');
  return parts.length > 1 ? parts[1] : String(ref || '');
}

// ---------- jobs ----------

const jobs = new Map(); // id -> Job
const jobsList = () => document.getElementById('jobs-list');

async function startJob(body) {
  try {
    const j = await api('/api/jobs', { body });
    updateJob(j);
    return j;
  } catch (e) {
    showFlash(e.message);
    return null;
  }
}

function showFlash(msg) {
  const b = document.getElementById('banners');
  const p = el('p', { class: 'banner error', role: 'alert' }, msg, ' ',
    el('button', { type: 'button', class: 'link', onclick: () => p.remove() }, 'Dismiss'));
  b.append(p);
}

function progressText(j) {
  const bits = [];
  if (j.total_bytes > 0) bits.push(`${bytes(j.bytes)} of ${bytes(j.total_bytes)}`);
  else if (j.bytes > 0) bits.push(bytes(j.bytes));
  if (j.objects > 0) bits.push(`${j.fetched || 0} of ${j.objects} objects fetched`);
  return bits.join(', ');
}

function jobMessage(j) {
  switch (j.state) {
    case 'queued': return j.message || 'waiting for the jobs before it';
    case 'running': return j.message || (j.phase ? j.phase : 'starting');
    case 'done': return j.message && j.phase === 'done' ? j.message : 'done';
    case 'cancelled': return 'cancelled';
    case 'failed': return 'failed';
  }
  return j.message || j.state;
}

const finished = j => j.state !== 'running' && j.state !== 'queued';

// barState is what a job's progress bar says: its percentage (null when
// unknown), whether it is indeterminate, and its words.
function barState(j) {
  let pct = null;
  if (j.state === 'done') pct = 100;
  else if (j.total_bytes > 0) pct = Math.min(100, Math.round(100 * j.bytes / j.total_bytes));
  else if (finished(j)) pct = 0;
  const msg = jobMessage(j);
  const detail = progressText(j);
  return { pct, indeterminate: pct === null, msg, detail, text: detail ? `${msg} (${detail})` : msg };
}

function drawBar(bar, b) {
  bar.classList.toggle('indeterminate', b.indeterminate);
  if (b.pct !== null) {
    bar.setAttribute('aria-valuenow', String(b.pct));
    bar.firstChild.style.transform = `scaleX(${b.pct / 100})`; // CSSOM, which the CSP allows
  } else {
    bar.removeAttribute('aria-valuenow');
    bar.firstChild.style.transform = '';
  }
  bar.setAttribute('aria-valuetext', b.text);
}

function renderJob(j) {
  const active = !finished(j);
  const title = jobTitle(j);
  const bar = el('div', { class: 'bar', role: 'progressbar', 'aria-label': title, 'aria-valuemin': '0', 'aria-valuemax': '100' });
  bar.append(el('div', { class: 'fill' }));
  const b = barState(j);
  drawBar(bar, b);
  const msgId = 'jobmsg-' + j.id;
  bar.setAttribute('aria-describedby', msgId);
  const li = el('li', { class: 'job ' + j.state, dataset: { job: j.id }, 'aria-label': title },
    el('p', { class: 'jobtitle' }, el('span', { text: title }), ' ', el('span', { class: 'state', text: j.state })),
    j.state !== 'failed' && j.state !== 'cancelled' ? bar : null,
    el('p', { class: 'jobmsg', id: msgId }, el('span', { class: 'msg', text: b.msg }), b.detail ? el('span', { class: 'counts', text: ' · ' + b.detail }) : null),
    j.state === 'failed' ? el('p', { class: 'error', role: 'alert', text: j.error || 'it failed, for a reason the daemon did not say' }) : null,
    heldNotice(j),
    active ? button('Cancel', () => cancelJob(j.id), { key: 'cancel-' + j.id }) : null,
  );
  return li;
}

// patchJob draws a running job's new progress into its entry as drawn,
// changing only what changed: a redraw of the whole entry would lay it out
// and paint it afresh, and restart its bar's animation, for each notice.
// It says false when the entry must be drawn anew instead (the job ended,
// or its title or kind of entry changed).
function patchJob(li, prev, j) {
  if (finished(j) || finished(prev) || jobTitle(j) !== jobTitle(prev)) return false;
  const bar = li.querySelector('.bar');
  const msg = li.querySelector('.jobmsg .msg');
  const state = li.querySelector('.jobtitle .state');
  if (!bar || !msg || !state) return false;
  const b = barState(j);
  const set = (e, text) => { if (e.textContent !== text) e.textContent = text; };
  if (li.className !== 'job ' + j.state) li.className = 'job ' + j.state;
  set(state, j.state);
  set(msg, b.msg);
  let counts = li.querySelector('.jobmsg .counts');
  if (b.detail && !counts) msg.after(counts = el('span', { class: 'counts' }));
  if (counts && !b.detail) counts.remove();
  else if (counts) set(counts, ' · ' + b.detail);
  if (bar.getAttribute('aria-valuetext') !== b.text || bar.classList.contains('indeterminate') !== b.indeterminate ||
    bar.getAttribute('aria-valuenow') !== (b.pct === null ? null : String(b.pct))) drawBar(bar, b);
  return true;
}

function heldNotice(j) {
  const held = j.result && j.result.held;
  if (!held || !held.length) return null;
  return el('div', { class: 'held' },
    el('p', { text: 'Held back, as they ask for new permissions:' }),
    el('ul', null, held.map(h => el('li', null, el('a', { href: '#/app/' + encodeURIComponent(h.id), text: idName(h.id) }), ': ',
      (h.new_permissions || []).map(p => p.label).join(', ')))));
}

async function cancelJob(id) {
  try { await api('/api/jobs/' + encodeURIComponent(id), { method: 'DELETE' }); }
  catch (e) { showFlash(e.message); }
}

// updateJob draws a job's newest state. listed: it comes from /api/jobs,
// where a job already over is history, not news.
function updateJob(j, listed) {
  const prev = jobs.get(j.id);
  // The POST's answer can come after the event that ended the job.
  if (prev && finished(prev) && !finished(j)) return;
  jobs.set(j.id, j);
  const list = jobsList();
  const old = list.querySelector(`li[data-job="${CSS.escape(j.id)}"]`);
  if (old && prev && patchJob(old, prev, j)) return;
  const li = renderJob(j);
  const hadFocus = old && old.contains(document.activeElement);
  if (old) old.replaceWith(li); else list.prepend(li);
  if (hadFocus) {
    const c = li.querySelector('button');
    (c || document.getElementById('jobs-title')).focus();
  }
  document.getElementById('jobs-empty').hidden = jobs.size > 0;
  // Keep the panel short: the newest 20.
  while (list.children.length > 20) list.lastElementChild.remove();
  // The stream keeps only a job's newest state for a busy page, so its
  // first word of a job can be the end.
  if (finished(j) && (prev ? !finished(prev) : !listed)) {
    // The view drawn after this one shows what the job changed.
    li.dataset.after = String(renderSeq);
    settleActions(j);
    scheduleRefresh();
  } else if (old && old.dataset.after) {
    li.dataset.after = old.dataset.after;
  }
}

// What an item's details offer after a job on it ends, drawn at once: the
// job's end is the server's word that the change is made, and the fresh
// details (sizes, disk use) follow in the render scheduled beside this.
function settleActions(j) {
  const next = { install: ['remove'], 'install-file': ['remove'], update: ['remove'], remove: ['install'] }[j.action];
  if (j.state !== 'done' || !next || !view || view.name !== 'app' || view.id !== j.item) return;
  const box = main().querySelector('.details .actions');
  if (!box) return;
  // Focus on the button pressed goes on to the one that replaces it.
  const hadFocus = box.contains(document.activeElement);
  box.replaceChildren(...actionButtons(j.item, next));
  if (hadFocus && box.firstElementChild) box.firstElementChild.focus();
}

function actionButtons(id, acts) {
  const verbs = { install: 'Install', remove: 'Remove', update: 'Update', download: 'Download' };
  return acts.filter(a => verbs[a]).map(a => button(verbs[a], () => startJob({ action: a, item: id }), { key: 'act-' + a }));
}

async function loadJobs() {
  try {
    const all = await api('/api/jobs');
    all.sort((a, b) => String(a.started).localeCompare(String(b.started)));
    for (const j of all) {
      const old = jobs.get(j.id);
      if (!old || JSON.stringify(old) !== JSON.stringify(j)) updateJob(j, true);
    }
  } catch (e) { /* the panel stays empty; events will fill it */ }
}

// ---------- live updates ----------

let refreshQueued = false;
function scheduleRefresh() {
  // Several notices in one turn make one refetch, after the next frame:
  // what a job's end changed at once (Remove for Install) is drawn first.
  firstStale = true;
  if (refreshQueued) return;
  refreshQueued = true;
  requestAnimationFrame(() => setTimeout(() => { refreshQueued = false; render(false); loadRunning(); }, 0));
}

// Progress notices are drawn once a frame, the newest of each job: a busy
// browser would otherwise slow the install it shows. A job's end is drawn
// at once.
const pendingJobs = new Map();
let flushQueued = false;
function queueJobNotice(j) {
  if (finished(j)) {
    pendingJobs.delete(j.id);
    updateJob(j);
    return;
  }
  pendingJobs.set(j.id, j);
  if (flushQueued) return;
  flushQueued = true;
  requestAnimationFrame(() => {
    flushQueued = false;
    const due = [...pendingJobs.values()];
    pendingJobs.clear();
    due.forEach(updateJob);
  });
}

function listen() {
  if (!window.EventSource) return;
  const es = new EventSource('/api/events', { withCredentials: true });
  es.addEventListener('job', ev => {
    let j;
    try { j = JSON.parse(ev.data); } catch { return; /* a torn event */ }
    queueJobNotice(j);
  });
  es.addEventListener('changed', scheduleRefresh);
  // The stream keeps every job's last state while connected; what ended
  // while it was down is asked for when it is back, and the view redrawn.
  let opened = false;
  es.addEventListener('open', () => {
    document.body.classList.remove('offline');
    loadJobs();
    if (opened) scheduleRefresh();
    opened = true;
  });
  es.addEventListener('error', () => { document.body.classList.add('offline'); });
}

// ---------- running apps ----------

async function loadRunning() {
  const box = document.getElementById('banners');
  let run = [];
  try { run = await api('/api/running') || []; } catch { return; }
  for (const b of box.querySelectorAll('.restart')) b.remove();
  const seen = new Set();
  for (const r of run) {
    if (!r.update_landed || seen.has(r.id)) continue;
    seen.add(r.id);
    let name = names.get(r.id);
    if (!name) {
      try { const it = await api('/api/items/' + encodeURIComponent(r.id)); remember([it]); name = it.name; } catch { /* named by its ref */ }
    }
    name = name || refName(r.ref);
    box.append(el('p', { class: 'banner restart', role: 'status' }, `Restart ${name} to use the new version`));
  }
}

// ---------- open a .flatpakref / .flatpakrepo ----------

let pendingOpen = null; // {file, url}

async function openThing(body, label) {
  const box = document.getElementById('preview');
  box.hidden = false;
  clear(box).append(el('h2', { id: 'preview-title', tabindex: '-1' }, 'Opening ' + label), el('p', { text: 'Reading it…' }));
  try {
    const p = await api('/api/open', { body });
    pendingOpen = body.url ? { url: body.url } : { file: body.file };
    renderPreview(p, label);
  } catch (e) {
    clear(box).append(el('h2', { id: 'preview-title', tabindex: '-1' }, 'Could not open ' + label), errorBox(e),
      el('button', { type: 'button', onclick: closePreview }, 'Close'));
  }
  box.querySelector('h2').focus();
}

function closePreview() {
  const box = document.getElementById('preview');
  box.hidden = true;
  clear(box);
  pendingOpen = null;
}

function renderPreview(p, label) {
  const box = clear(document.getElementById('preview'));
  const it = p.item;
  const what = p.kind === 'repo' ? 'A remote' : 'An app';
  box.append(
    el('h2', { id: 'preview-title', tabindex: '-1' }, it ? it.name : (p.title || label)),
    it && it.summary ? el('p', { class: 'summary', text: it.summary }) : null,
    el('dl', { class: 'facts' },
      el('dt', null, 'What'), el('dd', null, p.kind === 'repo' ? 'a remote to add' : 'an app to install'),
      p.ref ? [el('dt', null, 'Ref'), el('dd', { text: p.ref })] : null,
      p.remote ? [el('dt', null, 'Remote'), el('dd', { text: p.remote })] : null,
      p.url ? [el('dt', null, 'Address'), el('dd', { text: p.url })] : null,
      el('dt', null, 'Signatures'), el('dd', null, p.signed ? 'checked with the key it carries' : 'not checked: it carries no key'),
    ),
    el('p', { class: 'sr', text: what + ' from ' + label }),
    el('div', { class: 'actions' },
      button('Install', async () => {
        const body = Object.assign({ action: 'install-file' }, pendingOpen);
        const j = await startJob(body);
        if (j) closePreview();
      }, { key: 'preview-install' }),
      el('button', { type: 'button', onclick: closePreview }, 'Close')),
  );
}

function readFile(file) {
  if (!file) return;
  if (file.size > 4 << 20) { showFlash(`${file.name} is too big for a .flatpakref or .flatpakrepo`); return; }
  file.text().then(text => openThing({ file: text, name: file.name }, file.name));
}

function setupOpen() {
  const input = document.getElementById('open-file');
  input.addEventListener('change', () => { readFile(input.files[0]); input.value = ''; });
  document.getElementById('open-form').addEventListener('submit', ev => {
    ev.preventDefault();
    const u = document.getElementById('open-url').value.trim();
    if (u) openThing({ url: u }, u);
  });
  const drop = document.getElementById('drop');
  let depth = 0;
  const hasFiles = ev => ev.dataTransfer && Array.from(ev.dataTransfer.types || []).includes('Files');
  document.addEventListener('dragenter', ev => { if (!hasFiles(ev)) return; depth++; drop.hidden = false; ev.preventDefault(); });
  document.addEventListener('dragover', ev => { if (hasFiles(ev)) ev.preventDefault(); });
  document.addEventListener('dragleave', () => { depth = Math.max(0, depth - 1); if (!depth) drop.hidden = true; });
  document.addEventListener('drop', ev => {
    if (!hasFiles(ev)) return;
    ev.preventDefault();
    depth = 0;
    drop.hidden = true;
    readFile(ev.dataTransfer.files[0]);
  });
}

// ---------- views ----------

const main = () => document.getElementById('main');
let lastList = '#/explore';
let view = null; // the current view's state
let renderSeq = 0; // renders begun

function route() {
  const h = location.hash || '#/explore';
  const m = h.match(/^#\/([a-z]+)(?:\/(.*))?$/);
  if (!m) return { name: 'explore' };
  return { name: m[1], arg: m[2] !== undefined ? decodeURIComponent(m[2]) : undefined };
}

const views = {
  explore: renderExplore,
  app: renderDetails,
  installed: renderInstalled,
  updates: renderUpdates,
  os: renderOS,
  history: renderHistory,
  disk: renderDisk,
  remotes: renderRemotes,
  running: renderRunning,
};

// render draws the current view. fresh: the route changed (focus moves to
// the new view's heading); else the same view is refetched in place and
// keeps the focus where it was.
async function render(fresh) {
  const r = route();
  const fn = views[r.name] || renderExplore;
  for (const a of document.querySelectorAll('nav a')) {
    const on = a.getAttribute('href') === '#/' + (r.name === 'app' ? '' : r.name);
    if (on) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  if (r.name !== 'app') lastList = location.hash || '#/explore';
  const focusKey = !fresh && document.activeElement && main().contains(document.activeElement) ? document.activeElement.dataset.key : null;
  const hash = location.hash || '#/explore';
  const seq = ++renderSeq;
  await fn(r, fresh);
  main().dataset.drawn = String(seq);
  // Tests (and anyone curious) can tell the view drawn from the one asked.
  if ((location.hash || '#/explore') === hash) main().dataset.rendered = hash;
  if (fresh) {
    const h = main().querySelector('h1');
    if (h && document.activeElement !== main().querySelector('input[type=search]')) { h.tabIndex = -1; h.focus({ preventScroll: false }); }
  } else if (focusKey) {
    const e = main().querySelector(`[data-key="${CSS.escape(focusKey)}"]`);
    if (e) e.focus();
  }
}

function heading(text, ...extra) {
  return el('div', { class: 'viewhead' }, el('h1', { tabindex: '-1', text }), ...extra);
}

// Explore: the catalogue, searched as one types.
async function renderExplore(r, fresh) {
  if (!fresh && view && view.name === 'explore') { view.query(true); return; }
  const m = clear(main());
  const search = el('input', { type: 'search', id: 'search', placeholder: 'Search apps', 'aria-label': 'Search apps', autocomplete: 'off', dataset: { key: 'search' } });
  const cats = el('select', { id: 'category', 'aria-label': 'Category', dataset: { key: 'category' } });
  const status = el('p', { class: 'count', role: 'status', 'aria-live': 'polite' });
  const grid = el('ul', { class: 'grid', 'aria-label': 'Apps' });
  const more = el('div', { class: 'more' });
  m.append(heading('Explore'), el('div', { class: 'filters' }, search, cats), status, grid, more);
  const st = { name: 'explore', q: '', category: '', shown: 0, ctl: null, seq: 0, query: null };
  view = st;

  function fillCats(list, total) {
    const keep = st.category;
    clear(cats).append(el('option', { value: '' }, 'All categories'));
    for (const c of list || []) cats.append(el('option', { value: c.name, selected: c.name === keep }, `${c.name} (${c.count})`));
    if (keep && ![...cats.options].some(o => o.value === keep)) cats.append(el('option', { value: keep, selected: true }, keep));
  }

  function draw(page, appendMore) {
    remember(page.items);
    if (!appendMore) { clear(grid); st.shown = 0; }
    for (const it of page.items || []) grid.append(card(it));
    st.shown += (page.items || []).length;
    const total = page.total || 0;
    status.textContent = st.q || st.category
      ? (total === 1 ? '1 app found' : `${total} apps found`)
      : (total === 1 ? '1 app' : `${total} apps`);
    if (!appendMore) fillCats(page.categories, total);
    clear(more);
    if (st.shown < total) {
      more.append(el('button', { type: 'button', dataset: { key: 'more' }, onclick: () => st.query(false, true) }, 'Show more'));
    }
    if (!total) grid.append(el('li', { class: 'empty', text: st.q ? `Nothing matches “${st.q}”.` : 'The catalogue is empty: add a remote.' }));
  }

  // query asks for the view's items. Every keystroke sends one request;
  // the one before is aborted, and only the newest answer is drawn.
  st.query = async (keepShown, appendMore) => {
    if (st.ctl) st.ctl.abort();
    const ctl = new AbortController();
    st.ctl = ctl;
    const seq = ++st.seq;
    const p = new URLSearchParams({ view: 'explore' });
    if (st.q) p.set('q', st.q);
    if (st.category) p.set('category', st.category);
    p.set('offset', appendMore ? String(st.shown) : '0');
    p.set('limit', String(keepShown && st.shown > PAGE ? st.shown : PAGE));
    try {
      const page = await api('/api/items?' + p, { signal: ctl.signal });
      if (seq !== st.seq || view !== st) return;
      draw(page, appendMore);
    } catch (e) {
      if (e.name === 'AbortError' || seq !== st.seq) return;
      clear(grid).append(el('li', null, errorBox(e)));
    }
  };

  search.addEventListener('input', () => { st.q = search.value.trim(); st.query(); });
  cats.addEventListener('change', () => { st.category = cats.value; st.query(); });

  const first = await firstExplore;
  if (view !== st) return;
  if (st.q === '' && st.category === '' && st.seq === 0 && first && !(first instanceof Error) && !st.usedFirst) {
    st.usedFirst = true;
    if (!firstStale) { draw(first); return; }
  }
  st.query();
}
let firstStale = false;

function card(it) {
  const id = encodeURIComponent(it.id);
  return el('li', { class: 'card' },
    el('a', { href: '#/app/' + id, dataset: { key: 'card-' + it.id } },
      icon(it.icon),
      el('span', { class: 'cardtext' },
        el('span', { class: 'name', text: it.name || it.id }),
        el('span', { class: 'summary', text: it.summary || '' }),
        it.state !== 'available' ? el('span', { class: 'badge', text: it.state === 'updatable' ? 'Update available' : 'Installed' }) : null)));
}

// Details of one item.
async function renderDetails(r, fresh) {
  const id = r.arg;
  const m = main();
  const st = { name: 'app', id };
  if (fresh) {
    clear(m).append(heading('Loading…'));
  }
  view = st;
  let it;
  try {
    it = await api('/api/items/' + encodeURIComponent(id));
  } catch (e) {
    if (view !== st) return;
    clear(m).append(heading('Not found'), errorBox(e), el('p', null, el('a', { href: lastList }, 'Back')));
    return;
  }
  if (view !== st) return;
  remember([it]);
  const buttons = actionButtons(it.id, it.actions || []);
  const running = [...jobs.values()].find(j => j.item === it.id && !finished(j));

  const held = it.new_permissions && it.new_permissions.length;
  const rel = (it.releases || [])[0];
  const page = el('article', { class: 'details' },
    el('a', { class: 'back', href: lastList }, 'Back'),
    el('header', { class: 'apphead' },
      icon(it.icon),
      el('div', null,
        el('h1', { tabindex: '-1', text: it.name || it.id }),
        it.summary ? el('p', { class: 'summary', text: it.summary }) : null,
        it.developer ? el('p', { class: 'developer', text: it.developer }) : null,
        el('p', { class: 'state', text: stateWords(it) }))),
    el('div', { class: 'actions' }, buttons, running ? el('span', { class: 'busy', text: `${jobTitle(running)}: ${jobMessage(running)}` }) : null),
    held ? el('section', { class: 'held', 'aria-labelledby': 'held-h' },
      el('h2', { id: 'held-h' }, 'The update asks for new permissions'),
      permList(it.new_permissions),
      button('Update anyway', () => startJob({ action: 'update', item: it.id, allow_permissions: true }), { key: 'anyway' })) : null,
    it.screenshots && it.screenshots.length ? el('section', { class: 'shots', 'aria-label': 'Screenshots' },
      it.screenshots.map(s => el('figure', null,
        el('img', { src: safeURL(s.url), alt: s.caption || 'Screenshot', loading: 'lazy' }),
        s.caption ? el('figcaption', { text: s.caption }) : null))) : null,
    it.description && it.description.length ? el('section', { class: 'description' }, paragraphs(it.description)) : null,
    el('section', { 'aria-labelledby': 'ver-h' },
      el('h2', { id: 'ver-h' }, 'Version'),
      el('p', null, it.version ? `Version ${it.version}` : 'No version given', rel && rel.date ? ` (${rel.date})` : ''),
      (it.releases || []).slice(0, 5).map(rr => el('div', { class: 'release' },
        el('h3', null, rr.version, rr.date ? ` · ${rr.date}` : ''), paragraphs(rr.description)))),
    el('section', { 'aria-labelledby': 'size-h' },
      el('h2', { id: 'size-h' }, 'Size'),
      el('dl', { class: 'facts' },
        it.download_size ? [el('dt', null, 'Download'), el('dd', { text: bytes(it.download_size) })] : null,
        it.installed_size ? [el('dt', null, 'Installed'), el('dd', { text: bytes(it.installed_size) })] : null,
        it.disk_bytes ? [el('dt', null, 'On disk'), el('dd', { text: bytes(it.disk_bytes) })] : null,
        it.runtime ? [el('dt', null, 'Runtime'), el('dd', null, el('span', { text: it.runtime.ref }), ' ',
          it.runtime.installed ? '(installed already)' : `(also installed: ${bytes(it.runtime.download_size) || '?'} to download, ${bytes(it.runtime.installed_size) || '?'} installed)`)] : null,
        it.runtime && !it.runtime.installed && (it.download_size || it.runtime.download_size) ? [el('dt', null, 'In all'), el('dd', { text: `${bytes((it.download_size || 0) + (it.runtime.download_size || 0))} to download, ${bytes((it.installed_size || 0) + (it.runtime.installed_size || 0))} installed` })] : null)),
    el('section', { 'aria-labelledby': 'perm-h' },
      el('h2', { id: 'perm-h' }, 'Permissions'),
      it.safety ? el('p', { class: 'safety ' + it.safety, text: levelWords[it.safety] || it.safety }) : null,
      it.permissions && it.permissions.length ? permList(it.permissions) : el('p', { text: it.kind === 'app' ? 'No permissions: it runs in a sandbox with no access to your files, devices or the network.' : 'Not an app: it grants nothing by itself.' })),
    el('section', { 'aria-labelledby': 'about-h' },
      el('h2', { id: 'about-h' }, 'About'),
      el('dl', { class: 'facts' },
        it.remote ? [el('dt', null, 'Remote'), el('dd', { text: it.remote })] : null,
        it.developer ? [el('dt', null, 'Developer'), el('dd', { text: it.developer })] : null,
        it.license ? [el('dt', null, 'License'), el('dd', { text: it.license })] : null,
        it.ref ? [el('dt', null, 'Ref'), el('dd', { text: it.ref })] : null,
        it.installed_commit ? [el('dt', null, 'Installed commit'), el('dd', { text: short(it.installed_commit) })] : null,
        it.available_commit ? [el('dt', null, 'Newest commit'), el('dd', { text: short(it.available_commit) })] : null,
        it.categories && it.categories.length ? [el('dt', null, 'Categories'), el('dd', { text: it.categories.join(', ') })] : null,
        it.homepage && safeURL(it.homepage) ? [el('dt', null, 'Home page'), el('dd', null, el('a', { href: safeURL(it.homepage), rel: 'noreferrer noopener', target: '_blank', text: it.homepage }))] : null)),
  );
  clear(m).append(page);
}

function stateWords(it) {
  if (it.state === 'installed') return 'Installed';
  if (it.state === 'updatable') return it.downloaded ? 'Update downloaded, ready to apply' : 'Update available';
  return 'Not installed';
}

function safeURL(u) {
  try {
    const x = new URL(u, location.href);
    return x.protocol === 'https:' || x.protocol === 'http:' || x.protocol === 'data:' ? x.href : '';
  } catch { return ''; }
}

function permList(ps) {
  return el('ul', { class: 'perms' }, ps.map(p => el('li', { class: 'perm ' + (p.level || '') },
    el('span', { class: 'label', text: p.label }),
    p.detail ? el('span', { class: 'detail', text: ' — ' + p.detail }) : null,
    p.level ? el('span', { class: 'level', text: ` (${levelWords[p.level] || p.level})` }) : null)));
}

function itemRow(it, ...actions) {
  return el('li', { class: 'row', 'aria-label': it.name || it.id },
    icon(it.icon),
    el('div', { class: 'rowtext' },
      el('a', { href: '#/app/' + encodeURIComponent(it.id), class: 'name', text: it.name || it.id }),
      el('span', { class: 'summary', text: [it.kind === 'runtime' ? 'Runtime' : it.kind === 'os' ? 'Operating system' : '', it.version ? 'version ' + it.version : '', it.summary || ''].filter(Boolean).join(' · ') })),
    el('div', { class: 'actions' }, actions));
}

async function listView(title, viewName, empty, rowActions, extra, refine) {
  const st = { name: viewName };
  view = st;
  let page;
  try {
    page = await api('/api/items?view=' + viewName);
  } catch (e) {
    if (view !== st) return;
    clear(main()).append(heading(title), errorBox(e));
    return;
  }
  if (view !== st) return;
  let items = page.items || [];
  if (refine) {
    // The list is brief; what an update asks for is in each item's details.
    items = await Promise.all(items.map(it => api('/api/items/' + encodeURIComponent(it.id)).catch(() => it)));
    if (view !== st) return;
  }
  remember(items);
  clear(main()).append(
    heading(title, extra ? extra(items) : null),
    items.length ? el('ul', { class: 'rows', 'aria-label': title }, items.map(it => itemRow(it, rowActions(it)))) : el('p', { class: 'empty', text: empty }));
}

function renderInstalled() {
  return listView('Installed', 'installed', 'Nothing is installed.', it =>
    (it.actions || []).includes('remove') ? button('Remove', () => startJob({ action: 'remove', item: it.id }), { key: 'remove-' + it.id }) : null);
}

// heldBy is what the newest job that held back id's update said it asks.
function heldBy(id) {
  const done = [...jobs.values()].filter(j => j.result && j.result.held).sort((a, b) => String(b.ended).localeCompare(String(a.ended)));
  for (const j of done) {
    const h = j.result.held.find(h => h.id === id);
    if (h) return h.new_permissions || [];
  }
  return [];
}

function renderUpdates() {
  return listView('Updates', 'updates', 'Everything is up to date.', it => {
    if (!(it.new_permissions && it.new_permissions.length)) it.new_permissions = heldBy(it.id);
    const held = it.new_permissions && it.new_permissions.length;
    const out = [];
    if (held) {
      out.push(el('div', { class: 'held' },
        el('p', { text: 'Asks for new permissions, so it is not updated with the others:' }),
        permList(it.new_permissions)));
      out.push(button('Update anyway', () => startJob({ action: 'update', item: it.id, allow_permissions: true }), { key: 'anyway-' + it.id }));
    } else {
      if (it.downloaded) out.push(el('span', { class: 'badge', text: 'Downloaded' }));
      else if ((it.actions || []).includes('download')) out.push(button('Download', () => startJob({ action: 'download', item: it.id }), { key: 'download-' + it.id }));
      out.push(button('Update', () => startJob({ action: 'update', item: it.id }), { key: 'update-' + it.id }));
    }
    return out;
  }, items => el('div', { class: 'actions' },
    items.length ? button('Update all', () => startJob({ action: 'update-all' }), { key: 'update-all' }) : null,
    button('Check for updates', () => startJob({ action: 'refresh' }), { key: 'refresh' })), true);
}

async function renderOS() {
  const st = { name: 'os' };
  view = st;
  let os;
  try { os = await api('/api/os'); } catch (e) {
    if (view !== st) return;
    clear(main()).append(heading('System'), errorBox(e));
    return;
  }
  if (view !== st) return;
  const m = clear(main());
  m.append(heading('System'));
  if (!os.available && !(os.stateroots || []).length) {
    m.append(el('p', { class: 'empty', text: 'This center manages no operating system: start it with a sysroot to see its deployments.' }));
    return;
  }
  for (const sr of os.stateroots || []) {
    const id = 'os/' + sr.name;
    const hasRollback = (sr.deployments || []).some(d => d.rollback);
    m.append(el('section', { class: 'stateroot', 'aria-labelledby': 'sr-' + sr.name },
      el('h2', { id: 'sr-' + sr.name, text: sr.name }),
      sr.refspec ? el('p', null, 'Follows ', el('code', { text: sr.refspec })) : null,
      el('p', { class: 'update', role: 'status' }, sr.update
        ? `An upgrade is available: ${sr.update.version ? 'version ' + sr.update.version + ', ' : ''}commit ${short(sr.update.commit)}`
        : 'No upgrade known: check for updates to ask its remote.'),
      el('div', { class: 'actions' },
        button('Check for updates', () => startJob({ action: 'os-check' }), { key: 'os-check-' + sr.name }),
        button('Upgrade', () => startJob({ action: 'os-upgrade', item: id }), { key: 'os-upgrade-' + sr.name }),
        button('Roll back', () => startJob({ action: 'os-rollback', item: id }), { key: 'os-rollback-' + sr.name, disabled: !hasRollback })),
      el('table', { class: 'deployments' },
        el('caption', null, 'Deployments, the one booted by default first'),
        el('thead', null, el('tr', null, ['#', 'Version', 'Commit', 'State', ''].map(h => el('th', { scope: 'col', text: h })))),
        el('tbody', null, (sr.deployments || []).map(d => el('tr', { 'aria-label': `Deployment ${d.index}` },
          el('td', { text: String(d.index) }),
          el('td', { text: d.version || '' }),
          el('td', null, el('code', { text: short(d.commit) }), d.serial ? `.${d.serial}` : ''),
          el('td', null, [d.booted && 'booted', d.default && 'default', d.rollback && 'rollback', d.pinned && 'pinned', d.lazy && 'lazy'].filter(Boolean).map(w => el('span', { class: 'badge ' + w, text: w }))),
          el('td', null, d.pinned
            ? button('Unpin', () => startJob({ action: 'os-unpin', item: id, index: d.index }), { key: `unpin-${sr.name}-${d.index}` })
            : button('Pin', () => startJob({ action: 'os-pin', item: id, index: d.index }), { key: `pin-${sr.name}-${d.index}` })))))),
    ));
  }
}

async function renderHistory() {
  const st = { name: 'history' };
  view = st;
  let h;
  try { h = await api('/api/history?limit=200'); } catch (e) {
    if (view !== st) return;
    clear(main()).append(heading('History'), errorBox(e));
    return;
  }
  if (view !== st) return;
  const m = clear(main());
  m.append(heading('History'));
  if (!h || !h.length) { m.append(el('p', { class: 'empty', text: 'Nothing has been done yet.' })); return; }
  m.append(el('table', { class: 'history' },
    el('caption', null, 'Every operation, the newest first'),
    el('thead', null, el('tr', null, ['When', 'What', 'Ref', 'Remote', 'From', 'To', 'Result'].map(x => el('th', { scope: 'col', text: x })))),
    el('tbody', null, h.map(e => el('tr', { class: e.error ? 'failed' : '' },
      el('td', null, el('time', { datetime: e.time, text: when(e.time) })),
      el('td', { text: e.op }),
      el('td', { text: e.ref || '' }),
      el('td', { text: e.remote || '' }),
      el('td', null, el('code', { text: short(e.from) })),
      el('td', null, el('code', { text: short(e.to) })),
      el('td', { text: e.error ? 'failed: ' + e.error : 'done' }))))));
}

async function renderDisk() {
  const st = { name: 'disk' };
  view = st;
  let d;
  try { d = await api('/api/disk'); } catch (e) {
    if (view !== st) return;
    clear(main()).append(heading('Disk use'), errorBox(e));
    return;
  }
  if (view !== st) return;
  const items = (d.items || []).slice().sort((a, b) => b.bytes - a.bytes);
  const m = clear(main());
  m.append(heading('Disk use'), el('p', { class: 'count', text: `${bytes(d.total || 0)} in all` }));
  if (!items.length) { m.append(el('p', { class: 'empty', text: 'Nothing is installed.' })); return; }
  m.append(el('table', { class: 'disk' },
    el('caption', null, 'What each app and runtime takes'),
    el('thead', null, el('tr', null, ['Name', 'Kind', 'Size', ''].map(x => el('th', { scope: 'col', text: x })))),
    el('tbody', null, items.map(u => el('tr', { class: u.unused ? 'unused' : '', 'aria-label': u.name },
      el('td', null, el('span', { text: u.name }), el('br'), el('code', { class: 'small', text: u.ref })),
      el('td', { text: u.kind }),
      el('td', { text: bytes(u.bytes) }),
      el('td', null, u.unused ? [el('span', { class: 'badge unused', text: 'Unused' }), ' ',
        button('Remove', () => startJob({ action: 'remove', item: u.id }), { key: 'remove-' + u.id })] : null))))));
}

// Running: each instance, what its cgroup used, and its limits, which
// the form beside it changes.
let runningNote = ''; // what the last change of limits did, kept across the redraw it causes

async function renderRunning() {
  const st = { name: 'running' };
  view = st;
  let run;
  try { run = await api('/api/running'); } catch (e) {
    if (view !== st) return;
    clear(main()).append(heading('Running'), errorBox(e));
    return;
  }
  if (view !== st) return;
  const m = clear(main());
  const msg = el('p', { class: 'formmsg', role: 'status', text: runningNote });
  runningNote = '';
  m.append(heading('Running'));
  if (!run || !run.length) { m.append(el('p', { class: 'empty', text: 'No app is running.' }), msg); return; }
  m.append(el('table', { class: 'running' },
    el('caption', null, 'Apps running now, and what they may take'),
    el('thead', null, el('tr', null, ['Name', 'Instance', 'CPU time', 'Memory', 'Processes', 'Limits'].map(x => el('th', { scope: 'col', text: x })))),
    el('tbody', null, run.map(r => runningRow(r, msg)))), msg);
}

function runningRow(r, msg) {
  const name = names.get(r.id) || refName(r.ref);
  const u = r.usage;
  const lim = (u && u.limits) || {};
  const inst = r.instance || '';
  const field = (key, label, value) => {
    const id = `${key}-${inst}`;
    return el('label', { for: id }, label + ' ',
      el('input', { id, type: 'number', min: '1', step: '1', class: 'limit', value: value ? String(value) : '', placeholder: 'none', dataset: { key: id } }));
  };
  const form = el('form', { class: 'limits', 'aria-label': 'Limits of ' + name },
    field('mem', 'Memory (MiB)', lim.memory_bytes ? Math.round(lim.memory_bytes / 1048576) : 0),
    field('cpu', 'CPU (% of a core)', lim.cpu_percent),
    field('pids', 'Processes', lim.processes),
    el('button', { type: 'submit', dataset: { key: 'limit-' + inst }, disabled: !inst || !u }, 'Set limits'));
  form.addEventListener('submit', async ev => {
    ev.preventDefault();
    const val = k => { const n = parseInt(form.querySelector(`#${k}-${inst}`).value, 10); return isNaN(n) ? -1 : n; };
    const mem = val('mem');
    const body = { memory_bytes: mem > 0 ? mem * 1048576 : -1, cpu_percent: val('cpu'), processes: val('pids') };
    msg.textContent = `Limiting ${name}…`;
    try {
      await api(`/api/running/${encodeURIComponent(inst)}/limit`, { body });
      runningNote = `Limited ${name}.`;
      render(false);
    } catch (e) { msg.textContent = `${name} not limited: ${e.message}`; }
  });
  const held = [];
  if (lim.memory_bytes) held.push('memory ' + bytes(lim.memory_bytes));
  if (lim.cpu_percent) held.push(`CPU ${lim.cpu_percent}%`);
  if (lim.processes) held.push(`${lim.processes} processes`);
  return el('tr', { 'aria-label': name },
    el('td', null, el('span', { text: name }), r.update_landed ? [el('br'), el('span', { class: 'badge', text: 'Restart to update' })] : null),
    el('td', null, el('code', { text: inst || String(r.pid) })),
    el('td', { text: u ? `${(u.cpu_usec / 1e6).toFixed(2)} s` : '' }),
    el('td', { text: u && u.memory_bytes >= 0 ? bytes(u.memory_bytes) : '' }),
    el('td', { text: u ? String(u.processes) : '' }),
    el('td', null, el('span', { class: 'held', text: held.length ? held.join(', ') : 'none' }), form));
}

async function renderRemotes() {
  const st = { name: 'remotes' };
  view = st;
  let rs;
  try { rs = await api('/api/remotes'); } catch (e) {
    if (view !== st) return;
    clear(main()).append(heading('Remotes'), errorBox(e));
    return;
  }
  if (view !== st) return;
  const m = clear(main());
  const msg = el('p', { class: 'formmsg', role: 'status' });
  m.append(heading('Remotes'));
  if (!rs || !rs.length) m.append(el('p', { class: 'empty', text: 'No remotes: add one below.' }));
  else m.append(el('ul', { class: 'rows', 'aria-label': 'Remotes' }, rs.map(r => remoteRow(r, msg))));
  const name = el('input', { id: 'rname', name: 'name', required: true, pattern: '[A-Za-z0-9][A-Za-z0-9._-]*', autocomplete: 'off' });
  const url = el('input', { id: 'rurl', name: 'url', type: 'url', autocomplete: 'off' });
  const file = el('textarea', { id: 'rfile', name: 'file', rows: 4 });
  const form = el('form', { class: 'addremote', 'aria-labelledby': 'add-h' },
    el('h2', { id: 'add-h' }, 'Add a remote'),
    el('p', null, el('label', { for: 'rname' }, 'Name'), name),
    el('p', null, el('label', { for: 'rurl' }, 'Address'), url),
    el('p', null, el('label', { for: 'rfile' }, 'or the text of a .flatpakrepo'), file),
    el('button', { type: 'submit', dataset: { key: 'add-remote' } }, 'Add remote'), msg);
  form.addEventListener('submit', async ev => {
    ev.preventDefault();
    const body = { name: name.value.trim() };
    if (file.value.trim()) body.file = file.value;
    else body.url = url.value.trim();
    msg.textContent = 'Adding…';
    try {
      await api('/api/remotes', { body });
      msg.textContent = `Added ${body.name}.`;
      render(false);
    } catch (e) { msg.textContent = 'Not added: ' + e.message; }
  });
  m.append(form);
}

function remoteRow(r, msg) {
  const en = el('input', { type: 'checkbox', id: 'en-' + r.name, checked: !!r.enabled, dataset: { key: 'en-' + r.name } });
  const prio = el('input', { type: 'number', id: 'prio-' + r.name, value: String(r.priority ?? 1), min: '0', step: '1', class: 'prio', dataset: { key: 'prio-' + r.name } });
  const patch = async body => {
    try {
      await api('/api/remotes/' + encodeURIComponent(r.name), { method: 'PATCH', body });
      msg.textContent = `Changed ${r.name}.`;
    } catch (e) { msg.textContent = `${r.name} not changed: ${e.message}`; render(false); }
  };
  en.addEventListener('change', () => patch({ enabled: en.checked }));
  prio.addEventListener('change', () => { const n = parseInt(prio.value, 10); if (!isNaN(n)) patch({ priority: n }); });
  return el('li', { class: 'row remote', 'aria-label': r.name },
    el('div', { class: 'rowtext' },
      el('span', { class: 'name', text: r.title ? `${r.title} (${r.name})` : r.name }),
      el('code', { class: 'small', text: r.url }),
      el('span', { class: 'summary', text: r.gpg_verify ? 'signatures checked' : 'signatures not checked' })),
    el('div', { class: 'actions' },
      el('label', { for: 'en-' + r.name }, en, ' Enabled'),
      el('label', { for: 'prio-' + r.name }, 'Priority ', prio)));
}

// ---------- start ----------

function keys() {
  document.addEventListener('keydown', ev => {
    if (ev.key !== 'Escape') return;
    const pv = document.getElementById('preview');
    if (!pv.hidden) { closePreview(); ev.preventDefault(); return; }
    if (route().name === 'app') { location.hash = lastList; ev.preventDefault(); }
  });
}

function start() {
  setupOpen();
  keys();
  window.addEventListener('hashchange', () => render(true));
  render(!!location.hash && location.hash !== '#/explore');
  loadJobs();
  listen();
  loadRunning();
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
else start();
