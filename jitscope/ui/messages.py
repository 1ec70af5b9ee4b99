"""The messages background threads post to the UI thread (never widget calls from a thread).

A run's events travel in one message class, :class:`RunEvent`, which carries the engine's
own event (``jitscope.runner.events``) rather than a copy of each type. Progress is not
throttled by hand: a cell's progress says :meth:`RunEvent.can_replace` to any later event of
the same cell, so when the UI thread falls behind, Textual drops the stale ones from its
queue and only the newest is handled.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from textual.message import Message

from jitscope.runner import events as ev

if TYPE_CHECKING:
    from jitscope.core.backend import Availability
    from jitscope.core.registry import Registry
    from jitscope.ui.job import RunJob
    from jitscope.ui.state import RunEnded


@dataclass
class RunEvent(Message):
    """One event of the run ``job`` (a stale run's events are told apart by it); ``run_id``
    is the store's id for the run once it has one."""

    job: RunJob
    event: ev.Event | RunEnded
    run_id: int | None = None

    def can_replace(self, message: Message) -> bool:
        """True when ``message`` (queued right after this one) makes this one stale: both
        are about the same cell of the same run and this one is only progress."""
        if not (isinstance(self.event, ev.CellProgressed) and isinstance(message, RunEvent)):
            return False
        later = message.event
        return (message.job is self.job and isinstance(later, (ev.CellProgressed, ev.CellFinished))
                and later.index == self.event.index)


@dataclass
class RegistryLoaded(Message):
    """The workloads and backends, loaded off the UI thread after the first frame; with
    each backend's availability (checking it touches the disk). ``error``: the load failed
    (a broken ``-w`` file): at start-up the app cannot go on; on a reload it says why and
    keeps the registry it had."""

    registry: Registry | None
    availability: dict[str, Availability] = field(default_factory=dict)
    error: str = ""
    reload: bool = False  # a user file (re)loaded from the app: an error keeps the old registry
    added: tuple[str, ...] = ()  # the workloads of the file just loaded (selected in Setup)


@dataclass
class BackendProbed(Message):
    """A worker told us a backend's version and devices (``info`` may hold ``error``)."""

    backend: str
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunningFound(Message):
    """What the search for runs already running found when the app opened (``found`` is a
    :class:`jitscope.ui.daemon_run.Found`)."""

    found: Any
