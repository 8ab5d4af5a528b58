"""Model-dir hardening: a model.json whose fields contradict each other is refused at load,
through the real CLI, with one line naming the field (exit 2, no traceback)."""

from __future__ import annotations

import json
import shutil

import pytest
from typer.testing import CliRunner

from tracr_agent.agent.cli.main import app

runner = CliRunner()


def cli(*args):
    return runner.invoke(app, list(args))


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    d = tmp_path_factory.mktemp("compiled") / "reverse"
    r = cli("compile", "reverse", "--out", str(d))
    assert r.exit_code == 0, r.output
    return d


def _edited(compiled, tmp_path, edit):
    d = tmp_path / "m"
    shutil.copytree(compiled, d)
    card = json.loads((d / "model.json").read_text())
    edit(card)
    (d / "model.json").write_text(json.dumps(card))
    return d


def _set(path, value):
    def edit(card):
        *head, last = path.split(".")
        node = card
        for k in head:
            node = node[k]
        node[last] = value
    return edit


def _dup_vocab(card):
    card["input_encoding"]["vocab"][-1] = card["input_encoding"]["vocab"][-2]


def _numerical_with_many_columns(card):
    card["output_encoding"] = {"kind": "numerical"}


EDITS = [
    ("bos_not_in_vocab", _set("input_encoding.bos", "<s>"), "input_encoding.bos", "'<s>' is not in input_encoding.vocab"),
    ("pad_not_in_vocab", _set("input_encoding.pad", "<pad>"), "input_encoding.pad", "'<pad>' is not in"),
    ("vocab_duplicate", _dup_vocab, "input_encoding.vocab", "listed twice"),
    ("vocab_length", lambda c: c["input_encoding"]["vocab"].append("z"), "input_encoding.vocab", "d_vocab is 6"),
    ("values_length", lambda c: c["output_encoding"]["values"].pop(), "output_encoding.values", "needs 4 values"),
    ("numerical_vs_d_vocab_out", _numerical_with_many_columns, "config.d_vocab_out", "d_vocab_out is 4"),
    ("max_seq_len_vs_n_ctx", _set("max_seq_len", 6), "max_seq_len", "n_ctx - 1 = 5"),
    ("residual_labels_vs_d_model", lambda c: c["residual_labels"].pop(), "residual_labels", "d_model is 43"),
]


@pytest.mark.parametrize("name,edit,field,detail", EDITS, ids=[e[0] for e in EDITS])
@pytest.mark.parametrize("command", ["show", "run"])
def test_inconsistent_card_is_refused_with_one_line(compiled, tmp_path, command, name, edit, field, detail):
    d = _edited(compiled, tmp_path, edit)
    args = [command, "--model-dir", str(d)] + (["--llm", "baseline", "--transcript", str(tmp_path / "t.jsonl")]
                                                 if command == "run" else [])
    r = cli(*args)
    assert r.exit_code == 2, r.output
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert len(lines) == 1, r.output
    assert f"field '{field}'" in lines[0] and detail in lines[0], lines[0]
    assert "Traceback" not in r.output and "KeyError" not in r.output
    assert not (tmp_path / "t.jsonl").exists()  # refused before any episode starts


def test_untouched_compiled_dir_still_runs(compiled, tmp_path):
    r = cli("run", "--model-dir", str(compiled), "--llm", "baseline", "--transcript", str(tmp_path / "t.jsonl"))
    assert r.exit_code == 0, r.output
