"""The app's terminal, made safe to lose: a hang-up (a dropped SSH connection, a closed
window) must end the app, never leave it stuck writing to a terminal that is gone.

Two traps in Textual's Linux driver (8.x), both met on every hang-up:

* The kernel hangs a terminal up by sending SIGHUP *and SIGCONT*. Textual's SIGCONT handler
  starts application mode again (made for ``fg`` after Ctrl-Z) though nothing was suspended:
  a second writer thread, a second input thread, at any point of the UI's code.
* The writer thread writes to stderr; on a hung-up terminal a write fails with EIO, the
  exception ends the thread, and its queue (30 entries) is never drained again. The UI
  thread then blocks for ever in ``Queue.put`` (the next frame, the exit's own escape codes,
  ``WriterThread.stop``), so the event loop never runs again and a later SIGTERM, handled
  by posting to that loop, is ignored: the stuck process of issue 19 item 8.

:class:`HangupSafeDriver` resumes only after its own SIGTSTP and writes through
:class:`TerminalOutput`, which drops what a lost terminal refuses instead of raising.
"""

from __future__ import annotations

import contextlib
import errno
import os
import termios
from typing import IO, Any

from textual.drivers.linux_driver import LinuxDriver


def terminal_gone(fd: int = 0) -> bool:
    """True when ``fd`` is a terminal that has been hung up (every call on it fails with
    EIO); False for a live terminal and for anything that is not a terminal."""
    try:
        termios.tcgetattr(fd)
    except termios.error as exc:
        return bool(exc.args) and exc.args[0] == errno.EIO
    except OSError:
        return False
    return False


def let_go_of_terminal() -> None:
    """Point stdin, stdout and stderr at /dev/null: after a hang-up, whatever the app, Textual
    or the interpreter still writes on the way out (the exit's escape codes, a traceback, the
    final flush) goes nowhere rather than failing."""
    null = os.open(os.devnull, os.O_RDWR)
    try:
        for fd in (0, 1, 2):
            with contextlib.suppress(OSError):
                os.dup2(null, fd)
    finally:
        os.close(null)


# What Textual's stop_application_mode writes: mouse, bracketed paste and focus reports off,
# line wrap on, the Kitty keyboard protocol popped, the main screen back, the cursor shown.
_LEAVE_APPLICATION_MODE = (b"\x1b[?1000l\x1b[?1003l\x1b[?1015l\x1b[?1006l\x1b[?2004l\x1b[?7h"
                           b"\x1b[?2048l\x1b[<u\x1b[?1049l\x1b[?25h\x1b[?1004l")


def restore_terminal(attrs: list[Any] | None, fd: int = 0) -> None:
    """Best effort, before a forced exit: give a terminal that is still there back its modes
    and its main screen, never blocking (a terminal that does not read gets nothing)."""
    if terminal_gone(fd):
        return
    with contextlib.suppress(OSError, termios.error):
        if attrs is not None:
            termios.tcsetattr(fd, termios.TCSANOW, attrs)
    with contextlib.suppress(OSError):  # a new open file: O_NONBLOCK there leaves the app's alone
        out = os.open(os.ttyname(fd), os.O_WRONLY | os.O_NONBLOCK | os.O_NOCTTY)
        try:
            os.write(out, _LEAVE_APPLICATION_MODE)
        finally:
            os.close(out)


class TerminalOutput:
    """The file Textual's writer thread writes to: stderr, where a write the terminal refuses
    (EIO after a hang-up) is dropped and remembered instead of ending the thread."""

    def __init__(self, file: IO[str]) -> None:
        self._file = file
        self.lost = False

    def write(self, text: str) -> int:
        try:
            return self._file.write(text)
        except (OSError, ValueError):  # EIO: hung up; ValueError: closed
            self.lost = True
            return len(text)

    def flush(self) -> None:
        try:
            self._file.flush()
        except (OSError, ValueError):
            self.lost = True

    def fileno(self) -> int:
        return self._file.fileno()

    def isatty(self) -> bool:
        return self._file.isatty()


class HangupSafeDriver(LinuxDriver):
    """Textual's Linux driver, with the two traps above closed."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self._file is not None:  # None: no stderr at all (Textual then fails on its own)
            self._file = TerminalOutput(self._file)  # type: ignore[assignment]
        self._stopped_by_tstp = False

    def terminal_lost(self) -> None:
        """(any thread) The terminal hung up: end the input thread, which would otherwise spin
        on the endless end-of-file a hung-up terminal reads as, competing with the exit."""
        self.exit_event.set()

    def _sigtstp_application(self, *args: Any) -> None:
        self._stopped_by_tstp = True
        super()._sigtstp_application(*args)

    def _sigcont_application(self, *args: Any) -> None:
        """Resume application mode only when Ctrl-Z suspended it and the terminal is still
        there; a hang-up's SIGCONT resumes nothing."""
        if not self._stopped_by_tstp or terminal_gone(self.fileno):
            return
        self._stopped_by_tstp = False
        super()._sigcont_application(*args)
