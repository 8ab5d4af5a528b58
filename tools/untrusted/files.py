"""Writing files where a planted symlink or a device node may sit, and paths a record names.

Every user-visible file the product writes (documents, reports, the viewer, results.jsonl, model
cards, Inspect logs) goes through `write_atomic` (or `replace_with`, for a library that writes the
file itself): the target is refused when it is a symlink or exists but is not
a regular file, and the text goes to a temporary file in the same directory, then `os.replace`
puts it in place — a reader never sees half a file, a symlink is never followed, a device is never
written to nor removed. Files written line by line (transcripts) are opened by `open_regular`:
the same refusals, and `O_NOFOLLOW` so a symlink planted between the check and the open fails too.
`inside(root, name)` resolves a path a record names (a transcript of an eval directory) and refuses
one that leaves `root` (`..`, absolute, or a symlink leading out).

A write that fails for a reason of the disk (read-only, full, no permission) is one `UserError`
line naming the file (`write_error`); nothing half-written is left behind.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from pathlib import Path
from typing import Callable, Optional, Union

from tracr_agent.tools.errors import UserError

DISK_ERRNOS = frozenset({errno.ENOSPC, errno.EROFS, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EFBIG,
                         errno.EIO, errno.ENOTDIR, errno.EISDIR, errno.ELOOP, errno.ENAMETOOLONG, errno.ENOENT,
                         errno.EEXIST, errno.EMLINK, errno.ETXTBSY, errno.EBUSY})
"""The errors of a file operation the user can act on (a full or read-only disk, a missing folder,
a path through a file, a symlink refused): `write_error` makes them one line."""


def write_error(e: OSError, path: Union[str, Path, None] = None, doing: str = "write") -> UserError:
    """One line for a failed file operation: what, where, and the system's reason."""
    from tracr_agent.tools.untrusted.text import shown

    where = path if path is not None else e.filename
    reason = e.strerror or str(e)
    return UserError(f"cannot {doing} {shown(where, one_line=True)}: {reason}" if where is not None
                     else f"cannot {doing}: {reason}")


def target_problem(path: Path) -> Optional[str]:
    """Why `path` must not be written (a symlink; something that is not a regular file), or None
    (a regular file, or nothing there yet)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as e:
        return e.strerror or str(e)
    if stat.S_ISLNK(st.st_mode):
        return "it is a symbolic link"
    if not stat.S_ISREG(st.st_mode):
        kind = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file (a device, a pipe or a socket)"
        return f"it is {kind}"
    return None


def check_target(path: Union[str, Path], what: str = "") -> Path:
    """`path` when it may be written (see `target_problem`); otherwise one UserError line."""
    from tracr_agent.tools.untrusted.text import shown

    path = Path(path)
    problem = target_problem(path)
    if problem:
        raise UserError(f"refusing to write {what + ' ' if what else ''}{shown(path, one_line=True)}: {problem}")
    return path


def replace_with(path: Union[str, Path], write: Callable[[Path], None], what: str = "") -> Path:
    """`write(tmp)` fills a temporary file beside `path` (same directory, same suffix: a library that
    picks the format by the name still does), then a rename puts it in place (parents created).
    Refuses a symlink or a non-regular target; a disk error is one UserError line and leaves no
    temporary file."""
    path = check_target(path, what)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}")
        os.close(fd)
        tmp = Path(name)
        try:
            write(tmp)
        except (OSError, UserError):
            raise
        except Exception as e:  # a library's own error for a full disk (safetensors': "os error 28")
            first = (str(e).splitlines() or [""])[0]
            raise UserError(f"cannot write {path}: {type(e).__name__}: {first}") from None
        check_target(path, what)  # planted meanwhile: still refused (os.replace would not follow it either)
        os.replace(tmp, path)
        tmp = None
    except OSError as e:
        raise write_error(e, path) from None
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
    return path


def write_atomic(path: Union[str, Path], data: Union[str, bytes], what: str = "") -> Path:
    """Writes `data` (text as UTF-8) to `path` as `replace_with` does, synced to disk before the rename."""
    blob = data.encode("utf-8") if isinstance(data, str) else data

    def fill(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            fh.write(blob)
            fh.flush()
            os.fsync(fh.fileno())

    return replace_with(path, fill, what)


def open_regular(path: Union[str, Path], mode: str = "a", what: str = ""):
    """A text file opened for appending line by line (O_APPEND: lines another writer adds are never
    overwritten); `mode` "w" empties it first. The target is refused when it is a symlink (also one planted after the check: O_NOFOLLOW) or not a
    regular file; a disk error is one UserError line."""
    path = check_target(path, what)
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, flags | os.O_NONBLOCK, 0o644)  # O_NONBLOCK: a FIFO planted meanwhile cannot block us
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise UserError(f"refusing to write {path}: it is a symbolic link") from None
        raise write_error(e, path) from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise UserError(f"refusing to write {path}: it is not a regular file")
    os.set_blocking(fd, True)
    if mode == "w":
        os.ftruncate(fd, 0)
    return os.fdopen(fd, "a", encoding="utf-8")


def inside(root: Union[str, Path], name: str, links_out: bool = False) -> Optional[Path]:
    """The file `name` (relative, as a record stores it) under `root`, or None when it would leave
    `root`: an absolute path, a `..` component, or a symlink (at any depth) resolving outside —
    unless `links_out` (a folder the user named, whose own links are the user's choice)."""
    if not isinstance(name, str) or not name or "\x00" in name:
        return None
    rel = Path(name)
    if rel.is_absolute() or ".." in rel.parts:
        return None
    if links_out:
        return Path(root) / rel
    root_real = Path(os.path.realpath(root))
    real = Path(os.path.realpath(root_real / rel))
    if real != root_real and root_real not in real.parents:
        return None
    return root_real / rel
