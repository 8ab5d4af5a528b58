"""Linear changes of a model's residual basis and of its heads' bases, applied to the weights.

Every matrix that writes the residual stream (embeddings, positional embeddings,
each head's output and the attention bias, each MLP's output and bias) is
multiplied on the right by `write` [d_model, D]; every matrix that reads it
(queries, keys, values, MLP inputs, the unembedding) on the left by `read`
[D, d_model]. A rotation R is write = R, read = Rᵀ (exact); a compression W is
write = W, read = Wᵀ (learned). Per head, an orthogonal S on the query/key
dimension (W_Q S, W_K S) leaves q·k unchanged, and one on the value dimension
(W_V S, Sᵀ W_O) leaves the head's output unchanged.

`map_residual` uses only `@`, so the same code maps numpy arrays (a rotation) and torch
tensors (a compression being trained); `map_heads` takes numpy arrays.
"""

from __future__ import annotations

READERS = ("attn.W_Q", "attn.W_K", "attn.W_V", "mlp.W_in")
WRITERS = ("attn.W_O", "attn.b_O", "mlp.W_out", "mlp.b_out")


def map_residual(weights: dict, write, read, n_layers: int) -> dict:
    """The weights of the same model with its residual stream x replaced by x @ write, read back as
    (x @ write) @ read. Keys that neither read nor write the stream (q/k/v biases, b_in, b_U) are kept."""
    out = dict(weights)
    out["embed.W_E"] = weights["embed.W_E"] @ write
    out["pos_embed.W_pos"] = weights["pos_embed.W_pos"] @ write
    out["unembed.W_U"] = read @ weights["unembed.W_U"]
    for layer in range(n_layers):
        for name in READERS:  # [h, d, k] or [d, d_mlp]: read [D, d] on the left broadcasts over heads
            key = f"blocks.{layer}.{name}"
            out[key] = read @ weights[key]
        for name in WRITERS:  # [h, k, d], [d], [d_mlp, d], [d]
            key = f"blocks.{layer}.{name}"
            out[key] = weights[key] @ write
    return out


def map_heads(weights: dict, qk: list, ov: list, n_layers: int) -> dict:
    """The weights with each head's query/key space turned by qk[layer] [heads, k, k] and its value
    space by ov[layer] (both orthogonal per head): attention scores and head outputs are unchanged."""
    out = dict(weights)
    for layer in range(n_layers):
        p = f"blocks.{layer}.attn"
        for name, turn in (("Q", qk[layer]), ("K", qk[layer]), ("V", ov[layer])):
            out[f"{p}.W_{name}"] = weights[f"{p}.W_{name}"] @ turn
            out[f"{p}.b_{name}"] = (weights[f"{p}.b_{name}"][:, None, :] @ turn)[:, 0, :]
        out[f"{p}.W_O"] = ov[layer].transpose(0, 2, 1) @ weights[f"{p}.W_O"]
    return out
