"""Benchmark: what the subject transforms cost, and how far each zoo task compresses.

    python benchmarks/transforms.py                       # every zoo task: rotation and compression
    python benchmarks/transforms.py --only rotation       # rotation cost against compile time only
    python benchmarks/transforms.py reverse sort hist     # some tasks
    python benchmarks/transforms.py --sample 12           # every 41/12-th zoo task (a spread of sizes)
    python benchmarks/transforms.py --json out.json       # also write every figure

Rotation: `apply_transform(subject, "rotated")` (drawing the matrices and mapping every weight; best
of 5) against compiling the task afresh (tracr compile + conversion, no cache, in this process: JAX
is warm after the first task, so the first compile includes its start-up) — goal: below the compile time, printed as a ratio.

Compression: `apply_transform(subject, "compressed", use_cache=False)` (always trained) — the search for the
smallest faithful D, every training it runs, and the final check through the TransformerBridge —
wall and CPU seconds per task (goal: median ≤ 60 s on 2 cores; on a shared machine wall time
counts the other processes' share too, so CPU seconds are printed beside it), and the smallest
faithful D as a ratio of d_model, next to the rank of the residual vectors (the width reached
without superposition). Torch runs one intra-op thread (tracr-agent's default for these tiny models).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

from rich.console import Console
from rich.table import Table


def _timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def rotation_row(task_id: str) -> dict:
    from tracr_agent.tools.subjects.tasks import load_task
    from tracr_agent.tools.subjects.transforms import apply_transform

    _, compile_s, _ = _timed(lambda: load_task(task_id, use_cache=False))
    subject = load_task(task_id)
    rotate_s = min(_timed(lambda: apply_transform(subject, "rotated"))[1] for _ in range(5))
    return {"task": task_id, "d_model": subject.d_model, "compile_s": compile_s, "rotate_s": rotate_s,
            "ratio": rotate_s / compile_s}


def compression_row(task_id: str) -> dict:
    from tracr_agent.tools.errors import SubjectError
    from tracr_agent.tools.subjects.tasks import load_task
    from tracr_agent.tools.subjects.transforms import apply_transform
    from tracr_agent.tools.subjects.transforms.compress import Trainer

    subject = load_task(task_id)
    _, rank = Trainer(subject, subject.domain()).principal_directions()
    row = {"task": task_id, "d_model": subject.d_model, "rank": rank, "load_s": os.getloadavg()[0]}
    try:
        compressed, wall, cpu = _timed(lambda: apply_transform(subject, "compressed", use_cache=False))
    except SubjectError as e:
        return {**row, "refused": str(e)}
    r = compressed.transform
    return {**row, "d": r.d, "ratio": r.d / r.d_model, "wall_s": wall, "cpu_s": cpu, "train_wall_s": r.train_seconds,
            "train_cpu_s": r.cpu_seconds, "final_loss": r.final_loss,
            "tried": [(s.d, s.agreed, s.n_inputs, s.steps) for s in r.search]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tasks", nargs="*")
    parser.add_argument("--only", choices=("rotation", "compression"))
    parser.add_argument("--sample", type=int, help="every n-th zoo task, n chosen to give about this many")
    parser.add_argument("--json", help="write every figure to this file")
    args = parser.parse_args()
    from tracr_agent.tools.subjects.zoo import all_tasks

    ids = args.tasks or [t.id for t in all_tasks()]
    if args.sample:
        ids = ids[:: max(1, round(len(ids) / args.sample))]
    console = Console(width=max(150, Console().width))
    out: dict = {"tasks": ids, "cores": os.cpu_count()}
    if args.only != "compression":
        out["rotation"] = rotations(ids, console)
    if args.only != "rotation":
        out["compression"] = compressions(ids, console)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


def rotations(ids: list[str], console: Console) -> list[dict]:
    table = Table(title=f"rotation against compile ({len(ids)} tasks)")
    for col in ("task", "d_model", "compile s", "rotate ms", "rotate / compile"):
        table.add_column(col, justify="left" if col == "task" else "right")
    rows = []
    for tid in ids:
        r = rotation_row(tid)
        rows.append(r)
        table.add_row(tid, str(r["d_model"]), f"{r['compile_s']:.2f}", f"{1000 * r['rotate_s']:.1f}",
                      f"{r['ratio']:.4f}")
    console.print(table)
    ratios = [r["ratio"] for r in rows]
    console.print(f"rotation / compile: median {statistics.median(ratios):.4f}, worst {max(ratios):.4f} "
                  f"(goal: below 1); rotation median {1000 * statistics.median(r['rotate_s'] for r in rows):.1f} ms")
    return rows


def compressions(ids: list[str], console: Console) -> list[dict]:
    table = Table(title=f"compression: the smallest faithful D ({len(ids)} tasks, {os.cpu_count()} cores)")
    for col in ("task", "d_model", "rank", "D", "D/d_model", "wall s", "CPU s", "final loss", "widths tried", "load"):
        table.add_column(col, justify="left" if col in ("task", "widths tried") else "right")
    rows = []
    for tid in ids:
        r = compression_row(tid)
        rows.append(r)
        if "refused" in r:
            table.add_row(tid, str(r["d_model"]), str(r["rank"]), "refused", "", "", "", "", r["refused"][:60],
                          f"{r['load_s']:.1f}")
            continue
        tried = " ".join(f"{d}{'✓' if a == n else '✗'}" for d, a, n, _ in r["tried"])
        table.add_row(tid, str(r["d_model"]), str(r["rank"]), str(r["d"]), f"{r['ratio']:.2f}", f"{r['wall_s']:.1f}",
                      f"{r['cpu_s']:.1f}", f"{r['final_loss']:.2g}", tried, f"{r['load_s']:.1f}")
        console.print(f"  {tid}: D={r['d']} of {r['d_model']} in {r['wall_s']:.1f} s wall / {r['cpu_s']:.1f} s CPU",
                      highlight=False)
    console.print(table)
    kept = [r for r in rows if "refused" not in r]
    if kept:
        console.print(
            f"kept {len(kept)} of {len(rows)}; per task: median {statistics.median(r['wall_s'] for r in kept):.1f} s wall, "
            f"{statistics.median(r['cpu_s'] for r in kept):.1f} s CPU (goal: median ≤ 60 s), worst "
            f"{max(r['wall_s'] for r in kept):.1f} s wall / {max(r['cpu_s'] for r in kept):.1f} s CPU; D/d_model: median "
            f"{statistics.median(r['ratio'] for r in kept):.2f}, range {min(r['ratio'] for r in kept):.2f}–"
            f"{max(r['ratio'] for r in kept):.2f}; rank/d_model median "
            f"{statistics.median(r['rank'] / r['d_model'] for r in kept):.2f}; below the rank (superposition) in "
            f"{sum(r['d'] < r['rank'] for r in kept)} of {len(kept)}", highlight=False)
    return rows


if __name__ == "__main__":
    main()
