"""What the scoring sandbox costs: start-up probes, and one sandboxed run with and without the
seccomp filter (median of N runs of a trivial `f` over 100 inputs).

    python benchmarks/sandbox_overhead.py [N]
"""

from __future__ import annotations

import statistics
import sys
import time

from tracr_agent.tools.sandbox import runner as sandbox

SOURCE = "def f(t):\n    return list(reversed(t))\n"
INPUTS = [[i % 5, (i + 1) % 5, (i + 2) % 5] for i in range(100)]


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def median_run(n: int) -> float:
    def one():
        res = sandbox.run_implementation(SOURCE, INPUTS)
        assert res.ok, res.error
    return statistics.median(timed(one) for _ in range(n))


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    print(f"probe (bwrap, once per process):            {timed(sandbox._probe) * 1000:7.1f} ms")
    print(f"probe (seccomp filter, once per process):   {timed(sandbox._seccomp_problem) * 1000:7.1f} ms")
    print(sandbox.isolation_line())
    filtered = median_run(n)
    real_fd = sandbox._seccomp_fd
    sandbox._seccomp_fd = lambda: None
    try:
        unfiltered = median_run(n)
    finally:
        sandbox._seccomp_fd = real_fd
    print(f"one sandboxed run, 100 inputs, median of {n}: with filter {filtered * 1000:.1f} ms, "
          f"without {unfiltered * 1000:.1f} ms")


if __name__ == "__main__":
    main()
