"""The bad-input sweep: every command of the real CLI, run with each class of hostile input
(docs/integrity.md), ends in one of two ways — refused with one `error:` line and exit 2, or done
with the hostile text shown, never obeyed — with no traceback, no hang, no raw control character on
the terminal, and no file destroyed or written through a planted symlink.

The classes: names hiding characters (bidi, zero-width), text that is markup or an escape sequence
(in transcripts, results, tool outputs, exception messages), JSON nested 60,000 deep, symlinks,
FIFOs and device nodes where a file is written, records pointing out of their evaluation directory,
model directories whose names or tokens are code or control characters, a corrupt session store,
bytes that are not UTF-8 on the lab's stdin, absurd `--speed` values, and a read-only or full disk.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from terminal import EXE, cli as run_cli

EVIL = "[/] \x1b]0;pwned\x07\x1b[2K implementation correct \u202eesrever\u200b [bold]<script>x</script>"
"""Markup that crashes rich, an escape sequence that rewrites the window title and the line, a bidi
override, a zero-width space and HTML: wherever a text comes from a file, a model or a server."""
HIDDEN = ("\x1b", "\x07", "\u202e", "\u200b")
DEEP = "[" * 60_000 + "]" * 60_000
HANG_S = 240
pytestmark = pytest.mark.xdist_group("test_integrity")  # the artefacts (an eval, a compile) are made once


@contextlib.contextmanager
def within(seconds: int):
    """Fails the test instead of hanging it."""
    def hung(signum, frame):
        raise AssertionError(f"no answer within {seconds} s: a hang")

    old = signal.signal(signal.SIGALRM, hung)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def write_jsonl(path: Path, events: list) -> Path:
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    return path


def poison(events: list) -> list:
    """Every text of a transcript made hostile, plus an error event and a human note."""
    out = []
    for e in events:
        e = dict(e)
        if e["type"] == "header":
            e["llm"] = EVIL
        elif e["type"] == "llm_response":
            e["text"] = EVIL
        elif e["type"] == "tool_call":
            e["name"], e["call_id"] = EVIL, EVIL
        elif e["type"] == "tool_result":
            e["text"], e["name"] = EVIL + "\n" + e["text"], EVIL
        elif e["type"] == "prediction":
            e.update(label=EVIL, description=EVIL, implementation=f"# {EVIL}\n" + e["implementation"])
        elif e["type"] == "end":
            e["reason"] = EVIL
        out.append(e)
    return out[:2] + [{"type": "error", "t": 0.5, "message": EVIL, "where": EVIL},
                      {"type": "human", "t": 0.6, "step": 1, "action": "hint", "text": EVIL}] + out[2:]


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """The artefacts of the sweep, made once: real transcripts and an evaluation of the decompiler on
    `reverse`, their poisoned and deep copies, hostile model directories, and write targets that must
    not be written through (a symlink to a victim file, a FIFO, a device node)."""
    d = tmp_path_factory.mktemp("hostile")
    env = {**os.environ, "COLUMNS": "120", "TRACR_AGENT_SESSIONS": str(d / "sessions.sqlite")}
    r = run_cli(env, "eval", "--tasks", "reverse", "--llm", "decompiler", "--out", d / "ev")
    assert r.returncode == 0, r.stdout + r.stderr
    [rec] = [json.loads(line) for line in (d / "ev" / "results.jsonl").read_text().splitlines()]
    base = d / "ev" / rec["transcript"]
    events = [json.loads(line) for line in base.read_text().splitlines()]
    write_jsonl(d / "evil.jsonl", poison(events))
    (d / "deep.jsonl").write_text(json.dumps(events[0]) + "\n" + '{"type": "tool_call", "step": 1, "call_id": "a", '
                                  f'"name": "x", "args": {DEEP}}}\n')
    (d / "deephead.jsonl").write_text(f'{{"type": "header", "x": {DEEP}}}\n')

    # an evaluation whose records are hostile: text, a transcript outside, the poisoned transcript
    shutil.copytree(d / "ev", d / "ev_evil")
    outside = dict(rec, key=EVIL, llm=EVIL, label=EVIL, transcript="../evil.jsonl")
    poisoned = dict(rec, key="poisoned", transcript="transcripts/evil.jsonl")
    shutil.copy(d / "evil.jsonl", d / "ev_evil" / "transcripts" / "evil.jsonl")
    searching = dict(rec, key="searching", task="dir:/")  # a subject that would search the whole disk
    write_jsonl(d / "ev_evil" / "results.jsonl", [rec, outside, poisoned, searching])
    # a header naming the whole disk as its model directory, and one naming a program to import
    for name, subject in (("rootdir", {"kind": "model_dir", "source": "/", "spec": "dir:/"}),
                          ("program", {"kind": "program", "source": f"{d}/evil.py:f", "spec": f"program:{d}/evil.py:f"})):
        write_jsonl(d / f"{name}.jsonl", [{**events[0], "subject": {**events[0]["subject"], **subject}}, *events[1:]])
    (d / "evil.py").write_text("open('pwned', 'w').write('imported')\ndef f():\n    return None\n")
    shutil.copytree(d / "ev", d / "ev_deep")
    (d / "ev_deep" / "results.jsonl").write_text(f'{{"key": {DEEP}}}\n')

    # model directories: a token with control characters, a label that is code, a card nested deep
    r = run_cli(env, "compile", "reverse", "--out", d / "md")
    assert r.returncode == 0, r.stdout + r.stderr
    card = json.loads((d / "md" / "model.json").read_text())
    for name, change in (("md_vocab", lambda c: c["input_encoding"]["vocab"].__setitem__(1, "a\x1b[2J\u202e")),
                         ("md_label", lambda c: c["residual_labels"].__setitem__(
                             0, "x=__import__('os').system('touch pwned')#:1")),
                         ("md_value", lambda c: c["residual_labels"].__setitem__(0, "tokens:\x1b]0;t\x07"))):
        shutil.copytree(d / "md", d / name)
        c = json.loads(json.dumps(card))
        change(c)
        (d / name / "model.json").write_text(json.dumps(c))
    shutil.copytree(d / "md", d / "md_deep")
    (d / "md_deep" / "model.json").write_text(f'{{"format": {DEEP}}}')

    # write targets: a symlink to a victim, a FIFO, a device node (as root: the same as /dev/null)
    (d / "victim.txt").write_text("mine")
    (d / "link").symlink_to(d / "victim.txt")
    os.mkfifo(d / "fifo")
    targets = [d / "link", d / "fifo"]
    if os.geteuid() == 0:
        os.mknod(d / "device", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        targets.append(d / "device")
    (d / "corrupt.sqlite").write_bytes(b"\x00not a database\xff" * 300)
    return d, env, targets


def check(r, expect: str, *words: str) -> None:
    """One command's end: no traceback, nothing hidden on the terminal; `refused`: exit 2 and one
    `error:` line (the last); `shown`: done (exit 0 or 1)."""
    out = r.stdout + r.stderr
    assert "Traceback" not in out, out[-3000:]
    for ch in HIDDEN:
        assert ch not in out, (repr(ch), out[-3000:])
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("error:")]
    if expect == "refused":
        assert r.returncode == 2, out[-3000:]
        assert len(errors) == 1 and lines[-1] == errors[0], r.stderr
    else:
        assert r.returncode in (0, 1), out[-3000:]
    for w in words:
        assert w in " ".join(out.split()), (w, out[-3000:])


# (id, arguments (with {d} for the artefacts' folder), expected end, words in the output, stdin)
ID_CASES = [
    ("run", ["run", "re\u202everse\u200b", "--llm", "baseline", "-q"]),
    ("run-llm", ["run", "reverse", "--llm", "base\u200bline", "-q"]),
    ("run-model-dir", ["run", "--model-dir", "{d}/md\u202e", "-q"]),
    ("lab", ["lab", "so\u200brt"]),
    ("tool", ["tool", "rev\u2066erse", "model_info"]),
    ("show", ["show", "reverse\u200b"]),
    ("compile", ["compile", "sor\u202et"]),
    ("eval-tasks", ["eval", "--tasks", "sort,re\u200bverse", "--llm", "baseline", "--out", "{d}/ev_ids"]),
    ("eval-llm", ["eval", "--tasks", "sort", "--llm", "decompiler\u200b", "--out", "{d}/ev_ids"]),
    ("resume", ["resume", "ab\u202ecd"]),
]


@pytest.mark.parametrize("name,args", ID_CASES, ids=[c[0] for c in ID_CASES])
def test_names_hiding_characters_are_refused_by_every_command(hostile, name, args):
    d, env, _ = hostile
    with within(HANG_S):
        r = run_cli(env, *[a.format(d=d) for a in args])
    check(r, "refused", "invisible or control character")
    assert not (d / "ev_ids").exists()


CASES = [
    # hostile text in a transcript: shown, never obeyed
    ("replay", ["replay", "{d}/evil.jsonl"], "shown", ["[/]", "␛]0;pwned␇", "\\u202e"]),
    ("replay-verbose", ["replay", "-v", "--plain", "{d}/evil.jsonl"], "shown", ["[/]"]),
    ("export-md", ["export", "{d}/evil.jsonl", "-o", "{d}/out/evil.md"], "shown", []),
    ("export-html", ["export", "{d}/evil.jsonl", "-f", "html", "-o", "{d}/out/evil.html"], "shown", []),
    ("view", ["view", "{d}/evil.jsonl", "-o", "{d}/out/evil.view.html"], "shown", []),
    ("inspect", ["inspect", "{d}"], "shown", ["evil.jsonl"]),
    ("inspect-json", ["inspect", "{d}", "--json"], "shown", []),
    # JSON nested 60,000 deep
    ("replay-deep", ["replay", "{d}/deep.jsonl"], "refused", ["nested deeper than"]),
    ("replay-deep-header", ["replay", "{d}/deephead.jsonl"], "refused", ["not a tracr-agent transcript"]),
    ("rerun-deep", ["replay", "--rerun", "{d}/deep.jsonl"], "refused", ["nested deeper than"]),
    ("export-deep", ["export", "{d}/deep.jsonl", "-o", "{d}/out/deep.md"], "shown", ["nested deeper than"]),
    ("view-deep", ["view", "{d}/deep.jsonl", "-o", "{d}/out/deep.html"], "shown", ["nested deeper than"]),
    ("report-deep", ["report", "{d}/ev_deep"], "refused", ["corrupt results line"]),
    ("rescore-deep", ["rescore", "{d}/ev_deep"], "refused", ["corrupt results line"]),
    ("view-deep-results", ["view", "{d}/ev_deep"], "refused", ["corrupt results line"]),
    ("export-inspect-deep", ["export", "{d}/ev_deep", "-f", "inspect"], "refused", ["corrupt results line"]),
    ("show-deep-card", ["show", "--model-dir", "{d}/md_deep"], "refused", ["model.json"]),
    # records that lie: counted apart, never correct, named in the headline; their text escaped
    ("report-evil", ["report", "{d}/ev_evil"], "shown", ["UNSCORABLE: 3 of 4", "outside the evaluation directory",
                                                         "the record says decompiler", "not a zoo or generated task"]),
    ("rescore-evil", ["rescore", "{d}/ev_evil"], "shown", ["3 unscorable"]),
    # a transcript naming a folder to search or a program to import: rerun loads neither
    ("rerun-root-dir", ["replay", "--rerun", "{d}/rootdir.jsonl"], "refused", ["--model-dir DIR"]),
    ("rerun-program", ["replay", "--rerun", "{d}/program.jsonl"], "refused", ["--model-dir DIR"]),
    ("view-evil", ["view", "{d}/ev_evil"], "shown", ["outside the evaluation directory: not read"]),
    # model directories whose names or tokens are code or control characters
    ("show-vocab", ["show", "--model-dir", "{d}/md_vocab"], "refused", ["input_encoding.vocab", "control"]),
    ("tool-vocab", ["tool", "--model-dir", "{d}/md_vocab", "model_info"], "refused", ["input_encoding.vocab"]),
    ("run-label", ["run", "--model-dir", "{d}/md_label", "--llm", "decompiler", "-q"], "refused",
     ["residual_labels", "is not NAME or NAME:VALUE"]),
    ("lab-value", ["lab", "--model-dir", "{d}/md_value"], "refused", ["residual_labels"]),
    ("eval-suite", ["eval", "--tasks", "dir:{d}/md_vocab", "--llm", "decompiler", "--out", "{d}/ev_md"], "refused",
     ["input_encoding.vocab"]),
    # absurd playback speeds
    ("speed-nan", ["replay", "--speed", "nan", "{d}/evil.jsonl"], "refused", ["--speed"]),
    ("speed-tiny", ["replay", "--speed", "1e-300", "{d}/evil.jsonl"], "refused", ["--speed"]),
    ("speed-inf", ["replay", "--speed", "inf", "{d}/evil.jsonl"], "refused", ["--speed"]),
]


@pytest.mark.parametrize("name,args,expect,words", CASES, ids=[c[0] for c in CASES])
def test_hostile_files_are_refused_or_shown_never_obeyed(hostile, name, args, expect, words):
    d, env, _ = hostile
    (d / "out").mkdir(exist_ok=True)
    with within(HANG_S):
        r = run_cli(env, *[a.format(d=d) for a in args])
    check(r, expect, *words)
    for page in (d / "out").glob("*.*"):  # documents and pages: text escaped, never markup or script
        text = page.read_text()
        assert "\x1b" not in text and "\u202e" not in text, page
        if page.suffix == ".md":  # Markdown shows a fenced block as it is: HTML counts outside fences
            text = "".join(re.split(r"^(`{3,}).*?^\1$", text, flags=re.M | re.S)[::2])
        assert "<script>x" not in text, page
    assert not (d / "pwned").exists() and not Path("pwned").exists()


def test_write_targets_that_are_links_fifos_or_devices_are_refused_and_left_alone(hostile):
    d, env, targets = hostile
    evil = d / "evil.jsonl"
    for target in targets:
        commands = [
            ["run", "reverse", "--llm", "decompiler", "-q", "--transcript", target],
            ["lab", "reverse", "--transcript", target],
            ["export", evil, "-o", target],
            ["export", evil, "-f", "html", "-o", target],
            ["view", evil, "-o", target],
        ]
        for args in commands:
            with within(HANG_S):
                r = run_cli(env, *args)
            check(r, "refused", "refusing to write")
        # files an evaluation directory holds: report.md, results.jsonl, a model's files
        for rel, args in (("report.md", ["report", "{ev}"]), ("results.jsonl", ["rescore", "{ev}"]),
                          ("view.html", ["view", "{ev}"])):
            ev = d / f"ev_{target.name}_{rel}"
            shutil.copytree(d / "ev", ev)
            before = (ev / "results.jsonl").read_text()
            (ev / rel).unlink(missing_ok=True)
            (ev / rel).symlink_to(target) if rel != "results.jsonl" else None
            if rel == "results.jsonl":  # the records stay readable, the rewrite is refused
                (ev / "real.jsonl").write_text(before)
                (ev / rel).symlink_to(ev / "real.jsonl")
            with within(HANG_S):
                r = run_cli(env, *[str(a).format(ev=ev) for a in args])
            if rel == "report.md":
                check(r, "refused", "refusing to write")
            elif rel == "results.jsonl":
                check(r, "refused", "refusing to write")
                assert (ev / "real.jsonl").read_text() == before
            else:
                check(r, "refused", "refusing to write")
        out = d / f"model_{target.name}"
        out.mkdir()
        (out / "model.json").symlink_to(target)
        with within(HANG_S):
            r = run_cli(env, "compile", "reverse", "--out", out)
        check(r, "refused", "refusing to write")
    assert (d / "victim.txt").read_text() == "mine"
    assert stat.S_ISFIFO(os.lstat(d / "fifo").st_mode)
    if os.geteuid() == 0:
        assert stat.S_ISCHR(os.lstat(d / "device").st_mode)


def test_a_corrupt_session_store_is_one_line_and_run_goes_on_without_it(hostile):
    d, env, _ = hostile
    bad = {**env, "TRACR_AGENT_SESSIONS": str(d / "corrupt.sqlite")}
    for args in (["sessions"], ["sessions", "--json"], ["resume", "abcd1234"], ["lab", "reverse"]):
        with within(HANG_S):
            r = run_cli(bad, *args, input="quit\n")
        check(r, "refused", "session store", "not usable")
    with within(HANG_S):
        r = run_cli(bad, "run", "reverse", "--llm", "decompiler", "-q", "--transcript", d / "nostore.jsonl")
    check(r, "shown", "cannot be resumed if it is interrupted")
    assert r.returncode == 0 and (d / "nostore.jsonl").is_file()


def test_the_lab_takes_bytes_that_are_not_utf8_and_markup_in_a_tool_error(hostile, tmp_path):
    d, env, _ = hostile
    stdin = (b"\xff\xfe not text\n" + 'run_model {"inputs": [["[/]\\u001b]0;x\\u0007"]]}\n'.encode() + b"quit\n")
    with within(HANG_S):
        p = subprocess.run([EXE if Path(EXE).exists() else "tracr-agent", "lab", "reverse", "--transcript",
                            str(tmp_path / "lab.jsonl")], input=stdin, capture_output=True, env=env, timeout=HANG_S)
    out = (p.stdout + p.stderr).decode("utf-8", "replace")
    assert p.returncode == 0 and "Traceback" not in out, out
    assert "not UTF-8 text (byte 0xff at column 1)" in out and 'token "[/]' in out, out  # markup shown, no crash
    assert "\x1b]" not in out
    events = [json.loads(line) for line in (tmp_path / "lab.jsonl").read_text().splitlines()]
    assert [e["text"] for e in events if e["type"] == "human" and e["action"] == "tool"] == [
        'run_model {"inputs": [["[/]\\u001b]0;x\\u0007"]]}']  # the bad line was never recorded


@pytest.mark.slow  # a process per command (imports included) on a tmpfs of its own
@pytest.mark.parametrize("disk", ["read-only", "full"])
def test_a_read_only_or_full_disk_is_one_line_and_leaves_nothing_half_written(hostile, tmp_path, disk):
    """run, eval, compile (the cache and --out), export and report on a tmpfs mounted read-only or
    filled up, in a mount namespace of their own (`unshare`): one line each, no temporary file left."""
    d, env, _ = hostile
    if not shutil.which("unshare"):
        pytest.fail("the test needs util-linux's unshare (a mount namespace for a read-only or full tmpfs)")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    shutil.copytree(d / "ev", tmp_path / "ev")
    exe = EXE if Path(EXE).exists() else shutil.which("tracr-agent")
    commands = [
        f"{exe} run reverse --llm decompiler -q --out {mnt}/runs",
        f"{exe} eval --tasks reverse --llm decompiler --out {mnt}/ev",
        f"TRACR_AGENT_CACHE={mnt}/cache {exe} compile sort",
        f"{exe} compile sort --out {mnt}/model",
        f"{exe} export {d}/evil.jsonl -o {mnt}/evil.md",
    ]
    opts = "ro,size=1m" if disk == "read-only" else "size=64k"
    fill = "" if disk == "read-only" else f"dd if=/dev/zero of={mnt}/fill bs=1k count=60 2>/dev/null; "
    script = f"mount -t tmpfs -o {opts} tmpfs {mnt} && {fill}" + "".join(
        f"{c}; echo \"rc=$?\"; echo '---' >&2; " for c in commands) + f"find {mnt} -name '*.tmp*'"
    root = [] if os.geteuid() == 0 else ["-r"]
    with within(HANG_S * 3):
        p = subprocess.run(["unshare", *root, "-m", "sh", "-c", script], capture_output=True, text=True, env=env,
                           timeout=HANG_S * 3)
    assert "Traceback" not in p.stderr, p.stderr[-4000:]
    codes = [line for line in p.stdout.splitlines() if line.startswith("rc=")]
    assert codes == ["rc=2"] * len(commands), (codes, p.stdout[-2000:], p.stderr[-4000:])
    blocks = p.stderr.split("---\n")[:len(commands)]
    reason = "Read-only file system" if disk == "read-only" else "No space left on device"
    for command, block in zip(commands, blocks):
        errors = [ln for ln in block.splitlines() if ln.startswith("error:")]
        assert len(errors) == 1 and reason in errors[0], (command, block)
    assert not [ln for ln in p.stdout.splitlines() if ".tmp" in ln]  # no temporary file left behind
