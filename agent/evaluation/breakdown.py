"""Report sections around the main table: the headline, accuracy by every other axis that varies, the
labels table, how readable the explanations are, accuracy by feature, and the appendix of generated
programs.

The headline gives functional accuracy per condition × LLM, conditions in the study's order, led by the
line naming the unscorable records if there are any. Accuracy is broken down by any categorical field of
the records that varies and is not already a column (a suite, a model snapshot, …): a new axis needs no
code here. The labels table lists each distinct submitted label per task with its verdict, the rule or
judge that gave it (agent/scoring/labels.py, agent/scoring/judge.py) and why, so a reader can check them.
The explanations table gives, per condition × LLM, the share of the submitted steps written as named
primitives rather than tables and the description's length (agent/scoring/explanation.py). The
calibration table asks whether the confidence a prediction states tracks whether it is functionally
correct: its Brier score, and how many answers stated ≥ 0.9 and how many of those were right. Every
text from a record is escaped where it is drawn (`html_text`, `md_cell`).

Generated programs and imported models have no label to match, so their label
verdict is None ("n/a", never counted as wrong) and their headline is functional
accuracy (with the judge's verdict on the description when one was asked).
Generated tasks carry features in results.jsonl; accuracy is broken down by
difficulty, layers, encoding and the kinds of operation used.
"""

from __future__ import annotations

from collections import defaultdict

from tracr_agent.agent.evaluation.results import ResultRecord
from tracr_agent.agent.evaluation.stats import condition_name, condition_order, fmt_acc
from tracr_agent.tools.errors import UserError
from tracr_agent.tools.subjects.generate.ids import is_generated
from tracr_agent.tools.subjects.generate.lookup import generated_task
from tracr_agent.tools.untrusted.text import html_text


def label_applies(r: ResultRecord) -> bool:
    """Is there a conventional name to get right? Not for a suite's model or a generated program."""
    return not r.suite and not is_generated(r.task)


def judge_verdict(r: ResultRecord):
    judge = r.score.judge if r.score else None
    return judge.correct if judge and not judge.error else None


def _pct(k: int, n: int) -> str:
    return fmt_acc(k, n) if n else "n/a"


def unscorable_line(records: list[ResultRecord]) -> str | None:
    """The line naming the records no transcript could score (counted apart, never correct), or None."""
    bad = [r for r in records if r.unscorable]
    if not bad:
        return None
    named = "; ".join(f"{r.key}: {r.unscorable}" for r in bad[:5]) + (f"; … ({len(bad) - 5} more)" if len(bad) > 5 else "")
    return f"UNSCORABLE: {len(bad)} of {len(records)} episode(s) could not be scored from their own transcript, " \
           f"so none of them counts as correct ({named})"


def headline(records: list[ResultRecord], names: dict[str, str] | None = None) -> list[str]:
    """One line per condition × LLM (conditions in the study's order): functional accuracy first; label
    accuracy over labelled subjects only; the judge's verdicts when there are any. The unscorable records,
    if any, lead."""
    names = names or {}
    groups: dict[tuple, list[ResultRecord]] = defaultdict(list)
    for r in records:
        groups[(condition_name(r), names.get(r.llm, r.llm))].append(r)
    lines = []
    for (cond, llm), rs in sorted(groups.items(), key=lambda kv: (condition_order(kv[0][0]), kv[0][1])):
        labelled = [r for r in rs if label_applies(r)]
        unlabelled = len(rs) - len(labelled)
        parts = [f"functional {_pct(sum(bool(r.functional_correct) for r in rs), len(rs))}",
                 f"label {_pct(sum(bool(r.label_correct) for r in labelled), len(labelled))}"
                 + (f" ({unlabelled} without a label: n/a)" if unlabelled else "")]
        verdicts = [v for v in (judge_verdict(r) for r in rs) if v is not None]
        if verdicts:
            parts.append(f"judge {_pct(sum(verdicts), len(verdicts))}")
        lines.append(f"{cond} · {llm}: " + " · ".join(parts))
    bad = unscorable_line(records)
    return ([bad] if bad else []) + lines


NOT_AXES = {"key", "task", "condition", "residual", "llm", "llm_name", "trial", "status", "label", "label_correct",
            "functional_correct", "agreement", "family_correct", "explained", "transcript", "error", "score",
            "unsafe_sandbox", "features", "tool_calls", "llm_turns", "tokens", "cost", "duration_s", "cost_unknown",
            "transform", "forced", "limit", "unscorable", "temperature", "prompt_sha", "replicable"}
"""Record fields that are not axes to break accuracy down by: columns of the main table (a transform is
part of the condition column, forced and the limit have their column), verdicts, facts."""
MAX_AXIS_VALUES = 40


def axis_fields(records: list[ResultRecord]) -> list[str]:
    """The records' other axes: categorical fields (text, booleans, integers) with 2..MAX_AXIS_VALUES values."""
    values: dict[str, set] = defaultdict(set)
    for r in records:
        for k, v in r.model_dump(mode="json").items():
            if k not in NOT_AXES and isinstance(v, (str, bool, int)) and not isinstance(v, float):
                values[k].add(v)
    return [k for k, vs in sorted(values.items()) if 2 <= len(vs) <= MAX_AXIS_VALUES]


AXIS_COLUMNS = ("axis", "value", "condition", "LLM", "n", "functional acc")


def axis_rows(records: list[ResultRecord], names: dict[str, str] | None = None) -> list[list[str]]:
    """Functional accuracy by each other axis' value × condition × LLM."""
    names = names or {}
    rows = []
    for axis in axis_fields(records):
        groups: dict[tuple, list[ResultRecord]] = defaultdict(list)
        for r in records:
            v = getattr(r, axis, None)
            if v is not None:
                groups[(str(v), condition_name(r), names.get(r.llm, r.llm))].append(r)
        for (value, cond, llm), rs in sorted(groups.items(), key=lambda kv: (kv[0][0], condition_order(kv[0][1]),
                                                                              kv[0][2])):
            rows.append([axis, value, cond, llm, str(len(rs)),
                         _pct(sum(bool(r.functional_correct) for r in rs), len(rs))])
    return rows


def _feature_values(features: dict) -> list[tuple[str, str]]:
    out = [("difficulty", str(features.get("difficulty"))), ("layers", str(features.get("layers"))),
           ("output", str(features.get("output"))), ("numerical ops", "yes" if features.get("numerical") else "no"),
           ("vocab", str(features.get("vocab")))]
    out += [("uses", kind) for kind in sorted(features.get("ops") or {})]
    return out


BREAKDOWN_COLUMNS = ("feature", "value", "condition", "LLM", "n", "functional acc")


def feature_rows(records: list[ResultRecord], names: dict[str, str] | None = None) -> list[list[str]]:
    """Functional accuracy of generated tasks by feature value × condition × LLM."""
    names = names or {}
    groups: dict[tuple, list[ResultRecord]] = defaultdict(list)
    for r in records:
        for feature, value in _feature_values(r.features or {}) if r.features else ():
            groups[(feature, value, condition_name(r), names.get(r.llm, r.llm))].append(r)
    order = {name: i for i, name in enumerate(("difficulty", "layers", "output", "numerical ops", "vocab", "uses"))}
    rows = []
    for (feature, value, cond, llm), rs in sorted(groups.items(), key=lambda kv: (
            order[kv[0][0]], kv[0][1], condition_order(kv[0][2]), kv[0][3])):
        rows.append([feature, value, cond, llm, str(len(rs)), _pct(sum(bool(r.functional_correct) for r in rs), len(rs))])
    return rows


def generated_programs(records: list[ResultRecord]) -> list[tuple[str, str, str]]:
    """(id, pseudo-code, description) of every generated task in the records: the ground truth, for readers."""
    out = []
    for task_id in sorted({r.task for r in records if not r.suite and is_generated(r.task)}):
        try:
            task = generated_task(task_id)
        except UserError:
            continue
        out.append((task_id, task.extra["rendering"], task.description))
    return out


LABEL_COLUMNS = ("task", "label", "verdict", "by", "why", "n")


def label_rows(records: list[ResultRecord]) -> list[list[str]]:
    """Each distinct submitted label per task with its verdict and the rule or judge that gave it
    (score.label.matched_by; family credit for a generated program), and why: a reader can check them."""
    groups: dict[tuple, int] = defaultdict(int)
    for r in records:
        lab = r.score.label if r.score else None
        if lab is None or r.label is None:
            continue
        if lab.correct is None:
            verdict = f"family {lab.family} {'correct' if lab.family_correct else 'wrong'}"
            by = lab.family_by or "-"
        else:
            verdict = "correct" if lab.correct else "wrong"
            by = lab.matched_by or "-"
        groups[(r.task, r.label, verdict, by, (lab.reason or "")[:200])] += 1
    return [[*key, str(n)] for key, n in sorted(groups.items())]


READABILITY_COLUMNS = ("condition", "LLM", "answers", "steps per answer", "named steps", "description words")


def readability_rows(records: list[ResultRecord], names: dict[str, str] | None = None) -> list[list[str]]:
    """Per condition × LLM, over the answers whose implementation has steps (agent/scoring/explanation.py):
    the share of steps written as named primitives rather than tables (all answers' steps pooled), and
    the description's length in words (mean, and median in brackets)."""
    names = names or {}
    groups: dict[tuple, list] = defaultdict(list)
    for r in records:
        ex = r.score.explanation if r.score else None
        if ex is not None and (ex.steps is not None or ex.description_words is not None):
            groups[(condition_name(r), names.get(r.llm, r.llm))].append(ex)
    rows = []
    for (cond, llm), exs in sorted(groups.items(), key=lambda kv: (condition_order(kv[0][0]), kv[0][1])):
        counted = [e for e in exs if e.steps]
        steps = sum(e.steps for e in counted)
        tables = sum(e.table_steps or 0 for e in counted)
        words = sorted(e.description_words for e in exs if e.description_words is not None)
        rows.append([cond, llm, str(len(counted)), f"{steps / len(counted):.1f}" if counted else "n/a",
                     f"{steps - tables}/{steps} ({100 * (steps - tables) / steps:.0f}%)" if steps else "n/a",
                     f"{sum(words) / len(words):.0f} ({words[len(words) // 2]})" if words else "n/a"])
    return rows


CALIBRATION_COLUMNS = ("condition", "LLM", "answers", "Brier score", "correct at confidence ≥ 0.9",
                       "wrong at confidence ≥ 0.9", "mean confidence (right / wrong)")
HIGH_CONFIDENCE = 0.9


def calibration_rows(records: list[ResultRecord], names: dict[str, str] | None = None) -> list[list[str]]:
    """Per condition × LLM, over the scored answers that stated a confidence: the Brier score (mean
    squared difference between the confidence and functional correctness, 0 is perfect), the
    answers at confidence ≥ 0.9 that were correct (of those at ≥ 0.9), the wrong ones among them, and
    the mean confidence of right and of wrong answers."""
    names = names or {}
    groups: dict[tuple, list[tuple[float, bool]]] = defaultdict(list)
    for r in records:
        if r.confidence is not None and r.functional_correct is not None:
            groups[(condition_name(r), names.get(r.llm, r.llm))].append((r.confidence, bool(r.functional_correct)))
    rows = []
    for (cond, llm), pairs in sorted(groups.items(), key=lambda kv: (condition_order(kv[0][0]), kv[0][1])):
        n = len(pairs)
        brier = sum((c - ok) ** 2 for c, ok in pairs) / n
        high = [ok for c, ok in pairs if c >= HIGH_CONFIDENCE]
        right = [c for c, ok in pairs if ok]
        wrong = [c for c, ok in pairs if not ok]
        mean = lambda cs: f"{sum(cs) / len(cs):.2f}" if cs else "-"  # noqa: E731
        rows.append([cond, llm, str(n), f"{brier:.3f}", f"{sum(high)}/{len(high)}", str(len(high) - sum(high)),
                     f"{mean(right)} / {mean(wrong)}"])
    return rows


LABELS_TITLE = "Labels: verdicts and the rule or judge behind each"
FEATURES_TITLE = "Generated tasks: functional accuracy by feature"
AXES_TITLE = "Functional accuracy by every other axis that varies"
READABILITY_TITLE = "Explanations: steps written as named primitives (not tables), description length"
CALIBRATION_TITLE = "Confidence: calibration against functional correctness"


def _tables(records: list[ResultRecord], names: dict[str, str] | None) -> list[tuple[str, tuple, list[list[str]]]]:
    """(title, columns, rows) of each table section that has rows."""
    tables = [(AXES_TITLE, AXIS_COLUMNS, axis_rows(records, names)),
              (LABELS_TITLE, LABEL_COLUMNS, label_rows(records)),
              (READABILITY_TITLE, READABILITY_COLUMNS, readability_rows(records, names)),
              (CALIBRATION_TITLE, CALIBRATION_COLUMNS, calibration_rows(records, names)),
              (FEATURES_TITLE, BREAKDOWN_COLUMNS, feature_rows(records, names))]
    return [t for t in tables if t[2]]


def md_cell(text: str) -> str:
    """A Markdown table cell from untrusted text: one line, HTML escaped, `|` escaped."""
    return html_text(text, one_line=True, quote=False).replace("|", "\\|")


def headline_markdown(records: list[ResultRecord], names: dict[str, str] | None = None) -> list[str]:
    return ["## Headline", ""] + [f"- {html_text(line, one_line=True, quote=False)}"
                                  for line in headline(records, names)] + [""]


def headline_html(records: list[ResultRecord], names: dict[str, str] | None = None) -> str:
    return "<h2>Headline</h2><ul>" + "".join(f"<li>{html_text(line)}</li>" for line in headline(records, names)) + "</ul>"


def tables_markdown(records: list[ResultRecord], names: dict[str, str] | None = None) -> list[str]:
    md = []
    for title, columns, rows in _tables(records, names):
        md += [f"## {title}", "", "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
        md += ["| " + " | ".join(md_cell(c) for c in row) + " |" for row in rows] + [""]
    return md


def tables_html(records: list[ResultRecord], names: dict[str, str] | None = None) -> str:
    out = ""
    for title, columns, rows in _tables(records, names):
        out += (f"<h2>{html_text(title)}</h2><table><thead><tr>"
                + "".join(f"<th>{html_text(c)}</th>" for c in columns) + "</tr></thead><tbody>"
                + "".join("<tr>" + "".join(f"<td>{html_text(c)}</td>" for c in row) + "</tr>" for row in rows)
                + "</tbody></table>")
    return out


def appendix_markdown(records: list[ResultRecord]) -> list[str]:
    programs = generated_programs(records)
    md = ["## Appendix: generated programs (ground truth)", ""] if programs else []
    for task_id, code, description in programs:
        md += [f"### {task_id}", "", "```python", code, "```", "", description, ""]
    return md


def appendix_html(records: list[ResultRecord]) -> str:
    programs = generated_programs(records)
    if not programs:
        return ""
    return "<h2>Appendix: generated programs (ground truth)</h2>" + "".join(
        f"<h3>{html_text(i)}</h3><pre>{html_text(code)}</pre><p>{html_text(d)}</p>" for i, code, d in programs)
