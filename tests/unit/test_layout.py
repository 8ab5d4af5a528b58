"""The installed layout: one import namespace, sub-packages that say what they hold."""

import ast
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_wheel_installs_only_the_tracr_agent_namespace(tmp_path):
    # Bare `agent`/`tools` packages in site-packages would collide with other distributions'.
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "-w", str(tmp_path), str(ROOT)], check=True, capture_output=True, timeout=300)
    wheel = next(tmp_path.glob("tracr_agent-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    assert tops == {"tracr_agent", wheel.name.split("-")[0] + "-" + wheel.name.split("-")[1] + ".dist-info"}
    assert "tracr_agent/tools/sandbox/worker.py" in names
    assert "tracr_agent/tools/subjects/zoo/__init__.py" in names


def test_every_module_says_its_role():
    missing = []
    for top in ("agent", "tools"):
        for path in (ROOT / top).rglob("*.py"):
            if not ast.get_docstring(ast.parse(path.read_text())):
                missing.append(str(path.relative_to(ROOT)))
    assert not missing, f"modules without a docstring: {missing}"
