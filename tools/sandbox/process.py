"""The processes of one sandboxed run: start them, read their channels under caps and a deadline,
and end them leaving no process and no zombie behind.

Under bubblewrap the worker is the first and only process bwrap starts in the new PID namespace
(`--as-pid-1`: bwrap keeps no init of its own in there), so every process of the sandbox is the
worker or its descendant and carries the worker's rlimits. The namespace lives exactly as long
as the worker: when it exits, the kernel kills every other process in the namespace and waits for
them before the worker's own exit completes. So ending a run is: SIGKILL to the worker, wait
until it has exited, then reap bwrap (which has reaped the worker). bwrap reports the worker's
host PID on its --info-fd; it is pinned with a pidfd and trusted only while it names bwrap's own
child, so a recycled PID is never signalled. Without an info report (bwrap failed early), killing
bwrap's process group is enough: `--die-with-parent` takes the worker down with bwrap.
"""

from __future__ import annotations

import json
import os
import select
import selectors
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

INFO_CAP = 65536
_EXIT_WAIT = 5.0  # seconds; a SIGKILLed namespace ends in milliseconds


@dataclass
class Worker:
    """The sandbox's first process, its PID namespace's init."""
    pid: int
    pid_namespace: Optional[int]
    pidfd: Optional[int]


def parent_of(pid: int) -> Optional[int]:
    """The parent PID of a live or zombie process, or None when there is no such process."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def worker_of(info: bytes, bwrap_pid: int) -> Optional[Worker]:
    """The worker bwrap reported on its --info-fd, pinned by a pidfd; None without a usable report."""
    try:
        doc = json.loads(info.decode("utf-8"))
    except ValueError:
        return None
    pid = doc.get("child-pid") if isinstance(doc, dict) else None
    if type(pid) is not int or pid <= 1:
        return None
    ns = doc.get("pid-namespace")
    try:
        pidfd = os.pidfd_open(pid)
    except (OSError, AttributeError):  # no pidfds here: the PID is checked again before signalling
        pidfd = None
    # Checked after the pidfd is open: a PID recycled before that has another parent.
    if parent_of(pid) != bwrap_pid:
        if pidfd is not None:
            os.close(pidfd)
        return None
    return Worker(pid, ns if type(ns) is int else None, pidfd)


def _end_worker(worker: Worker, bwrap: subprocess.Popen) -> None:
    """SIGKILL to the worker, then wait until it has exited (and with it every process of its namespace)."""
    if worker.pidfd is not None:
        try:
            signal.pidfd_send_signal(worker.pidfd, signal.SIGKILL)
        except ProcessLookupError:
            pass
        poller = select.poll()
        poller.register(worker.pidfd, select.POLLIN)
        poller.poll(_EXIT_WAIT * 1000)  # readable once the worker has exited
        return
    if bwrap.poll() is None and parent_of(worker.pid) == bwrap.pid:
        try:
            os.kill(worker.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    until = time.monotonic() + _EXIT_WAIT
    while parent_of(worker.pid) == bwrap.pid and time.monotonic() < until:
        try:
            if Path(f"/proc/{worker.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] in "ZX":
                return
        except OSError:
            return
        time.sleep(0.005)


def kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def stop(proc: subprocess.Popen, worker: Optional[Worker]) -> None:
    """Ends the run: the worker and its namespace first, then bwrap (or the bare worker's group), reaped.

    bwrap exits by itself once it has reaped the worker; killing it earlier would leave the worker's
    zombie to the host's init instead."""
    try:
        if worker is not None:
            _end_worker(worker, proc)
            try:
                proc.wait(timeout=_EXIT_WAIT)
            except subprocess.TimeoutExpired:
                pass
    finally:
        if worker is not None and worker.pidfd is not None:
            os.close(worker.pidfd)
            worker.pidfd = None
        kill_group(proc)
        try:
            proc.wait(timeout=_EXIT_WAIT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def collect(streams: dict[str, int], caps: dict[str, int], deadline: float) -> tuple[dict, Optional[str]]:
    """Reads every stream (name -> fd) until all close, the deadline passes or one exceeds its cap."""
    bufs = {name: bytearray() for name in streams}
    sel = selectors.DefaultSelector()
    for name, fd in streams.items():
        sel.register(fd, selectors.EVENT_READ, name)
    problem = None
    try:
        while sel.get_map() and problem is None:
            left = deadline - time.monotonic()
            if left <= 0:
                problem = "timeout"
                break
            for key, _ in sel.select(left):
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    sel.unregister(key.fd)
                    continue
                bufs[key.data] += chunk
                if len(bufs[key.data]) > caps[key.data]:
                    what = "result" if key.data == "res" else f"output on {key.data}"
                    problem = f"output flood: the implementation's {what} exceeded {caps[key.data] // 1024} KB"
                    break
    finally:
        sel.close()
    return {name: bytes(buf) for name, buf in bufs.items()}, problem


@dataclass
class Run:
    """What one run left: its channels' bytes, why reading stopped early (or None), its exit status."""
    out: bytes
    err: bytes
    fault: Optional[str]
    returncode: int


def run(make_argv: Callable[[Optional[int], int], list[str]], *, caps: dict[str, int], deadline: float,
        env: dict, cwd: str, pass_fds: tuple[int, ...] = (), info: bool = False) -> Run:
    """Runs `make_argv(info_fd, result_fd)`, reads the result pipe and stderr until they close, and
    stops every process of the run whatever happens.

    The command gets the write end of a result pipe and, with `info`, of an info pipe (a bwrap
    command line puts it in `--info-fd`): the worker bwrap reports there is what `stop` kills."""
    rfd, wfd = os.pipe()
    ifd_r, ifd_w = os.pipe() if info else (-1, -1)
    try:
        extra = (wfd,) + ((ifd_w,) if info else ())
        try:
            proc = subprocess.Popen(make_argv(ifd_w if info else None, wfd), stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=cwd, env=env,
                                    start_new_session=True, close_fds=True, pass_fds=pass_fds + extra)
        finally:
            # Only the child holds the write ends now: EOF means it is gone.
            for fd in extra:
                os.close(fd)
        worker, bufs = None, {}
        try:
            if info:
                # bwrap writes its report as soon as the worker exists, and closes it.
                report, fault = collect({"info": ifd_r}, {"info": INFO_CAP}, deadline)
                worker = worker_of(report["info"], proc.pid)
            bufs, fault = collect({"res": rfd, "stderr": proc.stderr.fileno()}, caps, deadline)
        finally:
            # Whatever happened (including KeyboardInterrupt here), leave nothing running.
            stop(proc, worker)
            proc.stderr.close()
    finally:
        os.close(rfd)
        if info:
            os.close(ifd_r)
    return Run(bufs["res"], bufs["stderr"], fault, proc.returncode)
