"""Everything a worker started ends with it: its descendants, found by a token in their environment.

A worker's process group (``killpg``) holds what its kernel forked, but not what left the
group (``setsid()``, a daemonising library) nor, once the worker is gone, anything at all
that a cgroup would hold. So each worker gets a token of its own in its environment
(``JITSCOPE_WORKER_TOKEN=<run token>.<n>``); every process it starts inherits it (unless it
clears its environment on purpose), whichever session, group or parent it ends up in. When
a worker ends we SIGKILL every process of ours that carries its token, and reap the ones the
kernel gave to us (the supervisor is a child subreaper: orphans of its workers re-parent to
it instead of to init, so a container whose init never reaps keeps no zombies of ours). We
only ever ``waitpid`` those pids, never ``-1``: ``subprocess.Popen`` owns the workers' pids.

After a SIGKILL of the supervisor nothing of it runs to do that: the worker dies by its
parent-death signal, and a *guard* (:func:`start_guard`, a tiny interpreter started once per
run in a session of its own) notices the supervisor is gone when the pipe it reads from
reaches end-of-file, and kills every process carrying the run's token. Linux only (``/proc``);
elsewhere these are no-ops and the process group is all there is.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable

from jitscope.core.processes import stat_fields

TOKEN_ENV = "JITSCOPE_WORKER_TOKEN"
PR_SET_CHILD_SUBREAPER = 36
REAP_WAIT_S = 2.0

# The guard's whole program (run with ``python -S -I -c``: no site, no jitscope import, fast).
# argv[1]: the run's token. It blocks on stdin, a pipe only the supervisor holds open.
_GUARD = r"""
import os, signal, sys
while os.read(0, 4096):
    pass
needle = b"\0" + sys.argv[1].encode() + b"."
me, uid = os.getpid(), os.getuid()
for _ in range(3):
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            if os.stat("/proc/" + entry).st_uid != uid:
                continue
            with open("/proc/" + entry + "/environ", "rb") as fh:
                if needle in b"\0" + fh.read():
                    os.kill(int(entry), signal.SIGKILL)
        except OSError:
            pass
"""


def new_run_token() -> str:
    """A token no other run (of any supervisor, on any machine sharing /proc) carries."""
    return f"{TOKEN_ENV}={uuid.uuid4().hex}"


def worker_token(run_token: str, n: int) -> str:
    """The ``NAME=VALUE`` of the ``n``-th worker of a run."""
    return f"{run_token}.{n}"


def become_subreaper() -> bool:
    """Make this process the one orphaned descendants re-parent to (Linux; best effort)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


def carriers(token: str, *, prefix: bool = False) -> list[int]:
    """The pids of this user's processes whose environment holds ``token`` (``NAME=VALUE``
    exactly, or as the start of the value when ``prefix``), ours excepted."""
    needle = b"\0" + token.encode() + (b"." if prefix else b"\0")
    found: list[int] = []
    me, uid = os.getpid(), os.getuid()
    with contextlib.suppress(OSError):
        for entry in os.listdir("/proc"):
            if entry.isdigit() and int(entry) != me and _owned_by(entry, uid) and needle in _environ(entry):
                found.append(int(entry))
    return found


def kill_carriers(token: str) -> list[int]:
    """SIGKILL every process carrying the worker's ``token``; their pids."""
    pids = carriers(token)
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    return pids


def end_carriers(token: str, spare: Iterable[int] = ()) -> None:
    """Kill every process carrying ``token`` and reap those that are (or become, as their
    parents die) our children — bounded; ``spare`` names pids Popen reaps itself."""
    spared = set(spare)
    pids = [p for p in kill_carriers(token) if p not in spared]
    deadline = time.monotonic() + REAP_WAIT_S
    while pids and time.monotonic() < deadline:
        pids = [p for p in pids if not _reaped(p)]
        if pids:
            time.sleep(0.02)


def _reaped(pid: int) -> bool:
    """Gone, or someone else's to reap (True); still to wait for (False)."""
    parent = _parent(pid)
    if parent is None:
        return True
    if parent != os.getpid():
        return _state(pid) in ("Z", "X", "")  # init (or its parent) reaps it
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return done == pid


def start_guard(run_token: str) -> tuple[subprocess.Popen[bytes], int] | None:
    """The guard for a run's workers (see the module's docstring): its process, and the fd we
    hold for it (closing it, or dying, makes the guard sweep and exit). None where it cannot
    run (not Linux, no fds left)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        read_fd, write_fd = os.pipe()
    except OSError:
        return None
    try:
        os.set_inheritable(write_fd, False)
        proc = subprocess.Popen([sys.executable, "-S", "-I", "-c", _GUARD, run_token],
                                stdin=read_fd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True, close_fds=True)
    except OSError:
        os.close(write_fd)
        return None
    finally:
        os.close(read_fd)
    return proc, write_fd


def stop_guard(guard: tuple[subprocess.Popen[bytes], int] | None) -> None:
    """The run ended normally: let the guard go (its sweep then finds nothing) and reap it."""
    if guard is None:
        return
    proc, write_fd = guard
    with contextlib.suppress(OSError):
        os.close(write_fd)
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)


def _owned_by(entry: str, uid: int) -> bool:
    try:
        return os.stat(f"/proc/{entry}").st_uid == uid
    except OSError:
        return False


def _environ(entry: str) -> bytes:
    try:
        with open(f"/proc/{entry}/environ", "rb") as fh:
            return b"\0" + fh.read()
    except OSError:
        return b""


def _state(pid: int) -> str:
    fields = stat_fields(pid)
    return fields[0] if fields else ""


def _parent(pid: int) -> int | None:
    fields = stat_fields(pid)
    return int(fields[1]) if len(fields) > 1 else None
