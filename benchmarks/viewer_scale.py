"""The viewer at scale: `tracr-agent view` on an evaluation of N episodes (default 1,000), and the page in
headless Chromium.

    python benchmarks/viewer_scale.py SRC_EVAL_DIR [--episodes N] [--keep DIR] [--no-browser]

SRC_EVAL_DIR is a real `tracr-agent eval --out` directory (e.g. 100 episodes of the decompiler and the
baseline in whitebox); its episodes are repeated as further trials until there are N
(tests/batches.py `replicate_eval`), each with a transcript file of its own. Goal: `view` ≤ 5 s.

Printed: the time of `view` the first time (every episode drawn: "cold") and again with nothing changed
("warm": the episodes' files beside the page are kept while their transcripts are unchanged, as after
`eval`, which writes view.html itself), wall and CPU time of the process; the page's size and its
folder's; and Chromium's time to load the page, filter the list and open an episode. On a shared machine
wall times move with the load (printed); CPU times much less.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from batches import replicate_eval  # noqa: E402


def timed(cmd: list[str]) -> tuple[float, float, str]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode:
        sys.exit(f"{' '.join(cmd)} failed:\n{p.stderr}")
    return wall, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime, p.stdout


def size(path: Path) -> int:
    return path.stat().st_size if path.is_file() else sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def chromium(page, fragment: str) -> float:
    exe = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if not exe:
        return float("nan")
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        t0 = time.perf_counter()
        subprocess.run([exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                        "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
                        "--virtual-time-budget=5000", "--dump-dom",
                        page if isinstance(page, str) else page.resolve().as_uri() + fragment],
                       capture_output=True, timeout=300)
        return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("src", type=Path)
    ap.add_argument("--episodes", type=int, default=1000)
    ap.add_argument("--keep", type=Path, help="Build the directory here (kept); default: a temporary one.")
    ap.add_argument("--no-browser", action="store_true")
    a = ap.parse_args()
    cli = shutil.which("tracr-agent") or sys.exit("tracr-agent is not on PATH (pip install -e .)")
    with tempfile.TemporaryDirectory(prefix="viewer-scale-") as tmp:
        d = replicate_eval(a.src, a.keep or Path(tmp) / "ev", a.episodes)
        page = d / "view.html"
        print(f"{a.episodes} episodes ({size(d / 'transcripts') / 1e6:.1f} MB of transcripts); "
              f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        for run in ("cold", "warm"):
            wall, cpu, _ = timed([cli, "view", str(d)])
            print(f"  view ({run}): {wall:.2f} s wall, {cpu:.2f} s CPU")
        folder = d / "view-episodes"
        print(f"  page {size(page) / 1e6:.2f} MB" + (f"; episodes folder {size(folder) / 1e6:.1f} MB "
                                                     f"({len(list(folder.iterdir()))} files)" if folder.is_dir() else ""))
        if not a.no_browser:
            blank = chromium("about:blank", "")
            base = chromium(page, "")
            print(f"  Chromium (each a fresh browser; an empty page takes {blank:.2f} s): load {base:.2f} s; load + "
                  f"filter (#filter=wrong) {chromium(page, '#filter=wrong'):.2f} s; load + open an episode "
                  f"(#ep-{a.episodes}) {chromium(page, f'#ep-{a.episodes}'):.2f} s")


if __name__ == "__main__":
    main()
