"""Hypothesis elimination shared by the rule-based investigators: generic hypothesis families,
the designed probe inputs, and the move that submits a prediction. Outputs are compared by
`tools/subjects/compare.outputs_equal`, the same comparison scoring uses. Knows nothing of the
zoo (the closed-world baseline keeps its zoo hypotheses apart)."""

from __future__ import annotations

import random
from typing import Optional

from langchain_core.messages import AIMessage

from tracr_agent.tools.subjects.compare import outputs_equal

BATCH = 32


class Hypothesis:
    def __init__(self, label: str, description: str, source: str, fn, zoo: bool):
        self.label, self.description, self.source, self.fn, self.zoo = label, description, source, fn, zoo

    def predict(self, x: tuple) -> Optional[list]:
        try:
            out = self.fn(list(x))
            return list(out) if out is not None else None
        except Exception:
            return None

    def consistent(self, obs: dict, numerical: bool) -> bool:
        for x, y in obs.items():
            p = self.predict(x)
            if p is None or not outputs_equal(p, y, numerical):
                return False
        return True


def generic_hypotheses(obs: dict) -> list[Hypothesis]:
    """Families fitted to the observations: they survive only if one table explains everything."""
    out = []
    pairs = [(x, y) for x, y in obs.items()]
    vals = {v for _, y in pairs for v in y}
    if len(vals) == 1:
        c = next(iter(vals))
        out.append(Hypothesis("constant", f"Every position outputs {c!r}.",
                              f"def f(tokens):\n    return [{c!r}] * len(tokens)\n", lambda t, c=c: [c] * len(t), False))
    for name, key in (("elementwise map", lambda x, i: x[i]), ("positional map", lambda x, i: i)):
        table: dict = {}
        ok = True
        for x, y in pairs:
            for i, v in enumerate(y):
                k = key(x, i)
                if table.setdefault(k, v) != v:
                    ok = False
                    break
            if not ok:
                break
        if ok and table:
            if name == "elementwise map":
                src = f"def f(tokens):\n    table = {table!r}\n    return [table.get(t) for t in tokens]\n"
                fn = lambda t, table=dict(table): [table.get(v) for v in t]  # noqa: E731
                desc = f"Each position's output depends only on its own token: {table!r}."
            else:
                src = f"def f(tokens):\n    table = {table!r}\n    return [table.get(i) for i in range(len(tokens))]\n"
                fn = lambda t, table=dict(table): [table.get(i) for i in range(len(t))]  # noqa: E731
                desc = f"Each position's output depends only on its index: {table!r}."
            out.append(Hypothesis(name, desc, src, fn, False))
    return out


def probe_inputs(info: dict, seed: int) -> list[list]:
    """Designed first inputs: every single token, sorted and reversed runs, constant runs, then random fill."""
    vocab, n = info["vocab"], info["max_seq_len"]
    rng = random.Random(seed)
    probes = [[t] for t in vocab]
    try:
        ordered = sorted(vocab)
    except TypeError:
        ordered = list(vocab)
    probes.append((ordered * n)[:n])
    probes.append(list(reversed((ordered * n)[:n])))
    for t in vocab[:4]:
        probes.append([t] * n)
    while len(probes) < BATCH:
        k = rng.randint(2, n) if n >= 2 else 1
        probes.append([rng.choice(vocab) for _ in range(k)])
    return [list(p) for p in dict.fromkeys(tuple(p) for p in probes)][:BATCH]


def submit_prediction(call, label, description, source, confidence, note) -> AIMessage:
    return AIMessage(content=note + f". Committing to: {label}.",
                     tool_calls=[call("submit_prediction", {"label": label, "description": description,
                                                            "implementation": source, "confidence": confidence})])
