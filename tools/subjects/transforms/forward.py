"""A plain torch forward pass of a subject's architecture, differentiable in its weights.

The TransformerBridge is the model every tool reads; training a compression needs
thousands of forward and backward passes over the whole input domain, with the
weights as functions of the map being learned, which the bridge (a module with
its own parameters and hooks) is not made for. This is the same computation —
TransformerLens conventions, no layer norm, bidirectional attention scaled by
1/sqrt(d_head), ReLU MLPs — over a dict of tensors, returning the activations the
training compares (tests/integration/test_transforms.py checks it against the bridge).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Trace:
    """Activations of one batch of equal-length inputs ([batch, positions, …] each)."""

    reads: list
    """The residual stream where something reads it: before each layer's attention, before its MLP,
    and before the unembedding (2 * n_layers + 1 tensors [B, T, d_model])."""
    patterns: list
    """Each layer's attention pattern [B, heads, T, T]."""
    hidden: list
    """Each layer's MLP activation after the ReLU [B, T, d_mlp]."""
    logits: object
    """[B, T, d_vocab_out]."""


def forward(weights: dict, ids, n_layers: int, keys=None) -> Trace:
    """Runs token ids [B, T] (BOS included) through `weights` (torch tensors, HookedTransformer keys).

    `keys` [B, T] (bool) marks the positions that hold a token: inputs of several lengths padded into
    one batch attend to those only, so each real position computes what it computes unpadded."""
    import torch

    x = weights["embed.W_E"][ids] + weights["pos_embed.W_pos"][: ids.shape[1]]
    reads, patterns, hidden = [], [], []
    for layer in range(n_layers):
        p = f"blocks.{layer}"
        reads.append(x)
        q = torch.einsum("btd,hdk->bthk", x, weights[f"{p}.attn.W_Q"]) + weights[f"{p}.attn.b_Q"]
        k = torch.einsum("btd,hdk->bthk", x, weights[f"{p}.attn.W_K"]) + weights[f"{p}.attn.b_K"]
        v = torch.einsum("btd,hdk->bthk", x, weights[f"{p}.attn.W_V"]) + weights[f"{p}.attn.b_V"]
        scores = torch.einsum("bqhk,bshk->bhqs", q, k) / q.shape[-1] ** 0.5
        if keys is not None:
            scores = scores.masked_fill(~keys[:, None, None, :], float("-inf"))
        pattern = scores.softmax(-1)
        patterns.append(pattern)
        z = torch.einsum("bhqs,bshk->bqhk", pattern, v)
        x = x + torch.einsum("bqhk,hkd->bqd", z, weights[f"{p}.attn.W_O"]) + weights[f"{p}.attn.b_O"]
        reads.append(x)
        post = torch.relu(x @ weights[f"{p}.mlp.W_in"] + weights[f"{p}.mlp.b_in"])
        hidden.append(post)
        x = x + post @ weights[f"{p}.mlp.W_out"] + weights[f"{p}.mlp.b_out"]
    reads.append(x)
    logits = x @ weights["unembed.W_U"] + weights["unembed.b_U"]
    return Trace(reads, patterns, hidden, logits)


def padded_batch(subject, inputs: list[list]):
    """(token ids [N, T] padded with BOS, positions holding a token [N, T] bool) for `inputs` of any lengths."""
    import torch

    width = 1 + max(len(x) for x in inputs)
    rows = [subject.token_ids(x) for x in inputs]
    ids = torch.tensor([r + [r[0]] * (width - len(r)) for r in rows])
    keys = torch.tensor([[j < len(r) for j in range(width)] for r in rows])
    return ids, keys


def batches_by_length(subject, inputs: list[list]):
    """[(token ids [B, n+1] as a torch tensor, indices into `inputs`)], one batch per input length."""
    import torch

    by_len: dict[int, list[int]] = {}
    for i, x in enumerate(inputs):
        by_len.setdefault(len(x), []).append(i)
    return [(torch.tensor([subject.token_ids(inputs[i]) for i in idxs]), idxs) for _, idxs in sorted(by_len.items())]
