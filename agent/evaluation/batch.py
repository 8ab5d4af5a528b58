"""Headless batch evaluation: one episode per (task, condition, LLM, trial), nothing lost.

Each finished episode appends one line to DIR/results.jsonl (a single
O_APPEND write, so a kill never leaves half a record) and keeps its transcript
under DIR/transcripts/. `--resume` skips every key already in results.jsonl.
Episodes run concurrently in threads under asyncio (LLM calls are I/O-bound);
each task's subject is loaded once per process and its forward passes are
serialized by the subject's own lock. An executor (agent/evaluation/executors.py)
can run them elsewhere instead, e.g. on a Ray cluster.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import hashlib
import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from tracr_agent.agent.backends.llm import check_reachable
from tracr_agent.agent.episode.drive import run_episode
from tracr_agent.agent.evaluation.results import (ResultRecord, append_result, read_results, score_fields,
                                                  stated_confidence)
from tracr_agent.agent.episode.lifecycle import version
from tracr_agent.agent.investigators.registry import backend_for, deterministic, make_backend
from tracr_agent.agent.records.config import EpisodeConfig, EpisodeSettings
from tracr_agent.agent.records.transcript import Counters, Ending, Header, LLMRequest, read_transcript
from tracr_agent.tools.sandbox.runner import running_unsafe
from tracr_agent.agent.scoring.verdicts import Score
from tracr_agent.tools.errors import UserError
from tracr_agent.tools.untrusted import jsonio
from tracr_agent.tools.untrusted.files import check_target, write_atomic
from tracr_agent.tools.subjects.generate.ids import is_generated
from tracr_agent.tools.subjects.generate.lookup import task_features
from tracr_agent.tools.subjects.spec import NO_TRANSFORM, SubjectSpec, SuiteMember, member_spec, parse_suite
from tracr_agent.tools.subjects.transforms import parse_transform
from tracr_agent.tools.subjects.subject import limit_math_threads
from tracr_agent.tools.subjects.tasks import get_task
from tracr_agent.tools.conditions import CONDITIONS, RESIDUAL_MODES, Residual

EVAL_FORMAT = "tracr-agent-eval/1"
PRESETS = {
    "seed": {"tasks": ["reverse", "sort", "length"], "conditions": ["static", "static+io", "whitebox", "full"],
             "trials": 10, "settings": {"static_style": "study"}},
}
"""Named designs for `eval --preset`: tasks, conditions, trials, and episode settings. `seed` is the prior
study's (its static conditions get the study's own inputs: agent/investigators/static.py)."""


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
    residual: Residual = Residual.LABELLED
    subject: Optional[str] = None
    """The spec text of a `--program` subject (its task name is the file's name); None: the task name, or
    the suite member's model directory."""
    transform: Optional[str] = None
    """`rotated[:SEED]`, `compressed[:D]`, or None: untransformed."""

    def subject_spec(self) -> SubjectSpec:
        """The subject this episode investigates (a program, a suite member's model directory, else the task
        name), under its transform."""
        if self.subject:
            return SubjectSpec.parse(self.subject).with_transform(parse_transform(self.transform)
                                                                   if self.transform else None)
        return member_spec(self.task, self.model_dir, self.transform)

    @property
    def key(self) -> str:
        task = f"{self.suite}/{self.task}" if self.suite else self.task
        # the subject's name as `ID@transform`, as `--tasks` takes it; labelled keeps the key it had
        # before residual modes existed: old runs still --resume
        task += f"@{self.transform}" if self.transform else ""
        mode = "" if self.residual == Residual.LABELLED else f"|{self.residual}"
        return f"{task}|{self.condition}{mode}|{self.llm}|{self.trial}"

    def filename(self) -> str:
        task = f"{_safe(self.suite)}__{_safe(self.task)}" if self.suite else self.task
        task += f"@{_safe(self.transform)}" if self.transform else ""
        mode = "" if self.residual == Residual.LABELLED else f"__{self.residual}"
        return f"{task}__{self.condition.replace('+', '_')}{mode}__{_safe(self.llm)[:60]}__t{self.trial}.jsonl"


def record_from_score(spec: EpisodeSpec, score: Optional[Score], **fields) -> ResultRecord:
    return ResultRecord(key=spec.key, task=spec.task, suite=spec.suite, condition=spec.condition,
                        residual=spec.residual, transform=spec.transform, llm=spec.llm, trial=spec.trial,
                        score=score, features=None if spec.suite else task_features(spec.task),
                        **score_fields(score), **fields)


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
    write_atomic(aside, tail)
    write_atomic(path, data[:cut])
    return aside


def prepare_out_dir(out: Path, resume: bool) -> Optional[Path]:
    """Checks and prepares DIR; on --resume returns where a torn last results line was moved (or None)."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is a file, not a directory: choose a directory for the evaluation")
    manifest = out / "manifest.json"
    if manifest.is_file():
        try:
            fmt = jsonio.loads(manifest.read_text()).get("format")
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
    for name in ("manifest.json", "results.jsonl"):  # written later: a symlink or a device there is refused now
        check_target(out / name)
    if not manifest.is_file():
        write_atomic(manifest, json.dumps({"format": EVAL_FORMAT, "tracr_agent_version": version(),
                                        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}))
    return set_aside_torn_tail(out) if resume else None


def plan(members: list[SuiteMember], conditions: list[str], llms: list[str], trials: int,
         residuals: tuple[str, ...] = (Residual.LABELLED,),
         transforms: tuple[Optional[str], ...] = (None,)) -> list[EpisodeSpec]:
    """Every episode: member × transform × condition × residual mode × LLM × trial. A member named with
    its own transform (`reverse@rotated`) keeps it (`validate` refuses it beside `--transforms`)."""
    return [EpisodeSpec(m.name, c, l, i, suite=m.suite,
                        model_dir=m.spec.ref if m.spec.kind == "model_dir" and m.suite else None,
                        residual=Residual(r), subject=str(m.spec.without_transform()) if m.spec.kind == "program" else None,
                        transform=str(m.spec.transform) if m.spec.transform else x)
            for m in members for x in transforms for c in conditions for r in residuals for l in llms
            for i in range(trials)]


def parse_transforms(values: list[str]) -> tuple[Optional[str], ...]:
    """`eval --transforms none,rotated,compressed:12` -> (None, 'rotated', 'compressed:12'), each checked
    (tools/subjects/transforms: one SubjectError line for an unknown one), repeats dropped."""
    out = []
    for v in values:
        try:
            out.append(None if v == NO_TRANSFORM else str(parse_transform(v)))
        except UserError as e:
            raise UserError(f"--transforms {v!r}: {e}; or {NO_TRANSFORM} for the untransformed subject") from None
    return tuple(dict.fromkeys(out)) or (None,)


def validate(tasks: list[str], conditions: list[str], llms: list[str], compat: Optional[str],
             residuals: tuple[str, ...] = (Residual.LABELLED,),
             transforms: tuple[Optional[str], ...] = (None,),
             temperature: Optional[float] = None, api_key_env: Optional[str] = None) -> list[SuiteMember]:
    """Resolves every `--tasks` entry (tools/subjects/spec.py `parse_suite`: ids, aliases, generated ids,
    `gen:S:D:N` and `dir:PATH` suites, `all`) and checks conditions, residual modes, transforms and LLMs,
    all before any episode starts. Every compression is trained (or read from the cache) here: one that
    cannot be faithful is one line now, not an error in each of its episodes."""
    # checked first: resolving generated tasks can take minutes
    bad = [m for m in residuals if m not in RESIDUAL_MODES]
    if bad:
        raise UserError(f"unknown residual mode(s) {', '.join(bad)}; choose from: {', '.join(RESIDUAL_MODES)}")
    members = [m for t in tasks for m in parse_suite(t)]
    named = [m for m in members if m.spec.transform is not None]
    if named and transforms != (None,):
        raise UserError(f"--tasks {named[0].spec} names its transform and --transforms gives more: give the "
                        f"untransformed {named[0].spec.without_transform()} with --transforms, or drop --transforms")
    for m in members:
        if m.spec.kind == "task" and is_generated(m.spec.ref):
            get_task(m.spec.ref)  # generated, compiled and verified now (cached), not in every episode
        elif m.spec.kind == "program":
            m.spec.load()  # the user's program: imported and compiled now (cached), a bad one is one line
    for m in members:
        for x in transforms:
            spec = m.spec.with_transform(parse_transform(x) if x else None)
            if spec.transform is not None and spec.transform.name == "compressed":
                try:
                    spec.load()  # trained once and cached, or refused (and nothing cached)
                except UserError as e:
                    raise UserError(f"--tasks {m.name}@{spec.transform}: {e}") from None
    bad = [c for c in conditions if c not in CONDITIONS]
    if bad:
        raise UserError(f"unknown condition(s) {', '.join(bad)}; choose from: {', '.join(CONDITIONS)}")
    for spec in llms:
        make_backend(spec, compat, temperature=temperature, api_key_env=api_key_env)
        check_reachable(spec, api_key_env)
    return members


class BatchRunner:
    """Runs planned episodes (EpisodeSpec) with the batch's shared settings (`settings`: an
    EpisodeSettings whose limits, compat, closed set and cap every episode takes), on an executor."""

    def __init__(self, out: Path, settings: EpisodeSettings, *, judge=None,
                 on_event: Optional[Callable[[str, EpisodeSpec, Optional[ResultRecord]], None]] = None,
                 executor=None, llm_names: Optional[dict[str, str]] = None):
        self.out = Path(out)
        self.settings = settings
        self.llm_names = llm_names or {}
        """Spec -> the name each record shows it by (`eval --llm-name`)."""
        self.executor = executor
        """Where the episodes run (agent/evaluation/executors.py); None: threads in this process."""
        self.judge = judge
        self.on_event = on_event or (lambda *a: None)
        self._subjects: dict = {}
        self._subject_lock = threading.Lock()
        self._append_lock = threading.Lock()

    def config(self, spec: EpisodeSpec, backend=None) -> EpisodeConfig:
        """The episode's EpisodeConfig: the batch's settings, this episode's subject, condition, residual
        mode and LLM, its trial as the seed, and how the backend samples."""
        return EpisodeConfig(**{**self.settings.settings(), "subject": spec.subject_spec(), "condition": spec.condition,
                                "residual": spec.residual, "llm": spec.llm, "seed": spec.trial,
                                **(backend.sampling() if backend is not None else {})})



    def subject(self, config: EpisodeConfig):
        with self._subject_lock:
            if config.subject not in self._subjects:
                self._subjects[config.subject] = config.subject.load()
            return self._subjects[config.subject]

    def run_one(self, spec: EpisodeSpec) -> ResultRecord:
        # a transcript left by a killed run is started over (a symlink or a device there is refused)
        path = self.out / "transcripts" / spec.filename()
        rel = str(path.relative_to(self.out))
        try:
            backend = backend_for(self.settings, spec.llm)
            config = self.config(spec, backend)
            res = run_episode(self.subject(config), backend, config, transcript_path=path, judge=self.judge)
            rec = record_from_score(spec, res.score, status=res.status,
                                    label=(res.prediction or {}).get("label"),
                                    confidence=stated_confidence(res.prediction),
                                    **Counters.of(res.model_dump()).model_dump(), transcript=rel, error=res.error,
                                    unsafe_sandbox=running_unsafe() or None, llm_name=self.llm_names.get(spec.llm),
                                    **Ending.of(res.model_dump()).model_dump(exclude_none=True),
                                    **replica_fields(read_transcript(path, strict=False)[0]))
        except Exception as e:  # recorded, and the batch goes on
            rec = record_from_score(spec, None, status="error", transcript=rel, error=f"{type(e).__name__}: {e}",
                                    llm_name=self.llm_names.get(spec.llm))
        append_result(self.out, rec, self._append_lock)
        return rec

    async def run_all(self, specs: list[EpisodeSpec], concurrency: int) -> list[ResultRecord]:
        """Every episode, at most `concurrency` at once, on the runner's executor."""
        if self.executor is not None:
            return await self.executor.run_episodes(self, specs, concurrency)
        return await self.run_in_threads(specs, concurrency)

    async def run_in_threads(self, specs: list[EpisodeSpec], concurrency: int) -> list[ResultRecord]:
        limit_math_threads()  # in the main thread, before the worker threads exist
        sem = asyncio.Semaphore(max(1, concurrency))

        async def one(spec):
            async with sem:
                self.on_event("start", spec, None)
                rec = await asyncio.to_thread(self.run_one, spec)
                self.on_event("done", spec, rec)
                return rec

        return list(await asyncio.gather(*(one(s) for s in specs)))


def replica_fields(events: list) -> dict:
    """A results record's `temperature`, `prompt_sha` (a short hash of the first request's messages and of
    how the LLM sampled) and `replicable`, from a transcript's events."""
    header = events[0] if events and isinstance(events[0], Header) else None
    if header is None:
        return {}
    sampling = {"temperature": header.temperature, "reasoning_effort": header.reasoning_effort,
                "max_output_tokens": header.max_output_tokens}
    first = next((e for e in events if isinstance(e, LLMRequest)), None)
    sha = None
    if first is not None:
        text = json.dumps({"messages": first.messages, "sampling": sampling}, sort_keys=True, default=str)
        sha = hashlib.sha256(text.encode()).hexdigest()[:16]
    return {"temperature": header.temperature, "prompt_sha": sha,
            "replicable": deterministic(header.llm) or header.temperature == 0}


def pending(specs: list[EpisodeSpec], out: Path) -> list[EpisodeSpec]:
    done = {r.key for r in read_results(out)}
    return [s for s in specs if s.key not in done]
