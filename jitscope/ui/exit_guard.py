"""The last resort after a stop signal: once SIGHUP or SIGTERM has been received, the app's
process ends within a bound, whatever a thread is doing.

The signal handler only writes the signal's number to a pipe (no lock, no allocation that
could meet the interrupted code). A daemon thread, started before the app runs, reads it,
starts the orderly stop in a thread of its own (``on_signal``: cancel the run as
interrupted, close the probes, ask the UI to exit; should it block, the bound still holds)
and keeps watching: if the process is still alive :data:`EXIT_BOUND_S`
seconds later (a thread stuck in a plugin's import, a UI blocked on something no one
foresaw), it kills the workers the app started, gives the run's thread a moment to record
the run ``interrupted`` (``last_words``), and ends the process with ``os._exit(128 + signal)``.
Every finished cell is already committed to the store (one transaction per cell), so what
was measured survives even this path.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable

EXIT_BOUND_S = 4.0  # from the signal to the forced exit
LAST_WORDS_S = 2.0  # then, at most, for the run's thread to record the run interrupted


class ExitGuard:
    """Arm with :meth:`handler` (a signal handler); see the module's docstring."""

    def __init__(self, on_signal: Callable[[int], object], last_words: Callable[[float], object] = lambda s: None,
                 bound_s: float = EXIT_BOUND_S) -> None:
        self._on_signal = on_signal
        self._last_words = last_words
        self._bound_s = bound_s
        self._read_fd, self._write_fd = os.pipe()
        os.set_blocking(self._write_fd, False)  # a handler never waits, even on a full pipe
        self.signum: int | None = None
        self._thread = threading.Thread(target=self._watch, name="jitscope-exit-guard", daemon=True)
        self._thread.start()

    def handler(self, signum: int) -> None:
        """(the signal handler) Hand the signal to the guard's thread; nothing else."""
        with contextlib.suppress(OSError):
            os.write(self._write_fd, bytes([signum & 0xFF]))

    def _watch(self) -> None:
        data = os.read(self._read_fd, 1)
        if not data:
            return
        signum = self.signum = data[0]
        deadline = time.monotonic() + self._bound_s
        # The orderly stop in a thread of its own: should it block (a lock held by a stuck
        # thread), the bound still holds.
        threading.Thread(target=self._on_signal, args=(signum,), name="jitscope-stop", daemon=True).start()
        time.sleep(max(0.0, deadline - time.monotonic()))
        kill_own_workers()
        with contextlib.suppress(Exception):
            self._last_words(LAST_WORDS_S)
        os._exit(128 + signum)


def own_workers() -> list[int]:
    """This process's children that are jitscope workers (``jitscope.runner.child``)."""
    me = str(os.getpid())
    found = []
    with contextlib.suppress(OSError):
        for entry in os.listdir("/proc"):
            if entry.isdigit() and _is_own_worker(entry, me):
                found.append(int(entry))
    return found


def _is_own_worker(pid: str, parent: str) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            ppid = fh.read().rsplit(b")", 1)[1].split()[1].decode()
        if ppid != parent:
            return False
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return b"jitscope.runner.child" in fh.read()
    except (OSError, IndexError):
        return False


def kill_own_workers() -> None:
    """SIGKILL each worker this process started, with its process group (a worker leads its
    own group: what a kernel forked goes too)."""
    for pid in own_workers():
        with contextlib.suppress(OSError):
            if os.getpgid(pid) == pid:
                os.killpg(pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
