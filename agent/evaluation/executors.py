"""Where a batch's episodes and generate's candidate checks run: here (`local`) or on a Ray cluster
(`ray`, `ray:ADDRESS`), behind one small interface (`--executor` of `eval` and `generate`).

- `run_episodes(runner, specs, concurrency)`: the episodes of an evaluation. Local: threads in this
  process (BatchRunner.run_in_threads). Ray: one Ray task per episode, at most `concurrency` in
  flight; the worker runs the episode exactly as the local executor does (same seed: the trial) into
  a private folder and hands back the record and the transcript, which this process writes
  (results.jsonl is only ever appended here, one whole line per finished episode). A worker that
  dies mid-episode (killed, out of memory, node lost) has its task retried by Ray from the start,
  so no episode is lost; a killed driver loses no finished episode either (`eval --resume`).
- `judge_pool(jobs)`: what judges generated candidates side by side (registry.ensure's `pool`).
  Local: spawned processes. Ray: Ray tasks; an accepted candidate's compiled subject comes back
  with its verdict.

Compiled subjects reach the workers through Ray's object store (shipped_cache.py): each task's
cache entry is put once and placed in a worker's cache when missing, so no node compiles a subject
this process already has. The LLM is whatever `--llm` names, called from the workers.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import tempfile
import threading
from pathlib import Path
from typing import Optional

from tracr_agent.tools.errors import UserError

EXECUTORS = ("local", "ray", "ray:ADDRESS")
TASK_RETRIES = 3
"""How often Ray reruns an episode or a candidate whose worker died."""
ENV_EPISODE_CPUS = "TRACR_AGENT_RAY_EPISODE_CPUS"
"""CPUs an episode reserves on Ray (default 1). An LLM-bound episode mostly waits for its LLM: 0.25
runs four per core (each worker process holds ~0.5 GB: TransformerLens and the loaded subjects)."""


def episode_cpus() -> float:
    text = os.environ.get(ENV_EPISODE_CPUS, "1")
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value < float("inf"):
        raise UserError(f"{ENV_EPISODE_CPUS} must be a positive number of CPUs (got {text!r})")
    return value


class LocalExecutor:
    name = "local"

    def start(self) -> None:
        """Nothing to start."""

    def cpus(self) -> Optional[int]:
        """None: the callers' own defaults (2 episodes in flight, 1 judging process) apply."""
        return None

    def episode_slots(self) -> Optional[int]:
        return None

    async def run_episodes(self, runner, specs: list, concurrency: int) -> list:
        return await runner.run_in_threads(specs, concurrency)

    def judge_pool(self, jobs: int):
        from tracr_agent.tools.subjects.generate.registry import worker_pool

        return worker_pool(jobs) if jobs > 1 else None


def open_executor(text: Optional[str]):
    """The executor `--executor TEXT` names, started (Ray connected): a bad name or an unreachable
    cluster is one line before any work."""
    executor = parse_executor(text)
    executor.start()
    return executor


def parse_executor(text: Optional[str]):
    """`local` (default), `ray` (a local Ray, or the cluster RAY_ADDRESS names) or `ray:ADDRESS`."""
    text = (text or "local").strip()
    if text == "local":
        return LocalExecutor()
    kind, sep, address = text.partition(":")
    if kind == "ray" and (not sep or address.strip()):
        return RayExecutor(address.strip() or None)
    raise UserError(f"unknown --executor {text!r}; choose one of: {', '.join(EXECUTORS)} "
                    "(ADDRESS: host:port of a Ray head, ray://host:port, or auto)")


# -- Ray ------------------------------------------------------------------------------------------


def _check_reachable(address: str) -> None:
    """A host:port that refuses connections is one line now, not a long wait inside ray.init."""
    if address == "auto":
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise UserError(f"--executor ray:{address}: ADDRESS must be host:port, ray://host:port or auto")
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as e:
        raise UserError(f"cannot reach the Ray cluster at {address} ({e.strerror or e}); start its head "
                        "(`ray start --head`) or fix --executor ray:ADDRESS") from None


class RayExecutor:
    name = "ray"

    def __init__(self, address: Optional[str] = None):
        self.address = address
        self._shipped: dict = {}

    def start(self) -> None:
        """Connects to the cluster (or starts a local Ray); a Ray already started in this process is used."""
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no usage report sent from a study's cluster
        try:
            import ray
        except ImportError:
            raise UserError("--executor ray needs Ray: pip install 'tracr-agent[ray]'") from None
        episode_cpus()  # a bad setting is one line before Ray starts
        if self.address:
            _check_reachable(self.address)
        if ray.is_initialized():  # started by the caller (a notebook, a test): its cluster is used
            return
        try:
            ray.init(address=self.address, logging_level="ERROR", log_to_driver=False,
                     include_dashboard=False if not self.address else None)
        except (ConnectionError, RuntimeError, ValueError) as e:
            where = f"at {self.address}" if self.address else "(local)"
            raise UserError(f"cannot start or reach Ray {where}: {str(e).splitlines()[0][:300]}") from None

    def cpus(self) -> int:
        import ray

        return max(1, int(ray.cluster_resources().get("CPU", 1)))

    def episode_slots(self) -> int:
        """Episodes the cluster runs at once (its CPUs over the CPUs an episode reserves)."""
        return max(1, int(self.cpus() / episode_cpus()))

    # -- episodes

    def _shipment(self, task: str, transform: Optional[str] = None):
        """The object-store reference of the cache entries a worker needs for `task` under `transform`
        (put once)."""
        import ray

        from tracr_agent.agent.evaluation.shipped_cache import pack, task_paths, transform_paths

        if (task, transform) not in self._shipped:
            self._shipped[(task, transform)] = ray.put(pack(task_paths(task) + transform_paths(task, transform)))
        return self._shipped[(task, transform)]

    async def run_episodes(self, runner, specs: list, concurrency: int) -> list:
        import ray

        self.start()
        config = worker_config(runner)
        remote = ray.remote(episode_on_worker).options(max_retries=TASK_RETRIES, num_cpus=episode_cpus())
        pending = list(specs)
        in_flight: dict = {}
        records = []
        while pending or in_flight:
            while pending and len(in_flight) < max(1, concurrency):
                spec = pending.pop(0)
                shipped = None if spec.model_dir else self._shipment(spec.task, spec.transform)
                in_flight[remote.remote(config, spec, shipped)] = spec
                runner.on_event("start", spec, None)
            done = await asyncio.to_thread(_finished, list(in_flight))
            for ref in done:
                spec = in_flight.pop(ref)
                rec = receive_episode(runner, spec, ref)
                records.append(rec)
                runner.on_event("done", spec, rec)
        return records

    # -- generation

    def judge_pool(self, jobs: int):
        self.start()
        return RayJudgePool()


def _finished(refs: list) -> list:
    """The finished ones of `refs`, at least one (waits for it): all that are ready are taken at
    once, so a large cluster's stream of results is not read one scan of the in-flight list each."""
    import ray

    first, rest = ray.wait(refs, num_returns=1)
    more, _ = ray.wait(rest, num_returns=len(rest), timeout=0) if rest else ([], [])
    return first + more


def worker_config(runner) -> dict:
    """What a worker needs to run an episode as this process would."""
    from tracr_agent.tools.sandbox.runner import unsafe_allowed

    judge = getattr(runner.judge, "spec", None) if runner.judge is not None else None
    return {"settings": runner.settings.model_dump(mode="json"), "judge_llm": judge, "unsafe_sandbox": unsafe_allowed()}


def receive_episode(runner, spec, ref):
    """The worker's record and transcript written here; a task that failed for good is an error record."""
    import ray

    from tracr_agent.agent.evaluation.batch import record_from_score
    from tracr_agent.agent.evaluation.results import ResultRecord, append_result

    rel = f"transcripts/{spec.filename()}"
    try:
        record_json, transcript = ray.get(ref)
        rec = ResultRecord.model_validate_json(record_json)
        if transcript:
            path = runner.out / rec.transcript
            tmp = path.with_name(path.name + ".part")
            tmp.write_bytes(transcript)
            os.replace(tmp, path)
    except Exception as e:  # the task failed on every try (e.g. its workers kept dying): recorded, the batch goes on
        rec = record_from_score(spec, None, status="error", transcript=rel,
                                error=f"ray: {type(e).__name__}: {str(e).splitlines()[0][:300] if str(e) else ''}")
    append_result(runner.out, rec, runner._append_lock)
    return rec


_worker: dict = {}
_worker_lock = threading.Lock()


def episode_on_worker(config: dict, spec, shipped: Optional[bytes]) -> tuple[str, bytes]:
    """Runs on a Ray worker: one episode, as BatchRunner.run_one runs it, into this worker's private
    folder; returns (record JSON, transcript bytes)."""
    from tracr_agent.agent.evaluation.shipped_cache import unpack

    unpack(shipped)
    runner = _worker_runner(config)
    rec = runner.run_one(spec)
    path = runner.out / rec.transcript
    data = path.read_bytes() if path.is_file() else b""
    path.unlink(missing_ok=True)
    (runner.out / "results.jsonl").unlink(missing_ok=True)
    return rec.model_dump_json(), data


def _worker_runner(config: dict):
    """One BatchRunner per worker process and configuration (its subjects stay loaded between episodes)."""
    key = json.dumps(config, sort_keys=True)
    with _worker_lock:
        if key not in _worker:
            from tracr_agent.agent.evaluation.batch import BatchRunner
            from tracr_agent.agent.records.config import EpisodeSettings
            from tracr_agent.agent.scoring.judge import make_judge
            from tracr_agent.tools.sandbox.runner import allow_unsafe
            from tracr_agent.tools.subjects.subject import limit_math_threads

            limit_math_threads()
            allow_unsafe(config["unsafe_sandbox"])
            judge = make_judge(config["judge_llm"]) if config["judge_llm"] else None
            out = Path(tempfile.mkdtemp(prefix="tracr-agent-ray-"))
            (out / "transcripts").mkdir()
            _worker[key] = BatchRunner(out, EpisodeSettings.model_validate(config["settings"]), judge=judge)
        return _worker[key]


class _RayJudgment:
    """A candidate judged on Ray, as registry.ensure uses a future: result() and cancel()."""

    def __init__(self, ref):
        self.ref = ref

    def result(self) -> dict:
        import ray

        from tracr_agent.agent.evaluation.shipped_cache import unpack

        row, shipped = ray.get(self.ref)
        unpack(shipped)
        return row

    def cancel(self) -> bool:
        import ray

        try:
            ray.cancel(self.ref)
        except Exception:  # already finished, or its worker is gone: nothing to stop
            return False
        return True


class RayJudgePool:
    """registry.ensure's pool on Ray: `submit(judge_candidate, seed, difficulty, k, earlier)`."""

    def submit(self, fn, seed: int, difficulty: int, k: int, earlier: set):
        import ray

        remote = ray.remote(judge_on_worker).options(max_retries=TASK_RETRIES, num_cpus=1)
        return _RayJudgment(remote.remote(fn, seed, difficulty, k, earlier))

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        """Nothing to stop: Ray's workers belong to the cluster (a local Ray ends with this process)."""


def judge_on_worker(fn, seed: int, difficulty: int, k: int, earlier: set) -> tuple[dict, Optional[bytes]]:
    """Runs on a Ray worker: the verdict on one candidate and, when it is accepted, its compiled subject."""
    from tracr_agent.agent.evaluation.shipped_cache import candidate_path, pack

    row = fn(seed, difficulty, k, earlier)
    return row, pack([candidate_path(seed, difficulty, k)]) if row.get("reason") is None else None
