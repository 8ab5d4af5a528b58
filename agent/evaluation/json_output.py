"""What `--json` prints for scripts: one JSON object per line, each with `schema_version` and `type`.

- `episode` (`run --json`; `eval --json`, one per finished episode as it finishes): the results.jsonl
  record — key, task, suite, condition, residual, transform, llm, llm_name, trial, status, label, the
  verdicts (label_correct, family_correct, functional_correct, agreement, explained), the counters
  (tool_calls, llm_turns, tokens, cost, cost_unknown, duration_s), how it ended (forced, limit, model),
  error, score, unscorable, features, temperature, prompt_sha, replicable — with `transcript` an absolute
  path; `run` adds `prediction` (label, description, implementation, confidence) and `session`.
- `cell` (`report --json`; `eval --json` after its episodes): one row of the report — task (or
  `(all tasks)`, `(suite S)`), condition (with its residual mode and transform marks), residual,
  transform (null: untransformed), llm (its name) and llm_spec, n, errors, and for each of label, family,
  functional and explained `{k, n, rate, ci_low, ci_high}` (95% Wilson; null where nothing is scored),
  mean tool_calls, tokens and seconds, total cost of the priced calls and cost_unknown (some call had no
  price), forced (predictions made in the forced last turn) with limits (`{limit: episodes}`), and
  unscorable (episodes no transcript could score: in n, never correct).
- `summary` (last line of `eval --json` and `report --json`): episodes, failed, unscorable, seconds, and
  the files written (`report_md`, `report_html`, `view_html`).

Every line is ASCII (JSON `\\u` escapes): a text read from a record or a transcript reaches a script
whole, and a terminal showing the line meets no control or bidi character.

SCHEMA_VERSION rises when a field changes meaning or goes away; new fields may appear within a version.
docs/json-output.md documents every field.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

from tracr_agent.agent.evaluation.report import Row
from tracr_agent.agent.evaluation.results import ResultRecord
from tracr_agent.agent.evaluation.stats import wilson
from tracr_agent.tools.subjects.spec import NO_TRANSFORM

SCHEMA_VERSION = 1


def line(obj: dict) -> str:
    """One object as one line of JSON."""
    return json.dumps(obj, ensure_ascii=True, separators=(",", ":"))


def episode_object(record: ResultRecord, root: Optional[Path] = None, **extra) -> dict:
    """An episode: its record, its transcript as an absolute path (`root`: the eval directory the record's
    path is relative to), and `extra` fields (run: prediction, session)."""
    data = record.model_dump(mode="json")
    if data.get("transcript"):
        path = Path(data["transcript"])
        data["transcript"] = str((Path(root) / path if root and not path.is_absolute() else path).resolve())
    return {"schema_version": SCHEMA_VERSION, "type": "episode", **data, **extra}


def _rate(k: int, n: int) -> Optional[dict]:
    if not n:
        return None
    lo, hi = wilson(k, n)
    return {"k": k, "n": n, "rate": round(k / n, 4), "ci_low": round(lo, 4), "ci_high": round(hi, 4)}


def cell_object(row: Row) -> dict:
    """A row of the report (see the module docstring)."""
    axes = dict(row.filters)
    transform = axes.get("transform")
    return {"schema_version": SCHEMA_VERSION, "type": "cell", "task": row.task, "condition": row.condition,
            "residual": str(axes["residual"]) if "residual" in axes else None,
            "transform": None if transform in (None, NO_TRANSFORM) else transform,
            "llm": row.llm, "llm_spec": row.spec, "n": row.n, "errors": row.errors,
            "label": _rate(row.label_k, row.label_total), "family": _rate(row.family_k, row.family_n),
            "functional": _rate(row.func_k, row.n), "explained": _rate(row.explained_k, row.explained_n),
            "tool_calls": round(row.tool_calls, 3), "tokens": round(row.tokens, 1),
            "cost": round(row.cost, 6), "cost_unknown": row.cost_unknown, "seconds": round(row.seconds, 3),
            "forced": row.forced_k, "limits": dict(row.limits_hit), "unscorable": row.unscorable}


def summary_object(episodes: int, failed: int, seconds: Optional[float], files: dict[str, Optional[Path]],
                   unscorable: int = 0) -> dict:
    return {"schema_version": SCHEMA_VERSION, "type": "summary", "episodes": episodes, "failed": failed,
            "unscorable": unscorable, "seconds": None if seconds is None else round(seconds, 2),
            **{k: None if v is None else str(Path(v).resolve()) for k, v in files.items()}}
