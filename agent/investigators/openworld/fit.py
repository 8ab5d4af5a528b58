"""Observations in, checked programs out: synthesis, rendering and the check, memoized.

`fit(observations, info)` encodes the observed input -> output pairs, runs the synthesizer,
renders each candidate as Python, and keeps only those whose rendered source reproduces every
observation when run. The investigator recomputes its decisions from the history each turn,
so results are memoized per set of observations (the same history never searches twice).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Optional

from tracr_agent.agent.investigators.openworld.render import Program, check
from tracr_agent.agent.investigators.openworld.synthesis import Space, Synthesizer

SEARCH_SECONDS = 45.0
"""A safety net only: the search is bounded by work (synthesis.MAX_EVALS)."""
_MEMO: dict[str, "Fit"] = {}
_MEMO_SIZE = 64


@dataclass
class FittedProgram:
    label: str
    description: str
    source: str
    cost: int
    _fn: object = field(default=None, repr=False)

    def predict(self, x: tuple) -> Optional[list]:
        if self._fn is None:
            scope: dict = {}
            exec(compile(self.source, "<synthesized>", "exec"), scope)  # noqa: S102 - our own rendered program
            self._fn = scope["f"]
        try:
            out = self._fn(list(x))
            return list(out) if out is not None else None
        except Exception:  # noqa: BLE001 - a candidate that fails on an input predicts nothing there
            return None


@dataclass
class Fit:
    programs: list[FittedProgram]

    @property
    def best(self) -> Optional[FittedProgram]:
        return self.programs[0] if self.programs else None


def output_kind(obs: dict, numerical: bool) -> str:
    if numerical:
        return "num"
    vals = [v for y in obs.values() for v in y if v is not None]
    if any(isinstance(v, bool) for v in vals):
        return "bool"
    if any(isinstance(v, str) for v in vals):
        return "str"
    if any(isinstance(v, float) and not float(v).is_integer() for v in vals):
        return "num"
    return "int"


def fit(obs: dict, info: dict, seconds: float = SEARCH_SECONDS) -> Fit:
    """The programs (best first) that reproduce every observation; empty when none was found."""
    obs = {tuple(x): list(y) for x, y in obs.items() if len(y) == len(x)}
    if not obs:
        return Fit([])
    kind = output_kind(obs, bool(info.get("numerical")))
    key = hashlib.sha256(repr((sorted(obs.items(), key=repr), kind, info.get("max_seq_len"))).encode()).hexdigest()
    if key in _MEMO:
        return _MEMO[key]
    vocab = list(info.get("vocab") or sorted({t for x in obs for t in x}, key=repr))
    strings = [v for y in obs.values() for v in y if isinstance(v, str)]
    try:
        space = Space(list(obs), vocab, int(info.get("max_seq_len") or max(len(x) for x in obs)), strings)
        target = space.array([obs[x] for x in space.inputs], kind)
    except (ValueError, TypeError):  # outputs the encoding cannot hold (e.g. mixed kinds)
        return Fit([])
    programs = []
    for cand in Synthesizer(space, seconds=seconds).run(target, kind, want=4):
        prog = Program(space, cand.sop, kind)
        source = prog.source()
        if check(source, obs, kind == "num"):
            programs.append(FittedProgram(prog.label(), prog.description(), source, cand.sop.cost))
    result = Fit(programs)
    if len(_MEMO) >= _MEMO_SIZE:
        _MEMO.pop(next(iter(_MEMO)))
    _MEMO[key] = result
    return result


def refit(earlier: dict, everything: dict, info: dict) -> Fit:
    """The programs for everything observed, after a test on fresh inputs. When the earlier fit's best
    program also reproduces the new observations, it is a smallest program for all of them (nothing
    smaller reproduced even the earlier subset): keep it and the runners-up that agree, without a
    second, slower search over more observations. Otherwise search again on everything."""
    first = fit(earlier, info)
    if first.best is not None and len(everything) > len(earlier):
        obs = {tuple(x): list(y) for x, y in everything.items() if len(y) == len(x)}
        numerical = output_kind(obs, bool(info.get("numerical"))) == "num"
        kept = [p for p in first.programs if check(p.source, obs, numerical)]
        if kept and kept[0] is first.best:
            return Fit(kept)
    return fit(everything, info)
