"""The compression cache: a kept compression is stored like a compile, a refused one not at all.

An entry is a model directory (the compressed, rotated model) plus `transform.json`
(its TransformRecord), under `<cache root>/transforms/<key>`, written atomically
(load.store_entry). The key fixes the original model (its fingerprint), the width
asked for (or the search), the rotation's seed, this module's training version and
the library versions, so a hit is exactly the model the training would produce.
"""

from __future__ import annotations

import hashlib
import json
from typing import Optional

from tracr_agent.tools.errors import SubjectError

TRAINING_VERSION = "1"
"""Bump when compress.py changes what a training produces."""


def key(subject, d: Optional[int], seed: int) -> str:
    from tracr_agent.tools.subjects.load import library_versions

    payload = json.dumps({"subject": subject.fingerprint, "d": d, "seed": seed, "version": TRAINING_VERSION,
                          "libs": library_versions()}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:24]


def _entry(key: str):
    from tracr_agent.tools.subjects.load import cache_root

    return cache_root() / "transforms" / key


def load(key: str, original):
    """The cached compression of `original` under `key`, or None (missing or unreadable: trained again)."""
    from tracr_agent.tools.subjects.modeldir import read_card, read_weights
    from tracr_agent.tools.subjects.transforms.record import TransformRecord, transformed_subject

    d = _entry(key)
    if not (d / "transform.json").is_file():
        return None
    try:
        card = read_card(d)
        record = TransformRecord.model_validate_json((d / "transform.json").read_text())
        return transformed_subject(original, card, read_weights(d, card), record)
    except (OSError, ValueError, SubjectError):
        return None


def store(key: str, subject) -> None:
    from tracr_agent.tools.subjects.load import store_entry

    store_entry(_entry(key), subject.card, subject.weights, {"transform.json": subject.transform.model_dump_json()})
