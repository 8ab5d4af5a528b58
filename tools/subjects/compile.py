"""RASP → tracr: compile a program into an assembled transformer (imports tracr lazily)."""

from __future__ import annotations

import threading
from contextlib import contextmanager

from tracr_agent.tools.errors import SubjectError

BOS = "BOS"
PAD = "PAD"


@contextmanager
def fast_xla():
    """XLA with most optimizations off while tracr builds and runs a model: every model has new
    shapes, so JAX compiles dozens of small programs for it (haiku's initialisation op by op, the
    forward pass once per sequence length), and compiling, not running, is the cost. Measured on
    sort, hist, frac_prevs, length and sort_freq: compiling takes 8.3 s of CPU with it and 12.4 s
    without, verifying 13.8 s and 18.8 s; outputs and residuals agree either way (same max |Δresid|)."""
    import jax

    before = bool(jax.config.values.get("jax_disable_most_optimizations", False))
    jax.config.update("jax_disable_most_optimizations", True)
    try:
        yield
    finally:
        jax.config.update("jax_disable_most_optimizations", before)


_INIT_LOCK = threading.Lock()


@contextmanager
def zero_initialised_layers():
    """tracr's assembler initialises every transformer weight at random (haiku's truncated normal),
    then sets all of them to zeros and writes its own matrices in: the random numbers are never used,
    yet drawing them compiles one XLA program per weight shape, two thirds of compiling a model
    (measured on 12 zoo tasks: 20.8 CPU-s, 6.6 with zeros). Zeros from the start give the same
    weights, bit for bit (tests/e2e/test_foundation.py compares both on attention, MLP and numerical
    models). The patch is scoped to one compile at a time in this process."""
    import haiku as hk
    import numpy as np

    cls = hk.initializers.TruncatedNormal
    with _INIT_LOCK:
        before = cls.__call__
        cls.__call__ = lambda self, shape, dtype: np.zeros(shape, dtype)
        try:
            yield
        finally:
            cls.__call__ = before


def compile_program(program, vocab, max_seq_len: int):
    """tracr's AssembledTransformerModel for `program` over `vocab` and `max_seq_len`."""
    from tracr.compiler import compiling
    from tracr.rasp import rasp

    if not isinstance(program, rasp.SOp):
        raise SubjectError(f"expected a RASP SOp, got {type(program).__name__}")
    vocab = set(vocab)
    if not vocab:
        raise SubjectError("the vocabulary is empty")
    if BOS in vocab or PAD in vocab:
        raise SubjectError(f"the vocabulary may not contain the reserved tokens {BOS!r} or {PAD!r}")
    if not isinstance(max_seq_len, int) or max_seq_len < 1:
        raise SubjectError(f"max_seq_len must be a positive integer, got {max_seq_len!r}")
    try:
        with fast_xla(), zero_initialised_layers():
            return compiling.compile_rasp_to_model(
                program, vocab=vocab, max_seq_len=max_seq_len, compiler_bos=BOS, compiler_pad=PAD
            )
    except Exception as e:  # tracr raises many kinds; the user needs the message, not the stack
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise SubjectError(
            f"tracr cannot compile this program with vocab={sorted(vocab, key=str)} "
            f"and max_seq_len={max_seq_len}: {msg}"
        ) from None
