"""`tracr-agent report` over results that state confidences: the calibration table gives, per
condition and investigator, the Brier score and how often an answer at confidence ≥ 0.9 was right."""

from __future__ import annotations

from terminal import report_over
from tracr_agent.agent.evaluation.results import ResultRecord, stated_confidence


def record(task: str, llm: str, confidence, correct: bool) -> ResultRecord:
    return ResultRecord(key=f"{task}|whitebox|{llm}|0", task=task, condition="whitebox", llm=llm, trial=0,
                        status="prediction", functional_correct=correct, confidence=confidence)


def test_the_report_measures_how_the_confidence_tracks_correctness(tmp_path):
    recs = [record("reverse", "decompiler", 0.95, True), record("sort", "decompiler", 0.9, False),
            record("hist", "decompiler", 0.4, False), record("count", "decompiler", None, True),
            record("reverse", "baseline", 0.5, True)]
    md, page = report_over(tmp_path, recs)
    assert "## Confidence: calibration against functional correctness" in md
    # decompiler: three answers state a confidence; Brier (0.05² + 0.9² + 0.4²) / 3 = 0.3242; of the two
    # at ≥ 0.9 one was right, one wrong
    assert "| whitebox | decompiler | 3 | 0.324 | 1/2 | 1 | 0.95 / 0.65 |" in md
    assert "| whitebox | baseline | 1 | 0.250 | 0/0 | 0 | 0.50 / - |" in md
    assert "Confidence: calibration" in page


def test_a_stated_confidence_is_kept_only_when_it_is_a_probability():
    assert stated_confidence({"confidence": 0.9}) == 0.9 and stated_confidence({"confidence": "0.3"}) == 0.3
    assert stated_confidence({"confidence": 1.5}) is None and stated_confidence({"confidence": "high"}) is None
    assert stated_confidence({}) is None and stated_confidence(None) is None
