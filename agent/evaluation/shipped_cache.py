"""Subject-cache entries carried between machines as bytes (through Ray's object store).

A compiled subject lives in the user's cache (tools/subjects/load.py) as a model directory keyed by
its program; a generated task also needs the verdicts that number its candidates
(tools/subjects/generate/registry.py); a compressed subject, its compression (tools/subjects/transforms/
cache.py). `pack` puts such paths, relative to the cache root, into one
tar; `unpack` places each one that is missing on this machine, atomically (a temporary copy renamed
into place), so a worker on another node loads the subject instead of compiling it again. On one
machine (or a shared cache path) every entry is already there and `unpack` does nothing.
"""

from __future__ import annotations

import io
import os
import shutil
import tarfile
import tempfile
from pathlib import Path
from typing import Iterable, Optional


def task_paths(task_id: str) -> list[str]:
    """The cache paths (relative to the cache root) that let a machine load task `task_id` without
    compiling or generating: its subject entry, and for a generated id the verdicts of its sequence."""
    from tracr_agent.tools.subjects.load import cache_key
    from tracr_agent.tools.subjects.tasks import get_task, task_source

    task = get_task(task_id)
    paths = [f"subjects/{cache_key(task_source(task), task.vocab, task.max_seq_len)}"]
    if getattr(task, "origin", None) == "generated":
        from tracr_agent.tools.subjects.generate.ids import parse_id

        gid = parse_id(task_id)
        paths.append(verdicts_path(gid.seed, gid.difficulty))
    return paths


def transform_paths(task_id: str, transform: Optional[str]) -> list[str]:
    """The cache path of task `task_id`'s compression under `transform` (`compressed[:D]`), so a machine
    loads it instead of training it again; nothing for no transform or a rotation (computed, not cached)."""
    from tracr_agent.tools.subjects.transforms import cache, parse_transform

    spec = parse_transform(transform) if transform else None
    if spec is None or spec.name != "compressed":
        return []
    from tracr_agent.tools.subjects.tasks import load_task

    return [f"transforms/{cache.key(load_task(task_id), spec.arg, 0)}"]


def verdicts_path(seed: int, difficulty: int) -> str:
    from tracr_agent.tools.subjects.generate.registry import registry_dir
    from tracr_agent.tools.subjects.load import cache_root

    return (registry_dir() / f"{seed}-{difficulty}.json").relative_to(cache_root()).as_posix()


def candidate_path(seed: int, difficulty: int, k: int) -> str:
    """The subject entry of generated candidate k of (seed, difficulty), as its judging compiled it."""
    from tracr_agent.tools.subjects.generate.ids import GenId
    from tracr_agent.tools.subjects.generate.sampler import sample_program
    from tracr_agent.tools.subjects.generate.task import make_task
    from tracr_agent.tools.subjects.load import cache_key
    from tracr_agent.tools.subjects.tasks import task_source

    task = make_task(GenId(seed, difficulty, 0), sample_program(seed, difficulty, k), {})
    return f"subjects/{cache_key(task_source(task), task.vocab, task.max_seq_len)}"


def pack(paths: Iterable[str]) -> Optional[bytes]:
    """The existing ones of `paths` (relative to the cache root) as one gzipped tar; None if none exists."""
    from tracr_agent.tools.subjects.load import cache_root

    root = cache_root()
    present = [p for p in dict.fromkeys(paths) if (root / p).exists()]
    if not present:
        return None
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for p in present:
            tar.add(root / p, arcname=p)
    return buf.getvalue()


def unpack(data: Optional[bytes]) -> int:
    """Places every packed path missing from this machine's cache; returns how many were placed. A
    verdicts file replaces a shorter local one (verdicts only grow: the longer knows more candidates)."""
    if not data:
        return 0
    from tracr_agent.tools.subjects.load import cache_root

    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    placed = 0
    with tempfile.TemporaryDirectory(dir=root, prefix=".shipped-") as tmp, \
            tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        if hasattr(tarfile, "data_filter"):  # Python >= 3.10.12: refuse links and paths leaving tmp
            tar.extractall(tmp, filter="data")
        else:
            tar.extractall(tmp)
        for top in _placeable(Path(tmp)):
            rel = top.relative_to(tmp)
            dest = root / rel
            if dest.exists() and not (dest.is_file() and dest.stat().st_size < top.stat().st_size):
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.replace(top, dest)  # a directory lands whole or not at all
                placed += 1
            except OSError:  # another process placed it first
                shutil.rmtree(top, ignore_errors=True)
    return placed


def _placeable(tmp: Path) -> list[Path]:
    """The units to place: each subject or compression entry directory, and each file elsewhere."""
    out = []
    for p in sorted(tmp.rglob("*")):
        rel = p.relative_to(tmp).parts
        if rel[0] in ("subjects", "transforms"):
            if len(rel) == 2 and p.is_dir():
                out.append(p)
        elif p.is_file():
            out.append(p)
    return out
