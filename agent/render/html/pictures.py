"""Tool results as pictures in HTML: attention heatmaps with token labels on both axes, residual reads as
coloured tables (or heatmaps of raw dimensions), other matrices as heatmaps, ablation/patching as
before/after, inputs/outputs as token rows, a probe's scores by rank.

What a result shows comes from agent/render/readings.py (text or JSON alike); here each picture becomes a
compact descriptor (`descriptor`) and a placeholder `<figure class="picture" data-picture="KIND"
data-i="N">` in the episode's HTML, and DRAW_SCRIPT draws the figures from the descriptors in the browser.
Drawing there keeps a page of 1,000 episodes small (numbers, not styled cells) and quick to write. Every
picture carries `data-picture` (attention, residual, activation, ablation, patching, io, probe, writes,
projection) for scripts and browser tests. Long texts (a result, a prompt) are cut after SHOWN_LINES
lines, the rest folded under "… N more lines"; a JSON text is laid out one value per line first, so it is
cut the same way.
"""

from __future__ import annotations

from html import escape

from tracr_agent.agent.render import parse as P
from tracr_agent.agent.render.readings import limited, result_parts

MAX_PICTURES = 8
"""Pictures drawn per result (a json read of 64 inputs × 3 hooks would be 192); the rest are in the text."""
SHOWN_LINES = 30
"""Lines of a long text shown before "… N more lines" (folded)."""


def _round(v: float) -> float:
    return round(v, 4)


def descriptor(part: P.Part) -> dict:
    """A picture as data for DRAW_SCRIPT (keys as the script reads them)."""
    if isinstance(part, P.Matrix):
        return {"draw": "matrix", "title": part.title, "corner": part.corner, "rows": part.rows, "cols": part.cols,
                "values": [[_round(v) for v in row] for row in part.values], "scale": part.scale,
                "percent": part.percent, "attention": part.is_attention}
    if isinstance(part, P.VarTable):
        return {"draw": "table", "title": part.title, "rows": part.rows, "cols": part.cols, "cells": part.cells,
                "footer": part.footer, "sparse": part.sparse}
    if isinstance(part, P.Effects):
        return {"draw": "effects", "title": part.title, "kind": part.kind,
                "rows": [[r.input, r.before, r.after, r.reference, r.changed] for r in part.rows]}
    if isinstance(part, P.Changes):
        return {"draw": "changes", "title": part.title, "reference": part.reference_name,
                "rows": [[r.input, r.position, r.variable, r.before, r.after, r.reference] for r in part.rows]}
    if isinstance(part, P.IOPairs):
        return {"draw": "io", "rows": [list(r) for r in part.rows]}
    raise TypeError(f"not a picture: {type(part).__name__}")


class Drawing:
    """The pictures of one document, collected while its HTML is written: each becomes a placeholder
    figure there and a descriptor here (`descriptors`, which the page hands to DRAW_SCRIPT)."""

    def __init__(self):
        self.descriptors: list[dict] = []

    def figure(self, part: P.Part) -> str:
        self.descriptors.append(descriptor(part))
        return f'<figure class="picture" data-picture="{part.picture}" data-i="{len(self.descriptors) - 1}"></figure>'


def text_html(text: str, cls: str = "") -> str:
    """A text shown as it is; DRAW_SCRIPT lays JSON out and cuts it after SHOWN_LINES lines."""
    return f'<pre class="cut{" " + cls if cls else ""}"><code>{escape(text.rstrip())}</code></pre>'


def pictures_html(parts: list, drawing: Drawing) -> str:
    """The parts as pictures, text parts between them as text, at most MAX_PICTURES (a note counts the rest)."""
    out = []
    for part in limited(parts, MAX_PICTURES):
        if isinstance(part, P.Omitted):
            out.append(f'<p class="meta more-pictures">{escape(part.text)}: the text the agent read, below, holds '
                       "them all</p>")
        elif part.picture is None:
            out.append(f"<pre><code>{escape(part.text.rstrip())}</code></pre>")
        else:
            out.append(drawing.figure(part))
    return "".join(out)


def result_html(name: str, args, text: str, is_error: bool, drawing: Drawing) -> str:
    """A tool result: its pictures when it has any (the text the agent read folded below), else the text."""
    if is_error:
        return text_html(text, "error")
    parts = result_parts(name, args, text, limit=MAX_PICTURES)
    if not P.has_picture(parts):
        return text_html(text)
    return (f'<div class="pictures">{pictures_html(parts, drawing)}</div><details class="raw"><summary>the text the '
            f"agent read</summary>{text_html(text)}</details>")


# Draws every placeholder figure under a root from the descriptors, and cuts long texts. Heatmap cells:
# blue for positive, red for negative, alpha by |v| / scale; categorical values a stable pastel each
# (a hash of the value), '-' (no value) grey.
DRAW_SCRIPT = """
var tracrDraw = (function () {
  var SHOWN = %(shown)d, NUMBERS_UP_TO = 12;
  function esc(s) {
    return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
  }
  function heat(v, scale) {
    var a = scale > 0 ? Math.min(1, Math.abs(v) / scale) : 0;
    return 'rgba(' + (v >= 0 ? '37,99,235' : '220,38,38') + ',' + a.toFixed(2) + ')';
  }
  function crc32(s) {
    var c, crc = 0xFFFFFFFF, bytes = unescape(encodeURIComponent(s));
    for (var i = 0; i < bytes.length; i++) {
      c = (crc ^ bytes.charCodeAt(i)) & 0xFF;
      for (var k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xEDB88320 : c >>> 1;
      crc = (crc >>> 8) ^ c;
    }
    return (crc ^ 0xFFFFFFFF) >>> 0;
  }
  function pastel(v) { return v === '-' || v === '' ? '#eeeeee' : 'hsl(' + (crc32(v) %% 360) + ',70%%,85%%)'; }
  function num(v, percent) { return percent ? (100 * v).toFixed(1) + '%%' : String(+v.toPrecision(6)); }
  function title(t) { return t ? '<p class="ptitle">' + esc(t) + '</p>' : ''; }
  function toks(values, changed) {
    return '<span class="toks">' + values.map(function (v, i) {
      return '<span class="tok' + (changed && changed.indexOf(i + 1) >= 0 ? ' changed' : '') + '" style="background:'
        + pastel(String(v)) + '">' + esc(v) + '</span>';
    }).join('') + '</span>';
  }
  function matrix(d) {
    var scale = d.scale, show = d.cols.length <= NUMBERS_UP_TO;
    if (scale === null) { scale = 0; d.values.forEach(function (r) { r.forEach(function (v) { scale = Math.max(scale, Math.abs(v)); }); }); }
    var ax = d.attention ? ['query', 'key'] : ['position', 'column'];
    var head = d.cols.map(function (c) { return '<th class="col" scope="col">' + esc(c) + '</th>'; }).join('');
    var body = d.rows.map(function (label, i) {
      return '<tr><th class="row" scope="row">' + esc(label) + '</th>' + d.values[i].map(function (v, j) {
        return '<td class="cell" style="background:' + heat(v, scale) + '" title="' + ax[0] + ' ' + esc(label) + ' · '
          + ax[1] + ' ' + esc(d.cols[j]) + ': ' + num(v, d.percent) + '">' + (show ? num(v, d.percent) : '') + '</td>';
      }).join('') + '</tr>';
    }).join('');
    return title(d.title) + '<table class="heatmap ' + (d.attention ? 'attention' : 'activation') + '"><thead><tr>'
      + '<th class="corner">' + esc(d.corner) + '</th>' + head + '</tr></thead><tbody>' + body + '</tbody></table>';
  }
  function table(d) {
    var scale = 0;
    if (d.sparse) d.cells.forEach(function (r) { r.forEach(function (v) { scale = Math.max(scale, Math.abs(parseFloat(v) || 0)); }); });
    var head = d.cols.map(function (c) { return '<th scope="col">' + esc(c) + '</th>'; }).join('');
    var body = d.rows.map(function (label, i) {
      return '<tr><th scope="row">' + esc(label) + '</th>' + d.cells[i].map(function (v, j) {
        var bg = d.sparse ? heat(parseFloat(v) || 0, scale) : pastel(v);
        return '<td class="value" style="background:' + bg + '" title="' + esc(d.cols[j]) + ' at ' + esc(label) + '">'
          + esc(v) + '</td>';
      }).join('') + '</tr>';
    }).join('');
    return title(d.title) + '<table class="decode' + (d.sparse ? ' raw' : '') + '"><thead><tr><th>position</th>' + head
      + '</tr></thead><tbody>' + body + '</tbody></table>' + (d.footer ? '<p class="meta">' + esc(d.footer) + '</p>' : '');
  }
  function effects(d) {
    var ref = d.rows.some(function (r) { return r[3] !== null; });
    var heads = ['input', 'before', 'after'].concat(ref ? ['clean run'] : []).concat(['']);
    var body = d.rows.map(function (r) {
      var cells = [toks(r[0]), toks(r[1]), toks(r[2], r[4])];
      if (ref) cells.push(toks(r[3] || []));
      cells.push('<span class="verdict' + (r[4].length ? ' moved' : '') + '">'
        + (r[4].length ? 'changed at ' + r[4].join(', ') : 'unchanged') + '</span>');
      return '<tr>' + cells.map(function (c) { return '<td>' + c + '</td>'; }).join('') + '</tr>';
    }).join('');
    return title(d.title) + '<table class="effects ' + esc(d.kind) + '"><thead><tr>'
      + heads.map(function (h) { return '<th>' + h + '</th>'; }).join('') + '</tr></thead><tbody>' + body + '</tbody></table>';
  }
  function changes(d) {
    var heads = ['input', 'position', 'variable', 'before', 'after'].concat(d.reference ? [d.reference] : []);
    var body = d.rows.map(function (r) {
      var cells = [esc(r[0]), esc(r[1]), esc(r[2]), toks([r[3]]), toks([r[4]], [1])].concat(d.reference ? [toks([r[5]])] : []);
      return '<tr>' + cells.map(function (c) { return '<td>' + c + '</td>'; }).join('') + '</tr>';
    }).join('');
    return title(d.title) + '<table class="effects changes"><thead><tr>'
      + heads.map(function (h) { return '<th>' + esc(h) + '</th>'; }).join('') + '</tr></thead><tbody>' + body + '</tbody></table>';
  }
  function io(d) {
    return '<table class="io"><thead><tr><th>input</th><th></th><th>output</th></tr></thead><tbody>'
      + d.rows.map(function (r) { return '<tr><td>' + toks(r[0]) + '</td><td>→</td><td>' + toks(r[1]) + '</td></tr>'; }).join('')
      + '</tbody></table>';
  }
  var DRAW = {matrix: matrix, table: table, effects: effects, changes: changes, io: io};
  // A JSON text one value per line when it fits in 100 characters, else one line per member.
  function layout(v, indent, key, out) {
    var pad = new Array(indent + 1).join(' '), line = JSON.stringify(v);
    if (pad.length + key.length + line.length <= 100 || v === null || typeof v !== 'object' || !Object.keys(v).length) {
      out.push(pad + key + line); return;
    }
    var arr = Array.isArray(v), ks = Object.keys(v);
    out.push(pad + key + (arr ? '[' : '{'));
    ks.forEach(function (k, i) {
      layout(v[k], indent + 1, arr ? '' : JSON.stringify(k) + ':', out);
      if (i < ks.length - 1) out[out.length - 1] += ',';
    });
    out.push(pad + (arr ? ']' : '}'));
  }
  function cut(pre) {
    var text = pre.textContent, t = text.trim();
    if (t.charAt(0) === '{' || t.charAt(0) === '[') {
      try { var out = []; layout(JSON.parse(t), 0, '', out); text = out.join('\\n'); } catch (e) {}
    }
    var lines = text.split('\\n');
    pre.firstChild.textContent = lines.slice(0, SHOWN).join('\\n');
    if (lines.length > SHOWN) {
      var more = document.createElement('details');
      more.className = 'more';
      var left = lines.length - SHOWN;
      more.innerHTML = '<summary>… ' + left + ' more line' + (left > 1 ? 's' : '') + '</summary><pre class="rest'
        + (pre.classList.contains('error') ? ' error' : '') + '"><code></code></pre>';
      more.querySelector('code').textContent = lines.slice(SHOWN).join('\\n');
      pre.parentNode.insertBefore(more, pre.nextSibling);
    }
  }
  return function (root, descriptors) {
    root.querySelectorAll('figure.picture[data-i]').forEach(function (f) {
      var d = descriptors[+f.getAttribute('data-i')];
      if (d && DRAW[d.draw]) f.innerHTML = DRAW[d.draw](d);
    });
    root.querySelectorAll('pre.cut').forEach(cut);
  };
})();
""" % {"shown": SHOWN_LINES}
