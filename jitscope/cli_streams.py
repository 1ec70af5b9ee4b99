"""Standard output and error for the CLI, and where they go when the terminal goes away.

A terminal can vanish under a running ``jitscope run``: the window closed or the SSH
connection dropped (SIGHUP), or, with no signal at all, a run started with ``& disown``
whose terminal later closed (its writes then fail with EIO, or ENXIO). Neither is a request
to stop. The run *detaches in place*: the descriptors that were the terminal are pointed at
the run's log file (``RunFiles.log``), a line there says when and why, and the run goes on
to its end, writes its exports and exits with its own code. A reader that went away
otherwise (a pipe closed by ``| head``) only silences the output: there is no terminal to
replace, and the run goes on as well.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

TERMINAL_GONE_ERRNOS = (errno.EIO, errno.ENXIO)

# What a console writes for a terminal and is noise in a file: CSI (colours, cursor moves),
# OSC (titles, links) and the two-byte escapes.
_ESCAPES = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")


def plain(text: str) -> str:
    """``text`` without terminal escape sequences (for the log of a detached run)."""
    return _ESCAPES.sub("", text)


def _isatty(fd: int) -> bool:
    try:
        return os.isatty(fd)
    except OSError:
        return False


class Terminal:
    """The terminal this process was started on, and what replaces it once it is gone.

    ``fds``: which of standard output and error were that terminal (a pipe or file among
    them keeps its reader: ``--csv -`` into a pipe must stay the CSV). Thread-safe and
    re-entrant: the hang-up arrives in a signal handler, a failed write may come from the
    progress display's thread."""

    def __init__(self, fds: tuple[int, ...] = (1, 2)) -> None:
        self.fds = tuple(fd for fd in fds if _isatty(fd))
        self.log: Path | None = None
        self.why: str | None = None
        self.when = 0.0  # time.time() of the detach
        self._lock = threading.RLock()

    @property
    def gone(self) -> bool:
        return self.why is not None

    def detach(self, why: str) -> None:
        """The terminal is gone (``why`` says how): from now on, output goes to the log
        (or, while the run has no log yet, nowhere). Only the first call acts."""
        with self._lock:
            if self.why is not None:
                return
            self.why, self.when = why, time.time()
            self._point(self.log)

    def log_to(self, log: Path) -> None:
        """The run is recorded: this is its log. A terminal already gone switches to it."""
        with self._lock:
            if self.log is not None:
                return
            self.log = log
            if self.why is not None:
                self._point(log)

    def _point(self, log: Path | None) -> None:
        fd = _open_log(log) if log is not None else None
        if fd is None:  # no log (yet, or it cannot be made): the output has no reader
            fd = os.open(os.devnull, os.O_WRONLY)
        try:
            for target in self.fds:
                os.dup2(fd, target)
            if log is not None:
                with contextlib.suppress(OSError):
                    os.write(fd, self._note().encode("utf-8", "replace"))
        finally:
            os.close(fd)

    def _note(self) -> str:
        """When and why, as the log's line (also where the rest of the output is)."""
        stamp = time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(self.when))
        where = ("what it prints continues here" if self.fds else
                 "its output was not a terminal and still goes where it went")
        return f"{stamp} jitscope (pid {os.getpid()}): {self.why}; the run goes on without its terminal, and {where}\n"


def _open_log(log: Path) -> int | None:
    """The log, for appending, owner-only (it may name the user's files), in a folder made
    only now (a run that never lost its terminal leaves none); None if refused."""
    try:
        log.parent.mkdir(mode=0o700, parents=True, exist_ok=True)  # as RunFiles.create_folder
        return os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
    except OSError:
        return None


class GuardedStream:
    """Standard output or error for the consoles.

    A terminal that is gone (a write fails with EIO/ENXIO) detaches the run in place
    (:class:`Terminal`): the text it refused is written again, into the log, and the run goes
    on. Any other reader that went away (a pipe whose reader exited, ``| head -2``: EPIPE)
    silences the stream quietly instead of raising into the run: the descriptor is pointed
    at /dev/null, so later writes and Python's flush at exit succeed too.

    The text goes straight to the descriptor (encoded as the stream would), not through the
    stream's buffer: a buffered write that fails loses its bytes inside Python, and the one
    line the terminal refused (a finished cell) must reach the log. Once detached, what is
    written is plain text: the consoles still believe they draw for a terminal."""

    def __init__(self, stream: TextIO, fd: int, terminal: Terminal | None = None) -> None:
        self._stream = stream
        self._fd = fd
        self._terminal = terminal
        self.gone = False

    @property
    def _was_terminal(self) -> bool:
        return self._terminal is not None and self._fd in self._terminal.fds

    def write(self, text: str) -> int:
        if not self.gone:
            try:
                self._stream.flush()  # what was written to the stream itself goes first
                self._write(text)
            except OSError as exc:
                self._failed(exc, text)
        return len(text)

    def flush(self) -> None:
        if not self.gone:
            try:
                self._stream.flush()
            except OSError as exc:
                self._failed(exc, "")

    def _write(self, text: str) -> None:
        if self._was_terminal and self._terminal is not None and self._terminal.gone:
            text = plain(text)
        data = memoryview(text.encode(self._stream.encoding or "utf-8", self._stream.errors or "strict"))
        while data:
            data = data[os.write(self._fd, data):]

    def _failed(self, exc: OSError, text: str) -> None:
        if self._was_terminal and self._terminal is not None and exc.errno in TERMINAL_GONE_ERRNOS:
            self._terminal.detach(f"the terminal is gone (writing to it failed: {os.strerror(exc.errno or 0)})")
            try:
                self._stream.flush()
                self._write(text)  # now into the log
                return
            except OSError:
                pass
        self._lost()

    def _lost(self) -> None:
        self.gone = True
        with contextlib.suppress(OSError):
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, self._fd)
            os.close(null)
        with contextlib.suppress(OSError, ValueError):
            self._stream.flush()  # what was buffered now goes to /dev/null, not to an error at exit

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


# The process's one terminal: standard output and error belong to the whole process.
terminal = Terminal()


@contextlib.contextmanager
def detach_on_hangup(term: Terminal | None = None) -> Iterator[None]:
    """While the block runs, SIGHUP detaches the run in place (``term``, the process's
    terminal by default) instead of stopping it; later ones are ignored. An inherited
    SIG_IGN (``nohup``, ``trap '' HUP``) is respected: nothing is installed. After a hang-up
    SIGHUP stays ignored (the rest of the command has no terminal either); otherwise the
    previous handler comes back. Outside the main thread nothing is installed."""
    term = term or terminal
    installed, previous = _install_hangup(term)
    try:
        yield
    finally:
        if installed:
            with contextlib.suppress(ValueError, OSError, TypeError):
                signal.signal(signal.SIGHUP, signal.SIG_IGN if term.gone else previous)


def _install_hangup(term: Terminal) -> tuple[bool, Any]:
    """(installed?, the handler it replaced)."""
    try:
        previous = signal.getsignal(signal.SIGHUP)
        if previous is signal.SIG_IGN:
            return False, previous
        signal.signal(signal.SIGHUP, lambda signum, frame: term.detach("SIGHUP: the terminal hung up"))
    except (ValueError, OSError):
        return False, None
    return True, previous if previous is not None else signal.SIG_DFL
