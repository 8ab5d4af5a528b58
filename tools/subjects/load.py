"""Compiling and caching subjects, and loading a user's RASP program file or a model directory.
(Tasks, zoo or generated, load through tools/subjects/tasks.py; tools/subjects/spec.py's `SubjectSpec`
names every kind of subject and calls these.)

Compiled subjects are cached as model directories under the user's cache
directory (platformdirs; `TRACR_AGENT_CACHE` overrides), keyed by the
program's source hash, vocab, max_seq_len and library versions. A cache hit
reads weights and card only: JAX and tracr are never imported.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Optional

from tracr_agent.tools.errors import SubjectError, UserError
from tracr_agent.tools.subjects.compile import compile_program
from tracr_agent.tools.subjects.convert import convert
from tracr_agent.tools.subjects.modeldir import read_card, read_weights, write_model_dir
from tracr_agent.tools.subjects.subject import Subject, SubjectTruth

CONVERT_VERSION = "1"  # bump when convert.py changes what it writes
_LIBS = ("tracr-pypi", "transformer-lens", "torch")


def cache_root() -> Path:
    env = os.environ.get("TRACR_AGENT_CACHE")
    if env:
        return Path(env)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("tracr-agent"))


def library_versions() -> dict[str, str]:
    out = {}
    for lib in _LIBS:
        try:
            out[lib] = metadata.version(lib)
        except metadata.PackageNotFoundError:
            out[lib] = "missing"
    return out


def cache_key(source: str, vocab, max_seq_len: int) -> str:
    payload = json.dumps(
        {"source": hashlib.sha256(source.encode()).hexdigest(), "vocab": sorted(map(repr, vocab)),
         "max_seq_len": max_seq_len, "libs": library_versions(), "convert": CONVERT_VERSION},
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:24]


def load_cached(key: str, kind: str = "task") -> Optional[Subject]:
    d = cache_root() / "subjects" / key
    if not (d / "model.json").is_file():
        return None
    card = read_card(d)
    truth = SubjectTruth(**json.loads((d / "truth.json").read_text()))
    truth.kind = kind
    truth.labels = tuple(truth.labels)
    return Subject(card, read_weights(d, card), truth=truth, source=str(d), kind=kind)


def compile_subject(program, vocab, max_seq_len: int, *, key: str, truth: SubjectTruth,
                    use_cache: bool = True, refresh: bool = False) -> Subject:
    """Compile with tracr, convert, store in the cache, and load it back.

    `refresh` compiles even on a cache hit: the caller needs tracr's own model
    (`subject.tracr_model`), e.g. to verify against it. The entry is rewritten only
    when it is missing or damaged (see `_readable_entry`)."""
    if use_cache and not refresh:
        hit = load_cached(key, truth.kind)
        if hit is not None:
            return hit

    model = compile_program(program, vocab, max_seq_len)
    card, weights, provenance = convert(model, program.label, max_seq_len)
    truth.provenance = provenance
    import numpy as np

    weights_t = {k: np.array(v, dtype=np.float32) for k, v in weights.items()}
    if not use_cache:
        subject = Subject(card, weights_t, truth=truth, source="compiled", kind=truth.kind)
        subject.tracr_model = model
        return subject
    final = cache_root() / "subjects" / key
    subject = _readable_entry(key, truth.kind) if refresh else None
    if subject is None:
        truth_text = json.dumps({"task_id": truth.task_id, "labels": list(truth.labels), "provenance": provenance},
                                default=str)
        try:
            store_entry(final, card, weights_t, {"truth.json": truth_text}, replace=refresh)
        except (OSError, UserError) as e:  # a read-only or full disk: one line that says where and what to do
            why = e.strerror if isinstance(e, OSError) and e.strerror else str(e).rpartition(": ")[2]
            raise SubjectError(f"cannot write the subject cache {final.parent}: {why} (point "
                               "TRACR_AGENT_CACHE at a writable folder, or give --no-cache)") from None
        subject = load_cached(key, truth.kind)
    subject.tracr_model = model
    return subject


def _readable_entry(key: str, kind: str) -> Optional[Subject]:
    """The cache entry for `key` if it is there and loads, else None (missing or damaged).

    A refresh keeps a readable entry instead of rewriting it: the key fixes the program, vocab,
    max_seq_len, library versions and converter, so the compile just done wrote the same weights;
    deleting the entry would break another process (e.g. a parallel test worker, or an eval)
    reading it at that moment. `compile --verify` then checks exactly the weights users load."""
    try:
        return load_cached(key, kind)
    except (OSError, ValueError, SubjectError):
        return None


def store_entry(final: Path, card, weights, files: dict[str, str], *, replace: bool = False) -> None:
    """Writes a cache entry atomically — a model directory plus `files` (name -> text) — into a temporary
    folder, then renamed into place."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=".tmp-"))
    try:
        write_model_dir(tmp, card, weights)
        for name, text in files.items():
            (tmp / name).write_text(text)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)  # a full disk leaves no half-written entry behind
        raise
    if replace and final.exists():  # a damaged entry: moved aside first, as a rename cannot replace a folder
        trash = Path(tempfile.mkdtemp(dir=final.parent, prefix=".old-"))
        try:
            os.replace(final, trash / "entry")
        except OSError:  # another process moved it already
            pass
        shutil.rmtree(trash, ignore_errors=True)
    try:
        os.replace(tmp, final)
    except OSError:  # another process won the race: theirs is as good as ours
        shutil.rmtree(tmp, ignore_errors=True)


def load_program(spec: str, use_cache: bool = True) -> Subject:
    """`path/to/file.py:make_program` — the function returns (sop, vocab, max_seq_len)."""
    path_s, sep, func = spec.rpartition(":")
    if not sep or not path_s or not func:
        raise SubjectError(f"--program takes FILE.py:FUNCTION, got {spec!r}")
    path = Path(path_s)
    if not path.is_file():
        raise SubjectError(f"program file {path} does not exist")
    source = path.read_text()
    mod_spec = importlib.util.spec_from_file_location(f"user_program_{path.stem}", path)
    module = importlib.util.module_from_spec(mod_spec)
    try:
        mod_spec.loader.exec_module(module)
    except Exception as e:
        raise SubjectError(f"cannot import {path}: {type(e).__name__}: {e}") from None
    fn = getattr(module, func, None)
    if not callable(fn):
        raise SubjectError(f"{path} does not define a function {func!r}")
    try:
        result = fn()
    except Exception as e:
        raise SubjectError(f"{path}:{func}() raised {type(e).__name__}: {e}") from None
    if isinstance(result, dict):
        result = (result.get("program"), result.get("vocab"), result.get("max_seq_len"))
    if not (isinstance(result, tuple) and len(result) == 3):
        raise SubjectError(f"{path}:{func}() must return (sop, vocab, max_seq_len)")
    program, vocab, max_seq_len = result
    try:
        vocab = list(vocab)
    except TypeError:
        raise SubjectError(f"{path}:{func}() returned a vocab that is not a collection: {vocab!r}") from None
    key = cache_key(source + func, vocab, max_seq_len if isinstance(max_seq_len, int) else -1)
    subject = compile_subject(program, vocab, max_seq_len, key=key,
                              truth=SubjectTruth(task_id=None, labels=(), kind="program"), use_cache=use_cache)
    subject.source = f"{path.resolve()}:{func}"  # what a rerun loads again
    return subject


def load_model_dir(directory: str) -> Subject:
    d = Path(directory)
    card = read_card(d)  # checks every field against the others
    return Subject(card, read_weights(d, card), source=str(d.resolve()), kind="model_dir",
                   truth=SubjectTruth(kind="model_dir"))
