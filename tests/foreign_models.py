"""Model directories that follow other conventions than this project's compiler, built from compiled ones.

A compiler elsewhere may order the unembedding's columns differently, give it columns no value ever
uses, leave some value without a column (it then decodes as no value), read another residual variable
than the one the program ends in, or scale a numerical output. Each `CONVENTIONS` entry rewrites a
compiled subject's unembedding (`unembed.W_U`, `unembed.b_U`) and output encoding accordingly and
writes a model directory (`model.json` + weights) that `--model-dir` / `dir:` load; the function stays
well defined (it is whatever the rewritten model decodes), the residual labels stay, and the
`output_variable` mark is dropped (other compilers do not write it). Used by
tests/integration/test_decompiler_conventions.py and benchmarks/decompiler_study.py (`--sets foreign`).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

CONVENTIONS = ("permuted", "extra_columns", "fewer_columns", "other_variable", "affine")
"""The rewrites; `affine` applies to numerical outputs, the others to categorical ones."""
TASKS = ("reverse", "sort", "hist", "sort_unique", "last_token", "max_broadcast", "contains_token", "is_sorted",
         "frac_prevs", "running_mean")
"""The zoo tasks the suite is built from (categorical outputs, and two numerical ones for `affine`)."""


def _categorical_vars(subject) -> dict[str, list[tuple[int, str]]]:
    out: dict[str, list[tuple[int, str]]] = {}
    for j, label in enumerate(subject.residual_labels):
        name, sep, value = label.partition(":")
        if sep:
            out.setdefault(name, []).append((j, value))
    return out


def rewrite(subject, convention: str, seed: int = 0):
    """(card, weights) of the subject with its unembedding rewritten by `convention`, or None when the
    convention does not apply (a numerical rewrite of a categorical output, or the reverse)."""
    from tracr_agent.tools.protocol.values import parse_value

    card = subject.card.model_copy(deep=True)
    weights = {k: np.array(v, copy=True) for k, v in subject.weights.items()}
    W, b = weights["unembed.W_U"], weights["unembed.b_U"]
    rng = np.random.default_rng(seed)
    numerical = subject.output_kind == "numerical"
    if (convention == "affine") != numerical:
        return None
    values = list(subject.output_values or [])
    if convention == "permuted":
        perm = rng.permutation(len(values))
        if np.array_equal(perm, np.arange(len(values))):
            perm = perm[::-1].copy()
        W, b, values = W[:, perm], b[perm], [values[i] for i in perm]
    elif convention == "extra_columns":
        extra = [f"unused{i}" if isinstance(values[0], str) else max(v for v in values if not isinstance(v, str)) + 10 + i
                 for i in range(2)]
        W = np.hstack([W[:, :1] * 0, W, W[:, :1] * 0])
        b = np.concatenate([[0.0], b, [0.0]])
        values = [extra[0], *values, extra[1]]
    elif convention == "fewer_columns":
        # drop the column of a value the model outputs somewhere (not the most common: most of the output stays)
        seen: dict = {}
        for ys in subject.run(subject.domain()[:400]):
            for y in ys:
                if y is not None:
                    seen[y] = seen.get(y, 0) + 1
        if len(seen) < 2:
            return None
        drop = sorted(seen, key=lambda v: (seen[v], repr(v)))[len(seen) // 2]
        keep = [j for j, v in enumerate(values) if v != drop]
        W, b, values = W[:, keep], b[keep], [values[j] for j in keep]
    elif convention == "other_variable":
        out_var = subject.output_variable
        cats = {n: dims for n, dims in _categorical_vars(subject).items() if n not in (out_var, "one", "indices")}
        if not cats:
            return None
        # the categorical variable with the most values (tokens when the program has no other)
        name = max(cats, key=lambda n: (len(cats[n]), n != "tokens", n))
        dims = [(j, v) for j, v in cats[name] if v != "BOS"]
        W = np.zeros((W.shape[0], len(dims)), dtype=W.dtype)
        for col, (j, _) in enumerate(dims):
            W[j, col] = 1.0
        b = np.zeros(len(dims), dtype=b.dtype)
        values = [parse_value(v) if name != "tokens" else _token(subject, v) for _, v in dims]
    elif convention == "affine":
        W, b = W * 2.0, b * 2.0 + 1.0
    else:
        raise ValueError(f"unknown convention {convention!r}")
    weights["unembed.W_U"], weights["unembed.b_U"] = W.astype(np.float32), b.astype(np.float32)
    card.config.d_vocab_out = W.shape[1]
    if not numerical:
        card.output_encoding.values = values
    card.output_variable = None
    return card, weights


def _token(subject, text: str):
    return next((t for t in subject.vocab if str(t) == text), text)


def write_foreign(subject, convention: str, directory: Path, seed: int = 0):
    """Writes the rewritten model directory; its path, or None when the convention does not apply."""
    from tracr_agent.tools.subjects.modeldir import write_model_dir

    made = rewrite(subject, convention, seed)
    if made is None:
        return None
    write_model_dir(Path(directory), *made)
    return Path(directory)


def foreign_suite(tasks=TASKS, conventions=CONVENTIONS, root: Path | None = None):
    """[(id, loader)] of every applicable (task, convention) model directory, written under `root`
    (a temporary directory by default) when first loaded."""
    from tracr_agent.tools.subjects.load import load_model_dir
    from tracr_agent.tools.subjects.tasks import load_task

    root = Path(root or tempfile.mkdtemp(prefix="foreign-models-"))
    out = []
    for task in tasks:
        numerical = load_task(task).output_kind == "numerical"
        for convention in conventions:
            if (convention == "affine") != numerical:
                continue

            def load(task=task, convention=convention):
                d = root / f"{task}-{convention}"
                if not (d / "model.json").is_file():
                    write_foreign(load_task(task), convention, d)
                return load_model_dir(str(d))
            out.append((f"{task}-{convention}", load))
    return out
