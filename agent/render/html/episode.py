"""An episode's blocks (agent/render/document.py) as an HTML timeline: the verdict and the prediction
beside the truth at the top, the LLM's messages, each tool call with its arguments in one line (the JSON
as sent folded), each result drawn as a picture where it is one, a static dump drawn too, the prediction
beside the truth."""

from __future__ import annotations

import json
from html import escape

from tracr_agent.agent.render.document import args_json, render, result_meta
from tracr_agent.agent.render.html.pictures import Drawing, pictures_html, result_html, text_html
from tracr_agent.agent.render.readings import compact_args


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


def verdict_html(v: dict) -> str:
    """The episode's verdict in a banner: outcome, the score's parts, predicted label beside the truth."""
    slug = {"no prediction": "none"}.get(v["outcome"], v["outcome"])
    pvt = ""
    if v["predicted"] is not None:
        pvt = (f'<span class="pvt">predicted <b>{escape(v["predicted"])}</b>'
               + (f' · truth <b>{escape(v["truth"])}</b>' if v["truth"] else "") + "</span>")
    parts = "".join(f"<li>{escape(x)}</li>" for x in v["score"])
    return (f'<div class="verdict {slug}" data-outcome="{slug}"><strong>{escape(v["outcome"])}'
            f'{" (forced)" if v["forced"] else ""}</strong>{pvt}'
            + (f'<ul class="score-parts">{parts}</ul>' if parts else "") + "</div>")


def args_html(name: str, args) -> str:
    """A call's arguments in one line; the JSON as sent folded beneath when the line shortens it."""
    line = compact_args(name, args, width=120)
    sent = args_json(args)
    exact = isinstance(args, dict) and line == " ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in args.items())
    out = f'<p class="args"><code>{escape(line) or "(no arguments)"}</code></p>'
    if not exact and len(sent) > 60:
        out += f'<details class="sent"><summary>arguments as sent</summary>{text_html(sent)}</details>'
    return out


def dump_html(summary: str, text: str, parts: list, drawing: Drawing) -> str:
    return (f'<div class="dump"><p class="meta">{escape(summary)}</p><div class="pictures">'
            f'{pictures_html(parts, drawing)}</div><details class="raw"><summary>the prompt as sent</summary>'
            f"{text_html(text)}</details></div>")


def _html(heading: str, drawing: Drawing) -> dict:
    """The block renderers for HTML; `heading` is the tag of the episode's title; pictures go to `drawing`."""
    return {
        "title": lambda text: f"<{heading}>{escape(text)}</{heading}>",
        "facts": _facts,
        "h2": lambda text: f'<h2 class="turn">{escape(text)}</h2>',
        # a tool call: its arguments and its result follow in the same box (closed in episode_html)
        "h3": lambda text: f'<div class="call"><h3>{escape(text)}</h3>',
        "meta": lambda text: f'<p class="meta">{escape(text)}</p>',
        "text": lambda text: f'<div class="text">{"<br>".join(escape(x) for x in text.splitlines())}</div>',
        "verdict": verdict_html,
        "args": args_html,
        "dump": lambda summary, text, parts: dump_html(summary, text, parts, drawing),
        "result": lambda name, args, text, is_error, latency_ms: (
            f'<p class="meta">{escape(result_meta(name, is_error, latency_ms))}</p>'
            f"{result_html(name, args, text, is_error, drawing)}"),
        "prediction": prediction_html,
        "score": score_html,
        "note": lambda text: f'<p class="note">{escape(text)}</p>',
        "warning": lambda text: f'<p class="warning">{escape(text)}</p>',
        "details": lambda summary, text: f"<details><summary>{escape(summary)}</summary>{text_html(text)}</details>",
    }


def episode_html(blocks, drawing: Drawing, heading: str = "h1") -> str:
    """The blocks as HTML (no <html> wrapper), its pictures as placeholders whose descriptors go to
    `drawing`; `heading` is the tag of the episode's title."""
    out: list[str] = []
    in_call = False
    for kind, html in render(blocks, _html(heading, drawing)):
        if in_call and kind not in ("args", "result"):
            out.append("</div>")
            in_call = False
        out.append(html)
        in_call = in_call or kind == "h3"
    if in_call:
        out.append("</div>")
    return "\n".join(out)
