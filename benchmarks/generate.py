"""Benchmark: generated tasks per minute (sampled, filtered, compiled, verified), rejections by reason, and
what the accepted programs do per difficulty (steps, attention patterns, depth, layers).

    python benchmarks/generate.py                      # 25 tasks at each difficulty 1-4 (100), seed 0
    python benchmarks/generate.py --count 5 --difficulty 1-2 --seed 3 --jobs 2

Runs in a fresh, empty cache (a temporary TRACR_AGENT_CACHE) so every candidate
is really judged, compiled and verified; then reloads every accepted task from
that cache to time the cached path. Prints wall and CPU seconds (this process's
and its workers'; JAX and torch run single-threaded) and the load average, since a
shared machine inflates wall time. Goal: 100 tasks in at most 10 minutes on the
project's 2-core machine.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections import Counter


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the worker pool, once shut down)."""
    import resource

    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--difficulty", default="1-4")
    ap.add_argument("--count", type=int, default=25, help="tasks per difficulty")
    ap.add_argument("--jobs", type=int, default=1, help="processes judging candidates side by side")
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ["TRACR_AGENT_CACHE"] = tempfile.mkdtemp(prefix="tracr-agent-genbench-")

    from rich.console import Console
    from rich.table import Table

    from tracr_agent.tools.subjects.generate.ids import ids_for, parse_difficulties
    from tracr_agent.tools.subjects.generate.registry import accepted_rows, ensure, rejection_counts, worker_pool
    from tracr_agent.tools.subjects.generate.stats import COLUMNS, distribution
    from tracr_agent.tools.subjects.tasks import load_task

    console = Console(width=120)
    difficulties = parse_difficulties(args.difficulty)
    table = Table(title=f"generate: seed {args.seed}, {args.count} per difficulty, --jobs {args.jobs}, fresh cache")
    pool = worker_pool(args.jobs) if args.jobs > 1 else None
    for col in ("difficulty", "tasks", "candidates", "seconds", "CPU s", "tasks/min", "s/candidate (accepted, rejected)"):
        table.add_column(col, justify="right")
    reasons: Counter = Counter()
    features: dict[int, list[dict]] = {}
    t_all, c_all, n_tasks, n_cand = time.monotonic(), cpu_seconds(), 0, 0
    for d in difficulties:
        t0, c0 = time.monotonic(), time.process_time()
        rows = ensure(args.seed, d, args.count,
                      lambda row, n: console.print(f"  d{d} k{row['k']:<3} {row['seconds']:6.1f}s "
                                                   f"{row['reason'] or 'accepted'}", highlight=False),
                      pool=pool, jobs=args.jobs)
        secs = time.monotonic() - t0
        reasons.update(rejection_counts(rows))
        features[d] = [r["features"] for r in accepted_rows(rows)[:args.count]]
        acc = [r["seconds"] for r in rows if r["reason"] is None]
        rej = [r["seconds"] for r in rows if r["reason"] is not None]
        cpu = "-" if pool is not None else f"{time.process_time() - c0:.0f}"  # workers' CPU is known at the end
        table.add_row(str(d), str(args.count), str(len(rows)), f"{secs:.0f}", cpu,
                      f"{60 * args.count / secs:.1f}",
                      f"{sum(acc) / max(1, len(acc)):.1f}, {sum(rej) / max(1, len(rej)):.1f}")
        n_tasks += args.count
        n_cand += len(rows)
    total = time.monotonic() - t_all
    if pool is not None:
        pool.shutdown(wait=True, cancel_futures=True)
    table.add_row("all", str(n_tasks), str(n_cand), f"{total:.0f}", f"{cpu_seconds() - c_all:.0f}",
                  f"{60 * n_tasks / total:.1f}", "")
    console.print(table)
    console.print(f"load average over the run's last minute: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores "
                  "(wall time grows with other processes' load; CPU s does not)")
    console.print(f"rejection rate {100 * (n_cand - n_tasks) / n_cand:.0f}% of {n_cand} candidates; by reason:")
    for reason, c in reasons.most_common():
        console.print(f"  {reason}: {c} ({100 * c / n_cand:.0f}%)")
    grid = Table(title="what the accepted programs do: min-max (mean) per difficulty")
    for col in COLUMNS:
        grid.add_column(col, justify="right", no_wrap=True)
    for row in distribution(features):
        grid.add_row(*row)
    console.print(grid)
    t0 = time.monotonic()
    for gid in ids_for(args.seed, difficulties, args.count):
        load_task(str(gid))
    console.print(f"cached reload of all {n_tasks} tasks: {time.monotonic() - t0:.1f}s")


if __name__ == "__main__":
    main()
