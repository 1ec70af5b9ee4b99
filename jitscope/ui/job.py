"""A run in flight, as the app holds it: the :class:`RunJob` (request, progress, a cancel
that works at any moment) and the :class:`Runner` it drives.

A leaf of the app's run modules: the messages (``ui.messages``), the run's thread
(``ui.runs``) and the shared state (``ui.shared_state``) all import it and it imports none
of them, so they form no circle.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias

from textual.notifications import SeverityLevel

from jitscope.core.model import CellResult
from jitscope.runner import events as ev

if TYPE_CHECKING:
    from jitscope.core.registry import Registry
    from jitscope.runner.plan import Plan, Selection
    from jitscope.ui.planning import RunRequest
    from jitscope.ui.state import ResultSet, RunEnded, RunProgress


class Runner(Protocol):
    """What the app needs from a run (``ui.daemon_run.DaemonRun`` is the real one, a run in a
    daemon process; tests pass a scripted fake). ``cancel(interrupted=True)``: the app itself
    is stopping (a signal, a closed terminal, quit with "keep it running"): a run in this
    process stops and is recorded ``interrupted``; a run in a daemon goes on, unfollowed."""

    run_id: int | None

    def events(self) -> Iterable[ev.Event]: ...
    def cancel(self, *, interrupted: bool = False) -> None: ...
    def ordered_results(self) -> list[CellResult]: ...
    def run_record(self) -> dict[str, Any]: ...


RunFactory: TypeAlias = Callable[["Plan", "Registry", Path, "Selection"], Runner]


class RunJob:
    """One run in flight: the request, its progress, and a cancel that works at any moment
    (before the runner exists, while a version probe is being stopped, mid-cell)."""

    def __init__(self, request: RunRequest, progress: RunProgress) -> None:
        self.request = request
        self.progress = progress
        self.runner: Runner | None = None
        self.cancel_requested = False
        self.interrupted = False  # stopped by a signal / a closed terminal, not by the user
        self.left = False  # the app let go of it (quit with "keep it running"): never cancelled
        self.done = threading.Event()  # set when the driver thread has let go of the runner
        self._lock = threading.Lock()

    @property
    def finished(self) -> bool:
        return self.progress.finished

    def attach(self, runner: Runner) -> bool:
        """Remember the runner; True if a cancel (or :meth:`leave`) came in before it existed:
        then call ``runner.cancel(interrupted=job.interrupted or job.left)``."""
        with self._lock:
            self.runner = runner
            return self.cancel_requested or self.left

    def leave(self) -> None:
        """(any thread) Let the run go on without the app: stop following it and never
        cancel it after this (a run in this process cannot outlive it and is stopped)."""
        with self._lock:
            self.left = True
            runner = self.runner
        if runner is not None:
            runner.cancel(interrupted=True)

    def cancel(self, *, interrupted: bool = False) -> None:
        """Stop the run (any thread); ``interrupted``: recorded as such, not as cancelled.
        Once the app has let go of the run (:meth:`leave`), it only stops following."""
        with self._lock:
            if self.left:
                interrupted = True
            self.cancel_requested = True
            self.interrupted = self.interrupted or interrupted
            runner = self.runner
        if runner is not None:
            runner.cancel(interrupted=self.interrupted)


@dataclass(frozen=True)
class Notice:
    """A notification: what ``App.notify`` takes."""

    message: str
    title: str = ""
    severity: SeverityLevel = "information"
    timeout: float | None = None


def end_notice(job: RunJob, end: RunEnded) -> Notice:
    """What the app says when ``job`` ends: the error that stopped it, or what was kept."""
    run_id = job.progress.run_id
    counts = job.progress.counts()
    summary = ", ".join(f"{n} {k}" for k, n in counts.items()) or "nothing finished"
    if end.error:
        return Notice(end.error, title="Run stopped", severity="error", timeout=10)
    if end.cancelled:
        return Notice(f"Cancelled; kept {summary}", title=f"Run #{run_id}" if run_id else "Run", severity="warning")
    return Notice(f"{summary}. enter: results, e: export", title=f"Run #{run_id} finished" if run_id else "Run finished")


def results_view(job: RunJob) -> ResultSet | None:
    """What Results shows once ``job`` has ended (None when no cell finished): the runner's
    results in plan order and its record, or the progress's own results without a runner."""
    from jitscope.ui.state import ResultSet, RunRef

    runner = job.runner
    results = runner.ordered_results() if runner is not None else job.progress.results()
    if not results:
        return None
    record = runner.run_record() if runner is not None else {}
    run_id = job.progress.run_id
    ref = RunRef(run_id, f"#{run_id}" if run_id else "run", record)
    return ResultSet.single(results, ref, title=f"run #{run_id}" if run_id else "this run")
