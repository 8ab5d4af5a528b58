"""The open-world baseline's synthesis search: time per task and whether the task is explained.

Runs a real `blackbox` episode of `--llm baseline` per task (the same probes, test batches and
re-fits as `eval`; scored by the real scorer, transcripts in a temporary folder) and measures the
time spent inside the search (`openworld.fit.fit`, its memo cleared first: wall and CPU seconds — on
a shared machine CPU seconds are the figure to compare) apart from the episode's total. Usage:

    python benchmarks/openworld_search.py [--profile] [TASK ...]

Default task list: a fixed mix of zoo tasks (explained and not) and generated ones (seed 1,
difficulties 1-3). Prints one line per task — search seconds (wall, CPU), candidate SOps evaluated
(the search's budget is counted in these, so the same observations cost the same count before and
after a speed-up), episode seconds, explained yes/no — then the totals. `--profile` prints cProfile's top functions of the
search (cumulative) after the runs.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import tempfile
import time
from pathlib import Path

from tracr_agent.tools.subjects.generate.ids import ids_for

DEFAULT_TASKS = [
    # zoo: explained in `full` / `blackbox` (README) ...
    "reverse", "sort", "hist", "shift_by", "max_broadcast", "mean_tokens", "frac_prevs",
    # ... and beyond the search (these spend its whole budget: five searches)
    "is_sorted", "palindrome_check",
    # generated, seed 1: the first five at difficulties 1-3 (picked through the generator's ids)
    *(str(g) for g in ids_for(1, [1, 2, 3], 5)),
]


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("tasks", nargs="*")
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--condition", default="blackbox")
    args = ap.parse_args(argv)

    from tracr_agent.agent.investigators.registry import make_backend
    from tracr_agent.agent.episode.drive import run_episode
    from tracr_agent.agent.investigators.openworld import fit as fit_mod
    from tracr_agent.agent.investigators.openworld import investigator as inv_mod
    from tracr_agent.agent.investigators.openworld import synthesis
    from tracr_agent.tools.subjects.tasks import load_task

    prof = cProfile.Profile() if args.profile else None
    clock = {"search": 0.0, "cpu": 0.0, "evals": 0}
    real_fit, real_run = fit_mod.fit, synthesis.Synthesizer.run

    def timed_fit(*a, **kw):
        t0, c0 = time.perf_counter(), time.process_time()
        if prof:
            prof.enable()
        try:
            return real_fit(*a, **kw)
        finally:
            if prof:
                prof.disable()
            clock["search"] += time.perf_counter() - t0
            clock["cpu"] += time.process_time() - c0

    def counted_run(self, *a, **kw):
        try:
            return real_run(self, *a, **kw)
        finally:
            clock["evals"] += self.evals

    fit_mod.fit = inv_mod.fit = timed_fit  # refit (fit.py) calls fit through its module's global
    synthesis.Synthesizer.run = counted_run
    tasks = args.tasks or DEFAULT_TASKS
    total_search = total_cpu = total_ep = 0.0
    explained = 0
    with tempfile.TemporaryDirectory() as tmp:
        for task in tasks:
            subject = load_task(task)
            subject.bridge  # TransformerLens' load is not the search's
            fit_mod._MEMO.clear()
            clock.update(search=0.0, cpu=0.0, evals=0)
            t0 = time.perf_counter()
            res = run_episode(subject, make_backend("baseline"), condition=args.condition,
                              transcript_path=Path(tmp) / f"{task}.jsonl")
            episode = time.perf_counter() - t0
            ok = bool(res.score and res.score.explained)
            explained += ok
            total_search += clock["search"]
            total_cpu += clock["cpu"]
            total_ep += episode
            print(f"{task:18s} search {clock['search']:6.2f} s (CPU {clock['cpu']:6.2f} s)  evals {clock['evals']:6d}  "
                  f"episode {episode:6.2f} s  explained {'yes' if ok else 'no'}", flush=True)
    print(f"total: search {total_search:.1f} s (CPU {total_cpu:.1f} s), episodes {total_ep:.1f} s, "
          f"explained {explained}/{len(tasks)}")
    if prof:
        pstats.Stats(prof).sort_stats("cumulative").print_stats(35)


if __name__ == "__main__":
    main(sys.argv[1:])
