"""An episode's blocks (agent/render/document.py) as an HTML timeline: the LLM's messages, each tool call
with its arguments, each result drawn as a picture where it is one, the prediction beside the truth."""

from __future__ import annotations

from html import escape

from tracr_agent.agent.render.document import result_meta
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


def episode_html(blocks, heading: str = "h1") -> str:
    """The blocks as HTML (no <html> wrapper); `heading` is the tag of the episode's title."""
    out: list[str] = []
    in_call = False
    for b in blocks:
        kind = b[0]
        if in_call and kind not in ("code", "result"):
            out.append("</div>")
            in_call = False
        if kind == "title":
            out.append(f"<{heading}>{escape(b[1])}</{heading}>")
        elif kind == "facts":
            out.append(_facts(b[1]))
        elif kind == "h2":
            out.append(f'<h2 class="turn">{escape(b[1])}</h2>')
        elif kind == "h3":  # a tool call: its arguments and its result follow in the same box
            out.append(f'<div class="call"><h3>{escape(b[1])}</h3>')
            in_call = True
        elif kind == "meta":
            out.append(f'<p class="meta">{escape(b[1])}</p>')
        elif kind == "text":
            out.append(f'<div class="text">{"<br>".join(escape(x) for x in b[1].splitlines())}</div>')
        elif kind == "code":
            out.append(_code(b[1], b[2]))
        elif kind == "result":
            out.append(f'<p class="meta">{escape(result_meta(b[1], b[3], b[4]))}</p>{result_html(b[2], b[3])}')
        elif kind == "prediction":
            out.append(prediction_html(b[1], b[2]))
        elif kind == "score":
            out.append(score_html(b[1], b[2]))
        elif kind in ("note", "warning"):
            out.append(f'<p class="{kind}">{escape(b[1])}</p>')
        elif kind == "details":
            out.append(f"<details><summary>{escape(b[1])}</summary>{_code(b[2])}</details>")
    if in_call:
        out.append("</div>")
    return "\n".join(out)
