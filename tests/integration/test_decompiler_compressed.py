"""The decompiler on compressed subjects (`ID@compressed:D`): the residual stream squeezed into fewer
dimensions than the variables need, so write subspaces overlap and every component reads its inputs
through the overlaps. What it writes is then only near its points: one value's writes spread, and a
head that selects nothing writes BOS's value read through the overlaps rather than the zero vector.
Real compiles, a real (cached) compression, real episodes and the real scorer.
"""

from __future__ import annotations

import numpy as np
import pytest

from tracr_agent.agent.episode.drive import run_episode
from tracr_agent.agent.investigators.registry import make_backend
from tracr_agent.agent.records.limits import Limits
from tracr_agent.tools.protocol.hooks import attn_out, attn_pattern
from tracr_agent.tools.subjects.transforms import apply_transform


@pytest.fixture(scope="module")
def prev_token():
    from tracr_agent.tools.subjects.tasks import load_task

    return apply_transform(load_task("prev_token"), "compressed:8")  # d_model 16 -> 8, ~6 s to train once


def episode(subject, tmp_path, condition: str):
    return run_episode(subject, make_backend("decompiler"), condition=condition,
                       transcript_path=tmp_path / f"{condition}.jsonl", limits=Limits(), residual="raw")


def test_a_head_selecting_nothing_writes_no_zero_vector_when_compressed(prev_token):
    """The premise: at position 1 the head attends BOS alone, and what it writes there is far from 0."""
    acts = prev_token.activations(["a", "b", "c"])
    assert float(acts[attn_pattern(0)][0, 1, 0]) > 0.9
    assert np.linalg.norm(acts[attn_out(0)].numpy()[1]) > 0.2


@pytest.mark.parametrize("condition", ["whitebox", "full"])
def test_a_compressed_head_that_moves_tokens_is_decompiled(prev_token, tmp_path, condition):
    """prev_token compressed: the head's no-value write is told from the tokens it moves, and one token's
    spread writes are one value, so the program is the previous token (None at the first position)."""
    result = episode(prev_token, tmp_path, condition)
    assert result.status == "prediction", result.error
    assert result.score.functional.correct, (result.score.functional, result.prediction["implementation"])
    assert result.score.explained
    assert result.prediction["confidence"] >= 0.9


def test_a_verified_answer_was_checked_on_64_fresh_inputs(prev_token, tmp_path):
    """High confidence with decoded outputs rests on 64 fresh inputs (two run_model calls in one check):
    a program wrong on 5% of the domain passes 32 of them one time in five."""
    result = episode(prev_token, tmp_path, "full")
    assert result.prediction["confidence"] >= 0.9
    assert "the last 64 of them fresh" in result.prediction["description"]


@pytest.mark.slow
@pytest.mark.parametrize("condition", ["whitebox", "full"])
def test_a_compressed_selector_width_is_read_as_the_count_it_computes(load, tmp_path, condition):
    """hist compressed (d_model 20 -> 15): the width's head gives BOS only roughly the selected keys' share
    and writes 1/(w+1) only roughly (1/3 seen as 0.30–0.37), so the head is matched within a tolerance,
    its variable takes the fraction it computes, and the MLP after it is the count, named by that width."""
    subject = apply_transform(load("hist"), "compressed:15")
    result = episode(subject, tmp_path, condition)
    assert result.score.functional.correct, (result.score.functional, result.prediction["implementation"])
    assert result.score.explained and result.prediction["confidence"] >= 0.9
    assert "selectorwidth" in result.prediction["implementation"].lower()


@pytest.mark.slow
def test_a_compressed_aggregate_whose_attention_leaks_still_selects_nothing(tmp_path):
    """gen-11-2-8 (d_model 20 -> 6): a head picks, at each position, the flag held at the position the
    flag names; where no position matches, a compressed model's attention gives BOS only ~0.7 and leaks
    the rest onto a key. That query still selects nothing, so the head moves the flag (two values, not
    three) and, with decoded outputs, the program is right and verified."""
    from tracr_agent.tools.subjects.tasks import load_task

    subject = apply_transform(load_task("gen-11-2-8"), "compressed:6")
    result = episode(subject, tmp_path, "full")
    assert result.score.functional.correct, (result.score.functional, result.prediction["implementation"])
    assert result.score.explained and result.prediction["confidence"] >= 0.9


@pytest.mark.slow
@pytest.mark.parametrize("condition", ["whitebox", "full"])
def test_a_compressed_width_whose_shares_drift_is_read_not_tabulated(tmp_path, condition):
    """rank_smaller (d_model 19 -> 14): a selector width over `<` whose BOS share drifts far from 1/(w+1)
    (0.62 and 0.45 both seen for 1/2) and whose selected keys get unequal weight (0.16 beside 0.32). The
    shares still lie in one interval per width, in the width's order, and each step down in weight is
    less than half: the head is the width, and the answer is the count, not a table of the shares."""
    from tracr_agent.tools.subjects.tasks import load_task

    subject = apply_transform(load_task("rank_smaller"), "compressed:14")
    result = episode(subject, tmp_path, condition)
    assert not result.score.explanation.tabulated, result.prediction["implementation"]
    assert result.score.functional.correct, (result.score.functional, result.prediction["implementation"])
    assert "selectorwidth" in result.prediction["implementation"].lower()
