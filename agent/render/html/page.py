"""Assembles the self-contained HTML files: inline CSS, a little vanilla JS for the filters, nothing fetched.

`viewer_page(batch)` is what `tracr-agent view` writes; `episode_page(blocks)` is `export --format html`.
The filter state lives in the URL hash (`#filter=wrong&task=sort&condition=full`), so a link can open
the page already filtered (the report's table links that way); `#ep-3` opens one episode.
"""

from __future__ import annotations

from html import escape

from tracr_agent.agent.render.html.episode import episode_html
from tracr_agent.agent.render.html.overview import episode_list_html, overview_html
from tracr_agent.agent.render.html.sources import Batch

CSS = """
body { font-family: system-ui, -apple-system, Segoe UI, sans-serif; max-width: 72rem; margin: 2rem auto;
       padding: 0 1rem; color: #1d1d1f; line-height: 1.45; }
h1 { font-size: 1.5rem; } h2 { margin-top: 2rem; border-bottom: 1px solid #ddd; } h3 { font-size: 1rem; }
table.facts td:first-child { font-weight: 600; padding-right: 1rem; vertical-align: top; }
pre { background: #f5f5f7; padding: .75rem; overflow-x: auto; border-radius: 4px; font-size: .85rem; }
pre.error { background: #fff0f0; color: #a00; }
.meta { color: #666; font-size: .85rem; } .text { border-left: 3px solid #2a7ae2; padding-left: .75rem; } .unsafe { background: #fdd; border: 2px solid #c00; padding: .5rem; font-weight: bold; }
.note { background: #f0f6ff; padding: .5rem; } .warning { background: #fff0f0; padding: .5rem; color: #a00; }
details { margin: .5rem 0; } summary { cursor: pointer; color: #444; }
.call { border: 1px solid #e3e3e8; border-radius: 6px; padding: 0 .75rem .5rem; margin: .75rem 0; }
table { border-collapse: collapse; margin: .5rem 0; font-size: .85rem; }
.ptitle { color: #444; margin: .5rem 0 0; font-size: .85rem; }
.heatmap th, .heatmap td, .decode th, .decode td, .effects th, .effects td, .io td, .io th,
table.episodes th, table.episodes td { border: 1px solid #e3e3e8; padding: 2px 6px; }
.heatmap td.cell { min-width: 2.2rem; text-align: center; font-variant-numeric: tabular-nums; }
.heatmap td.cell a { color: inherit; text-decoration: none; display: block; }
.heatmap td.empty { background: #fafafa; }
.heatmap th.col { font-weight: 500; white-space: nowrap; } .heatmap th.row { text-align: right; font-weight: 500; }
.decode td.value { text-align: center; }
.toks { display: inline-flex; gap: 2px; } .tok { padding: 0 4px; border-radius: 3px; font-family: monospace; }
.tok.changed { outline: 2px solid #dc2626; } .verdict.moved { color: #b91c1c; font-weight: 600; }
.compare { display: grid; grid-template-columns: 1fr 1fr; gap: 1rem; }
.compare .side { border: 1px solid #e3e3e8; border-radius: 6px; padding: 0 .75rem; min-width: 0; }
.outcome.correct { color: #15803d; } .outcome.wrong { color: #b91c1c; } .outcome.none { color: #a16207; }
.filters label { margin-right: 1rem; }
.episode { display: none; } .episode:target { display: block; }
body.reading #overview, body.reading #list { display: none; }
"""

# The filters: selects <-> URL hash <-> rows' `hidden`. A hash naming an episode (#ep-N) shows that episode
# alone (CSS :target does the showing; the class only hides the overview) and remembers the list's state.
SCRIPT = """
(function () {
  var list = document.getElementById('list');
  if (!list) return;
  var keys = JSON.parse(list.getAttribute('data-keys'));
  var selects = {};
  list.querySelectorAll('select[data-key]').forEach(function (s) { selects[s.getAttribute('data-key')] = s; });
  var lastFilter = '';
  function parse(hash) {
    var state = {};
    hash.replace(/^#/, '').split('&').forEach(function (kv) {
      if (!kv) return;
      var i = kv.indexOf('=');
      if (i < 0) return;
      state[decodeURIComponent(kv.slice(0, i))] = decodeURIComponent(kv.slice(i + 1));
    });
    return state;
  }
  function apply(state) {
    var shown = 0;
    keys.forEach(function (k) { if (selects[k]) selects[k].value = state[k] || (k === 'filter' ? 'all' : ''); });
    list.querySelectorAll('tr.ep').forEach(function (row) {
      var ok = keys.every(function (k) {
        var want = state[k];
        if (!want || (k === 'filter' && want === 'all')) return true;
        var have = row.getAttribute(k === 'filter' ? 'data-outcome' : 'data-' + k);
        return have === want;
      });
      row.hidden = !ok;
      if (ok) shown++;
    });
    document.getElementById('shown').textContent = shown;
    list.setAttribute('data-state', JSON.stringify(state));
  }
  function route() {
    var hash = location.hash;
    var reading = /^#ep-\\d+$/.test(hash);
    document.body.classList.toggle('reading', reading);
    if (reading) return;
    lastFilter = hash;
    document.querySelectorAll('a.back').forEach(function (a) { a.setAttribute('href', lastFilter || '#list'); });
    apply(parse(hash));
  }
  Object.keys(selects).forEach(function (k) {
    selects[k].addEventListener('change', function () {
      var parts = [];
      keys.forEach(function (key) {
        var v = selects[key] && selects[key].value;
        if (v && !(key === 'filter' && v === 'all')) parts.push(key + '=' + encodeURIComponent(v));
      });
      location.hash = parts.length ? parts.join('&') : 'list';
    });
  });
  window.addEventListener('hashchange', route);
  route();
})();
"""


def html_document(title: str, body: str, script: str = "") -> str:
    head = ['<!DOCTYPE html>', '<html lang="en">', "<head>", '<meta charset="utf-8">',
            f"<title>{escape(title)}</title>", f"<style>{CSS}</style>", "</head>", "<body>", body]
    if script:
        head.append(f"<script>{script}</script>")
    return "\n".join(head + ["</body>", "</html>"]) + "\n"


def episode_page(blocks) -> str:
    title = next((b[1] for b in blocks if b[0] == "title"), "tracr-agent episode")
    return html_document(title, episode_html(blocks))


def viewer_page(batch: Batch) -> str:
    sections = []
    for ep in batch.episodes:
        if ep.blocks is None:
            continue
        sections.append(f'<section class="episode" id="{ep.id}"><p><a class="back" href="#list">← all episodes</a>'
                        f'{" · " + escape(ep.file) if ep.file else ""}</p>{episode_html(ep.blocks, "h2")}</section>')
    notes = "".join(f'<p class="warning">{escape(n)}</p>' for n in batch.notes)
    body = (f"<h1>tracr-agent · {escape(batch.title)}</h1><p class=\"meta\">{escape(str(batch.source))}</p>{notes}"
            + overview_html(batch) + episode_list_html(batch) + "".join(sections))
    return html_document(f"tracr-agent · {batch.title}", body, SCRIPT)
