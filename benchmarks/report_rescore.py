"""What trusting nothing recorded costs `report`: every episode is scored afresh from its own
transcript (agent/evaluation/rescore.py) instead of read from results.jsonl. Runs an evaluation of
TASKS × TRIALS episodes with the closed-world baseline (quick, always a prediction to score), then
times reading the records as recorded and scoring them afresh (subjects from the cache, the sandbox
once per episode), and prints both, per episode and as a ratio.

    python benchmarks/report_rescore.py [TRIALS] [TASKS]      # default: 3 reverse,sort,length,hist
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from typer.testing import CliRunner

from tracr_agent.agent.cli.main import app
from tracr_agent.agent.evaluation.batch import read_results
from tracr_agent.agent.evaluation.report import report_records


def main() -> None:
    trials = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    tasks = sys.argv[2] if len(sys.argv) > 2 else "reverse,sort,length,hist"
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "ev"
        r = CliRunner().invoke(app, ["eval", "--tasks", tasks, "--llm", "baseline-closed", "--trials", str(trials),
                                     "--out", str(out)])
        if r.exit_code != 0:
            raise SystemExit(r.output)
        n = len(read_results(out))
        t0 = time.perf_counter()
        read_results(out, strict=True)
        recorded = time.perf_counter() - t0
        t0 = time.perf_counter()
        fresh = report_records(out)
        afresh = time.perf_counter() - t0
        assert not any(rec.unscorable for rec in fresh)
    print(f"episodes:                       {n}")
    print(f"records as recorded:            {recorded * 1000:8.1f} ms  ({recorded / n * 1000:.2f} ms each)")
    print(f"scored afresh from transcripts: {afresh * 1000:8.1f} ms  ({afresh / n * 1000:.1f} ms each)")
    print(f"ratio afresh / recorded:        {afresh / max(recorded, 1e-9):8.0f}x")


if __name__ == "__main__":
    main()
