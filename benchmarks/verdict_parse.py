"""How long the parent takes to validate a hostile reply on the sandbox's result channel.

Every reply up to the byte cap (`MAX_RESULT_BYTES`, 8 MB) must be accepted or refused in at
most 1 s. For each class of adversarial input this prints the worst time over its variants (each
near the cap, best of 3 runs to take out the noise of a shared machine) and what the parser
said. The budgets a reply is held to grow with the inputs it answers, so each class runs against
two input sets: the largest scoring domain (5,000 inputs, `Subject.domain`'s limit, of 16 tokens)
and the largest a run accepts (`MAX_VALUES`: 10,000 inputs of 19 tokens, 200,000 values).

    python benchmarks/verdict_parse.py
"""

from __future__ import annotations

import time

from tracr_agent.tools.sandbox.reply import MAX_RESULT_BYTES, MAX_VALUES, input_values, parse_reply

CAP = MAX_RESULT_BYTES
LIMIT_SECONDS = 1.0
INPUT_SETS = {"domain 5000x16": (5_000, 16), "largest 10000x19": (10_000, 19)}


def fill(prefix: bytes, unit: bytes, suffix: bytes = b"") -> bytes:
    """prefix + unit repeated + suffix, at most CAP bytes."""
    return prefix + unit * ((CAP - len(prefix) - len(suffix)) // len(unit)) + suffix


def reply(outputs: bytes) -> bytes:
    return b'{"outputs": ' + outputs + b', "failed": [], "error": null}'


def number(digits: bytes) -> bytes:
    """A reply whose first output holds one number literal that fills the cap."""
    head, tail = b'{"outputs": [[', b'], [0]], "failed": [], "error": null}'
    return head + digits[: CAP - len(head) - len(tail)] + tail


def honest(token: bytes, n: int, width: int) -> bytes:
    """A well-formed reply as the worker writes it: `token` for every token of every input."""
    row = b"[" + b", ".join([token] * width) + b"]"
    return reply(b"[" + b", ".join([row] * n) + b"]")


def filling_string(n: int, width: int) -> bytes:
    """A string token long enough that the honest reply with it nearly fills the cap."""
    return b'"' + b"x" * max(1, CAP // (n * width) - 8) + b'"'


def classes(n: int, width: int) -> dict[str, list[bytes]]:
    return {
        "deep nesting": [fill(b"", b"["), fill(b"", b"{"), fill(b"", b"[{"), fill(b"", b'{"a":['),
                         reply(b"[" * 200 + b"]" * 200)],
        "backslashes and quotes": [fill(b'"', b"\\"), fill(b"", b'"'), fill(b"", b'\\"'), fill(b"", b'"\\'),
                                   fill(b'"', b'\\\\"'), fill(b"", b'\\\\\\"'), fill(b'["', b"\\u0022")],
        "huge numbers": [number(b"9" * CAP), number(b"1." + b"7" * CAP), number(b"1e" + b"9" * CAP),
                         number(b"-" + b"0" * CAP), number(b"0." + b"0" * CAP)],
        "many keys": [fill(b"{", b'"a":1,', b'"a":1}'), fill(b"{", b'"k":null,', b'"k":null}'),
                      fill(b'{"outputs":[[', b"1,", b"1]]}")],
        "many values": [fill(b'{"outputs":[[', b"2.5,", b"1]]}"), fill(b'{"outputs":[', b"[],", b"[]]}"),
                        fill(b'{"outputs":[[', b'"",', b'""]]}'), fill(b'{"failed":[', b"0,", b"0]}")],
        "invalid UTF-8": [b"\xff" * CAP, honest(filling_string(n, width), n, width)[: CAP - 1] + b"\xc3",
                          fill(b'{"error": "', b"\xed\xa0\x80", b'"}')],
        "NaN/Infinity tokens": [honest(b"NaN", n, width), honest(b"-Infinity", n, width),
                                fill(b"[", b"NaN,", b"NaN]")],
        "honest replies": [honest(b"1", n, width), honest(b"2.5", n, width), honest(b"true", n, width),
                           honest(filling_string(n, width), n, width)],
    }


def timed(data: bytes, inputs: list) -> tuple[float, str]:
    best, outcome = float("inf"), ""
    for _ in range(3):
        t0 = time.perf_counter()
        try:
            parse_reply(data, inputs)
            outcome = "accepted"
        except ValueError as e:
            outcome = str(e)
        best = min(best, time.perf_counter() - t0)
    return best, outcome


def main() -> None:
    names = list(INPUT_SETS)
    rows: dict[str, list[str]] = {}
    worst_of = dict.fromkeys(names, 0.0)
    for name, (n, width) in INPUT_SETS.items():
        inputs = [[i % 7] * width for i in range(n)]
        assert input_values(inputs) <= MAX_VALUES
        for cls, variants in classes(n, width).items():
            (worst, outcome), size = max(((timed(v[:CAP], inputs), len(v[:CAP])) for v in variants),
                                         key=lambda r: r[0][0])
            worst_of[name] = max(worst_of[name], worst)
            rows.setdefault(cls, []).append(f"{worst * 1000:8.1f} ms  {size / 2**20:4.1f} MB  {outcome[:44]:<44}")
    print(f"{'class':<24}" + "".join(f"{name:<69}" for name in names))
    for cls, cells in rows.items():
        print(f"{cls:<24}" + "".join(f"{cell:<69}" for cell in cells))
    for name in names:
        share = worst_of[name] / LIMIT_SECONDS
        print(f"worst, {name}: {worst_of[name] * 1000:.1f} ms ({share:.2f} of the {LIMIT_SECONDS:g} s limit)")


if __name__ == "__main__":
    main()
