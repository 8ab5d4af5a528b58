"""Latency of every tool call, as the agent sees it (call_tool end to end), on three subjects.

    python benchmarks/tool_latency.py [--n 20] [--tasks reverse sort length]

For each task and tool, N distinct random inputs are called once each with
inputs the subject has never seen ("cold input": the call pays for a forward
pass through the TransformerBridge), then the same N calls again ("warm": the
per-input activation cache answers; ablate and patch still run one hooked
forward pass each). Reports p50 and p95 in milliseconds. The goal is a warm
p50 of at most 10 ms.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

GOAL_MS = 10.0


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    if len(xs) == 1:
        return xs[0]
    return statistics.quantiles(xs, n=100, method="inclusive")[int(q) - 1]


def tool_calls(subject, x: list, y: list) -> dict[str, dict]:
    """One call per tool for input x (y: a second input of the same size, for patch)."""
    layer, head = subject.nonempty_heads[-1] if subject.nonempty_heads else (0, 0)
    comp = f"{layer}.{head}"
    return {
        "model_info": {},
        "list_hooks": {},
        "embeddings": {},
        "run_model": {"inputs": [x]},
        "get_activations": {"hook": f"blocks.{layer}.hook_resid_post", "input": x},
        "attention_pattern": {"layer": layer, "head": head, "input": x},
        "decode_residual": {"input": x, "layer": subject.n_layers - 1},
        "ablate (zero)": {"components": [comp], "inputs": [x]},
        "ablate (mean)": {"components": [comp], "inputs": [x], "mode": "mean"},
        "patch": {"clean_input": y, "corrupt_input": x, "component": comp},
    }


def measure(task: str, n: int, seed: int = 0) -> tuple[list[tuple], dict]:
    from tracr_agent.tools.subjects.tasks import load_task
    from tracr_agent.tools.suite import ToolContext, call_tool

    subject = load_task(task)
    ctx = ToolContext(condition="full")
    rng = random.Random(seed)
    # Warm the engine (bridge build, first-use costs) on an input that is not measured.
    call_tool(subject, "decode_residual", {"input": subject.vocab[:1], "layer": 0}, ctx)
    pairs = []
    seen = {tuple(subject.vocab[:1])}
    while len(pairs) < n:
        size = rng.randint(max(1, subject.max_seq_len - 2), subject.max_seq_len)
        x = [rng.choice(subject.vocab) for _ in range(size)]
        y = [rng.choice(subject.vocab) for _ in range(size)]
        if tuple(x) not in seen and tuple(y) not in seen:
            seen.update({tuple(x), tuple(y)})
            pairs.append((x, y))
    names = list(tool_calls(subject, *pairs[0]))
    cold: dict[str, list[float]] = {k: [] for k in names}
    warm: dict[str, list[float]] = {k: [] for k in names}
    for phase in (cold, warm):
        for name in names:
            for x, y in pairs:
                if phase is cold:
                    subject._cache.pop(tuple(subject._key(t) for t in x), None)
                    subject._cache.pop(tuple(subject._key(t) for t in y), None)
                args = tool_calls(subject, x, y)[name]
                t0 = time.perf_counter()
                r = call_tool(subject, name.split(" ")[0], args, ctx)
                phase[name].append((time.perf_counter() - t0) * 1000)
                assert not r.is_error, r.text
    # The engine alone: one run_with_cache through the TransformerBridge for a new input.
    engine = []
    for x, _ in pairs:
        subject._cache.pop(tuple(subject._key(t) for t in x), None)
        t0 = time.perf_counter()
        subject.activations(x)
        engine.append((time.perf_counter() - t0) * 1000)
    rows = [(task, name, pct(cold[name], 50), pct(cold[name], 95), pct(warm[name], 50), pct(warm[name], 95))
            for name in names]
    return rows, {"task": task, "engine_p50": pct(engine, 50), "engine_p95": pct(engine, 95)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=20, help="distinct inputs per tool (default 20)")
    ap.add_argument("--tasks", nargs="+", default=["reverse", "sort", "length"])
    a = ap.parse_args()

    import torch
    from rich.console import Console
    from rich.table import Table

    console = Console()
    results = [measure(task, a.n) for task in a.tasks]
    table = Table(title=f"call_tool latency, ms ({a.n} inputs/tool, {torch.get_num_threads()} torch thread(s))")
    for col in ("task", "tool", "cold p50", "cold p95", "warm p50", "warm p95"):
        table.add_column(col, justify="left" if col in ("task", "tool") else "right")
    engines = []
    for rows, engine in results:
        engines.append(engine)
        for i, (t, name, c50, c95, w50, w95) in enumerate(rows):
            style = "red" if w50 > GOAL_MS else None
            table.add_row(t if i == 0 else "", name, f"{c50:.1f}", f"{c95:.1f}", f"{w50:.1f}", f"{w95:.1f}",
                          style=style)
        table.add_section()
    console.print(table)
    for e in engines:
        console.print(f"{e['task']}: one run_with_cache through the TransformerBridge for a new input: "
                      f"p50 {e['engine_p50']:.1f} ms, p95 {e['engine_p95']:.1f} ms")
    console.print(f"goal: warm p50 <= {GOAL_MS:g} ms (rows over it in red)")


if __name__ == "__main__":
    main()
