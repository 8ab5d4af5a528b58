"""An episode's blocks (agent/render/document.py) as an HTML timeline: the LLM's messages, each tool call
with its arguments, each result drawn as a picture where it is one, the prediction beside the truth."""

from __future__ import annotations

from html import escape

from tracr_agent.agent.render.document import render, result_meta
from tracr_agent.agent.render.html.pictures import result_html


def _facts(pairs) -> str:
    return '<table class="facts">' + "".join(
        f"<tr><td>{escape(str(k))}</td><td>{escape(str(v))}</td></tr>" for k, v in pairs) + "</table>"


def _code(text: str, lang: str = "") -> str:
    cls = f' class="language-{escape(lang)}"' if lang else ""
    return f"<pre><code{cls}>{escape(text.rstrip())}</code></pre>"


def _side(title: str, d: dict) -> str:
    body = _facts([(k, d[k]) for k in ("label", "confidence", "description") if k in d])
    if d.get("implementation"):
        body += _code(d["implementation"], "python")
    return f'<div class="side"><h3>{escape(title)}</h3>{body}</div>'


def prediction_html(pred: dict, truth) -> str:
    title = "Prediction" + (" (forced)" if pred["forced"] else "")
    sides = _side("predicted", pred) + (_side("truth", truth) if truth else "")
    return f'<h2>{title}</h2><div class="compare">{sides}</div>'


def score_html(lines: list[str], disagree: list[str]) -> str:
    out = '<h2>Score</h2><ul class="score">' + "".join(f"<li>{escape(x)}</li>" for x in lines) + "</ul>"
    if disagree:
        out += ('<p>Inputs on which the prediction and the model disagree:</p><ul class="disagree">'
                + "".join(f"<li><code>{escape(x)}</code></li>" for x in disagree) + "</ul>")
    return out


def _html(heading: str) -> dict:
    """The block renderers for HTML; `heading` is the tag of the episode's title."""
    return {
        "title": lambda text: f"<{heading}>{escape(text)}</{heading}>",
        "facts": _facts,
        "h2": lambda text: f'<h2 class="turn">{escape(text)}</h2>',
        # a tool call: its arguments and its result follow in the same box (closed in episode_html)
        "h3": lambda text: f'<div class="call"><h3>{escape(text)}</h3>',
        "meta": lambda text: f'<p class="meta">{escape(text)}</p>',
        "text": lambda text: f'<div class="text">{"<br>".join(escape(x) for x in text.splitlines())}</div>',
        "code": _code,
        "result": lambda name, text, is_error, latency_ms: (
            f'<p class="meta">{escape(result_meta(name, is_error, latency_ms))}</p>{result_html(text, is_error)}'),
        "prediction": prediction_html,
        "score": score_html,
        "note": lambda text: f'<p class="note">{escape(text)}</p>',
        "warning": lambda text: f'<p class="warning">{escape(text)}</p>',
        "details": lambda summary, text: f"<details><summary>{escape(summary)}</summary>{_code(text)}</details>",
    }


def episode_html(blocks, heading: str = "h1") -> str:
    """The blocks as HTML (no <html> wrapper); `heading` is the tag of the episode's title."""
    out: list[str] = []
    in_call = False
    for kind, html in render(blocks, _html(heading)):
        if in_call and kind not in ("code", "result"):
            out.append("</div>")
            in_call = False
        out.append(html)
        in_call = in_call or kind == "h3"
    if in_call:
        out.append("</div>")
    return "\n".join(out)
