"""How long the test suite takes: the fast tier and/or the full suite, with the CPU they used and the
machine's load, so a figure taken on a shared machine can be read for what it is.

    python benchmarks/suite_time.py [fast|full|both] [--fresh-cache] [-- EXTRA PYTEST ARGS]

Goals (issue 11, on a 2-core machine with nothing else running): fast tier `-m "not slow"` in
<= 2 min, full suite <= 6 min. Both run on every core (pytest-xdist, `-n auto` in pyproject.toml).
CPU is user + system time of pytest and every process it started: on an idle machine with C cores the
wall time cannot be below CPU / C, and it is close to it when the longest tests started first.
`--fresh-cache` points TRACR_AGENT_CACHE at an empty folder, as on a new machine (every subject and
generated task compiled and verified from scratch).
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TIERS = {"fast": ["-m", "not slow"], "full": []}


def run_tier(name: str, extra: list[str], env: dict) -> None:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load0 = os.getloadavg()[0]
    t0 = time.monotonic()
    p = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *TIERS[name], *extra],
                       cwd=REPO, env=env, capture_output=True, text=True)
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    summary = next((line for line in reversed(p.stdout.splitlines()) if " in " in line and "passed" in line),
                   p.stdout.strip().splitlines()[-1] if p.stdout.strip() else "(no output)")
    print(f"{name:5s} tier: {wall:6.0f} s wall, {cpu:6.0f} s CPU ({cpu / (os.cpu_count() or 1):4.0f} s per core), "
          f"load {load0:.1f} -> {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; pytest: {summary}", flush=True)
    if p.returncode != 0:
        print(p.stdout[-3000:], p.stderr[-2000:], sep="\n")


def main() -> None:
    args = sys.argv[1:]
    extra = args[args.index("--") + 1:] if "--" in args else []
    args = args[:args.index("--")] if "--" in args else args
    which = next((a for a in args if a in ("fast", "full", "both")), "fast")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    with tempfile.TemporaryDirectory(prefix="tracr-agent-cache-") as fresh:
        if "--fresh-cache" in args:
            env["TRACR_AGENT_CACHE"] = fresh
        for name in (("fast", "full") if which == "both" else (which,)):
            run_tier(name, extra, env)


if __name__ == "__main__":
    main()
