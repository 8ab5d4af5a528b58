"""Subject transforms (tools/subjects/transforms): rotated and compressed subjects compute the original's
function, on real compiled subjects, and show nothing of the original basis or of the transform.

Rotation is checked exactly on a few zoo tasks here and on every other one in the slow tier; the
compression is trained for real (small subjects), accepted when faithful and refused when not.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from tracr_agent.tools.errors import SubjectError
from tracr_agent.tools.subjects.transforms import TransformSpec, apply_transform, parse_transform
from tracr_agent.tools.subjects.transforms.check import check_rotation, check_transform
from tracr_agent.tools.subjects.zoo import all_tasks

FAST_ROTATION = ["reverse", "frac_prevs", "pair_balance", "sort_freq"]
"""Categorical and numerical outputs, two heads per layer, and the widest residual stream of the zoo."""


@pytest.fixture
def private_cache(tmp_path, monkeypatch):
    """An empty cache for compressions (subjects loaded before this fixture keep coming from the user's)."""
    monkeypatch.setenv("TRACR_AGENT_CACHE", str(tmp_path))
    return tmp_path


# -- the suffix --------------------------------------------------------------------------------------

def test_parse_transform_reads_every_form():
    assert parse_transform("rotated") == TransformSpec(name="rotated")
    assert parse_transform("rotated:7") == TransformSpec(name="rotated", arg=7)
    assert parse_transform("compressed") == TransformSpec(name="compressed")
    assert parse_transform("compressed:12") == TransformSpec(name="compressed", arg=12)
    assert str(parse_transform("compressed:12")) == "compressed:12"


@pytest.mark.parametrize("text, message", [
    ("rotate", "unknown transform 'rotate' (did you mean rotated?); choose one of: rotated[:SEED], compressed[:D]"),
    ("", "no transform named; choose one of: rotated[:SEED], compressed[:D]"),
    ("rotated:x", "rotated:SEED takes an integer SEED, got 'x'"),
    ("rotated:1.5", "rotated:SEED takes an integer SEED, got '1.5'"),
    ("rotated:", "rotated:SEED takes an integer SEED, got ''"),
    ("rotated:-1", "rotated:SEED takes a seed of 0 or more, got -1"),
    ("compressed:0", "compressed:D needs D of at least 1, got 0"),
    ("compressed:4:5", "compressed:D takes an integer D, got '4:5'"),
])
def test_bad_suffix_is_one_clear_line(text, message):
    with pytest.raises(SubjectError) as e:
        parse_transform(text)
    assert str(e.value) == message


def test_bad_transform_for_the_subject_is_one_clear_line(reverse_subject):
    s = reverse_subject
    for args, message in [
        (("compressed", 43), "compressed:D needs D below d_model = 43, got 43"),
        (("compressed", 99), "compressed:D needs D below d_model = 43, got 99"),
        (("rotated", "3"), "rotated:SEED takes an integer SEED, got '3'"),
        (("rotated:3", 4), "give the SEED of rotated:3 once, not twice"),
    ]:
        with pytest.raises(SubjectError) as e:
            apply_transform(s, *args)
        assert str(e.value) == message
    with pytest.raises(SubjectError, match="takes an integer SEED"):
        apply_transform(s, "compressed", 4, seed="x")
    with pytest.raises(SubjectError, match=r"^this subject is already rotated:0; apply one transform"):
        apply_transform(apply_transform(s, "rotated"), "compressed:8")


def test_non_finite_weights_cannot_be_transformed(reverse_subject):
    from tracr_agent.tools.subjects.subject import Subject

    weights = dict(reverse_subject.weights)
    weights["blocks.1.mlp.W_in"] = weights["blocks.1.mlp.W_in"].copy()
    weights["blocks.1.mlp.W_in"][0, 0] = np.nan
    broken = Subject(reverse_subject.card, weights)
    with pytest.raises(SubjectError, match=r"^weight 'blocks.1.mlp.W_in' holds NaN or infinite values"):
        apply_transform(broken, "rotated")


# -- rotation ----------------------------------------------------------------------------------------

def _assert_rotation_exact(load, task_id: str) -> None:
    original = load(task_id)
    rotated = apply_transform(original, "rotated:5")
    check = check_rotation(original, rotated)
    assert check.n_inputs == len(original.domain()) and check.ok, (task_id, check)


@pytest.mark.parametrize("task_id", FAST_ROTATION)
def test_rotation_is_exact(load, task_id):
    """Same outputs on the whole domain, the same attention patterns, and every residual activation
    equal to the original's after the inverse rotation (within compare.py's NUM_TOL)."""
    _assert_rotation_exact(load, task_id)


@pytest.mark.slow
@pytest.mark.parametrize("task_id", [t.id for t in all_tasks() if t.id not in FAST_ROTATION])
def test_rotation_is_exact_on_the_rest_of_the_zoo(load, task_id):
    _assert_rotation_exact(load, task_id)


def test_every_kind_of_subject_can_be_rotated(load, tmp_path):
    """A generated program and an imported model directory take the transform as a zoo task does."""
    from tracr_agent.tools.subjects.load import load_model_dir
    from tracr_agent.tools.subjects.modeldir import write_model_dir

    generated = load("gen-0-2-0")
    write_model_dir(tmp_path / "m", load("sort").card, load("sort").weights)
    imported = load_model_dir(str(tmp_path / "m"))
    for original in (generated, imported):
        rotated = apply_transform(original, "rotated:2")
        assert rotated.kind == original.kind and rotated.source == original.source
        assert check_rotation(original, rotated).ok


def test_rotation_changes_every_basis_and_the_check_sees_it(reverse_subject):
    """The rotated weights are dense where tracr's are one-hot, heads are turned too, the check is not
    vacuous (the wrong inverse fails it), and the seed decides the basis and the fingerprint."""
    s = reverse_subject
    r = apply_transform(s, "rotated")
    assert np.count_nonzero(np.abs(s.weights["embed.W_E"]) > 1e-6) < s.weights["embed.W_E"].size / 4
    assert np.count_nonzero(np.abs(r.weights["embed.W_E"]) > 1e-6) > r.weights["embed.W_E"].size * 0.9
    layer, head = s.nonempty_heads[0]
    q_before = s.weights[f"blocks.{layer}.attn.W_Q"][head]
    q_after = r.weights[f"blocks.{layer}.attn.W_Q"][head]
    assert np.abs(q_after).sum() > 0
    # the query map seen from the original basis is turned in the head dimension: not the original's
    from tracr_agent.tools.subjects.transforms.rotate import rotation_maps

    R, _, _ = rotation_maps(s.card.config, 0)
    assert not np.allclose(R @ q_after, q_before, atol=1e-4)
    wrong = check_transform(s, r, back=np.eye(s.d_model))
    assert not wrong.ok and wrong.max_resid_diff > 0.5 and wrong.agreed == wrong.n_inputs
    assert r.fingerprint == apply_transform(s, "rotated:0").fingerprint
    assert np.array_equal(r.weights["unembed.W_U"], apply_transform(s, "rotated", 0).weights["unembed.W_U"])
    assert len({s.fingerprint, r.fingerprint, apply_transform(s, "rotated:1").fingerprint}) == 3
    assert r.kind == s.kind and r.truth.task_id == s.truth.task_id and r.transform.spec == "rotated:0"
    assert s.transform is None and s.residual_labels[0] != "d0"  # the original is untouched


def test_forward_pass_of_the_training_is_the_bridge(reverse_subject):
    """The torch forward the compression trains through computes what the TransformerBridge computes,
    with inputs of every length padded into one batch."""
    import torch

    from tracr_agent.tools.subjects.transforms.forward import forward, padded_batch

    s = reverse_subject
    inputs = [s.vocab[:1], s.vocab[:3], list(reversed(s.vocab))[:5], s.vocab[:2] * 2]
    ids, keys = padded_batch(s, inputs)
    with torch.no_grad():
        trace = forward({k: torch.from_numpy(v) for k, v in s.weights.items()}, ids, s.n_layers, keys)
    for i, x in enumerate(inputs):
        acts, n = s.activations(x), len(x) + 1
        assert torch.allclose(trace.logits[i, :n], acts["logits"], atol=1e-5)
        for layer in range(s.n_layers):
            assert torch.allclose(trace.reads[2 * layer][i, :n], acts[f"blocks.{layer}.hook_resid_pre"], atol=1e-5)
            assert torch.allclose(trace.reads[2 * layer + 1][i, :n], acts[f"blocks.{layer}.hook_resid_mid"], atol=1e-5)
            assert torch.allclose(trace.patterns[layer][i, :, :n, :n], acts[f"blocks.{layer}.attn.hook_pattern"],
                                  atol=1e-5)
            assert torch.allclose(trace.hidden[layer][i, :n], acts[f"blocks.{layer}.mlp.hook_post"], atol=1e-5)


def test_training_drops_only_what_writes_nothing(load):
    """The compression trains on the weights without tracr's padding heads and MLP units: the same
    residual stream and logits, from far fewer heads and units (shuffle_dyck: 2 heads and 146 units per
    layer, most of them empty)."""
    import torch

    from tracr_agent.tools.subjects.transforms.compress import working_weights
    from tracr_agent.tools.subjects.transforms.forward import forward, padded_batch

    s = load("shuffle_dyck")
    small = working_weights(s.weights, s.n_layers)
    heads = sum(small[f"blocks.{l}.attn.W_O"].shape[0] for l in range(s.n_layers))
    units = sum(small[f"blocks.{l}.mlp.W_in"].shape[1] for l in range(s.n_layers))
    assert heads == len(s.nonempty_heads) < s.n_layers * s.n_heads and units < s.n_layers * s.d_mlp / 2
    ids, keys = padded_batch(s, s.domain()[::7])
    with torch.no_grad():
        full, pruned = (forward({k: torch.from_numpy(v) for k, v in w.items()}, ids, s.n_layers, keys)
                        for w in (s.weights, small))
    assert torch.allclose(full.logits, pruned.logits, atol=1e-6)
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(full.reads, pruned.reads))


# -- compression -------------------------------------------------------------------------------------

def test_compression_is_kept_when_faithful_and_cached(load, private_cache):
    """identity_map (d_model 15) squeezed into 6 dims by training: its outputs are the original's on the
    whole domain (checked again here, independently), it is cached, and a second load is the same model."""
    original = load("identity_map")
    compressed = apply_transform(original, "compressed:6")
    assert compressed.d_model == 6 and compressed.card.config.d_model == 6
    assert compressed.weights["embed.W_E"].shape == (original.card.config.d_vocab, 6)
    record = compressed.transform
    assert (record.name, record.d, record.d_model, record.asked) == ("compressed", 6, 15, 6)
    assert record.agreed == record.n_inputs == len(original.domain())
    assert record.train_seconds > 0 and record.cpu_seconds > 0 and record.steps > 0 and record.final_loss > 0
    assert "D = 6 of d_model 15 (D/d_model = 0.40" in record.summary()[0]
    assert "final loss" in record.summary()[1]
    check = check_transform(original, compressed)
    assert check.agreed == check.n_inputs, check.first_mismatch
    entries = list((private_cache / "transforms").iterdir())
    assert len(entries) == 1 and (entries[0] / "transform.json").is_file()
    again = apply_transform(original, "compressed:6")
    assert again.fingerprint == compressed.fingerprint and again.transform == record
    assert compressed.fingerprint != apply_transform(original, "compressed:6", seed=1).fingerprint


def test_compression_is_deterministic(load):
    original = load("identity_map")
    a = apply_transform(original, "compressed:5", use_cache=False)
    b = apply_transform(original, "compressed:5", use_cache=False)
    assert all(np.array_equal(a.weights[k], b.weights[k]) for k in a.weights)


def test_unfaithful_compression_is_refused_and_caches_nothing(load, private_cache):
    """frac_prevs outputs a fraction that must be exact to 1e-3: squeezed into 4 of its 14 dims it
    cannot be. The refusal is one line with the agreement reached; nothing is stored."""
    with pytest.raises(SubjectError) as e:
        apply_transform(load("frac_prevs"), "compressed:4")
    message = str(e.value)
    assert "\n" not in message
    assert re.fullmatch(r"compressed:4 is not faithful: after \d+ training steps the outputs equal the original's "
                        r"on \d+ of 1092 inputs \(\d+\.\d%\); try a larger D, or `compressed` alone for the smallest "
                        r"faithful D", message), message
    assert not (private_cache / "transforms").exists() or not any((private_cache / "transforms").iterdir())


@pytest.mark.slow
def test_smallest_faithful_width_is_searched(load, private_cache):
    """Without D: a bisection below the rank of the residual vectors; the width kept is faithful and the
    one below it was tried and was not."""
    original = load("first_token")
    compressed = apply_transform(original, "compressed")
    record = compressed.transform
    assert record.asked is None and record.d < original.d_model
    tried = {step.d: step.agreed == step.n_inputs for step in record.search}
    assert tried[record.d] and (record.d == 1 or tried.get(record.d - 1) is False)
    assert all(ok for d, ok in tried.items() if d > record.d)
    assert "search: " in record.summary()[2]
    check = check_transform(original, compressed)
    assert check.agreed == check.n_inputs
