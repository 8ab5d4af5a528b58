"""The RASP source a subject was compiled from, for the user (`tracr-agent show`); no tool ever prints it.

A generated task's source is a runnable module (`run --program FILE.py:program`
compiles it); a zoo task's is its builder function; a `--program` subject's is
the user's function as written in the file. A model directory holds weights
only, so it has none.
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path
from typing import Optional

from tracr_agent.tools.errors import UserError


def task_source_text(task_id: str) -> Optional[str]:
    """The source of a zoo or generated task (None when Python cannot find a zoo builder's source)."""
    from tracr_agent.tools.subjects.tasks import get_task  # the zoo and the generator load only here

    try:
        task = get_task(task_id)
    except KeyError as e:
        raise UserError(e.args[0]) from None
    if "source" in task.extra:
        return task.extra["source"]
    try:
        return inspect.getsource(task.build)
    except (OSError, TypeError):
        return None


def program_source_text(spec: str) -> str:
    """`FILE.py:FUNCTION` -> that function's source as written (the whole file when it cannot be parsed)."""
    path_s, sep, func = spec.rpartition(":")
    path = Path(path_s)
    if not sep or not path.is_file():
        raise UserError(f"--program takes an existing FILE.py:FUNCTION, got {spec!r}")
    text = path.read_text()
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return text
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == func:
            start = min([node.lineno] + [d.lineno for d in node.decorator_list])
            return "\n".join(text.splitlines()[start - 1:node.end_lineno]) + "\n"
    return text
