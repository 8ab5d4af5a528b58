"""The task zoo: every RASP program tracr-agent knows about.

Importing this package is cheap: builders import tracr lazily, so neither
tracr, jax nor torch is loaded until a task is actually built. It knows only its own tasks; generated
ones (tools/subjects/generate/) resolve through tools/subjects/tasks.py.
"""

from __future__ import annotations

from tracr_agent.tools.subjects.zoo.base import FAMILIES, FAMILY_PARENTS, Task, TaskRegistry, normalize_label
from tracr_agent.tools.subjects.zoo.extra_tasks import EXTRA_TASKS
from tracr_agent.tools.subjects.zoo.lib_tasks import LIB_TASKS

ZOO = TaskRegistry([*LIB_TASKS, *EXTRA_TASKS])


def get_task(task_id: str) -> Task:
    """A zoo task by id, or by any of its labels (normalized). Raises KeyError with a one-line message.
    (tools/subjects/tasks.py `get_task` resolves generated ids too.)"""
    return ZOO.get(task_id)


def all_tasks() -> list[Task]:
    return list(ZOO)


__all__ = ["FAMILIES", "FAMILY_PARENTS", "Task", "TaskRegistry", "ZOO", "get_task", "all_tasks", "normalize_label"]
