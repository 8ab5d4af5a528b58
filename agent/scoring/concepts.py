"""What each zoo task is, in concepts: the forms a label may take, and the qualifiers true of it.

A `Spec` has `forms` (each a set of concepts that together name the task: `sort`, or `count` +
`each_token` for the histogram) and `allows` (qualifiers that are true of the task and may
appear: `ascending` and `stable` for sort). A label names the task when its reading contains
every concept of one form and no concept outside the forms, the allowed qualifiers and NEUTRAL:
any other concept is a claim the task contradicts ("descending" for an ascending sort, "left" for
a right shift, "except" anywhere, a literal token the task does not single out). Concepts come
from agent/scoring/lexicon.py; `lit:TOKEN` concepts only count when TOKEN is in the task's
vocabulary, and number concepts only for a task whose spec names a number.

FAMILY_CONCEPTS says which concepts name each family (zoo `Task.family`), for family credit.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Spec:
    forms: tuple[frozenset, ...]
    allows: frozenset = frozenset()


def spec(*forms: str, allows: str = "") -> Spec:
    """spec("sort", "order+check", allows="ascending stable"): forms joined by +, qualifiers by spaces."""
    return Spec(tuple(frozenset(f.split("+")) for f in forms), frozenset(allows.split()))


NEUTRAL = frozenset({"token", "all"})
"""Concepts every task tolerates: "the tokens", "all of the input"."""

_MOVE = "copy permutation index"  # how any permutation may be described: it moves (copies) tokens by index
_GLOBAL = "broadcast token"
_FLAG = "check flag"

SPECS: dict[str, Spec] = {
    # permutations
    "reverse": spec("reverse", allows=_MOVE),
    "sort": spec("sort", allows=f"ascending stable {_MOVE}"),
    "sort_descending": spec("sort+descending", "sort+reverse", allows=f"stable {_MOVE}"),
    "sort_unique": spec("sort+unique", allows=f"ascending {_MOVE}"),
    "sort_freq": spec("sort+frequency", "sort+count", "sort+histogram", "sort+occurrence",
                      allows=f"descending stable {_MOVE}"),
    "shift_by": spec("shift+two", "previous+two", "copy+two+previous", allows=f"right {_MOVE}"),
    "prev_token": spec("previous", "shift+right", allows=f"one {_MOVE}"),
    "next_token": spec("next", "shift+left", allows=f"one {_MOVE}"),
    "swap_pairs": spec("swap", allows=f"pair adjacent one {_MOVE}"),
    "rotate_left": spec("rotate", allows=f"left one shift {_MOVE}"),
    # counting
    "length": spec("length", "count+token", allows=_GLOBAL),
    "hist": spec("histogram", "count+each_token", "frequency+each_token", "occurrence+each_token",
                 "frequency+token", "count+occurrence+token", "count+equal", "count+equal+each_token",
                 allows="occurrence"),
    "count": spec("count+lit:a", "occurrence+lit:a", "frequency+lit:a", allows=f"occurrence {_GLOBAL}"),
    "count_less_freq": spec("count+rare", allows=f"frequency occurrence histogram two {_GLOBAL}"),
    "rank_smaller": spec("rank", "count+less", "sort+index", allows="each_token"),
    "running_count": spec("running+count", "previous+count", allows="lit:a occurrence"),
    "distinct_count": spec("count+unique", allows=_GLOBAL),
    # aggregation
    "max_broadcast": spec("max", allows=_GLOBAL),
    "min_broadcast": spec("min", allows=_GLOBAL),
    "first_token": spec("first", allows=f"copy {_GLOBAL}"),
    "last_token": spec("last", allows=f"copy {_GLOBAL}"),
    "running_max": spec("running+max", allows="previous"),
    "mean_tokens": spec("mean", allows=_GLOBAL),
    "running_mean": spec("running+mean", "previous+mean", allows=""),
    "frac_token": spec("fraction+lit:a", "fraction+token", "mean+lit:a", "frequency+lit:a+fraction",
                       allows=f"count occurrence {_GLOBAL}"),
    "frac_prevs": spec("fraction+running", "fraction+previous", "running+mean+lit:x", allows="lit:x count"),
    "pair_balance": spec("balance", "paren+difference", allows="paren running previous fraction mean"),
    # elementwise maps
    "identity_map": spec("identity", "copy", allows="elementwise each_token"),
    "increment_map": spec("increment", "plus+one", allows="elementwise each_token"),
    "parity_map": spec("parity", "mod+two", allows="elementwise each_token check"),
    "nary_sequencemap": spec("plus+index", allows="elementwise each_token"),
    # predicates
    "shuffle_dyck": spec("balanced", "dyck", allows=f"paren one {_FLAG} {_GLOBAL}"),
    "shuffle_dyck2": spec("balanced+two", "dyck+two", "balanced+braces", "balanced+paren+braces",
                          allows=f"paren braces {_FLAG} {_GLOBAL}"),
    "contains_token": spec("contains", allows=f"lit:a occurrence {_FLAG} {_GLOBAL}"),
    "palindrome_check": spec("palindrome", allows=f"{_FLAG} {_GLOBAL}"),
    "all_equal": spec("all+equal", "constant", allows=f"{_FLAG} {_GLOBAL}"),
    "is_sorted": spec("sort+check", "ascending+check", allows=f"ascending flag {_GLOBAL}"),
    # patterns
    "detect_pattern": spec("pattern", "check+abc", "abc", allows=f"{_FLAG} adjacent occurrence"),
    "equals_first": spec("equal+first", allows=f"{_FLAG} each_token"),
    "first_occurrence": spec("novel", "first+occurrence", allows=f"{_FLAG} occurrence previous each_token"),
    "repeat_flag": spec("repeat", "equal+previous", "duplicate+adjacent", "equal+adjacent",
                        allows=f"{_FLAG} previous adjacent one"),
}

FAMILY_CONCEPTS: dict[str, frozenset] = {
    "permutation": frozenset({"permutation", "sort", "reverse", "shift", "rotate", "swap", "gather"}),
    "aggregation": frozenset({"mean", "max", "min", "broadcast", "fraction"}),
    "counting": frozenset({"count", "histogram", "length", "rank"}),
    "elementwise map": frozenset({"elementwise", "identity", "increment", "parity"}),
    "predicate": frozenset({"check", "balanced", "palindrome", "contains"}),
    "pattern": frozenset({"pattern", "flag", "repeat", "novel", "abc"}),
}
"""Concepts that name a family outright (a label naming one earns family credit)."""

ARITHMETIC = frozenset({"plus", "mod", "difference", "increment", "parity", "identity", "arith"})
"""Arithmetic on values: names an elementwise map only when nothing in the label mixes positions
("(token + 3) mod 5" is a map; "count of a, mod 3" is a count)."""

PARENT_WORDS = ("aggregation", "aggregate", "reduction", "reduce")
"""A parent family (counting is also an aggregation) is credited for its broad name only: "an
aggregation" for length is right, "the maximum" is not."""
