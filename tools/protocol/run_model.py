"""run_model's format: one line per input, `[input] -> [outputs]`, and its parser.

Outputs are a sequence (`-` where the model outputs no value); numerical ones are rounded to 4
decimals. The same lines carry the input/output pairs of the `static+io` dump.
"""

from __future__ import annotations

from tracr_agent.tools.protocol.values import fmt_num, fmt_seq, parse_seq

ARROW = " -> "


def format_outputs(out, numerical: bool) -> str:
    if numerical:
        return "[" + ", ".join(fmt_num(x, 4) for x in out) + "]"
    return fmt_seq(out)


def run_lines(inputs, outputs, numerical: bool) -> str:
    return "\n".join(f"{fmt_seq(x)}{ARROW}{format_outputs(y, numerical)}" for x, y in zip(inputs, outputs))


def parse_run(text: str) -> dict[tuple, list]:
    """{input: outputs} from every `[..] -> [..]` line of a text (other lines are ignored)."""
    obs = {}
    for line in text.splitlines():
        if ARROW not in line or not line.startswith("["):
            continue
        left, right = line.split(ARROW, 1)
        obs[tuple(parse_seq(left))] = parse_seq(right)
    return obs


def payload(text: str) -> dict:
    """{"pairs": [[input, outputs], …]}: the observations as the text states them."""
    return {"pairs": [[list(x), y] for x, y in parse_run(text).items()]}


def observations(data) -> dict[tuple, list]:
    """{input: outputs} from a payload."""
    return {tuple(x): list(y) for x, y in (data or {}).get("pairs", [])}
