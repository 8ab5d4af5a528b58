"""EpisodeConfig (agent/records/config.py): one typed object, persisted once — the transcript header is
its settings plus the subject's identity, the session store keeps it whole — and older headers and
store rows still read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from tracr_agent.agent.episode.store import row_config
from tracr_agent.agent.records import transcript as tr
from tracr_agent.agent.records.config import EpisodeConfig, EpisodeSettings
from tracr_agent.agent.records.limits import Limits
from tracr_agent.tools.conditions import Condition, Residual
from tracr_agent.tools.subjects.spec import SubjectSpec

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "transcripts").glob("baseline-*.jsonl"))


def config(**over) -> EpisodeConfig:
    return EpisodeConfig(**{"subject": SubjectSpec.parse("reverse@rotated:2"), "condition": "whitebox",
                            "residual": "raw", "llm": "decompiler", "compat": "llama-cpp",
                            "limits": Limits(max_tool_calls=7), "cap_tokens": 900, "seed": 3, "closed_set": True,
                            "static_hooks": ["attn.hook_pattern"], "static_inputs": [["a", "b"]], **over})


def test_settings_are_enums_not_strings():
    c = config()
    assert c.condition is Condition.WHITEBOX and c.residual is Residual.RAW
    assert c.condition == "whitebox" and f"{c.condition}" == "whitebox" and str(c.residual) == "raw"
    with pytest.raises(ValidationError):
        config(condition="greybox")
    with pytest.raises(ValidationError):
        config(residual="labeled")


def test_the_store_keeps_the_same_object():
    c = config()
    assert EpisodeConfig.model_validate(json.loads(json.dumps(c.model_dump(mode="json")))) == c
    assert row_config({"kind": "run", "config": c.model_dump(mode="json")}) == c


def test_a_store_row_written_before_the_config_still_resumes():
    old = {"kind": "interactive", "subject": {"task": "sort", "program": None, "model_dir": None},
           "condition": "blackbox", "llm": "baseline", "compat": None, "residual": "labelled",
           "limits": Limits(max_seconds=60).model_dump(), "cap_tokens": 1500, "closed_set": False, "seed": 0}
    c = row_config(old)
    assert (str(c.subject), c.condition, c.limits.max_seconds) == ("sort", Condition.BLACKBOX, 60)
    lab = row_config({"kind": "lab", "subject": {"task": "sort"}, "condition": "full", "llm": "human",
                      "cap_tokens": 900})
    assert lab.limits is None and lab.cap_tokens == 900


def test_the_header_is_the_config_plus_the_subjects_identity():
    c = config()
    header = tr.Header(subject=tr.SubjectRef(fingerprint="f" * 16, task_id="reverse", source="reverse",
                                             spec=str(c.subject)), **c.settings())
    line = header.model_dump_json(exclude_none=True)
    assert json.loads(line).keys() >= {"t", "type", "schema_version", "condition", "limits", "static_inputs"}
    assert list(json.loads(line))[:2] == ["t", "type"]
    back = tr.EVENT_ADAPTER.validate_json(line)
    assert back.config() == c
    assert set(EpisodeSettings.model_fields) <= set(tr.Header.model_fields)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_the_example_transcripts_headers_read_as_configs(path):
    header = tr.read_transcript(path)[0][0]
    c = header.config()
    assert c.subject.kind == "task" and c.subject.ref == header.subject.task_id
    # the examples record the summed-token limit they ran with, which is off by default now
    assert c.limits == Limits(max_tokens=400_000) and c.condition is Condition.FULL


def test_a_lab_header_without_a_budget():
    old_lab = {"type": "header", "schema_version": 1, "subject": {"fingerprint": "x", "task_id": "sort"},
               "condition": "full", "llm": "human", "actor": "human", "limits": {}}
    header = tr.EVENT_ADAPTER.validate_python(old_lab)
    assert header.limits is None and header.config().limits is None


def test_a_header_from_a_newer_revision_still_reads():
    """A setting a later version adds (say, sampling per trial) arrives as an unknown field of a newer
    revision: this version reads the header, and its config, without it."""
    newer = {"type": "header", "schema_version": 1, "schema_minor": 9, "subject": {"fingerprint": "x", "task_id": "sort"},
             "condition": "blackbox", "llm": "openai:o4-mini", "sampling": {"temperature": 0.7, "top_p": 0.9}}
    header = tr.EVENT_ADAPTER.validate_python(newer)
    assert header.schema_minor == 9 and header.config().condition is Condition.BLACKBOX
    assert "sampling" not in header.model_dump()
