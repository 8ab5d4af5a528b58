"""`compressed[:D]`: the residual stream squeezed into D < d_model dimensions by a learned linear map.

The construction of Lindner et al. 2023 (Tracr, §5): a matrix W [d_model, D] is
applied wherever the residual stream is written (embeddings, head outputs, MLP
outputs, their biases) and Wᵀ wherever it is read (queries, keys, values, MLP
inputs, unembedding), so the compressed model is an ordinary transformer of the
same architecture with d_model = D. W is fitted with torch on the CPU over the
subject's whole input domain, so that the compressed model reproduces the
original's outputs and its intermediate activations:

- start: the top-D principal directions of every residual vector the original
  writes on the domain (exact when D is at least their rank);
- loss: mean squared error of the residual read back through Wᵀ, of every
  attention pattern, of every MLP activation and of the logits (each scaled by
  the original's mean square), plus a hinge on each output's decision margin
  (the gap that decides the decoded value), which is what must hold exactly;
- optimiser: L-BFGS (full batch, strong Wolfe line search), a fixed budget of
  steps; deterministic for a given subject and D.

The result is rotated (rotate.py, the given seed) and kept only when its outputs,
run through its TransformerBridge, equal the original's on the whole domain;
otherwise a SubjectError says which agreement was reached. Without D, the
smallest faithful D is searched for downward from the rank of the residual
vectors (`_search`). Kept compressions are cached like compiles (cache.py).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Optional

from tracr_agent.tools.errors import SubjectError
from tracr_agent.tools.subjects.compare import FLOAT_NOISE, NUM_TOL, RANK_TOL
from tracr_agent.tools.subjects.subject import NONE_THRESHOLD

ROUNDS = 8
"""L-BFGS rounds per width: each runs up to ROUND_STEPS steps, then the outputs are checked."""
ROUND_STEPS = 20
DECISION_MARGIN = 0.1
"""A compressed categorical output counts as equal only when it decides as the original does by this
much: its top logit above NONE_THRESHOLD and above every other logit (or, where the original has no
value, every logit below NONE_THRESHOLD) by min(0.1, half the original's own margin). float32
differences between this forward pass and the TransformerBridge are ~1e-6: the final check on the
bridge then agrees."""
HINGE_MARGIN = 0.2
"""The margin the hinge term of the loss asks for (beyond what the check needs)."""
HINGE_WEIGHT = 10.0


@dataclass
class Fit:
    """One width's training: the map W [d_model, D] (numpy, float64) and how far it got."""

    d: int
    W: object
    agreed: int
    n_inputs: int
    steps: int
    loss: float

    @property
    def faithful(self) -> bool:
        return self.agreed == self.n_inputs


def working_weights(weights: dict, n_layers: int) -> dict:
    """The weights without the heads and MLP units that write nothing (a head whose output map or values
    are 0, a unit whose output row is 0): the same function, with a fraction of the arithmetic — tracr
    pads every layer to the most heads and the widest MLP of any. Layers may keep no head or no unit."""
    import numpy as np

    out = dict(weights)
    for layer in range(n_layers):
        p = f"blocks.{layer}"
        o, v, bv = (weights[f"{p}.attn.{k}"] for k in ("W_O", "W_V", "b_V"))
        heads = [h for h in range(o.shape[0]) if o[h].any() and (v[h].any() or bv[h].any())]
        for k in ("W_Q", "W_K", "W_V", "W_O", "b_Q", "b_K", "b_V"):
            out[f"{p}.attn.{k}"] = np.ascontiguousarray(weights[f"{p}.attn.{k}"][heads])
        units = np.flatnonzero(np.abs(weights[f"{p}.mlp.W_out"]).sum(1))
        out[f"{p}.mlp.W_in"] = np.ascontiguousarray(weights[f"{p}.mlp.W_in"][:, units])
        out[f"{p}.mlp.b_in"] = np.ascontiguousarray(weights[f"{p}.mlp.b_in"][units])
        out[f"{p}.mlp.W_out"] = np.ascontiguousarray(weights[f"{p}.mlp.W_out"][units])
    return out


class Trainer:
    """The original's activations on the domain (the targets) and the fitting of W for any width."""

    def __init__(self, subject, inputs: list[list]):
        import torch

        from tracr_agent.tools.subjects.transforms.forward import forward, padded_batch

        self.subject, self.n_inputs, self.layers = subject, len(inputs), subject.n_layers
        self.weights = {k: torch.from_numpy(v) for k, v in working_weights(subject.weights, self.layers).items()}
        self.ids, self.keys = padded_batch(subject, inputs)
        with torch.no_grad():
            self.target = forward(self.weights, self.ids, self.layers, self.keys)
        self.at = self.keys.float()  # positions holding a token
        self.count = self.at.sum()
        self.read_scale = self._mean_square(self.target.reads)
        # layers without heads or MLP units (tracr pads every layer with both) have nothing to compare
        self.attending = [l for l in range(self.layers) if self.target.patterns[l].shape[1]]
        self.hidden_layers = [l for l in range(self.layers) if self.target.hidden[l].shape[-1]]
        self.hidden_scale = {l: self._mean_square([self.target.hidden[l]]) for l in self.hidden_layers}
        self.logit_scale = self._mean_square([self.target.logits])
        self.numerical = subject.output_kind == "numerical"
        if not self.numerical:
            out = self.target.logits[:, 1:]
            self.value = out.max(-1)
            self.has_value = self.value.values >= NONE_THRESHOLD
            self.own_margin = self._margin(out)

    def _mean_square(self, tensors) -> float:
        total = sum(float(((t ** 2).mean(-1) * self.at).sum()) for t in tensors)
        return total / (float(self.count) * len(tensors)) + 1e-12

    def _mse(self, a, b, scale: float):
        return ((a - b) ** 2).mean(-1).mul(self.at).sum() / self.count / scale

    def _margin(self, logits):
        """Per output position [N, n]: by how much `logits` make the original's decision (negative: not)."""
        import torch

        idx = self.value.indices[..., None]
        top = logits.gather(-1, idx)[..., 0]
        rest = logits.scatter(-1, idx, float("-inf")).max(-1).values if logits.shape[-1] > 1 else top + 1.0
        with_value = torch.minimum(top - NONE_THRESHOLD, top - rest)
        return torch.where(self.has_value, with_value, NONE_THRESHOLD - logits.max(-1).values)

    def principal_directions(self):
        """(U [d_model, d_model]: directions by falling share of the residual vectors' second moment;
        their rank: how many the domain's residual vectors span)."""
        import numpy as np

        d = self.subject.d_model
        moment = np.zeros((d, d))
        for r in self.target.reads:
            flat = r[self.keys].double().numpy()
            moment += flat.T @ flat
        values, vectors = np.linalg.eigh(moment)
        order = np.argsort(values)[::-1]
        values, vectors = values[order], vectors[:, order]
        return vectors, int((values > values[0] * RANK_TOL).sum())

    def evaluate(self, W):
        """(loss, inputs whose outputs are equal with the margin) of the model compressed by W."""
        import torch

        from tracr_agent.tools.subjects.transforms.basis import map_residual
        from tracr_agent.tools.subjects.transforms.forward import forward

        t = self.target
        mine = forward(map_residual(self.weights, W, W.T, self.layers), self.ids, self.layers, self.keys)
        reads = sum(self._mse(a @ W.T, b, self.read_scale) for a, b in zip(mine.reads, t.reads)) / len(t.reads)
        patterns = sum(((mine.patterns[l] - t.patterns[l]) ** 2).sum(-1).mean(1).mul(self.at).sum() / self.count
                       for l in self.attending) / max(1, len(self.attending))
        hidden = sum(self._mse(mine.hidden[l], t.hidden[l], self.hidden_scale[l])
                     for l in self.hidden_layers) / max(1, len(self.hidden_layers))
        logits = self._mse(mine.logits, t.logits, self.logit_scale)
        out, valid = mine.logits[:, 1:], self.keys[:, 1:]
        if self.numerical:
            error = (out[..., 0] - t.logits[:, 1:, 0]).abs()
            hinge = torch.relu(error - NUM_TOL / 5) / NUM_TOL
            ok = error <= NUM_TOL / 2
        else:
            margin = self._margin(out)
            hinge = torch.relu(torch.clamp(self.own_margin, max=HINGE_MARGIN) - margin)
            ok = margin >= torch.clamp(self.own_margin / 2, max=DECISION_MARGIN)
        hinge = (hinge * valid).sum() / self.n_inputs
        agreed = int((ok | ~valid).all(-1).sum())
        return reads + patterns + hidden + logits + HINGE_WEIGHT * hinge, agreed

    def fit(self, U, d: int) -> Fit:
        """W for width `d`, from the top-d principal directions, trained until the outputs are equal
        with the margin or the budget (ROUNDS × ROUND_STEPS steps) is spent."""
        import numpy as np
        import torch

        W = torch.tensor(np.ascontiguousarray(U[:, :d]), dtype=torch.float32, requires_grad=True)
        opt = torch.optim.LBFGS([W], lr=1.0, max_iter=ROUND_STEPS, history_size=ROUND_STEPS,
                                line_search_fn="strong_wolfe")

        def closure():
            opt.zero_grad()
            loss, _ = self.evaluate(W)
            loss.backward()
            return loss

        steps, before = 0, None
        for _ in range(ROUNDS + 1):
            with torch.no_grad():
                loss, agreed = self.evaluate(W)
            loss = float(loss)
            if agreed == self.n_inputs or steps >= ROUNDS * ROUND_STEPS or not loss < float("inf"):
                break
            if before is not None and before - loss <= FLOAT_NOISE * before:  # stuck: more rounds do nothing
                break
            before = loss
            opt.step(closure)
            steps = opt.state[W].get("n_iter", steps)
        return Fit(d, W.detach().double().numpy(), agreed, self.n_inputs, steps, loss)


def _compressed_weights(subject, W, seed: int) -> dict:
    """The original's weights mapped through W, then rotated by `seed` (float32)."""
    import numpy as np

    from tracr_agent.tools.subjects.transforms.basis import map_residual
    from tracr_agent.tools.subjects.transforms.rotate import rotate_weights

    wide = {k: np.asarray(v, dtype=np.float64) for k, v in subject.weights.items()}
    squeezed = map_residual(wide, W, W.T, subject.n_layers)
    config = subject.card.config.model_copy(update={"d_model": W.shape[1]})
    return rotate_weights(squeezed, config, seed)


def _search(trainer: Trainer, U, rank: int, d_model: int) -> tuple[Optional[Fit], list[Fit]]:
    """(the smallest faithful width found, every width tried). Downward from the rank of the residual
    vectors (or d_model - 1 when that rank is not faithful) in steps that double — 1, 2, 4, … below the
    smallest faithful width so far — until one is not faithful; then bisection between the two. A subject
    that keeps nothing below its rank costs one failed training, one that compresses far a few."""
    tried = [trainer.fit(U, min(rank, d_model - 1))]
    if not tried[-1].faithful and tried[-1].d < d_model - 1:  # a direction taken for 0 mattered after all
        tried.append(trainer.fit(U, d_model - 1))
    best = tried[-1]
    if not best.faithful:
        return None, tried
    lo, step = (tried[0].d if len(tried) > 1 else 0), 1
    while best.d - lo > 1:
        width = max(best.d - step, (lo + best.d) // 2)  # doubling steps, never below the middle of the gap
        fit = trainer.fit(U, width)
        tried.append(fit)
        if fit.faithful:
            best, step = fit, step * 2
        else:
            lo = width
    return best, tried


def _share(agreed: int, n: int) -> str:
    return f"{agreed} of {n} inputs ({100 * agreed / n:.1f}%)"


def compress(subject, d: Optional[int] = None, *, seed: int = 0, use_cache: bool = True):
    """`subject` compressed to width `d` (None: the smallest faithful width found), then rotated by
    `seed`; SubjectError when the compressed model's outputs are not the original's on the whole domain."""
    from tracr_agent.tools.subjects.transforms import cache

    d_model = subject.d_model
    if d is not None and d >= d_model:
        raise SubjectError(f"compressed:D needs D below d_model = {d_model}, got {d}")
    if d_model < 2:
        raise SubjectError("a residual stream of one dimension cannot be compressed")
    key = cache.key(subject, d, seed)
    if use_cache:
        hit = cache.load(key, subject)
        if hit is not None:
            return hit
    from tracr_agent.tools.subjects.subject import limit_math_threads
    from tracr_agent.tools.subjects.transforms.check import check_transform
    from tracr_agent.tools.subjects.transforms.record import SearchStep, TransformRecord, transformed_subject

    limit_math_threads()
    wall, cpu = time.perf_counter(), time.process_time()
    inputs = subject.domain()
    trainer = Trainer(subject, inputs)
    U, rank = trainer.principal_directions()
    if d is None:
        fit, tried = _search(trainer, U, rank, d_model)
        if fit is None:
            raise SubjectError(f"no width below d_model = {d_model} keeps this subject's outputs: compressed to "
                               f"D = {tried[-1].d}, they equal the original's on {_share(tried[-1].agreed, len(inputs))}")
    else:
        fit = trainer.fit(U, d)
        tried = [fit]
        if not fit.faithful:
            raise SubjectError(f"compressed:{d} is not faithful: after {fit.steps} training steps the outputs equal "
                               f"the original's on {_share(fit.agreed, len(inputs))}; try a larger D, or `compressed` "
                               "alone for the smallest faithful D")
    record = TransformRecord(
        name="compressed", seed=seed, d_model=d_model, d=fit.d, asked=d,
        train_seconds=time.perf_counter() - wall, cpu_seconds=time.process_time() - cpu, final_loss=fit.loss,
        steps=fit.steps, agreed=len(inputs), n_inputs=len(inputs),  # (the check below refuses anything less)
        search=[SearchStep(d=f.d, agreed=f.agreed, n_inputs=f.n_inputs, steps=f.steps) for f in tried] if d is None else [])
    result = transformed_subject(subject, subject.card, _compressed_weights(subject, fit.W, seed), record)
    check = check_transform(subject, result, inputs=inputs)
    if check.agreed != check.n_inputs:
        raise SubjectError(f"compressed to D = {fit.d}, the model's outputs equal the original's on only "
                           f"{_share(check.agreed, check.n_inputs)} (first: {check.first_mismatch}); try a larger D")
    if use_cache:
        cache.store(key, result)
    return result
