"""The task zoo: coverage, well-formed records, self-contained references, cheap import.

(Faithfulness of each task against its compiled tracr model is tested elsewhere.)
"""

from __future__ import annotations

import builtins
import inspect
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tracr_agent.tools.subjects.zoo import ZOO, all_tasks, get_task
from tracr_agent.tools.subjects.zoo.base import normalize_label

REPO = Path(__file__).resolve().parents[2]

SEED_IDS = {"reverse", "sort", "length"}
LIB_IDS = {
    "hist",
    "sort_unique",
    "sort_freq",
    "frac_prevs",
    "pair_balance",
    "shuffle_dyck",
    "shuffle_dyck2",
    "shift_by",
    "detect_pattern",
    "count_less_freq",
    "count",
    "nary_sequencemap",
}
CATEGORIES = {"permutation", "aggregation", "counting", "elementwise", "pattern", "numerical", "dyck"}

TASKS = all_tasks()


def _random_inputs(task, n, seed):
    rng = random.Random(f"{task.id}:{seed}")
    out = []
    for _ in range(n):
        length = rng.randint(1, task.max_seq_len)
        out.append([rng.choice(task.vocab) for _ in range(length)])
    return out


def _same(task, a, b):
    if len(a) != len(b):
        return False
    for x, y in zip(a, b):
        if x is None or y is None:
            if not (x is None and y is None):
                return False
        elif task.output == "numerical":
            if abs(float(x) - float(y)) > 1e-9:
                return False
        elif x != y:
            return False
    return True


def test_zoo_size():
    assert len(ZOO) >= 30
    assert len(TASKS) == len(ZOO)


def test_seed_and_lib_tasks_present():
    ids = set(ZOO.ids())
    assert SEED_IDS <= ids
    assert LIB_IDS <= ids
    for tid in SEED_IDS:
        assert get_task(tid).origin == "seed"
    for tid in LIB_IDS:
        assert get_task(tid).origin == "tracr-lib"


def test_ids_unique_and_labels_unambiguous():
    ids = ZOO.ids()
    assert len(ids) == len(set(ids))
    owner: dict[str, str] = {}
    for t in TASKS:
        assert re.fullmatch(r"[a-z][a-z0-9]*(_[a-z0-9]+)*", t.id), t.id
        for label in t.labels:
            norm = normalize_label(label)
            assert norm, (t.id, label)
            assert owner.setdefault(norm, t.id) == t.id, f"label {label!r} of {t.id} also names {owner[norm]}"


def test_lookup_by_label():
    for t in TASKS:
        assert get_task(t.id) is t
        for label in t.labels:
            assert get_task(label) is t
    with pytest.raises(KeyError):
        get_task("no_such_task_anywhere")


@pytest.mark.parametrize("task", TASKS, ids=lambda t: t.id)
def test_task_record_well_formed(task):
    assert task.name and task.description
    assert task.category in CATEGORIES
    assert task.output in ("categorical", "numerical")
    assert task.origin in ("seed", "tracr-lib", "zoo")
    assert isinstance(task.vocab, tuple) and len(task.vocab) >= 2
    assert len(set(task.vocab)) == len(task.vocab)
    for v in task.vocab:
        assert isinstance(v, int) or (isinstance(v, str) and len(v) == 1)
    assert 1 <= task.max_seq_len <= 10
    assert task.domain_size() <= 6000
    assert callable(task.build)
    # The reference is a top-level function without closures or defaults.
    ref = task.reference
    assert inspect.isfunction(ref) and ref.__qualname__ == ref.__name__
    assert ref.__code__.co_freevars == ()
    assert ref.__defaults__ is None


@pytest.mark.parametrize("task", TASKS, ids=lambda t: t.id)
def test_reference_outputs_shape(task):
    for x in _random_inputs(task, 50, "shape"):
        y = task.reference(list(x))
        assert isinstance(y, list) and len(y) == len(x)
        if task.output == "numerical":
            assert all(isinstance(v, float) for v in y), y


@pytest.mark.parametrize("task", TASKS, ids=lambda t: t.id)
def test_reference_source_is_self_contained(task):
    src = task.reference_source()
    assert src.startswith("def f(")
    namespace = {"__builtins__": builtins}
    exec(compile(src, f"<reference {task.id}>", "exec"), namespace)
    f = namespace["f"]
    for x in _random_inputs(task, 20, "standalone"):
        assert _same(task, f(list(x)), task.reference(list(x))), x


def test_import_is_light():
    code = (
        "import sys\n"
        "import tracr_agent.tools.subjects.zoo as z\n"
        "z.all_tasks(); z.get_task('sort').reference_source()\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'tracr', 'jax', 'jaxlib', 'torch', 'haiku', 'transformer_lens'})\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "", f"importing tracr_agent.tools.subjects.zoo loaded: {out.stdout.strip()}"
