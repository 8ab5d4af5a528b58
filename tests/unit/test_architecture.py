"""The architecture, enforced: the import-linter contracts in pyproject.toml hold, imports inside
functions included — the layers, no import cycle between sibling packages or modules at any depth,
and what the open-world baseline and the decompiler may not import."""

import importlib.util
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


# lint-imports through this interpreter: a `lint-imports` script found on PATH may belong to another
# installation, whose `tracr_agent` is another checkout.
LINT_IMPORTS = "import sys; from importlinter.cli import lint_imports_command; sys.argv[0] = 'lint-imports'; lint_imports_command()"


def test_the_layer_and_acyclic_contracts_hold():
    assert importlib.util.find_spec("importlinter"), "import-linter is missing: pip install -e '.[test]' (the test extra)"
    p = subprocess.run([sys.executable, "-c", LINT_IMPORTS, "--no-cache"], cwd=ROOT, capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == 0, p.stdout[-4000:] + p.stderr[-2000:]
    assert "4 kept, 0 broken" in p.stdout, p.stdout[-2000:]
