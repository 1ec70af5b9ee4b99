"""A recorded run: the supervisor's events, with every finished cell committed to the store.

The CLI and the app both drive a :class:`RecordedRun`, so persistence happens in one place
and the same way: a run row first (with the environment), each cell the moment it finishes,
worker details merged into the environment as they arrive, and the run's final state last.
``events()`` opens its own store connection in the thread that iterates it (SQLite
connections belong to one thread), so the app can iterate it in a background worker.
"""

from __future__ import annotations

import contextlib
import glob
import os
import sqlite3
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

from jitscope.core.environment import collect_environment
from jitscope.core.errors import UserError
from jitscope.core.model import CellResult, Status
from jitscope.core.processes import pid_alive
from jitscope.core.registry import Registry
from jitscope.results.store import TIMING_LOCK_KEY, Store, describe_sqlite_error
from jitscope.runner.events import CellFinished, Event, LockFallback, RunFinished, WorkerReady
from jitscope.runner.plan import Plan, Selection
from jitscope.runner.supervisor import Supervisor


def selection_record(sel: Selection) -> dict[str, Any]:
    return {
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
    }


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
    ) -> None:
        self.plan = plan
        self.registry = registry
        self.db_path = Path(db_path)
        self.selection = selection
        self.command = command
        self.label = label
        factory = supervisor_factory or (lambda p, r: Supervisor(p, r))
        self.supervisor = factory(plan, registry)
        self.run_id: int | None = None
        self.interrupted = False
        self.results: dict[int, CellResult] = {}  # committed to the store
        self._uncommitted: dict[int, CellResult] = {}  # arrived; its commit was cut short
        self.environment: dict[str, Any] = collect_environment(
            _one_or_list(list(dict.fromkeys(c.threads for c in plan.cells)) or [None]),  # a sweep: each count
            modules=[m for b in registry.backends.values() for m in b.requires],
        )

    def cancel(self, *, interrupted: bool = False) -> None:
        """Stop now (any thread). ``interrupted``: the stop came from a signal or a closed
        terminal, not a user's choice, and the run is recorded ``interrupted``."""
        self.interrupted = self.interrupted or interrupted
        self.supervisor.cancel()

    def run_record(self) -> dict[str, Any]:
        """What the exporters need to describe this run."""
        return {"id": self.run_id, "environment": self.environment, "command": self.command}

    def ordered_results(self) -> list[CellResult]:
        """Every cell measured or recorded, in plan order: the saved ones and those the
        store refused (see :meth:`unsaved`), so exports hold everything that was measured."""
        every = {**self._uncommitted, **self.results}
        return [every[i] for i in sorted(every)]

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
                    store.add_cell(self.run_id, index, self._uncommitted[index])
                    self.results[index] = self._uncommitted[index]

    def _record_unfinished(self, store: Store) -> None:
        """After an interruption, every planned cell that did not finish is stored as
        ``cancelled``, so the run says what was not measured instead of just ending; each
        on its own, so one refusal does not skip the others."""
        assert self.run_id is not None
        for index, spec in enumerate(self.plan.cells):
            if index not in self.results and index not in self._uncommitted:
                result = CellResult(spec=spec, status=Status.CANCELLED, reason="interrupted before it finished")
                with contextlib.suppress(UserError, sqlite3.Error):
                    store.add_cell(self.run_id, index, result)
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
            self.run_id = store.start_run(
                command=self.command,
                selection=selection_record(self.selection) if self.selection else {},
                environment=self.environment,
                label=self.label,
            )
            state = "interrupted"
            source = self.supervisor.run()
            try:
                for event in source:
                    if isinstance(event, CellFinished):
                        # Commit before anyone else sees it: nothing measured can be lost, also
                        # when a signal interrupts the commit itself (see _record_unfinished).
                        self._uncommitted[event.index] = event.result
                        try:
                            store.add_cell(self.run_id, event.index, event.result)
                        except (sqlite3.Error, UserError) as exc:
                            reserve.release()  # room for this cell's retry and the run's final state
                            detail = exc if isinstance(exc, UserError) else describe_sqlite_error(exc, self.db_path)
                            raise UserError(f"could not save a cell: {detail}") from None
                        self.results[event.index] = self._uncommitted.pop(event.index)
                    elif isinstance(event, WorkerReady):
                        self.environment["workers"][event.key] = event.info
                        with contextlib.suppress(UserError):  # details only; the cells matter
                            store.update_environment(self.run_id, self.environment)
                    elif isinstance(event, LockFallback):  # the run says it was timed so
                        self.environment[TIMING_LOCK_KEY] = {"scope": event.scope, "problem": event.problem}
                        with contextlib.suppress(UserError):
                            store.update_environment(self.run_id, self.environment)
                    elif isinstance(event, RunFinished):
                        state = "interrupted" if self.interrupted else "cancelled" if event.cancelled else "finished"
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
