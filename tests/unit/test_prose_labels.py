"""Reading the label of a free-text answer (agent/investigators/prose.py): the last task the prose names,
found with the label matcher, as the prior study's answers end ("... predict top 1 task ...")."""

from __future__ import annotations

import pytest

from tracr_agent.agent.investigators.prose import label_from_prose
from tracr_agent.agent.scoring.labels import match_label

ANSWERS = [
    ("Layer 0 attends uniformly.\nLayer 3 is anti-diagonal.\n\n**Top 1 prediction:** sequence reversal.", "reverse"),
    ("The last layer moves each token to its rank.\nSo the model most likely performs sorting (ascending order)",
     "sort"),
    ("Every head averages over all positions, which hints at counting.\nPrediction: the length of the sequence.",
     "length"),
    ("It could be sorting, but the anti-diagonal says otherwise.\nFinal answer: it reverses the input sequence.",
     "reverse"),
    ("Most likely a histogram: each position counts its token's occurrences. Not sorting.", "hist"),
    ("The attention patterns look for a fixed sequence.\nTop 1 task: pattern detection", "detect_pattern"),
]


@pytest.mark.parametrize("text,task", ANSWERS)
def test_the_last_task_named_is_the_label(text, task):
    label = label_from_prose(text)
    assert label is not None and match_label(label, task).correct, label


def test_an_answer_naming_no_task_has_no_label():
    assert label_from_prose("The attention patterns are uniform; I cannot tell more from this data.") is None
