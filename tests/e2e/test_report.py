"""`tracr-agent report` over results.jsonl files written here: extreme cells never crash the plots,
and a plot that fails still leaves the table, report.md and report.html written.

These tests are about drawing a report from records: the records written here have no transcripts,
so `report_records` is made to hand them over as recorded (the `as_recorded` fixture). That
`report` scores every record afresh from its own transcript, and marks one it cannot score, is
tested on real evaluations in tests/e2e/test_integrity.py."""

from __future__ import annotations

import json
import re

import matplotlib.axes
import matplotlib.figure
import pytest
from typer.testing import CliRunner

from tracr_agent.agent.cli.main import app
from tracr_agent.agent.evaluation import report
from tracr_agent.agent.evaluation.batch import ResultRecord, read_results
from tracr_agent.agent.evaluation.report import wilson

runner = CliRunner()


@pytest.fixture(autouse=True)
def as_recorded(monkeypatch):
    monkeypatch.setattr(report, "report_records", lambda out_dir, *a, **k: read_results(out_dir, strict=True))


def record(task: str, trial: int, correct: bool | None, condition: str = "full", status: str = "prediction"):
    return ResultRecord(key=f"{task}|{condition}|baseline|{trial}", task=task, condition=condition, llm="baseline",
                        trial=trial, status=status, label=task if correct else None, label_correct=correct,
                        functional_correct=correct, tool_calls=3, tokens=100 * trial, duration_s=1.5)


def write_results(d, records) -> None:
    d.mkdir(parents=True, exist_ok=True)
    (d / "results.jsonl").write_text("".join(r.model_dump_json() + "\n" for r in records))


def extreme_cells() -> list[ResultRecord]:
    """All-correct cells of 6 and 11 (Wilson's upper bound used to round a hair below 1.0 at n=6),
    an all-wrong cell of 11 (its lower bound a hair above 0), and an errored cell with no score."""
    recs = [record("reverse", t, True) for t in range(6)]
    recs += [record("sort", t, True, condition="blackbox") for t in range(11)]
    recs += [record("length", t, False) for t in range(11)]
    recs += [record("hist", t, None, status="error") for t in range(2)]
    return recs


def test_wilson_bounds_are_exact_at_the_extremes():
    for n in range(1, 60):
        assert wilson(n, n)[1] == 1.0 and wilson(0, n)[0] == 0.0
        lo, hi = wilson(n // 2, n)
        assert 0.0 < lo < n // 2 / n < hi < 1.0 or n == 1
    assert wilson(0, 0) == (0.0, 0.0)


def test_report_with_all_correct_all_wrong_and_errored_cells(tmp_path):
    d = tmp_path / "ev"
    write_results(d, extreme_cells())
    r = runner.invoke(app, ["report", str(d)])
    assert r.exit_code == 0, r.output
    assert r.exception is None and "warning" not in r.output
    md = (d / "report.md").read_text()
    assert "| reverse | full | baseline | 6 | 6/6 (100%, CI 61–100) |" in md
    assert "| length | full | baseline | 11 | 0/11 (0%, CI 0–26) |" in md
    assert "| hist | full | baseline | 2 | 0/2 (0%" in md
    assert "| (all tasks) | full | baseline | 19 | 6/19" in md
    for png in ("accuracy_by_condition.png", "accuracy.png", "accuracy_intervals.png", "accuracy_vs_tokens.png"):
        assert (d / png).read_bytes().startswith(b"\x89PNG"), png
        assert f"![{png}]({png})" in md
    assert (d / "report.html").read_text().count("data:image/png;base64,") == 4


def test_report_of_an_empty_results_file(tmp_path):
    d = tmp_path / "ev"
    write_results(d, [])
    r = runner.invoke(app, ["report", str(d)])
    assert r.exit_code == 0, r.output
    assert (d / "report.md").is_file() and (d / "report.html").is_file()
    assert not list(d.glob("*.png"))


def test_a_failing_plot_leaves_the_reports_and_names_itself(tmp_path, monkeypatch):
    d = tmp_path / "ev"
    write_results(d, extreme_cells())

    def broken(*args, **kwargs):
        raise RuntimeError("log axis unavailable\nsecond line never shown")

    # Only the tokens plot uses a log axis: the accuracy plot must still be drawn.
    monkeypatch.setattr(matplotlib.axes.Axes, "set_xscale", broken)
    r = runner.invoke(app, ["report", str(d)])
    assert r.exit_code == 0, r.output
    assert "Traceback" not in r.output and r.exception is None
    warnings = [line for line in r.stderr.splitlines() if "warning" in line]
    assert warnings == ["warning: plot accuracy_vs_tokens.png failed: RuntimeError: log axis unavailable"]
    assert "6/6" in r.stdout  # the table was printed
    md = (d / "report.md").read_text()
    assert "| reverse | full | baseline | 6 | 6/6" in md and "plot accuracy_vs_tokens.png failed" in md
    assert (d / "accuracy.png").is_file() and not (d / "accuracy_vs_tokens.png").exists()
    page = (d / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 3 and "plot accuracy_vs_tokens.png failed" in page

    # every plot failing still writes both reports
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", broken)
    r = runner.invoke(app, ["report", str(d)])
    assert r.exit_code == 0, r.output
    assert len([line for line in r.stderr.splitlines() if "warning" in line]) == 4
    assert "6/6" in (d / "report.md").read_text()


def png_size(path) -> tuple[int, int]:
    import struct

    data = path.read_bytes()
    assert data.startswith(b"\x89PNG")
    return struct.unpack(">II", data[16:24])


def test_plots_stay_readable_at_120_tasks_and_skip_tokens_when_none_were_spent(tmp_path):
    d = tmp_path / "ev"
    recs = [ResultRecord(key=f"t{i:03d}|{c}|baseline|{k}", task=f"t{i:03d}", condition=c, llm="baseline", trial=k,
                         status="prediction", label_correct=(i + k) % 3 > 0, functional_correct=(i + k) % 3 > 0,
                         tool_calls=3, tokens=0)
            for i in range(120) for c in ("full", "whitebox") for k in range(3)]
    write_results(d, recs)
    r = runner.invoke(app, ["report", str(d)])
    assert r.exit_code == 0, r.output
    assert "warning" not in r.output
    # One row of the heatmap and of the dot plot per task, ~22 px each at 100 dpi: 120 tasks stay legible.
    for png in ("accuracy.png", "accuracy_intervals.png"):
        width, height = png_size(d / png)
        assert height >= 120 * 22 and width < 1200, (png, width, height)
    assert not (d / "accuracy_vs_tokens.png").exists()
    md = (d / "report.md").read_text()
    assert "*accuracy_vs_tokens.png not drawn: no row spent LLM tokens (e.g. the baseline only)*" in md


def test_accuracy_against_tokens_plots_only_rows_that_spent_tokens(tmp_path, monkeypatch):
    d = tmp_path / "ev"
    recs = [record("reverse", t, True) for t in range(3)]  # tokens 0, 100, 200: mean 100
    recs += [ResultRecord(key=f"sort|full|baseline|{t}", task="sort", condition="full", llm="baseline", trial=t,
                          status="prediction", functional_correct=True, tokens=0) for t in range(3)]
    write_results(d, recs)
    seen: list = []
    real = matplotlib.axes.Axes.scatter

    def spy(self, x, y, *args, **kwargs):
        seen.append(list(x))
        return real(self, x, y, *args, **kwargs)

    monkeypatch.setattr(matplotlib.axes.Axes, "scatter", spy)
    assert runner.invoke(app, ["report", str(d)]).exit_code == 0
    assert seen == [[100.0]]  # reverse only: sort spent no tokens, the '(all tasks)' row is an aggregate
    assert (d / "accuracy_vs_tokens.png").is_file()


def test_the_report_table_links_each_row_into_the_viewer(tmp_path):
    d = tmp_path / "ev"
    write_results(d, extreme_cells())
    assert runner.invoke(app, ["report", str(d)]).exit_code == 0
    md = (d / "report.md").read_text()
    assert "| reverse | full | baseline | 6 | 6/6 (100%, CI 61–100) |" in md
    assert "[view](view.html#task=reverse&condition=full&residual=labelled&transform=none&llm=baseline) |" in md
    assert "[view](view.html#condition=full&residual=labelled&transform=none&llm=baseline) |" in md  # the (all tasks) row
    page = (d / "report.html").read_text()
    assert ('<a href="view.html#task=sort&amp;condition=blackbox&amp;residual=labelled&amp;transform=none&amp;llm=baseline">view</a>'
            in page)
    view = (d / "view.html").read_text()
    assert 'data-task="sort"' in view and 'data-condition="blackbox"' in view


def corrupt_dirs(tmp_path):
    """Results files a crash, a cut copy or a stray editor leave: a torn line in the middle, and
    bytes that are not UTF-8."""
    good = [record("reverse", t, True) for t in range(3)]
    lines = [r.model_dump_json() for r in good]
    torn = tmp_path / "torn"
    torn.mkdir()
    (torn / "results.jsonl").write_text("\n".join([lines[0], lines[1][:40], lines[2]]) + "\n")
    binary = tmp_path / "binary"
    binary.mkdir()
    (binary / "results.jsonl").write_bytes(lines[0].encode() + b"\n\x00\xff\xfe\n" + lines[2].encode() + b"\n")
    return [torn, binary]


def test_report_and_rescore_of_a_corrupt_results_file_say_which_line_and_change_nothing(tmp_path):
    for d in corrupt_dirs(tmp_path):
        before = (d / "results.jsonl").read_bytes()
        for cmd in ("report", "rescore"):
            res = runner.invoke(app, [cmd, str(d)])
            assert res.exit_code == 2, (cmd, d.name, res.output)
            assert res.exception is None or isinstance(res.exception, SystemExit), (cmd, d.name, res.exception)
            assert "Traceback" not in res.output
            assert f"{d / 'results.jsonl'}:2: corrupt results line" in res.output, (cmd, d.name, res.output)
            # nothing lost: rescore does not rewrite the file without the line it could not read
            assert (d / "results.jsonl").read_bytes() == before, (cmd, d.name)
            assert not (d / "report.md").exists()


def _records_of_a_study() -> list[ResultRecord]:
    """Two LLMs — one a spec with a URL — over every condition, given out of the study's order."""
    url = "openai-compatible:qwen2.5-coder-32b-instruct@http://10.0.0.5:8000/v1"
    recs = []
    for c in ("full", "static", "whitebox", "static+io", "blackbox"):
        for llm in ("baseline", url):
            for t in range(2):
                recs.append(ResultRecord(key=f"reverse|{c}|{llm}|{t}", task="reverse", condition=c, llm=llm, trial=t,
                                         status="prediction", label="reverse", label_correct=t == 0,
                                         functional_correct=t == 0, tool_calls=2, tokens=10 * (llm != "baseline")))
    return recs


def test_the_report_reads_headline_chart_table_breakdowns_plots_then_appendix(tmp_path):
    d = tmp_path / "ev"
    write_results(d, _records_of_a_study() + [record("gen-1-1-2", 0, True)])
    r = runner.invoke(app, ["report", str(d)])
    assert r.exit_code == 0, r.output
    md = (d / "report.md").read_text()
    order = ["## Headline", "![accuracy_by_condition.png]", "| task | condition | LLM |", "![accuracy.png]",
             "![accuracy_intervals.png]", "## Appendix: generated programs"]
    at = [md.index(x) for x in order]
    assert at == sorted(at), dict(zip(order, at))
    page = (d / "report.html").read_text()
    html_order = ["<h2>Headline</h2>", 'alt="accuracy_by_condition.png"', "<h2>Results</h2>", 'alt="accuracy.png"',
                  "<h2>Appendix: generated programs"]
    assert [page.index(x) for x in html_order] == sorted(page.index(x) for x in html_order)
    # conditions in the study's order; the URL spec by its model, never the URL
    headline = md.split("## Headline")[1].split("![")[0]
    conds = [line.split(" · ")[0].removeprefix("- ") for line in headline.splitlines() if line.startswith("- ")]
    assert conds == [c for c in ("static", "static+io", "blackbox", "whitebox", "full") for _ in range(2)]
    shown = re.sub(r"\(view\.html#[^)]*\)", "", md)  # the text, without the viewer links' targets
    assert "openai-compatible:qwen2.5-coder-32b-instruct" in shown and "10.0.0.5" not in shown
    table = [row.split(" | ")[1] for row in md.splitlines() if row.startswith("| reverse | ")]
    assert table == [c for c in ("static", "static+io", "blackbox", "whitebox", "full") for _ in range(2)]


def test_llm_names_and_json_cells(tmp_path):
    d = tmp_path / "ev"
    write_results(d, _records_of_a_study())
    url = "openai-compatible:qwen2.5-coder-32b-instruct@http://10.0.0.5:8000/v1"
    r = runner.invoke(app, ["report", str(d), "--llm-name", f"{url}=qwen32b", "--json"])
    assert r.exit_code == 0, r.output
    objects = [json.loads(line) for line in r.stdout.splitlines()]
    cells = [o for o in objects if o["type"] == "cell"]
    assert {c["llm"] for c in cells} == {"baseline", "qwen32b"} and {c["llm_spec"] for c in cells} == {"baseline", url}
    static = next(c for c in cells if c["condition"] == "static" and c["llm"] == "qwen32b")
    assert static["functional"] == {"k": 1, "n": 2, "rate": 0.5, "ci_low": 0.0945, "ci_high": 0.9055}
    assert static["label"]["k"] == 1 and static["tokens"] == 10.0 and static["cost"] == 0.0
    assert objects[-1]["type"] == "summary" and objects[-1]["episodes"] == 20
    assert "qwen32b" in (d / "report.md").read_text()
    # a bare name with several LLMs, or a spec that is not there, is one line
    for bad, says in (("qwen", "hold 2 LLMs"), ("nope=x", "no LLM 'nope'")):
        r = runner.invoke(app, ["report", str(d), "--llm-name", bad])
        assert r.exit_code == 2 and says in r.output and len(r.output.strip().splitlines()) == 1, r.output


def test_a_narrow_terminal_never_cuts_a_cell(tmp_path):
    from rich.console import Console

    from tracr_agent.agent.evaluation.report import TERMINAL_COLUMNS, TERMINAL_TITLE, load_rows, terminal_cells
    from tracr_agent.agent.render.tables import natural_width, print_table

    d = tmp_path / "ev"
    recs = _records_of_a_study()
    recs.append(record("a_task_with_a_rather_long_name_indeed", 0, True))
    write_results(d, recs)
    cells = terminal_cells(load_rows(d))
    fits = natural_width(list(TERMINAL_COLUMNS), cells)
    for width in (60, 100, fits - 1, fits, 250):  # a table exactly as wide as the console is whole too
        console = Console(width=width, record=True, color_system=None)
        print_table(console, TERMINAL_TITLE, list(TERMINAL_COLUMNS), cells, right=frozenset(TERMINAL_COLUMNS[3:]))
        text = console.export_text()
        for row in cells:  # every cell whole, never cut or folded
            assert all(any(cell in line for line in text.splitlines()) for cell in row), (width, row)
        assert "…" not in text
