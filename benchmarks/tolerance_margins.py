"""How close the decompiler's accepted matches come to NUM_TOL (tools/subjects/compare.py).

The decompiler checks its program against the residual stream (`held_equal`) and fits means and
selector widths to it (`within`), all at the one tolerance NUM_TOL = 1e-3 (it used 2e-3 before).
This runs decompiler episodes (real tracr subjects, real forward passes, real scoring) with both
checks recorded, and prints, per check, how many numerical comparisons were made, the largest
difference among those that passed, and how many differences fell within a factor of two of the
tolerance (in (NUM_TOL/2, 2*NUM_TOL]: where a change of tolerance would change a decision).
Usage: python benchmarks/tolerance_margins.py [TASK ...] (default: ten zoo tasks of the decompiler tests
and the first three generated programs of seed 1 at each difficulty, labelled and raw).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from tracr_agent.tools.subjects.generate.ids import ids_for

TASKS = ["sort", "reverse", "length", "frac_prevs", "pair_balance", "shuffle_dyck", "sort_freq", "nary_sequencemap",
         "count_less_freq", "running_mean", *(str(g) for g in ids_for(1, [1, 2, 3, 4], 3))]


def main(tasks: list[str]) -> None:
    from tracr_agent.agent.investigators.registry import make_backend
    from tracr_agent.agent.episode.drive import run_episode
    from tracr_agent.agent.records.limits import Limits
    from tracr_agent.agent.investigators.decompiler import coverage, heads
    from tracr_agent.tools.subjects import compare
    from tracr_agent.tools.subjects.tasks import load_task

    diffs: dict[str, list[tuple[float, bool]]] = {"held_equal (program vs residual)": [], "within (head fits)": []}

    def held(a, b):
        ok = compare.held_equal(a, b)
        if all(isinstance(v, (int, float)) for v in (a, b)):
            diffs["held_equal (program vs residual)"].append((abs(float(a) - float(b)), ok))
        return ok

    def within(a, b, tol=compare.NUM_TOL):
        ok = compare.within(a, b, tol)
        if tol == compare.NUM_TOL:
            diffs["within (head fits)"].append((abs(a - b), bool(ok)))
        return ok

    coverage.held_equal, heads.within = held, within
    correct = n = 0
    t0 = time.time()
    for task in tasks:
        subject = load_task(task)
        for residual in ("labelled", "raw"):
            with tempfile.TemporaryDirectory() as d:
                r = run_episode(subject, make_backend("decompiler"), condition="whitebox", limits=Limits(),
                                transcript_path=Path(d) / "t.jsonl", residual=residual)
            ok = bool(r.score and r.score.functional and r.score.functional.correct)
            correct, n = correct + ok, n + 1
            print(f"{task:18s} {residual:8s} {'correct' if ok else 'WRONG'}", flush=True)
    print(f"{correct}/{n} episodes functionally correct in {time.time() - t0:.0f} s; NUM_TOL = {compare.NUM_TOL:g}")
    for name, rows in diffs.items():
        passed = [d for d, ok in rows if ok]
        near = sum(compare.NUM_TOL / 2 < d <= 2 * compare.NUM_TOL for d, _ in rows)
        print(f"{name}: {len(rows)} comparisons, largest passing difference {max(passed, default=0.0):.2g}, "
              f"{near} within a factor of two of NUM_TOL")


if __name__ == "__main__":
    main(sys.argv[1:] or TASKS)
