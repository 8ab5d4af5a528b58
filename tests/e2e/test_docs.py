"""The README and the docs site say what is true: the site builds strictly and offline, every
`tracr-agent` command and option they name exists, the README's set-up commands are the ones CI runs,
and the README's quickstart runs verbatim from an empty folder with the default investigator."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
README_MAX_LINES = 150
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.S | re.M)
PLACEHOLDER = re.compile(r"\b[A-Z][A-Z0-9_]+\b")  # TASK, ID, DIR, SPEC… (the README's convention)
GENERATED_ID = re.compile(r"\bgen-\d+-\d+-\d+\b")


def fenced_blocks(text: str, after_heading: str | None = None) -> list[tuple[str, str]]:
    """(language, body) of each fenced block, only those after `after_heading` and before the next
    heading of the same level when one is given."""
    if after_heading is not None:
        start = text.index(after_heading + "\n")
        level = after_heading.split(" ", 1)[0]
        end = text.find("\n" + level + " ", start + 1)
        text = text[start:end if end != -1 else len(text)]
    return [(m.group(1), m.group(2)) for m in FENCE.finditer(text)]


def command_of(line: str) -> str:
    """The shell command of a line, without its trailing comment (a `#` after whitespace)."""
    return re.split(r"\s+#\s", line.strip(), maxsplit=1)[0].strip()


def setup_commands() -> list[str]:
    (lang, body), = fenced_blocks(README.read_text(), "## Set-up (a fresh machine, two commands)")
    return [command_of(line) for line in body.splitlines() if line.strip()]


def quickstart_commands() -> list[str]:
    blocks = fenced_blocks(README.read_text(), "## Quickstart")
    assert blocks and blocks[0][0] == "bash", "the README's quickstart is its first bash block"
    return [command_of(line) for line in blocks[0][1].splitlines() if line.strip()]


# --- the site ---------------------------------------------------------------------------------------

def test_the_site_builds_strictly_and_offline(tmp_path):
    """`mkdocs build --strict` fails on a page missing from the nav, a broken link or anchor, or a
    missing included file; web fonts are off, so nothing is fetched to build or read it."""
    site = tmp_path / "site"
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    r = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(ROOT / "mkdocs.yml"),
                        "-d", str(site)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    pages = sorted(p.relative_to(DOCS).with_suffix("").as_posix() for p in DOCS.glob("*.md"))
    for page in pages:
        assert (site / ("index.html" if page == "index" else f"{page}/index.html")).is_file(), page
    assert "smallest program found" in (site / "live-view" / "index.html").read_text()  # the included capture
    fetched = [str(p.relative_to(site)) for p in site.rglob("*.html")
               if re.search(r"fonts\.(googleapis|gstatic)\.com", p.read_text())]
    assert not fetched, fetched


def test_the_readme_is_short_and_links_every_page():
    text = README.read_text()
    assert len(text.splitlines()) <= README_MAX_LINES
    linked = set(re.findall(r"\]\(docs/([\w.-]+\.md)\)", text))
    pages = {p.name for p in DOCS.glob("*.md")} - {"index.md"}
    assert not pages - linked, f"pages the README does not link: {sorted(pages - linked)}"
    assert not linked - pages, f"README links to missing pages: {sorted(linked - pages)}"


# --- what the pages name exists --------------------------------------------------------------------

def cli_options() -> tuple[dict[str, set[str]], set[str]]:
    """Each command's option names, and the top-level ones, from the real CLI."""
    import typer.main

    from tracr_agent.agent.cli import main

    group = typer.main.get_command(main.app)
    def names(params):
        return {o for p in params for o in (*p.opts, *p.secondary_opts) if o.startswith("-")} | {"--help"}
    return {name: names(cmd.params) for name, cmd in group.commands.items()}, names(group.params)


def named_invocations(text: str) -> list[str]:
    """Command lines the text shows: lines of code blocks and inline code spans that start with
    `tracr-agent` (or `$ tracr-agent`), or with a command name followed by an option (`eval --resume`)."""
    found = []
    for _, body in fenced_blocks(text):
        found += [command_of(line.removeprefix("$ ")) for line in body.splitlines()
                  if line.removeprefix("$ ").startswith("tracr-agent")]
    for span in re.findall(r"(?<!`)`([^`\n]+)`(?!`)", text):
        if span.startswith("tracr-agent") or re.match(r"^[a-z]+ (\S+ )*--[a-z]", span):
            found.append(span)
    return found


def unknown_names(line: str, commands: dict[str, set[str]], top: set[str]) -> list[str]:
    words = line.split()
    if words[0] == "tracr-agent":
        words = words[1:]
    elif words[0] not in commands:
        return []  # prose in code (`pip install …`, `python -m pytest -q`): not a tracr-agent command
    opts = top
    if words and not words[0].startswith("-"):
        if words[0] not in commands:
            return [f"command {words[0]!r}"]
        opts = commands[words[0]]
        words = words[1:]
    wrong = []
    for w in words:
        w = w.strip("[]()`,;.")
        if re.fullmatch(r"--?[a-z][\w-]*(=.*)?", w) and w.split("=")[0] not in opts:
            wrong.append(f"option {w.split('=')[0]!r}")
    return wrong


def test_every_command_and_option_the_docs_name_exists():
    commands, top = cli_options()
    offenders = []
    for path in [README, *sorted(DOCS.glob("*.md"))]:
        for line in named_invocations(path.read_text()):
            offenders += [f"{path.name}: {line!r}: {w}" for w in unknown_names(line, commands, top)]
    assert not offenders, "\n".join(offenders)


def test_the_name_check_catches_a_phantom():
    commands, top = cli_options()
    text = "```bash\ntracr-agent run sort --verify-tracr\n```\nthen `tracr-agent frobnicate X` and `eval --no-such`"
    found = [w for line in named_invocations(text) for w in unknown_names(line, commands, top)]
    assert found == ["option '--verify-tracr'", "command 'frobnicate'", "option '--no-such'"]
    assert not unknown_names("tracr-agent run TASK --llm SPEC -c full", commands, top)


# --- set-up and quickstart --------------------------------------------------------------------------

def test_the_setup_commands_are_the_ones_ci_runs():
    """CI runs the README's two set-up commands verbatim; the install page shows the same block."""
    ci = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    install, tests = setup_commands()
    assert install in ci
    assert any(line.startswith(tests) for line in ci), tests
    assert setup_commands() == [command_of(line) for line in fenced_blocks(
        (DOCS / "install.md").read_text(), "## Set-up: two commands")[0][1].splitlines() if line.strip()]


def test_the_quickstart_holds_no_placeholder():
    """Placeholders (capitals, as in `resume ID`) belong to the README's next-steps block, never to
    the block a reader pastes."""
    commands = quickstart_commands()
    assert commands and all(c.startswith("tracr-agent ") for c in commands)
    offenders = [c for c in commands if PLACEHOLDER.search(re.sub(r"'[^']*'", "", c))]
    assert not offenders, offenders


@pytest.mark.slow  # > 15 s: one process per command, each importing TransformerLens
def test_the_quickstart_runs_verbatim_from_an_empty_folder(tmp_path):
    """Each command of the README's quickstart, as written, in a folder outside the clone, with no LLM
    configured: each exits 0, a generated id it uses is one it printed first, and every generated
    subject's episode was run by the default investigator and explains the model."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("TRACR_AGENT_LLM", "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GOOGLE_API_KEY",
                        "MISTRAL_API_KEY")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"  # this install's tracr-agent
    printed = ""
    for command in quickstart_commands():
        for gen_id in GENERATED_ID.findall(command):
            assert gen_id in printed, f"{command!r} uses {gen_id}, which no earlier command printed"
        r = subprocess.run(["bash", "-c", command], cwd=tmp_path, env=env, capture_output=True, text=True,
                           timeout=600, stdin=subprocess.DEVNULL)
        assert r.returncode == 0, f"{command!r} exited {r.returncode}:\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}"
        assert "Traceback" not in r.stderr, r.stderr[-2000:]
        printed += r.stdout

    generated = []
    for path in tmp_path.rglob("*.jsonl"):
        events = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        header = events[0] if events else {}
        if header.get("type") != "header" or not str(header["subject"].get("task_id")).startswith("gen-"):
            continue
        scores = [e["score"] for e in events if e["type"] == "score"]
        generated.append((path.name, header["llm"], scores and scores[-1].get("explained")))
    assert generated, "the quickstart runs no generated task"
    assert all(llm == "baseline" and explained for _, llm, explained in generated), generated
