"""The label-free view of a subject (`--residual raw`): its residual stream without tracr's labels.

Tracr names every residual dimension after the variable and value it holds
(`tokens:a`, `indices:3`, `one`, neutral `v3:2`), which hands the investigator
the model's variable structure for free. A researcher with an ordinary
transformer gets none of that: dimensions are numbers. `raw_view(subject)`
is the subject as every tool sees it in raw mode — residual dimensions named
`d0 … dN` in the model's own order, no output variable, a model card without
labels — and everything else (weights, forward passes, hooks, the lock)
forwarded unchanged.
"""

from __future__ import annotations

from tracr_agent.tools.protocol.raw import raw_dim_names


class RawView:
    """A subject whose residual labels are `d0 … dN` and whose output variable is unknown."""

    is_raw = True

    def __init__(self, subject):
        self._subject = subject
        self.residual_labels: list[str] = raw_dim_names(subject.d_model)
        self.output_variable = None
        self.card = subject.card.model_copy(update={"residual_labels": None, "output_variable": None})

    def __getattr__(self, name):
        # Only called for attributes not set above: weights, activations, bridge, lock, vocab, …
        return getattr(self._subject, name)


def raw_view(subject) -> RawView:
    """The raw view of `subject`, made once per subject so per-subject caches (mean activations) keep working."""
    if getattr(subject, "is_raw", False):
        return subject
    view = vars(subject).get("_raw_view")
    if view is None:
        view = RawView(subject)
        vars(subject)["_raw_view"] = view
    return view


def is_raw(subject) -> bool:
    """Whether `subject` is seen without residual labels."""
    return getattr(subject, "is_raw", False)
