"""What a transformed subject knows about its transform, and how it is built from the original.

The record travels on `Subject.transform` for the people running the study (`show`,
transcripts, the compression cache, benchmarks); no tool reads it, so nothing of it
— the seed, D's search, the training — reaches the investigator. A transformed
subject keeps the original's ground truth (scoring needs it) but carries no
residual labels and no output variable: its residual basis is nobody's choice.
"""

from __future__ import annotations

import dataclasses
from typing import Literal, Optional

from pydantic import BaseModel

from tracr_agent.tools.errors import SubjectError


class SearchStep(BaseModel):
    """One width tried while searching for the smallest faithful D."""

    d: int
    agreed: int
    """Inputs of the domain whose outputs equal the original's."""
    n_inputs: int
    steps: int


class TransformRecord(BaseModel):
    name: Literal["rotated", "compressed"]
    seed: int
    """Seeds the rotation (and, compressed, nothing else: training is deterministic)."""
    d_model: int
    """The untransformed subject's residual width."""
    d: int
    """The residual width now (d_model when rotated; D when compressed)."""
    asked: Optional[int] = None
    """The D asked for (compressed); None when the smallest faithful D was searched for."""
    train_seconds: float = 0.0
    """Wall time of the training (the search's, in all, when D was searched for)."""
    cpu_seconds: float = 0.0
    final_loss: float = 0.0
    steps: int = 0
    """Training steps of the model kept."""
    agreed: int = 0
    n_inputs: int = 0
    search: list[SearchStep] = []

    @property
    def identity(self) -> str:
        """What makes two transformed subjects of one original the same (part of the fingerprint)."""
        return f"rotated:{self.seed}" if self.name == "rotated" else f"compressed:{self.d}:seed={self.seed}"

    @property
    def applied(self) -> str:
        """The transform as applied, for people: `rotated:3`, `compressed:12` (the D found or asked for)."""
        return f"rotated:{self.seed}" if self.name == "rotated" else f"compressed:{self.d}"

    @property
    def spec(self) -> str:
        """The suffix that asks for this transform again (`rotated:3`, `compressed:12`, `compressed`)."""
        if self.name == "rotated":
            return f"rotated:{self.seed}"
        return "compressed" if self.asked is None else f"compressed:{self.asked}"

    def summary(self) -> list[str]:
        """Lines for `show`: the transform, and for a compression D/d_model, training time and loss."""
        if self.name == "rotated":
            return [f"transform: rotated (seed {self.seed}): a random orthonormal residual basis and head bases"]
        how = "the smallest faithful D found" if self.asked is None else "D as asked"
        lines = [f"transform: compressed to D = {self.d} of d_model {self.d_model} "
                 f"(D/d_model = {self.d / self.d_model:.2f}; {how}), then rotated (seed {self.seed})",
                 f"training: {self.train_seconds:.1f} s wall, {self.cpu_seconds:.1f} s CPU, {self.steps} steps, "
                 f"final loss {self.final_loss:.3g}; outputs equal on {self.agreed} of {self.n_inputs} inputs"]
        if self.search:
            tried = ", ".join(f"D={s.d} {'faithful' if s.agreed == s.n_inputs else f'{s.agreed}/{s.n_inputs}'}"
                              for s in self.search)
            lines.append(f"search: {tried}")
        return lines


def check_transformable(subject) -> None:
    """SubjectError when `subject` cannot take a transform: it has one already, or non-finite weights."""
    import numpy as np

    if getattr(subject, "transform", None) is not None:
        raise SubjectError(f"this subject is already {subject.transform.spec}; apply one transform to the "
                           "untransformed subject")
    bad = [k for k, v in subject.weights.items() if not np.isfinite(v).all()]
    if bad:
        raise SubjectError(f"weight '{bad[0]}' holds NaN or infinite values: the subject cannot be transformed")


def transformed_subject(base, card, weights: dict, record: TransformRecord):
    """A Subject with `weights`, `card` stripped of residual labels and output variable (its d_model set
    to the record's width), `base`'s ground truth and origin, and `record` as its transform."""
    from tracr_agent.tools.subjects.subject import Subject

    config = card.config.model_copy(update={"d_model": record.d})
    card = card.model_copy(update={"config": config, "residual_labels": None, "output_variable": None})
    return Subject(card, weights, truth=dataclasses.replace(base.truth), source=base.source, kind=base.kind,
                   transform=record)
