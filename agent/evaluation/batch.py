"""Headless batch evaluation: one episode per (task, condition, LLM, trial), nothing lost.

Each finished episode appends one line to DIR/results.jsonl (a single
O_APPEND write, so a kill never leaves half a record) and keeps its transcript
under DIR/transcripts/. `--resume` skips every key already in results.jsonl.
Episodes run concurrently in threads under asyncio (LLM calls are I/O-bound);
each task's subject is loaded once per process and its forward passes are
serialized by the subject's own lock.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from pydantic import BaseModel

from tracr_agent.agent.episode.transcript import Counters
from tracr_agent.agent.scoring.verdicts import Score
from tracr_agent.tools.errors import UserError

EVAL_FORMAT = "tracr-agent-eval/1"
PRESETS = {
    "seed": {"tasks": ["reverse", "sort", "length"], "conditions": ["static", "static+io", "whitebox", "full"],
             "trials": 10},
}


class _RecordHead(BaseModel):
    key: str
    task: str
    suite: Optional[str] = None
    """For a subject from `--tasks dir:PATH`: PATH's folder name (the task is the model's folder)."""
    condition: str
    residual: str = "labelled"
    """`labelled` or `raw` (`--residual`); results from before the field read as labelled."""
    llm: str
    trial: int
    status: str
    label: Optional[str] = None
    label_correct: Optional[bool] = None
    functional_correct: Optional[bool] = None
    agreement: Optional[float] = None
    family_correct: Optional[bool] = None
    explained: Optional[bool] = None
    """Functionally correct and not tabulated (agent/scoring/explanation.py)."""


class ResultRecord(Counters, _RecordHead):
    """One line of results.jsonl: the episode's key and summary columns, its counters
    (transcript.Counters), and the typed score (older files' score objects read into it)."""

    transcript: str = ""
    error: str = ""
    score: Optional[Score] = None
    unsafe_sandbox: Optional[bool] = None
    """True when the submitted code was scored without OS-level isolation (--unsafe-sandbox)."""
    features: Optional[dict] = None
    """For a generated task: its features (operations by kind, layers, heads, numerical, difficulty)."""


PROGRAM_SUITE = "program"
"""The suite of `eval --program` subjects: the user's own RASP programs (no label to match)."""


@dataclass(frozen=True)
class TaskRef:
    """A subject of the batch: a task id, or (suite set) one model directory of a `dir:PATH` suite or one
    `--program FILE.py:FUNC`."""
    name: str
    suite: Optional[str] = None
    model_dir: Optional[str] = None
    program: Optional[str] = None


def _safe(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-." else "_" for ch in text)


@dataclass(frozen=True)
class EpisodeSpec:
    task: str
    condition: str
    llm: str
    trial: int
    suite: Optional[str] = None
    model_dir: Optional[str] = None
    residual: str = "labelled"
    program: Optional[str] = None

    @property
    def key(self) -> str:
        task = f"{self.suite}/{self.task}" if self.suite else self.task
        # labelled keeps the key it had before residual modes existed, so old runs still --resume
        mode = "" if self.residual == "labelled" else f"|{self.residual}"
        return f"{task}|{self.condition}{mode}|{self.llm}|{self.trial}"

    def filename(self) -> str:
        task = f"{_safe(self.suite)}__{_safe(self.task)}" if self.suite else self.task
        mode = "" if self.residual == "labelled" else f"__{self.residual}"
        return f"{task}__{self.condition.replace('+', '_')}{mode}__{_safe(self.llm)[:60]}__t{self.trial}.jsonl"


def score_fields(score: Optional[Score]) -> dict:
    """The summary columns of a results line, from its score (all None when there is none)."""
    lab = score.label if score else None
    fn = score.functional if score else None
    return {"label_correct": lab.correct if lab else None, "functional_correct": fn.correct if fn else None,
            "agreement": fn.agreement if fn else None, "family_correct": lab.family_correct if lab else None,
            "explained": score.explained if score else None}


def record_from_score(spec: EpisodeSpec, score: Optional[Score], **fields) -> ResultRecord:
    from tracr_agent.tools.subjects.generate.task import task_features

    return ResultRecord(key=spec.key, task=spec.task, suite=spec.suite, condition=spec.condition,
                        residual=spec.residual, llm=spec.llm, trial=spec.trial,
                        score=score, features=None if spec.suite else task_features(spec.task),
                        **score_fields(score), **fields)


def results_lines(path: Path):
    """(line number, text) of each non-blank line of a results file; bytes that are not UTF-8
    (a cut copy, a stray editor) become U+FFFD, so such a line reads as corrupt, not as a crash."""
    for lineno, line in enumerate(Path(path).read_bytes().decode("utf-8", errors="replace").splitlines(), 1):
        if line.strip():
            yield lineno, line


def corrupt_line(path: Path, lineno: int, e: ValueError) -> UserError:
    """The one line a reader that must see every record (report, rescore, view) stops with: a line
    that is not JSON (torn, cut, not UTF-8), or JSON that is not a results record."""
    from pydantic import ValidationError

    err = e.errors()[0] if isinstance(e, ValidationError) else None
    if err is None or err["type"] == "json_invalid":
        why = err["msg"] if err else getattr(e, "msg", str(e))
        return UserError(f"{path}:{lineno}: corrupt results line ({why}); move it aside "
                         "(or run `tracr-agent eval … --resume`, which sets a torn last line aside)")
    return UserError(f"{path}:{lineno}: not a results record: {'.'.join(map(str, err['loc']))}: {err['msg']}")


def read_results(out: Path, strict: bool = False) -> list[ResultRecord]:
    """The records of OUT/results.jsonl. Lenient (eval --resume): an unreadable line, a torn last
    line from a crash, is an episode not done. `strict` (report, rescore): the first unreadable
    line is a UserError naming it, so nothing is summarised or rewritten without it."""
    path = Path(out) / "results.jsonl"
    if not path.is_file():
        return []
    records = []
    for lineno, line in results_lines(path):
        try:
            records.append(ResultRecord.model_validate_json(line))
        except ValueError as e:
            if strict:
                raise corrupt_line(path, lineno, e) from None
    return records


def append_result(out: Path, record: ResultRecord, lock: threading.Lock) -> None:
    data = (record.model_dump_json() + "\n").encode()
    with lock:
        fd = os.open(Path(out) / "results.jsonl", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)


def set_aside_torn_tail(out: Path) -> Optional[Path]:
    """Moves a torn last line of results.jsonl (a crash mid-write, or a cut file) to
    results.jsonl.torn-<stamp> and leaves the file ending in a newline, so the next append
    starts a fresh line. Returns where the torn line went, or None when the file was whole."""
    path = Path(out) / "results.jsonl"
    if not path.is_file():
        return None
    data = path.read_bytes()
    if not data:
        return None
    body, tail = (data[:-1], b"") if data.endswith(b"\n") else (data, b"")
    cut = body.rfind(b"\n") + 1
    last = body[cut:]
    if data.endswith(b"\n"):
        try:
            ResultRecord.model_validate_json(last)
            return None
        except ValueError:
            tail = last + b"\n"
    else:
        tail = last
    if not tail.strip():
        return None
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    aside = path.with_name(f"results.jsonl.torn-{stamp}")
    aside.write_bytes(tail)
    with open(path, "r+b") as f:
        f.truncate(cut)
        f.flush()
        os.fsync(f.fileno())
    return aside


def prepare_out_dir(out: Path, resume: bool) -> Optional[Path]:
    """Checks and prepares DIR; on --resume returns where a torn last results line was moved (or None)."""
    from tracr_agent.agent.episode.lifecycle import version

    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is a file, not a directory: choose a directory for the evaluation")
    manifest = out / "manifest.json"
    if manifest.is_file():
        try:
            fmt = json.loads(manifest.read_text()).get("format")
        except ValueError:
            fmt = None
        if fmt != EVAL_FORMAT:
            raise UserError(f"{out} was written by an incompatible tracr-agent (format {fmt!r}, this one writes "
                            f"{EVAL_FORMAT!r}); choose another --out")
        if not resume and (out / "results.jsonl").is_file() and (out / "results.jsonl").stat().st_size:
            raise UserError(f"{out} already holds results: pass --resume to continue it, or choose another --out")
    try:
        (out / "transcripts").mkdir(parents=True, exist_ok=True)
    except OSError as e:  # a file on the way (a/file/b), no permission, read-only filesystem
        raise UserError(f"cannot create the evaluation directory {out}: {e.strerror}") from None
    if not manifest.is_file():
        manifest.write_text(json.dumps({"format": EVAL_FORMAT, "tracr_agent_version": version(),
                                        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}))
    return set_aside_torn_tail(out) if resume else None


def check_llm_reachable(spec: str) -> None:
    """An unreachable OpenAI-compatible endpoint is an error before any episode starts."""
    kind, _, rest = spec.partition(":")
    if kind != "openai-compatible":
        return
    import urllib.error
    import urllib.request

    url = rest.partition("@")[2].rstrip("/") + "/models"
    try:
        urllib.request.urlopen(url, timeout=5).read()
    except (urllib.error.URLError, OSError, ValueError) as e:
        raise UserError(f"LLM endpoint {url} is unreachable ({getattr(e, 'reason', e)}); start the server or fix --llm") from None


def plan(tasks: list, conditions: list[str], llms: list[str], trials: int,
         residuals: tuple[str, ...] = ("labelled",)) -> list[EpisodeSpec]:
    refs = [t if isinstance(t, TaskRef) else TaskRef(t) for t in tasks]
    return [EpisodeSpec(t.name, c, l, i, suite=t.suite, model_dir=t.model_dir, residual=m, program=t.program)
            for t in refs for c in conditions for m in residuals for l in llms for i in range(trials)]


def model_dir_suite(spec: str) -> list[TaskRef]:
    """`dir:PATH`: every model directory under PATH (a folder holding model.json), named by its
    folder relative to PATH, in suite PATH's name. Each card is checked now, before any episode."""
    from tracr_agent.tools.subjects.load import model_dirs_under
    from tracr_agent.tools.subjects.modeldir import read_card

    root, dirs = model_dirs_under(spec, "--tasks")
    suite = root.resolve().name
    refs = []
    for d in dirs:
        read_card(d)  # a bad card is one clear line now, not an error in every episode
        name = d.relative_to(root).as_posix() if d != root else suite
        refs.append(TaskRef(name, suite=suite, model_dir=str(d.resolve())))
    return refs


def program_refs(programs: list[str]) -> list[TaskRef]:
    """`--program FILE.py:FUNC` subjects, each compiled now (and cached), not in every episode; named
    FILE.py:FUNC without the folder unless two would share that name."""
    from pathlib import PurePath

    from tracr_agent.tools.subjects.load import load_program

    specs = list(dict.fromkeys(programs))
    names = [f"{PurePath(spec.rpartition(':')[0]).name}:{spec.rpartition(':')[2]}" for spec in specs]
    return [TaskRef(name if names.count(name) == 1 else spec, suite=PROGRAM_SUITE, program=load_program(spec).source)
            for spec, name in zip(specs, names)]


def validate(tasks: list[str], conditions: list[str], llms: list[str], compat: Optional[str],
             residuals: tuple[str, ...] = ("labelled",), programs: tuple[str, ...] = ()) -> list:
    """Resolves task ids (aliases allowed; generated ids too), `gen:S:D:N` generated suites, `dir:PATH`
    suites and `--program` files (TaskRefs), and checks everything before any episode starts."""
    from tracr_agent.agent.backends.llm import make_backend
    from tracr_agent.tools.suite.base import CONDITIONS, RESIDUAL_MODES
    from tracr_agent.tools.subjects.zoo import all_tasks, get_task

    # checked first: resolving generated tasks can take minutes
    bad = [m for m in residuals if m not in RESIDUAL_MODES]
    if bad:
        raise UserError(f"unknown residual mode(s) {', '.join(bad)}; choose from: {', '.join(RESIDUAL_MODES)}")
    if tasks == ["all"]:
        tasks = [t.id for t in all_tasks()]
    resolved = []
    for t in tasks:
        if t.startswith("dir:"):
            resolved += model_dir_suite(t)
            continue
        if t.startswith("gen:"):  # gen:SEED:DIFFICULTY:COUNT, the first COUNT generated ids of each difficulty
            from tracr_agent.tools.subjects.generate.ids import parse_spec

            tasks_ = [str(g) for g in parse_spec(t)]
            for g in tasks_:
                get_task(g)  # generated, compiled and verified now (cached), not in every episode
            resolved += tasks_
            continue
        try:
            resolved.append(get_task(t).id)
        except KeyError as e:
            raise UserError(e.args[0]) from None
    resolved += program_refs(list(programs))
    bad = [c for c in conditions if c not in CONDITIONS]
    if bad:
        raise UserError(f"unknown condition(s) {', '.join(bad)}; choose from: {', '.join(CONDITIONS)}")
    for spec in llms:
        make_backend(spec, compat)
        check_llm_reachable(spec)
    return resolved


class BatchRunner:
    def __init__(self, out: Path, limits, *, compat: Optional[str] = None, closed_set: bool = False, judge=None,
                 on_event: Optional[Callable[[str, EpisodeSpec, Optional[ResultRecord]], None]] = None):
        self.out = Path(out)
        self.limits = limits
        self.compat = compat
        self.closed_set = closed_set
        self.judge = judge
        self.on_event = on_event or (lambda *a: None)
        self._subjects: dict = {}
        self._subject_lock = threading.Lock()
        self._append_lock = threading.Lock()

    def subject(self, spec: EpisodeSpec):
        key = spec.model_dir or spec.program or spec.task
        with self._subject_lock:
            if key not in self._subjects:
                from tracr_agent.tools.subjects.load import load_model_dir, load_program, load_task

                self._subjects[key] = load_model_dir(spec.model_dir) if spec.model_dir else \
                    load_program(spec.program) if spec.program else load_task(spec.task)
            return self._subjects[key]

    def run_one(self, spec: EpisodeSpec) -> ResultRecord:
        from tracr_agent.agent.episode.lifecycle import run_episode
        from tracr_agent.agent.backends.llm import make_backend
        from tracr_agent.agent.scoring.sandbox import running_unsafe

        path = self.out / "transcripts" / spec.filename()
        if path.exists():
            path.unlink()  # a transcript left by a killed run: this episode starts over
        rel = str(path.relative_to(self.out))
        try:
            subject = self.subject(spec)
            backend = make_backend(spec.llm, self.compat)
            res = run_episode(subject, backend, condition=spec.condition, limits=self.limits, transcript_path=path,
                              closed_set=self.closed_set, seed=spec.trial, judge=self.judge, residual=spec.residual)
            rec = record_from_score(spec, res.score, status=res.status,
                                    label=(res.prediction or {}).get("label"),
                                    **Counters.of(res.model_dump()).model_dump(), transcript=rel, error=res.error,
                                    unsafe_sandbox=running_unsafe() or None)
        except Exception as e:  # recorded, and the batch goes on
            rec = record_from_score(spec, None, status="error", transcript=rel, error=f"{type(e).__name__}: {e}")
        append_result(self.out, rec, self._append_lock)
        return rec

    async def run_all(self, specs: list[EpisodeSpec], concurrency: int) -> list[ResultRecord]:
        from tracr_agent.tools.subjects.subject import limit_torch_threads

        limit_torch_threads()  # in the main thread, before the worker threads exist
        sem = asyncio.Semaphore(max(1, concurrency))

        async def one(spec):
            async with sem:
                self.on_event("start", spec, None)
                rec = await asyncio.to_thread(self.run_one, spec)
                self.on_event("done", spec, rec)
                return rec

        return list(await asyncio.gather(*(one(s) for s in specs)))


def pending(specs: list[EpisodeSpec], out: Path) -> list[EpisodeSpec]:
    done = {r.key for r in read_results(out)}
    return [s for s in specs if s.key not in done]
