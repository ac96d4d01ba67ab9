/**
 * The search page: one HTML document with its CSS and JS inline, served at `/`. No build step:
 * it is a few hundred lines that talk to the same public API any client uses (`/v1/search`,
 * `/v1/collections`, thumbnails through `/v1/items/:id/thumbnail`), so it needs no privileges
 * and never sees store or S3 credentials.
 */
import { createHash } from 'node:crypto';

const STYLE = String.raw`
:root { --fg:#1d232b; --muted:#67707c; --line:#dfe3e8; --bg:#f6f7f9; --card:#fff; --accent:#2557d6; --warn:#a15c00; }
* { box-sizing: border-box; }
body { margin:0; font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","Noto Sans CJK JP",sans-serif; color:var(--fg); background:var(--bg); }
header { display:flex; align-items:baseline; gap:1rem; padding:.8rem 1.5rem; background:var(--card); border-bottom:1px solid var(--line); flex-wrap:wrap; }
header h1 { font-size:1.2rem; margin:0; letter-spacing:.02em; }
header .meta { color:var(--muted); font-size:.85rem; }
header .warn { color:var(--warn); font-weight:600; font-size:.85rem; }
header nav { margin-left:auto; font-size:.85rem; } header nav a { color:var(--accent); margin-left:.8rem; }
main { max-width:1200px; margin:0 auto; padding:1.2rem 1.5rem 3rem; }
form { display:grid; grid-template-columns: 1fr auto; gap:.7rem; }
.query { display:flex; gap:.5rem; }
.query input[type=search] { flex:1; font-size:1.05rem; padding:.6rem .8rem; border:1px solid var(--line); border-radius:8px; }
button { font:inherit; padding:.55rem 1.1rem; border-radius:8px; border:1px solid var(--accent); background:var(--accent); color:#fff; cursor:pointer; }
button.ghost { background:transparent; color:var(--accent); }
.drop { grid-row: span 2; width:170px; min-height:96px; border:2px dashed var(--line); border-radius:10px; display:flex; align-items:center; justify-content:center; text-align:center; color:var(--muted); font-size:.85rem; padding:.4rem; cursor:pointer; position:relative; background:var(--card); }
.drop.over { border-color:var(--accent); color:var(--accent); }
.drop img { max-width:100%; max-height:86px; border-radius:6px; }
.drop input { display:none; }
.options { display:flex; gap:1rem; flex-wrap:wrap; align-items:center; color:var(--muted); font-size:.9rem; }
.options select, .options input { font:inherit; padding:.2rem .4rem; border:1px solid var(--line); border-radius:6px; }
.options input[name=lang] { width:5.5rem; }
#status { margin:1rem 0 .6rem; color:var(--muted); font-size:.9rem; min-height:1.3em; }
#status .timings b { color:var(--fg); font-weight:600; }
#status.error { color:#b3261e; }
.grid { display:grid; grid-template-columns:repeat(auto-fill,minmax(170px,1fr)); gap:.9rem; }
.hit { background:var(--card); border:1px solid var(--line); border-radius:10px; overflow:hidden; display:flex; flex-direction:column; }
.hit .thumb { aspect-ratio:1; background:#eef0f3; display:flex; align-items:center; justify-content:center; overflow:hidden; }
.hit .thumb img { width:100%; height:100%; object-fit:cover; }
.hit .thumb.text { padding:.8rem; font-size:.92rem; align-items:flex-start; justify-content:flex-start; background:#fbfbf7; overflow:auto; }
.hit .body { padding:.5rem .6rem .6rem; font-size:.82rem; display:flex; flex-direction:column; gap:.2rem; }
.hit .title { font-weight:600; font-size:.88rem; overflow:hidden; text-overflow:ellipsis; white-space:nowrap; }
.hit .row { display:flex; gap:.35rem; align-items:center; flex-wrap:wrap; color:var(--muted); }
.badge { display:inline-block; padding:0 .35rem; border-radius:4px; background:#eef2fb; color:#2b4a9a; font-size:.75rem; }
.badge.lang { background:#eef7ee; color:#256029; }
.score { margin-left:auto; font-variant-numeric:tabular-nums; color:var(--fg); }
.hit .more { font-size:.78rem; padding:.15rem .5rem; margin-top:.2rem; align-self:flex-start; }
.groups { display:grid; grid-template-columns:repeat(auto-fill,minmax(360px,1fr)); gap:1rem; }
.group { background:#eceff3; border-radius:12px; padding:.5rem .6rem .7rem; }
.group h2 { font-size:.9rem; margin:.1rem 0 .5rem; color:var(--muted); font-weight:600; }
.group .grid { grid-template-columns:repeat(3,minmax(0,1fr)); gap:.5rem; }
.group .hit .body { font-size:.75rem; padding:.35rem .4rem .45rem; }
.group .hit .title { font-size:.78rem; }
.group .hit .product { display:none; }
.group .hit .thumb.text { font-size:.8rem; padding:.5rem; }
.group h2 b { color:var(--fg); }
.empty { color:var(--muted); padding:2rem 0; text-align:center; }
mark { background:#fff1a8; color:inherit; padding:0 .05em; border-radius:2px; }
.products { display:grid; grid-template-columns:repeat(auto-fill,minmax(210px,1fr)); gap:.9rem; }
.product { background:var(--card); border:1px solid var(--line); border-radius:10px; overflow:hidden; display:flex; flex-direction:column; }
.product .thumb { aspect-ratio:4/3; background:#eef0f3; overflow:hidden; }
.product .thumb img { width:100%; height:100%; object-fit:cover; }
.product .body { padding:.55rem .7rem .7rem; display:flex; flex-direction:column; gap:.25rem; font-size:.84rem; }
.product .title { font-weight:600; font-size:.95rem; line-height:1.3; }
.product .brand { color:var(--muted); text-transform:uppercase; letter-spacing:.04em; font-size:.72rem; }
.product .price { font-weight:700; font-size:1rem; }
.product .sku, .why { color:var(--muted); font-size:.75rem; font-variant-numeric:tabular-nums; }
.rows { display:flex; flex-direction:column; gap:.4rem; margin-top:.9rem; }
.textrow { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:.45rem .7rem; display:flex; gap:.6rem; align-items:baseline; flex-wrap:wrap; font-size:.88rem; }
.textrow .title { font-weight:600; }
`;

const SCRIPT = String.raw`
const $ = (s) => document.querySelector(s);
const state = { image: null, key: sessionStorage.getItem('clipstream-key') || '' };
const form = $('#search'), drop = $('#drop'), fileInput = $('#file'), status = $('#status'), results = $('#results');

function headers(extra) { const h = Object.assign({}, extra || {}); if (state.key) h['x-api-key'] = state.key; return h; }
function el(tag, cls, text) { const e = document.createElement(tag); if (cls) e.className = cls; if (text !== undefined) e.textContent = text; return e; }

async function api(path, init) {
  for (let attempt = 0; attempt < 2; attempt++) {
    const res = await fetch(path, Object.assign({}, init, { headers: headers(init && init.headers) }));
    if (res.status === 401 && attempt === 0) {
      const key = prompt('This service needs an API key:');
      if (!key) return res;
      state.key = key; sessionStorage.setItem('clipstream-key', key);
      continue;
    }
    return res;
  }
}

function setImage(file) {
  state.image = file;
  drop.replaceChildren();
  if (!file) { drop.append(el('span', '', 'Drop an image here or click to choose')); return; }
  const img = el('img'); img.alt = file.name; img.src = URL.createObjectURL(file);
  drop.append(img);
  const clear = el('button', 'ghost', '×'); clear.type = 'button'; clear.title = 'remove image';
  clear.style.cssText = 'position:absolute;top:2px;right:2px;padding:0 .4rem';
  clear.onclick = (ev) => { ev.stopPropagation(); fileInput.value = ''; setImage(null); };
  drop.append(clear);
}

// The last thing the shopper did decides the query: choosing an image clears the text, and
// submitting text drops the image, so the page never shows one query while running another.
function chooseImage(file) { if (!file) return; form.q.value = ''; setImage(file); run(); }
drop.addEventListener('click', () => fileInput.click());
drop.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); fileInput.click(); } });
fileInput.addEventListener('change', () => chooseImage(fileInput.files[0] || null));
drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => {
  e.preventDefault(); drop.classList.remove('over');
  const f = [...e.dataTransfer.files].find((x) => x.type.startsWith('image/'));
  chooseImage(f);
});
form.addEventListener('submit', (e) => {
  e.preventDefault();
  if (form.q.value.trim()) { fileInput.value = ''; setImage(null); }
  run();
});

function options(forText) {
  const o = { modality: form.modality.value, limit: Number(form.limit.value) };
  if (form.group.checked) { o.group_by = 'product'; o.group_size = 3; }
  // The mode and the query's language apply to text queries; images and points are dense.
  if (forText && form.mode.value !== 'auto') o.mode = form.mode.value;
  if (forText && form.qlang.value !== 'auto') o.lang = form.qlang.value;
  const langs = form.lang.value.split(',').map((s) => s.trim()).filter(Boolean);
  if (langs.length) o.filter = { lang: langs.length === 1 ? langs[0] : langs };
  return o;
}

async function run(pointId) {
  const text = form.q.value.trim();
  const o = options(!pointId && !state.image && !!text);
  let init;
  if (pointId) init = { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(Object.assign({ point_id: pointId }, o)) };
  else if (state.image) {
    const fd = new FormData();
    for (const [k, v] of Object.entries(o)) fd.append(k, typeof v === 'object' ? JSON.stringify(v) : String(v));
    fd.append('image', state.image, state.image.name || 'query.png');
    init = { method: 'POST', body: fd };
  } else if (text) init = { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(Object.assign({ text }, o)) };
  else { status.textContent = 'Type a query or drop an image.'; return; }
  status.className = ''; status.textContent = 'Searching…';
  const started = performance.now();
  let res, body;
  try { res = await api('/v1/search', init); body = await res.json(); }
  catch (err) { status.className = 'error'; status.textContent = 'Search failed: ' + err.message; return; }
  if (!res.ok) { status.className = 'error'; status.textContent = (body.error && body.error.message) || ('HTTP ' + res.status); results.replaceChildren(); return; }
  render(body, performance.now() - started);
}

function thumbnail(hit) {
  const box = el('div', 'thumb');
  const p = hit.payload || {};
  if (hit.thumbnail) {
    const img = el('img'); img.alt = p.title || '';
    if (state.key) fetch(hit.thumbnail, { headers: headers() }).then((r) => r.ok ? r.blob() : null).then((b) => { if (b) img.src = URL.createObjectURL(b); });
    else img.src = hit.thumbnail;
    box.append(img);
  } else {
    box.classList.add('text');
    box.textContent = p.text || p.title || '';
  }
  return box;
}

/** The text with its [start, end) spans wrapped in <mark>, built from text nodes (never HTML). */
function marked(text, spans) {
  const f = document.createDocumentFragment();
  let at = 0;
  for (const [s, e] of spans || []) {
    if (s > at) f.append(text.slice(at, s));
    f.append(el('mark', '', text.slice(s, e)));
    at = e;
  }
  if (at < text.length) f.append(text.slice(at));
  return f;
}

function why(hit) {
  const x = hit.explain;
  if (!x) return null;
  const parts = [];
  if (x.dense_rank) parts.push('dense #' + x.dense_rank);
  if (x.lexical_rank) parts.push('words #' + x.lexical_rank);
  if (x.matched_terms && x.matched_terms.length) parts.push('matched ' + x.matched_terms.join(' '));
  return parts.length ? el('div', 'why', parts.join(' · ')) : null;
}

function similar(hit) {
  const more = el('button', 'ghost more', 'similar'); more.type = 'button'; more.title = 'more like this';
  more.onclick = () => { form.q.value = ''; fileInput.value = ''; setImage(null); run(hit.id); };
  return more;
}

/** One product as a shop shows it: photo, brand, title in the query's language, SKU, price. */
function productCard(g) {
  const p = g.product || {};
  const best = g.hits[0] || {};
  const title = p.title || (best.payload && best.payload.title) || String(g.product_id);
  if (!p.image) {
    // A product without a photo: a compact row, not an empty picture frame.
    const r = el('article', 'textrow'); r.dataset.testid = 'hit'; r.dataset.product = String(g.product_id); r.dataset.id = best.id || ''; r.dataset.modality = 'text';
    const t = el('span', 'title'); t.dataset.testid = 'title'; t.append(marked(title, p.highlights)); r.append(t);
    if (p.brand) r.append(el('span', 'brand', p.brand));
    if (p.sku) r.append(el('span', 'sku', 'SKU ' + p.sku));
    if (p.price !== undefined) r.append(el('span', 'price', '€' + p.price.toFixed(2)));
    const w = why(best); if (w) r.append(w);
    return r;
  }
  const c = el('article', 'product'); c.dataset.testid = 'hit'; c.dataset.product = String(g.product_id); c.dataset.id = best.id || '';
  c.dataset.modality = (best.payload && best.payload.modality) || '';
  const box = el('div', 'thumb'); const img = el('img'); img.alt = title;
  if (state.key) fetch(p.image, { headers: headers() }).then((r) => r.ok ? r.blob() : null).then((b) => { if (b) img.src = URL.createObjectURL(b); });
  else img.src = p.image;
  box.append(img); c.append(box);
  const b = el('div', 'body');
  if (p.brand) b.append(el('div', 'brand', p.brand));
  const t = el('div', 'title'); t.dataset.testid = 'title'; if (p.lang) t.lang = p.lang; t.append(marked(title, p.highlights)); b.append(t);
  if (p.sku) b.append(el('div', 'sku', 'SKU ' + p.sku));
  if (p.price !== undefined) b.append(el('div', 'price', '€' + p.price.toFixed(2)));
  const w = why(best); if (w) b.append(w);
  const image = g.hits.find((h) => h.payload && h.payload.modality === 'image');
  if (image) b.append(similar(image));
  c.append(b);
  return c;
}

/** A text hit outside product grouping: a compact row with its matched words marked. */
function textRow(hit) {
  const p = hit.payload || {};
  const r = el('article', 'textrow'); r.dataset.testid = 'hit'; r.dataset.id = hit.id; r.dataset.product = p.product_id || ''; r.dataset.modality = 'text';
  const t = el('span', 'title'); t.dataset.testid = 'title'; if (p.lang) t.lang = p.lang;
  t.append(marked(p.title || p.text || '', hit.explain && hit.explain.highlights && hit.explain.highlights.title)); r.append(t);
  if (p.lang) r.append(el('span', 'badge lang', p.lang));
  if (p.product_id) r.append(el('span', 'sku', 'product ' + p.product_id));
  r.append(el('span', 'score', hit.score.toFixed(3)));
  const w = why(hit); if (w) r.append(w);
  return r;
}

function card(hit) {
  const p = hit.payload || {};
  const c = el('article', 'hit');
  c.dataset.testid = 'hit'; c.dataset.id = hit.id; c.dataset.product = p.product_id || ''; c.dataset.modality = p.modality || '';
  c.append(thumbnail(hit));
  const b = el('div', 'body');
  // A text card already shows its text; its title line would repeat it.
  if (!(p.modality === 'text' && p.title === p.text)) {
    const t = el('div', 'title'); t.dataset.testid = 'title';
    t.append(marked(p.title || p.source || hit.id, hit.explain && hit.explain.highlights && hit.explain.highlights.title));
    b.append(t);
  }
  const row = el('div', 'row');
  row.append(el('span', 'badge', p.modality || '?'));
  if (p.lang) row.append(el('span', 'badge lang', p.lang));
  row.append(el('span', 'score', hit.score.toFixed(3)));
  b.append(row);
  if (p.product_id) b.append(el('div', 'row product', 'product ' + p.product_id));
  const w = why(hit); if (w) b.append(w);
  b.append(similar(hit));
  c.append(b);
  return c;
}

function render(body, clientMs) {
  const t = body.timings || {}, s = body.stages || {};
  status.replaceChildren();
  const span = el('span', 'timings');
  const parts = [['encode', t.encode_ms], ['search', t.search_ms], ['server', t.total_ms], ['page', clientMs]];
  parts.forEach(([name, ms], i) => { if (i) span.append(' · '); span.append(name + ' '); span.append(el('b', '', (ms ?? 0).toFixed(1) + ' ms')); });
  status.append(span);
  const stageText = body.query && body.query.mode === 'exact'
    ? 'exact ' + (s.dims || []).join('') + '-d search'
    : 'candidates ' + (s.dims || []).map((d, i) => d + '-d ' + s.limits[i]).join(' → ') + (s.source ? ' (' + s.source + ')' : '');
  const q = body.query || {};
  const retrieval = q.retrieval ? ' · ' + q.retrieval + (q.fusion ? ' ' + q.fusion : '') + (q.lang ? ' · words as ' + q.lang : '') : '';
  status.append(' · ' + stageText + retrieval + (q.cached ? ' · cached embedding' : ''));
  if (q.fallback) status.append(el('div', '', q.fallback));
  results.replaceChildren();
  if (body.groups) {
    if (!body.groups.length) results.append(el('div', 'empty', 'No results.'));
    // One card per product with a photo; products without one are compact rows below.
    const cards = el('div', 'products'), rows = el('div', 'rows');
    for (const g of body.groups) {
      const c = productCard(g); c.dataset.group = 'product';
      (g.product && g.product.image ? cards : rows).append(c);
    }
    results.append(cards, rows);
    return;
  }
  if (!body.hits.length) { results.append(el('div', 'empty', 'No results.')); return; }
  const grid = el('div', 'grid'), rows = el('div', 'rows');
  body.hits.forEach((hit) => (hit.payload && hit.payload.modality === 'text' ? rows : grid).append(hit.payload && hit.payload.modality === 'text' ? textRow(hit) : card(hit)));
  results.append(grid, rows);
}

api('/v1/collections').then((r) => r.ok ? r.json() : null).then((c) => {
  if (!c) return;
  const col = c.collections && c.collections[0];
  const meta = $('#meta');
  if (col) meta.textContent = col.points + ' items · ' + (col.model || c.model) + ' · dims ' + (col.dims || []).join('/');
  if (c.test_model) $('#warn').textContent = 'TEST MODEL — not jina-clip-v2 quality';
}).catch(() => {});
setImage(null);
`;

/** `'sha256-…'` of an inline element's exact text: the policy admits that script or style and nothing else inline. */
function cspHash(text: string): string {
  return `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;
}

/**
 * Content-Security-Policy for the page: its own inline script and style by hash (no
 * 'unsafe-inline', so an injected script would not run), requests to this origin only, blobs
 * (authorised thumbnails) and data URLs for images.
 */
export const PAGE_CSP =
  `default-src 'none'; script-src ${cspHash(SCRIPT)}; style-src ${cspHash(STYLE)}; img-src 'self' blob: data:; connect-src 'self'; ` +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export function searchPage(options: { title?: string } = {}): string {
  const title = options.title ?? 'clipstream search';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<header>
  <h1>clipstream</h1>
  <span class="meta" id="meta"></span>
  <span class="warn" id="warn"></span>
  <nav><a href="/docs">API docs</a><a href="/metrics">metrics</a></nav>
</header>
<main>
  <form id="search" autocomplete="off">
    <div class="query">
      <input type="search" name="q" id="q" placeholder="Search in any language: red shoes, rote Schuhe, 赤い靴 …" autofocus>
      <button type="submit" id="go">Search</button>
    </div>
    <div class="drop" id="drop" data-testid="drop" role="button" tabindex="0" title="query by image"></div>
    <div class="options">
      <label>show <select name="modality"><option value="any">images and texts</option><option value="image">images</option><option value="text">texts</option></select></label>
      <label>results <select name="limit"><option>10</option><option selected>20</option><option>50</option></select></label>
      <label>search by <select name="mode" title="hybrid: meaning and exact words fused; dense: meaning only; lexical: words only"><option value="auto">meaning + words</option><option value="dense">meaning</option><option value="lexical">words</option></select></label>
      <label>query in <select name="qlang"><option value="auto">any language</option><option>en</option><option>de</option><option>fr</option><option>es</option><option>it</option><option>ja</option><option>zh</option></select></label>
      <label><input type="checkbox" name="group" checked> one card per product</label>
      <label>language <input name="lang" placeholder="e.g. de,fr"></label>
    </div>
  </form>
  <input type="file" id="file" accept="image/*" hidden>
  <div id="status" role="status"></div>
  <div id="results"></div>
</main>
<script>${SCRIPT}</script>
</body>
</html>
`;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}
