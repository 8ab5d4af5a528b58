"""The built-in investigators' names, declared where `tracr-agent --help` can read them without loading
any of them (registry.py builds them; the CLI lists them in `--llm`'s help)."""

BUILT_IN = {"baseline": "openworld.investigator:OpenWorldInvestigator",
            "baseline-closed": "baseline:BaselineInvestigator",
            "decompiler": "decompiler.investigator:DecompilerInvestigator"}
"""The investigators that need no LLM, by spec: module (under agent/investigators/) and class. Imported
only when named, so an episode loads no other investigator's code (the open-world baseline never
loads the closed-world one's zoo knowledge: tests/integration/test_openworld.py checks a whole episode)."""
CLOSED_WORLD = frozenset({"baseline-closed"})
"""Specs of investigators that know the zoo's answers: transcripts and reports mark them."""
