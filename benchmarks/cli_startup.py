"""Start-up time of the CLI: `tracr-agent --help` against bare Python and against importing typer and rich.

    python benchmarks/cli_startup.py [--runs N]

Goal: `tracr-agent --help` ≤ 0.3 s on an idle machine. Each command runs N times in a fresh process
(wall time, median and best); the ratios say what the CLI adds over the floor it cannot go below
(`python -c pass`) and over the libraries it is built on (`import typer, rich`). The machine's load
is printed too: on a shared machine wall times move with it; CPU times (user + system of each
process) much less.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time


def timed(cmd: list[str], runs: int) -> tuple[list[float], list[float]]:
    """(wall seconds, CPU seconds) of each run."""
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        walls.append(time.perf_counter() - t0)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return walls, cpus


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=15)
    a = ap.parse_args()
    cli = shutil.which("tracr-agent") or sys.exit("tracr-agent is not on PATH (pip install -e .)")
    cases = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "import typer, rich": [sys.executable, "-c", "import typer, rich.console"],
        "tracr-agent --help": [cli, "--help"],
    }
    timed(cases["tracr-agent --help"], 2)  # warm the file cache
    results = {name: timed(cmd, a.runs) for name, cmd in cases.items()}
    print(f"{a.runs} runs each, load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for name, (walls, cpus) in results.items():
        print(f"  {name:<20} wall median {statistics.median(walls):.3f} s, best {min(walls):.3f} s;"
              f"   CPU median {statistics.median(cpus):.3f} s")
    for kind, k in (("wall", 0), ("CPU", 1)):
        help_s = statistics.median(results["tracr-agent --help"][k])
        print(f"tracr-agent --help ({kind}): {help_s:.3f} s = "
              f"{help_s / statistics.median(results['python -c pass'][k]):.1f}x python -c pass, "
              f"{help_s / statistics.median(results['import typer, rich'][k]):.2f}x import typer, rich")
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):
        print("note: PYTHONDONTWRITEBYTECODE is set, so the project's modules are compiled from source on every run "
              "(an installed copy keeps .pyc files): run with `env -u PYTHONDONTWRITEBYTECODE` for a user's figure")
    best = min(results["tracr-agent --help"][0])
    print(f"goal ≤ 0.3 s: best wall {best:.3f} s ({'met' if best <= 0.3 else 'NOT met'} at this load; "
          "the CPU time is what an idle machine's wall time would be)")


if __name__ == "__main__":
    main()
