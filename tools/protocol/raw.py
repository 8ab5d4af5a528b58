"""Raw residual dimensions (`--residual raw`, imported models without labels): named `d0 … dN`, in the
model's order. The subject side names them (tools/subjects/rawview.py), the tools print them, the
leak check and the investigators recognise them: all from here."""

from __future__ import annotations

import re

RAW_DIM = re.compile(r"d\d+")
"""A raw residual dimension's name."""


def raw_dim_names(d_model: int) -> list[str]:
    return [f"d{i}" for i in range(d_model)]


def all_raw(labels) -> bool:
    """Whether a residual basis is label-free (dims d0 … dN only)."""
    return bool(labels) and all(RAW_DIM.fullmatch(label) for label in labels)
