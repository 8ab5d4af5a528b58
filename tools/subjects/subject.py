"""The subject: one converted Tracr model in TransformerLens, as the investigator meets it.

A `Subject` wraps a TransformerBridge with what is needed to talk to it in
tokens: input checking, BOS handling, decoding of categorical or numerical
outputs, cached forward passes with the classic hook names. It knows nothing
about which task it came from; that ground truth travels separately
(`Subject.truth`) and no tool reads it.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Optional, Sequence

from tracr_agent.tools.errors import UserError
from tracr_agent.tools.subjects import modeldir
from tracr_agent.tools.subjects.modeldir import ModelCard, token_key
from tracr_agent.tools.protocol.hooks import attn_k, attn_q, attn_scores, standard_hooks
from tracr_agent.tools.protocol.raw import raw_dim_names

# Output logits below this mean "no value": tracr writes a zero vector where a
# RASP value is undefined (e.g. an aggregate that selects nothing).
NONE_THRESHOLD = 0.5


class InputError(UserError):
    """An input sequence the subject cannot take (unknown token, too long, empty)."""


@dataclass
class SubjectTruth:
    """What scoring knows and the investigator must not: never shown to the agent."""

    task_id: Optional[str] = None
    labels: tuple[str, ...] = ()
    provenance: dict = field(default_factory=dict)
    kind: str = "task"


def limit_math_threads() -> None:
    """One thread for torch's intra-op pool and numpy's BLAS (TRACR_AGENT_TORCH_THREADS overrides): these
    models and the tools' matrices are tiny, and on a busy machine a thread pool makes them far slower
    (measured: a forward pass 570 ms vs 10 ms; a [43, 1389] by [1389, 43] product 60 ms vs 0.2 ms)."""
    import os

    import torch
    from threadpoolctl import threadpool_limits

    n = int(os.environ.get("TRACR_AGENT_TORCH_THREADS", "1") or 1)
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    threadpool_limits(n, user_api="blas")


class Subject:
    def __init__(self, card: ModelCard, weights: dict, *, truth: SubjectTruth | None = None,
                 source: str = "", kind: str = "task", transform=None):
        self.card = card
        self.kind = kind
        """'task' (zoo), 'program' (a user's RASP file) or 'model_dir' (an imported model)."""
        self.transform = transform
        """How this model was made from the `kind` it names (a `transforms.TransformRecord`: rotated,
        compressed), or None. Never shown to the investigator."""
        self.weights = weights
        self.truth = truth or SubjectTruth()
        self.source = source
        self._cache: OrderedDict[tuple, dict] = OrderedDict()
        # TransformerLens adds and removes hooks on the shared modules during a run:
        # concurrent episodes (batch evaluation threads) must take turns.
        self.lock = threading.RLock()
        self._bridge = None
        self._bridge_lock = threading.Lock()
        self._warming: Optional[threading.Thread] = None
        self._warm_lock = threading.Lock()
        self._warm_error: Optional[BaseException] = None
        self.cache_size = 512
        c = card.config
        self.n_layers, self.n_heads, self.d_model = c.n_layers, c.n_heads, c.d_model
        self.d_head, self.d_mlp = c.d_head, c.d_mlp
        self.vocab: list = card.tokens
        self.bos: str = card.input_encoding.bos
        self.max_seq_len: int = card.seq_len
        self.output_kind: str = card.output_encoding.kind
        self.output_values: Optional[list] = card.output_encoding.values
        self.residual_labels: list[str] = card.residual_labels or raw_dim_names(c.d_model)
        self.output_variable: Optional[str] = card.output_variable
        self._token_id = {self._key(t): i for i, t in enumerate(card.input_encoding.vocab)}
        self._by_text = {str(t): t for t in self.vocab}

    _key = staticmethod(token_key)

    # -- identity -------------------------------------------------------------------------
    @cached_property
    def fingerprint(self) -> str:
        """A short hash of card and weights: the same model always has the same fingerprint."""
        import numpy as np

        h = hashlib.sha256(self.card.model_dump_json(exclude_none=True).encode())
        for k in sorted(self.weights):
            h.update(k.encode())
            h.update(np.ascontiguousarray(self.weights[k]).tobytes())
        if self.transform is not None:
            h.update(self.transform.identity.encode())
        return h.hexdigest()[:16]

    @property
    def is_raw(self) -> bool:
        """A transformed subject has no residual labels: every tool sees it as in `--residual raw`."""
        return self.transform is not None

    @property
    def bridge(self):
        """The TransformerBridge, built on first use (importing TransformerLens: seconds, cold) or
        taken from `warm_up_async`, whose error, if it failed, is raised here once, to the caller that
        would have met it anyway; later uses try again, as without a warm-up."""
        if self._bridge is None:
            with self._warm_lock:  # exactly one caller takes the warm-up (and its error) over
                warming, self._warming = self._warming, None
            if warming is not None:
                warming.join()
                error, self._warm_error = self._warm_error, None
                if error is not None:
                    raise error
            return self._load_bridge()
        return self._bridge

    def warm_up_async(self) -> None:
        """Builds the bridge in a background thread so the first tool call does not wait for it; an
        episode calls this as it starts, while the LLM thinks about its first turn. No-op when the
        bridge is built or being built."""

        def warm() -> None:
            try:
                self._load_bridge()
            except BaseException as e:  # kept for the first foreground use of `bridge`: never lost
                self._warm_error = e

        with self._warm_lock:  # concurrent episodes share a subject: one warm-up, published started
            if self._bridge is not None or self._warming is not None:
                return
            thread = threading.Thread(target=warm, name="tracr-agent-warm-up", daemon=True)
            thread.start()
            self._warming = thread

    def _load_bridge(self):
        with self._bridge_lock:  # one build, whichever thread gets here first
            if self._bridge is None:
                limit_math_threads()
                self._bridge = modeldir.build_bridge(self.card, self.weights)
            return self._bridge

    @cached_property
    def nonempty_heads(self) -> list[tuple[int, int]]:
        out = []
        for layer in range(self.n_layers):
            wo = self.weights[f"blocks.{layer}.attn.W_O"]
            wv = self.weights[f"blocks.{layer}.attn.W_V"]
            for head in range(self.n_heads):
                if abs(wo[head]).sum() > 0 and abs(wv[head]).sum() > 0:
                    out.append((layer, head))
        return out

    @cached_property
    def nonempty_mlps(self) -> list[int]:
        return [l for l in range(self.n_layers)
                if abs(self.weights[f"blocks.{l}.mlp.W_out"]).sum() > 0
                and abs(self.weights[f"blocks.{l}.mlp.W_in"]).sum() > 0]

    # -- inputs ---------------------------------------------------------------------------
    def vocab_text(self) -> str:
        return "[" + ", ".join(json.dumps(t) for t in self.vocab) + "]"

    def check_input(self, tokens: Any) -> list:
        """Validates one input sequence (without BOS); accepts tokens given as text ("3" for 3)."""
        if isinstance(tokens, str):
            tokens = list(tokens) if all(len(str(v)) == 1 for v in self.vocab) else tokens.split()
        if not isinstance(tokens, (list, tuple)):
            raise InputError(f"an input must be a list of tokens from the vocab {self.vocab_text()}, got {tokens!r}")
        if len(tokens) == 0:
            raise InputError("an input must hold at least one token (BOS is added for you)")
        if tokens and tokens[0] == self.bos:
            tokens = list(tokens[1:])
        if len(tokens) > self.max_seq_len:
            raise InputError(f"input of {len(tokens)} tokens is too long: the maximum is {self.max_seq_len} tokens (BOS excluded)")
        out = []
        for t in tokens:
            if not isinstance(t, (str, int, float)):  # a list, an object, null: never a token (nor hashable)
                raise InputError(f"token {json.dumps(t, default=repr)} is not in the vocab {self.vocab_text()}")
            if isinstance(t, bool) or self._key(t) not in self._token_id:
                t2 = self._by_text.get(str(t))
                if t2 is None or (isinstance(t, bool) != isinstance(t2, bool)):
                    raise InputError(f"token {json.dumps(t)} is not in the vocab {self.vocab_text()}")
                t = t2
            out.append(t)
        return out

    def token_ids(self, tokens: Sequence) -> list[int]:
        return [self._token_id[self._key(self.bos)]] + [self._token_id[self._key(t)] for t in tokens]

    # -- running --------------------------------------------------------------------------
    def decode_logits(self, logits) -> list:
        """Logits [T, d_vocab_out] (BOS row included) -> outputs for positions 1..T-1."""
        rows = logits[1:]
        if self.output_kind == "numerical":
            return [float(x) for x in rows[:, 0].tolist()]
        best = rows.max(-1)
        vals, idx = best.values.tolist(), best.indices.tolist()
        return [self.output_values[i] if v >= NONE_THRESHOLD else None for v, i in zip(vals, idx)]

    def run(self, inputs: Sequence[Sequence]) -> list[list]:
        """Decoded outputs for many (already checked) inputs; batched by length."""
        import torch

        outputs: list = [None] * len(inputs)
        by_len: dict[int, list[int]] = {}
        for i, x in enumerate(inputs):
            by_len.setdefault(len(x), []).append(i)
        with torch.no_grad(), self.lock:
            for _, idxs in sorted(by_len.items()):
                ids = torch.tensor([self.token_ids(inputs[i]) for i in idxs])
                logits = self.bridge(ids)
                for row, i in zip(logits, idxs):
                    outputs[i] = self.decode_logits(row)
        return outputs

    def activations(self, tokens: Sequence) -> dict:
        """Every standard hook's activation for one input (batch dim dropped), cached."""
        import torch

        key = tuple(self._key(t) for t in tokens)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        names = set(standard_hooks(self.n_layers))
        with torch.no_grad(), self.lock:
            logits, cache = self.bridge.run_with_cache(
                torch.tensor([self.token_ids(tokens)]), names_filter=lambda n: n in names
            )
        acts = {n: cache[n][0].detach().clone() for n in names if n in cache}
        acts["logits"] = logits[0].detach().clone()
        # The TransformerBridge (TransformerLens 4.x) fires hook_attn_scores with the softmaxed pattern;
        # the real pre-softmax scores are q.k / sqrt(d_head) (no mask: attention is bidirectional).
        for layer in range(self.n_layers):
            q, k = acts[attn_q(layer)], acts[attn_k(layer)]
            acts[attn_scores(layer)] = torch.einsum("qhd,khd->hqk", q, k) / self.d_head**0.5
        self._cache[key] = acts
        if len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return acts

    def run_with_hooks(self, tokens: Sequence, fwd_hooks: list) -> Any:
        """Logits [T, d_vocab_out] for one input with TransformerLens forward hooks applied."""
        import torch

        with torch.no_grad(), self.lock:
            logits = self.bridge.run_with_hooks(torch.tensor([self.token_ids(tokens)]), fwd_hooks=fwd_hooks)
        return logits[0]

    # -- ground-truth domain --------------------------------------------------------------
    def domain(self, limit: int = 5000, samples: int = 2000, seed: int = 0) -> list[list]:
        """Every input of length 1..max_seq_len when there are at most `limit`, else `samples` random ones."""
        return input_domain(self.vocab, self.max_seq_len, limit, samples, seed)


def input_domain(vocab: Sequence, max_seq_len: int, limit: int = 5000, samples: int = 2000,
                 seed: int = 0) -> list[list]:
    """The inputs a subject is checked and scored on: every sequence of length 1..max_seq_len over
    `vocab` when there are at most `limit`, else `samples` distinct random ones (seeded)."""
    import itertools
    import random

    vocab = list(vocab)
    v, n = len(vocab), max_seq_len
    total = sum(v**k for k in range(1, n + 1))
    if total <= max(limit, samples):
        # (asking for at least as many samples as exist means: all of them)
        return [list(x) for k in range(1, n + 1) for x in itertools.product(vocab, repeat=k)]
    rng = random.Random(seed)
    seen, out = set(), []
    while len(out) < samples:
        k = rng.randint(1, n)
        x = tuple(rng.choice(vocab) for _ in range(k))
        if x not in seen:
            seen.add(x)
            out.append(list(x))
    return out
