"""Faithfulness: the converted subject against tracr's own forward pass and the task's reference.

For every input of the domain (all sequences up to max_seq_len when there are
at most 5000, else 2000 random ones) the TransformerLens subject's decoded
output must equal tracr's `model.forward` decoded the same way, and the
task's plain-Python reference, compared by `compare.outputs_equal`.
"""

from __future__ import annotations

from dataclasses import dataclass

from tracr_agent.tools.protocol.hooks import final_resid
from tracr_agent.tools.subjects.compare import outputs_equal
from tracr_agent.tools.subjects.compile import PAD, fast_xla


@dataclass
class VerifyResult:
    task_id: str
    n_inputs: int
    agree_tracr: int
    agree_reference: int
    max_resid_diff: float
    first_mismatch: str = ""

    @property
    def ok(self) -> bool:
        return self.agree_tracr == self.n_inputs and self.agree_reference == self.n_inputs


def _padded_forward(model):
    """tracr's forward pass with its own padding mask switched on: `CompiledTransformerModel` masks
    every key whose token is `pad_token`, and the compiler puts PAD in every model's vocabulary for
    this. The assembled model leaves `pad_token` unset, so each sequence length would need its own
    trace and XLA compile (about 0.25 s each, most of a task's verification); with PAD all lengths
    run in one batch. A masked key gets weight exactly 0, so the real positions are computed as
    without padding (tests/e2e/test_foundation.py compares the final residuals with tracr's unpadded pass,
    one length at a time)."""
    import haiku as hk
    import jax

    pad = model.input_encoder.encoding_map[PAD]

    @hk.without_apply_rng
    @hk.transform
    def forward(tokens):
        compiled = model.get_compiled_model()
        compiled.pad_token = pad
        return compiled(tokens, use_dropout=False)

    return jax.jit(forward.apply), pad


def _tracr_outputs(subject, model, inputs: list[list]):
    """tracr's forward on the same inputs, decoded with the subject's readout; and final residuals
    (by length: {n: (input indices, [len(idxs), n + 1, d_model])})."""
    import jax.numpy as jnp
    import numpy as np
    import torch

    if not inputs:
        return [], {}
    fwd, pad = _padded_forward(model)
    width = 1 + max(len(x) for x in inputs)  # BOS + the longest input
    ids = jnp.array([row + [pad] * (width - len(row)) for row in (subject.token_ids(x) for x in inputs)])
    with fast_xla():
        final = np.asarray(fwd(model.params, ids).transformer_output.output)
    W_U = subject.weights["unembed.W_U"]
    outputs, resid = [None] * len(inputs), {}
    by_len: dict[int, list[int]] = {}
    for i, x in enumerate(inputs):
        by_len.setdefault(len(x), []).append(i)
    for n, idxs in sorted(by_len.items()):
        resid[n] = (idxs, final[idxs, : n + 1])
        logits = torch.from_numpy(resid[n][1] @ W_U)
        for row, i in zip(logits, idxs):
            outputs[i] = subject.decode_logits(row)
    return outputs, resid


def verify_task(task, subject, model) -> VerifyResult:
    import numpy as np
    import torch

    inputs = subject.domain()
    numerical = subject.output_kind == "numerical"
    ours = subject.run(inputs)
    theirs, resid = _tracr_outputs(subject, model, inputs)
    max_diff = 0.0
    for n, (idxs, final) in resid.items():
        ids = torch.tensor([subject.token_ids(inputs[i]) for i in idxs])
        with torch.no_grad():
            _, cache = subject.bridge.run_with_cache(ids, names_filter=lambda h: h.endswith("hook_resid_post"))
        ours_resid = cache[final_resid(subject.n_layers)].numpy()
        max_diff = max(max_diff, float(np.abs(ours_resid - final).max()))
    agree_t = agree_r = 0
    first = ""
    for x, a, b in zip(inputs, ours, theirs):
        ref = task.reference(list(x)) if task is not None else b
        ok_t = outputs_equal(a, b, numerical)
        ok_r = outputs_equal(a, ref, numerical)
        agree_t += ok_t
        agree_r += ok_r
        if not (ok_t and ok_r) and not first:
            first = f"input {x}: subject {a}, tracr {b}, reference {ref}"
    return VerifyResult(task.id if task else "?", len(inputs), agree_t, agree_r, max_diff, first)
