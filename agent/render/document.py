"""An episode as a readable document: neutral blocks built once from the transcript, then rendered.

`episode_blocks` walks a transcript's events and yields (kind, payload…) tuples; `to_markdown` renders
them here, `tracr_agent.agent.render.html.episode` renders the same blocks as HTML with pictures
(`export --format md|html` and `view` both use them).

A transcript is untrusted text: `episode_blocks` reads its events as `shown_data` gives them back
(control, bidi and zero-width characters shown), and Markdown escapes HTML outside code fences
(tools/untrusted/text.py), as the HTML renderer does everywhere.
"""

from __future__ import annotations

import json
import re
from typing import Optional

from tracr_agent.agent.records import transcript as tr
from tracr_agent.agent.render.live import score_parts
from tracr_agent.agent.render.readings import prompt_parts
from tracr_agent.tools.untrusted.text import html_text, shown, shown_data


def fence(text: str, lang: str = "") -> str:
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}{lang}\n{text.rstrip()}\n{ticks}"


def args_json(args) -> str:
    """Tool arguments as JSON: one line when it is short, indented otherwise."""
    if isinstance(args, str):
        return args
    line = json.dumps(args, ensure_ascii=False)
    return line if len(line) <= 100 else json.dumps(args, indent=1, ensure_ascii=False)


def outcome(status: Optional[str], functional_correct: Optional[bool], label_correct: Optional[bool]) -> str:
    """An episode's outcome in one word: correct (the implementation matched the model on its whole domain,
    or, with no implementation score, the label), wrong, or no prediction."""
    if status != "prediction":
        return "no prediction"
    ok = functional_correct if functional_correct is not None else label_correct
    return "correct" if ok else "wrong"


def verdict_of(events, truth: Optional[dict]) -> dict:
    """What the top of an episode says: its outcome, the score in words, and the predicted label beside
    the true one (zoo tasks) — read from the whole transcript."""
    end = next((e for e in events if isinstance(e, tr.EndEvent)), None)
    pred = next((e for e in events if isinstance(e, tr.PredictionEvent)), None)
    scored = next((e for e in events if isinstance(e, tr.ScoreEvent)), None)
    score = scored.score if scored else None
    lab, fn = (score.label, score.functional) if score else (None, None)
    status = end.status if end else ("prediction" if pred else "incomplete")
    word = outcome(status if pred or end else None, fn.correct if fn else None, lab.correct if lab else None)
    return {"outcome": word if end or pred else "incomplete", "score": score_parts(score, markup=False) if score else [],
            "predicted": pred.label if pred else None, "truth": truth["label"] if truth else None,
            "forced": bool(pred and pred.forced)}


def disagreements(score) -> list[str]:
    """The inputs on which the prediction and the model disagree, as the score recorded them: the
    first mismatch, plus any list of mismatches a newer scorer records."""
    fn = score.functional.model_dump() if score.functional else {}
    out: list[str] = []
    for key, value in fn.items():
        if "mismatch" not in key or not value:
            continue
        for item in value if isinstance(value, list) else [value]:
            text = item if isinstance(item, str) else json.dumps(item, ensure_ascii=False)
            if text not in out:
                out.append(text)
    return out


def truth_of(header) -> Optional[dict]:
    """What the subject really computes (zoo tasks only): label, description, reference implementation."""
    task_id = header.subject.task_id
    if header.subject.kind != "task" or not task_id:
        return None
    # Imported here: `view` of a batch whose episodes are already drawn never loads the zoo.
    from tracr_agent.tools.subjects.tasks import get_task

    try:
        task = get_task(task_id)
    except Exception:  # noqa: BLE001 — a task this version no longer has: show the recorded id only
        return {"label": task_id, "description": "(not in this version's zoo)", "implementation": ""}
    try:
        source = task.reference_source()
    except (OSError, TypeError):
        source = ""
    return {"label": task.id, "description": task.description, "implementation": source}


def episode_blocks(events, problem: Optional[str]) -> list[tuple]:
    """The document as neutral blocks: (kind, payload…). Every renderer walks this list."""
    events = [shown_data(e) for e in events]
    problem = shown(problem, one_line=True) if problem else problem
    h: tr.Header = events[0]
    end = next((e for e in events if isinstance(e, tr.EndEvent)), None)
    facts = [("subject", h.subject.task_id or "(not a zoo task)"), ("fingerprint", h.subject.fingerprint),
             ("subject kind", h.subject.kind), ("condition", h.condition), ("LLM", h.llm), ("actor", h.actor),
             ("closed set", "yes" if h.closed_set else "no"), ("created", h.created),
             ("tracr-agent", h.tracr_agent_version), ("tool-output cap", f"{h.cap_tokens} tokens"),
             ("limits", ", ".join(f"{k}={v}" for k, v in (h.limits.model_dump() if h.limits else {}).items()) or "-")]
    if h.subject.transform is not None:
        facts += [tuple(line.split(": ", 1)) for line in h.subject.transform.summary()]  # transform, training, search
    if h.closed_world:
        facts.append(("closed world", "yes: the investigator knows the zoo's reference functions (a lookup)"))
    if h.unsafe_sandbox:
        facts.append(("sandbox", "UNSAFE: scored without OS-level isolation (--unsafe-sandbox)"))
    if end is not None:
        facts += [("status", end.status), ("tool calls", str(end.tool_calls)), ("LLM turns", str(end.llm_turns)),
                  ("tokens", str(end.tokens)), ("cost", tr.cost_text(end.cost, end.cost_unknown)), ("duration", f"{end.duration_s:.1f} s")]
    else:
        facts.append(("status", "incomplete (no end event)"))
    title = f"tracr-agent episode: {h.subject.name} · {h.condition} · {h.llm}"
    truth = truth_of(h)
    blocks: list[tuple] = [("title", title), ("verdict", verdict_of(events, truth)), ("facts", facts)]
    if problem:
        blocks.append(("warning", f"The transcript is damaged: {problem}. Only the events before it are shown."))
    first_request = True
    args: dict = {}  # call id -> the call's arguments, which say how to read its result (e.g. format json)
    for ev in events[1:]:
        if isinstance(ev, tr.LLMRequest):
            if first_request:
                first_request = False
                for m in ev.messages:
                    content = str(m.get("content", ""))
                    dump = prompt_parts(content) if m.get("role") == "user" else []
                    if dump:  # a static condition's dump: the only evidence there, drawn
                        blocks.append(("dump", "the dump in the prompt", content, dump))
                    else:
                        blocks.append(("details", f"{m.get('role', '?')} prompt", content))
            else:
                for m in ev.messages:
                    if m.get("role") == "user":
                        blocks.append(("note", f"message to the agent (t={ev.t:.1f}s): {m.get('content', '')}"))
        elif isinstance(ev, tr.LLMResponse):
            u = ev.usage
            blocks.append(("h2", f"Turn {ev.step}"))
            blocks.append(("meta", f"t={ev.t:.1f}s · {u.input_tokens} in / {u.output_tokens} out tokens · "
                                   f"{ev.latency_ms:.0f} ms" + (f" · ${ev.cost:.4f}" if ev.cost else "")))
            if ev.text.strip():
                blocks.append(("text", ev.text.strip()))
        elif isinstance(ev, tr.ToolCallEvent):
            args[ev.call_id] = ev.args
            blocks.append(("h3", f"→ {ev.name}  (call {ev.call_id})"))
            blocks.append(("args", ev.name, ev.args))
        elif isinstance(ev, tr.ToolResultEvent):
            blocks.append(("result", ev.name, args.get(ev.call_id), ev.text, ev.is_error, ev.latency_ms))
        elif isinstance(ev, tr.LimitEvent):
            blocks.append(("note", f"Limit reached: {ev.limit} ({ev.value:g}); the agent must commit now."))
        elif isinstance(ev, tr.HumanEvent):
            extra = f" {json.dumps(ev.args, ensure_ascii=False)}" if ev.args is not None else ""
            target = f" on {ev.call_id}" if ev.call_id else ""
            blocks.append(("note", f"Human {ev.action}{target}: {ev.text}{extra}".rstrip(": ")))
        elif isinstance(ev, tr.PredictionEvent):
            blocks.append(("prediction", {"label": ev.label, "confidence": f"{ev.confidence:g}",
                                          "description": ev.description, "implementation": ev.implementation,
                                          "forced": ev.forced}, truth))
        elif isinstance(ev, tr.ScoreEvent):
            blocks.append(("score", score_parts(ev.score, markup=False), disagreements(ev.score)))
        elif isinstance(ev, tr.ErrorEvent):
            blocks.append(("warning", f"Error ({ev.where or 'episode'}): {ev.message}"))
        elif isinstance(ev, tr.EndEvent):
            blocks.append(("meta", f"end: {ev.status} after {ev.duration_s:.1f} s"))
    return blocks


def result_meta(name: str, is_error: bool, latency_ms: float) -> str:
    return f"result of {name}" + (" (error)" if is_error else "") + f" · {latency_ms:.0f} ms"


def render(blocks, renderers: dict) -> list[tuple[str, str]]:
    """(kind, text) per block, its text from the renderer its kind names (called with the block's
    payload); a kind the renderer does not draw is left out. Every format renders this way."""
    return [(b[0], renderers[b[0]](*b[1:])) for b in blocks if b[0] in renderers]


def verdict_line(v: dict) -> str:
    """The verdict block in one line of text."""
    line = v["outcome"] + (" (forced)" if v["forced"] else "")
    if v["score"]:
        line += " · " + " · ".join(v["score"])
    if v["predicted"] is not None:
        line += f" · predicted {v['predicted']!r}" + (f", truth {v['truth']!r}" if v["truth"] else "")
    return line


def _md(text) -> str:
    """Text outside a code fence: HTML escaped (Markdown would pass a `<script>` through)."""
    return html_text(text, quote=False)


def _md_facts(pairs) -> str:
    return "| | |\n|---|---|\n" + "\n".join(
        f"| {_md(k)} | {_md(v).replace('|', chr(92) + '|').replace(chr(10), ' ')} |" for k, v in pairs)


def _md_prediction(pred: dict, truth) -> str:
    out = ["## Prediction" + (" (forced)" if pred["forced"] else ""),
           _md_facts([(k, pred[k]) for k in ("label", "confidence", "description")]),
           fence(pred["implementation"], "python")]
    if truth:
        out += ["### Truth", _md_facts([(k, truth[k]) for k in ("label", "description")])]
        if truth["implementation"]:
            out.append(fence(truth["implementation"], "python"))
    return "\n\n".join(out)


def _md_score(lines: list[str], disagree: list[str]) -> str:
    out = "## Score\n\n" + "\n".join(f"- {_md(x)}" for x in lines)
    if disagree:
        out += "\n\nInputs on which the prediction and the model disagree:\n\n" + "\n".join(f"- `{x}`" for x in disagree)
    return out


MARKDOWN = {
    "title": lambda text: f"# {_md(text)}",
    "facts": _md_facts,
    "h2": lambda text: f"## {_md(text)}",
    "h3": lambda text: f"### {_md(text)}",
    "meta": lambda text: f"*{_md(text)}*",
    "text": lambda text: "\n".join("> " + _md(line) if line else ">" for line in text.splitlines()),
    "args": lambda name, args: fence(args_json(args), "json"),
    "verdict": lambda v: f"**Verdict:** {_md(verdict_line(v))}",
    "result": lambda name, args, text, is_error, latency_ms: (
        f"*{_md(result_meta(name, is_error, latency_ms))}*\n\n{fence(text)}"),
    "dump": lambda summary, text, parts: (f"<details><summary>{_md(summary)}</summary>\n\n{fence(text, 'text')}"
                                          "\n\n</details>"),
    "prediction": _md_prediction,
    "score": _md_score,
    "note": lambda text: f"**Note:** {_md(text)}",
    "warning": lambda text: f"**Warning:** {_md(text)}",
    "details": lambda summary, text: f"<details><summary>{_md(summary)}</summary>\n\n{fence(text, 'text')}\n\n</details>",
}


def to_markdown(blocks) -> str:
    return "\n\n".join(text for _, text in render(blocks, MARKDOWN)) + "\n"
