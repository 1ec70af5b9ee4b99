"""The thread that drives a run for the app.

The engine (``jitscope.runner``) does the work in worker processes; this thread only reads
its events, so the UI thread never waits on a worker. Nothing here touches a widget: the
driver posts :class:`jitscope.ui.messages.RunEvent` messages and the app applies them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from jitscope.runner import events as ev
from jitscope.ui.job import RunJob, Runner
from jitscope.ui.messages import RunEvent
from jitscope.ui.state import RunEnded

if TYPE_CHECKING:
    from textual.message import Message

    from jitscope.core.registry import Registry
    from jitscope.runner.plan import Plan, Selection
    from jitscope.ui.job import RunFactory
    from jitscope.ui.probe_gate import ProbeGate


def recorded_run(plan: Plan, registry: Registry, db_path: Path, selection: Selection) -> Runner:
    """The real runner: the run in a daemon process of its own (as ``jitscope run --detach``
    starts one; its workers commit every finished cell to the store), followed through its
    event record, so it outlives the app (``ui.daemon_run``)."""
    from jitscope.ui.daemon_run import launcher

    return launcher(plan, registry, db_path, selection)


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
            runner.cancel(interrupted=job.interrupted or job.left)
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
