"""Subject transforms: the same function with insides that must be interpreted, not looked up.

Tracr writes every variable into its own block of residual dimensions. A transform
returns a new Subject computing exactly the same function whose residual stream has
no privileged basis:

- `rotated[:SEED]` (rotate.py): a random orthogonal change of the residual basis and
  of each head's bases; exact.
- `compressed[:D]` (compress.py): the residual stream squeezed into D < d_model
  dimensions by a learned linear map, then rotated; kept only when its outputs equal
  the original's on the whole input domain. Without D, the smallest faithful D.

`parse_transform("rotated:3")` reads the suffix form (what follows `ID@`);
`apply_transform(subject, "compressed:12")` (or `apply_transform(subject,
"compressed", 12)`) makes the transformed subject. Bad input is one SubjectError line.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Callable, Optional, Union

from pydantic import BaseModel, ConfigDict

from tracr_agent.tools.errors import SubjectError


@dataclass(frozen=True)
class Transform:
    name: str
    arg: str
    """What the number after ':' is: 'SEED' or 'D'."""
    summary: str
    """One line for people (help texts, docs)."""
    apply: Callable
    """(subject, arg or None, seed, use_cache) -> Subject."""


def _rotate(subject, arg: Optional[int], seed: int, use_cache: bool):
    from tracr_agent.tools.subjects.transforms.rotate import rotate

    return rotate(subject, seed if arg is None else arg)


def _compress(subject, arg: Optional[int], seed: int, use_cache: bool):
    from tracr_agent.tools.subjects.transforms.compress import compress

    return compress(subject, arg, seed=seed, use_cache=use_cache)


TRANSFORMS: dict[str, Transform] = {t.name: t for t in (
    Transform("rotated", "SEED", "a random orthogonal change of the residual basis and of each head's bases "
              "(default seed 0); exact", _rotate),
    Transform("compressed", "D", "the residual stream squeezed into D < d_model dimensions by a learned linear "
              "map, then rotated; without D, the smallest faithful D", _compress),
)}


class TransformSpec(BaseModel):
    """A parsed transform suffix: `rotated`, `rotated:3`, `compressed`, `compressed:12` (a field of
    tools/subjects/spec.py's SubjectSpec, so it is saved with an episode's config)."""

    model_config = ConfigDict(frozen=True)
    name: str
    arg: Optional[int] = None

    def __str__(self) -> str:
        return self.name if self.arg is None else f"{self.name}:{self.arg}"


def choices() -> str:
    return ", ".join(f"{t.name}[:{t.arg}]" for t in TRANSFORMS.values())


def parse_transform(text: str) -> TransformSpec:
    """`NAME[:ARG]` -> TransformSpec; SubjectError (one line, naming the choices) when it is not one."""
    name, sep, arg_text = str(text).strip().partition(":")
    if name not in TRANSFORMS:
        close = difflib.get_close_matches(name, TRANSFORMS, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        what = f"unknown transform {name!r}" if name else "no transform named"
        raise SubjectError(f"{what}{hint}; choose one of: {choices()}")
    t = TRANSFORMS[name]
    if not sep:
        return TransformSpec(name=name)
    if not re.fullmatch(r"[+-]?\d+", arg_text.strip()):  # int() would also take '1_0' and ' 1 '
        raise SubjectError(f"{name}:{t.arg} takes an integer {t.arg}, got {arg_text!r}")
    return TransformSpec(name=name, arg=_check_arg(t, int(arg_text)))


def _check_arg(t: Transform, arg) -> int:
    if isinstance(arg, bool) or not isinstance(arg, int):
        raise SubjectError(f"{t.name}:{t.arg} takes an integer {t.arg}, got {arg!r}")
    if t.arg == "SEED" and arg < 0:
        raise SubjectError(f"{t.name}:{t.arg} takes a seed of 0 or more, got {arg}")
    if t.arg == "D" and arg < 1:
        raise SubjectError(f"{t.name}:{t.arg} needs D of at least 1, got {arg}")
    return arg


def apply_transform(subject, transform: Union[str, TransformSpec], arg: Optional[int] = None, *, seed: int = 0,
                    use_cache: bool = True):
    """`subject` transformed (a new Subject; the original is unchanged).

    `transform` is a name with `arg` given separately, a `NAME:ARG` text, or a TransformSpec. `seed`
    seeds the rotation that follows a compression (a rotation's own seed is its `arg`, default 0).
    A compression is cached like a compile (`use_cache=False` trains afresh and stores nothing)."""
    spec = transform if isinstance(transform, TransformSpec) else parse_transform(transform)
    if arg is not None:
        if spec.arg is not None:
            raise SubjectError(f"give the {TRANSFORMS[spec.name].arg} of {spec} once, not twice")
        spec = TransformSpec(name=spec.name, arg=_check_arg(TRANSFORMS[spec.name], arg))
    _check_arg(TRANSFORMS["rotated"], seed)
    from tracr_agent.tools.subjects.transforms.record import check_transformable

    subject = getattr(subject, "_subject", subject)  # a raw view: the subject it shows
    check_transformable(subject)
    return TRANSFORMS[spec.name].apply(subject, spec.arg, seed, use_cache)
