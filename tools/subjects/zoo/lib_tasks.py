"""Tasks for the programs in tracr's own `tracr/compiler/lib.py`, plus the seeds.

Each builder imports tracr inside its body so that importing this module (and
listing the zoo) never pulls in tracr or jax. Each reference is a top-level,
self-contained plain-Python function (it is submitted verbatim as a baseline
implementation), returning None exactly where the RASP program is undefined.
"""

from __future__ import annotations

from tracr_agent.tools.subjects.zoo.base import Task

# --------------------------------------------------------------------------
# Seeds
# --------------------------------------------------------------------------


def build_reverse():
    from tracr.compiler import lib
    from tracr.rasp import rasp

    return lib.make_reverse(rasp.tokens)


def ref_reverse(tokens):
    return list(reversed(tokens))


def build_sort():
    from tracr.compiler import lib
    from tracr.rasp import rasp

    return lib.make_sort(rasp.tokens, rasp.tokens, max_seq_len=5, min_key=1)


def ref_sort(tokens):
    return sorted(tokens)


def build_length():
    from tracr.compiler import lib

    return lib.make_length()


def ref_length(tokens):
    return [len(tokens)] * len(tokens)


# --------------------------------------------------------------------------
# tracr lib programs
# --------------------------------------------------------------------------


def build_hist():
    from tracr.compiler import lib

    return lib.make_hist()


def ref_hist(tokens):
    return [tokens.count(t) for t in tokens]


def build_sort_unique():
    from tracr.compiler import lib
    from tracr.rasp import rasp

    return lib.make_sort_unique(rasp.tokens, rasp.tokens)


def ref_sort_unique(tokens):
    out = []
    for i in range(len(tokens)):
        hits = [t for t in tokens if sum(1 for u in tokens if u < t) == i]
        out.append(hits[0] if hits else None)
    return out


def build_sort_freq():
    from tracr.compiler import lib

    return lib.make_sort_freq(max_seq_len=6)


def ref_sort_freq(tokens):
    order = sorted(range(len(tokens)), key=lambda i: (-tokens.count(tokens[i]), i))
    return [tokens[i] for i in order]


def build_frac_prevs():
    from tracr.compiler import lib
    from tracr.rasp import rasp

    return lib.make_frac_prevs(rasp.tokens == "x")


def ref_frac_prevs(tokens):
    out = []
    seen = 0
    for i, t in enumerate(tokens):
        if t == "x":
            seen += 1
        out.append(seen / (i + 1))
    return out


def build_pair_balance():
    from tracr.compiler import lib
    from tracr.rasp import rasp

    return lib.make_pair_balance(rasp.tokens, "(", ")")


def ref_pair_balance(tokens):
    out = []
    opens = 0
    closes = 0
    for i, t in enumerate(tokens):
        if t == "(":
            opens += 1
        elif t == ")":
            closes += 1
        out.append(opens / (i + 1) - closes / (i + 1))
    return out


def build_shuffle_dyck():
    from tracr.compiler import lib

    return lib.make_shuffle_dyck(pairs=["()"])


def ref_shuffle_dyck(tokens):
    depth = 0
    ok = True
    for t in tokens:
        if t == "(":
            depth += 1
        elif t == ")":
            depth -= 1
        if depth < 0:
            ok = False
    ok = ok and depth == 0
    return [ok] * len(tokens)


def build_shuffle_dyck2():
    from tracr.compiler import lib

    return lib.make_shuffle_dyck2()


def ref_shuffle_dyck2(tokens):
    ok = True
    for pair in ("()", "{}"):
        depth = 0
        for t in tokens:
            if t == pair[0]:
                depth += 1
            elif t == pair[1]:
                depth -= 1
            if depth < 0:
                ok = False
        if depth != 0:
            ok = False
    return [ok] * len(tokens)


def build_shift_by():
    from tracr.compiler import lib
    from tracr.rasp import rasp

    return lib.shift_by(2, rasp.tokens)


def ref_shift_by(tokens):
    return [tokens[i - 2] if i >= 2 else None for i in range(len(tokens))]


def build_detect_pattern():
    from tracr.compiler import lib
    from tracr.rasp import rasp

    return lib.detect_pattern(rasp.tokens, "abc")


def ref_detect_pattern(tokens):
    out = []
    for i in range(len(tokens)):
        if i < 2:
            out.append(None)
        else:
            out.append(tokens[i - 2] == "a" and tokens[i - 1] == "b" and tokens[i] == "c")
    return out


def build_count_less_freq():
    from tracr.compiler import lib

    return lib.make_count_less_freq(2)


def ref_count_less_freq(tokens):
    n = sum(1 for t in tokens if tokens.count(t) <= 2)
    return [n] * len(tokens)


def build_count():
    from tracr.compiler import lib
    from tracr.rasp import rasp

    return lib.make_count(rasp.tokens, "a")


def ref_count(tokens):
    return [tokens.count("a")] * len(tokens)


def build_nary_sequencemap():
    from tracr.compiler import lib
    from tracr.rasp import rasp

    return lib.make_nary_sequencemap(lambda t, i: t + i, rasp.tokens, rasp.indices)


def ref_nary_sequencemap(tokens):
    return [t + i for i, t in enumerate(tokens)]


# --------------------------------------------------------------------------
# Registry entries
# --------------------------------------------------------------------------

LIB_TASKS: list[Task] = [
    Task(
        id="reverse",
        name="Reverse",
        description=(
            "Each position i of a length-n input outputs the token at position n-1-i, "
            "so the output is the input sequence read back to front. Built from a "
            "length SOp (selector width of an all-true selector), an opposite-index "
            "map n-1-i, and a one-hot aggregate moving each token to its mirrored position."
        ),
        category="permutation",
        family="permutation",
        vocab=("a", "b", "c", "d"),
        max_seq_len=5,
        build=build_reverse,
        reference=ref_reverse,
        aliases=("sequence reversal", "reverse the sequence", "make_reverse"),
        origin="seed",
    ),
    Task(
        id="sort",
        name="Sort",
        description=(
            "Outputs the input tokens sorted in ascending order (duplicates kept). "
            "Implemented as tracr's make_sort: each token gets the unique key "
            "token + i/max_seq_len, the number of strictly smaller keys gives its target "
            "position, and an aggregate moves each token to that position."
        ),
        category="permutation",
        family="permutation",
        vocab=(1, 2, 3, 4),
        max_seq_len=5,
        build=build_sort,
        reference=ref_sort,
        aliases=("sorting", "sort ascending", "ascending sort", "make_sort"),
        origin="seed",
    ),
    Task(
        id="length",
        name="Length",
        description=(
            "Every position outputs n, the length of the input sequence, computed as "
            "the selector width of an all-true selector."
        ),
        category="counting",
        family="counting",
        vocab=("a", "b", "c"),
        max_seq_len=6,
        build=build_length,
        reference=ref_length,
        aliases=("length of the sequence", "input length broadcast", "make_length"),
        origin="seed",
    ),
    Task(
        id="hist",
        name="Token histogram",
        description=(
            "Each position outputs how many times its own token occurs in the whole "
            "input (the selector width of a token-equality selector)."
        ),
        category="counting",
        family="counting",
        vocab=("a", "b", "c"),
        max_seq_len=6,
        build=build_hist,
        reference=ref_hist,
        aliases=("histogram count", "token occurrence count", "make_hist"),
        origin="tracr-lib",
    ),
    Task(
        id="sort_unique",
        name="Sort unique",
        description=(
            "Sorts tokens ascending assuming all tokens are distinct: each token's "
            "target position is the number of strictly smaller tokens, and position i "
            "takes the token whose target is i. With duplicate tokens the duplicates "
            "share one target position, so later positions that no token targets are "
            "undefined (None)."
        ),
        category="permutation",
        family="permutation",
        vocab=(1, 2, 3, 4),
        max_seq_len=5,
        build=build_sort_unique,
        reference=ref_sort_unique,
        aliases=("sort unique keys", "unique sort", "make_sort_unique"),
        origin="tracr-lib",
    ),
    Task(
        id="sort_freq",
        name="Sort by frequency",
        description=(
            "Outputs the tokens ordered by decreasing frequency in the input; tokens "
            "with equal frequency keep their original relative order. Implemented "
            "as a sort keyed on minus the histogram count, with ties broken by position."
        ),
        category="permutation",
        family="permutation",
        vocab=("a", "b", "c"),
        max_seq_len=6,
        build=build_sort_freq,
        reference=ref_sort_freq,
        aliases=("frequency sort", "sort by frequency", "make_sort_freq"),
        origin="tracr-lib",
    ),
    Task(
        id="frac_prevs",
        name="Fraction of previous",
        description=(
            "Numerical output: position i outputs the fraction of positions 0..i "
            "(inclusive) whose token is 'x', i.e. a causal mean of the indicator token=='x'."
        ),
        category="numerical",
        family="aggregation",
        vocab=("x", "y", "z"),
        max_seq_len=6,
        build=build_frac_prevs,
        reference=ref_frac_prevs,
        output="numerical",
        aliases=("fraction of previous tokens", "frac prevs", "make_frac_prevs", "prefix fraction"),
        origin="tracr-lib",
    ),
    Task(
        id="pair_balance",
        name="Pair balance",
        description=(
            "Numerical output: position i outputs (number of '(' in positions 0..i minus "
            "number of ')' in positions 0..i) divided by i+1, computed as the difference "
            "of two causal-mean fractions."
        ),
        category="dyck",
        family="aggregation",
        vocab=("(", ")", "x"),
        max_seq_len=6,
        build=build_pair_balance,
        reference=ref_pair_balance,
        output="numerical",
        aliases=("parenthesis balance", "bracket balance", "make_pair_balance"),
        origin="tracr-lib",
    ),
    Task(
        id="shuffle_dyck",
        name="Shuffle-Dyck-1",
        description=(
            "Every position outputs True iff the parentheses '(' ')' in the input are "
            "balanced: the running balance never goes negative and ends at zero (other "
            "tokens are ignored). Otherwise every position outputs False."
        ),
        category="dyck",
        family="predicate",
        vocab=("(", ")", "x"),
        max_seq_len=6,
        build=build_shuffle_dyck,
        reference=ref_shuffle_dyck,
        aliases=("dyck-1", "dyck1", "balanced parentheses", "shuffle dyck 1", "make_shuffle_dyck"),
        origin="tracr-lib",
    ),
    Task(
        id="shuffle_dyck2",
        name="Shuffle-Dyck-2",
        description=(
            "Every position outputs True iff both bracket types '()' and '{}' are each "
            "balanced independently (shuffle-Dyck: the running balance of each type never "
            "goes negative and each ends at zero; interleavings like '({)}' are allowed). "
            "Otherwise every position outputs False."
        ),
        category="dyck",
        family="predicate",
        vocab=("(", ")", "{", "}"),
        max_seq_len=6,
        build=build_shuffle_dyck2,
        reference=ref_shuffle_dyck2,
        aliases=("dyck-2", "shuffle dyck 2", "two bracket types balanced", "make_shuffle_dyck2"),
        origin="tracr-lib",
    ),
    Task(
        id="shift_by",
        name="Shift by two",
        description=(
            "Shifts the sequence right by 2: position i outputs the token at position "
            "i-2; the first two positions are undefined (None)."
        ),
        category="permutation",
        family="permutation",
        vocab=("a", "b", "c", "d"),
        max_seq_len=5,
        build=build_shift_by,
        reference=ref_shift_by,
        aliases=("shift right by two", "shift by 2", "offset by two"),
        origin="tracr-lib",
    ),
    Task(
        id="detect_pattern",
        name="Detect pattern",
        description=(
            "Position i outputs True iff the three tokens ending at i spell the pattern "
            "'a','b','c' (tokens[i-2:i+1] == abc), else False; the first two positions "
            "are undefined (None). Built from token equality checks shifted by 1 and 2 and "
            "combined with logical and."
        ),
        category="pattern",
        family="pattern",
        vocab=("a", "b", "c"),
        max_seq_len=6,
        build=build_detect_pattern,
        reference=ref_detect_pattern,
        aliases=("pattern detection", "detect abc", "abc detector"),
        origin="tracr-lib",
    ),
    Task(
        id="count_less_freq",
        name="Count less frequent",
        description=(
            "Every position outputs the number of positions whose token occurs at most 2 "
            "times in the input (histogram value <= 2), computed as the selector width "
            "over histogram values."
        ),
        category="counting",
        family="counting",
        vocab=("a", "b", "c"),
        max_seq_len=6,
        build=build_count_less_freq,
        reference=ref_count_less_freq,
        aliases=("count less frequent", "count rare tokens", "make_count_less_freq"),
        origin="tracr-lib",
    ),
    Task(
        id="count",
        name="Count of token a",
        description=(
            "Every position outputs the number of occurrences of the token 'a' in the "
            "whole input (selector width of a selector matching keys equal to 'a')."
        ),
        category="counting",
        family="counting",
        vocab=("a", "b", "c"),
        max_seq_len=6,
        build=build_count,
        reference=ref_count,
        aliases=("count of a token", "token count broadcast", "make_count", "count occurrences"),
        origin="tracr-lib",
    ),
    Task(
        id="nary_sequencemap",
        name="N-ary sequence map",
        description=(
            "Elementwise: position i outputs token_i + i (integer token plus its index), "
            "built with tracr's make_nary_sequencemap, which packs (token, index) into a "
            "tuple SOp with a SequenceMap and then applies a Map."
        ),
        category="elementwise",
        family="elementwise map",
        vocab=(0, 1, 2, 3),
        max_seq_len=5,
        build=build_nary_sequencemap,
        reference=ref_nary_sequencemap,
        aliases=("nary sequence map", "token plus index", "make_nary_sequencemap"),
        origin="tracr-lib",
    ),
]
