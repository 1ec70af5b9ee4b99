"""The app's runs that it did not plan on the Setup screen: one found running when the app
opened (reattached) and a resumed one (History's R). Each becomes a :class:`RunJob` whose
runner follows a daemon's record (``ui.daemon_run``), so Live run and Results treat it as
a run started here."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from jitscope.ui.daemon_run import APP_COMMAND, DaemonRun, Found, RunningRun, follow_words
from jitscope.ui.job import Notice, RunJob, Runner
from jitscope.ui.planning import RunRequest, cost_model
from jitscope.ui.state import RunProgress

if TYPE_CHECKING:
    from jitscope.core.registry import Registry
    from jitscope.runner.plan import Plan, Selection
    from jitscope.runner.resume import ResumePlan
    from jitscope.ui.job import RunFactory


def _factory(make: Callable[[Path], Runner]) -> RunFactory:
    def factory(plan: Plan, registry: Registry, db_path: Path, selection: Selection) -> Runner:
        return make(db_path)

    return factory


def attach_job(running: RunningRun, clock: Callable[[], float]) -> tuple[RunJob, RunFactory]:
    """A job that follows ``running`` (already started, by this app or another process)."""
    from jitscope.runner.plan import Plan

    plan = Plan(cells=list(running.cells))
    cost = cost_model(running.registry) if running.registry is not None else None
    job = RunJob(RunRequest(running.selection, plan, ""), RunProgress(list(plan.cells), clock, cost=cost))
    job.progress.run_id = running.run_id
    return job, _factory(lambda db_path: DaemonRun(db_path, run_id=running.run_id))


def resume_job(ready: ResumePlan, clock: Callable[[], float]) -> tuple[RunJob, RunFactory]:
    """A job that runs ``ready``'s unfinished cells into its run, in a daemon (as
    ``jitscope run --resume N --detach``); its progress shows those cells."""
    from jitscope.runner.detach import DetachJob

    assert ready.registry is not None
    cost = cost_model(ready.registry)
    job = RunJob(RunRequest(ready.selection, ready.plan, ""), RunProgress(list(ready.plan.cells), clock, cost=cost))
    job.progress.run_id = ready.run_id

    def make(db_path: Path) -> Runner:
        detach = DetachJob(selection={}, db_path=str(Path(db_path).absolute()), command=ready.command or APP_COMMAND,
                           resume=ready.run_id)
        return DaemonRun(db_path, job=detach)

    return job, _factory(make)


def found_notice(found: Found, db_path: Path) -> Notice | None:
    """What the app says about runs found running when it opened (None: there are none)."""
    if found.newest_id is None:
        return None
    others = f"; {found.others} other run{'s' if found.others != 1 else ''} running too (h: history)" \
        if found.others else ""
    if found.newest is None:
        return Notice(f"run #{found.newest_id} is running but cannot be shown here: {found.problem}; "
                      f"{follow_words(db_path, found.newest_id)}{others}", title="A run is running",
                      severity="warning", timeout=15)
    return Notice(f"run #{found.newest_id} is running: shown live (escape cancels it){others}",
                  title="Reattached", timeout=10)
