"""Benchmark: cold start — time from episode start to the first tool result, when the LLM's first turn
takes a while (simulated: it sleeps), with and without loading the subject in the background.

    python benchmarks/cold_start.py                 # reverse, a 5 s first turn, 3 runs per mode
    python benchmarks/cold_start.py --think 2 --runs 5 --task sort

Each run is a fresh Python process (nothing imported yet, as for `tracr-agent run`): it loads the
subject from the cache, then plays one real episode (`run_episode`, the LangGraph loop, condition
full) with a scripted chat model whose first turn sleeps THINK seconds and asks for `run_model`,
the first tool that needs the TransformerLens bridge. The figures come from the transcript:
`first result` is the first tool_result's time since the episode started; `after the turn` is
that minus the end of the LLM's first turn (the goal: ≤ 1 s). `background` is the default
(`Subject.warm_up_async` from run_episode); `on demand` switches it off, as before.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

from rich.console import Console
from rich.table import Table

CHILD = r"""
import json, sys, tempfile, time
from pathlib import Path
from langchain_core.messages import AIMessage
from tracr_agent.agent.backends.llm import Backend
from tracr_agent.agent.backends.replay import ReplayChatModel
from tracr_agent.agent.records import transcript as tr
from tracr_agent.agent.episode.drive import run_episode
from tracr_agent.tools.subjects.tasks import load_task
from tracr_agent.tools.subjects.subject import Subject

task, mode, think = sys.argv[1], sys.argv[2], float(sys.argv[3])
if mode == "on demand":
    Subject.warm_up_async = lambda self: None

class Thinking(ReplayChatModel):
    def _generate(self, messages, stop=None, run_manager=None, **kwargs):
        if self._index[0] == 0:
            time.sleep(think)  # the LLM's first turn
        return super()._generate(messages, stop=stop, run_manager=run_manager, **kwargs)

subject = load_task(task)
first = AIMessage(content="", tool_calls=[{"id": "c1", "name": "run_model", "args": {"inputs": [subject.vocab[:2]]}}])
submit = AIMessage(content="", tool_calls=[{"id": "c2", "name": "submit_prediction", "args": {
    "label": "x", "description": "x", "implementation": "def f(tokens):\n    return tokens\n", "confidence": 0.1}}])
path = Path(tempfile.mkdtemp(prefix="tracr-agent-cold-")) / "t.jsonl"
run_episode(subject, Backend("thinking", Thinking(responses=[first, submit])), condition="full",
            transcript_path=path, score=False)
events, _ = tr.read_transcript(path)
turn = next(e for e in events if isinstance(e, tr.LLMResponse))
result = next(e for e in events if isinstance(e, tr.ToolResultEvent))
assert not result.is_error, result.text
print(json.dumps({"first_result": result.t, "after_turn": result.t - turn.t, "tool_ms": result.latency_ms}))
"""

MODES = ("on demand", "background")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", default="reverse")
    ap.add_argument("--think", type=float, default=5.0, help="seconds the LLM's first turn takes")
    ap.add_argument("--runs", type=int, default=3, help="fresh processes per mode")
    a = ap.parse_args()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    rows: dict[str, list[dict]] = {m: [] for m in MODES}
    for _ in range(a.runs):
        for mode in MODES:  # interleaved, so a change in machine load hits both alike
            out = subprocess.run([sys.executable, "-c", CHILD, a.task, mode, str(a.think)], capture_output=True,
                                 text=True, env=env, check=True)
            rows[mode].append(json.loads(out.stdout.strip().splitlines()[-1]))
    load = os.getloadavg()[0]
    table = Table(title=f"cold start · {a.task} · first LLM turn {a.think:g} s · {a.runs} fresh processes per mode "
                        f"· load average {load:.1f} on {os.cpu_count()} cores")
    for col in ("mode", "first result s (median)", "after the turn s (median)", "after the turn s (max)", "tool ms (median)"):
        table.add_column(col, justify="left" if col == "mode" else "right")
    med = {}
    for mode in MODES:
        r = rows[mode]
        med[mode] = statistics.median(x["after_turn"] for x in r)
        table.add_row(mode, f"{statistics.median(x['first_result'] for x in r):.2f}", f"{med[mode]:.2f}",
                      f"{max(x['after_turn'] for x in r):.2f}", f"{statistics.median(x['tool_ms'] for x in r):.0f}")
    console = Console()
    console.print(table)
    ratio = med["on demand"] / med["background"] if med["background"] > 0 else float("inf")
    console.print(f"wait after the LLM's first turn: {med['on demand']:.2f} s on demand vs {med['background']:.2f} s "
                  f"with background loading ({ratio:.0f}x less); goal ≤ 1 s: "
                  f"{'met' if med['background'] <= 1.0 else 'NOT met'}")


if __name__ == "__main__":
    main()
