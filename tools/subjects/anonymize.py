"""Neutral names for tracr's residual basis.

tracr labels residual dimensions with the program's own SOp names
(`reverse_1:3`, `length_5:2`, `opp_idx_4:-1`): shown raw they give the answer
away. Every SOp name becomes `vN` (numbered in order of first appearance, so
the same subject always gets the same names). The input spaces tracr always
has — `tokens`, `indices`, `one` — keep their names: they are tracr's
vocabulary, not the program's. Helper dimensions tracr adds for a selector
width (`<sop>_selector_width_attn_output`) become `<vN>.sw`.
"""

from __future__ import annotations

KEEP = ("tokens", "indices", "one")
_SW_SUFFIX = "_selector_width_attn_output"


def split_label(label: str) -> tuple[str, str | None]:
    """'reverse_1:3' -> ('reverse_1', '3'); 'frac_prevs_2' -> ('frac_prevs_2', None)."""
    name, sep, value = label.rpartition(":")
    if not sep:
        return label, None
    return name, value


def anonymize_labels(labels: list[str]) -> tuple[list[str], dict[str, str]]:
    """Returns the neutral labels (same order) and the map original SOp name -> neutral name."""
    names: dict[str, str] = {}
    pending_sw: list[str] = []
    for label in labels:
        name, _ = split_label(label)
        if name in KEEP or name in names:
            continue
        if name.endswith(_SW_SUFFIX):
            pending_sw.append(name)
            continue
        names[name] = f"v{len(names) + 1}"
    for name in pending_sw:
        base = name[: -len(_SW_SUFFIX)]
        names[name] = f"{names[base]}.sw" if base in names else f"v{len(names) + 1}"
    out = []
    for label in labels:
        name, value = split_label(label)
        new = name if name in KEEP else names[name]
        out.append(new if value is None else f"{new}:{value}")
    return out, names
