"""What running episodes on Ray costs on this machine, against the local executor: the same
evaluation (reverse, sort, length × the open-world baseline × TRIALS, condition full) both ways.

- cold: one `tracr-agent eval` process each, as a user runs it (Ray's start-up, its workers'
  imports and subject loads included);
- warm: in one process whose Ray is already up, the batch run a second time (the workers have
  imported TransformerLens and hold the subjects), against the threads of the local executor,
  also on their second batch.

Prints wall times, the ratio Ray/local and Ray's overhead per episode.

    python benchmarks/ray_overhead.py [TRIALS]
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TASKS = ["reverse", "sort", "length"]
LLM = "baseline"


def cold(trials: int, executor: str) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        args = [sys.executable, "-m", "tracr_agent.agent.cli.main", "eval", "--tasks", ",".join(TASKS), "--llm", LLM,
                "--trials", str(trials), "--executor", executor, "--out", str(Path(tmp) / "ev")]
        t0 = time.perf_counter()
        subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return time.perf_counter() - t0


def warm(trials: int, executor, concurrency: int) -> float:
    """The second of two identical batches on one runner's executor (the first warms it up)."""
    from tracr_agent.agent.records.limits import Limits
    from tracr_agent.agent.evaluation.batch import BatchRunner, plan

    times = []
    for _ in range(2):
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "transcripts").mkdir()
            runner = BatchRunner(Path(tmp), Limits(), executor=executor)
            t0 = time.perf_counter()
            records = asyncio.run(runner.run_all(plan(TASKS, ["full"], [LLM], trials), concurrency))
            times.append(time.perf_counter() - t0)
            assert all(r.status == "prediction" for r in records), [r.error for r in records]
    return times[-1]


def report(what: str, local: float, on_ray: float, episodes: int) -> None:
    print(f"{what:5} local {local:6.1f} s · ray {on_ray:6.1f} s · ratio ray/local {on_ray / local:5.2f} · "
          f"overhead {(on_ray - local) / episodes * 1000:+7.0f} ms per episode")


def main() -> None:
    import ray

    from tracr_agent.agent.evaluation.executors import LocalExecutor, RayExecutor

    trials = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    episodes = len(TASKS) * trials
    print(f"{episodes} episodes ({', '.join(TASKS)} × {LLM} × {trials} trials, condition full), 2 in flight")
    report("cold", cold(trials, "local"), cold(trials, "ray"), episodes)
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    try:
        report("warm", warm(trials, LocalExecutor(), 2), warm(trials, RayExecutor(), 2), episodes)
    finally:
        ray.shutdown()


if __name__ == "__main__":
    main()
