"""The task zoo: every RASP program tracr-agent knows about.

Importing this package is cheap: builders import tracr lazily, so neither
tracr, jax nor torch is loaded until a task is actually built.
"""

from __future__ import annotations

from tracr_agent.tools.subjects.zoo.base import FAMILIES, FAMILY_PARENTS, Task, TaskRegistry, normalize_label
from tracr_agent.tools.subjects.zoo.extra_tasks import EXTRA_TASKS
from tracr_agent.tools.subjects.zoo.lib_tasks import LIB_TASKS

ZOO = TaskRegistry([*LIB_TASKS, *EXTRA_TASKS])


def get_task(task_id: str) -> Task:
    """Look a task up by id (or by any of its labels, normalized), or generate the one a `gen-S-D-I` id
    names (tracr_agent.tools.subjects.generate): the one resolver every command shares.

    Raises KeyError with a one-line message for an unknown or malformed id."""
    from tracr_agent.tools.subjects.generate.ids import is_generated

    if is_generated(task_id):
        from tracr_agent.tools.errors import UserError
        from tracr_agent.tools.subjects.generate.task import generated_task

        try:
            return generated_task(task_id)
        except UserError as e:
            raise KeyError(str(e)) from None
    return ZOO.get(task_id)


def all_tasks() -> list[Task]:
    return list(ZOO)


__all__ = ["FAMILIES", "FAMILY_PARENTS", "Task", "TaskRegistry", "ZOO", "get_task", "all_tasks", "normalize_label"]
