"""Guards against the repetitions issue 11 removed coming back: each thing is said in one place.

- a condition's rules live in its declaration (tools/conditions.py): no other module compares
  anything with a condition's name;
- the limits have one set of defaults (agent/records/limit_fields.py) and the tool-output cap one
  (tools/protocol/cap.py): no other module keeps a copy of either number;
- the typed Score is read as such: no `.get("score") or {}`;
- the test double lives in tests/, and no command or option that does not exist is named.
Each detector is also run on a line it must catch, so a guard that cannot fail fails here.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from tracr_agent.agent.records.limits import Limits
from tracr_agent.tools.protocol.cap import DEFAULT_CAP_TOKENS
from tracr_agent.tools.conditions import CONDITIONS

ROOT = Path(__file__).resolve().parents[2]
CONDITIONS_MODULE = "tools/conditions.py"


def product_modules():
    for top in ("agent", "tools"):
        for path in sorted((ROOT / top).rglob("*.py")):
            yield str(path.relative_to(ROOT)), path.read_text()


def condition_branches(source: str) -> list[str]:
    """Comparisons with a condition's name (==, in, a tuple of names) and startswith on one."""
    names = set(CONDITIONS)
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare):
            values = []
            for side in (node.left, *node.comparators):
                elts = side.elts if isinstance(side, (ast.Tuple, ast.List, ast.Set)) else [side]
                values += [e.value for e in elts if isinstance(e, ast.Constant)]
            if any(isinstance(v, str) and v in names for v in values):
                found.append(ast.unparse(node))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "startswith":
            if any(isinstance(a, ast.Constant) and isinstance(a.value, str) and len(a.value) >= 4
                   and any(n.startswith(a.value) for n in names) for a in node.args):
                found.append(ast.unparse(node))
    return found


LIMIT_NAMES = re.compile("|".join(["budget", "cap", *Limits.model_fields]), re.I)
ASSIGNED_NUMBER = re.compile(r"^\s*(\w+)\s*(?::[^=]*)?=\s*([\d_]+(?:\.\d+)?)\s*(?:#.*)?$")


def limit_copies(source: str) -> list[str]:
    """Names of a limit or budget assigned a literal equal to a Limits default or the cap's default."""
    defaults = {float(f.default) for f in Limits.model_fields.values() if f.default is not None} | {float(DEFAULT_CAP_TOKENS)}
    found = []
    for line in source.splitlines():
        m = ASSIGNED_NUMBER.match(line)
        if m and LIMIT_NAMES.search(m.group(1)) and float(m.group(2).replace("_", "")) in defaults:
            found.append(line.strip())
    return found


@pytest.mark.parametrize("source", [
    'if condition == "whitebox":\n    pass\n', 'ok = cond in ("static", "static+io")\n',
    'x = name.startswith("static")\n', 'if "blackbox" != c.name:\n    pass\n',
])
def test_the_condition_guard_recognises_a_branch(source):
    assert condition_branches(source)


def test_nothing_outside_the_declaration_branches_on_a_condition_name():
    offenders = [f"{name}: {b}" for name, source in product_modules() if name != CONDITIONS_MODULE
                 for b in condition_branches(source)]
    assert not offenders, offenders


@pytest.mark.parametrize("line", ["CALL_BUDGET = 40", "max_tool_calls = 40", "DEFAULT_CAP = 1500  # tokens",
                                  "cap_tokens: int = 1500", "max_seconds = 900.0", "MAX_COST = 5.0"])
def test_the_limit_guard_recognises_a_copied_default(line):
    assert limit_copies(line)


def test_limit_and_cap_defaults_are_declared_once():
    owners = {"agent/records/limit_fields.py", "tools/protocol/cap.py"}
    offenders = [f"{name}: {line}" for name, source in product_modules() if name not in owners
                 for line in limit_copies(source)]
    offenders += [f"{name}: {line.strip()}" for name, source in product_modules() if name not in owners
                  for line in source.splitlines() if re.search(rf"\b{DEFAULT_CAP_TOKENS}\b", line)]
    assert not offenders, offenders


def test_scores_are_read_typed():
    untyped = re.compile(r"""\.get\(\s*["']score["']\s*\)\s*or\s*\{\}|\[["']score["']\]\.get\(""")
    assert untyped.search('fn = (rec.get("score") or {}).get("functional")')
    offenders = [f"{name}:{n}: {line.strip()}" for name, source in product_modules()
                 for n, line in enumerate(source.splitlines(), 1) if untyped.search(line)]
    assert not offenders, offenders


def test_the_test_double_and_no_phantom_option_live_in_product_code():
    texts = dict(product_modules())
    texts["README.md"] = (ROOT / "README.md").read_text()
    texts.update({str(p.relative_to(ROOT)): p.read_text() for p in (ROOT / "docs").rglob("*.md")})
    assert not [name for name, text in texts.items() if "class ScriptedChatModel" in text]
    assert not [name for name, text in texts.items() if "--verify-tracr" in text]  # never an option
    assert "class ScriptedChatModel" in (ROOT / "tests" / "fakes.py").read_text()
