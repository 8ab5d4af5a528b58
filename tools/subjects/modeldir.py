"""The model directory: a converted Tracr model on disk, and its loading into TransformerLens.

A model directory holds `model.json` (the `ModelCard` below) and the weights
as a HookedTransformer-style state dict (`embed.W_E`, `pos_embed.W_pos`,
`blocks.N.attn.W_Q` …, `unembed.W_U`) in `weights.safetensors`, `weights.pt`
or `weights.npz`. It is the format of the community's tracr→TransformerLens
notebooks, so models nobody compiled here can be imported with `--model-dir`;
it is also what the compile cache stores. Loading never imports JAX or tracr.

A model directory is data from anyone: its names follow a strict grammar (`NAME`: a residual
variable's name, `NAME:VALUE` a residual label) and every token and value is plain printable text
(no control, bidi or zero-width character, at most MAX_TEXT characters), checked when the card is
read. Tool outputs, the decompiler's generated program and every display can then rely on it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal, Optional, Union

from pydantic import BaseModel, Field, ValidationError

from tracr_agent.tools.errors import SubjectError
from tracr_agent.tools.untrusted.text import hidden_character, shown
from tracr_agent.tools.untrusted.files import check_target, replace_with, write_atomic

FORMAT = "tracr-agent-model/1"
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]{0,99}")
"""A residual variable's name: tracr's SOp labels and the neutral names (`v3`, `v3.sw`, `tokens`, `d12`)."""
MAX_TEXT = 100
"""Longest token, output value or label value (a tuple value such as `('a', 0)` is far shorter)."""
Token = Union[bool, int, float, str]
WEIGHT_FILES = ("weights.safetensors", "weights.pt", "weights.npz")


class ModelConfig(BaseModel):
    n_layers: int = Field(ge=1)
    d_model: int = Field(ge=1)
    d_head: int = Field(ge=1)
    n_heads: int = Field(ge=1)
    d_mlp: int = Field(ge=1)
    n_ctx: int = Field(ge=2)
    d_vocab: int = Field(ge=1)
    d_vocab_out: int = Field(ge=1)
    act_fn: Literal["relu"] = "relu"


class InputEncoding(BaseModel):
    vocab: list[Token]
    """Every input token in token-id order (index i is token id i), BOS and PAD included."""
    bos: str = "BOS"
    pad: Optional[str] = None


class OutputEncoding(BaseModel):
    kind: Literal["categorical", "numerical"]
    values: Optional[list[Token]] = None
    """Categorical only: the output value of each unembed column, in column order."""


class ModelCard(BaseModel):
    format: str = FORMAT
    config: ModelConfig
    input_encoding: InputEncoding
    output_encoding: OutputEncoding
    max_seq_len: Optional[int] = None
    """Longest input without BOS; defaults to n_ctx - 1."""
    residual_labels: Optional[list[str]] = None
    """A name for each residual dimension (neutral names only); default d0, d1, …"""
    output_variable: Optional[str] = None
    """Which residual variable the unembed reads (a neutral name)."""

    @property
    def seq_len(self) -> int:
        return self.max_seq_len if self.max_seq_len is not None else self.config.n_ctx - 1

    @property
    def tokens(self) -> list[Token]:
        """The input vocabulary without BOS and PAD."""
        special = {self.input_encoding.bos, self.input_encoding.pad}
        return [t for t in self.input_encoding.vocab if not (isinstance(t, str) and t in special)]


def expected_shapes(cfg: ModelConfig) -> dict[str, tuple[int, ...]]:
    """Every HookedTransformer-style key a Tracr model needs, with its shape."""
    h, dm, dh, dmlp = cfg.n_heads, cfg.d_model, cfg.d_head, cfg.d_mlp
    shapes = {
        "embed.W_E": (cfg.d_vocab, dm),
        "pos_embed.W_pos": (cfg.n_ctx, dm),
        "unembed.W_U": (dm, cfg.d_vocab_out),
        "unembed.b_U": (cfg.d_vocab_out,),
    }
    for layer in range(cfg.n_layers):
        p = f"blocks.{layer}"
        shapes.update(
            {
                f"{p}.attn.W_Q": (h, dm, dh), f"{p}.attn.b_Q": (h, dh),
                f"{p}.attn.W_K": (h, dm, dh), f"{p}.attn.b_K": (h, dh),
                f"{p}.attn.W_V": (h, dm, dh), f"{p}.attn.b_V": (h, dh),
                f"{p}.attn.W_O": (h, dh, dm), f"{p}.attn.b_O": (dm,),
                f"{p}.mlp.W_in": (dm, dmlp), f"{p}.mlp.b_in": (dmlp,),
                f"{p}.mlp.W_out": (dmlp, dm), f"{p}.mlp.b_out": (dm,),
            }
        )
    return shapes


def _is_bias(key: str) -> bool:
    return key.rsplit(".", 1)[-1].startswith("b_")


def read_card(directory: Path) -> ModelCard:
    path = Path(directory) / "model.json"
    if not Path(directory).is_dir():
        raise SubjectError(f"model directory {directory} does not exist")
    if not path.is_file():
        raise SubjectError(f"model directory {directory} has no model.json (see docs/model-dirs.md: the model directory format)")
    try:
        card = ModelCard.model_validate_json(path.read_text())
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        if not where:  # not a field: the file itself (e.g. invalid JSON)
            raise SubjectError(f"{path} is not a model card: {first['msg']}") from None
        raise SubjectError(f"{path}: field '{where}': {first['msg']}") from None
    except ValueError as e:
        raise SubjectError(f"{path} is not valid JSON: {e}") from None
    problem = card_problem(card)
    if problem:
        field, msg = problem
        raise SubjectError(f"{path}: field '{field}': {msg}")
    return card


def token_key(token: Token) -> tuple[str, Token]:
    # the input encoder keys tokens by (type, value): "1" and 1 are different tokens
    return (type(token).__name__, token)


def card_problem(card: ModelCard) -> Optional[tuple[str, str]]:
    """The first inconsistency between the card's fields, as (field, message), or None.

    Each of these would otherwise surface later as a KeyError or a shape error in the
    middle of an episode (e.g. a TracrBench-style `<s>` BOS that the vocab lacks)."""
    c, enc, out = card.config, card.input_encoding, card.output_encoding
    problem = text_problem(card)
    if problem:
        return problem
    keys = [token_key(t) for t in enc.vocab]
    seen: set = set()
    for t, k in zip(enc.vocab, keys):
        if k in seen:
            return "input_encoding.vocab", f"token {t!r} is listed twice (each token id needs its own token)"
        seen.add(k)
    if len(enc.vocab) != c.d_vocab:
        return "input_encoding.vocab", f"lists {len(enc.vocab)} tokens but config.d_vocab is {c.d_vocab}"
    if token_key(enc.bos) not in seen:
        return "input_encoding.bos", f"{enc.bos!r} is not in input_encoding.vocab"
    if enc.pad is not None and token_key(enc.pad) not in seen:
        return "input_encoding.pad", f"{enc.pad!r} is not in input_encoding.vocab"
    if enc.pad is not None and enc.pad == enc.bos:
        return "input_encoding.pad", f"{enc.pad!r} is also the BOS token"
    if out.kind == "categorical":
        if not out.values or len(out.values) != c.d_vocab_out:
            n = len(out.values or [])
            return "output_encoding.values", f"categorical output needs {c.d_vocab_out} values (config.d_vocab_out), got {n}"
        if len({token_key(v) for v in out.values}) != len(out.values):
            return "output_encoding.values", "a value is listed twice (each unembed column needs its own value)"
    else:
        if c.d_vocab_out != 1:
            return "config.d_vocab_out", f"numerical output reads one unembed column, but d_vocab_out is {c.d_vocab_out}"
        if out.values:
            return "output_encoding.values", "numerical output takes no values (only categorical does)"
    if card.max_seq_len is not None and not 1 <= card.max_seq_len <= c.n_ctx - 1:
        return "max_seq_len", f"must be between 1 and config.n_ctx - 1 = {c.n_ctx - 1} (BOS takes a position), got {card.max_seq_len}"
    if card.residual_labels is not None and len(card.residual_labels) != c.d_model:
        return "residual_labels", f"has {len(card.residual_labels)} names but config.d_model is {c.d_model}"
    return None


def _bad_text(value) -> Optional[str]:
    """Why a token or value is not plain text (a hidden character, too long), or None."""
    if not isinstance(value, str):
        return None
    hidden = hidden_character(value)
    if hidden is not None:
        return f"'{shown(value)}' holds a control or invisible character ({hidden})"
    if len(value) > MAX_TEXT:
        return f"'{shown(value[:20])}'… is longer than {MAX_TEXT} characters"
    return None


def text_problem(card: ModelCard) -> Optional[tuple[str, str]]:
    """The first name or text of the card that breaks the grammar (module docstring), as (field, message)."""
    enc, out = card.input_encoding, card.output_encoding
    for where, values in (("input_encoding.vocab", enc.vocab), ("input_encoding.bos", [enc.bos]),
                          ("input_encoding.pad", [enc.pad]), ("output_encoding.values", out.values or [])):
        for v in values:
            why = _bad_text(v)
            if why:
                return where, f"token {why}"
    for label in card.residual_labels or []:
        name, sep, value = label.rpartition(":")
        name = name if sep else label
        if not NAME.fullmatch(name):
            return "residual_labels", (f"'{shown(label)}' is not NAME or NAME:VALUE (a NAME is a letter or _ then "
                                       "letters, digits, _ . -; at most 100 characters)")
        why = _bad_text(value) if sep else None
        if why or (sep and not value):
            return "residual_labels", f"the value of '{shown(label)}': {why or 'is empty'}"
    if card.output_variable is not None and not NAME.fullmatch(card.output_variable):
        return "output_variable", f"'{shown(card.output_variable)}' is not a variable NAME"
    return None


def read_weights(directory: Path, card: ModelCard) -> dict:
    """Loads and checks the state dict as float32 numpy arrays: every key present with the right
    shape (biases default to 0). torch is imported only for a `.pt` file."""
    import numpy as np

    directory = Path(directory)
    found = [directory / f for f in WEIGHT_FILES if (directory / f).is_file()]
    if not found:
        raise SubjectError(f"model directory {directory} has no weights file (one of {', '.join(WEIGHT_FILES)})")
    path = found[0]
    try:
        if path.suffix == ".safetensors":
            from safetensors.numpy import load_file

            raw = load_file(str(path))
        elif path.suffix == ".pt":
            import torch

            raw = {k: v.detach().cpu().float().numpy() for k, v in torch.load(path, map_location="cpu", weights_only=True).items()}
        else:
            with np.load(path) as z:
                raw = {k: z[k] for k in z.files}
    except Exception as e:  # a corrupt file is the user's to fix: say which
        raise SubjectError(f"cannot read {path}: {type(e).__name__}: {e}") from None
    shapes = expected_shapes(card.config)
    weights = {}
    for key, shape in shapes.items():
        if key not in raw:
            if _is_bias(key):
                weights[key] = np.zeros(shape, np.float32)
                continue
            raise SubjectError(f"{path}: missing weight '{key}' (expected shape {list(shape)})")
        t = np.asarray(raw[key], dtype=np.float32)
        if tuple(t.shape) != shape:
            raise SubjectError(f"{path}: weight '{key}' has shape {list(t.shape)}, expected {list(shape)}")
        weights[key] = t
    return weights


def write_model_dir(directory: Path, card: ModelCard, weights: dict) -> None:
    """Writes model.json and weights.safetensors; a directory that already holds a different model
    is refused (SubjectError), never overwritten — writing the same model again is fine."""
    import numpy as np
    from safetensors.numpy import save_file

    directory = Path(directory)
    text = card.model_dump_json(indent=1, exclude_none=True)
    existing = directory / "model.json"
    for name in ("model.json", "weights.safetensors"):
        check_target(directory / name)  # a symlink or a device there is refused before anything is written
    if existing.is_file() and existing.read_bytes() != text.encode():
        raise SubjectError(f"{directory} already holds a different model (model.json); choose another --out "
                           "or remove it first")
    tensors = {k: np.ascontiguousarray(np.asarray(v, dtype=np.float32)) for k, v in weights.items()}
    replace_with(directory / "weights.safetensors", lambda tmp: save_file(tensors, str(tmp)))
    write_atomic(existing, text)


def build_bridge(card: ModelCard, weights: dict):
    """A TransformerBridge (TransformerLens 4) holding these weights."""
    import logging

    from transformer_lens.config.transformer_bridge_config import TransformerBridgeConfig
    from transformer_lens.model_bridge import TransformerBridge
    from transformer_lens.utilities.tl_checkpoint_conversion import convert_tl_checkpoint

    c = card.config
    cfg = TransformerBridgeConfig(
        n_layers=c.n_layers, d_model=c.d_model, d_head=c.d_head, n_ctx=c.n_ctx,
        d_vocab=c.d_vocab, d_vocab_out=c.d_vocab_out, d_mlp=c.d_mlp, n_heads=c.n_heads,
        act_fn=c.act_fn, attention_dir="bidirectional", normalization_type=None,
    )
    logging.getLogger("transformer_lens").setLevel(logging.ERROR)
    bridge = TransformerBridge.boot_native(cfg)
    import torch

    tensors = {k: torch.from_numpy(v.copy()) for k, v in weights.items()}
    bridge.load_state_dict(convert_tl_checkpoint(tensors, cfg), strict=True)
    bridge.eval()
    return bridge
