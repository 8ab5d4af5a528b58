"""Latency of the probe tool, as the agent sees it (call_tool end to end) — goal: p50 ≤ 50 ms on a zoo subject.

    python benchmarks/probe_latency.py [--tasks reverse sort] [--transform rotated]

Per task: the first probe of a session (it runs the sample's forward pass and keeps every hook's
activations; the bridge is loaded before the clock starts), then one probe per hook with one vector
per position and per property 'token' and 'position' (a fit each), then expression properties
(the first runs the sandbox, a repeat is answered from the kept values). Prints p50 and p95 in ms.
"""

from __future__ import annotations

import argparse
import statistics
import time

GOAL_MS = 50.0


def _ms(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return 1000 * (time.perf_counter() - t0)


def session(task: str, transform: str | None):
    """(the subject, a `call(name, args)` of its tools as the agent makes them in whitebox): freshly loaded,
    so nothing is kept from an earlier call, with its bridge built before any clock starts."""
    from tracr_agent.tools.subjects.tasks import load_task
    from tracr_agent.tools.subjects.transforms import apply_transform
    from tracr_agent.tools.suite import ToolContext, call_tool

    subject = load_task(task)
    if transform:
        subject = apply_transform(subject, transform)
    subject.run([subject.vocab[:1]])
    ctx = ToolContext(condition="whitebox")

    def call(name: str, args: dict) -> None:
        r = call_tool(subject, name, args, ctx)
        assert not r.is_error, r.text

    return subject, call


def measure(task: str, transform: str | None) -> dict:
    from tracr_agent.tools.subjects.subject import standard_hooks
    from tracr_agent.tools.suite.activations import hook_kind

    subject, call = session(task, transform)

    def probe(hook, prop):
        call("probe", {"hook": hook, "property": prop})

    last = f"blocks.{subject.n_layers - 1}.hook_resid_post"
    first = _ms(lambda: probe(last, "token"))
    hooks = [h for h in standard_hooks(subject.n_layers) if hook_kind(h) != "head_table"]
    fits = [_ms(lambda h=h, p=p: probe(h, p)) for h in hooks for p in ("token", "position")]
    expression = "tokens[:i+1].count(tokens[i])"
    sandboxed = _ms(lambda: probe(last, expression))
    repeated = _ms(lambda: probe(hooks[0], expression))
    return {"task": task, "first": first, "fits": fits, "sandboxed": sandboxed, "repeated": repeated}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="*", default=["reverse", "sort", "hist"])
    parser.add_argument("--transform", default=None, help="e.g. rotated, compressed:20")
    args = parser.parse_args()
    all_fits = []
    for task in args.tasks:
        r = measure(task, args.transform)
        fits = sorted(r["fits"])
        all_fits += fits
        print(f"{task}: first probe {r['first']:.0f} ms; {len(fits)} fits p50 {statistics.median(fits):.1f} ms, "
              f"p95 {fits[int(0.95 * (len(fits) - 1))]:.1f} ms; expression: first {r['sandboxed']:.0f} ms "
              f"(sandbox), repeated {r['repeated']:.1f} ms")
    p50 = statistics.median(all_fits)
    print(f"all: p50 {p50:.1f} ms over {len(all_fits)} probes (goal: p50 ≤ {GOAL_MS:g} ms: "
          f"{'met' if p50 <= GOAL_MS else 'not met'})")


if __name__ == "__main__":
    main()
