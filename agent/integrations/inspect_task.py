"""The benchmark as an Inspect AI task: `inspect eval tracr_agent/interp -T tasks=… -T condition=…`.

- Dataset: one sample per subject (`tasks` takes what `tracr-agent eval --tasks` takes: ids, `all`,
  `gen:SEED:DIFFICULTY:COUNT`, `dir:PATH`); Inspect's epochs are our trials (seed = epoch - 1).
- Setup (`episode_setup`, Task.setup: it runs even when `--solver` replaces the solver): loads the
  subject, records the episode in the sample's store, and gives the sample our system prompt and
  opening message with the condition's tools — or, in a static condition, the study's one prompt
  holding the dump and no tools.
- Solver (`investigator`, the default): our loop — generate, run the tool calls, nudge a model that
  stops calling tools, and after a limit one forced turn in which only submit_prediction is offered.
  Any Inspect solver or agent can replace it (`--solver`); `tracr_tools()` gives an agent the tools.
- Scorer (`tracr_scorer`): our scorer on the submitted prediction (or, when none was submitted, on a
  `PREDICTION:` answer in the last completion, as the static conditions answer); the value holds
  functional correctness, `explained` and agreement, the metadata our whole typed score.

Inspect's own limits (`--message-limit`, `--token-limit`, `--time-limit`, …) apply as usual; a
sample cut short by one is scored on what it submitted (no prediction: everything wrong).
"""

from __future__ import annotations

from typing import Any, Optional

from inspect_ai import Task, task
from inspect_ai._util.error import PrerequisiteError  # Inspect prints its message alone, no traceback
from inspect_ai.dataset import MemoryDataset, Sample
from inspect_ai.model import ChatMessageSystem, ChatMessageUser, execute_tools
from inspect_ai.scorer import Score, Target, accuracy, mean, scorer, stderr
from inspect_ai.solver import Generate, Solver, TaskState, solver
from inspect_ai.tool import ToolFunction
from inspect_ai.util import store_as

from tracr_agent.agent.records.limits import Limits
from tracr_agent.agent.integrations.inspect_tools import EpisodeStore, sample_spec, sample_subject, sample_tools
from tracr_agent.tools.protocol.cap import DEFAULT_CAP_TOKENS

EPISODE_METADATA = "tracr_agent"
"""The sample metadata key holding the sample's episode (EpisodeStore fields)."""
MAX_NUDGES = 2


def registered(name: str) -> str:
    """The name to register `name` under so Inspect knows it as `tracr_agent/NAME`. Inspect prefixes the
    package itself when it sees the module installed; it does not when a `tracr_agent.egg-info` left in
    the working directory (an editable install's build files) hides the installed distribution."""
    from inspect_ai._util.package import get_installed_package_name

    return name if get_installed_package_name(registered) == "tracr_agent" else f"tracr_agent/{name}"


def _names(tasks: Any) -> list[str]:
    """`tasks` as given with -T: a comma-separated string, or a YAML list."""
    items = tasks if isinstance(tasks, (list, tuple)) else str(tasks).split(",")
    return [str(t).strip() for t in items if str(t).strip()]


def episode_samples(tasks: Any, condition: str, residual: str, cap_tokens: int, closed_set: bool,
                    max_tool_calls: int) -> list[Sample]:
    """One sample per subject; bad input is a PrerequisiteError (Inspect shows its one line)."""
    from tracr_agent.agent.records.limits import check_cap
    from tracr_agent.agent.evaluation.batch import validate
    from tracr_agent.agent.loop.prompts import OPENING
    from tracr_agent.tools.errors import UserError

    try:
        names = _names(tasks)
        if not names:
            raise UserError("give -T tasks=… (task ids, comma-separated, 'all', gen:SEED:DIFFICULTY:COUNT or dir:PATH)")
        check_cap(int(cap_tokens))
        if int(max_tool_calls) < 1:
            raise UserError(f"max_tool_calls must be at least 1 (got {max_tool_calls})")
        validate([], [condition], [], None, (residual,))  # before the tasks: a gen: suite compiles
        refs = validate(names, [condition], [], None, (residual,))
    except UserError as e:
        raise PrerequisiteError(f"tracr_agent/interp: {e}") from None
    samples = []
    for ref in refs:  # as batch.plan makes an episode of a suite member
        transform = str(ref.spec.transform) if ref.spec.transform else None
        program = ref.spec.kind == "program"  # named by its spec, which loads it again in the sample
        episode = {"task": str(ref.spec.without_transform()) if program else ref.name, "suite": ref.suite,
                   "model_dir": ref.spec.ref if ref.spec.kind == "model_dir" and ref.suite else None,
                   "transform": transform, "condition": condition,
                   "residual": residual, "cap_tokens": int(cap_tokens), "closed_set": bool(closed_set),
                   "max_tool_calls": int(max_tool_calls)}
        name = f"{ref.suite}/{ref.name}" if ref.suite else ref.name
        samples.append(Sample(id=f"{name}@{transform}" if transform else name, input=OPENING,
                              metadata={EPISODE_METADATA: episode}))
    return samples


@solver(name=registered("episode_setup"))
def episode_setup() -> Solver:
    """Loads the sample's subject and gives the sample our prompt and the condition's tools."""

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        import anyio

        from tracr_agent.agent.episode.lifecycle import subject_ref
        from tracr_agent.agent.loop.prompts import OPENING, closed_set_labels, system_prompt
        from tracr_agent.tools.suite.base import get_condition

        ep = store_as(EpisodeStore)
        for k, v in state.metadata[EPISODE_METADATA].items():
            setattr(ep, k, v)
        ep.seed = state.epoch - 1
        subject = await anyio.to_thread.run_sync(sample_subject, ep)
        ep.subject = subject_ref(subject, sample_spec(ep)).model_dump()
        if not get_condition(ep.condition).has_tools:
            from tracr_agent.agent.investigators.static import static_prompt

            prompt = await anyio.to_thread.run_sync(
                lambda: static_prompt(subject, ep.condition, ep.closed_set, residual=ep.residual, seed=ep.seed))
            state.messages = [ChatMessageUser(content=prompt)]
            state.tools = []
            return state
        labels = closed_set_labels() if ep.closed_set else None
        state.messages = [ChatMessageSystem(content=system_prompt(ep.condition, subject, labels, ep.residual)),
                          ChatMessageUser(content=OPENING)]
        state.tools = sample_tools()
        return state

    return solve


@solver(name=registered("investigator"))
def investigator(max_llm_turns: int = Limits().max_llm_turns) -> Solver:
    """Our agent loop on Inspect's model: tool calls until submit_prediction; a nudge when the model
    stops calling tools; after a limit, one last turn offering only submit_prediction."""

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        from tracr_agent.agent.loop.prompts import FORCE, NUDGE

        ep = store_as(EpisodeStore)
        if not state.tools:  # a static condition: one prompt, one answer
            return await generate(state, tool_calls="none")
        turns = nudges = 0
        while True:
            state = await generate(state, tool_calls="none")
            turns += 1
            if state.completed:  # an Inspect limit ended the sample
                return state
            if state.output.message.tool_calls:
                result = await execute_tools(state.messages, state.tools)
                state.messages.extend(result.messages)
                if ep.prediction is not None or ep.forced:
                    return state
                hit = (("tool-call", ep.max_tool_calls) if ep.tool_calls >= ep.max_tool_calls else
                       ("LLM-turn", max_llm_turns) if turns >= max_llm_turns else None)
            elif ep.forced:
                return state  # the forced turn passed without a prediction
            else:
                nudges += 1
                hit = ("LLM-turn", max_llm_turns) if turns >= max_llm_turns else \
                    ("no-progress", MAX_NUDGES) if nudges > MAX_NUDGES else None
                if hit is None:
                    state.messages.append(ChatMessageUser(content=NUDGE))
                    continue
            if hit is not None:
                ep.forced = True
                ep.limit = {"limit": hit[0], "value": float(hit[1]), "step": turns}
                state.messages.append(ChatMessageUser(content=FORCE.format(limit=hit[0], value=float(hit[1]))))
                state.tools = sample_tools(["submit_prediction"])
                state.tool_choice = ToolFunction(name="submit_prediction")

    return solve


def answered_prediction(state: TaskState, static: bool) -> Optional[dict]:
    """A prediction written as text (a static condition's answer, or a swapped-in solver's final
    `PREDICTION: …` line), read as the static conditions read it."""
    import re

    from tracr_agent.agent.investigators.static import parse_answer

    text = state.output.completion if state.output else ""
    if not text.strip() or not (static or re.search(r"^\s*\**PREDICTION\**\s*:", text, re.I | re.M)):
        return None
    return parse_answer(text)


def score_summary(s) -> str:
    """One line, as the live view words a score."""
    fn, lab = s.functional, s.label
    parts = [("label " + ("correct" if lab.correct else "wrong")) if lab else "label n/a"]
    if fn is not None:
        parts.append(f"implementation {'correct' if fn.correct else 'wrong'} ({fn.agreement:.1%} of {fn.n_inputs} "
                     "inputs)" + (f": {fn.error}" if fn.error else ""))
    if s.explained is not None:
        parts.append("explained" if s.explained else "not explained")
    return " · ".join(parts)


@scorer(metrics={"functional": [accuracy(), stderr()], "explained": [accuracy(), stderr()], "agreement": [mean()]},
        name=registered("tracr_scorer"))
def tracr_scorer():
    """Our scorer: the implementation against the model on its whole domain (in the sandbox),
    explained vs tabulated, label and family; the metadata holds the typed score."""

    async def score(state: TaskState, target: Target) -> Score:
        import anyio

        from tracr_agent.agent.episode.lifecycle import score_episode
        from tracr_agent.tools.suite.base import get_condition

        ep = store_as(EpisodeStore)
        static = not get_condition(ep.condition).has_tools
        prediction = ep.prediction
        if prediction is None:
            prediction = answered_prediction(state, static)
        subject = await anyio.to_thread.run_sync(sample_subject, ep)
        s = await anyio.to_thread.run_sync(lambda: score_episode(prediction, subject, closed_set=ep.closed_set))
        return inspect_score(s, prediction, ep.forced if ep.prediction is not None else None)

    return score


def inspect_score(s, prediction: Optional[dict], forced: Optional[bool]) -> Score:
    """Our typed score as an Inspect score: the value's parts, the label, one line, and the whole score."""
    fn = s.functional
    return Score(value={"functional": float(bool(fn and fn.correct)), "explained": float(bool(s.explained)),
                        "agreement": fn.agreement if fn else 0.0},
                 answer=(prediction or {}).get("label"), explanation=score_summary(s),
                 metadata={"score": s.model_dump(mode="json"), "prediction": prediction, "forced": forced})


@task(name=registered("interp"))
def interp(tasks: Any = "reverse,sort,length", condition: str = "full", residual: str = "labelled",
           cap_tokens: int = DEFAULT_CAP_TOKENS, closed_set: bool = False,
           max_tool_calls: int = Limits().max_tool_calls, max_llm_turns: int = Limits().max_llm_turns,
           solver: Optional[Solver] = None) -> Task:
    """tracr-agent's benchmark: investigate Tracr-compiled transformers and commit to what they compute.

    Args:
        tasks: Subjects: task ids (comma-separated), 'all', gen:SEED:DIFFICULTY:COUNT, dir:PATH.
        condition: static, static+io, blackbox, whitebox or full.
        residual: labelled (tracr's variables under neutral names) or raw (dimensions d0…dN).
        cap_tokens: The tool-output cap, in tokens.
        closed_set: Tell the model the zoo's labels.
        max_tool_calls: Tool calls before the forced last turn.
        max_llm_turns: Model turns before the forced last turn (the default solver's).
        solver: Replace the default solver (the setup still runs).
    """
    return Task(dataset=MemoryDataset(episode_samples(tasks, condition, residual, cap_tokens, closed_set,
                                                      max_tool_calls), name="tracr-agent"),
                setup=episode_setup(), solver=solver or investigator(max_llm_turns=max_llm_turns),
                scorer=tracr_scorer())
