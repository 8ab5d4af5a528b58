"""What checkpointing a plain `run` costs: the same deterministic episode with and without the
session store (every graph step written synchronously to SQLite, the row opened and closed).

    python benchmarks/checkpoint_overhead.py [--task reverse] [--llm decompiler] [--repeats 3]

Prints the median wall time of each (both scored) and the store's size after the runs (finished
runs drop their checkpoints). The subject is loaded, and TransformerLens warmed, before timing.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--task", default="reverse")
    ap.add_argument("--llm", default="decompiler")
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()

    from tracr_agent.agent.episode.drive import run_episode, start_run
    from tracr_agent.agent.episode.store import SessionStore
    from tracr_agent.agent.investigators.registry import make_backend
    from tracr_agent.agent.records.config import EpisodeConfig
    from tracr_agent.tools.subjects.tasks import load_task
    from tracr_agent.tools.subjects.spec import SubjectSpec

    subject = load_task(a.task)
    subject.warm_up_async()
    d = Path(tempfile.mkdtemp())
    run_episode(subject, make_backend(a.llm), transcript_path=d / "warm.jsonl", score=False)
    plain, stored = [], []
    store = SessionStore(d / "sessions.sqlite")
    for i in range(a.repeats):
        t0 = time.perf_counter()
        run_episode(subject, make_backend(a.llm), transcript_path=d / f"plain-{i}.jsonl")
        plain.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        start_run(store, subject, make_backend(a.llm), EpisodeConfig(subject=SubjectSpec.of(subject), llm=a.llm),
                  transcript_path=d / f"stored-{i}.jsonl")
        stored.append(time.perf_counter() - t0)
    store.close()
    size = (d / "sessions.sqlite").stat().st_size
    print(f"{a.llm} on {a.task}, {a.repeats} runs each: without the store {statistics.median(plain):.2f} s, "
          f"checkpointed {statistics.median(stored):.2f} s (median); store after the runs {size / 1024:.0f} KB")


if __name__ == "__main__":
    main()
