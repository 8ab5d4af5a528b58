"""Tasks by id: the zoo's and the generated ones (`gen-SEED-DIFFICULTY-INDEX`), and loading one as a subject.

The zoo (tools/subjects/zoo/) knows only its own tasks and the generator (tools/subjects/generate/)
compiles through the cache (tools/subjects/load.py); this module sits above all three, so neither
needs the other: `get_task` is the one resolver every command shares.
"""

from __future__ import annotations

import inspect

from tracr_agent.tools.errors import SubjectError, UserError
from tracr_agent.tools.subjects.generate.ids import is_generated
from tracr_agent.tools.subjects.generate.lookup import generated_task
from tracr_agent.tools.subjects.generate.task import program_source
from tracr_agent.tools.subjects.load import cache_key, compile_subject, load_cached
from tracr_agent.tools.subjects.subject import Subject, SubjectTruth
from tracr_agent.tools.subjects.zoo import ZOO, Task


def get_task(task_id: str) -> Task:
    """Look a task up by id (or by any of its labels, normalized), or generate the one a `gen-S-D-I` id
    names. Raises KeyError with a one-line message for an unknown or malformed id."""
    if is_generated(task_id):
        try:
            return generated_task(task_id)
        except UserError as e:
            raise KeyError(str(e)) from None
    return ZOO.get(task_id)


def task_source(task) -> str:
    """What the subject-cache key hashes for a task: its builder's module and id, or a generated program."""
    if task.origin == "generated":
        return program_source(task)
    return inspect.getsource(inspect.getmodule(task.build)) + task.id


def load_task(task_id: str, use_cache: bool = True, refresh: bool = False) -> Subject:
    try:
        task = get_task(task_id)
    except KeyError as e:
        raise SubjectError(e.args[0]) from None
    key = cache_key(task_source(task), task.vocab, task.max_seq_len)
    subject = load_cached(key) if use_cache and not refresh else None
    if subject is None:
        subject = compile_subject(task.build(), task.vocab, task.max_seq_len, key=key,
                                  truth=SubjectTruth(task_id=task.id, labels=task.labels), use_cache=use_cache,
                                  refresh=refresh)
    # A generated program's cache entry is keyed by the program alone: the id asked for names it.
    subject.truth.task_id, subject.truth.labels = task.id, tuple(task.labels)
    return subject
