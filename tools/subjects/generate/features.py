"""Features of a generated task, for results.jsonl and the report's breakdown of accuracy."""

from __future__ import annotations

from collections import Counter

from tracr_agent.tools.subjects.generate.program import Program


def program_features(program: Program, subject=None, measures=None) -> dict:
    """Operations by kind, comparisons, encodings, vocabulary; what difficulty measures (difficulty.Measures:
    steps, attention patterns, depth, attention depth); layers and heads once compiled."""
    ops = Counter(op.kind for op in program.ops)
    comparisons = sorted({op.fn for op in program.ops if op.kind in ("aggregate", "numerical_aggregate",
                                                                        "selector_width")})
    out = {
        "difficulty": program.meta.get("difficulty"),
        "n_ops": len(program.ops),
        "ops": dict(sorted(ops.items())),
        "comparisons": comparisons,
        "numerical": any(op.out == "num" for op in program.ops),
        "output": "numerical" if program.numerical_output else "categorical",
        "vocab": "letters" if program.token_kind == "str" else "integers",
        "vocab_size": len(program.vocab),
        "max_seq_len": program.max_seq_len,
    }
    if measures is not None:
        out.update(measures.as_dict())
    if subject is not None:
        out.update(layers=subject.n_layers, heads=len(subject.nonempty_heads), mlps=len(subject.nonempty_mlps),
                   d_model=subject.d_model)
    return out
