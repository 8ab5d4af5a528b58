"""The LLM judge: one call to any configured chat model grades the label and the description.

`--judge-llm SPEC` takes the same specs as `--llm` (agent/backends/llm.py make_backend: OpenAI,
Anthropic, Google, Mistral, Ollama, any OpenAI-compatible server such as a local llama.cpp), and
the call gets the agent's retry policy. The judge sees the ground truth (the task's names, when it
has conventional ones, and its description) and the candidate label and description, reasons in
at most a few sentences, and ends with two lines, `LABEL: yes|no` and `DESCRIPTION: yes|no`
(a lone `VERDICT:` line is read as the description's verdict). Its verdicts and its reasoning are
recorded in the score (JudgeScore); score.py lets a label the offline matcher rejected count as
correct when the judge accepts it, with `matched_by = "judge:MODEL"`.
"""

from __future__ import annotations

import re
import time
from typing import Optional

from tracr_agent.agent.backends.llm import PROVIDERS, check_compat, llm_backend
from tracr_agent.agent.scoring.verdicts import JudgeScore
from tracr_agent.tools.errors import UserError

JUDGE_SYSTEM = (
    "You grade what someone who studied a small transformer says it computes. You are given the "
    "ground truth (the function's conventional names, when it has any, and a description of the "
    "input-to-output function) and the candidate's short label and description. Judge each on its own. "
    "The label is right when a researcher would accept it as a name for this function: synonyms, "
    "abbreviations, capitalisation and extra words such as 'the model computes' do not matter, but a "
    "different function does (sorting descending instead of ascending, rotating instead of reversing, "
    "counting a different thing, a qualifier that changes the function). The description is right when "
    "someone implementing it would produce the ground-truth outputs on ordinary inputs; how the model "
    "computes it (layers, attention, MLPs) does not matter. A description too vague to pin the function "
    "down is wrong."
)

JUDGE_TEMPLATE = """Ground truth{names}:
{truth}

Candidate label: {label}

Candidate description:
{description}

Explain your judgement in at most four sentences, then end with exactly two lines:
LABEL: yes or LABEL: no
DESCRIPTION: yes or DESCRIPTION: no"""

_LINE = r"[*_`\"'\s]*\s*[:=]?\s*[*_`\"']*\s*(yes|no)\b"
_LABEL = re.compile(r"\blabel" + _LINE, re.IGNORECASE)
_DESCRIPTION = re.compile(r"\b(?:description|verdict)" + _LINE, re.IGNORECASE)
_VERDICT = re.compile(r"verdict" + _LINE, re.IGNORECASE)


NOT_A_JUDGE = ("baseline", "baseline-closed", "decompiler", "replay")


def make_judge(spec: str):
    """The Backend for `--judge-llm SPEC`: any `--llm` spec that names a chat model (not a built-in
    investigator or a replay, which cannot grade); a bad spec is one UserError line."""
    if spec.split(":", 1)[0] in NOT_A_JUDGE:
        raise UserError(f"--judge-llm {spec!r} is not a chat model: give an LLM spec such as openai:gpt-4o, "
                        "anthropic:MODEL or openai-compatible:MODEL@URL")
    backend = llm_backend(spec, check_compat(None), "", timeout=120.0, max_retries=3)
    if backend is None:
        raise UserError(f"unknown --judge-llm {spec!r}: use openai:MODEL, openai-compatible:MODEL@URL or "
                        f"{', '.join(f'{k}:MODEL' for k in PROVIDERS)}")
    return backend


def model_name(chat_model) -> str:
    chat_model = getattr(chat_model, "chat_model", chat_model)  # a Backend names its chat model
    for attr in ("model_name", "model", "model_id", "deployment_name"):
        value = getattr(chat_model, attr, None)
        if isinstance(value, str) and value:
            return value
    llm_type = getattr(chat_model, "_llm_type", None)
    if isinstance(llm_type, str) and llm_type:
        return llm_type
    return type(chat_model).__name__


def message_text(message) -> str:
    content = getattr(message, "content", message)
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for block in content:
            if isinstance(block, str):
                parts.append(block)
            elif isinstance(block, dict) and block.get("type") == "text":
                parts.append(str(block.get("text", "")))
        return "".join(parts)
    return str(content)


def _last(pattern: re.Pattern, text: str) -> Optional[bool]:
    """The verdict `pattern` finds last in the text (the closing lines come last), None if it finds none."""
    for line in reversed(text.strip().splitlines()):
        found = pattern.findall(line)
        if found:
            return found[-1].lower() == "yes"
    return None


def parse_verdict(text: str) -> Optional[bool]:
    """True/False from the last `VERDICT: yes|no` (the final line preferred); None if absent."""
    return _last(_VERDICT, text)


def parse_verdicts(text: str) -> tuple[Optional[bool], Optional[bool]]:
    """(label verdict, description verdict) from the judge's closing lines; None where a line is missing."""
    return _last(_LABEL, text), _last(_DESCRIPTION, text)


def ask(judge, messages: list):
    """The judge's reply. A Backend (make_backend) gets the agent's retry policy (invoke_within:
    timeouts, 5xx, 429, empty replies retried) within one request timeout of wall time in all;
    a bare chat model is called once."""
    if not hasattr(judge, "chat_model"):
        return judge.invoke(messages)
    from tracr_agent.agent.backends.reply import invoke_within

    deadline = time.monotonic() + (judge.timeout or 0)
    return invoke_within(judge, judge.chat_model, judge.prepare(messages), lambda: deadline - time.monotonic())


def _truth_names(task) -> str:
    """The conventional names the judge may compare the label with ("" for a generated program)."""
    if getattr(task, "origin", None) == "generated":
        return " (a generated program: it has no conventional name; judge the label against the description)"
    names = [n for n in (getattr(task, "name", None), *(getattr(task, "aliases", ()) or ())) if n]
    return f" (known as: {'; '.join(dict.fromkeys(names))})" if names else ""


def _blank(text) -> bool:
    return not isinstance(text, str) or not text.strip()


def judge_prediction(label: Optional[str], description: Optional[str], task, chat_model,
                     ask_label: bool = True) -> JudgeScore:
    """One LLM call grading the label (unless `ask_label` is False) and the description against the
    task's ground truth. `chat_model` is a Backend (the CLI's `--judge-llm`) or a bare LangChain chat model."""
    from langchain_core.messages import HumanMessage, SystemMessage

    name = model_name(chat_model)
    if _blank(description) and _blank(label):
        return JudgeScore(correct=False, model=name, rationale="no description",
                          label_correct=False if ask_label else None)
    truth = getattr(task, "description", None)
    if not truth:
        return JudgeScore(correct=False, model=name, rationale="", error="the task has no ground-truth description")
    prompt = JUDGE_TEMPLATE.format(names=_truth_names(task), truth=truth.strip(),
                                   label=label.strip() if not _blank(label) else "(none)",
                                   description=description.strip() if not _blank(description) else "(none)")
    try:
        reply = ask(chat_model, [SystemMessage(content=JUDGE_SYSTEM), HumanMessage(content=prompt)])
    except Exception as e:  # noqa: BLE001 — any failure of the call is recorded, never raised into scoring
        return JudgeScore(correct=False, model=name, rationale="", error=f"judge call failed: {type(e).__name__}: {e}")
    text = message_text(reply).strip()
    label_ok, description_ok = parse_verdicts(text)
    rationale = "\n".join(ln for ln in text.splitlines() if not (_LABEL.search(ln) or _DESCRIPTION.search(ln)))
    rationale = rationale.strip()[:2000] or text[:2000]
    if _blank(description):
        description_ok = False
    if not ask_label:
        label_ok = None
    elif _blank(label):
        label_ok = False
    missing = [what for what, v in (("LABEL", label_ok), ("DESCRIPTION", description_ok))
               if v is None and (ask_label or what == "DESCRIPTION")]
    return JudgeScore(correct=bool(description_ok), model=name, rationale=rationale, label_correct=label_ok,
                      error=f"the judge gave no {' or '.join(missing)} line" if missing else None)


def judge_description(description: Optional[str], task, chat_model) -> JudgeScore:
    """The description's verdict alone (the label is not asked about)."""
    return judge_prediction(None, description, task, chat_model, ask_label=False)
