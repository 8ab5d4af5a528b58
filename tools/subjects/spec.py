"""Naming a subject: the one parser for every way a command is told which model to investigate.

A `SubjectSpec` is one subject: a zoo task id or alias (`reverse`, `Sort`), a generated id
(`gen-SEED-DIFFICULTY-INDEX`), one model directory (`dir:PATH`, `dir:SUITE/NAME`, or `--model-dir
PATH`), or a RASP program (`--program FILE.py:FUNC`, written `program:FILE.py:FUNC` as text). Any of
them may carry a transform suffix, `ID@rotated[:SEED]` or `ID@compressed[:D]`, parsed into
`SubjectSpec.transform` (the transforms themselves live in tools/subjects/transforms/).

`parse_suite` reads what `eval --tasks` takes besides single subjects: `all`, `gen:SEED:DIFFICULTY:COUNT`
(the first COUNT generated ids of each difficulty) and `dir:PATH` (every model directory under PATH).

`str(spec)` is the spec's canonical text (paths absolute, aliases resolved): `SubjectSpec.parse`
reads it back, so a transcript header or the session store can reload the subject from anywhere.
Anything unknown or malformed is one `SubjectError` line naming what was given and what is accepted;
so is a name hiding a character (a bidi override, a zero-width space, a control: `re\u202everse`
must not quietly become `reverse`), whichever way it is given.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict

from tracr_agent.tools.errors import SubjectError
from tracr_agent.tools.subjects.load import load_model_dir, load_program
from tracr_agent.tools.subjects.modeldir import read_card
from tracr_agent.tools.subjects.transforms import TransformSpec, apply_transform, parse_transform
from tracr_agent.tools.untrusted.text import check_name

DIR_PREFIX = "dir:"
PROGRAM_PREFIX = "program:"
GEN_SUITE_PREFIX = "gen:"
NO_TRANSFORM = "none"
"""What `eval --transforms` calls the untransformed subject."""
FORMS = ("a zoo task id (see `tracr-agent tasks`), a generated id gen-SEED-DIFFICULTY-INDEX, dir:PATH "
         "(one model directory), or program:FILE.py:FUNC")


class SubjectSpec(BaseModel):
    """One subject, named: see the module docstring."""

    model_config = ConfigDict(frozen=True)
    kind: Literal["task", "program", "model_dir"]
    ref: str
    """The task id (zoo id, or generated id), `FILE.py:FUNC` (absolute file), or the model directory."""
    transform: Optional[TransformSpec] = None

    def __str__(self) -> str:
        base = {"task": self.ref, "program": PROGRAM_PREFIX + self.ref, "model_dir": DIR_PREFIX + self.ref}[self.kind]
        return base if self.transform is None else f"{base}@{self.transform}"

    @property
    def name(self) -> str:
        """A short name for file names and listings: the task id, the program's function, the folder."""
        if self.kind == "task":
            return self.ref
        if self.kind == "program":
            return self.ref.rpartition(":")[2]
        return Path(self.ref).name

    @classmethod
    def parse(cls, text: str, where: str = "the subject") -> "SubjectSpec":
        """One subject from its text (a TASK argument, a header, the session store)."""
        if not isinstance(text, str) or not text.strip():
            raise SubjectError(f"{where}: name a subject: {FORMS}")
        text, transform = split_transform(check_name(text, where, SubjectError).strip(), where)
        if text.startswith(DIR_PREFIX):
            return cls(kind="model_dir", ref=one_model_dir(text), transform=transform)
        if text.startswith(PROGRAM_PREFIX):
            return cls(kind="program", ref=program_ref(text[len(PROGRAM_PREFIX):]), transform=transform)
        # Only a task name loads the zoo and the generator: an episode on a model directory or a program
        # never imports them (the open-world baseline's honesty, checked by tests/integration/test_openworld.py).
        from tracr_agent.tools.subjects.generate.ids import is_generated, parse_id, parse_spec
        from tracr_agent.tools.subjects.tasks import get_task

        if text.startswith(GEN_SUITE_PREFIX):
            raise SubjectError(f"{text} names a suite of generated tasks: run them all with `eval --tasks {text}`, "
                               f"or name one id, e.g. {parse_spec(text)[0]}")
        elif is_generated(text):
            spec = cls(kind="task", ref=str(parse_id(text)))
        else:
            try:
                spec = cls(kind="task", ref=get_task(text).id)
            except KeyError as e:
                raise SubjectError(e.args[0]) from None
        return spec.model_copy(update={"transform": transform})

    @classmethod
    def from_options(cls, task: Optional[str] = None, program: Optional[str] = None,
                     model_dir: Optional[str] = None) -> "SubjectSpec":
        """The subject a command names with a TASK argument, `--program FILE.py:FUNC` or `--model-dir DIR`."""
        given = [x for x in (task, program, model_dir) if x]
        for x in given:
            check_name(x, "the subject", SubjectError)
        if len(given) != 1:
            raise SubjectError("name exactly one subject: a TASK, --program FILE.py:FUNC, or --model-dir DIR")
        if task:
            return cls.parse(task)
        if program:
            return cls.parse(PROGRAM_PREFIX + program)
        text = model_dir.strip()
        path, transform = (text, None) if Path(text).expanduser().exists() else split_transform(text, "--model-dir")
        return cls(kind="model_dir", ref=str(Path(path).expanduser().resolve()), transform=transform)

    @classmethod
    def of(cls, subject) -> "SubjectSpec":
        """The spec that loads an already loaded Subject again (its task id, program or directory)."""
        if subject.kind == "task" and subject.truth.task_id:
            return cls(kind="task", ref=subject.truth.task_id)
        if subject.kind == "program":
            return cls(kind="program", ref=subject.source)
        return cls(kind="model_dir", ref=subject.source)

    def load(self, use_cache: bool = True, refresh: bool = False):
        """The Subject (tools/subjects/subject.py) this spec names, transformed if it says so.

        `refresh` compiles a task afresh even on a cache hit (for `compile --verify`)."""
        if self.kind == "task":
            from tracr_agent.tools.subjects.tasks import load_task  # the zoo and generator: only for a task

            subject = load_task(self.ref, use_cache=use_cache, refresh=refresh)
        elif self.kind == "program":
            subject = load_program(self.ref, use_cache=use_cache)
        else:
            subject = load_model_dir(self.ref)
        return apply_transform(subject, self.transform) if self.transform else subject

    def without_transform(self) -> "SubjectSpec":
        """The untransformed subject this spec transforms (itself when it has no transform)."""
        return self.model_copy(update={"transform": None})

    def with_transform(self, transform: Optional[TransformSpec]) -> "SubjectSpec":
        """This subject under `transform` (None: untransformed); SubjectError when it names one already."""
        if transform is not None and self.transform is not None:
            raise SubjectError(f"{self} already names a transform: give the untransformed subject and @{transform}, "
                               "or drop one of them")
        return self if transform is None else self.model_copy(update={"transform": transform})


def member_spec(task: str, model_dir: Optional[str] = None, transform: Optional[str] = None) -> SubjectSpec:
    """The subject of one episode of a batch (`eval`, the Inspect task, `rescore`): a suite member's model
    directory, else the task name; under `transform` (`rotated:3`; None or `none`: untransformed)."""
    spec = SubjectSpec(kind="model_dir", ref=model_dir) if model_dir else SubjectSpec.parse(task)
    return spec.with_transform(parse_transform(transform) if transform not in (None, NO_TRANSFORM) else None)


def split_transform(text: str, where: str = "the subject") -> tuple[str, Optional[TransformSpec]]:
    """`ID@NAME[:ARG]` -> (ID, its TransformSpec); (text, None) without a suffix. A model directory or
    program file whose own path holds an '@' is a path, not a transform."""
    base, at, suffix = text.rpartition("@")
    if not at or _existing_path(text):
        return text, None
    if not base:
        raise SubjectError(f"{where} {text!r}: name the subject before '@', e.g. reverse@{suffix}")
    if "@" in base and not _existing_path(base):
        raise SubjectError(f"{where} {text!r}: one transform per subject (the transforms apply to the untransformed "
                           "subject only)")
    try:
        return base, parse_transform(suffix)
    except SubjectError as e:
        raise SubjectError(f"{where} {text!r}: {e}") from None


def names_a_path(text: str) -> bool:
    """Whether `text` names a model directory or a program file (`dir:`, `program:`): something read
    from the filesystem, which a name taken from a file must never make us search or import."""
    return isinstance(text, str) and text.strip().startswith((DIR_PREFIX, PROGRAM_PREFIX, GEN_SUITE_PREFIX))


def transform_suffix(text: str) -> Optional[TransformSpec]:
    """The `@transform[:ARG]` a subject's text ends with, read without touching the filesystem."""
    base, at, suffix = text.strip().rpartition("@") if isinstance(text, str) else ("", "", "")
    return parse_transform(suffix) if at and base else None


def _existing_path(text: str) -> bool:
    """Whether `text` names a directory or program file as it stands (a path may hold an '@')."""
    for prefix in (DIR_PREFIX, PROGRAM_PREFIX):
        if text.startswith(prefix):
            body = text[len(prefix):]
            file, _, func = body.rpartition(":")
            return Path(body).expanduser().exists() or (func.isidentifier() and Path(file).expanduser().is_file())
    return False


def program_ref(text: str) -> str:
    """`FILE.py:FUNC` with FILE made absolute (the file itself is read when the program is loaded)."""
    path_s, sep, func = text.rpartition(":")
    if not sep or not path_s or not func:
        raise SubjectError(f"--program takes FILE.py:FUNCTION, got {text!r}")
    return f"{Path(path_s).expanduser().resolve()}:{func}"


def model_dirs_under(spec: str, where: str = "--tasks") -> tuple[Path, list[Path]]:
    """`dir:PATH` -> (PATH, the model directories at or below it: folders holding a model.json, sorted).
    A missing or empty PATH is one SubjectError naming `where` the spec was given."""
    path = spec[len(DIR_PREFIX):]
    if not path:
        raise SubjectError(f"{where} dir:PATH needs a directory after 'dir:'")
    root = Path(path).expanduser()
    if not root.is_dir():
        raise SubjectError(f"{where} {spec}: {root} is not a directory")
    dirs = sorted({p.parent for p in root.rglob("model.json")})
    if not dirs:
        raise SubjectError(f"{where} {spec}: {root} holds no model directory (a folder with model.json)")
    return root, dirs


def one_model_dir(spec: str) -> str:
    """`dir:PATH` naming ONE model (PATH holds model.json, or a single model directory below it) -> the
    absolute path of that model; a suite of several is refused with the names to choose from."""
    root, dirs = model_dirs_under(spec, "the subject")
    if len(dirs) == 1:
        return str(dirs[0].resolve())
    names = [d.relative_to(root).as_posix() for d in dirs]
    shown = ", ".join(names[:5]) + (f", … ({len(names)} in all)" if len(names) > 5 else "")
    raise SubjectError(f"{spec} is a suite of {len(names)} models ({shown}); name one, e.g. "
                       f"dir:{(root / names[0]).as_posix()}, or run them all with `eval --tasks {spec}`")


PROGRAM_SUITE = "program"
"""The suite of `eval --program` subjects (the user's own RASP programs), apart from the zoo's tasks."""


def program_member_name(spec: "SubjectSpec") -> str:
    """What results call a `--program` subject: its file's name and function (`prog.py:make`)."""
    path, _, func = spec.ref.rpartition(":")
    return f"{Path(path).name}:{func}"


class SuiteMember(BaseModel):
    """One subject of an `eval --tasks` list: its spec (with the transform it names, if any), the name
    results show (without it: the transform is a column of its own), and its suite (`dir:PATH`)."""

    model_config = ConfigDict(frozen=True)
    spec: SubjectSpec
    name: str
    suite: Optional[str] = None


def parse_suite(text: str) -> list[SuiteMember]:
    """One entry of `eval --tasks`: `all` (the zoo), `gen:SEED:DIFFICULTY:COUNT`, `dir:PATH` (every model
    directory under PATH, each card checked now), or one subject (as `SubjectSpec.parse`)."""
    from tracr_agent.tools.subjects.generate.ids import parse_spec  # the generator loads only when named
    from tracr_agent.tools.subjects.zoo import all_tasks

    text = check_name(text, "--tasks", SubjectError).strip()
    if text == "all":
        return [SuiteMember(spec=SubjectSpec(kind="task", ref=t.id), name=t.id) for t in all_tasks()]
    if text.startswith(GEN_SUITE_PREFIX):
        return [SuiteMember(spec=SubjectSpec(kind="task", ref=str(g)), name=str(g)) for g in parse_spec(text)]
    if text.startswith(DIR_PREFIX):
        root, dirs = model_dirs_under(text, "--tasks")
        suite = root.resolve().name
        members = []
        for d in dirs:
            read_card(d)  # a bad card is one clear line now, not an error in every episode
            name = d.relative_to(root).as_posix() if d != root else suite
            members.append(SuiteMember(spec=SubjectSpec(kind="model_dir", ref=str(d.resolve())), name=name,
                                       suite=suite))
        return members
    spec = SubjectSpec.parse(text, "--tasks")
    if spec.kind == "program":  # the user's own programs: FILE.py:FUNC, grouped apart from the zoo's tasks
        return [SuiteMember(spec=spec, name=program_member_name(spec), suite=PROGRAM_SUITE)]
    return [SuiteMember(spec=spec, name=spec.name)]
