"""Turning termination signals into an orderly stop, for the CLI and the app alike.

SIGTERM (a job scheduler, ``kill``) and SIGHUP (a closed terminal, a dropped SSH session)
would otherwise end jitscope on the spot: a run left ``running``, no exports. Both front
ends install the same handlers for the same signals through :func:`on_signals`.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

from jitscope.core.errors import StopRequested

STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


class Interrupted(StopRequested):
    """A stop signal (SIGINT, SIGTERM, SIGHUP) raised as an exception in the main thread.

    A BaseException, like KeyboardInterrupt, so that no ``except Exception`` (a plugin
    loader, a backend's error handling) mistakes a user's Ctrl-C for a failure and goes on.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def raise_interrupted(signum: int) -> None:
    """A handler for :func:`on_signals`: stop the main thread where it is."""
    raise Interrupted(signum)


@contextlib.contextmanager
def on_signals(handler: Callable[[int], None], signals: tuple[int, ...] = STOP_SIGNALS) -> Iterator[None]:
    """Call ``handler(signum)`` for each of ``signals`` while the block runs; the previous
    handlers come back afterwards. A signal already ignored stays ignored: whoever started
    jitscope asked for that (``nohup``: SIGHUP; a script's background job: SIGINT). Outside
    the main thread (where Python refuses signal handlers) nothing is installed."""

    def dispatch(signum: int, frame: object) -> None:
        handler(signum)

    with _installed([(sig, dispatch) for sig in signals], keep_ignored=True):
        yield


@contextlib.contextmanager
def _installed(handlers: Iterable[tuple[int, Callable[[int, Any], None]]], keep_ignored: bool) -> Iterator[None]:
    """Each ``(signal, handler)`` installed while the block runs, the previous handlers back
    afterwards, also when the block raises. ``keep_ignored``: a signal already ignored
    (SIG_IGN) is left ignored. A signal Python refuses (outside the main thread) is skipped."""
    previous: dict[int, Any] = {}
    for sig, handler in handlers:
        with contextlib.suppress(ValueError, OSError):
            if not (keep_ignored and signal.getsignal(sig) is signal.SIG_IGN):
                previous[sig] = signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            with contextlib.suppress(ValueError, OSError):
                signal.signal(sig, old)


class Pausable(Protocol):
    """What :func:`pause_on_stop` drives (the supervisor): each safe in a signal handler."""

    def pause(self) -> None: ...
    def resume(self) -> None: ...
    def woke(self) -> None: ...


@contextlib.contextmanager
def pause_on_stop(target: Pausable) -> Iterator[None]:
    """Ctrl-Z (SIGTSTP) pauses ``target`` too, then stops this process; ``fg`` (SIGCONT)
    resumes it. A SIGCONT after a stop we could not catch (``kill -STOP``) tells ``target``
    it may have been stalled. We stop ourselves with SIGSTOP rather than a re-raised
    SIGTSTP: the kernel discards SIGTSTP in an orphaned process group (a job whose shell is
    gone), and a pause that left the worker stopped and the run going would be worse.
    Outside the main thread nothing is installed; the previous handlers come back afterwards."""

    def on_stop(signum: int, frame: object) -> None:
        target.pause()
        try:
            os.kill(os.getpid(), signal.SIGSTOP)  # returns once someone continues us
        finally:
            target.resume()

    def on_continue(signum: int, frame: object) -> None:
        target.woke()

    wanted = {"SIGTSTP": on_stop, "SIGCONT": on_continue}  # neither exists on Windows
    with _installed([(getattr(signal, name), h) for name, h in wanted.items() if hasattr(signal, name)],
                    keep_ignored=False):
        yield


def stop_reason(signum: int) -> str:
    """What a cell cut by this signal says: ``interrupted by SIGTERM``, Ctrl-C named as such.
    A cut cell names what cut it: a job scheduler's SIGTERM is not "cancelled by the user"."""
    name = signal.Signals(signum).name
    return f"interrupted by {name} (Ctrl-C)" if signum == signal.SIGINT else f"interrupted by {name}"
