"""Large evaluation directories made cheaply from a small real one, for the viewer's scale test and its
benchmark (benchmarks/viewer_scale.py): `replicate_eval` copies each episode's transcript and record as
further trials until the directory holds N episodes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path


def replicate_eval(src: Path, dest: Path, n: int) -> Path:
    """DEST: an evaluation directory of `n` episodes, the episodes of SRC (a real `eval --out`) repeated as
    further trials — each a transcript file of its own, so the viewer reads and draws every one."""
    records = [json.loads(line) for line in (Path(src) / "results.jsonl").read_text().splitlines() if line.strip()]
    if not records:
        raise ValueError(f"{src} holds no episodes")
    dest = Path(dest)
    (dest / "transcripts").mkdir(parents=True, exist_ok=True)
    shutil.copy(Path(src) / "manifest.json", dest / "manifest.json")
    trials = 1 + max(int(r.get("trial", 0)) for r in records)
    lines = []
    for i in range(n):
        copy, rec = divmod(i, len(records))
        r = dict(records[rec])
        r["trial"] = int(r.get("trial", 0)) + copy * trials
        r["key"] = "|".join(r["key"].split("|")[:-1] + [str(r["trial"])])
        name = Path(r["transcript"]).name.replace(".jsonl", f"__r{copy}.jsonl")
        shutil.copyfile(Path(src) / r["transcript"], dest / "transcripts" / name)
        r["transcript"] = f"transcripts/{name}"
        lines.append(json.dumps(r))
    (dest / "results.jsonl").write_text("\n".join(lines) + "\n")
    return dest
