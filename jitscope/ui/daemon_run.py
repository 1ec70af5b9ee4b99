"""The app's runs live in daemon processes; the app follows them through their records.

A run started in the app is started exactly as ``jitscope run --detach`` starts one
(``runner.detach``: its own session, no terminal), and the app is one more reader of its
event record (``runner.followed_run``), like ``jitscope attach``. So the run goes on when the
app's terminal goes away or the app quits with "keep it running"; opening the app again finds
it (:func:`find_running`) and shows it live; and Live run, History and ``jitscope attach``
all read one record instead of a queue inside the app. Cancel is the run's own cancel signal
(SIGUSR1, as ``jitscope cancel`` sends), so the run is recorded ``cancelled`` by the process
that owns it.

Everything here that touches a file or a process runs in the run's driver thread
(``ui.runs.drive``) or another worker thread, never on the UI thread; only :meth:`cancel`
may come from the UI thread (one small read and a signal).
"""

from __future__ import annotations

import contextlib
import shlex
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jitscope.core.errors import UserError
from jitscope.core.model import CellResult, CellSpec
from jitscope.core.paths import default_db_path
from jitscope.results.store import Store, owner_is_running
from jitscope.runner import events as ev
from jitscope.runner.detach import DetachJob, launch_detached
from jitscope.runner.followed_run import FollowedRun

if TYPE_CHECKING:
    from jitscope.core.registry import Registry
    from jitscope.runner.plan import Plan, Selection

APP_COMMAND = "jitscope (app)"
END_WAIT_S = 10.0  # after the run's last event, for its owner to write its final state and exit line


class DaemonRun:
    """The app's :class:`~jitscope.ui.job.Runner` for a run in a daemon: launched from
    ``job`` (a new run, or a resume) or, with ``run_id``, one that is already running.

    ``cancel()`` asks the run to cancel (its owner records it ``cancelled``);
    ``cancel(interrupted=True)`` means the *app* was stopped (a signal, a closed terminal,
    quit with "keep it running"): the app stops following and the run goes on untouched."""

    def __init__(self, db_path: Path, *, job: DetachJob | None = None, run_id: int | None = None,
                 launch: Callable[[DetachJob], int] = launch_detached) -> None:
        if (job is None) == (run_id is None):
            raise ValueError("a DaemonRun is launched from a job or follows a run id, one of the two")
        self.db_path = Path(db_path)
        self.run_id = run_id
        self.job = job
        self._launch = launch
        self._lock = threading.Lock()
        self._followed: FollowedRun | None = None
        self._cancel = False
        self._left = False
        self._results: list[CellResult] = []
        self._record: dict[str, Any] = {}

    def events(self) -> Iterator[ev.Event]:
        """(the driver thread) Launch if need be, then the run's events as recorded, ending
        with ``RunFinished``; earlier when the app leaves. A run whose process died without
        ending it is an error that says what was kept."""
        followed = self._start()
        if followed is None:  # cancelled before it started: nothing was launched
            yield ev.RunFinished(cancelled=True)
            return
        yield from followed.events()
        for _ in followed.lines(timeout_s=END_WAIT_S):  # to its exit line: the run's rows are final then
            pass
        if self._left:
            return
        self._read_final()  # here, in the driver thread: the UI thread never waits on the store
        if followed.abandoned:
            raise UserError(f"run {self.run_id}'s process died before the run ended; the cells it finished are "
                            "saved (History: R runs the rest)")

    def _read_final(self) -> None:
        assert self.run_id is not None
        with Store(self.db_path, create=False) as store:
            record = store.run(self.run_id)
            self._results = store.cells(self.run_id)
        self._record = {"id": record.id, "environment": record.environment, "command": record.command,
                        "started": record.started}

    def _start(self) -> FollowedRun | None:
        with self._lock:
            if self._cancel or self._left:
                return None
        if self.run_id is None:
            assert self.job is not None
            self.run_id = self._launch(self.job)  # blocks until the daemon has recorded the run
        followed = FollowedRun(self.db_path, self.run_id)
        followed.skip_to_last_part()  # a resumed run: only this part's cells are on show
        with self._lock:
            self._followed = followed
            left, cancel = self._left, self._cancel
        if left:
            followed.stop()
        elif cancel:
            _ask_to_cancel(followed)
        return followed

    def cancel(self, *, interrupted: bool = False) -> None:
        """(any thread) See the class docstring; before the daemon exists, a cancel means it
        is never started, and one asked for while it starts is sent once it has."""
        with self._lock:
            if interrupted:
                self._left = True
            else:
                self._cancel = True
            followed = self._followed
        if followed is None:
            return
        if interrupted:
            followed.stop()
        else:
            _ask_to_cancel(followed)

    def ordered_results(self) -> list[CellResult]:
        """The run's cells as stored once it ended (read by :meth:`events`; none before)."""
        return list(self._results)

    def run_record(self) -> dict[str, Any]:
        return dict(self._record)


def _ask_to_cancel(followed: FollowedRun) -> None:
    """The run's cancel signal; a run that has just ended (or cannot be signalled) ends on
    its own, as its record will say."""
    with contextlib.suppress(UserError, OSError):
        followed.cancel()


# ---- starting a run from the app ------------------------------------------------------------------
def app_job(plan: Plan, registry: Registry, db_path: Path, selection: Selection) -> DetachJob:
    """The daemon's job for the app's plan: a selection that plans exactly ``plan`` (the
    form's size preset becomes per-workload sizes), recorded with the plan's cells."""
    sel = daemon_selection(registry, selection, plan)
    from jitscope.runner.recorded_run import selection_record

    return DetachJob(selection=selection_record(sel, plan), db_path=str(Path(db_path).absolute()), command=APP_COMMAND)


def daemon_selection(registry: Registry, selection: Selection, plan: Plan) -> Selection:
    """A Selection that ``build_plan`` (what the daemon runs) turns into ``plan``, cell for
    cell. The app's size presets plan each workload's own sizes; they are spelled out per
    workload. A UserError where no selection gives the plan (nothing is started then)."""
    from jitscope.runner.plan import build_plan

    keys = [cell.key for cell in plan.cells]
    if [cell.key for cell in build_plan(registry, selection).cells] == keys:
        return selection
    sizes: dict[str, list[int | str]] = {}
    for cell in plan.cells:
        mine = sizes.setdefault(cell.workload, [])
        if cell.size not in mine:
            mine.append(cell.size)
    spelled = replace(selection, sizes=None, size_requests=sizes)
    if [cell.key for cell in build_plan(registry, spelled).cells] == keys:
        return spelled
    raise UserError("this plan cannot be handed to a background run (its sizes do not spell out); "
                    "choose the sizes in the form instead of a preset")


def launcher(plan: Plan, registry: Registry, db_path: Path, selection: Selection) -> DaemonRun:
    """The app's RunFactory: a run in a daemon (see the module docstring)."""
    return DaemonRun(db_path, job=app_job(plan, registry, db_path, selection))


# ---- finding runs that are running ----------------------------------------------------------------
@dataclass(frozen=True)
class RunningRun:
    """A run found running (its owner alive on this host), with what Live run needs to show it:
    its selection and the cells of its current part, in the order its events index them."""

    run_id: int
    selection: Selection
    cells: list[CellSpec]
    command: str
    registry: Registry | None = None


@dataclass(frozen=True)
class Found:
    """What :func:`find_running` found: the newest running run (None: none, or none that can
    be shown, ``problem`` then says why), and how many others are running."""

    newest: RunningRun | None
    others: int = 0
    newest_id: int | None = None
    problem: str = ""


def running_ids(db_path: Path) -> list[int]:
    """Runs in the database that are ``running`` and whose owner process is alive on this
    host, newest first. Read-only: the app opening never writes to the store."""
    if not Path(db_path).exists():
        return []
    with Store(db_path, create=False) as store:  # a dead owner's run reads as abandoned
        candidates = [run.id for run in store.runs() if run.state == "running"]
    return [run_id for run_id in candidates
            if owner_is_running(str(FollowedRun(db_path, run_id).read_header().get("owner", "")))]


def find_running(db_path: Path) -> Found:
    """(a worker thread) The newest running run, ready to be shown, and the others' count."""
    try:
        ids = running_ids(db_path)
    except UserError:  # a store that cannot be read: History says why when it is opened
        return Found(None)
    if not ids:
        return Found(None)
    try:
        return Found(running_run(db_path, ids[0]), len(ids) - 1, ids[0])
    except UserError as exc:
        return Found(None, len(ids) - 1, ids[0], str(exc))


def running_run(db_path: Path, run_id: int) -> RunningRun:
    """Run ``run_id``'s cells as its events index them: its stored selection planned again
    with its own ``-w`` files, checked against the cells it recorded; for a resumed run, only
    the cells of the part that runs now. A UserError says why it cannot be shown."""
    from jitscope.core.registry import load_registry
    from jitscope.runner.plan import build_plan
    from jitscope.runner.recorded_run import selection_from_record

    with Store(db_path, create=False) as store:
        record = store.run(run_id)
    header = FollowedRun(db_path, run_id).read_header()
    sel = selection_from_record(record.selection)
    registry = load_registry([str(f) for f in record.selection.get("workload_files") or ()])
    cells = build_plan(registry, sel).cells
    recorded = record.selection.get("plan_cells")
    if isinstance(recorded, list) and recorded != [cell.key for cell in cells]:
        raise UserError(f"run {run_id}'s plan cannot be rebuilt here (a workload file or plugin changed)")
    if header.get("resumed"):
        seqs = (record.environment.get("resumed") or [{}])[-1].get("cells") or []
        cells = [cells[int(seq)] for seq in seqs if 0 <= int(seq) < len(cells)]
    if header.get("planned") not in (None, len(cells)):
        raise UserError(f"run {run_id} planned {header.get('planned')} cells, {len(cells)} are planned here")
    return RunningRun(run_id, sel, cells, record.command, registry)


def follow_words(db_path: Path, run_id: int | None) -> str:
    """How to follow and stop a run from a terminal (with ``--db`` where it is not the default)."""
    if run_id is None:
        return "see `jitscope history`"
    where = "" if Path(db_path).absolute() == default_db_path().absolute() else f" --db {shlex.quote(str(db_path))}"
    return f"follow it: jitscope attach {run_id}{where} · stop it: jitscope cancel {run_id}{where}"
