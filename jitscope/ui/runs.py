"""A run in flight, seen from the app: the job (request, progress, cancel at any moment) and
the thread that drives the engine and posts its events to the UI thread.

The engine (``jitscope.runner``) does the work in worker processes; this thread only reads
its events, so the UI thread never waits on a worker. Nothing here touches a widget: the
driver posts :class:`jitscope.ui.messages.RunEvent` messages and the app applies them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from jitscope.core.model import CellResult
from jitscope.runner import events as ev
from jitscope.ui.messages import RunEvent
from jitscope.ui.state import RunEnded, RunProgress

if TYPE_CHECKING:
    from textual.message import Message

    from jitscope.core.registry import Registry
    from jitscope.runner.plan import Plan, Selection
    from jitscope.ui.planning import RunRequest
    from jitscope.ui.session import ProbeGate


class Runner(Protocol):
    """What the app needs from a run (``RecordedRun`` is one; tests pass a scripted fake)."""

    run_id: int | None

    def events(self) -> Iterable[ev.Event]: ...
    def cancel(self, *, interrupted: bool = False) -> None: ...
    def ordered_results(self) -> list[CellResult]: ...
    def run_record(self) -> dict[str, Any]: ...


RunFactory = Callable[["Plan", "Registry", Path, "Selection"], Runner]


def recorded_run(plan: Plan, registry: Registry, db_path: Path, selection: Selection) -> Runner:
    """The real runner: worker processes, every finished cell committed to the store."""
    from jitscope.runner.session import RecordedRun

    return RecordedRun(plan, registry, db_path, selection=selection, command="jitscope (app)")


class RunJob:
    """One run in flight: the request, its progress, and a cancel that works at any moment
    (before the runner exists, while a version probe is being stopped, mid-cell)."""

    def __init__(self, request: RunRequest, progress: RunProgress) -> None:
        self.request = request
        self.progress = progress
        self.runner: Runner | None = None
        self.cancel_requested = False
        self.interrupted = False  # stopped by a signal / a closed terminal, not by the user
        self.done = threading.Event()  # set when the driver thread has let go of the runner
        self._lock = threading.Lock()

    @property
    def finished(self) -> bool:
        return self.progress.finished

    def attach(self, runner: Runner) -> bool:
        """Remember the runner; True if a cancel came in before it existed."""
        with self._lock:
            self.runner = runner
            return self.cancel_requested

    def cancel(self, *, interrupted: bool = False) -> None:
        """Stop the run (any thread); ``interrupted``: recorded as such, not as cancelled."""
        with self._lock:
            self.cancel_requested = True
            self.interrupted = self.interrupted or interrupted
            runner = self.runner
        if runner is not None:
            runner.cancel(interrupted=self.interrupted)


def drive(job: RunJob, factory: RunFactory, registry: Registry, db_path: Path, probes: ProbeGate,
          post: Callable[[Message], object]) -> None:
    """The body of the run's thread: stop any version probe (one worker process at a time),
    start the runner, forward each engine event, and always end with a :class:`RunEnded`."""
    cancelled = False
    runner: Runner | None = None
    try:
        probes.stop_for_run(lambda text: post(RunEvent(job, ev.RunWaited(text))))
        req = job.request
        runner = factory(req.plan, registry, db_path, req.selection)
        if job.attach(runner):
            runner.cancel(interrupted=job.interrupted)
        for event in runner.events():
            if isinstance(event, ev.RunFinished):
                cancelled = event.cancelled
            post(RunEvent(job, event, runner.run_id))
        post(RunEvent(job, RunEnded(cancelled or job.cancel_requested), runner.run_id))
    except Exception as exc:  # the engine failed (store unwritable...): say so, keep the app
        run_id = runner.run_id if runner is not None else None
        post(RunEvent(job, RunEnded(job.cancel_requested, error=f"{type(exc).__name__}: {exc}"), run_id))
    finally:
        job.done.set()
