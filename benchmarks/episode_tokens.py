"""Input tokens per episode: one scripted 40-call whitebox investigation, sent the ways tracr-agent can send it.

    python benchmarks/episode_tokens.py [--task sort] [--calls 40] [--trim 5]

The same investigation each time — 39 tool calls on the real subject (model_info, list_hooks, then
attention patterns, residual decodes, activations, ablations and patches in turn) and a submission,
one call a turn, through the real graph and the real LangChain clients — against the scripted fake
provider (tests/provider_server.py, measured mode: input tokens counted from each request, prompt
caching simulated as Anthropic and OpenAI document it). For each way of sending it prints the input
tokens summed over the turns (all of them, cached or not), the tokens read from and written to the
cache, and the input billed at the full input price's equivalent (plain + 1.25 x written + 0.1 x read
at Anthropic's rates; plain + 0.5 x read at OpenAI's usual rate), with the ratio to sending the whole
history uncached. The goal: at most 250k tokens with caching or trimming (measured before: 552k
input tokens for such an episode, every one at the full price).
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

GOAL = 250_000
BEFORE = 552_000


def investigation(subject, calls: int) -> list:
    """The scripted replies: `calls - 1` tool calls, then submit_prediction (a whitebox investigation)."""
    import random

    rng = random.Random(0)
    n = subject.max_seq_len

    def x(k=n):
        return [rng.choice(subject.vocab) for _ in range(k)]

    heads = subject.nonempty_heads or [(0, 0)]
    reads = itertools.cycle(
        [("attention_pattern", lambda h=h: {"layer": h[0], "head": h[1], "input": x()}) for h in heads]
        + [("decode_residual", lambda l=l: {"layer": l, "input": x()}) for l in range(subject.n_layers)]
        + [("get_activations", lambda l=l: {"hook": f"blocks.{l}.hook_resid_post", "input": x()})
           for l in range(subject.n_layers)]
        + [("ablate", lambda h=h: {"components": [f"{h[0]}.{h[1]}"], "inputs": [x(), x()]}) for h in heads]
        + [("patch", lambda h=h: {"clean_input": x(), "corrupt_input": x(), "component": f"{h[0]}.{h[1]}"})
           for h in heads[:1]])
    script = [("Start with the architecture.", [("model_info", {})]), ("Which hooks?", [("list_hooks", {})])]
    while len(script) < calls - 1:
        name, args = next(reads)
        script.append((f"Next: {name}.", [(name, args())]))
    submit = {"label": "sort", "description": "sorts the tokens", "confidence": 0.5,
              "implementation": "def f(tokens):\n    return sorted(tokens)\n"}
    return script + [("Done.", [("submit_prediction", submit)])]


def measure(subject, script: list, kind: str, cache: bool, trim) -> dict:
    """One episode; the summed usage the fake provider reported."""
    from provider_server import ProviderServer
    from tracr_agent.agent.episode.drive import run_episode
    from tracr_agent.agent.investigators.registry import make_backend
    from tracr_agent.agent.records import transcript as tr
    from tracr_agent.agent.records.limits import Limits

    server = ProviderServer(script, measured=True)
    try:
        spec = (f"anthropic:claude-sonnet-4-20250514@{server.url}" if kind == "anthropic"
                else f"openai-compatible:m@{server.url}/v1")
        backend = make_backend(spec)
        if kind == "anthropic" and not cache:
            backend.prepare = lambda msgs: msgs  # no cache_control markers
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "t.jsonl"
            result = run_episode(subject, backend, transcript_path=path, condition="whitebox", score=False,
                                 limits=Limits(max_tool_calls=len(script), max_llm_turns=len(script) + 2,
                                               max_seconds=3600), trim_tool_outputs=trim)
            answers = [e for e in tr.read_transcript(path)[0] if isinstance(e, tr.LLMResponse)]
    finally:
        server.close()
    total = sum(e.usage.input_tokens for e in answers)
    read = sum(e.usage.cache_read_tokens for e in answers)
    write = sum(e.usage.cache_write_tokens for e in answers)
    plain = total - read - write
    billed = plain + 1.25 * write + 0.1 * read if kind == "anthropic" else plain + 0.5 * read
    return {"calls": result.tool_calls, "turns": len(answers), "total": total, "read": read, "write": write,
            "billed": billed}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--task", default="sort")
    ap.add_argument("--calls", type=int, default=40)
    ap.add_argument("--trim", type=int, default=5, help="--trim-tool-outputs N for the trimmed runs")
    args = ap.parse_args()

    import os

    os.environ.setdefault("ANTHROPIC_API_KEY", "sk-ant-fake")
    from tracr_agent.tools.subjects.tasks import load_task

    subject = load_task(args.task)
    script = investigation(subject, args.calls)
    runs = [("anthropic, whole history, no cache markers", "anthropic", False, None),
            ("anthropic, cache markers", "anthropic", True, None),
            (f"anthropic, --trim-tool-outputs {args.trim}, no cache markers", "anthropic", False, args.trim),
            (f"anthropic, cache markers + --trim-tool-outputs {args.trim}", "anthropic", True, args.trim),
            ("openai-compatible, automatic caching", "openai", True, None),
            (f"openai-compatible, automatic caching + --trim-tool-outputs {args.trim}", "openai", True, args.trim)]
    print(f"{args.calls}-call whitebox episode on {args.task} (measured before: {BEFORE:,} input tokens; "
          f"goal <= {GOAL:,})")
    print(f"{'how it is sent':<62} {'calls':>5} {'input':>9} {'read':>9} {'written':>9} {'billed':>9} {'ratio':>6}")
    base = None
    for name, kind, cache, trim in runs:
        m = measure(subject, script, kind, cache, trim)
        base = base or m["billed"]
        print(f"{name:<62} {m['calls']:>5} {m['total']:>9,} {m['read']:>9,} {m['write']:>9,} {m['billed']:>9,.0f} "
              f"{m['billed'] / base:>6.2f}")
    print("input: every input token of every request; billed: the input at the full price's equivalent "
          "(ratio to the first row)")


if __name__ == "__main__":
    main()
