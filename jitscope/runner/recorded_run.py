"""A recorded run: the supervisor's events, with every finished cell committed to the store.

The CLI and the app both drive a :class:`RecordedRun`, so persistence happens in one place
and the same way: a run row first (with the environment), each cell the moment it finishes,
worker details merged into the environment as they arrive, and the run's final state last.
``events()`` opens its own store connection in the thread that iterates it (SQLite
connections belong to one thread), so the app can iterate it in a background worker.
A resumed run (``jitscope run --resume``, runner/resume.py) goes through the same class with
a :class:`Continuation`: its cells go into the cut run's row, under their original seqs.
"""

from __future__ import annotations

import contextlib
import glob
import os
import sqlite3
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jitscope.core.environment import collect_environment
from jitscope.core.errors import UserError
from jitscope.core.model import CellResult, Status, as_axis
from jitscope.core.parsing import parse_backend_specs
from jitscope.core.processes import pid_alive
from jitscope.core.registry import Registry
from jitscope.results.store import TIMING_LOCK_KEY, Store, current_owner, describe_sqlite_error
from jitscope.runner.event_record import EventWriter
from jitscope.runner.events import (
    CellFinished,
    CellMeasuredSoFar,
    Event,
    LockFallback,
    RunFinished,
    WorkerReady,
)
from jitscope.runner.plan import DEFAULT_BUDGET_S, DEFAULT_SEED, DEFAULT_TIMEOUT_S, Plan, Selection
from jitscope.runner.supervisor import Supervisor


def selection_record(sel: Selection, plan: Plan | None = None, *, workload_files: Sequence[str] = ()) -> dict[str, Any]:
    """The selection as stored with the run: enough to run it again (a detached run's daemon,
    ``jitscope run --resume``; :func:`selection_from_record` reads it back). With the ``plan``,
    the ``-w`` files it loaded (resolved paths), each planned cell's key (what each seq was
    meant to be) and ``planned``, the cell count, so History can say how far a running run got
    without reading any other file; without it, the ``workload_files`` as given."""
    record: dict[str, Any] = {
        "workloads": sel.workloads,
        "backends": [f"{n}:{v}" if v else n for n, v in sel.backends],
        "sizes": sel.sizes,
        "size_requests": sel.size_requests,  # -s S, -s crc16=1e6: what was typed, per workload
        "device": _one_or_list(sel.device),  # one value as older runs stored it; several: a list
        "dtype": _one_or_list(sel.dtype),
        "budget_s": sel.budget_s,
        "timeout_s": sel.timeout_s,
        "threads": _one_or_list(sel.threads),
        "params": sel.params,
        "seed": sel.seed,
        "processes": sel.processes,  # None: the default rule (plan.default_processes)
        "workload_files": list(workload_files),  # the -w files, as typed
    }
    if plan is not None:
        record["workload_files"] = list(plan.workload_files)  # resolved paths, in load order
        record["plan_cells"] = [cell.key for cell in plan.cells]  # what each seq was meant to be
        record["planned"] = len(plan.cells)
    return record


def selection_from_record(record: Mapping[str, Any]) -> Selection:
    """The Selection a run was stored with (the inverse of :func:`selection_record`); a
    record that cannot be read back is one UserError. The ``-w`` files are beside it, in
    ``record["workload_files"]`` (absent in runs recorded before they were kept)."""
    try:
        return Selection(
            workloads=[str(w) for w in record["workloads"]],
            backends=parse_backend_specs(str(b) for b in record["backends"]),
            sizes=[int(n) for n in record["sizes"]] if record.get("sizes") is not None else None,
            size_requests={str(k): list(v) for k, v in (record.get("size_requests") or {}).items()},
            device=[str(d) for d in as_axis(record.get("device"), "cpu")],  # a scalar (older runs) or a list
            dtype=[str(d) for d in as_axis(record.get("dtype"), "float64")],
            budget_s=float(record.get("budget_s", DEFAULT_BUDGET_S)),
            timeout_s=float(record.get("timeout_s", DEFAULT_TIMEOUT_S)),
            threads=[int(t) if t is not None else None for t in as_axis(record.get("threads"), None)],
            params={str(k): str(v) for k, v in (record.get("params") or {}).items()},
            seed=int(record.get("seed", DEFAULT_SEED)),
            processes=int(record["processes"]) if record.get("processes") is not None else None,
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise UserError(f"the stored selection cannot be read back ({type(exc).__name__}: {exc})") from None


@dataclass
class Continuation:
    """A cut run taken up again (runner/resume.py prepares one): the plan's cells are stored
    under ``seqs`` in run ``run_id``, its ``environment`` is the one recorded with a new
    ``resumed`` entry last (where this sweep's workers are noted), and ``kept`` holds the
    run's other cells as they are, so reports and exports show the whole run."""

    run_id: int
    seqs: tuple[int, ...]
    environment: dict[str, Any]
    kept: dict[int, CellResult]
    seen_state: str
    seen_finished_at: float | None


def _one_or_list(values: list[Any]) -> Any:
    """A sweep axis as the selection record holds it: one value as a scalar (as every run
    stored it before sweeps, so older readers still read it), several as a list; readers
    take either (``jitscope.core.model.as_axis``)."""
    return values[0] if len(values) == 1 else list(values)


class RecordedRun:
    """Iterate :meth:`events` to run; :meth:`cancel` from any thread stops it."""

    def __init__(
        self,
        plan: Plan,
        registry: Registry,
        db_path: str | Path,
        *,
        selection: Selection | None = None,
        command: str = "",
        label: str = "",
        supervisor_factory: Callable[[Plan, Registry], Supervisor] | None = None,
        workload_files: Sequence[str] = (),
        on_start: Callable[[int], None] | None = None,
        cancel_signal: str = "",
        exit_follows: bool = False,
        resume: Continuation | None = None,
    ) -> None:
        """``resume``: run the plan's cells into that existing run instead of a new one.
        ``on_start(run_id)``: called once the run's row and record exist (a detached run's
        daemon tells its launcher the id). ``cancel_signal``: the signal the owning process
        takes as "cancel" (``SIGUSR1`` for ``jitscope run``; "" where none is handled), named
        in the record so that ``jitscope cancel`` never signals a process that would die of it.
        ``exit_follows``: the owner will call :meth:`record_exit` (readers wait for that line)."""
        self.plan = plan
        self.registry = registry
        self.db_path = Path(db_path)
        self.selection = selection
        self.command = command
        self.label = label
        self.workload_files = list(workload_files)
        self.cancel_signal = cancel_signal
        self.exit_follows = exit_follows
        self._on_start = on_start
        self._record: EventWriter | None = None
        factory = supervisor_factory or (lambda p, r: Supervisor(p, r))
        self.supervisor = factory(plan, registry)
        self.run_id: int | None = None
        self.interrupted = False
        self.stop_reason: str | None = None  # what stopped it, for the cells it cut
        self.results: dict[int, CellResult] = {}  # committed to the store
        self._uncommitted: dict[int, CellResult] = {}  # arrived; its commit was cut short
        self.resume = resume
        self.environment: dict[str, Any] = resume.environment if resume else collect_environment(
            _one_or_list(list(dict.fromkeys(c.threads for c in plan.cells)) or [None]),  # a sweep: each count
            modules=[m for b in registry.backends.values() for m in b.requires],
        )

    def cancel(self, *, interrupted: bool = False, reason: str | None = None) -> None:
        """Stop now (any thread). ``interrupted``: the stop came from a signal or a failure,
        not a user's choice, and the run is recorded ``interrupted``. ``reason``: what every
        cell it cuts says ("interrupted by SIGTERM"); by default "cancelled by the user", or
        "interrupted before it finished" for an interrupted run."""
        self.interrupted = self.interrupted or interrupted
        self.say_why(reason)
        self.supervisor.cancel(self.stop_reason)

    def say_why(self, reason: str | None) -> None:
        """What will stop this run, told before it stops (a signal handler, which may then
        raise through :meth:`events` before :meth:`cancel` is reached): the cells it cuts
        say so. The first reason stays."""
        self.stop_reason = self.stop_reason or reason

    def _start_record(self) -> None:
        """The record's first line, then tell whoever waits for the id."""
        assert self.run_id is not None
        self._record = EventWriter(self.db_path, self.run_id)
        self._record.write({"type": "run", "run_id": self.run_id, "planned": len(self.plan.cells),
                            "pid": os.getpid(), "owner": current_owner(), "command": self.command,
                            "label": self.label, "cancel_signal": self.cancel_signal,
                            "exit_follows": self.exit_follows,
                            "resumed": self.resume is not None})
        if self._on_start is not None:
            self._on_start(self.run_id)

    def record_exit(self, code: int) -> None:
        """The record's last line: the exit code of the command that owned the run (a viewer
        exits with it). Call once, when that code is known."""
        if self._record is not None:
            self._record.write({"type": "exit", "code": int(code)})
            self._record.close()
            self._record = None

    def run_record(self) -> dict[str, Any]:
        """What the exporters need to describe this run."""
        return {"id": self.run_id, "environment": self.environment, "command": self.command}

    def ordered_results(self) -> list[CellResult]:
        """Every cell measured or recorded, in plan order: the saved ones and those the
        store refused (see :meth:`unsaved`), so exports hold everything that was measured;
        resumed, the run's kept cells too (the whole run)."""
        every = {**(self.resume.kept if self.resume else {}),
                 **{self._seq(i): r for i, r in {**self._uncommitted, **self.results}.items()}}
        return [every[i] for i in sorted(every)]

    def _seq(self, index: int) -> int:
        """Where the plan's cell ``index`` is stored in the run (resumed: its original seq)."""
        return self.resume.seqs[index] if self.resume else index

    def _start(self, store: Store) -> int:
        """A new run row, or (resumed) the cut run taken up again."""
        if self.resume is None:
            return store.start_run(
                command=self.command,
                selection=selection_record(self.selection, self.plan) if self.selection else {},
                environment=self.environment,
                label=self.label,
            )
        store.resume_run(self.resume.run_id, self.environment, seen_state=self.resume.seen_state,
                         seen_finished_at=self.resume.seen_finished_at)
        return self.resume.run_id

    def _note_worker(self, key: str, info: dict[str, Any]) -> None:
        """A worker's hello, in the run's workers; resumed, in this sweep's entry instead (the
        run's own stay as recorded), with a version other than the run's noted there too."""
        if self.resume is None:
            self.environment["workers"][key] = info
            return
        entry = self.environment["resumed"][-1]
        then = (self.environment.get("workers", {}).get(key) or {}).get("version")
        if then is not None and then != info.get("version"):
            entry["differences"].append(f"{key} worker {then} then, {info.get('version')} now: "
                                        f"the resumed cells are timed with {info.get('version')}")
        entry["workers"][key] = info

    def unsaved(self) -> list[CellResult]:
        """Cells that finished but that the database did not take (a full disk)."""
        return [self._uncommitted[i] for i in sorted(self._uncommitted) if i not in self.results]

    @property
    def finished_count(self) -> int:
        """How far the sweep really got: cells that ran to an end (saved or not)."""
        every = {**self._uncommitted, **self.results}
        return sum(1 for r in every.values() if r.status != Status.CANCELLED)

    def _retry_unsaved(self, store: Store) -> None:
        """A cell that finished but whose commit was cut short (a signal, a full disk) is
        tried again as it finished, before anything else takes the space."""
        assert self.run_id is not None
        for index in sorted(self._uncommitted):
            if index not in self.results:
                with contextlib.suppress(UserError, sqlite3.Error):
                    store.add_cell(self.run_id, self._seq(index), self._uncommitted[index])
                    self.results[index] = self._uncommitted[index]

    def _record_unfinished(self, store: Store) -> None:
        """After an interruption, every planned cell that did not finish is stored as
        ``cancelled``, so the run says what was not measured instead of just ending; each
        on its own, so one refusal does not skip the others."""
        assert self.run_id is not None
        for index, spec in enumerate(self.plan.cells):
            if index not in self.results and index not in self._uncommitted:
                reason = self.stop_reason or "interrupted before it finished"
                result = CellResult(spec=spec, status=Status.CANCELLED, reason=reason)
                with contextlib.suppress(UserError, sqlite3.Error):
                    store.add_cell(self.run_id, self._seq(index), result)
                    self.results[index] = result

    def events(self) -> Generator[Event, None, None]:
        """Run, committing each cell before anyone sees it. If the store cannot take a cell
        (a full disk...), the sweep stops at once (worker killed), the run is marked
        ``interrupted`` and a UserError says why; what was committed stays. Closing this
        generator (a signal, Ctrl-C, the app cancelling) also kills the worker and marks
        the run ``interrupted``."""
        store = Store(self.db_path)
        reserve = SpaceReserve(self.db_path)
        try:
            self.run_id = self._start(store)
            self._start_record()
            state = "interrupted"
            source = self.supervisor.run()
            try:
                for event in source:
                    if isinstance(event, (CellFinished, CellMeasuredSoFar)):  # so far: replaced when the cell ends
                        # Commit before anyone else sees it: nothing measured can be lost, also
                        # when a signal interrupts the commit itself (see _record_unfinished).
                        self._uncommitted[event.index] = event.result
                        try:
                            store.add_cell(self.run_id, self._seq(event.index), event.result)
                        except (sqlite3.Error, UserError) as exc:
                            reserve.release()  # room for this cell's retry and the run's final state
                            detail = exc if isinstance(exc, UserError) else describe_sqlite_error(exc, self.db_path)
                            raise UserError(f"could not save a cell: {detail}") from None
                        self.results[event.index] = self._uncommitted.pop(event.index)
                    elif isinstance(event, WorkerReady):
                        self._note_worker(event.key, event.info)
                        with contextlib.suppress(UserError):  # details only; the cells matter
                            store.update_environment(self.run_id, self.environment)
                    elif isinstance(event, LockFallback):  # the run says it was timed so
                        self.environment[TIMING_LOCK_KEY] = {"scope": event.scope, "problem": event.problem}
                        with contextlib.suppress(UserError):
                            store.update_environment(self.run_id, self.environment)
                    elif isinstance(event, RunFinished):
                        state = "interrupted" if self.interrupted else "cancelled" if event.cancelled else "finished"
                    if self._record is not None:
                        self._record.event(event)
                    yield event
            finally:
                source.close()  # kills a worker still running (its generator's finally)
                if state == "interrupted":  # what was measured first, then the run's state, then the rest
                    self._retry_unsaved(store)
                with contextlib.suppress(UserError, sqlite3.Error):  # even the reserve did not do: next open says abandoned
                    store.finish_run(self.run_id, state)
                if state == "interrupted":
                    self._record_unfinished(store)
        finally:
            store.close()
            reserve.release()


class SpaceReserve:
    """A little disk space held beside the database while a run records, and given back the
    moment the store refuses a cell (a full disk): enough for SQLite to take that cell on a
    second try and to record the run's true final state (``interrupted``), instead of a run
    left ``running`` that the next command can only call ``abandoned``. Best effort: where
    even this much cannot be had, the run goes on without it. A reserve left by a killed
    jitscope (its pid gone) is removed by the next run beside the same database."""

    SIZE = 128 * 1024
    PREFIX = ".jitscope-reserve-"

    def __init__(self, db_path: Path) -> None:
        self.path: Path | None = db_path.parent / f"{self.PREFIX}{db_path.name}-{os.getpid()}"
        self._sweep(db_path)
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        except OSError:
            self.path = None
            return
        try:
            os.posix_fallocate(fd, 0, self.SIZE)
        except OSError:
            self.release()
        finally:
            os.close(fd)

    def release(self) -> None:
        if self.path is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.path)
            self.path = None

    def _sweep(self, db_path: Path) -> None:
        with contextlib.suppress(OSError):
            for old in db_path.parent.glob(f"{self.PREFIX}{glob.escape(db_path.name)}-*"):
                pid = old.name.rsplit("-", 1)[1]
                if pid.isdigit() and not pid_alive(int(pid)):
                    old.unlink()
