"""The architecture, enforced: the import-linter contracts in pyproject.toml hold, imports inside
functions included — the layers, no import cycle between sibling packages or modules at any depth,
and what the open-world baseline and the decompiler may not import."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


LINT = "import sys; from importlinter.cli import lint_imports_command; sys.argv[0] = 'lint-imports'; " \
       "sys.exit(lint_imports_command())"
"""lint-imports run by this interpreter: the `tracr_agent` it analyses is the one these tests import (a
`lint-imports` found on PATH may belong to another Python, whose `tracr_agent` is another checkout)."""


def test_the_layer_and_acyclic_contracts_hold():
    try:
        import importlinter  # noqa: F401
    except ImportError:
        raise AssertionError("import-linter is missing: pip install -e '.[test]' (it is in the test extra)") from None
    p = subprocess.run([sys.executable, "-c", LINT, "--no-cache"], cwd=ROOT, capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == 0, p.stdout[-4000:] + p.stderr[-2000:]
    assert "4 kept, 0 broken" in p.stdout, p.stdout[-2000:]
