"""The decompiler (and the open-world baseline) on every residual form: labelled, raw, rotated, compressed.

`tracr-agent eval` is the measurement of record; this drives an investigator's chat model directly
against the real tools (call_tool with the condition's ToolContext, the default 40-call budget, no
transcript) and scores its submission with the real scorer, for a fast loop while working on it and for
the study tables in docs/investigators.md.

    python benchmarks/decompiler_study.py [--sets zoo,gen:11:1-3:12,foreign] [--forms raw,rotated]
        [--conditions whitebox,full] [--llm decompiler,baseline] [--json FILE] [TASK ...]

Subject sets: `zoo`, `gen:SEED:DIFFICULTIES:COUNT` (e.g. gen:11:1-3:12), `foreign` (model directories
whose unembedding follows other conventions: tests/foreign_models.py), or task ids given as arguments.
Forms: `labelled`, `raw` (--residual raw), `rotated` (`rotated:0`), `compressed` (the smallest faithful
D; subjects whose compression is refused are counted and skipped). Prints one line per episode, then per
set × form × condition: explained / functionally correct / tabulated, and the confidence's calibration
(Brier score; among answers at confidence ≥ 0.9, how many were correct), and how many programs are the
model's function up to a renaming of the output values (`up_to_names`: what a whitebox session can reach
on a rotated or compressed model, whose unembedding is never read). `explain_miss` lists, for a
labelled subject, the decompiled variables whose values differ from the model's on one input.
"""

from __future__ import annotations

import argparse
import json
import sys
import os
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAST_MESSAGES: list = []
"""The last episode's messages (for looking into a miss)."""


def drive(subject, condition: str = "whitebox", residual: str = "raw", max_calls: int = 40, llm: str = "decompiler") -> tuple[dict, int]:
    """Runs an investigator against the tools until it submits; (the submitted arguments, tool calls)."""
    from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage

    from tracr_agent.agent.investigators.registry import make_backend
    from tracr_agent.agent.records.limits import Limits
    from tracr_agent.tools.protocol.payloads import envelope
    from tracr_agent.tools.suite.base import ToolContext, call_tool, tool_names

    ctx = ToolContext(condition=condition, residual=residual)
    model = make_backend(llm).with_limits(Limits(max_tool_calls=max_calls)).chat_model
    model = model.bind_tools([{"name": n} for n in tool_names(condition)])
    messages: list = [SystemMessage(content="investigate"), HumanMessage(content="begin")]
    LAST_MESSAGES[:] = [messages]
    calls = 0
    for _ in range(40):
        ai: AIMessage = model._decide(messages)
        messages.append(ai)
        if os.environ.get("STUDY_VERBOSE"):
            print(f"    [{len(ai.tool_calls)} calls] {str(ai.content)[:200]}", flush=True)
        for c in ai.tool_calls:
            if c["name"] == "submit_prediction":
                return c["args"], calls
            calls += 1
            if calls <= max_calls:
                res = call_tool(subject, c["name"], c["args"], ctx)
                if os.environ.get("STUDY_VERBOSE"):
                    a = c["args"]
                    print(f"      {c['name']} {str(a.get('hook', ''))[:60]} x{len(a.get('input') or a.get('inputs') or [])} "
                          f"-> {len(res.text)} chars{' ERROR ' + res.text[:100] if res.is_error else ''}", flush=True)
                messages.append(ToolMessage(content=res.text, tool_call_id=c["id"], name=c["name"],
                                            artifact=envelope(not res.is_error, res.data)))
            else:
                messages.append(ToolMessage(content="error: tool-call limit reached; call submit_prediction",
                                            tool_call_id=c["id"], name=c["name"]))
        if not ai.tool_calls:
            break
    raise RuntimeError("the investigator did not submit")


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


def up_to_names(pred: dict, subject) -> bool:
    """Whether the submitted program is the model's function up to a renaming of its output values: one
    output value for each value it returns, the same on every input of the domain. Without decoded
    outputs, the values a rotated or compressed model's unembedding gives the output variable's points
    are not identifiable from its internals (the same internals with the unembedding's columns swapped
    compute the renamed function), so this is what a whitebox session can reach."""
    from tracr_agent.tools.sandbox.runner import run_implementation

    if subject.output_kind == "numerical":
        return False
    inputs = subject.domain()
    result = run_implementation(pred.get("implementation") or "", inputs)
    if result.outputs is None or result.failed:
        return False
    forward: dict = {}
    backward: dict = {}
    for got, want in zip(result.outputs, subject.run(inputs)):
        if len(got) != len(want):
            return False
        for g, w in zip(got, want):
            if forward.setdefault(repr(g), repr(w)) != repr(w) or backward.setdefault(repr(w), repr(g)) != repr(g):
                return False
    return True


def subjects_of(spec: str):
    """(set name, [(id, loader)]) for a set spec."""
    from tracr_agent.tools.subjects.tasks import load_task

    if spec == "zoo":
        from tracr_agent.tools.subjects.zoo import all_tasks

        return [(t.id, lambda t=t.id: load_task(t)) for t in all_tasks()]
    if spec.startswith("gen:"):
        from tracr_agent.tools.subjects.generate.ids import ids_for

        _, seed, diffs, count = spec.split(":")
        lo, _, hi = diffs.partition("-")
        ds = list(range(int(lo), int(hi or lo) + 1))
        return [(str(g), lambda g=str(g): load_task(g)) for g in ids_for(int(seed), ds, int(count))]
    if spec == "foreign":
        sys.path.insert(0, str(ROOT / "tests"))
        from foreign_models import foreign_suite

        return foreign_suite()
    return [(spec, lambda t=spec: load_task(t))]


def transformed(subject, form: str):
    """(subject, residual mode) for a form; None when the form cannot be made (a refused compression)."""
    from tracr_agent.tools.errors import SubjectError
    from tracr_agent.tools.subjects.transforms import apply_transform

    if form in ("labelled", "raw"):
        return subject, form
    try:
        return apply_transform(subject, "rotated:0" if form == "rotated" else "compressed"), "raw"
    except SubjectError as e:
        print(f"  ({form} refused: {e})", flush=True)
        return None


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("tasks", nargs="*")
    ap.add_argument("--sets", default="")
    ap.add_argument("--forms", default="raw")
    ap.add_argument("--conditions", default="whitebox")
    ap.add_argument("--llm", default="decompiler")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)

    from tracr_agent.agent.scoring.score import score_prediction

    sets = [s for s in args.sets.split(",") if s] + args.tasks
    records = []
    for spec in sets or ["zoo"]:
        for sid, load in subjects_of(spec):
            base = load()
            for form in args.forms.split(","):
                made = transformed(base, form)
                if made is None:
                    records.append({"set": spec, "task": sid, "form": form, "refused": True})
                    continue
                subject, residual = made
                for condition in args.conditions.split(","):
                    for llm in args.llm.split(","):
                        t0 = time.time()
                        try:
                            pred, calls = drive(subject, condition, residual, llm=llm)
                            score = score_prediction(pred, subject)
                            correct = bool(score.functional.correct)
                            tab = bool(score.explanation and score.explanation.tabulated)
                            rec = {"correct": correct, "tabulated": tab, "explained": correct and not tab,
                                   "confidence": float(pred.get("confidence") or 0.0), "calls": calls,
                                   "agreement": score.functional.agreement, "mismatch": score.functional.first_mismatch,
                                   "renamed": correct or up_to_names(pred, subject)}
                        except Exception as e:  # a crash is a result too: counted, never hidden
                            if os.environ.get("STUDY_TRACEBACK"):
                                traceback.print_exc()
                            rec = {"correct": False, "tabulated": False, "explained": False, "confidence": 0.0,
                                   "calls": 0, "crash": f"{type(e).__name__}: {e}"}
                        rec.update({"set": spec, "task": sid, "form": form, "condition": condition, "llm": llm,
                                    "seconds": round(time.time() - t0, 1)})
                        records.append(rec)
                        print(f"{sid:22s} {form:10s} {condition:8s} {llm:10s} explained={rec['explained']!s:5s} "
                              f"conf={rec['confidence']:.2f} calls={rec['calls']:2d} agreement={rec.get('agreement')} "
                              f"{rec['seconds']}s {rec.get('crash', '')}", flush=True)
    print()
    table(records)
    if args.json:
        Path(args.json).write_text(json.dumps(records, indent=1, default=str))


def table(records: list[dict]) -> None:
    """Per set × form × condition × llm: explained, correct, tabulated, crashes, refused, calibration."""
    groups: dict = {}
    for r in records:
        if r.get("refused"):
            groups.setdefault((r["set"], r["form"], "-", "-"), []).append(r)
            continue
        groups.setdefault((r["set"], r["form"], r["condition"], r["llm"]), []).append(r)
    print("| subjects | form | condition | investigator | explained | correct | tabulated | crashes | Brier | "
          "correct at conf ≥ 0.9 | wrong at conf ≥ 0.9 | right up to output names |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for (s, form, cond, llm), rs in groups.items():
        if cond == "-":
            print(f"| {s} | {form} | (refused: {len(rs)}) | | | | | | | | | |")
            continue
        n = len(rs)
        ex = sum(r["explained"] for r in rs)
        co = sum(r["correct"] for r in rs)
        tab = sum(r["tabulated"] for r in rs)
        crash = sum("crash" in r for r in rs)
        brier = sum((r["confidence"] - r["correct"]) ** 2 for r in rs) / n
        high = [r for r in rs if r["confidence"] >= 0.9]
        print(f"| {s} | {form} | {cond} | {llm} | {ex}/{n} ({100 * ex / n:.0f}%) | {co}/{n} | {tab} | {crash} | "
              f"{brier:.3f} | {sum(r['correct'] for r in high)}/{len(high)} | {sum(not r['correct'] for r in high)} | "
              f"{sum(bool(r.get('renamed')) for r in rs)}/{n} |")


if __name__ == "__main__":
    main(sys.argv[1:])
