"""Decompiler accuracy with a label-free residual (`--residual raw`), task by task, quickly.

`tracr-agent eval --llm decompiler --residual raw` is the measurement of record; this drives the
decompiler's chat model directly against the real tools (call_tool with a raw ToolContext, the default
40-call budget, no transcript) and scores its submission with the real scorer, for a fast loop while
working on it. Usage: python benchmarks/decompiler_raw.py [TASK ...] (default: the zoo). Prints one
line per task and the total functionally correct / not tabulated. `explain_miss` lists, for a
labelled subject, the decompiled variables whose values differ from the model's on one input.
"""

from __future__ import annotations

import sys
import time


def drive(subject, condition: str = "whitebox", residual: str = "raw", max_calls: int = 40) -> dict:
    """Runs the decompiler against the tools until it submits; returns the submitted arguments."""
    from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage

    from tracr_agent.agent.investigators.decompiler.investigator import DecompilerInvestigator
    from tracr_agent.tools.suite.base import ToolContext, call_tool, tool_names

    ctx = ToolContext(condition=condition, residual=residual)
    model = DecompilerInvestigator().bind_tools([{"name": n} for n in tool_names(condition)])
    messages: list = [SystemMessage(content="investigate"), HumanMessage(content="begin")]
    calls = 0
    for _ in range(12):
        ai: AIMessage = model._decide(messages)
        messages.append(ai)
        for c in ai.tool_calls:
            if c["name"] == "submit_prediction":
                return c["args"]
            calls += 1
            text = call_tool(subject, c["name"], c["args"], ctx).text if calls <= max_calls else \
                "error: tool-call limit reached; call submit_prediction"
            messages.append(ToolMessage(content=text, tool_call_id=c["id"], name=c["name"]))
    raise RuntimeError("the decompiler did not submit")


def explain_miss(subject, pred: dict, tokens: list) -> None:
    """For a labelled subject: every decompiled variable whose value on `tokens` differs from the model's."""
    from tracr_agent.agent.investigators.decompiler.program import trace
    from tracr_agent.agent.investigators.decompiler.variables import from_labels, read_all

    got = trace(pred["implementation"], tokens)
    real = read_all(from_labels(subject.residual_labels, subject.vocab),
                    subject.activations(tokens)[f"blocks.{subject.n_layers - 1}.hook_resid_post"].numpy())
    for name, vals in real.items():
        mine = got.get(name.replace(".", "_"))
        if mine is not None and [round(v, 3) if isinstance(v, float) else v for v in mine] != \
                [round(v, 3) if isinstance(v, float) else v for v in vals[1:]]:
            print(f"  {name}: decompiled {mine} model {vals[1:]}")


def main(tasks: list[str]) -> None:
    from tracr_agent.agent.scoring.score import score_prediction
    from tracr_agent.tools.subjects.tasks import load_task
    from tracr_agent.tools.subjects.zoo import all_tasks

    tasks = tasks or [t.id for t in all_tasks()]
    ok = explained = 0
    for task in tasks:
        t0 = time.time()
        subject = load_task(task)
        pred = drive(subject)
        score = score_prediction(pred, subject)
        correct = score.functional.correct
        tab = bool(score.explanation and score.explanation.tabulated)
        ok += correct
        explained += correct and not tab
        print(f"{task:20s} correct={correct!s:5s} tabulated={tab!s:5s} agreement={score.functional.agreement} "
              f"{time.time() - t0:.1f}s", flush=True)
    print(f"raw residual, whitebox: {ok}/{len(tasks)} functionally correct, {explained}/{len(tasks)} explained")


if __name__ == "__main__":
    main(sys.argv[1:])
