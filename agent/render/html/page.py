"""Assembles the self-contained HTML files: inline CSS, a little vanilla JS, nothing fetched.

`viewer_page(batch)` is what `tracr-agent view` writes; `episode_page(blocks)` is `export --format html`.

The viewer draws an episode only when it is opened: up to INLINE_EPISODES episodes, each one's HTML and
pictures sit in the page in an inert `<script type="application/json">` (no DOM, no layout until then),
so the file stands alone; a larger batch keeps one small script per episode in a folder beside the page
(`view-episodes/` for `view.html`), loaded when the episode is opened and kept while its transcript is
unchanged, so a page of 1,000 episodes loads as fast as its list and `view` redraws only what changed. The list's state — filters, search text, sort — lives in the URL hash
(`#filter=wrong&task=sort&condition=full&q=text&sort=3:desc`), so a link opens the page already
filtered (the report's table links that way); `#ep-3` opens one episode, with previous/next links that
follow the list as it is filtered and sorted, and keys (j/k or →/←, Esc, /). A page of one episode
(`view FILE.jsonl`) opens on it.
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Optional

from tracr_agent.agent.render.html.episode import episode_html
from tracr_agent.agent.render.html.episodes import INLINE_EPISODES, episode_files, inert, inline_sections
from tracr_agent.agent.render.html.overview import episode_list_html, overview_html
from tracr_agent.agent.render.html.pictures import DRAW_SCRIPT, Drawing
from tracr_agent.agent.render.html.sources import Batch

CSS = """
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, Segoe UI, sans-serif; max-width: 76rem; margin: 2rem auto;
       padding: 0 1rem; color: #1d1d1f; background: #fff; line-height: 1.45; }
h1 { font-size: 1.5rem; } h2 { margin-top: 2rem; border-bottom: 1px solid #ddd; } h3 { font-size: 1rem; }
table.facts td:first-child { font-weight: 600; padding-right: 1rem; vertical-align: top; }
pre { background: #f5f5f7; padding: .75rem; overflow-x: auto; border-radius: 4px; font-size: .85rem;
      white-space: pre-wrap; overflow-wrap: anywhere; }
pre.error { background: #fff0f0; color: #a00; }
.meta { color: #555; font-size: .85rem; } .text { border-left: 3px solid #2a7ae2; padding-left: .75rem; }
.unsafe { background: #fdd; border: 2px solid #c00; padding: .5rem; font-weight: bold; }
.note { background: #f0f6ff; padding: .5rem; } .warning { background: #fff0f0; padding: .5rem; color: #a00; }
details { margin: .5rem 0; } summary { cursor: pointer; color: #444; }
.call { border: 1px solid #e3e3e8; border-radius: 6px; padding: 0 .75rem .5rem; margin: .75rem 0; }
.call h3 { margin: .5rem 0 .25rem; } p.args { margin: .25rem 0; overflow-wrap: anywhere; }
p.args code { background: #f5f5f7; padding: 1px 4px; border-radius: 3px; }
table { border-collapse: collapse; margin: .5rem 0; font-size: .85rem; }
figure.picture { margin: .5rem 1rem .5rem 0; display: inline-block; vertical-align: top; max-width: 100%;
                 overflow-x: auto; }
.ptitle { color: #444; margin: .25rem 0 0; font-size: .8rem; }
.heatmap th, .heatmap td, .decode th, .decode td, .effects th, .effects td, .io td, .io th,
table.episodes th, table.episodes td { border: 1px solid #e3e3e8; padding: 2px 6px; }
.heatmap td.cell { min-width: 1.6rem; text-align: center; font-variant-numeric: tabular-nums; }
.heatmap td.cell a { color: inherit; text-decoration: none; display: block; }
.heatmap td.empty { background: #fafafa; }
.heatmap th.col { font-weight: 500; white-space: nowrap; } .heatmap th.row { text-align: right; font-weight: 500; }
.decode td.value { text-align: center; }
.toks { display: inline-flex; gap: 2px; flex-wrap: wrap; } .tok { padding: 0 4px; border-radius: 3px; font-family: monospace; }
.tok.changed { outline: 2px solid #dc2626; } .verdict.moved { color: #b91c1c; font-weight: 600; }
.compare { display: grid; grid-template-columns: 1fr 1fr; gap: 1rem; }
.compare .side { border: 1px solid #e3e3e8; border-radius: 6px; padding: 0 .75rem; min-width: 0; }
.outcome.correct { color: #15803d; } .outcome.wrong { color: #b91c1c; } .outcome.none { color: #a16207; }
div.verdict { border-radius: 6px; padding: .5rem .75rem; margin: .75rem 0; border: 2px solid #ccc; }
div.verdict.correct { border-color: #15803d; background: #f0fdf4; }
div.verdict.wrong { border-color: #b91c1c; background: #fef2f2; }
div.verdict.none, div.verdict.incomplete { border-color: #a16207; background: #fefce8; }
div.verdict strong { font-size: 1.1rem; margin-right: 1rem; } .pvt b { font-family: monospace; }
ul.score-parts { margin: .25rem 0 0; padding-left: 1.2rem; font-size: .9rem; }
.filters label { margin-right: 1rem; white-space: nowrap; } .filters input { width: 14rem; }
table.episodes th { cursor: pointer; user-select: none; background: #f5f5f7; position: sticky; top: 0; }
table.episodes th.asc::after { content: " ▲"; } table.episodes th.desc::after { content: " ▼"; }
table.episodes td.label { max-width: 22rem; overflow-wrap: anywhere; }
table.episodes tr.current td { background: #eef4ff; }
.episode { display: none; } .episode.open { display: block; }
nav.epnav { position: sticky; top: 0; background: #fff; border-bottom: 1px solid #ddd; padding: .4rem 0;
            z-index: 1; } nav.epnav a { margin-right: .75rem; } nav.epnav a.off { color: #aaa; pointer-events: none; }
body.reading #overview, body.reading #list, body.reading > h1, body.reading > p.meta { display: none; }
"""

# The list: selects, search box and column headers <-> URL hash <-> rows' `hidden` and order. An episode
# (#ep-N) is drawn from its inert source the first time it is opened; previous/next follow the rows
# shown, in their order.
SCRIPT = """
(function () {
  var list = document.getElementById('list');
  if (!list) return;
  var keys = JSON.parse(list.getAttribute('data-keys'));
  var tbody = list.querySelector('tbody');
  var rows = Array.prototype.slice.call(tbody.rows);
  var heads = Array.prototype.slice.call(list.querySelectorAll('th[data-col]'));
  var controls = {};
  list.querySelectorAll('[data-key]').forEach(function (c) { controls[c.getAttribute('data-key')] = c; });
  rows.forEach(function (r, i) { r._i = i; r._text = r.textContent.toLowerCase(); });
  var lastList = '', current = null, routed = false;
  var single = document.querySelectorAll('section.episode').length === 1 && rows.length === 1;
  function parse(hash) {
    var state = {};
    hash.replace(/^#/, '').split('&').forEach(function (kv) {
      var i = kv.indexOf('=');
      if (i > 0) state[decodeURIComponent(kv.slice(0, i))] = decodeURIComponent(kv.slice(i + 1));
    });
    return state;
  }
  function cellValue(row, col, type) {
    var cell = row.cells[col];
    if (type === 'num') { var v = parseFloat(cell.getAttribute('data-v')); return isNaN(v) ? -Infinity : v; }
    return cell.textContent.toLowerCase();
  }
  function apply(state) {
    keys.concat(['q']).forEach(function (k) {
      if (controls[k]) controls[k].value = state[k] || (k === 'filter' ? 'all' : '');
    });
    var q = (state.q || '').toLowerCase();
    var sort = (state.sort || '').split(':'), col = parseInt(sort[0], 10), desc = sort[1] === 'desc';
    var ordered = rows.slice();
    heads.forEach(function (h) { h.classList.remove('asc', 'desc'); });
    if (!isNaN(col) && heads[col]) {
      var type = heads[col].getAttribute('data-type');
      heads[col].classList.add(desc ? 'desc' : 'asc');
      ordered.sort(function (a, b) {
        var x = cellValue(a, col, type), y = cellValue(b, col, type);
        var c = x < y ? -1 : x > y ? 1 : a._i - b._i;
        return desc && x !== y ? -c : c;
      });
    }
    var shown = 0;
    ordered.forEach(function (row) {
      var ok = keys.every(function (k) {
        var want = state[k];
        if (!want || (k === 'filter' && want === 'all')) return true;
        return row.getAttribute(k === 'filter' ? 'data-outcome' : 'data-' + k) === want;
      }) && (!q || row._text.indexOf(q) >= 0);
      row.hidden = !ok;
      if (ok) shown++;
      tbody.appendChild(row);
    });
    document.getElementById('shown').textContent = shown;
    list.setAttribute('data-state', JSON.stringify(state));
  }
  function hashOf(state) {
    var parts = [];
    keys.concat(['q', 'sort']).forEach(function (k) {
      var v = state[k];
      if (v && !(k === 'filter' && v === 'all')) parts.push(k + '=' + encodeURIComponent(v));
    });
    return parts.length ? '#' + parts.join('&') : '#list';
  }
  function controlState() {
    var state = parse(lastList);
    keys.concat(['q']).forEach(function (k) { if (controls[k]) state[k] = controls[k].value; });
    return state;
  }
  function visible() { return Array.prototype.filter.call(tbody.rows, function (r) { return !r.hidden; }); }
  function draw(body, ep) {
    body.innerHTML = ep.html;
    tracrDraw(body, ep.pictures);
    body.setAttribute('data-drawn', '');
  }
  var waiting = {};
  window.tracrEpisode = function (ep) {
    var id = document.currentScript.getAttribute('data-ep');
    if (waiting[id]) { draw(waiting[id], ep); delete waiting[id]; }
  };
  function load(sec, body) {
    var inline = document.getElementById('src-' + sec.id);
    if (inline) return draw(body, JSON.parse(inline.textContent));
    if (waiting[sec.id]) return;
    waiting[sec.id] = body;
    var s = document.createElement('script');
    s.src = sec.getAttribute('data-src');
    s.setAttribute('data-ep', sec.id);
    s.onerror = function () {
      delete waiting[sec.id];
      body.innerHTML = '<p class="warning">The file of this episode could not be loaded: keep the folder '
        + sec.getAttribute('data-src').split('/')[0] + ' beside the page.</p>';
    };
    document.head.appendChild(s);
  }
  function open(id) {
    var sec = document.getElementById(id);
    if (!sec) return false;
    var body = sec.querySelector('.body');
    if (current && current !== sec) current.classList.remove('open');
    sec.classList.add('open');
    current = sec;
    var vis = visible(), at = -1;
    for (var i = 0; i < vis.length; i++) if (vis[i].id === 'row-' + id) at = i;
    if (!body.hasAttribute('data-drawn')) load(sec, body);
    function link(cls, row) {
      var a = sec.querySelector('a.' + cls);
      a.classList.toggle('off', !row);
      a.setAttribute('href', row ? '#' + row.id.slice(4) : '#' + id);
    }
    link('prev', at > 0 ? vis[at - 1] : null);
    link('next', at >= 0 && at < vis.length - 1 ? vis[at + 1] : null);
    sec.querySelector('.pos').textContent = at >= 0 ? (at + 1) + ' of ' + vis.length + ' shown' : 'not in the list as filtered';
    rows.forEach(function (r) { r.classList.toggle('current', r.id === 'row-' + id); });
    return true;
  }
  function route() {
    var hash = location.hash;
    var m = /^#(ep-\\d+)$/.exec(hash);
    var id = m ? m[1] : (!hash && single ? document.querySelector('section.episode').id : null);
    var reading = !!id && open(id);
    document.body.classList.toggle('reading', reading);
    if (reading) { window.scrollTo(0, 0); routed = true; return; }
    if (current) { current.classList.remove('open'); current = null; }
    lastList = hash;
    document.querySelectorAll('a.back').forEach(function (a) { a.setAttribute('href', lastList || '#list'); });
    apply(parse(hash));
    // a filter (a heatmap cell, a select, a link from the report) brings the list into view
    if (hash && (routed || hash !== '#list')) list.scrollIntoView();
    routed = true;
  }
  function go(state, replace) {
    var hash = hashOf(state);
    if (replace) { history.replaceState(null, '', hash); route(); } else location.hash = hash;
  }
  Object.keys(controls).forEach(function (k) {
    var c = controls[k];
    if (c.tagName === 'INPUT') {
      var timer = null;
      c.addEventListener('input', function () {
        clearTimeout(timer);
        timer = setTimeout(function () { go(controlState(), true); }, 150);
      });
    } else c.addEventListener('change', function () { go(controlState(), false); });
  });
  heads.forEach(function (h) {
    h.addEventListener('click', function () {
      var state = controlState(), col = h.getAttribute('data-col');
      var now = (parse(lastList).sort || '').split(':');
      state.sort = col + ':' + (now[0] === col && now[1] !== 'desc' ? 'desc' : 'asc');
      go(state, false);
    });
  });
  document.addEventListener('keydown', function (e) {
    var t = e.target, typing = t && (t.tagName === 'INPUT' || t.tagName === 'SELECT' || t.tagName === 'TEXTAREA');
    if (typing) { if (e.key === 'Escape') t.blur(); return; }
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (current) {
      var to = (e.key === 'j' || e.key === 'ArrowRight' || e.key === 'n') ? 'next'
             : (e.key === 'k' || e.key === 'ArrowLeft' || e.key === 'p') ? 'prev' : null;
      if (to) {
        var a = current.querySelector('a.' + to);
        if (!a.classList.contains('off')) location.hash = a.getAttribute('href');
        e.preventDefault();
      } else if (e.key === 'Escape' || e.key === 'u') { location.hash = lastList || '#list'; e.preventDefault(); }
    } else if (e.key === '/' && controls.q) { controls.q.focus(); e.preventDefault(); }
  });
  window.addEventListener('hashchange', route);
  route();
})();
"""


def html_document(title: str, body: str, script: str = "") -> str:
    head = ['<!DOCTYPE html>', '<html lang="en">', "<head>", '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{escape(title)}</title>", f"<style>{CSS}</style>", "</head>", "<body>", body]
    if script:
        head.append(f"<script>{script}</script>")
    return "\n".join(head + ["</body>", "</html>"]) + "\n"


def episode_page(blocks) -> str:
    """One episode as a page (`export --format html`): its HTML, and its pictures drawn on load."""
    title = next((b[1] for b in blocks if b[0] == "title"), "tracr-agent episode")
    drawing = Drawing()
    body = episode_html(blocks, drawing)
    return html_document(title, body + f'<script type="application/json" id="pictures">{inert(drawing.descriptors)}'
                         "</script>", DRAW_SCRIPT + "tracrDraw(document.body, "
                         "JSON.parse(document.getElementById('pictures').textContent));")


def viewer_page(batch: Batch, dest: Optional[Path] = None, workers: int = 1) -> str:
    """The viewer's page for a batch (`dest`: where it will be written). A batch of more than
    INLINE_EPISODES episodes, with a `dest`, has its episodes written beside it (episodes.py), drawn by
    up to `workers` processes. Transcripts that could not be drawn add lines to `batch.notes`."""
    split = dest is not None and len(batch.episodes) > INLINE_EPISODES
    sections = episode_files(batch, dest, workers) if split else inline_sections(batch)
    notes = "".join(f'<p class="warning">{escape(n)}</p>' for n in batch.notes)
    body = (f"<h1>tracr-agent · {escape(batch.title)}</h1><p class=\"meta\">{escape(str(batch.source))}</p>{notes}"
            + overview_html(batch) + episode_list_html(batch) + "".join(sections))
    return html_document(f"tracr-agent · {batch.title}", body, DRAW_SCRIPT + SCRIPT)
