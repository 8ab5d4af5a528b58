"""`--residual raw`: every tool shows unlabelled residual dims d0…dN, and stays useful.

The whole-zoo sweep (every tool, both conditions, raw mode) is in test_suite_leaks.py;
these are the fast checks on a few real subjects and through the real CLI.
"""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from tracr_agent.agent.cli.main import app
from tracr_agent.tools.subjects.leak import find_label_leaks
from tracr_agent.tools.suite import ToolContext, call_tool

RAW = ToolContext(condition="whitebox", residual="raw")
RAW_FULL = ToolContext(condition="full", residual="raw")


def _calls(subject):
    x = subject.vocab[: subject.max_seq_len]
    comp = f"{subject.nonempty_heads[0][0]}.{subject.nonempty_heads[0][1]}"
    yield "model_info", {}
    yield "list_hooks", {}
    yield "embeddings", {}
    for layer in range(subject.n_layers):
        yield "decode_residual", {"input": x, "layer": layer}
        for hook in ("hook_resid_pre", "hook_resid_mid", "hook_attn_out", "hook_mlp_out", "hook_resid_post"):
            yield "get_activations", {"hook": f"blocks.{layer}.{hook}", "input": x}
    yield "get_activations", {"hook": "hook_embed,blocks.0.hook_resid_mid", "input": [x, x[:1]], "format": "json"}
    yield "ablate", {"components": [comp], "inputs": [x]}
    yield "patch", {"clean_input": x, "corrupt_input": x[::-1], "component": comp}
    yield "patch", {"clean_input": x, "corrupt_input": x[::-1], "component": "blocks.0.hook_resid_post"}


@pytest.mark.parametrize("task_id", ["reverse", "sort", "length", "frac_prevs"])
def test_raw_mode_hides_every_label_that_labelled_mode_shows(load, task_id):
    subject = load(task_id)
    labelled_leaks = set()
    for name, args in _calls(subject):
        for ctx in (RAW, RAW_FULL):
            r = call_tool(subject, name, args, ctx)
            assert not r.is_error, (name, args, r.text)
            assert find_label_leaks(r.text, subject) == [], (name, args, r.text)
            assert "unembed reads" not in r.text
        labelled = call_tool(subject, name, args, ToolContext(condition="full"))
        labelled_leaks |= set(find_label_leaks(labelled.text, subject))
    # the check is not vacuous: the same calls in labelled mode name the variables
    assert {"tokens", "indices"} <= labelled_leaks
    assert any(re.fullmatch(r"v\d+", l) for l in labelled_leaks)


def test_raw_decode_shows_the_active_dims_per_position(sort_subject):
    s = sort_subject
    x = s.vocab[:3]
    text = call_tool(s, "decode_residual", {"input": x, "layer": 0, "where": "pre"}, RAW).text
    rows = text.splitlines()[1:]
    assert len(rows) == len(x) + 1
    acts = s.activations(x)["blocks.0.hook_resid_pre"]
    for p, row in enumerate(rows):
        shown = {int(i): float(v) for i, v in re.findall(r"\bd(\d+)=(-?[\d.]+)", row)}
        expected = {i: round(float(v), 3) for i, v in enumerate(acts[p].tolist()) if abs(v) >= 5e-4}
        assert shown == expected, (p, row)
    # model order, not re-sorted: the dims listed per position are ascending
    for row in rows:
        idx = [int(i) for i in re.findall(r"\bd(\d+)=", row)]
        assert idx == sorted(idx)


def test_raw_embeddings_and_model_info(reverse_subject):
    s = reverse_subject
    info = call_tool(s, "model_info", {}, RAW_FULL).text
    assert f"{s.d_model} unlabelled dims d0..d{s.d_model - 1}" in info
    assert "variables" not in info
    emb = call_tool(s, "embeddings", {}, RAW).text
    w_e = s.weights["embed.W_E"]
    first_token_line = emb.splitlines()[1]
    expected = " ".join(f"d{i}={float(v):g}" for i, v in enumerate(w_e[0].tolist()) if v)
    assert first_token_line.endswith(expected)


def test_raw_mode_leaves_the_subject_and_labelled_mode_untouched(reverse_subject):
    s = reverse_subject
    args = {"input": s.vocab[:3], "layer": 0}
    before = call_tool(s, "decode_residual", args, ToolContext(condition="whitebox")).text
    call_tool(s, "decode_residual", args, RAW)
    assert call_tool(s, "decode_residual", args, ToolContext(condition="whitebox")).text == before
    assert s.residual_labels[0] != "d0" and s.card.residual_labels


def test_unknown_residual_mode_is_an_error_text_not_an_exception(reverse_subject):
    r = call_tool(reverse_subject, "model_info", {}, ToolContext(residual="rawest"))
    assert r.is_error and r.text == "error: unknown residual mode 'rawest'; choose one of: labelled, raw"


def test_cli_tool_decode_residual_raw():
    r = CliRunner().invoke(app, ["tool", "sort", "decode_residual", '{"input": [1, 3, 2], "layer": 1}',
                                 "--residual", "raw", "-c", "whitebox"])
    assert r.exit_code == 0, r.output
    lines = r.output.strip().splitlines()
    assert lines[0].startswith("blocks.1.hook_resid_post, unlabelled")
    assert re.match(r"^1 1\s+d\d+=1( d\d+=[-\d.]+)+$", lines[2])
    assert ":" not in "".join(lines[1:])


def test_cli_unknown_residual_mode_is_one_line_exit_2():
    r = CliRunner().invoke(app, ["tool", "sort", "model_info", "--residual", "rawish"])
    assert r.exit_code == 2
    assert r.output.strip() == "error: unknown residual mode 'rawish'; choose one of: labelled, raw"


# -- the episode, the transcript, eval, report and rescore -----------------------------------------

def _events(path):
    from tracr_agent.agent.records import transcript as tr

    return tr.read_transcript(path)[0]


def test_run_raw_records_the_mode_and_shows_no_label(tmp_path, load):
    """`run --residual raw`: header says raw, the prompt says unlabelled, no tool result names a
    variable, and `replay --rerun` re-executes the calls in raw mode (every result matches)."""
    from tracr_agent.agent.records import transcript as tr

    path = tmp_path / "raw.jsonl"
    r = CliRunner().invoke(app, ["run", "reverse", "-c", "whitebox", "--residual", "raw", "--llm", "baseline",
                                 "-q", "--transcript", str(path), "--max-tool-calls", "6"])
    assert r.exit_code == 0, r.output
    ev = _events(path)
    assert ev[0].residual == "raw" and ev[0].condition == "whitebox"
    system = ev[1].messages[0]["content"]
    assert "unlabelled (d0, d1, …)" in system and "v1, v2" not in system
    results = [e for e in ev if isinstance(e, tr.ToolResultEvent)]
    assert results
    subject = load("reverse")
    for e in results:
        assert find_label_leaks(e.text, subject) == [], (e.name, e.text)
    assert isinstance(ev[-1], tr.EndEvent)
    rerun = CliRunner().invoke(app, ["replay", str(path), "--rerun"])
    assert rerun.exit_code == 0, rerun.output


def test_old_transcripts_read_as_labelled():
    from pathlib import Path

    for path in sorted(Path(__file__).resolve().parents[2].glob("transcripts/baseline-*.jsonl")):
        text = path.read_text()
        assert '"residual"' not in text.splitlines()[0]
        assert _events(path)[0].residual == "labelled"


def test_eval_residual_axis_report_and_rescore(tmp_path):
    from tracr_agent.agent.evaluation.batch import read_results

    out = tmp_path / "ev"
    r = CliRunner().invoke(app, ["eval", "--tasks", "reverse", "--conditions", "full", "--residual", "labelled,raw",
                                 "--llm", "baseline", "--out", str(out)])
    assert r.exit_code == 0, r.output
    recs = sorted(read_results(out), key=lambda x: x.residual)
    assert [x.residual for x in recs] == ["labelled", "raw"]
    assert recs[0].key == "reverse|full|baseline|0" and recs[1].key == "reverse|full|raw|baseline|0"
    assert [_events(out / x.transcript)[0].residual for x in recs] == ["labelled", "raw"]
    md = (out / "report.md").read_text()
    assert "| reverse | full | baseline | 1 |" in md and "| reverse | full (raw) | baseline | 1 |" in md
    assert CliRunner().invoke(app, ["rescore", str(out)]).exit_code == 0
    assert sorted(x.residual for x in read_results(out)) == ["labelled", "raw"]
    # a results line from before the field reads as labelled
    lines = (out / "results.jsonl").read_text().splitlines()
    import json

    old = json.loads(lines[0])
    old.pop("residual")
    (out / "results.jsonl").write_text(json.dumps(old) + "\n")
    assert read_results(out)[0].residual == "labelled"


@pytest.mark.parametrize("argv", [
    ["eval", "--tasks", "reverse", "--residual", "labelled,rawest", "--llm", "baseline", "--out", "{tmp}/ev"],
    ["run", "reverse", "--residual", "rawest", "--llm", "baseline", "--out", "{tmp}/t"],
    ["lab", "reverse", "--residual", "rawest", "--out", "{tmp}/t"],
])
def test_unknown_residual_mode_on_every_command_is_one_line(tmp_path, argv):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    r = CliRunner().invoke(app, argv)
    assert r.exit_code == 2, r.output
    assert r.output.strip().count("\n") == 0 and "unknown residual mode" in r.output and "rawest" in r.output
    assert not any(tmp_path.iterdir())


def test_lab_raw_records_the_mode_and_shows_raw_dims(tmp_path):
    from tracr_agent.agent.records import transcript as tr

    path = tmp_path / "lab.jsonl"
    r = CliRunner().invoke(app, ["lab", "reverse", "-c", "whitebox", "--residual", "raw", "--transcript", str(path)],
                           input='decode_residual {"input": ["a", "b"], "layer": 0}\nmodel_info\nquit\n')
    assert r.exit_code == 0, r.output
    assert "unlabelled: the non-zero dims per position" in r.output
    ev = _events(path)
    assert ev[0].residual == "raw" and ev[0].actor == "human"
    texts = [e.text for e in ev if isinstance(e, tr.ToolResultEvent)]
    assert len(texts) == 2 and "unlabelled dims d0.." in texts[1]


def test_static_dump_in_raw_mode_names_no_variable(reverse_subject):
    from tracr_agent.agent.investigators.static import static_dump

    hooks = ("attn.hook_pattern", "hook_pos_embed", "hook_embed", "hook_resid_post")
    labelled = static_dump(reverse_subject, "static+io", hooks)[0]
    raw = static_dump(reverse_subject, "static+io", hooks, residual="raw")[0]
    assert find_label_leaks(labelled, reverse_subject)  # the labelled dump does name them
    assert find_label_leaks(raw, reverse_subject) == []
    assert re.search(r"\bd\d+=1\b", raw)
