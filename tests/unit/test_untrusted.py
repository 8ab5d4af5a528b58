"""The helpers every command uses for untrusted data (tools/untrusted/): text shown, never obeyed;
names hiding characters refused; JSON nesting counted in linear time; writes that never follow a
symlink nor touch what is not a regular file; paths kept inside their directory; and the decompiled
program's identifiers and comments, which no artefact text can turn into code."""

from __future__ import annotations

import os
import stat

import pytest

from tracr_agent.agent.investigators.decompiler.program import HeadStep, MlpStep, Program, python_names, source, trace
from tracr_agent.agent.render.terminal import SafeConsole
from tracr_agent.tools.errors import UserError
from tracr_agent.tools.untrusted import jsonio
from tracr_agent.tools.untrusted.files import check_target, inside, open_regular, write_atomic
from tracr_agent.tools.untrusted.text import check_name, hidden_character, html_text, markup, shown, shown_data

EVIL = "[/] \x1b]0;pwned\x07\x1b[2K ok \u202eesrever\u200b\x9b\ud800\x7f"


def test_shown_makes_every_hidden_or_acting_character_visible():
    assert shown(EVIL) == "[/] ␛]0;pwned␇␛[2K ok \\u202eesrever\\u200b\\x9b\\ud800␡"
    assert shown("a\nb\tc\r") == "a\nb\tc␍"  # newlines and tabs kept, a carriage return shown
    assert shown("a\nb\tc", one_line=True) == "a b c"
    assert shown("plain ünïcode 中文 ✓") == "plain ünïcode 中文 ✓"  # printable text is left alone
    assert shown(42) == "42"
    for ch in "\x00\x1b\x7f\x85\u061c\u200e\u2028\u2066\ufeff\U000e0001":
        assert ch not in shown(f"x{ch}y"), repr(ch)


def test_markup_and_html_text_are_inert_where_they_are_put():
    from rich.console import Console

    console = Console(file=open(os.devnull, "w"), force_terminal=True)
    console.print(f"[bold]{markup(EVIL)}[/]")  # a bare "[/]" would raise MarkupError
    plain = Console(width=80)
    with plain.capture() as cap:
        plain.print(f"[bold]{markup('[red]x[/red] [/]')}[/]", highlight=False)
    assert cap.get() == "[red]x[/red] [/]\n"
    assert html_text('<script>"x"</script>') == "&lt;script&gt;&quot;x&quot;&lt;/script&gt;"
    assert html_text("'q'", quote=False) == "'q'"


def test_shown_data_copies_events_and_records_with_every_string_shown():
    from tracr_agent.agent.records import transcript as tr

    ev = tr.ToolCallEvent(step=1, call_id="c\x1b", name="n\u202e", args={"k\x07": ["v\x1b", 3]})
    safe = shown_data(ev)
    assert isinstance(safe, tr.ToolCallEvent) and safe.call_id == "c␛" and safe.name == "n\\u202e"
    assert safe.args == {"k␇": ["v␛", 3]} and ev.call_id == "c\x1b"  # a copy: the event is unchanged
    deep: list = []
    for _ in range(400):
        deep = [deep]
    shown_data(deep)  # nesting beyond the bound ends in "…", never a RecursionError


def test_the_safe_console_never_writes_a_control_character_it_did_not_make():
    from rich.panel import Panel
    from rich.text import Text

    console = SafeConsole(force_terminal=True, width=60)
    with console.capture() as cap:
        console.print(Panel(Text("hi \x1b]0;pwn\x07 \u202eevil")), style="bold")
        console.print("[red]styled[/]")
    out = cap.get()
    assert "hi ␛]0;pwn \\u202eevil" in out and "\u202e" not in out
    assert "\x1b[31mstyled" in out  # rich's own styles still reach the terminal
    assert "\x1b]" not in out


def test_names_that_hide_characters_are_refused():
    assert check_name("reverse", "the subject") == "reverse"
    for bad in ("re\u202everse", "rev\u200berse", "sort\x1b", "a\tb", "x\u2066", "x\u00a0y"):
        assert hidden_character(bad) is not None
        with pytest.raises(UserError, match="invisible or control character"):
            check_name(bad, "the subject")


def test_the_subject_parser_refuses_a_name_that_reads_as_another():
    from tracr_agent.tools.errors import SubjectError
    from tracr_agent.tools.subjects.spec import SubjectSpec

    assert SubjectSpec.parse("reverse").ref == "reverse"
    for text in ("re\u202everse\u200b", "reverse\u200b", "dir:/tmp\u202e/x", "program:f\u200b.py:f"):
        with pytest.raises(SubjectError, match="invisible or control character"):
            SubjectSpec.parse(text)
    with pytest.raises(SubjectError, match="invisible"):
        SubjectSpec.from_options(model_dir="/tmp/m\u200b")


def test_json_nesting_is_counted_in_linear_time_outside_strings():
    assert jsonio.depth('{"a": "[[[[[\\"[[", "b": [[1], {"c": []}]}') == 4
    assert jsonio.loads('{"a": [1, {"b": "]]]"}]}') == {"a": [1, {"b": "]]]"}]}
    for text in ("[" * 60_000 + "]" * 60_000, '{"a": ' * 200 + "1" + "}" * 200):
        with pytest.raises(ValueError, match="nested deeper than 128 levels"):
            jsonio.loads(text)
    with pytest.raises(ValueError):
        jsonio.loads("{not json")


def test_writes_never_follow_a_symlink_nor_touch_what_is_not_a_regular_file(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("mine")
    (tmp_path / "link").symlink_to(victim)
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "dir").mkdir()
    for name in ("link", "fifo", "dir"):
        with pytest.raises(UserError, match="refusing to write"):
            write_atomic(tmp_path / name, "x")
        with pytest.raises(UserError, match="refusing to write"):
            open_regular(tmp_path / name)
    assert victim.read_text() == "mine" and stat.S_ISFIFO(os.lstat(tmp_path / "fifo").st_mode)
    assert (tmp_path / "link").is_symlink()

    out = write_atomic(tmp_path / "new" / "doc.md", "text")
    assert out.read_text() == "text" and [p.name for p in out.parent.iterdir()] == ["doc.md"]  # no temp left
    with open_regular(tmp_path / "t.jsonl", "w") as fh:
        fh.write("a\n")
    with open_regular(tmp_path / "t.jsonl") as fh:
        fh.write("b\n")
    assert (tmp_path / "t.jsonl").read_text() == "a\nb\n"
    check_target(tmp_path / "t.jsonl")


def test_a_disk_error_is_one_line_and_leaves_no_temporary_file(tmp_path, monkeypatch):
    import tracr_agent.tools.untrusted.files as files

    def full(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files.os, "fsync", full)
    with pytest.raises(UserError, match=r"cannot write .*doc.md: No space left on device"):
        write_atomic(tmp_path / "doc.md", "text")
    assert list(tmp_path.iterdir()) == []


def test_a_path_a_record_names_stays_inside_its_directory(tmp_path):
    root = tmp_path / "ev"
    (root / "transcripts").mkdir(parents=True)
    (root / "transcripts" / "a.jsonl").write_text("")
    (tmp_path / "outside.jsonl").write_text("")
    (root / "transcripts" / "out.jsonl").symlink_to(tmp_path / "outside.jsonl")
    (root / "transcripts" / "in.jsonl").symlink_to(root / "transcripts" / "a.jsonl")
    assert inside(root, "transcripts/a.jsonl") == root.resolve() / "transcripts" / "a.jsonl"
    assert inside(root, "transcripts/in.jsonl") is not None
    for name in ("../outside.jsonl", str(tmp_path / "outside.jsonl"), "transcripts/out.jsonl", "", "a\x00b",
                 "transcripts/../../outside.jsonl"):
        assert inside(root, name) is None, name
    assert inside(root, "transcripts/out.jsonl", links_out=True) is not None  # a folder the user named


def test_no_variable_name_becomes_code_in_the_decompiled_program(tmp_path):
    names = ["tokens", "v3", "v3.sw", "v3_sw", "print", "n", "None", "__import__", "a-b", "len",
             "x = __import__('os').system('touch pwned')", "y\nimport os", "SELECT_V1", "OUTPUT_VALUES"]
    idents = python_names(names)
    assert idents["tokens"] == "tokens" and idents["v3"] == "v3" and idents["v3.sw"] == "v3_sw"
    assert len(set(idents.values())) == len(names)  # v3.sw and v3_sw differ
    for name, ident in idents.items():
        assert ident.isidentifier(), (name, ident)
    assert all(idents[n].startswith("var_") for n in ("print", "n", "None", "__import__", "len", "SELECT_V1"))

    # a program over hostile names and values: it runs, computes, and nothing it names is executed
    a, b = "x = __import__('os').system('touch pwned')", "y\nimport os; os.system('touch pwned')"
    value = "'); __import__('os').system('touch pwned'); ('"
    prog = Program(steps=[MlpStep(0, a, ["tokens"], table={"p": value, "q": 1}, default=value),
                          HeadStep(1, 0, b, "indices", "indices", "==", mode="pick", value=a)],
                   output=b, idents=python_names(["tokens", "indices", a, b]))
    src = source(prog)
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        got = trace(src, ["p", "q"])
        scope: dict = {}
        exec(src, scope)
        assert scope["f"](["q", "p"]) == [1, value]
    finally:
        os.chdir(cwd)
    assert got[prog.ident(b)] == [value, 1]
    assert not (tmp_path / "pwned").exists()
    assert "import os" not in [line.strip() for line in src.splitlines()]
