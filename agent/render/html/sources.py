"""What `tracr-agent view PATH` is pointed at, read into one list of episodes.

PATH is an eval directory (results.jsonl, each record naming its transcript), a folder of transcripts
(searched recursively), one transcript, or an Inspect AI log of tracr_agent/interp (one episode a
sample). Records keep every field results.jsonl carries, so breakdowns others add later (difficulty,
family, residual mode, transform, …) show up without a change here. An episode's transcript is read
when the episode is drawn (`Episode.read_blocks`), not when the batch is listed. Anything else, or a
corrupt results line, is a `UserError`: one line for the CLI, exit 2.

Everything read is untrusted: records are drawn as `shown_data` gives them back, and a record's
transcript is read only from inside its eval directory (`inside`; tools/untrusted/).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from tracr_agent.agent.episode.reading import load_events, summarize_events
from tracr_agent.agent.evaluation.results import ResultRecord, corrupt_line, results_lines
from tracr_agent.agent.records.transcript import TranscriptError
from tracr_agent.agent.render.document import episode_blocks, outcome
from tracr_agent.tools.errors import UserError
from tracr_agent.tools.untrusted import jsonio
from tracr_agent.tools.untrusted.files import inside
from tracr_agent.tools.untrusted.text import shown, shown_data



@dataclass
class Episode:
    id: str
    """The HTML anchor: ep-1, ep-2, …"""
    record: dict
    """The results.jsonl record (or a transcript's summary): task, condition, llm, status, … and any extras."""
    file: Optional[str] = None
    """The transcript, as given in the record (relative to the eval directory)."""
    path: Optional[Path] = None
    """The transcript the episode is drawn from, read when it is drawn; None: no transcript to read."""
    blocks: Optional[list] = None
    """The episode's document blocks when they come from elsewhere (an Inspect log's sample)."""
    problem: Optional[str] = None

    def get(self, key: str, default=None):
        return self.record.get(key, default)

    @property
    def task(self) -> str:
        r = self.record
        task = r.get("task") or r.get("subject") or "?"
        return f"{r['suite']}/{task}" if r.get("suite") else task

    @property
    def correct(self) -> Optional[bool]:
        """Correct means the implementation matched the model on its whole domain; episodes scored only
        by label (none here yet) fall back to the label."""
        fn = self.record.get("functional_correct")
        return fn if fn is not None else self.record.get("label_correct")

    @property
    def outcome(self) -> str:
        r = self.record
        return outcome(r.get("status"), r.get("functional_correct"), r.get("label_correct"))

    @property
    def has_episode(self) -> bool:
        """Whether there is a transcript (or given blocks) to draw the episode from."""
        return self.path is not None or self.blocks is not None

    def read_blocks(self) -> tuple[Optional[list], str]:
        """(its document blocks, a note) — the note names a damaged transcript (the events before the damage
        are drawn), or one that cannot be read at all (no blocks)."""
        if self.blocks is not None or self.path is None:
            return self.blocks, ""
        try:
            events, problem = load_events(self.path)
        except (TranscriptError, OSError) as e:
            return None, f"{self.get('key', self.file)}: {e}"
        return episode_blocks(events, problem), (problem or "")  # the problem starts with the path


@dataclass
class Batch:
    title: str
    source: Path
    episodes: list[Episode] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """One line per thing that could not be shown (a missing or damaged transcript)."""


def _read_records(path: Path) -> list[dict]:
    records = []
    for lineno, line in results_lines(path):
        try:
            data = jsonio.loads(line)
            ResultRecord.model_validate(data)  # the fields every record must have; extras are kept
        except ValueError as e:  # JSONDecodeError and pydantic's ValidationError alike
            raise corrupt_line(path, lineno, e) from None
        records.append(shown_data(data))
    return records


def load_eval_dir(root: Path, records: Optional[list[dict]] = None) -> Batch:
    """An eval directory's episodes: `records` (e.g. as `report` scored them afresh), or results.jsonl's;
    each episode's transcript is read only when it is drawn, and only from inside `root`."""
    batch = Batch(f"evaluation {root.name}", root)
    records = _read_records(root / "results.jsonl") if records is None else [shown_data(r) for r in records]
    for i, rec in enumerate(records, 1):
        rel = rec.get("transcript") or ""
        where = inside(root, rel) if rel else None
        if rel and where is None:
            batch.notes.append(f"{rec.get('key', rel)}: its transcript {shown(rel, one_line=True)} is outside the "
                               "evaluation directory: not read")
        elif where is not None and not where.is_file():
            batch.notes.append(f"{rec.get('key', rel)}: {shown(where, one_line=True)}: no such transcript")
            where = None
        batch.episodes.append(Episode(f"ep-{i}", rec, rel or None, where))
    return batch


def _summarized(i: int, path: Path, shown_as: str) -> Episode:
    """An episode of a transcript read for its summary (TranscriptError, OSError: not a transcript)."""
    events, problem = load_events(path)
    return Episode(f"ep-{i}", shown_data(summarize_events(events, problem, shown_as)), shown_as, path)


def load_transcript_dir(root: Path) -> Batch:
    batch = Batch(f"transcripts under {root.name}", root)
    skipped = 0
    for p in sorted(root.rglob("*.jsonl")):
        try:
            batch.episodes.append(_summarized(len(batch.episodes) + 1, p, str(p.relative_to(root))))
        except (TranscriptError, OSError):
            skipped += 1
    if not batch.episodes:
        raise UserError(f"{root} holds no tracr-agent transcript and no results.jsonl: give an eval directory "
                        "(`tracr-agent eval --out DIR`), a folder of transcripts, or one transcript file")
    if skipped:
        batch.notes.append(f"{skipped} other .jsonl file(s) skipped (not transcripts)")
    return batch


def load_inspect_log(path: Path) -> Batch:
    """An Inspect AI log of tracr_agent/interp: one episode per sample (agent/integrations/inspect_log.py)."""
    from tracr_agent.agent.integrations.inspect_log import log_episodes
    from tracr_agent.agent.render.document import episode_blocks, outcome

    notes: list = []
    return Batch(f"Inspect log {path.name}", path, [
        Episode(f"ep-{i}", shown_data({**e.record.model_dump(mode="json"), "sample": e.sample}), f"sample {e.sample}",
                blocks=episode_blocks(e.events, None)) for i, e in enumerate(log_episodes(path, notes=notes), 1)], notes)


def load(path: Path) -> Batch:
    """The batch behind PATH (see the module docstring)."""
    path = Path(path)
    if path.is_dir():
        if (path / "results.jsonl").is_file():
            return load_eval_dir(path)
        return load_transcript_dir(path)
    from tracr_agent.agent.integrations.inspect_log import is_inspect_log

    if is_inspect_log(path):
        return load_inspect_log(path)
    if path.is_file():
        return Batch(f"transcript {path.name}", path, [_summarized(1, path, path.name)])
    raise UserError(f"{path}: no such file or directory")
