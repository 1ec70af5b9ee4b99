"""A recorded run: the supervisor's events, with every finished cell committed to the store.

The CLI and the app both drive a :class:`RecordedRun`, so persistence happens in one place
and the same way: a run row first (with the environment), each cell the moment it finishes,
worker details merged into the environment as they arrive, and the run's final state last.
``events()`` opens its own store connection in the thread that iterates it (SQLite
connections belong to one thread), so the app can iterate it in a background worker.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

from jitscope.core.environment import collect_environment
from jitscope.core.errors import UserError
from jitscope.core.model import CellResult, Status
from jitscope.core.registry import Registry
from jitscope.results.store import Store, describe_sqlite_error
from jitscope.runner.events import CellFinished, Event, RunFinished, WorkerReady
from jitscope.runner.plan import Plan, Selection
from jitscope.runner.supervisor import Supervisor


def selection_record(sel: Selection) -> dict[str, Any]:
    return {
        "workloads": sel.workloads,
        "backends": [f"{n}:{v}" if v else n for n, v in sel.backends],
        "sizes": sel.sizes,
        "size_requests": sel.size_requests,  # -s S, -s crc16=1e6: what was typed, per workload
        "device": sel.device,
        "dtype": sel.dtype,
        "budget_s": sel.budget_s,
        "timeout_s": sel.timeout_s,
        "threads": sel.threads,
        "params": sel.params,
        "seed": sel.seed,
    }


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
            plan.cells[0].threads if plan.cells else None,
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
        return [self.results[i] for i in sorted(self.results)]

    def _record_unfinished(self, store: Store) -> None:
        """After an interruption, every planned cell that did not finish is stored as
        ``cancelled``, so the run says what was not measured instead of just ending. A cell
        that did finish but whose commit the interruption cut short is stored as it finished."""
        assert self.run_id is not None
        for index, spec in enumerate(self.plan.cells):
            if index not in self.results:
                result = self._uncommitted.get(index) or CellResult(
                    spec=spec, status=Status.CANCELLED, reason="interrupted before it finished")
                store.add_cell(self.run_id, index, result)
                self.results[index] = result

    def events(self) -> Generator[Event, None, None]:
        """Run, committing each cell before anyone sees it. If the store cannot take a cell
        (a full disk...), the sweep stops at once (worker killed), the run is marked
        ``interrupted`` and a UserError says why; what was committed stays. Closing this
        generator (a signal, Ctrl-C, the app cancelling) also kills the worker and marks
        the run ``interrupted``."""
        store = Store(self.db_path)
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
                            detail = exc if isinstance(exc, UserError) else describe_sqlite_error(exc, self.db_path)
                            raise UserError(f"could not save a cell: {detail}") from None
                        self.results[event.index] = self._uncommitted.pop(event.index)
                    elif isinstance(event, WorkerReady):
                        self.environment["workers"][f"{event.backend}/{event.device}"] = event.info
                        with contextlib.suppress(UserError):  # details only; the cells matter
                            store.update_environment(self.run_id, self.environment)
                    elif isinstance(event, RunFinished):
                        state = "interrupted" if self.interrupted else "cancelled" if event.cancelled else "finished"
                    yield event
            finally:
                source.close()  # kills a worker still running (its generator's finally)
                if state == "interrupted":
                    with contextlib.suppress(UserError, sqlite3.Error):
                        self._record_unfinished(store)
                with contextlib.suppress(UserError, sqlite3.Error):  # a full disk: next open says abandoned
                    store.finish_run(self.run_id, state)
        finally:
            store.close()
