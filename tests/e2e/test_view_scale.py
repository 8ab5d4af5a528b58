"""The viewer on real batches at scale, in headless Chromium: a 100-episode whitebox eval of the decompiler
and the open-world baseline — both read the model through get_activations' JSON form — shows a picture in
every episode wherever it read attention or the residual stream; and a 1,000-episode page (that eval's
episodes repeated as further trials, tests/batches.py) keeps its episodes beside it, loads, filters and
opens an episode. Both are slow (a real eval of 100 episodes first)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from batches import replicate_eval
from browser import in_page
from tracr_agent.agent.cli.main import app
from tracr_agent.agent.records import transcript as tr
from tracr_agent.tools.protocol.hooks import hook_kind
from tracr_agent.tools.subjects.zoo import all_tasks

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("test_view_scale")]

runner = CliRunner()


@pytest.fixture(scope="module")
def whitebox_eval(tmp_path_factory) -> Path:
    """100 episodes: 25 zoo tasks × the decompiler and the baseline × 2 trials, condition whitebox."""
    out = tmp_path_factory.mktemp("scale") / "ev"
    tasks = ",".join(t.id for t in all_tasks()[:25])
    r = runner.invoke(app, ["eval", "--tasks", tasks, "--conditions", "whitebox", "--llm", "decompiler", "--llm",
                            "baseline", "--trials", "2", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert len((out / "results.jsonl").read_text().splitlines()) == 100
    return out


def _read(path: Path) -> set[str]:
    """What an episode's tool calls read: 'attention' and/or 'residual' (text tools and JSON reads alike)."""
    kinds = set()
    for ev in tr.read_transcript(path)[0]:
        if not isinstance(ev, tr.ToolCallEvent) or not isinstance(ev.args, dict):
            continue
        if ev.name == "attention_pattern":
            kinds.add("attention")
        elif ev.name == "decode_residual":
            kinds.add("residual")
        elif ev.name == "get_activations":
            for hook in str(ev.args.get("hook", "")).split(","):
                kind = hook_kind(hook.strip()) if hook.strip() else ""
                kinds |= {"head_table": {"attention"}, "resid": {"residual"}}.get(kind, set())
    return kinds


COUNT_PICTURES = """
  var ids = Array.from(document.querySelectorAll('tr.ep')).map(function (r) { return r.id.slice(4); });
  out.episodes = {};
  for (var i = 0; i < ids.length; i++) {
    await go('#' + ids[i]);
    await drawn(ids[i]);
    var kinds = {};
    document.querySelectorAll('#' + ids[i] + ' figure.picture').forEach(function (f) {
      if (f.querySelector('table')) kinds[f.getAttribute('data-picture')] = (kinds[f.getAttribute('data-picture')] || 0) + 1;
    });
    out.episodes[ids[i]] = {row: document.getElementById('row-' + ids[i]).getAttribute('data-llm'), kinds: kinds};
  }
"""


def test_every_episode_that_read_attention_or_the_residual_stream_shows_it(whitebox_eval):
    r = runner.invoke(app, ["view", str(whitebox_eval)])
    assert r.exit_code == 0, r.output
    records = [json.loads(line) for line in (whitebox_eval / "results.jsonl").read_text().splitlines()]
    out = in_page(whitebox_eval / "view.html", COUNT_PICTURES, budget_ms=120000)
    assert len(out["episodes"]) == 100
    read_some = 0
    for i, rec in enumerate(records, 1):
        read = _read(whitebox_eval / rec["transcript"])
        drawn = out["episodes"][f"ep-{i}"]["kinds"]
        read_some += bool(read)
        for kind in read:  # every kind of read drawn (as a table of cells) at least once
            assert drawn.get(kind, 0) >= 1, (rec["key"], read, drawn)
    assert read_some >= 90  # nearly every whitebox episode reads the internals; none may lack its pictures


def test_a_page_of_1000_episodes_loads_filters_and_opens_an_episode(whitebox_eval, tmp_path):
    big = replicate_eval(whitebox_eval, tmp_path / "ev1000", 1000)
    r = runner.invoke(app, ["view", str(big)])
    assert r.exit_code == 0 and "1000 episode(s)" in r.output, r.output
    page = big / "view.html"
    files = list((big / "view-episodes").glob("*.js"))
    assert len(files) == 1000 and page.stat().st_size < 3_000_000  # the list in the page, each episode beside it
    records = [json.loads(line) for line in (big / "results.jsonl").read_text().splitlines()]
    wrong = sum(r["status"] == "prediction" and not r["functional_correct"] for r in records)
    out = in_page(page, """
      out.all = document.getElementById('shown').textContent;
      await go('#filter=correct&llm=decompiler');
      out.correctDecompiler = document.getElementById('shown').textContent;
      await go('#q=sort_unique');
      out.searched = document.getElementById('shown').textContent;
      await go('#list');
      await go('#ep-1000'); await drawn('ep-1000');
      out.pictures = document.querySelectorAll('#ep-1000 figure.picture table').length;
      out.pos = document.querySelector('#ep-1000 .pos').textContent;
    """, fragment=f"#filter={'wrong' if wrong else 'correct'}", budget_ms=60000)
    correct_decompiler = sum(bool(r["functional_correct"]) and r["llm"] == "decompiler" for r in records)
    assert out["all"] == str(wrong if wrong else sum(bool(r["functional_correct"]) for r in records))
    assert out["correctDecompiler"] == str(correct_decompiler)
    assert out["searched"] == str(sum(r["task"] == "sort_unique" for r in records))
    assert out["pictures"] > 0 and out["pos"] == "1000 of 1000 shown"
    # the episodes are kept while their transcripts are unchanged: a second view draws nothing again
    before = {f.name: f.stat().st_mtime_ns for f in files}
    assert runner.invoke(app, ["view", str(big)]).exit_code == 0
    assert {f.name: f.stat().st_mtime_ns for f in (big / "view-episodes").glob("*.js")} == before
