"""Residual variables: groups of residual dimensions, and their values read from activations.

In a labelled session the column labels name them (`v3:2` is value 2 of categorical v3, a bare
`v4` is numerical). Tracr's residual stream is a concatenation of one-hot blocks (categorical
variables) and single dimensions (numerical ones); a variable is written once and then kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

INPUT_VARS = ("tokens", "indices", "one")


def parse_value(s: str) -> Any:
    if s in ("True", "False"):
        return s == "True"
    try:
        return int(s)
    except ValueError:
        pass
    try:
        return float(s)
    except ValueError:
        return s


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
        return bool(np.any(np.abs(row[list(self.dims)]) > 1e-3))

    @property
    def ident(self) -> str:
        """A Python identifier for the variable."""
        return self.name.replace(".", "_").replace(":", "_")


def from_labels(labels: list[str], vocab: list) -> list[Variable]:
    """Variables named by the session's residual labels ('name:value' or a bare numerical 'name')."""
    groups: dict[str, list[tuple[int, str]]] = {}
    kinds: dict[str, str] = {}
    for i, label in enumerate(labels):
        name, sep, value = label.partition(":")
        groups.setdefault(name, []).append((i, value))
        kinds[name] = "categorical" if sep else "numerical"
    by_text = {str(t): t for t in vocab}
    out = []
    for name, dims in groups.items():
        if kinds[name] == "numerical":
            out.append(Variable(name, "numerical", (dims[0][0],)))
            continue
        conv = (lambda v: by_text.get(v, v)) if name == "tokens" else parse_value
        out.append(Variable(name, "categorical", tuple(i for i, _ in dims), tuple(conv(v) for _, v in dims)))
    return out


def read_all(variables: list[Variable], resid: np.ndarray) -> dict[str, list]:
    """{variable: [value at position 0..n]} from a residual array [positions, d_model]."""
    return {v.name: [v.read(row) for row in resid] for v in variables}


def value_set(var: Variable, seen: Optional[set] = None) -> set:
    if var.kind == "categorical":
        return set(var.values)
    return set(seen or ())
