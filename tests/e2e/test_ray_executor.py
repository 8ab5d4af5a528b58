"""`eval --executor ray` and `generate --executor ray` on a real local Ray (`ray.init(num_cpus=2)`):
the same records and ids as the local executor, nothing lost when a worker is killed mid-episode,
and compiled subjects carried through Ray's object store (the workers get a cache of their own, as
on another node). Bad `--executor` input is one line."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from terminal import cli

pytestmark = pytest.mark.xdist_group("ray_executor")

ENV = {"COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"}


def env_with(**extra) -> dict:
    return {**{k: v for k, v in os.environ.items()}, **ENV, **extra}


@pytest.fixture(scope="module")
def ray_cluster(tmp_path_factory):
    import ray

    worker_cache = tmp_path_factory.mktemp("worker-cache")
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False,
             runtime_env={"env_vars": {"TRACR_AGENT_CACHE": str(worker_cache)}})
    yield worker_cache
    ray.shutdown()


def comparable(out: Path) -> dict:
    """results.jsonl by key, without what depends on the clock."""
    records = {}
    for line in (out / "results.jsonl").read_text().splitlines():
        r = json.loads(line)
        r.pop("duration_s")
        r["score"]["functional"].pop("seconds")
        records[r["key"]] = r
    return records


def transcript_events(path: Path) -> list:
    events = []
    for line in path.read_text().splitlines():
        e = json.loads(line)
        for clock in ("t", "latency_ms", "created", "session_id", "duration_s"):
            e.pop(clock, None)
        if e["type"] == "score":
            e["score"]["functional"].pop("seconds")
        events.append(e)
    return events


def ray_worker_pids(function: str) -> list[int]:
    """Processes running a Ray task of `function` (Ray titles a busy worker `ray::FUNCTION`)."""
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and (proc / "cmdline").read_bytes().startswith(f"ray::{function}".encode()):
                pids.append(int(proc.name))
        except OSError:
            continue
    return pids


@pytest.mark.slow
def test_ray_eval_matches_local_and_a_killed_worker_loses_nothing(ray_cluster, tmp_path):
    args = ["eval", "--tasks", "reverse,length", "--llm", "baseline", "--trials", "1"]
    local = cli(env_with(), *args, "--out", tmp_path / "local")
    assert local.returncode == 0, local.stderr

    killed: list[int] = []

    def kill_one_busy_worker():
        deadline = time.time() + 120
        while time.time() < deadline and not killed:
            for pid in ray_worker_pids("episode_on_worker"):
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                break
            time.sleep(0.05)

    killer = threading.Thread(target=kill_one_busy_worker)
    killer.start()
    on_ray = cli(env_with(), *args, "--executor", "ray", "--out", tmp_path / "ray")
    killer.join()
    assert on_ray.returncode == 0, on_ray.stderr
    assert killed, "no Ray worker was seen running an episode"

    records = comparable(tmp_path / "ray")
    lines = (tmp_path / "ray" / "results.jsonl").read_text().splitlines()
    assert len(lines) == len(records) == 2  # every episode once: the killed one was run again
    assert records == comparable(tmp_path / "local")
    assert all(r["status"] == "prediction" for r in records.values())
    for name in sorted(p.name for p in (tmp_path / "local" / "transcripts").iterdir()):
        assert transcript_events(tmp_path / "ray" / "transcripts" / name) == \
            transcript_events(tmp_path / "local" / "transcripts" / name), name
    # the workers' own (empty) cache received the subjects through the object store: none compiled
    from tracr_agent.agent.evaluation.shipped_cache import task_paths

    for task in ("reverse", "length"):
        assert all((ray_cluster / p / "model.json").is_file() for p in task_paths(task))


@pytest.mark.slow
def test_ray_generate_gives_the_local_ids_and_ships_the_compiled_subjects_back(ray_cluster, tmp_path):
    args = ["generate", "--seed", "11", "--difficulty", "1", "--count", "1", "--json"]
    local = cli(env_with(TRACR_AGENT_CACHE=str(tmp_path / "local-cache")), *args)
    assert local.returncode == 0, local.stderr
    driver_cache = tmp_path / "driver-cache"
    on_ray = cli(env_with(TRACR_AGENT_CACHE=str(driver_cache)), *args, "--executor", "ray")
    assert on_ray.returncode == 0, on_ray.stderr
    assert json.loads(on_ray.stdout) == json.loads(local.stdout)
    # judged and compiled on the workers, yet this process's cache holds the accepted subject
    ids = [t["id"] for t in json.loads(on_ray.stdout)["tasks"]]
    assert len(list((driver_cache / "subjects").iterdir())) == len(ids) == 1
    show = cli(env_with(TRACR_AGENT_CACHE=str(driver_cache)), "show", ids[0])
    assert show.returncode == 0, show.stderr


@pytest.mark.parametrize("args, message", [
    (("eval", "--tasks", "reverse", "--llm", "baseline", "--executor", "foo"), "error: unknown --executor 'foo'"),
    (("eval", "--tasks", "reverse", "--llm", "baseline", "--executor", "ray:127.0.0.1:9"),
     "error: cannot reach the Ray cluster at 127.0.0.1:9"),
    (("eval", "--tasks", "reverse", "--llm", "baseline", "--executor", "ray:nohost"),
     "error: --executor ray:nohost: ADDRESS must be host:port, ray://host:port or auto"),
    (("generate", "--executor", "ray:"), "error: unknown --executor 'ray:'"),
])
def test_bad_executor_is_one_line(tmp_path, args, message):
    out = ("--out", tmp_path / "ev") if args[0] == "eval" else ()
    r = cli(env_with(), *args, *out)
    assert r.returncode == 2
    assert r.stderr.strip().startswith(message) and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not (tmp_path / "ev").exists()


def test_a_bad_episode_cpu_setting_is_one_line(tmp_path):
    r = cli(env_with(TRACR_AGENT_RAY_EPISODE_CPUS="0"), "eval", "--tasks", "reverse", "--llm", "baseline",
            "--executor", "ray", "--out", tmp_path / "ev")
    assert r.returncode == 2
    assert r.stderr.strip() == "error: TRACR_AGENT_RAY_EPISODE_CPUS must be a positive number of CPUs (got '0')"


def test_a_compression_travels_with_its_task(tmp_path, monkeypatch, load):
    """A worker with a cache of its own gets a compressed subject's compression through the object store
    (packed with the task's compile) and loads it without training; a rotation has nothing to carry."""
    from tracr_agent.agent.evaluation.shipped_cache import pack, task_paths, transform_paths, unpack
    from tracr_agent.tools.subjects.spec import SubjectSpec
    from tracr_agent.tools.subjects.transforms import cache

    kept = SubjectSpec.parse("identity_map@compressed:6").load()  # trained or read in the user's cache
    assert transform_paths("identity_map", "rotated:3") == transform_paths("identity_map", None) == []
    paths = task_paths("identity_map") + transform_paths("identity_map", "compressed:6")
    assert paths[-1] == f"transforms/{cache.key(load('identity_map'), 6, 0)}"
    data = pack(paths)
    monkeypatch.setenv("TRACR_AGENT_CACHE", str(tmp_path / "worker"))
    assert unpack(data) == 2
    monkeypatch.setattr("tracr_agent.tools.subjects.transforms.compress.Trainer", None)  # no training here
    shipped = SubjectSpec.parse("identity_map@compressed:6").load()
    assert shipped.fingerprint == kept.fingerprint and shipped.transform == kept.transform
