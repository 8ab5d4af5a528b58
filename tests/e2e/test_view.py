"""`tracr-agent view`: one self-contained HTML page, loaded in headless Chromium; the tests assert on the
rendered DOM (heatmap cells, the hash-driven filter, an episode's tool calls drawn as pictures).

The batch is a real `eval` (through the CLI) of reverse with three LLMs: the baseline (correct), a
replayed script that calls attention_pattern, decode_residual, ablate, patch and run_model and then
submits a wrong prediction, and a script that never calls a tool (no prediction)."""

from __future__ import annotations

import json
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
from typer.testing import CliRunner

from browser import chromium_dom, in_page
from recorded import recorded
from tracr_agent.agent.cli.main import app

# one pytest-xdist worker runs this whole module: the evaluated folder (a module fixture) is built once
pytestmark = pytest.mark.xdist_group("test_view")

REPO = Path(__file__).resolve().parents[2]
runner = CliRunner()
X = ["a", "b", "c"]


def _script(path: Path, responses: list[tuple[str, list]]) -> Path:
    events = [{"type": "header", "schema_version": 1, "subject": {"fingerprint": "script", "task_id": "reverse"},
               "condition": "full", "llm": "script"}]
    for step, (text, calls) in enumerate(responses, 1):
        events.append({"type": "llm_response", "step": step, "text": text,
                       "tool_calls": [{"id": f"c{step}_{k}", "name": n, "args": a} for k, (n, a) in enumerate(calls)],
                       "usage": {"input_tokens": 1000, "output_tokens": 200}})
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    return path


@pytest.fixture(scope="module")
def eval_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("view")
    wrong = _script(d / "wrong.jsonl", [
        ("Attention and the residual stream first.", [
            ("attention_pattern", {"layer": 3, "head": 0, "input": X}), ("decode_residual", {"layer": 2, "input": X})]),
        ("Knock the head out, then patch it.", [
            ("ablate", {"components": ["3.0"], "inputs": [X, ["d", "a"]]}),
            ("patch", {"component": "3.0", "clean_input": X, "corrupt_input": ["d", "a", "b"]}),
            ("run_model", {"inputs": [X, ["b", "a"]]})]),
        ("It sorts.", [("submit_prediction", {"label": "sort", "description": "sorts the tokens",
                                              "implementation": "def f(tokens):\n    return sorted(tokens)\n",
                                              "confidence": 0.6})]),
    ])
    silent = _script(d / "silent.jsonl", [("No idea yet.", []), ("Still none.", []), ("Nothing.", [])])
    out = d / "ev"
    r = runner.invoke(app, ["eval", "--tasks", "reverse", "--conditions", "full", "--llm", "baseline",
                            "--llm", f"replay:{wrong}", "--llm", f"replay:{silent}", "--trials", "1", "--out", str(out)])
    assert r.exit_code == 0, r.output
    return out


class Dom(HTMLParser):
    """Start tags with their attributes, and the text under the element with a given id."""

    def __init__(self, html: str):
        super().__init__()
        self.elements: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)

    def find(self, tag: str, **attrs) -> list[dict]:
        return [a for t, a in self.elements if t == tag and all(
            (a.get(k.rstrip("_")) or "").split().__contains__(v) if k == "class_" else a.get(k) == v
            for k, v in attrs.items())]


def view(*args) -> object:
    return runner.invoke(app, ["view", *map(str, args)])


def test_view_eval_dir_heatmap_and_hash_filter_in_chromium(eval_dir):
    r = view(eval_dir)
    assert r.exit_code == 0, r.output
    page = eval_dir / "view.html"
    assert "wrote" in r.output and page.is_file()
    html = page.read_text()
    assert "http://" not in html and "https://" not in html and "<link" not in html  # nothing fetched

    dom = Dom(chromium_dom(page, "#filter=wrong"))
    cells = dom.find("td", class_="acc")
    assert {(c["data-k"], c["data-n"]) for c in cells} == {("1", "1"), ("0", "1")}
    assert all("95% Wilson CI" in c["title"] for c in cells)
    assert any(c["title"].startswith("1/1 correct (100%, 95% Wilson CI 21–100%)") for c in cells)
    rows = dom.find("tr", class_="ep")
    assert len(rows) == 3
    shown = [r for r in rows if "hidden" not in r]
    assert [r["data-outcome"] for r in shown] == ["wrong"]
    assert shown[0]["data-llm"].startswith("replay:") and shown[0]["data-llm"].endswith("wrong.jsonl")
    state = json.loads(dom.find("section", id="list")[0]["data-state"])
    assert state == {"filter": "wrong"}

    dom = Dom(chromium_dom(page, "#filter=none&task=reverse"))
    shown = [r for r in dom.find("tr", class_="ep") if "hidden" not in r]
    assert [r["data-outcome"] for r in shown] == ["none"] and shown[0]["data-llm"].endswith("silent.jsonl")

    dom = Dom(chromium_dom(page, "#llm=baseline"))
    shown = [r for r in dom.find("tr", class_="ep") if "hidden" not in r]
    assert [(r["data-llm"], r["data-outcome"]) for r in shown] == [("baseline", "correct")]


def test_an_episode_shows_its_tool_calls_as_pictures(eval_dir):
    assert view(eval_dir, "--out", eval_dir / "v.html").exit_code == 0
    html = (eval_dir / "v.html").read_text()
    rows = Dom(html).find("tr", class_="ep")
    ep = next(r["id"].removeprefix("row-") for r in rows if r["data-outcome"] == "wrong")
    drawn = chromium_dom(eval_dir / "v.html", f"#{ep}")
    dom = Dom(drawn)
    assert "reading" in dom.find("body")[0].get("class", "")  # the overview steps aside for the episode
    text = "".join(dom.text)
    for tool in ("attention_pattern", "decode_residual", "ablate", "patch", "run_model", "submit_prediction"):
        assert f"→ {tool}" in text, tool
    # The episode is drawn when it is opened: the page's file holds it as data, the browser draws it.
    assert 'class="heatmap attention"' not in html
    # The attention pattern is a heatmap with the tokens on both axes and one cell per query × key.
    heat = drawn.split(f'id="{ep}"')[1]
    att = Dom(heat.split('class="heatmap attention"')[1].split("</table>")[0])
    assert [a for a in att.elements if a[0] == "th"]
    labels = "".join(att.text)
    assert labels.count("0 BOS") == 2 and labels.count("3 c") == 2
    cells = [a for t, a in att.elements if t == "td" and "cell" in a.get("class", "")]
    assert len(cells) == 16
    assert cells[1 * 4 + 3]["title"] == "query 1 a · key 3 c: 1"  # reverse: query 1 reads the last key
    assert "rgba(37,99,235,1.00)" in cells[1 * 4 + 3]["style"] and "rgba(37,99,235,0.00)" in cells[1 * 4 + 1]["style"]
    # The residual decode is a table of variables; ablation and patching are before/after.
    assert 'class="decode"' in heat and ">v4<" in heat
    assert 'class="effects ablate"' in heat and "changed at 1, 2, 3" in heat
    assert 'class="effects patch"' in heat and "clean run" in heat
    # The prediction beside the truth, and the inputs on which they disagree (from the score).
    assert "predicted" in text and "truth" in text and "list(reversed(tokens))" in text
    disagree = heat.split('class="disagree"')[1].split("</ul>")[0]
    assert "input [" in disagree and "expected" in disagree


def test_view_of_a_folder_and_of_old_format_transcripts(tmp_path):
    # A folder holding exactly the three examples (an older format version): the README's main
    # job writes its own transcript into ./transcripts, so the repo folder may hold more.
    folder = tmp_path / "examples"
    folder.mkdir()
    for t in ("reverse", "sort", "length"):
        shutil.copy(REPO / "transcripts" / f"baseline-{t}.jsonl", folder)
    out = tmp_path / "t.html"
    r = view(folder, "--out", out)
    assert r.exit_code == 0, r.output
    assert "3 episode(s)" in r.output
    html = out.read_text()
    assert html.count('class="episode"') == 3 and "→ run_model" in html
    one = tmp_path / "one.html"
    assert view(REPO / "transcripts" / "baseline-sort.jsonl", "--out", one).exit_code == 0
    assert one.read_text().count('class="episode"') == 1


def test_bad_input_is_one_line_and_exit_2(tmp_path, eval_dir):
    junk = tmp_path / "notes.txt"
    junk.write_text("hello\n")
    empty = tmp_path / "empty"
    empty.mkdir()
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    lines = (eval_dir / "results.jsonl").read_text().splitlines()
    (corrupt / "results.jsonl").write_text(lines[0] + "\n" + lines[1][:40] + "\n")
    for path, says in ((junk, "not a tracr-agent transcript"), (empty, "holds no tracr-agent transcript"),
                       (tmp_path / "missing", "no such file or directory"),
                       (corrupt, "results.jsonl:2: corrupt results line")):
        r = view(path)
        assert r.exit_code == 2, (path, r.output)
        assert says in r.output and len(r.output.strip().splitlines()) == 1, r.output
        assert "Traceback" not in r.output


def test_the_report_table_links_open_the_viewer_filtered_to_the_row(eval_dir):
    import re
    from html import unescape

    # `eval` wrote report.html and view.html side by side; follow the link of the scripted LLM's row.
    page = (eval_dir / "report.html").read_text()
    row = next(r for r in page.split("<tr>") if "wrong.jsonl" in r and "<td>reverse</td>" in r)
    href = unescape(re.search(r'<a href="([^"]+)">view</a>', row).group(1))
    file, _, fragment = href.partition("#")
    assert file == "view.html" and "task=reverse" in fragment and "condition=full" in fragment
    dom = Dom(chromium_dom(eval_dir / file, "#" + fragment))
    shown = [r for r in dom.find("tr", class_="ep") if "hidden" not in r]
    assert len(shown) == 1 and shown[0]["data-llm"].endswith("wrong.jsonl") and shown[0]["data-outcome"] == "wrong"


def test_open_hands_the_written_file_to_the_browser(tmp_path, monkeypatch):
    import webbrowser

    opened: list[str] = []
    monkeypatch.setattr(webbrowser, "open", lambda url, *a, **k: opened.append(url) or True)
    out = tmp_path / "v.html"
    r = view(REPO / "transcripts" / "baseline-sort.jsonl", "--out", out, "--open")
    assert r.exit_code == 0, r.output
    assert opened == [out.resolve().as_uri()]
    monkeypatch.setattr(webbrowser, "open", lambda url, *a, **k: False)  # no browser on this machine
    r = view(REPO / "transcripts" / "baseline-sort.jsonl", "--out", out, "--open")
    assert r.exit_code == 0 and "no browser could be started" in r.output


def test_a_torn_transcript_is_shown_up_to_the_tear_with_one_warning_naming_it_once(tmp_path):
    src = REPO / "transcripts" / "baseline-sort.jsonl"
    lines = src.read_text().splitlines()
    torn = tmp_path / "torn.jsonl"
    torn.write_text("\n".join(lines[:4]) + "\n" + lines[4][:25])
    r = view(torn, "--out", tmp_path / "t.html")
    assert r.exit_code == 0, r.output
    [warning] = [line for line in r.output.splitlines() if line.startswith("warning:")]
    assert f"{torn}:5: corrupt or truncated line" in warning and warning.count("torn.jsonl") == 1, warning
    assert (tmp_path / "t.html").read_text().count('class="episode"') == 1


def test_view_and_export_never_write_over_the_records_they_read(tmp_path):
    src = REPO / "transcripts" / "baseline-sort.jsonl"
    folder = tmp_path / "ts"
    folder.mkdir()
    mine = folder / "sort.jsonl"
    mine.write_bytes(src.read_bytes())
    results = tmp_path / "results.jsonl"
    results.write_text("{}\n")
    for args in (["view", folder, "--out", mine], ["view", mine, "--out", mine], ["view", folder, "--out", folder],
                 ["export", mine, "--out", mine], ["export", mine, "--out", results]):
        r = runner.invoke(app, [str(a) for a in args])
        assert r.exit_code == 2 and "refusing to overwrite" in r.output, (args, r.output)
        assert len(r.output.strip().splitlines()) == 1 and "Traceback" not in r.output
    assert mine.read_bytes() == src.read_bytes() and results.read_text() == "{}\n"


def test_unsafe_scoring_is_flagged_atop_the_page(tmp_path, eval_dir):
    """Episodes scored with --unsafe-sandbox are named atop the page, as atop report.md/html."""
    ev = tmp_path / "ev"
    shutil.copytree(eval_dir, ev)
    lines = (ev / "results.jsonl").read_text().splitlines()
    first = json.loads(lines[0])
    first["unsafe_sandbox"] = True
    (ev / "results.jsonl").write_text("\n".join([json.dumps(first)] + lines[1:]) + "\n")
    out = tmp_path / "v.html"
    assert view(ev, "--out", out).exit_code == 0
    assert f'class="unsafe">UNSAFE: 1 of {len(lines)} episode(s)' in out.read_text()
    clean = tmp_path / "clean.html"
    assert view(eval_dir, "--out", clean).exit_code == 0
    assert 'class="unsafe"' not in clean.read_text()
    # a folder of transcripts: the flag comes from each header
    tdir = tmp_path / "ts"
    tdir.mkdir()
    src = REPO / "transcripts" / "baseline-sort.jsonl"
    events = src.read_text().splitlines()
    header = json.loads(events[0])
    header["unsafe_sandbox"] = True
    (tdir / "a.jsonl").write_text("\n".join([json.dumps(header)] + events[1:]) + "\n")
    shutil.copy(src, tdir / "b.jsonl")
    assert view(tdir, "--out", tmp_path / "t.html").exit_code == 0
    assert 'class="unsafe">UNSAFE: 1 of 2 episode(s)' in (tmp_path / "t.html").read_text()


VISIBLE = "Array.from(document.querySelectorAll('tr.ep')).filter(function (r) { return !r.hidden; })"


def test_the_list_sorts_searches_filters_into_view_and_moves_between_episodes_by_keys(eval_dir):
    assert view(eval_dir, "--out", eval_dir / "nav.html").exit_code == 0
    out = in_page(eval_dir / "nav.html", f"""
      var col = Array.from(document.querySelectorAll('#list th[data-col]'))
        .find(function (h) {{ return h.textContent === 'tool calls'; }}).getAttribute('data-col');
      await go('#sort=' + col + ':desc');
      out.sorted = {VISIBLE}.map(function (r) {{ return +r.cells[col].getAttribute('data-v'); }});
      document.querySelector('#list th[data-col="' + col + '"]').click(); await wait(50);
      out.clicked = decodeURIComponent(location.hash);
      out.ascending = {VISIBLE}.map(function (r) {{ return +r.cells[col].getAttribute('data-v'); }});
      await go('#q=REPLAY');
      out.searched = {VISIBLE}.map(function (r) {{ return r.getAttribute('data-llm'); }});
      out.shown = document.getElementById('shown').textContent;
      window.scrollTo(0, 0); await wait(10);
      out.listBefore = Math.round(document.getElementById('list').getBoundingClientRect().top);
      await go('#filter=wrong');
      out.listTop = Math.round(document.getElementById('list').getBoundingClientRect().top);
      out.atBottom = Math.abs(window.scrollY + window.innerHeight - document.documentElement.scrollHeight) <= 2;
      await go('#list');
      var rows = {VISIBLE}.map(function (r) {{ return r.id.slice(4); }});
      out.rows = rows;
      await go('#' + rows[0]); await drawn(rows[0]);
      out.pos = document.querySelector('#' + rows[0] + ' .pos').textContent;
      out.prevOff = document.querySelector('#' + rows[0] + ' a.prev').classList.contains('off');
      out.verdict = document.querySelector('#' + rows[0] + ' div.verdict') !== null;
      await key('j'); out.j = location.hash;
      await key('ArrowRight'); out.right = location.hash;
      await key('k'); out.k = location.hash;
      await key('Escape'); out.esc = location.hash;
      out.reading = document.body.classList.contains('reading');
    """, size="1000,400")
    assert out["sorted"] == sorted(out["sorted"], reverse=True) and out["sorted"][0] > out["sorted"][-1]
    assert out["clicked"].endswith(":asc") and out["ascending"] == sorted(out["ascending"])  # a click flips it
    # the search reads every cell of a row, ignoring case: the two replayed LLMs
    assert out["shown"] == "2" and all(llm.startswith("replay:") for llm in out["searched"])
    # a filter brings the list into view: to the top of the window, or as far as the page scrolls
    assert out["listBefore"] > 100 and (abs(out["listTop"]) <= 2 or (out["atBottom"] and out["listTop"] < 100)), out
    rows = out["rows"]
    assert len(rows) == 3 and out["pos"] == "1 of 3 shown" and out["prevOff"] and out["verdict"]
    assert (out["j"], out["right"], out["k"]) == (f"#{rows[1]}", f"#{rows[2]}", f"#{rows[1]}")
    assert out["esc"] == "#list" and not out["reading"]


def test_view_of_one_transcript_opens_on_its_episode(tmp_path):
    out = tmp_path / "one.html"
    assert view(REPO / "transcripts" / "baseline-sort.jsonl", "--out", out).exit_code == 0
    dom = Dom(chromium_dom(out))
    assert "reading" in dom.find("body")[0].get("class", "")
    assert dom.find("section", class_="open") and dom.find("div", class_="verdict")


def test_json_reads_a_probe_and_a_static_dump_are_drawn_as_pictures(tmp_path, reverse_subject):
    from tracr_agent.agent.investigators.static import static_prompt
    from tracr_agent.tools.conditions import Condition

    json_read = {"hook": "blocks.3.hook_resid_post,blocks.3.attn.hook_pattern", "input": [X, ["d", "a"]],
                 "format": "json"}
    path = recorded(tmp_path / "ep.jsonl", reverse_subject,
                     [("get_activations", json_read), ("probe", {"hook": "blocks.3.hook_resid_post", "property": "token"})],
                     prompt=static_prompt(reverse_subject, Condition.STATIC_IO))
    assert view(path, "--out", tmp_path / "ep.html").exit_code == 0
    out = in_page(tmp_path / "ep.html", """
      await drawn('ep-1');
      var body = document.querySelector('#ep-1 .body');
      out.calls = Array.from(body.querySelectorAll('div.call')).map(function (c) {
        return Array.from(c.querySelectorAll('figure.picture')).map(function (f) {
          return [f.getAttribute('data-picture'), f.querySelectorAll('td').length]; }); });
      out.dump = Array.from(body.querySelectorAll('div.dump figure.picture')).map(function (f) {
        return f.getAttribute('data-picture'); });
      out.args = body.querySelector('div.call p.args').textContent;
      var raw = body.querySelector('div.call details.raw');
      out.cut = raw.querySelector('pre').textContent.split('\\n').length;
      out.more = raw.querySelector('details.more summary').textContent;
    """)
    read, probe = out["calls"]
    # per input: the residual stream by variable, then the head's pattern; every cell drawn
    assert [kind for kind, _ in read] == ["residual", "attention", "residual", "attention"]
    assert read[1][1] == 4 * 4 and read[3][1] == 3 * 3  # BOS + 3 queries × keys; BOS + 2
    assert probe == [["probe", 4]]  # guessing the most common value, then ranks 1..3
    assert out["dump"].count("attention") >= 4 and "io" in out["dump"]  # every layer's pattern, and the pairs
    assert out["args"] == ("hook=blocks.3.hook_resid_post,blocks.3.attn.hook_pattern input=2 inputs: [a b c] [d a] "
                           "format=json")
    assert out["cut"] == 30 and out["more"].startswith("… ") and out["more"].endswith("more lines")  # JSON laid out, cut
