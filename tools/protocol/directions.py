"""component_writes' and project's formats, each beside its parser: what a component writes into the
residual stream as distinct points of a subspace, and activations projected onto such a subspace or a
probe's directions.

component_writes:

    component_writes of head 1.0 (blocks.1.attn.hook_z @ W_O) at every token position of 300 inputs (a fixed sample of the domain): 1049 vectors
    rank of the subspace they span: 3 of 43 dims (singular values relative to the largest: 1, 0.707, 0.5, 0)
    distinct writes: 4 (writes within 5% of the largest write's norm of each other are one); 120 vectors write nothing
    cluster   c1     c2     c3
    w1 (412)  1.414  0      0
    …
    w1: 412 vectors (39.3%), norm 1.414; shared: token="a"; e.g. ["a", "b"]@1 | ["c", "a"]@2
    w1 decoded: v3=a

project:

    project blocks.3.hook_resid_post for input ["a", "b"] onto the write subspace of head 1.0 (3 directions, from its writes on 300 inputs)
    pos    c1     c2     c3
    0 BOS  0      0      0
    …
    nearest write of head 1.0 at each position ('-': nothing in its subspace; '?': none of its writes; …), decoded by direction:
    0 BOS  1.0=-
    1 a    1.0=w2

The tables are the usual shapes people's views draw (agent/render/parse.py): a numeric table under a
`cluster` or `pos` corner is a heatmap, `LABEL  name=value` lines after a "decoded by" header a decode.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Optional

from tracr_agent.tools.protocol.values import fmt_num, fmt_seq, fmt_tok, parse_item, parse_seq, parse_value, table

MAX_COLUMNS = 12
"""Directions shown as columns of a table: beyond this the table would not be read anyway."""


def _numbers_table(lines: list[str], i: int, corner: str) -> tuple[list[str], list[str], list[list[float]], int]:
    """(columns, row labels, rows, next line) of a table written by `values.table` starting at line i."""
    cols = lines[i][len(corner):].split()
    labels, rows = [], []
    j = i + 1
    while j < len(lines):
        parts = lines[j].split()
        if len(parts) <= len(cols):
            break
        try:
            values = [float(p) for p in parts[-len(cols):]]
        except ValueError:
            break
        labels.append(lines[j].rsplit(None, len(cols))[0].strip())
        rows.append(values)
        j += 1
    return cols, labels, rows, j


# -- component_writes ---------------------------------------------------------------------------------


def same_write(rank: int) -> str:
    """When two writes are one distinct write, in words (tools/suite/writes.py `write_tolerance`)."""
    return ("writes within 0.001 of each other are one" if rank == 1
            else "writes within 5% of the largest write's norm of each other are one")



@dataclass
class Cluster:
    """One distinct write: how often, where it sits (coordinates on the subspace's directions), and the
    inputs that produce it."""

    name: str
    count: int
    share: float
    norm: float
    coords: list[float]
    shared: list[tuple[str, object]] = field(default_factory=list)
    """What every (input, position) of the cluster has in common: ('token', t), ('position', p), ('n', tokens)."""
    examples: list[tuple[list, int]] = field(default_factory=list)
    """(input, position) pairs that produce it."""
    decoded: str = ""
    """The write read in the residual basis (`v3=a`, or a few raw dims), when it says something."""


@dataclass
class Writes:
    component: str
    """'head 1.0' or 'MLP 2'."""
    source: str
    """What the vectors are: 'blocks.1.attn.hook_z @ W_O', 'blocks.2.hook_mlp_out'."""
    where: str
    """'every token position', 'positions 0, 1'."""
    inputs: str
    """'300 inputs (a fixed sample of the domain)' or '3 inputs'."""
    n_vectors: int
    d_model: int
    singular: list[float]
    """Singular values relative to the largest, the largest first (a few past the rank)."""
    rank: int
    zero: int
    """Vectors that write nothing."""
    clusters: list[Cluster]
    more: int = 0
    """Clusters beyond those listed."""
    more_vectors: int = 0


def writes_text(w: Writes) -> str:
    lines = [f"component_writes of {w.component} ({w.source}) at {w.where} of {w.inputs}: {w.n_vectors} vectors",
             f"rank of the subspace they span: {w.rank} of {w.d_model} dims (singular values relative to the largest: "
             + (", ".join(fmt_num(s) for s in w.singular) or "none") + ")"]
    n = len(w.clusters) + w.more
    lines.append(f"distinct writes: {n} ({same_write(w.rank)}); {w.zero} vectors write nothing")
    if not w.clusters:
        return "\n".join(lines)
    dims = min(w.rank, MAX_COLUMNS, len(w.clusters[0].coords))
    if dims:
        if dims < w.rank:
            lines.append(f"coordinates on the first {dims} of its {w.rank} directions:")
        lines.append(table([f"{c.name} ({c.count})" for c in w.clusters], [f"c{j + 1}" for j in range(dims)],
                           [c.coords[:dims] for c in w.clusters], corner="cluster"))
    for c in w.clusters:
        shared = ", ".join(f"{k}={fmt_tok(v)}" for k, v in c.shared) or "-"
        examples = " | ".join(f"{fmt_seq(x)}@{p}" for x, p in c.examples)
        lines.append(f"{c.name}: {c.count} vectors ({100 * c.share:.1f}%), norm {fmt_num(c.norm)}; shared: {shared}; "
                     f"e.g. {examples}")
        if c.decoded:
            lines.append(f"{c.name} decoded: {c.decoded}")
    if w.more:
        lines.append(f"(+{w.more} more distinct writes, {w.more_vectors} vectors in all)")
    return "\n".join(lines)


_WRITES_HEAD = re.compile(r"^component_writes of (.+?) \((.+?)\) at (.+?) of (.+): (\d+) vectors$")
_RANK = re.compile(r"^rank of the subspace they span: (\d+) of (\d+) dims \(singular values relative to the "
                   r"largest: (.*)\)$")
_DISTINCT = re.compile(r"^distinct writes: (\d+) \(.*\); (\d+) vectors write nothing$")
_CLUSTER = re.compile(r"^(w\d+): (\d+) vectors \(([\d.]+)%\), norm (\S+); shared: (.*?); e\.g\. (.*)$")
_DECODED = re.compile(r"^(w\d+) decoded: (.*)$")
_MORE = re.compile(r"^\(\+(\d+) more distinct writes, (\d+) vectors in all\)$")


def _shared(text: str) -> list[tuple[str, object]]:
    if text == "-":
        return []
    return [(k, parse_item(v)) for k, v in (pair.split("=", 1) for pair in text.split(", "))]


def _examples(text: str) -> list[tuple[list, int]]:
    out = []
    for part in text.split(" | "):
        seq, _, pos = part.rpartition("@")
        out.append((parse_seq(seq.strip()[1:-1]), int(pos)))
    return out


def parse_writes(text: str) -> Optional[Writes]:
    """The Writes a component_writes output states, or None for a text that is not one."""
    lines = text.splitlines()
    if len(lines) < 3:
        return None
    head, rank, distinct = _WRITES_HEAD.match(lines[0]), _RANK.match(lines[1]), _DISTINCT.match(lines[2])
    if not (head and rank and distinct):
        return None
    singular = [float(s) for s in rank.group(3).split(", ")] if rank.group(3) != "none" else []
    w = Writes(head.group(1), head.group(2), head.group(3), head.group(4), int(head.group(5)), int(rank.group(2)),
               singular, int(rank.group(1)), int(distinct.group(2)), [])
    coords: dict[str, list[float]] = {}
    i = 3
    if i < len(lines) and lines[i].startswith("coordinates on the first"):
        i += 1
    if i < len(lines) and lines[i].startswith("cluster "):
        _, labels, rows, i = _numbers_table(lines, i, "cluster")
        coords = {label.split()[0]: row for label, row in zip(labels, rows)}
    for line in lines[i:]:
        m = _CLUSTER.match(line)
        if m:
            w.clusters.append(Cluster(m.group(1), int(m.group(2)), round(float(m.group(3)) / 100, 3), float(m.group(4)),
                                      coords.get(m.group(1), []), _shared(m.group(5)), _examples(m.group(6))))
        elif _DECODED.match(line) and w.clusters:
            w.clusters[-1].decoded = _DECODED.match(line).group(2)
        elif _MORE.match(line):
            w.more, w.more_vectors = (int(g) for g in _MORE.match(line).groups())
    return w


def writes_payload(text: str) -> Optional[dict]:
    """component_writes' payload: the Writes as a dict (tools/protocol/payloads.py)."""
    import dataclasses

    w = parse_writes(text)
    return None if w is None else dataclasses.asdict(w)


# -- project ------------------------------------------------------------------------------------------


@dataclass
class Projection:
    hook: str
    input: list
    onto: str
    """'the write subspace of head 1.0 (3 directions, from its writes on 300 inputs)', or a probe's."""
    columns: list[str]
    """c1, c2, … (a write subspace's directions) or the probe's values (or `value`)."""
    positions: list[str]
    """'0 BOS', '1 a', …"""
    coords: list[list[float]]
    """[position][column]."""
    name: str
    """What the decode calls the reading: the component ('1.0', '2.mlp') or 'probe'."""
    decoded: list[str]
    """Per position: the nearest write (w1, …), the probe's value, '-' (nothing there) or '?' (none near)."""
    legend: str
    """The decode's header before 'decoded by direction'."""


def project_text(p: Projection) -> str:
    lines = [f"project {p.hook} for input {fmt_seq(p.input)} onto {p.onto}"]
    lines.append(table(p.positions, p.columns, p.coords, corner="pos"))
    lines.append(f"{p.legend}, decoded by direction:")
    width = max(len(label) for label in p.positions)
    lines += [f"{label.ljust(width)}  {p.name}={value}" for label, value in zip(p.positions, p.decoded)]
    return "\n".join(lines)


_PROJECT_HEAD = re.compile(r"^project (\S+) for input (\[.*?\]) onto (.+)$")
_DECODE_LINE = re.compile(r"^(\d+ +\S+) +(\S+?)=(\S+)$")


def parse_projection(text: str) -> Optional[Projection]:
    """The Projection a project output states, or None for a text that is not one."""
    lines = text.splitlines()
    m = _PROJECT_HEAD.match(lines[0]) if lines else None
    if not m or len(lines) < 3 or not lines[1].startswith("pos "):
        return None
    cols, labels, rows, i = _numbers_table(lines, 1, "pos")
    if i >= len(lines) or not lines[i].endswith(", decoded by direction:"):
        return None
    name, decoded = "", []
    for line in lines[i + 1:]:
        d = _DECODE_LINE.match(line)
        if d:
            name = d.group(2)
            decoded.append(d.group(3))
    return Projection(m.group(1), parse_seq(m.group(2)[1:-1]), m.group(3), cols, labels, rows, name, decoded,
                      lines[i][: -len(", decoded by direction:")])


def project_payload(text: str) -> Optional[dict]:
    """project's payload: the hook, input, columns, coordinates per position and the decoded value per
    position (parsed: None for '-')."""
    p = parse_projection(text)
    if p is None:
        return None
    return {"hook": p.hook, "input": p.input, "onto": p.onto, "columns": p.columns, "coords": p.coords,
            "name": p.name, "decoded": [None if v == "-" else parse_value(v) for v in p.decoded]}
