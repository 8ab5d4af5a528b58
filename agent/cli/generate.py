"""CLI command `generate`: print generated task ids (random RASP programs) for a seed and difficulty.

The generator is imported when the command runs (start-up time: `tracr-agent --help` must not load it)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    from tracr_agent.agent.cli.main import console, err_console, user_errors

    @app.command()
    @user_errors
    def generate(
        seed: str = typer.Option("0", "--seed", help="Any non-negative whole number; the same seed gives the same tasks."),
        difficulty: str = typer.Option("1", "--difficulty", help="1 (one or two steps) to 4 (six to eight steps, three "
                                       "attention patterns, five deep), or a range such as 1-3."),
        count: str = typer.Option("10", "--count", help="Tasks per difficulty."),
        as_json: bool = typer.Option(False, "--json", help="One JSON document: ids with features, rejection counts."),
        jobs: str = typer.Option("1", "--jobs", help="Processes judging candidates side by side (one per core; "
                                 "the ids are the same for any number)."),
        executor: str = typer.Option("local", "--executor", help="Where candidates are judged: local (processes "
                                     "here) or ray / ray:ADDRESS (Ray tasks; --jobs defaults to the cluster's CPUs)."),
        stats: bool = typer.Option(False, "--stats", help="Print what the programs do per difficulty (steps, "
                                   "attention patterns, depth, layers) instead of their ids."),
    ):
        """Generate RASP programs nobody has memorized; print their task ids (gen-SEED-DIFFICULTY-INDEX), one a line.

        Each id works wherever a task id does (show, compile, tool, run, lab, replay --rerun, eval). Every
        program is compiled and verified once, then comes from the cache."""
        import json
        import time

        from tracr_agent.tools.subjects.generate.ids import ids_for, parse_count, parse_difficulties, parse_seed
        from tracr_agent.agent.evaluation.executors import open_executor
        from tracr_agent.tools.subjects.generate.registry import accepted_rows, ensure, rejection_counts

        s, ds, n = parse_seed(seed), parse_difficulties(difficulty), parse_count(count, "--count")
        n_jobs = parse_count(jobs, "--jobs")
        runs_on = open_executor(executor)
        n_jobs = n_jobs if n_jobs > 1 else runs_on.cpus() or 1
        out, counts, tried, t0 = [], {}, 0, time.monotonic()
        pool = runs_on.judge_pool(n_jobs)
        with err_console.status("generating…") as status:
            for d in ds:
                def progress(row, n_accepted, d=d):
                    status.update(f"difficulty {d}: {n_accepted}/{n} accepted, candidate {row['k']} "
                                  f"{'accepted' if row['reason'] is None else 'rejected: ' + row['reason']}")

                try:
                    candidates = ensure(s, d, n, progress, pool=pool, jobs=n_jobs)
                except BaseException:
                    if pool is not None:
                        pool.shutdown(wait=False, cancel_futures=True)
                    raise
                tried += len(candidates)
                for reason, c in rejection_counts(candidates).items():
                    counts[reason] = counts.get(reason, 0) + c
                rows = accepted_rows(candidates)[:n]
                for gid, row in zip(ids_for(s, [d], n), rows):
                    out.append({"id": str(gid), "features": row.get("features", {})})
                    if not (as_json or stats):
                        console.print(str(gid), markup=False, highlight=False)
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        from tracr_agent.tools.subjects.generate.stats import COLUMNS, distribution

        table = distribution({d: [t["features"] for t in out if t["features"].get("difficulty") == d] for d in ds})
        if as_json:
            doc = {"seed": s, "difficulties": ds, "count": n, "tasks": out, "candidates": tried, "rejections": counts}
            if stats:
                doc["stats"] = [dict(zip(COLUMNS, row)) for row in table]
            typer.echo(json.dumps(doc, indent=1))
        elif stats:
            from rich.console import Console
            from rich.table import Table

            grid = Table(title=f"generated programs of seed {s}: min-max (mean) per difficulty")
            for col in COLUMNS:
                grid.add_column(col, justify="right", no_wrap=True)
            for row in table:
                grid.add_row(*row)
            # a pipe or a log gets a console wide enough that no figure is cut
            (console if console.is_terminal else Console(width=max(console.width, 120))).print(grid)
        else:
            rejected = sum(counts.values())
            err_console.print(f"{len(out)} task(s) from {tried} candidates ({rejected} rejected"
                              + (": " + ", ".join(f"{r} {c}" for r, c in counts.items()) if counts else "")
                              + f") in {time.monotonic() - t0:.1f}s", highlight=False, markup=False)
