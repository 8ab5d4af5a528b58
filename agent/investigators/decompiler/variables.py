"""Residual variables: groups of residual dimensions, and their values read from activations.

In a labelled session the column labels name them (`v3:2` is value 2 of categorical v3, a bare
`v4` is numerical). Tracr's residual stream is a concatenation of one-hot blocks (categorical
variables) and single dimensions (numerical ones); a variable is written once and then kept.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from tracr_agent.agent.investigators.decompiler.program import INPUT_VARS, python_name
from tracr_agent.tools.protocol.values import parse_value
from tracr_agent.tools.subjects.compare import nonzero
from tracr_agent.tools.suite.residual import parse_labels



@dataclass
class Variable:
    name: str
    kind: str  # 'categorical' | 'numerical'
    dims: tuple[int, ...]
    values: tuple = ()  # categorical: the value of each dim

    def read(self, row: np.ndarray) -> Any:
        """This variable's value in one residual vector (None: no value)."""
        if self.kind == "numerical":
            return round(float(row[self.dims[0]]), 4)
        xs = row[list(self.dims)]
        j = int(np.argmax(xs))
        return self.values[j] if xs[j] > 0.5 else None

    def written(self, row: np.ndarray) -> bool:
        return bool(np.any(nonzero(row[list(self.dims)])))

    @property
    def ident(self) -> str:
        """A Python identifier for the variable (program.python_name: no label text becomes code)."""
        return python_name(self.name)


def from_labels(labels: list[str], vocab: list) -> list[Variable]:
    """Variables named by the session's residual labels ('name:value' or a bare numerical 'name')."""
    by_text = {str(t): t for t in vocab}
    out = []
    for var in parse_labels(labels):  # the same reading of labels as the tools' own
        if var.kind == "numerical":
            out.append(Variable(var.name, "numerical", (var.dims[0][0],)))
            continue
        conv = (lambda v: by_text.get(v, v)) if var.name == "tokens" else value_of
        out.append(Variable(var.name, "categorical", tuple(i for i, _ in var.dims), tuple(conv(v) for _, v in var.dims)))
    return out


def value_of(text: str) -> Any:
    """A label's value: a number, a bool, a tuple (tracr's SequenceMap values print as "('a', 0)",
    and a rule comparing tuples generalizes where a table of their texts cannot), else the text."""
    if text.startswith("(") and text.endswith(")"):
        try:
            v = ast.literal_eval(text)
            if isinstance(v, tuple):
                return v
        except (ValueError, SyntaxError):
            pass
    return parse_value(text)


def read_all(variables: list[Variable], resid: np.ndarray) -> dict[str, list]:
    """{variable: [value at position 0..n]} from a residual array [positions, d_model]."""
    return {v.name: [v.read(row) for row in resid] for v in variables}
