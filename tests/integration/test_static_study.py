"""The static conditions' dump: drawn with the episode's seed, and in the `study` style (`eval --preset
seed`) the prior study's inputs exactly: its prompt verbatim (tests/data/prior-study-report.txt, the
study's report) around TransformerLens cache tensors as `repr` prints them, no labels, no notes, no
format request; the free-text answer's label read from its prose."""

from __future__ import annotations

import re
from pathlib import Path

from langchain_core.messages import AIMessage

from fakes import ScriptedChatModel
from tracr_agent.agent.backends.llm import Backend
from tracr_agent.agent.episode.drive import run_episode
from tracr_agent.agent.evaluation.batch import PRESETS, BatchRunner, EpisodeSpec
from tracr_agent.agent.investigators.static import static_prompt
from tracr_agent.agent.records import transcript as tr
from tracr_agent.agent.records.config import EpisodeSettings

REPORT = (Path(__file__).parents[1] / "data" / "prior-study-report.txt").read_text()


def study_prompt_template() -> str:
    """The prompt as the study's report quotes it, its placeholder for the data left as {data}."""
    quoted = re.search(r'"(Analyse this tracr model.*?)"', REPORT, re.DOTALL).group(1)
    return quoted.replace("\\n", "\n").replace("{attention patterns and positional embeddings}", "{data}")


def test_the_study_style_is_the_studys_prompt_around_raw_cache_tensors(reverse_subject):
    prompt = static_prompt(reverse_subject, "static", style="study")
    head, _, data = study_prompt_template().partition("{data}")
    assert prompt.startswith(head) and data == ""
    dump = prompt[len(head):]
    layers = [f"blocks.{layer}.attn.hook_pattern: tensor([[[[" for layer in range(reverse_subject.n_layers)]
    assert all(line in dump for line in layers) and "hook_pos_embed: tensor([[[" in dump
    for tool_text in ("PREDICTION", "query\\key", "empty", "BOS", '"a"', "tokens:", "head 0"):
        assert tool_text not in prompt, tool_text
    tool_style = static_prompt(reverse_subject, "static")
    assert "PREDICTION" in tool_style and "query\\key" in tool_style


def test_the_dump_follows_the_seed(reverse_subject):
    for style in ("tool", "study"):
        a, b = (static_prompt(reverse_subject, "static+io", style=style, seed=s) for s in (0, 1))
        assert a != b and a == static_prompt(reverse_subject, "static+io", style=style, seed=0)


def test_a_study_style_episode_reads_its_label_from_the_prose(reverse_subject, tmp_path):
    answer = ("Layer 3's head attends anti-diagonally: position i reads position n+1-i.\n"
              "This matches known patterns of simple tasks.\nTop 1 task: sequence reversal.")
    model = ScriptedChatModel(responses=[AIMessage(content=answer)], seen=[])
    path = tmp_path / "t.jsonl"
    result = run_episode(reverse_subject, Backend("scripted", model), transcript_path=path, condition="static",
                         static_style="study", seed=3)
    assert model.seen[0][0].content == static_prompt(reverse_subject, "static", style="study", seed=3)
    assert result.prediction["label"] == "sequence reversal" and result.score.label.correct
    header = tr.read_transcript(path)[0][0]
    assert header.static_style == "study" and header.seed == 3


def test_the_seed_preset_runs_the_study_style():
    settings = EpisodeSettings(**PRESETS["seed"]["settings"])
    config = BatchRunner(Path("."), settings).config(EpisodeSpec("reverse", "static", "baseline", 4))
    assert config.static_style == "study" and config.seed == 4


def test_the_tools_sampled_inputs_follow_the_seed(reverse_subject):
    """Mean ablation's inputs and the probe's samples are drawn with the episode's seed (ToolContext.seed)."""
    import torch

    from tracr_agent.tools.suite.ablation import mean_activations
    from tracr_agent.tools.suite.sample import sample_inputs

    assert sample_inputs(reverse_subject, 50, 0) == sample_inputs(reverse_subject, 50, 0) != sample_inputs(reverse_subject, 50, 1)
    a, b = mean_activations(reverse_subject, 3, 0), mean_activations(reverse_subject, 3, 1)
    assert any(not torch.equal(a[k], b[k]) for k in a)
