"""Options shared by the commands that run episodes, declared once.

`limit_options` gives a command the five limit options (`--max-tool-calls` … `--max-cost`),
generated from the one declaration of the budget (agent/records/limit_fields.py, which `Limits`
is built from too), and hands the command a checked `limits: Limits` argument instead. `CapOpt` is
the tool-output cap option. Imports stay light (typer, and modules that import nothing heavy) so
`tracr-agent --help` stays fast.
"""

from __future__ import annotations

import functools
import inspect
from typing import Optional

import typer

from tracr_agent.agent.backends.llm import llm_help
from tracr_agent.agent.investigators.names import BUILT_IN
from tracr_agent.agent.records.limit_fields import LIMIT_FIELDS
from tracr_agent.tools.conditions import CONDITIONS, Residual, with_tools
from tracr_agent.tools.protocol.cap import DEFAULT_CAP_TOKENS

DEFAULT_OUT = "runs/transcripts"
"""Where `run` and `lab` write new transcripts: not transcripts/, which holds the tracked examples."""
CapOpt = typer.Option(DEFAULT_CAP_TOKENS, "--cap", help="Tool output cap in tokens.")
PlainOpt = typer.Option(False, "--plain", help="Tool results as the text the agent read (no shaded grids for "
                        "attention patterns and residual decodes).")


def condition_option(tools_only: bool = False):
    """`--condition/-c`, its help listing the declared conditions (tools/conditions.py)."""
    names = with_tools() if tools_only else list(CONDITIONS)
    return typer.Option("full", "--condition", "-c", help=("Tool policy: " if tools_only else "")
                        + (", " if tools_only else " | ").join(names) + ".")


ConditionOpt = condition_option()
ToolConditionOpt = condition_option(tools_only=True)


def limit_options(fn):
    """Replaces a command's `limits` parameter by one typer option per limit (records/limit_fields.py)
    and hands the command a checked `Limits` instead; a bad value is one `error:` line naming the
    option (Limits.from_options raises UserError; wrap with user_errors)."""
    sig = inspect.signature(fn)
    if "limits" not in sig.parameters:
        raise TypeError(f"{fn.__name__} needs a `limits` parameter for @limit_options")
    extra = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=_annotation(name),
                               default=typer.Option(default, "--" + name.replace("_", "-"), help=help_))
             for name, (kind, default, help_) in LIMIT_FIELDS.items()]

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        # imported when the command runs, not when the CLI starts: pydantic is not needed for --help
        from tracr_agent.agent.records.limits import Limits

        values = {name: kwargs.pop(name) for name in LIMIT_FIELDS if name in kwargs}
        kwargs["limits"] = Limits.from_options(**values)
        return fn(*args, **kwargs)

    params = [p for p in sig.parameters.values() if p.name != "limits"]
    wrapper.__signature__ = sig.replace(parameters=params + extra)
    wrapper.__annotations__ = {k: v for k, v in fn.__annotations__.items() if k != "limits"}
    wrapper.__annotations__.update({name: _annotation(name) for name in LIMIT_FIELDS})
    return wrapper


def _annotation(name: str):
    """A limit option's type: Optional for a limit that is off unless given."""
    kind, default, _ = LIMIT_FIELDS[name]
    return Optional[kind] if default is None else kind


LlmOpt = typer.Option(None, "--llm", help=llm_help(BUILT_IN))
ApiKeyEnvOpt = typer.Option(None, "--api-key-env", metavar="VAR", help="The environment variable holding the LLM "
                            "endpoint's API key (openai-compatible servers such as vLLM; any --llm provider): its "
                            "name, never the key, is recorded. Default for openai-compatible: "
                            "OPENAI_COMPATIBLE_API_KEY, else no key.")
ProgramOpt = typer.Option(None, "--program", help="Your RASP program: FILE.py:FUNCTION returning (sop, vocab, max_seq_len); "
                                                 "FILE.py:FUNCTION@rotated[:SEED] or @compressed[:D] transforms it.")
ModelDirOpt = typer.Option(None, "--model-dir", help="A converted Tracr model directory (see docs/model-dirs.md); "
                                                    "DIR@rotated[:SEED] or DIR@compressed[:D] transforms it.")
TemperatureOpt = typer.Option(None, "--temperature", help="Sampling temperature sent to the LLM (default: the "
                              "provider's own default; recorded in the transcript header).")
PriceOpt = typer.Option(None, "--price", help="IN,OUT[,CACHED]: USD per million input, output and cached-input "
                        "tokens, overriding the price table (an openai-compatible server's cost is unknown without it).")
TrimOpt = typer.Option(None, "--trim-tool-outputs", help="Send only the last N tool outputs in full (older ones, "
                       "in blocks of N, as a one-line stub); the transcript keeps them whole.")
ResidualOpt = typer.Option(Residual.LABELLED.value, "--residual", help="labelled (tracr's residual variables, neutral names) | raw (unlabelled dims d0…dN).")
