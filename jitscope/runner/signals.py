"""Turning termination signals into an orderly stop, for the CLI and the app alike.

SIGTERM (a job scheduler, ``kill``) and SIGHUP (a closed terminal, a dropped SSH session)
would otherwise end jitscope on the spot: a run left ``running``, no exports. Both front
ends install the same handlers for the same signals through :func:`on_signals`.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Callable, Iterator
from typing import Any

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
    handlers come back afterwards. Outside the main thread (where Python refuses signal
    handlers) nothing is installed."""
    previous: dict[int, Any] = {}

    def dispatch(signum: int, frame: object) -> None:
        handler(signum)

    for sig in signals:
        with contextlib.suppress(ValueError, OSError):
            previous[sig] = signal.signal(sig, dispatch)
    try:
        yield
    finally:
        for sig, old in previous.items():
            with contextlib.suppress(ValueError, OSError):
                signal.signal(sig, old)
