"""Tasks written for the zoo in RASP (origin "zoo").

Each builder imports tracr inside its body so that importing this module never
pulls in tracr or jax. Each reference is a top-level, self-contained
plain-Python function returning None exactly where the RASP program is
undefined (a categorical Aggregate whose selector selects nothing).

Notes on tracr constraints honoured here:
- Select keys/queries must be categorical; categorical Aggregates must move a
  single value (or several equal values).
- Numerical Aggregates may only average values v with int(v) in {0, 1}; to
  average tokens 0..3 we average token/2 and double the result with a
  LinearSequenceMap.
"""

from __future__ import annotations

from tracr_agent.tools.subjects.zoo.base import Task

# --------------------------------------------------------------------------
# Elementwise
# --------------------------------------------------------------------------


def build_identity_map():
    from tracr.rasp import rasp

    return rasp.Map(lambda x: x, rasp.tokens)


def ref_identity_map(tokens):
    return list(tokens)


def build_increment_map():
    from tracr.rasp import rasp

    return rasp.Map(lambda x: x + 1, rasp.tokens)


def ref_increment_map(tokens):
    return [t + 1 for t in tokens]


def build_parity_map():
    from tracr.rasp import rasp

    return rasp.Map(lambda x: x % 2, rasp.tokens)


def ref_parity_map(tokens):
    return [t % 2 for t in tokens]


def build_equals_first():
    from tracr.rasp import rasp

    is_first = rasp.Select(rasp.indices, rasp.indices, lambda k, q: k == 0)
    first = rasp.Aggregate(is_first, rasp.tokens)
    return rasp.SequenceMap(lambda a, b: a == b, rasp.tokens, first)


def ref_equals_first(tokens):
    return [t == tokens[0] for t in tokens]


# --------------------------------------------------------------------------
# Aggregation / broadcast
# --------------------------------------------------------------------------


def build_max_broadcast():
    from tracr.rasp import rasp

    greater = rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.GT)
    n_greater = rasp.SelectorWidth(greater)
    is_top = rasp.Map(lambda w: w == 0, n_greater)
    pick = rasp.Select(is_top, rasp.indices, lambda k, q: k)
    return rasp.Aggregate(pick, rasp.tokens)


def ref_max_broadcast(tokens):
    return [max(tokens)] * len(tokens)


def build_min_broadcast():
    from tracr.rasp import rasp

    smaller = rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.LT)
    n_smaller = rasp.SelectorWidth(smaller)
    is_bottom = rasp.Map(lambda w: w == 0, n_smaller)
    pick = rasp.Select(is_bottom, rasp.indices, lambda k, q: k)
    return rasp.Aggregate(pick, rasp.tokens)


def ref_min_broadcast(tokens):
    return [min(tokens)] * len(tokens)


def build_first_token():
    from tracr.rasp import rasp

    sel = rasp.Select(rasp.indices, rasp.indices, lambda k, q: k == 0)
    return rasp.Aggregate(sel, rasp.tokens)


def ref_first_token(tokens):
    return [tokens[0]] * len(tokens)


def build_last_token():
    from tracr.rasp import rasp

    n = rasp.SelectorWidth(rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.TRUE))
    last_idx = rasp.Map(lambda x: x - 1, n)
    sel = rasp.Select(rasp.indices, last_idx, rasp.Comparison.EQ)
    return rasp.Aggregate(sel, rasp.tokens)


def ref_last_token(tokens):
    return [tokens[-1]] * len(tokens)


def build_running_max():
    from tracr.rasp import rasp

    pair = rasp.SequenceMap(lambda t, i: (t, i), rasp.tokens, rasp.indices)
    seen = []
    for v in (1, 2, 3):
        sel = rasp.Select(pair, rasp.indices, lambda k, q, v=v: k[1] <= q and k[0] >= v)
        width = rasp.SelectorWidth(sel)
        seen.append(rasp.Map(lambda w: 1 if w > 0 else 0, width))
    total = rasp.SequenceMap(lambda a, b: a + b, seen[0], seen[1])
    return rasp.SequenceMap(lambda a, b: a + b, total, seen[2])


def ref_running_max(tokens):
    out = []
    best = None
    for t in tokens:
        best = t if best is None or t > best else best
        out.append(best)
    return out


# --------------------------------------------------------------------------
# Permutations / shifts
# --------------------------------------------------------------------------


def build_prev_token():
    from tracr.rasp import rasp

    sel = rasp.Select(rasp.indices, rasp.indices, lambda k, q: k == q - 1)
    return rasp.Aggregate(sel, rasp.tokens)


def ref_prev_token(tokens):
    return [tokens[i - 1] if i >= 1 else None for i in range(len(tokens))]


def build_next_token():
    from tracr.rasp import rasp

    sel = rasp.Select(rasp.indices, rasp.indices, lambda k, q: k == q + 1)
    return rasp.Aggregate(sel, rasp.tokens)


def ref_next_token(tokens):
    n = len(tokens)
    return [tokens[i + 1] if i + 1 < n else None for i in range(n)]


def build_swap_pairs():
    from tracr.rasp import rasp

    sel = rasp.Select(rasp.indices, rasp.indices, lambda k, q: k == q ^ 1)
    return rasp.Aggregate(sel, rasp.tokens)


def ref_swap_pairs(tokens):
    n = len(tokens)
    return [tokens[i ^ 1] if (i ^ 1) < n else None for i in range(n)]


def build_rotate_left():
    from tracr.rasp import rasp

    n = rasp.SelectorWidth(rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.TRUE))
    src = rasp.SequenceMap(lambda i, m: (i + 1) % m if m > 0 else 0, rasp.indices, n)
    sel = rasp.Select(rasp.indices, src, rasp.Comparison.EQ)
    return rasp.Aggregate(sel, rasp.tokens)


def ref_rotate_left(tokens):
    return list(tokens[1:]) + list(tokens[:1])


def build_sort_descending():
    from tracr.compiler import lib
    from tracr.rasp import rasp

    neg = rasp.Map(lambda x: -x, rasp.tokens)
    return lib.make_sort(rasp.tokens, neg, max_seq_len=5, min_key=1)


def ref_sort_descending(tokens):
    return sorted(tokens, reverse=True)


# --------------------------------------------------------------------------
# Counting
# --------------------------------------------------------------------------


def build_rank_smaller():
    from tracr.rasp import rasp

    return rasp.SelectorWidth(rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.LT))


def ref_rank_smaller(tokens):
    return [sum(1 for u in tokens if u < t) for t in tokens]


def build_running_count():
    from tracr.rasp import rasp

    pair = rasp.SequenceMap(lambda t, i: (t, i), rasp.tokens, rasp.indices)
    sel = rasp.Select(pair, rasp.indices, lambda k, q: k[1] <= q and k[0] == "a")
    return rasp.SelectorWidth(sel)


def ref_running_count(tokens):
    out = []
    c = 0
    for t in tokens:
        if t == "a":
            c += 1
        out.append(c)
    return out


def build_distinct_count():
    from tracr.rasp import rasp

    pair = rasp.SequenceMap(lambda t, i: (t, i), rasp.tokens, rasp.indices)
    earlier_same = rasp.Select(pair, pair, lambda k, q: k[0] == q[0] and k[1] < q[1])
    novel = rasp.Map(lambda w: w == 0, rasp.SelectorWidth(earlier_same))
    return rasp.SelectorWidth(rasp.Select(novel, novel, lambda k, q: k))


def ref_distinct_count(tokens):
    return [len(set(tokens))] * len(tokens)


def build_contains_token():
    from tracr.rasp import rasp

    n_a = rasp.SelectorWidth(rasp.Select(rasp.tokens, rasp.tokens, lambda k, q: k == "a"))
    return rasp.Map(lambda c: c > 0, n_a)


def ref_contains_token(tokens):
    return ["a" in tokens] * len(tokens)


# --------------------------------------------------------------------------
# Patterns / global predicates
# --------------------------------------------------------------------------


def build_first_occurrence():
    from tracr.rasp import rasp

    pair = rasp.SequenceMap(lambda t, i: (t, i), rasp.tokens, rasp.indices)
    earlier_same = rasp.Select(pair, pair, lambda k, q: k[0] == q[0] and k[1] < q[1])
    return rasp.Map(lambda w: w == 0, rasp.SelectorWidth(earlier_same))


def ref_first_occurrence(tokens):
    return [tokens[i] not in tokens[:i] for i in range(len(tokens))]


def build_repeat_flag():
    from tracr.rasp import rasp

    pair = rasp.SequenceMap(lambda t, i: (t, i), rasp.tokens, rasp.indices)
    prev_same = rasp.Select(pair, pair, lambda k, q: k[1] == q[1] - 1 and k[0] == q[0])
    return rasp.Map(lambda w: w > 0, rasp.SelectorWidth(prev_same))


def ref_repeat_flag(tokens):
    return [i > 0 and tokens[i] == tokens[i - 1] for i in range(len(tokens))]


def build_palindrome_check():
    from tracr.rasp import rasp

    n = rasp.SelectorWidth(rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.TRUE))
    mirror = rasp.SequenceMap(lambda m, i: m - 1 - i, n, rasp.indices)
    rev = rasp.Aggregate(rasp.Select(rasp.indices, mirror, rasp.Comparison.EQ), rasp.tokens)
    mismatch = rasp.SequenceMap(lambda a, b: a != b, rasp.tokens, rev)
    n_bad = rasp.SelectorWidth(rasp.Select(mismatch, mismatch, lambda k, q: k))
    return rasp.Map(lambda c: c == 0, n_bad)


def ref_palindrome_check(tokens):
    return [list(tokens) == list(tokens)[::-1]] * len(tokens)


def build_all_equal():
    from tracr.rasp import rasp

    differ = rasp.SelectorWidth(rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.NEQ))
    return rasp.Map(lambda w: w == 0, differ)


def ref_all_equal(tokens):
    return [all(t == tokens[0] for t in tokens)] * len(tokens)


def build_is_sorted():
    from tracr.rasp import rasp

    pair = rasp.SequenceMap(lambda t, i: (t, i), rasp.tokens, rasp.indices)
    inversions = rasp.SelectorWidth(
        rasp.Select(pair, pair, lambda k, q: k[1] < q[1] and k[0] > q[0]))
    bad = rasp.Map(lambda w: w > 0, inversions)
    n_bad = rasp.SelectorWidth(rasp.Select(bad, bad, lambda k, q: k))
    return rasp.Map(lambda c: c == 0, n_bad)


def ref_is_sorted(tokens):
    ok = all(tokens[i] <= tokens[i + 1] for i in range(len(tokens) - 1))
    return [ok] * len(tokens)


# --------------------------------------------------------------------------
# Numerical
# --------------------------------------------------------------------------


def build_mean_tokens():
    from tracr.rasp import rasp

    everything = rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.TRUE)
    half = rasp.numerical(rasp.Map(lambda x: x / 2, rasp.tokens))
    avg_half = rasp.numerical(rasp.Aggregate(everything, half, default=0))
    return rasp.numerical(rasp.LinearSequenceMap(avg_half, avg_half, 1, 1))


def ref_mean_tokens(tokens):
    return [sum(tokens) / len(tokens)] * len(tokens)


def build_running_mean():
    from tracr.rasp import rasp

    prefix = rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.LEQ)
    half = rasp.numerical(rasp.Map(lambda x: x / 2, rasp.tokens))
    avg_half = rasp.numerical(rasp.Aggregate(prefix, half, default=0))
    return rasp.numerical(rasp.LinearSequenceMap(avg_half, avg_half, 1, 1))


def ref_running_mean(tokens):
    out = []
    s = 0
    for i, t in enumerate(tokens):
        s += t
        out.append(s / (i + 1))
    return out


def build_frac_token():
    from tracr.rasp import rasp

    everything = rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.TRUE)
    is_a = rasp.numerical(rasp.Map(lambda t: 1 if t == "a" else 0, rasp.tokens))
    return rasp.numerical(rasp.Aggregate(everything, is_a, default=0))


def ref_frac_token(tokens):
    return [tokens.count("a") / len(tokens)] * len(tokens)


# --------------------------------------------------------------------------
# Registry entries
# --------------------------------------------------------------------------

_L4 = ("a", "b", "c", "d")
_L3 = ("a", "b", "c")
_N4 = (0, 1, 2, 3)

EXTRA_TASKS: list[Task] = [
    Task(
        id="identity_map",
        name="Identity map",
        description="Elementwise: each position outputs its own input token unchanged.",
        category="elementwise",
        family="elementwise map",
        vocab=_L4,
        max_seq_len=5,
        build=build_identity_map,
        reference=ref_identity_map,
        aliases=("identity function", "identity mapping", "no-op map"),
    ),
    Task(
        id="increment_map",
        name="Increment tokens",
        description="Elementwise: each position outputs its integer token plus one (token+1).",
        category="elementwise",
        family="elementwise map",
        vocab=_N4,
        max_seq_len=5,
        build=build_increment_map,
        reference=ref_increment_map,
        aliases=("add one to each token", "token plus one", "increment by one"),
    ),
    Task(
        id="parity_map",
        name="Token parity",
        description="Elementwise: each position outputs its integer token modulo 2 (0 for even, 1 for odd).",
        category="elementwise",
        family="elementwise map",
        vocab=(0, 1, 2, 3, 4, 5),
        max_seq_len=4,
        build=build_parity_map,
        reference=ref_parity_map,
        aliases=("parity of tokens", "odd or even", "modulo two map"),
    ),
    Task(
        id="equals_first",
        name="Equals first token",
        description=(
            "Position i outputs True iff its token equals the token at position 0 "
            "(position 0 is always True)."
        ),
        category="pattern",
        family="pattern",
        vocab=_L3,
        max_seq_len=6,
        build=build_equals_first,
        reference=ref_equals_first,
        aliases=("same as first token", "matches first token", "equal to first"),
    ),
    Task(
        id="max_broadcast",
        name="Max broadcast",
        description=(
            "Every position outputs the maximum token of the whole input. Positions whose "
            "token has no strictly greater token are marked, and an aggregate copies "
            "the (shared) token of the marked positions to every position."
        ),
        category="aggregation",
        family="aggregation",
        vocab=_N4,
        max_seq_len=5,
        build=build_max_broadcast,
        reference=ref_max_broadcast,
        aliases=("sequence maximum", "broadcast maximum", "global max", "maximum of the sequence"),
    ),
    Task(
        id="min_broadcast",
        name="Min broadcast",
        description=(
            "Every position outputs the minimum token of the whole input. Positions whose "
            "token has no strictly smaller token are marked, and an aggregate copies "
            "the (shared) token of the marked positions to every position."
        ),
        category="aggregation",
        family="aggregation",
        vocab=_N4,
        max_seq_len=5,
        build=build_min_broadcast,
        reference=ref_min_broadcast,
        aliases=("sequence minimum", "broadcast minimum", "global min", "minimum of the sequence"),
    ),
    Task(
        id="first_token",
        name="First token broadcast",
        description="Every position outputs the token at position 0.",
        category="aggregation",
        family="aggregation",
        vocab=_L4,
        max_seq_len=5,
        build=build_first_token,
        reference=ref_first_token,
        aliases=("broadcast first token", "copy first token"),
    ),
    Task(
        id="last_token",
        name="Last token broadcast",
        description=(
            "Every position outputs the token at position n-1 (the final token), located "
            "via the sequence length."
        ),
        category="aggregation",
        family="aggregation",
        vocab=_L4,
        max_seq_len=5,
        build=build_last_token,
        reference=ref_last_token,
        aliases=("broadcast last token", "copy last token"),
    ),
    Task(
        id="running_max",
        name="Running max",
        description=(
            "Position i outputs the maximum of tokens 0..i (prefix maximum). Computed by "
            "checking, for each threshold v in 1..3, whether any token >= v occurs at or "
            "before i, and summing those indicators."
        ),
        category="aggregation",
        family="aggregation",
        vocab=_N4,
        max_seq_len=5,
        build=build_running_max,
        reference=ref_running_max,
        aliases=("prefix maximum", "cumulative max", "prefix max", "cumulative maximum"),
    ),
    Task(
        id="prev_token",
        name="Copy previous token",
        description=(
            "Position i outputs the token at position i-1; position 0 is undefined (None)."
        ),
        category="permutation",
        family="permutation",
        vocab=_L4,
        max_seq_len=5,
        build=build_prev_token,
        reference=ref_prev_token,
        aliases=("shift right by one", "prev token"),
    ),
    Task(
        id="next_token",
        name="Copy next token",
        description=(
            "Position i outputs the token at position i+1; the last position is undefined (None)."
        ),
        category="permutation",
        family="permutation",
        vocab=_L4,
        max_seq_len=5,
        build=build_next_token,
        reference=ref_next_token,
        aliases=("shift left by one", "next token copy"),
    ),
    Task(
        id="swap_pairs",
        name="Swap adjacent pairs",
        description=(
            "Swaps neighbours in pairs: position i outputs the token at position i XOR 1 "
            "(0<->1, 2<->3, ...). For odd lengths the last position has no partner and "
            "is undefined (None)."
        ),
        category="permutation",
        family="permutation",
        vocab=_L4,
        max_seq_len=5,
        build=build_swap_pairs,
        reference=ref_swap_pairs,
        aliases=("swap adjacent pairs", "pairwise swap", "xor one permutation"),
    ),
    Task(
        id="rotate_left",
        name="Rotate left",
        description=(
            "Cyclic rotation by one: position i outputs the token at position (i+1) mod n, "
            "so the first token moves to the end."
        ),
        category="permutation",
        family="permutation",
        vocab=_L4,
        max_seq_len=5,
        build=build_rotate_left,
        reference=ref_rotate_left,
        aliases=("cyclic shift", "rotate by one", "cyclic rotation", "roll left"),
    ),
    Task(
        id="sort_descending",
        name="Sort descending",
        description=(
            "Outputs the input tokens sorted in descending order (duplicates kept), via "
            "tracr's make_sort keyed on the negated token with position tie-breaking."
        ),
        category="permutation",
        family="permutation",
        vocab=(1, 2, 3, 4),
        max_seq_len=5,
        build=build_sort_descending,
        reference=ref_sort_descending,
        aliases=("descending sort", "reverse sort", "sort decreasing"),
    ),
    Task(
        id="rank_smaller",
        name="Rank among tokens",
        description=(
            "Position i outputs the number of tokens in the whole input that are strictly "
            "smaller than token i (its rank among the tokens, with ties sharing a rank)."
        ),
        category="counting",
        family="counting",
        vocab=_N4,
        max_seq_len=5,
        build=build_rank_smaller,
        reference=ref_rank_smaller,
        aliases=("token rank", "count smaller tokens", "number of smaller tokens"),
    ),
    Task(
        id="running_count",
        name="Running count",
        description=(
            "Position i outputs how many of the tokens at positions 0..i are 'a' "
            "(a prefix count, as an integer)."
        ),
        category="counting",
        family="counting",
        vocab=_L3,
        max_seq_len=6,
        build=build_running_count,
        reference=ref_running_count,
        aliases=("prefix count", "cumulative count", "running tally"),
    ),
    Task(
        id="distinct_count",
        name="Distinct count",
        description=(
            "Every position outputs the number of distinct token values in the input, "
            "computed by flagging first occurrences and counting the flags."
        ),
        category="counting",
        family="counting",
        vocab=_L4,
        max_seq_len=5,
        build=build_distinct_count,
        reference=ref_distinct_count,
        aliases=("number of distinct tokens", "count unique tokens", "unique count"),
    ),
    Task(
        id="contains_token",
        name="Contains token",
        description=(
            "Every position outputs True iff the token 'a' occurs anywhere in the input, "
            "else False."
        ),
        category="pattern",
        family="predicate",
        vocab=_L4,
        max_seq_len=5,
        build=build_contains_token,
        reference=ref_contains_token,
        aliases=("token membership", "contains token a", "membership test"),
    ),
    Task(
        id="first_occurrence",
        name="First occurrence flag",
        description=(
            "Position i outputs True iff its token does not occur at any earlier position "
            "(this is the first occurrence of the value), else False."
        ),
        category="pattern",
        family="pattern",
        vocab=_L3,
        max_seq_len=6,
        build=build_first_occurrence,
        reference=ref_first_occurrence,
        aliases=("first appearance flag", "novel token flag", "first occurrence"),
    ),
    Task(
        id="repeat_flag",
        name="Repeat flag",
        description=(
            "Position i outputs True iff i > 0 and its token equals the token at position "
            "i-1 (an immediate repeat), else False; position 0 is False."
        ),
        category="pattern",
        family="pattern",
        vocab=_L3,
        max_seq_len=6,
        build=build_repeat_flag,
        reference=ref_repeat_flag,
        aliases=("same as previous token", "immediate repeat", "adjacent duplicate"),
    ),
    Task(
        id="palindrome_check",
        name="Palindrome check",
        description=(
            "Every position outputs True iff the input reads the same forwards and "
            "backwards, else False. The sequence is reversed, mismatching positions are "
            "flagged and counted, and the result is whether the count is zero."
        ),
        category="pattern",
        family="predicate",
        vocab=_L3,
        max_seq_len=6,
        build=build_palindrome_check,
        reference=ref_palindrome_check,
        aliases=("palindrome", "is palindrome", "palindrome detection"),
    ),
    Task(
        id="all_equal",
        name="All tokens equal",
        description=(
            "Every position outputs True iff all tokens in the input are identical, else "
            "False (each position counts the tokens differing from its own)."
        ),
        category="pattern",
        family="predicate",
        vocab=_L3,
        max_seq_len=6,
        build=build_all_equal,
        reference=ref_all_equal,
        aliases=("all same token", "constant sequence check", "uniform sequence"),
    ),
    Task(
        id="is_sorted",
        name="Sortedness check",
        description=(
            "Every position outputs True iff the input is in non-decreasing order, else "
            "False. Each position counts earlier tokens greater than itself (inversions), "
            "and the output is whether no position has an inversion."
        ),
        category="pattern",
        family="predicate",
        vocab=_N4,
        max_seq_len=5,
        build=build_is_sorted,
        reference=ref_is_sorted,
        aliases=("is sorted", "is ascending", "non-decreasing check"),
    ),
    Task(
        id="mean_tokens",
        name="Mean of tokens",
        description=(
            "Numerical output: every position outputs the arithmetic mean of all integer "
            "tokens in the input (averaging token/2 with attention, then doubling)."
        ),
        category="numerical",
        family="aggregation",
        vocab=_N4,
        max_seq_len=5,
        build=build_mean_tokens,
        reference=ref_mean_tokens,
        output="numerical",
        aliases=("average token", "token mean", "mean token value"),
    ),
    Task(
        id="running_mean",
        name="Running mean",
        description=(
            "Numerical output: position i outputs the mean of the integer tokens at "
            "positions 0..i (prefix average)."
        ),
        category="numerical",
        family="aggregation",
        vocab=_N4,
        max_seq_len=5,
        build=build_running_mean,
        reference=ref_running_mean,
        output="numerical",
        aliases=("prefix mean", "cumulative mean", "prefix average", "running average"),
    ),
    Task(
        id="frac_token",
        name="Fraction of token",
        description=(
            "Numerical output: every position outputs the fraction of all positions whose "
            "token is 'a' (count of 'a' divided by the length)."
        ),
        category="numerical",
        family="aggregation",
        vocab=_L3,
        max_seq_len=6,
        build=build_frac_token,
        reference=ref_frac_token,
        output="numerical",
        aliases=("fraction of token a", "proportion of a tokens", "token proportion"),
    ),
]
