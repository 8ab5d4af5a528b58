"""Reading the label of a free-text answer: the last task it names, found with the label matcher.

The prior study's prompt (`--preset seed`, agent/investigators/static.py) asks for no answer format:
the model writes its analysis and ends with its prediction in prose ("... so the top 1 task is most
likely **sequence reversal**"). `label_from_prose` reads the answer's segments (lines, then
sentences and clauses) from the last to the first and takes the first one the offline label matcher
(agent/scoring/labels.py) accepts as naming any zoo task — the whole segment when it does, else
(in the last few segments that say they conclude: CUES) its leftmost longest run of up to MAX_SPAN
words that does not speak of
the model's parts ("the patterns are", "layer 2": ANALYSIS words; "pattern" alone names a task);
segments that open with a negation ("not sorting", "rather than a sort") are passed over. The label
is that text as written, so it is scored like any label, against the subject's own task; an answer
that names no zoo task gets its last line.
"""

from __future__ import annotations

import re
from typing import Optional

MAX_SPAN = 6
"""The longest run of words tried inside a segment that names no task as a whole."""
MAX_SEGMENTS = 60
"""How many segments, from the end, are read (an answer's prediction is near its end)."""
SPAN_SEGMENTS = 8
"""In how many of the last segments runs of words are tried."""
NEGATIONS = ("not ", "rather than ", "unlike ", "instead of ", "as opposed to ", "no ")
ANALYSIS = frozenset({"attention", "attends", "attend", "pattern", "patterns", "head", "heads", "layer", "layers", "mlp", "embedding",
                      "embeddings", "residual", "query", "queries", "key", "keys"})
"""Words of the analysis itself: a run of words holding one is not read as a task's name."""
CUES = ("task", "predict", "answer", "perform", "compute", "implement", "conclu", "likely", "probably", "model is")
"""What a segment says when it gives the prediction; only such segments are searched word by word."""
_SPLIT = re.compile(r"(?<=[.!?;])\s+|\s*[:—–()\[\]]\s*|\s+-\s+")
_MARKUP = "*_`#>\"' \t.,;:!?"


def segments(text: str) -> list[str]:
    """The answer's segments, in reading order: each line split into sentences and clauses."""
    out = []
    for line in text.splitlines():
        out += [s.strip(_MARKUP) for s in _SPLIT.split(line) if s.strip(_MARKUP)]
    return out


def _names_a_task(phrase: str, tasks, seen: dict) -> bool:
    from tracr_agent.agent.scoring.labels import match_label

    if phrase not in seen:
        seen[phrase] = any(match_label(phrase, t).correct for t in tasks)
    return seen[phrase]


def label_from_prose(text: str) -> Optional[str]:
    """The last task the answer names (see the module docstring), or None when it names none."""
    # the zoo loads only when a free-text answer is read (an open-world episode never imports it otherwise)
    from tracr_agent.tools.subjects.zoo import all_tasks

    tasks = all_tasks()
    seen: dict = {}
    segs = [s for s in segments(text)[-MAX_SEGMENTS:] if not s.lower().startswith(NEGATIONS)]
    for seg in reversed(segs):
        if _names_a_task(seg, tasks, seen):
            return seg
    for seg in reversed(segs[-SPAN_SEGMENTS:]):
        if not any(cue in seg.lower() for cue in CUES):
            continue
        words = seg.split()
        for start in range(len(words)):
            for end in range(min(len(words), start + MAX_SPAN), start, -1):
                phrase = " ".join(words[start:end]).strip(_MARKUP)
                if any(w.strip(_MARKUP).lower() in ANALYSIS for w in words[start:end]):
                    continue
                if phrase and _names_a_task(phrase, tasks, seen):
                    return phrase
    return None
