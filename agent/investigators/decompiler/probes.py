"""Input design: which inputs to run, and which hooks to read on each, in calls that fit the cap.

Round 1: every token alone, sorted / reversed / constant runs, then seeded random inputs of every
length so each (position, token) pair occurs; a few long inputs are also read at every stage (to
see which layer writes each variable). Round 2 (coverage): inputs on which the decompiled program
so far would reach table entries not yet observed (a value combination an MLP or a head's rule has
not been seen on), found by running that program on candidate inputs.
"""

from __future__ import annotations

import itertools
import json
import random
from typing import Optional

from tracr_agent.agent.investigators.decompiler.observations import hook_kind
from tracr_agent.tools.protocol.hooks import resid

N_PROBES = 40
N_SCAN = 3
N_SCAN_RAW = 1
"""Without labels every component's writes are read on the scanned inputs, dense in a rotated basis:
one of them (new values met later are attributed by decompiler/writes.py, or read then); the
embedding of every other token is read on that token alone."""
N_COVER = 40
DEFAULT_CAP_CHARS = 6000


def sorted_vocab(vocab: list) -> list:
    try:
        return sorted(vocab)
    except TypeError:
        return list(vocab)


def round1(vocab: list, max_len: int, n: int = N_PROBES, seed: int = 0) -> list[tuple]:
    rng = random.Random(seed)
    order = sorted_vocab(vocab)
    out: list[tuple] = [(t,) for t in order]
    out.append(tuple((order * max_len)[:max_len]))
    out.append(tuple(reversed((order * max_len)[:max_len])))
    for t in order[:3]:
        out.append((t,) * max_len)
    length = 2
    while len(out) < n * 3:
        out.append(tuple(rng.choice(vocab) for _ in range(length)))
        length = length % max_len + 1 if length < max_len else 2
    seen = list(dict.fromkeys(out))
    return seen[:n]


def scan_inputs(probes: list[tuple], max_len: int, n: int = N_SCAN, every_token: bool = True) -> list[tuple]:
    """The most varied long inputs, and then (`every_token`) more until every token occurs in one."""
    longest = [p for p in probes if len(p) == max_len]
    longest.sort(key=lambda p: -len(set(p)))
    chosen = longest[:n] or probes[:n]
    if not every_token:
        return chosen
    every = {t for p in probes for t in p}
    for p in sorted(probes, key=lambda p: (-len(set(p)), -len(p))):
        if every <= {t for c in chosen for t in c}:
            break
        if set(p) - {t for c in chosen for t in c}:
            chosen.append(p)
    return chosen


def domain_sample(vocab: list, max_len: int, k: int = 3000, seed: int = 1) -> list[tuple]:
    """The whole domain when it has at most k inputs, else k seeded random inputs."""
    total = sum(len(vocab) ** i for i in range(1, max_len + 1))
    if total <= k:
        return [x for i in range(1, max_len + 1) for x in itertools.product(vocab, repeat=i)]
    rng = random.Random(seed)
    return list(dict.fromkeys(tuple(rng.choice(vocab) for _ in range(rng.randint(1, max_len))) for _ in range(k)))


def candidates(vocab: list, max_len: int, k: int = 3000, seed: int = 1) -> list[tuple]:
    """Inputs to search for ones reaching what was not observed: a sample of the domain and, when the
    domain is larger, every input over one or two tokens (counts, runs and repeats that random inputs
    of a large domain almost never hold: five equal tokens among six)."""
    sample = domain_sample(vocab, max_len, k, seed)
    if sum(len(vocab) ** i for i in range(1, max_len + 1)) <= k:
        return sample
    order = sorted_vocab(vocab)
    few = [x for a, b in itertools.combinations(order, 2) for n in range(1, max_len + 1)
           for x in itertools.product((a, b), repeat=n) if len(set(x)) == 2]
    few += [(t,) * n for t in order for n in range(1, max_len + 1)]
    if len(few) > 2 * k:
        few = random.Random(seed).sample(few, 2 * k)
    return list(dict.fromkeys(sample + few))


DENSE_CHARS = 12
"""Characters of one entry of a dense vector in the json ("[12,-0.1234],", or shorter)."""


def estimate_chars(x: tuple, hook: str, n_vars: int, n_heads: int, sizes: Optional[dict] = None,
                   dense: int = 0) -> int:
    """One (input, hook)'s share of a json reply: measured characters per position for this kind of
    hook when some were read already, else a first guess (`dense`: the residual width, when nothing says
    the residual stream is sparse — a label-free model may be in any basis)."""
    fixed, per_row = row_chars(x, hook, n_vars, n_heads, sizes, dense)
    return int(fixed + (len(x) + 1) * per_row)


def row_chars(x: tuple, hook: str, n_vars: int, n_heads: int, sizes: Optional[dict] = None,
              dense: int = 0) -> tuple[int, float]:
    """(characters an (input, hook) costs however few positions are read, characters per position)."""
    n_pos = len(x) + 1
    if (sizes or {}).get(hook) and sizes[hook][1]:  # this hook measured: its size per position barely varies
        return 20, sizes[hook][0] / sizes[hook][1] * 1.05
    seen = (sizes or {}).get(hook_kind(hook))
    if not seen and dense and hook_kind(hook) in ("component", "embedding"):
        # a component's writes are no denser than the residual stream they add to (the same basis)
        seen = (sizes or {}).get("resid")
    if seen and seen[1]:
        return 20, seen[0] / seen[1] * 1.1
    if dense and not hook.endswith("hook_pattern") and hook_kind(hook) != "neurons":
        width = n_heads * 16 if hook_kind(hook) == "head" else dense
        return 40, 4 + DENSE_CHARS * width
    if hook.endswith("hook_pattern"):
        return 40, n_heads * (4 + 5 * n_pos)
    if hook_kind(hook) == "head":  # every head's output, dense in its own basis
        return 40, n_heads * (4 + 13 * 8)
    if hook_kind(hook) == "neurons":  # tracr's MLP units: a few active per position
        return 40, 4 + 12 * 6
    if hook.endswith(("hook_attn_out", "hook_mlp_out")):  # one component writes a variable or two
        return 40, 4 + 10 * 3
    if hook_kind(hook) == "embedding":  # tokens, indices, one
        return 40, 4 + 10 * 3
    return 40, 4 + 9 * max(n_vars, 4)


def plan_calls(requests: list[tuple[tuple, tuple[str, ...]]], budget: int, n_vars: int, n_heads: int,
               sizes: Optional[dict] = None, dense: int = 0) -> list[dict]:
    """get_activations json arguments covering every (input, hooks) request, each reply within budget."""
    calls: list[dict] = []
    groups: dict[tuple, list[tuple]] = {}
    for x, hooks in requests:
        # split one input's hooks when they alone exceed the budget
        chunk: list[str] = []
        size = 60 + 20 * len(x)
        for h in hooks:
            s = estimate_chars(x, h, n_vars, n_heads, sizes, dense) + len(h) + 6
            if chunk and size + s > budget:
                groups.setdefault(tuple(chunk), []).append(x)
                chunk, size = [], 60 + 20 * len(x)
            chunk.append(h)
            size += s
        if chunk:
            groups.setdefault(tuple(chunk), []).append(x)
    for hooks, xs in groups.items():
        batch: list = []
        size = 200 + 40 * n_vars
        for x in xs:
            s = 60 + 20 * len(x) + sum(estimate_chars(x, h, n_vars, n_heads, sizes, dense) for h in hooks)
            if batch and size + s > budget:
                calls.append({"hook": ",".join(hooks), "input": [list(b) for b in batch], "format": "json"})
                batch, size = [], 200 + 40 * n_vars
            batch.append(x)
            size += s
        if batch:
            calls.append({"hook": ",".join(hooks), "input": [list(b) for b in batch], "format": "json"})
    return calls


def fill_calls(requests: list[tuple[tuple, tuple[str, ...]]], budget: int, n_vars: int, n_heads: int,
               sizes: Optional[dict] = None, dense: int = 0, rows=None) -> list[dict]:
    """Like `plan_calls`, but every call filled to the budget: an input whose rows do not all fit in what
    is left of a call is read there at as many positions as fit, and at the rest in the next call (calls
    share their hooks; each input has its own positions). Where every position costs a dense vector one
    long input may fill most of a call, and a call holding whole inputs only would leave the rest empty.
    An input's hooks are read in chunks of a size chosen to need the fewest calls (all together, one
    position of them may not fit). `rows(x, hook)`: the positions still to read (default every one)."""
    best: list[dict] = []
    for per_chunk in range(max((len(h) for _, h in requests), default=0), 0, -1):
        calls = _fill(requests, per_chunk, budget, n_vars, n_heads, sizes, dense, rows)
        if calls is not None and (not best or len(calls) < len(best)):
            best = calls
    return best


def _fill(requests, per_chunk: int, budget: int, n_vars: int, n_heads: int, sizes, dense: int, rows):
    """fill_calls with each input's hooks read `per_chunk` at a time (None: one position of a chunk
    does not fit a call)."""
    groups: dict[tuple, list[tuple]] = {}
    for x, hooks in requests:
        for i in range(0, len(hooks), per_chunk):
            groups.setdefault(tuple(hooks[i:i + per_chunk]), []).append(x)
    # the reply's own characters: its hooks, and the residual basis' labels (d0… without labels)
    labels = len(json.dumps([f"d{j}" for j in range(dense)])) if dense else 40 * n_vars
    calls: list[dict] = []
    for hooks, xs in groups.items():
        batch: list[tuple[tuple, list[int]]] = []
        start = 200 + labels + len(",".join(hooks))
        size = start
        for x in xs:
            left = sorted({p for h in hooks for p in (rows(x, h) if rows else range(len(x) + 1))})
            costs = [row_chars(x, h, n_vars, n_heads, sizes, dense) for h in hooks]
            over = 60 + 20 * len(x) + sum(f + len(h) + 6 for (f, _), h in zip(costs, hooks))
            per_row = sum(r for _, r in costs)
            if per_chunk > 1 and start + over + per_row > budget:
                return None
            while left:
                k = int((budget - size - over) // per_row) if per_row else len(left)
                if k < 1 and batch:
                    calls.append(_call(hooks, batch))
                    batch, size = [], start
                    continue
                take = left[:max(1, k)]
                batch.append((x, take))
                size += over + len(take) * per_row
                left = left[len(take):]
        if batch:
            calls.append(_call(hooks, batch))
    return calls


def _call(hooks: tuple, batch: list[tuple[tuple, list[int]]]) -> dict:
    """A get_activations json call reading `hooks` on each (input, positions) of the batch."""
    call = {"hook": ",".join(hooks), "input": [list(x) for x, _ in batch], "format": "json"}
    if any(len(rows) < len(x) + 1 for x, rows in batch):
        call["positions_per_input"] = [list(rows) for _, rows in batch]
    return call
