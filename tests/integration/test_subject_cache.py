"""The compile cache shared by processes (parallel test workers, an eval beside `compile --verify`):
a refresh never deletes a readable entry another process may be reading; a damaged one is repaired."""

from __future__ import annotations

import pytest

from tracr_agent.tools.subjects.load import cache_key, compile_subject, load_cached
from tracr_agent.tools.subjects.subject import SubjectTruth


def _compile(refresh: bool):
    from tracr.rasp import rasp

    program = rasp.categorical(rasp.Map(lambda x: x + 1, rasp.tokens)).named("plus_one")
    key = cache_key("plus_one test program", [1, 2], 3)
    return key, compile_subject(program, [1, 2], 3, key=key, truth=SubjectTruth(kind="program"), refresh=refresh)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TRACR_AGENT_CACHE", str(tmp_path))
    return tmp_path / "subjects"


def test_refresh_keeps_a_readable_entry_and_repairs_a_damaged_one(cache):
    key, first = _compile(refresh=False)
    entry = cache / key
    weights = next(entry.glob("weights.*"))
    stamp = weights.stat().st_mtime_ns, weights.stat().st_ino

    key, again = _compile(refresh=True)
    assert again.tracr_model is not None  # what --verify needs: tracr's own model, compiled afresh
    assert (weights.stat().st_mtime_ns, weights.stat().st_ino) == stamp  # the entry was left as it was
    assert again.run([[1, 2, 2]]) == first.run([[1, 2, 2]]) == [[2, 3, 3]]

    weights.write_bytes(b"not weights")  # damaged (e.g. a disk filled up mid-write)
    with pytest.raises(Exception):
        load_cached(key)
    key, repaired = _compile(refresh=True)
    assert repaired.run([[2, 1]]) == [[3, 2]]
    assert load_cached(key).run([[2, 1]]) == [[3, 2]]
    assert [p.name for p in cache.iterdir()] == [key]  # no temporary folder left behind
