"""tracr → TransformerLens: turn an assembled tracr model into a model directory's card and weights.

Weights are written in HookedTransformer-style keys (the community format);
`tracr_agent.tools.subjects.modeldir.build_bridge` loads them into a TransformerBridge. Categorical
unembeds come from TransformerLens' own tracr helper; tracr's numerical outputs
(one residual dimension read as a number) get a one-column unembed here.
Residual labels are anonymized before they leave this module; the original
names go only into the private provenance record.
"""

from __future__ import annotations

from tracr_agent.tools.subjects.anonymize import anonymize_labels, split_label
from tracr_agent.tools.subjects.modeldir import InputEncoding, ModelCard, ModelConfig, OutputEncoding


def _is_categorical(model) -> bool:
    return hasattr(model.output_encoder, "encoding_map")


def tracr_unembed(model, output_label: str):
    """[d_model, d_vocab_out] matrix reading the output SOp off the residual stream."""
    import numpy as np

    if _is_categorical(model):
        from transformer_lens.utilities.tracr import make_tracr_categorical_unembed

        return make_tracr_categorical_unembed(model, output_label)
    labels = list(model.residual_labels)
    if output_label not in labels:
        raise ValueError(f"numerical output dimension {output_label!r} not in the residual labels")
    unembed = np.zeros((len(labels), 1), dtype=np.float32)
    unembed[labels.index(output_label), 0] = 1.0
    return unembed


def convert(model, output_label: str, max_seq_len: int) -> tuple[ModelCard, dict, dict]:
    """Returns (card, HookedTransformer-style weights, provenance)."""
    import einops
    import numpy as np

    p = {k: {n: np.asarray(v, dtype=np.float32) for n, v in mod.items()} for k, mod in model.params.items()}
    mc = model.model_config
    h, dh = mc.num_heads, mc.key_size
    W_E = p["token_embed"]["embeddings"]
    W_pos = p["pos_embed"]["embeddings"]
    W_U = tracr_unembed(model, output_label).astype(np.float32)
    d_model = W_E.shape[1]
    weights = {"embed.W_E": W_E, "pos_embed.W_pos": W_pos, "unembed.W_U": W_U,
               "unembed.b_U": np.zeros(W_U.shape[1], np.float32)}
    for layer in range(mc.num_layers):
        pre, blk = f"transformer/layer_{layer}", f"blocks.{layer}"
        for tracr_name, tl in (("query", "Q"), ("key", "K"), ("value", "V")):
            m = p[f"{pre}/attn/{tracr_name}"]
            weights[f"{blk}.attn.W_{tl}"] = einops.rearrange(m["w"], "d (h k) -> h d k", h=h)
            weights[f"{blk}.attn.b_{tl}"] = einops.rearrange(m["b"], "(h k) -> h k", h=h)
        o = p[f"{pre}/attn/linear"]
        weights[f"{blk}.attn.W_O"] = einops.rearrange(o["w"], "(h k) d -> h k d", h=h)
        weights[f"{blk}.attn.b_O"] = o["b"]
        l1, l2 = p[f"{pre}/mlp/linear_1"], p[f"{pre}/mlp/linear_2"]
        weights.update({f"{blk}.mlp.W_in": l1["w"], f"{blk}.mlp.b_in": l1["b"],
                        f"{blk}.mlp.W_out": l2["w"], f"{blk}.mlp.b_out": l2["b"]})

    vocab = [tok for tok, _ in sorted(model.input_encoder.encoding_map.items(), key=lambda kv: kv[1])]
    if _is_categorical(model):
        values = [v for v, _ in sorted(model.output_encoder.encoding_map.items(), key=lambda kv: kv[1])]
        output = OutputEncoding(kind="categorical", values=values)
    else:
        output = OutputEncoding(kind="numerical")
    original = list(model.residual_labels)
    neutral, names = anonymize_labels(original)
    card = ModelCard(
        config=ModelConfig(
            n_layers=mc.num_layers, d_model=d_model, d_head=dh, n_heads=h, d_mlp=mc.mlp_hidden_size,
            n_ctx=W_pos.shape[0], d_vocab=W_E.shape[0], d_vocab_out=W_U.shape[1],
        ),
        input_encoding=InputEncoding(vocab=vocab, bos=model.input_encoder.bos_token,
                                     pad=model.input_encoder.pad_token),
        output_encoding=output,
        max_seq_len=max_seq_len,
        residual_labels=neutral,
        output_variable=names.get(split_label(output_label)[0], output_label),
    )
    provenance = {"output_label": output_label, "residual_labels": original, "names": names}
    return card, weights, provenance
