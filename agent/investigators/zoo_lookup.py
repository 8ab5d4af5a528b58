"""CLOSED-WORLD knowledge: the zoo's reference functions as hypotheses.

Only the closed-world baseline (`--llm baseline-closed`: baseline.py, whitebox_reader.py) uses
this module; the open-world baseline (openworld/) must never import it (a test checks).
"""

from __future__ import annotations

from tracr_agent.agent.investigators.hypotheses import Hypothesis
from tracr_agent.tools.subjects.zoo import all_tasks


def zoo_hypotheses() -> list[Hypothesis]:
    return [Hypothesis(t.id, t.description, t.reference_source(), t.reference, True) for t in all_tasks()]
