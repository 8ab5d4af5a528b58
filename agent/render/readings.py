"""What a tool call read, as parts people's views draw: `result_parts(name, args, text, is_error)`.

The one entry point of the HTML viewer, `export --format html`, the live view, `replay` and the lab. A
result in a machine-readable form (get_activations with `format: "json"`) is read through the protocol's
parser and drawn from its numbers: each (input, hook) becomes a matrix with labelled axes — attention
patterns query × key, the residual stream position × variable (or × dimension when unlabelled), other
hooks position × non-zero column. Any other result is read from its text (`parse.parse_result`). A tool
whose payload holds matrices declares them in `PAYLOAD_PICTURES`; nothing else changes for it.

Also here, shared by every view: tool arguments in one compact line (`compact_args`), a JSON text laid
out one value per line so it can be cut like text (`readable_json`), and that cut (`cut_lines`).
"""

from __future__ import annotations

import itertools
import json
from typing import Any, Callable, Iterator, Optional

from tracr_agent.agent.render import parse as P
from tracr_agent.tools.protocol import activations
from tracr_agent.tools.protocol.hooks import hook_kind
from tracr_agent.tools.protocol.raw import all_raw

BOS = "BOS"
"""Position 0's label: every compiled subject prepends its BOS token there."""


def _positions(tokens: list) -> list[str]:
    return [f"0 {BOS}"] + [f"{p} {t}" for p, t in enumerate(tokens, 1)]


def _dense_rows(sparse_rows: list, width: Optional[int] = None) -> tuple[list[int], list[list[float]]]:
    """Rows of [[index, value], …] (or plain numbers) -> (the columns non-zero somewhere, or all `width` of
    them; the rows)."""
    sparse_rows = [activations.entries(row) for row in sparse_rows]
    cols = list(range(width)) if width is not None else sorted({j for row in sparse_rows for j, _ in row})
    at = {j: k for k, j in enumerate(cols)}
    values = [[0.0] * len(cols) for _ in sparse_rows]
    for r, row in enumerate(sparse_rows):
        for j, v in row:
            if j in at:
                values[r][at[j]] = float(v)
    return cols, values


def _var_cell(entries: Optional[list[tuple[str, float]]], numeric: bool) -> str:
    """One variable's value at one position: a categorical one names its one-hot value ('-': none);
    anything else (a partial write, a numerical variable) shows its numbers."""
    if not entries:
        return "0" if numeric else "-"
    if numeric:
        return f"{entries[0][1]:g}"
    if len(entries) == 1 and entries[0][1] == 1:
        return entries[0][0]
    return " ".join(f"{name}:{v:g}" for name, v in entries)


class Basis:
    """A residual basis' labels, read once per reply: for each dimension its variable and value
    (`name:value`; a numerical variable is a label without a value), or raw (d0 … dN: no variables)."""

    def __init__(self, labels: list[str]):
        self.labels = labels
        self.raw = not labels or all_raw(labels)
        self.dims = [(name, value or name) for name, _, value in (label.partition(":") for label in labels)]
        self.numerical: dict[str, bool] = {}
        for label in labels:
            name, sep, _ = label.partition(":")
            self.numerical.setdefault(name, not sep)


def residual_table(title: str, rows: list[str], sparse_rows: list, basis: Basis) -> P.Part:
    """A residual-basis read: with variable labels, one column per variable written anywhere (its value per
    position); with raw dimensions (d0 … dN), a heatmap of the non-zero ones."""
    if basis.raw:
        cols, values = _dense_rows(sparse_rows)
        names = [basis.labels[j] if j < len(basis.labels) else f"d{j}" for j in cols]
        return P.Matrix(title, "pos", rows, names, values, kind="residual")
    dims, n_dims = basis.dims, len(basis.dims)
    per_row: list[dict[str, list]] = []
    seen: set[str] = set()
    for row in sparse_rows:
        found: dict[str, list] = {}
        for j, v in activations.entries(row):
            name, value = dims[j] if j < n_dims else (f"d{j}", f"d{j}")
            if name in found:
                found[name].append((value, v))
            else:
                found[name] = [(value, v)]
        seen.update(found)
        per_row.append(found)
    written = [n for n in basis.numerical if n in seen]
    cells = [[_var_cell(f.get(n), basis.numerical[n]) for n in written] for f in per_row]
    return P.VarTable(title, rows, written, cells)


def _hook_pictures(hook: str, act: list, tokens: list, basis: Basis, head: Optional[int],
                   positions: Optional[list[int]] = None) -> Iterator[P.Part]:
    """`positions`: the rows read (an attention table's queries), when not every position was."""
    keys = _positions(tokens)
    rows = keys if positions is None else [keys[p] for p in positions]
    on = f"on {' '.join(map(str, tokens))}"
    kind = hook_kind(hook)
    if kind == "head_table":  # [heads][queries] of sparse keys
        weights = hook.endswith("hook_pattern")
        for h, queries in enumerate(act):
            yield P.Matrix(f"{hook} · head {head if head is not None else h} {on}", "query\\key", rows, keys,
                           _dense_rows(queries, len(keys))[1], scale=1.0 if weights else None)
    elif kind == "resid":
        yield residual_table(f"{hook} {on}", rows, act, basis)
    elif kind == "per_head":  # [positions][heads] of sparse dims
        for h in range(max((len(p) for p in act), default=0)):
            cols, values = _dense_rows([p[h] for p in act])
            yield P.Matrix(f"{hook} · head {head if head is not None else h} {on}", "pos", rows,
                           [f"d{j}" for j in cols], values)
    else:  # mlp neurons, logits: [positions] of sparse columns
        cols, values = _dense_rows(act)
        prefix = "out" if kind == "logits" else "n"
        yield P.Matrix(f"{hook} {on}", "pos", rows, [f"{prefix}{j}" for j in cols], values)


def _count(hook: str, act: list) -> int:
    """How many pictures `_hook_pictures` makes of one activation, without making them."""
    kind = hook_kind(hook)
    if kind == "head_table":
        return len(act)
    if kind == "per_head":
        return max((len(p) for p in act), default=0)
    return 1


def activation_pictures(args: Any, text: str, limit: Optional[int] = None) -> Optional[list[P.Part]]:
    """get_activations' json reply: one picture per input × hook (× head), at most `limit` of them (an
    `Omitted` part counts the rest); None for its text form."""
    if not isinstance(args, dict) or args.get("format") != "json":
        return None
    data = activations.payload(text)
    basis = Basis(data.get("residual_labels") or [])
    head = args.get("head") if isinstance(args.get("head"), int) else None
    every = ((entry, hook, act) for entry in data["inputs"] for hook, act in entry["acts"].items())
    pictures = itertools.chain.from_iterable(_hook_pictures(hook, act, entry["input"], basis, head,
                                                            entry.get("positions"))
                                             for entry, hook, act in every)
    parts = list(itertools.islice(pictures, limit))
    if limit is not None and len(parts) == limit:
        total = sum(_count(hook, act) for entry in data["inputs"] for hook, act in entry["acts"].items())
        if total > limit:
            parts.append(P.Omitted(total - limit))
    return parts


PAYLOAD_PICTURES: dict[str, Callable[..., Optional[list[P.Part]]]] = {
    "get_activations": activation_pictures,
}
"""Tool name -> (arguments, result text, limit) -> its pictures (at most `limit`, then an `Omitted`), for
results in a machine-readable form (None: the call's text form, read by parse.parse_result). A tool whose
payload holds matrices adds itself here."""


TEXT_PICTURES = {"component_writes": "writes", "project": "projection"}
"""Tool name -> the kind of the pictures read from its text, where the shape alone would say less (a
`cluster` table is a component's distinct writes; `project`'s coordinates and its reading by direction)."""


def _named(parts: list[P.Part], kind: Optional[str]) -> list[P.Part]:
    """The parts, their matrices and decode tables marked as `kind`'s pictures (None: as they are)."""
    if kind is not None:
        for part in parts:
            if isinstance(part, P.Matrix) and not part.kind:
                part.kind = kind
            elif isinstance(part, P.VarTable):
                part.picture = kind
    return parts


def result_parts(name: str, args: Any, text: str, is_error: bool = False,
                 limit: Optional[int] = None) -> list[P.Part]:
    """What one tool result shows: pictures where it has any (at most `limit`, an `Omitted` part counting
    the rest), text elsewhere (an error is text)."""
    if is_error:
        return [P.Lines(text)]
    read = PAYLOAD_PICTURES.get(name)
    if read is not None:
        try:
            parts = read(args, text, limit)
        except (ValueError, KeyError, TypeError, IndexError, AttributeError):  # not the form it declares: text
            parts = None
        if parts is not None:
            return parts
    return limited(_named(P.parse_result(text), TEXT_PICTURES.get(name)), limit)


def limited(parts: list[P.Part], limit: Optional[int]) -> list[P.Part]:
    """The parts with at most `limit` pictures, an `Omitted` part counting the others."""
    if limit is None:
        return parts
    out, drawn, left = [], 0, 0
    for part in parts:
        if part.picture is not None and drawn >= limit:
            left += 1
            continue
        drawn += part.picture is not None
        out.append(part)
    return out + ([P.Omitted(left)] if left else [])


def prompt_parts(text: str) -> list[P.Part]:
    """A prompt's pictures — a static condition's dump of hooks (and its input/output pairs) — or [] for a
    prompt that holds no table."""
    parts = P.parse_result(text)
    return parts if any(isinstance(p, (P.Matrix, P.VarTable)) for p in parts) else []


def pictures_only(parts: list[P.Part]) -> list[P.Part]:
    return [p for p in parts if p.picture is not None]


# -- text for people: arguments, JSON, cutting ---------------------------------------------------


def _is_tokens(v) -> bool:
    return isinstance(v, list) and all(isinstance(x, (str, int, float, bool)) or x is None for x in v)


def _tokens(v: list) -> str:
    return "[" + " ".join("-" if x is None else str(x) for x in v) + "]"


def _value(v, width: int) -> str:
    if isinstance(v, str):
        return v if len(v) <= width else v[:width - 1] + "…"
    if _is_tokens(v) and v and isinstance(v[0], str):
        return _tokens(v)
    if isinstance(v, list) and v and all(_is_tokens(x) for x in v):
        shown = [_tokens(x) for x in v[:4]]
        more = f" +{len(v) - 4} more" if len(v) > 4 else ""
        return f"{len(v)} input{'s' if len(v) > 1 else ''}: " + " ".join(shown) + more
    line = json.dumps(v, ensure_ascii=False)
    return line if len(line) <= width else line[:width - 1] + "…"


def compact_args(name: str, args: Any, width: int = 80) -> str:
    """A call's arguments in one line: `key=value`, token lists as `[a b c]`, a batch of inputs counted,
    long strings cut ('…'); submit_prediction's implementation by its length (it is shown in full below)."""
    if not isinstance(args, dict):
        text = args if isinstance(args, str) else json.dumps(args, ensure_ascii=False)
        return text if len(text) <= width else text[:width - 1] + "…"
    parts = []
    for k, v in args.items():
        if name == "submit_prediction" and k == "implementation" and isinstance(v, str):
            parts.append(f"implementation=({len(v.splitlines())} lines)")
        else:
            parts.append(f"{k}={_value(v, width)}")
    return " ".join(parts)


def readable_json(text: str, width: int = 100) -> Optional[str]:
    """A JSON text laid out for reading — a value on one line when it fits in `width`, else one line per
    member — or None when the text is not JSON."""
    stripped = text.strip()
    if not stripped.startswith(("{", "[")):
        return None
    try:
        value = json.loads(stripped)
    except ValueError:
        return None
    return "\n".join(_layout(value, 0, width))


def _layout(value, indent: int, width: int, key: str = "") -> list[str]:
    pad = " " * indent
    line = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if len(pad) + len(key) + len(line) <= width or not isinstance(value, (dict, list)) or not value:
        return [pad + key + line]
    open_, close = ("{", "}") if isinstance(value, dict) else ("[", "]")
    items = list(value.items()) if isinstance(value, dict) else [(None, v) for v in value]
    out = [pad + key + open_]
    for i, (k, v) in enumerate(items):
        inner = _layout(v, indent + 1, width, "" if k is None else json.dumps(k, ensure_ascii=False) + ":")
        if i < len(items) - 1:
            inner[-1] += ","
        out += inner
    return out + [pad + close]


def cut_lines(text: str, keep: int) -> tuple[str, int]:
    """(the first `keep` lines, how many more there are)."""
    lines = text.splitlines()
    if len(lines) <= keep:
        return text, 0
    return "\n".join(lines[:keep]), len(lines) - keep


def readable_text(text: str) -> str:
    """A result as a person reads it: JSON laid out one value per line, any other text as it is."""
    return readable_json(text) or text
