"""Benchmark: compile time per task, and the cached-load time (goal: ≤ 0.5 s, no JAX/tracr import).

    python benchmarks/compile_and_cache.py            # every zoo task
    python benchmarks/compile_and_cache.py reverse sort

Compile = tracr compile + conversion + writing the cache entry, measured in one
process (JAX warm after the first task; the first row includes JAX's start-up).
Cached load is measured in fresh subprocesses: reading the model directory
into a Subject (what the 0.5 s goal covers), then separately building the
TransformerLens bridge and the first forward pass (dominated by importing
TransformerLens, a one-off per process).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from rich.console import Console
from rich.table import Table

LOAD_SNIPPET = """
import json, sys, time
t0 = time.perf_counter()
from tracr_agent.tools.subjects.tasks import load_task
s = load_task(sys.argv[1])
t1 = time.perf_counter()
s.run([s.vocab[:2]])
t2 = time.perf_counter()
print(json.dumps({"load": t1 - t0, "bridge_first_run": t2 - t1,
                  "jax_or_tracr_imported": any(m in sys.modules for m in ("jax", "tracr"))}))
"""


def main(ids: list[str]) -> None:
    from tracr_agent.tools.subjects.tasks import load_task
    from tracr_agent.tools.subjects.zoo import all_tasks

    ids = ids or [t.id for t in all_tasks()]
    cache = tempfile.mkdtemp(prefix="tracr-agent-bench-")
    os.environ["TRACR_AGENT_CACHE"] = cache
    table = Table(title=f"compile and cached load ({len(ids)} tasks; cache {cache})")
    for col in ("task", "d_model", "layers", "compile s", "cached load s", "bridge+first run s", "JAX/tracr on load"):
        table.add_column(col, justify="left" if col == "task" else "right")
    loads = []
    compiles = []
    for tid in ids:
        t0 = time.perf_counter()
        s = load_task(tid)
        comp = time.perf_counter() - t0
        compiles.append(comp)
        out = subprocess.run([sys.executable, "-c", LOAD_SNIPPET, tid], capture_output=True, text=True,
                             env={**os.environ, "TRACR_AGENT_CACHE": cache}, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        loads.append(r["load"])
        table.add_row(tid, str(s.d_model), str(s.n_layers), f"{comp:.2f}", f"{r['load']:.3f}",
                      f"{r['bridge_first_run']:.2f}", "yes" if r["jax_or_tracr_imported"] else "no")
    Console().print(table)
    print(f"compile: median {statistics.median(compiles):.2f} s, max {max(compiles):.2f} s; "
          f"cached load: median {statistics.median(loads):.3f} s, max {max(loads):.3f} s (goal ≤ 0.5 s)")


if __name__ == "__main__":
    main(sys.argv[1:])
