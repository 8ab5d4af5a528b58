"""Which candidates become generated tasks: the deterministic sequence of accepted ids per (seed, difficulty).

Candidates k = 0, 1, 2, … of (seed, difficulty) are tried in order; the
accepted ones are numbered I = 0, 1, 2, …, so `gen-S-D-I` is the I-th accepted
candidate, and it differs as a function from the accepted ones before it
(the fingerprints of those are what "earlier" means). The verdict on every
candidate (an accepted one with its simplified program and features) is kept
in the user cache, one JSON file per (seed, difficulty) under a folder keyed by
the generator version and the library versions, so each candidate is
compiled and verified once; a compiled task comes from the
subject cache afterwards. A file lock keeps concurrent processes from doing
the work twice.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import tempfile
import threading
import time
from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Optional

from tracr_agent.tools.subjects.generate import filters
from tracr_agent.tools.subjects.generate.candidate import candidate_program
from tracr_agent.tools.subjects.generate.features import program_features
from tracr_agent.tools.subjects.generate.ids import GenId
from tracr_agent.tools.subjects.generate.program import Program
from tracr_agent.tools.subjects.generate.sampler import GENERATOR_VERSION
from tracr_agent.tools.subjects.generate.task import make_task, program_source

_LOCK = threading.Lock()


def registry_dir() -> Path:
    from tracr_agent.tools.subjects.load import cache_root, library_versions

    libs = hashlib.sha256(json.dumps(library_versions(), sort_keys=True).encode()).hexdigest()[:12]
    return cache_root() / "generated" / f"v{GENERATOR_VERSION}-{libs}"


@contextmanager
def _locked(seed: int, difficulty: int):
    d = registry_dir()
    d.mkdir(parents=True, exist_ok=True)
    with _LOCK, open(d / f"{seed}-{difficulty}.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield d / f"{seed}-{difficulty}.json"
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _read(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    try:
        data = json.loads(path.read_text())
    except ValueError:  # a damaged file is rebuilt: every verdict is reproducible
        return []
    return data.get("candidates", []) if data.get("generator") == GENERATOR_VERSION else []


def _write(path: Path, candidates: list[dict]) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    with os.fdopen(fd, "w") as fh:
        json.dump({"generator": GENERATOR_VERSION, "candidates": candidates}, fh)
    os.replace(tmp, path)


def compile_and_verify(gid: GenId, program: Program, known: Optional[dict] = None):
    """Compiles the candidate (even on a subject-cache hit: tracr's model is needed) and checks it exactly as the zoo is
    checked; `known` (input tuple -> RASP outputs) saves evaluating the program again where the behaviour
    rules already did. Returns (subject or None, rejection reason or None, detail)."""
    from tracr_agent.tools.errors import SubjectError
    from tracr_agent.tools.subjects.load import cache_key, compile_subject
    from tracr_agent.tools.subjects.subject import SubjectTruth
    from tracr_agent.tools.subjects.verify import verify_task

    task = make_task(gid, program, {}, known)
    try:
        subject = compile_subject(task.build(), task.vocab, task.max_seq_len,
                                  key=cache_key(program_source(task), task.vocab, task.max_seq_len),
                                  truth=SubjectTruth(task_id=task.id, labels=task.labels), refresh=True)
    except SubjectError as e:
        return None, filters.NOT_COMPILABLE, str(e)
    result = verify_task(task, subject, subject.tracr_model)
    if not result.ok:
        return None, filters.DISAGREES, result.first_mismatch
    return subject, None, ""


def judge_candidate(seed: int, difficulty: int, k: int, earlier: set[str]) -> dict:
    """The verdict on candidate k of (seed, difficulty), given fingerprints of accepted ones before it
    (`earlier` may be a subset of them: `settle` completes the rule; the cache key does not depend on
    the id, so candidates can be judged in parallel before their ids are known). An accepted row holds the
    simplified program and its measures."""
    t0 = time.monotonic()
    row = {"k": k, "reason": None, "detail": "", "fingerprint": ""}
    verdict = candidate_program(seed, difficulty, k)
    if verdict.reason is not None:
        row.update(reason=verdict.reason, detail=verdict.detail[:300])
    else:
        program, trace = verdict.program, verdict.trace
        behaviour = filters.check_behaviour(program, earlier, trace)
        row.update(reason=behaviour.reason, detail=behaviour.detail[:300], fingerprint=behaviour.fingerprint)
        if behaviour.reason is None:
            known = {tuple(x): out for x, out in zip(trace.domain, behaviour.outputs)}
            subject, reason, detail = compile_and_verify(GenId(seed, difficulty, 0), program, known)
            row.update(reason=reason, detail=detail[:300])
            if subject is not None:
                row["program"] = program.to_json()
                row["features"] = program_features(program, subject, verdict.measures)
    row["seconds"] = round(time.monotonic() - t0, 2)
    return row


_PAST_THE_BEHAVIOUR_RULES = (None, filters.NOT_COMPILABLE, filters.DISAGREES)


def settle(row: dict, earlier: set[str]) -> dict:
    """The rule order is: behaviour rules, then "equal to an earlier program", then compile and verify.
    A candidate judged before all earlier acceptances were known gets the earlier rule applied now."""
    if row["fingerprint"] and row["fingerprint"] in earlier and row["reason"] in _PAST_THE_BEHAVIOUR_RULES:
        row = {**{k: v for k, v in row.items() if k not in ("features", "program")},
               "reason": filters.EQUALS_EARLIER, "detail": ""}
    return row


def accepted_rows(candidates: list[dict]) -> list[dict]:
    return [c for c in candidates if c["reason"] is None]


def worker_pool(jobs: int):
    """Processes that judge candidates side by side (spawned: JAX does not survive a fork)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    return ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"))


def ensure(seed: int, difficulty: int, count: int,
           on_candidate: Optional[Callable[[dict, int], None]] = None, pool=None, jobs: int = 1) -> list[dict]:
    """The verdicts on candidates 0..k of (seed, difficulty), up to the `count`-th accepted one.

    With a `pool` (see worker_pool), `jobs` candidates are judged at once; verdicts are still taken in
    candidate order, so the accepted sequence is the same as judging one by one."""
    from collections import deque

    with _locked(seed, difficulty) as path:
        candidates = _read(path)
        accepted = accepted_rows(candidates)
        if len(accepted) >= count:
            last_k = accepted[count - 1]["k"]
            return [c for c in candidates if c["k"] <= last_k]
        earlier = {c["fingerprint"] for c in accepted}
        in_flight: deque = deque()
        next_k = len(candidates)
        try:
            while len(accepted) < count:
                if pool is None:
                    row = judge_candidate(seed, difficulty, next_k, earlier)
                    next_k += 1
                else:
                    while len(in_flight) < max(1, jobs):
                        in_flight.append(pool.submit(judge_candidate, seed, difficulty, next_k, set(earlier)))
                        next_k += 1
                    row = in_flight.popleft().result()
                row = settle(row, earlier)
                candidates.append(row)
                if row["reason"] is None:
                    accepted.append(row)
                    earlier.add(row["fingerprint"])
                _write(path, candidates)
                if on_candidate is not None:
                    on_candidate(row, len(accepted))
        finally:
            for fut in in_flight:  # judged past the last id needed: not recorded
                fut.cancel()
        return candidates


def accepted(gid: GenId, on_candidate=None) -> dict:
    """The accepted candidate that `gid` names (generating the sequence up to it when needed)."""
    rows = accepted_rows(ensure(gid.seed, gid.difficulty, gid.index + 1, on_candidate))
    return rows[gid.index]


def rejection_counts(candidates: list[dict]) -> dict[str, int]:
    counts = Counter(c["reason"] for c in candidates if c["reason"] is not None)
    return {r: counts[r] for r in filters.REASONS if counts[r]}
