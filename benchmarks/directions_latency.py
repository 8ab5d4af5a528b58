"""Latency of component_writes and project, as the agent sees them (call_tool end to end).

    python benchmarks/directions_latency.py [--tasks reverse sort hist] [--transform rotated]

Per task, on a freshly loaded subject (its bridge loaded before the clock starts): the first
component_writes of a session (it runs the sample's forward pass, shared with probe), then
component_writes of every non-empty head and MLP (one SVD and one clustering each; the sample is kept),
the same calls again (answered from the kept analysis), then project onto each component and onto a
probe, for a few inputs. Prints p50 and p95 in ms per kind of call, and over all tasks. The goal set for
probe (p50 ≤ 50 ms on a zoo subject, benchmarks/probe_latency.py) is the yardstick: these tools are
called as often.
"""

from __future__ import annotations

import argparse
import statistics

from probe_latency import GOAL_MS, _ms, session

INPUTS = 4


def measure(task: str, transform: str | None) -> dict:
    subject, call = session(task, transform)
    comps = [f"{l}.{h}" for l, h in subject.nonempty_heads] + [f"{l}.mlp" for l in subject.nonempty_mlps]
    first = _ms(lambda: call("component_writes", {"component": comps[0]}))
    writes = [_ms(lambda c=c: call("component_writes", {"component": c})) for c in comps[1:]]
    repeats = [_ms(lambda c=c: call("component_writes", {"component": c})) for c in comps]
    inputs = [[subject.vocab[(i + k) % len(subject.vocab)] for i in range(subject.max_seq_len - k % 2)]
              for k in range(INPUTS)]
    onto_components = [_ms(lambda c=c, x=x: call("project", {"input": x, "component": c}))
                       for c in comps for x in inputs]
    probe = {"hook": f"blocks.{subject.n_layers - 1}.hook_resid_post", "property": "token"}
    onto_probe = [_ms(lambda x=x: call("project", {"input": x, "probe": probe})) for x in inputs]
    return {"first": [first], "component_writes": writes or repeats[:1], "component_writes again": repeats,
            "project onto a component": onto_components, "project onto a probe": onto_probe}


def _p(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[int(q * (len(s) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="*", default=["reverse", "sort", "hist"])
    parser.add_argument("--transform", default=None, help="e.g. rotated, compressed:20")
    args = parser.parse_args()
    totals: dict[str, list[float]] = {}
    for task in args.tasks:
        r = measure(task, args.transform)
        parts = []
        for kind, values in r.items():
            totals.setdefault(kind, []).extend(values)
            parts.append(f"{kind} p50 {statistics.median(values):.1f} ms (n={len(values)})")
        print(f"{task}{'@' + args.transform if args.transform else ''}: " + "; ".join(parts))
    calls = [v for kind, values in totals.items() if kind != "first" for v in values]
    for kind, values in totals.items():
        print(f"all · {kind}: p50 {statistics.median(values):.1f} ms, p95 {_p(values, 0.95):.1f} ms, n={len(values)}")
    p50 = statistics.median(calls)
    print(f"all calls after the first: p50 {p50:.1f} ms over {len(calls)} (yardstick: p50 ≤ {GOAL_MS:g} ms: "
          f"{'met' if p50 <= GOAL_MS else 'not met'})")


if __name__ == "__main__":
    main()
