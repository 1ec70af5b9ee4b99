"""The timing lock: one jitscope times at a time on a machine, whoever runs it.

On Linux the lock is an abstract Unix socket (``@jitscope-timing``): binding the name is
taking the lock, and the kernel frees it when its holder exits or dies. No file is involved,
so nothing another user puts in a temp folder (a FIFO, a directory, an unreadable file, a
symlink) can hang, crash or redirect us, and users with different TMPDIRs share it. The
holder listens on it, so a waiter can ask the kernel who holds it (SO_PEERCRED). Elsewhere,
or when ``JITSCOPE_TIMING_LOCK`` names a file, it is an ``flock`` on that file, opened with
:func:`jitscope.core.paths.open_lock_file` (never blocks, never follows a link).

When the machine-wide lock cannot be used for any reason other than a holder, we never wait
for ever and never fail the run: we fall back to a per-user lock (then to none), and say so
once — ``scope`` and ``problem`` record it, and the supervisor labels the cells timed so.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import struct
from pathlib import Path

from jitscope.core.paths import LOCK_ENV, LockAddress, LockUnusable, open_lock_file, user_lock_file

MACHINE_WIDE = "machine-wide"
PER_USER = "per-user"
NO_LOCK = "none"
OFF = "off"  # the caller asked for no lock (tests); not a fallback, nothing to label
NOT_LISTENING = "a process that does not listen on it"


class TimingLock:
    """An advisory lock held while a worker times anything (see the module's docstring)."""

    def __init__(self, address: LockAddress | Path | None) -> None:
        if isinstance(address, Path):
            address = LockAddress(file=address)
        self.address = address  # the machine-wide lock asked for
        self.scope = OFF if address is None else MACHINE_WIDE
        self.problem = ""  # why the machine-wide lock is not in use; "" while it is
        self._target: LockAddress | None = address  # what we lock now
        self._sock: socket.socket | None = None
        self._fd: int | None = None

    @property
    def path(self) -> LockAddress | None:
        return self._target

    @property
    def held(self) -> bool:
        return self._sock is not None or self._fd is not None

    def try_acquire(self) -> bool:
        """Take the lock if free (True), or say another process holds it (False). A lock
        that cannot be used at all is replaced by the fallback, here and for good."""
        while self._target is not None and not self.held:
            try:
                return self._try(self._target)
            except LockUnusable as exc:
                self._fall_back(str(exc))
        return True

    def release(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)  # closing the last fd releases the flock
            self._fd = None

    def fallback_message(self) -> str:
        """One line for the user: why we time without machine-wide exclusion and what to do."""
        instead = "a per-user lock" if self.scope == PER_USER else "no lock at all"
        return (f"timing without machine-wide exclusion: {self.problem}; using {instead}, so another user's "
                f"jitscope may time at the same moment (set {LOCK_ENV} to a file every user can open)")

    def waiting_message(self) -> str:
        """``another jitscope is timing (lock @jitscope-timing, held by pid 12 of user bob);
        waiting for it`` — with what to do when the holder does not look like a jitscope."""
        holder = self.holder()
        text = f"another jitscope is timing (lock {self._target}" + (f", held by {holder}" if holder else "") + "); waiting for it"
        if holder == NOT_LISTENING:
            text += f" — if it is not a jitscope, {LOCK_ENV}=FILE times under another lock"
        return text

    def holder(self) -> str:
        """Who holds the lock, as far as the kernel says (``pid 12 of user bob``), or ""."""
        if self._target is None or self._target.socket_name is None:
            return ""
        return _socket_holder(self._target.socket_name)

    # ---- internals ------------------------------------------------------------------------
    def _try(self, target: LockAddress) -> bool:
        if target.socket_name is not None:
            self._sock = _bind_abstract(target.socket_name)
            return self._sock is not None
        assert target.file is not None
        fd = open_lock_file(target.file)
        if not _flock(fd):
            os.close(fd)
            return False
        self._fd = fd
        return True

    def _fall_back(self, problem: str) -> None:
        if self.scope == MACHINE_WIDE:
            self.problem = f"the timing lock {self._target} {problem}"
            self.scope, self._target = PER_USER, None
            try:
                self._target = LockAddress(file=user_lock_file())
                return
            except OSError as exc:
                self.problem += f"; the per-user lock cannot be made ({exc.strerror or exc})"
        else:
            self.problem += f"; the per-user lock {self._target} {problem}"
        self.scope, self._target = NO_LOCK, None


def _bind_abstract(name: str) -> socket.socket | None:
    """Bind ``@name``: the socket (we hold the lock), or None (someone else does)."""
    try:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    except OSError as exc:
        raise LockUnusable(f"cannot be used (no Unix socket: {exc.strerror or exc})") from None
    try:
        sock.bind("\0" + name)
        sock.listen(8)  # never accepted: only so that a waiter can learn who holds it
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            return None
        raise LockUnusable(f"cannot be bound ({exc.strerror or exc})") from None
    return sock


def _flock(fd: int) -> bool:
    try:
        import fcntl
    except ImportError:
        os.close(fd)
        raise LockUnusable("cannot be locked: this system has no flock") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError as exc:  # ENOLCK on some network filesystems...
        os.close(fd)
        raise LockUnusable(f"cannot be locked ({exc.strerror or exc})") from None
    return True


def _socket_holder(name: str) -> str:
    """Ask the kernel for the credentials of the process listening on ``@name``."""
    peercred = getattr(socket, "SO_PEERCRED", None)
    if peercred is None:
        return ""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.setblocking(False)
        try:
            probe.connect("\0" + name)
            pid, uid, _gid = struct.unpack("3i", probe.getsockopt(socket.SOL_SOCKET, peercred, struct.calcsize("3i")))
        except ConnectionRefusedError:  # bound, not listening: not how a jitscope holds it
            return NOT_LISTENING
        except OSError:
            return ""  # its queue is full (many waiters), or it just let go: nothing to name
    return f"pid {pid} of user {_user_name(uid)}"


def _user_name(uid: int) -> str:
    try:
        import pwd

        return pwd.getpwuid(uid).pw_name
    except (ImportError, KeyError):
        return str(uid)
