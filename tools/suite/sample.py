"""A fixed sample of the input domain and every per-position hook's activations on it: what the tools
that read directions (probe, component_writes, project) fit and cluster over.

The sample is a pure function of the subject's domain, its size and the episode's seed, so a call repeated —
in another session, by `replay --rerun` — reads the same inputs. The activations come from one
forward pass per input length and are kept per subject (its raw view shares them) and sample size,
so only the first call of a session pays for the forward passes.
"""

from __future__ import annotations

import random
import weakref

from tracr_agent.tools.protocol.hooks import hook_kind, standard_hooks

DEFAULT_SAMPLES = 300
"""Inputs drawn from the domain unless a call asks for another number."""
_CACHE: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
"""Per subject: a sample's activations (keyed by its size), and whatever a tool keeps beside them
(keyed by a tuple naming the tool first: `per_subject`)."""


def per_subject(subject) -> dict:
    """The cache of `subject` (the model under a raw view: both see the same activations)."""
    return _CACHE.setdefault(getattr(subject, "_subject", subject), {})


def sample_inputs(subject, n: int, seed: int = 0) -> list[list]:
    """`n` inputs of the domain (all of it when smaller), always the same ones for the same n and the
    episode's `seed` (ToolContext.seed)."""
    domain = subject.domain()
    return random.Random(seed).sample(domain, min(n, len(domain)))


def sample_activations(subject, inputs: list[list], seed: int = 0) -> dict:
    """hook -> [input] -> [position, features] (float32) for every hook with one vector per position
    (per-head hooks with their heads side by side) and `logits`, from one forward pass per input length;
    kept per subject, sample size and seed (`inputs` is `sample_inputs(subject, n, seed)`), so later calls
    on the same sample only read."""
    import numpy as np
    import torch

    from tracr_agent.tools.subjects.transforms.forward import batches_by_length

    cache = per_subject(subject)
    key = (len(inputs), seed)
    if key in cache:
        return cache[key]
    names = {h for h in standard_hooks(subject.n_layers) if hook_kind(h) != "head_table"}
    out: dict = {h: [None] * len(inputs) for h in names | {"logits"}}
    with torch.no_grad(), subject.lock:
        for ids, idxs in batches_by_length(subject, inputs):
            logits, acts_cache = subject.bridge.run_with_cache(ids, names_filter=lambda n: n in names)
            for h in out:
                acts = logits if h == "logits" else acts_cache[h]
                acts = acts.reshape(acts.shape[0], acts.shape[1], -1).numpy().astype(np.float32)
                for row, i in zip(acts, idxs):
                    out[h][i] = row
    cache[key] = out
    return out
