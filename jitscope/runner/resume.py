"""Resuming a cut run: the cells that did not finish, run again into the same run.

A run cut short (a closed terminal, SIGTERM, a SIGKILLed or powered-off supervisor) keeps
every cell it finished; :func:`prepare` works out what is left and whether it may still be
run as part of the same sweep. The decision (docs/design.md, "Resume"):

- The resumed cells **join the same run**: cells are keyed by (run, seq), and a re-run cell's
  row replaces the old one, so the run ends as one complete sweep under its own id. A
  linked run would make every reader (history, show, compare, exports) stitch two runs.
- Redone: ``cancelled``, ``timeout``, ``crashed`` and cells never recorded (seqs of the
  rebuilt plan with no row, as after SIGKILL). Kept as they are: ``ok``, ``skipped`` and
  ``failed`` (the kernel raised or answered wrong: a final answer, not an accident).
- The plan is rebuilt from the stored selection and ``-w`` files, and must be the one the
  run recorded, cell for cell; otherwise nothing runs.
- Another host is refused: the run would hold cells timed on two machines under one host
  label. A different Python, jitscope or library version is said (one line each) and noted
  in the run's environment, in a ``resumed`` entry beside the original, never over it.

The CLI (``jitscope run --resume``) and the app both call :func:`prepare`, then drive a
:class:`~jitscope.runner.recorded_run.RecordedRun` with the prepared continuation.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from itertools import zip_longest
from pathlib import Path
from typing import Any

from jitscope.core.environment import collect_environment
from jitscope.core.errors import UserError
from jitscope.core.model import CellResult
from jitscope.core.registry import Registry, load_registry
from jitscope.results.store import RunRecord, Store, StoredCell, resolve_run_id
from jitscope.runner.plan import Plan, Selection, build_plan
from jitscope.runner.recorded_run import Continuation, selection_from_record

# How a cell ended that resuming runs again: it was stopped, or its worker died or stalled.
REDO_STATUSES = frozenset({"cancelled", "timeout", "crashed"})


@dataclass(frozen=True)
class ResumePlan:
    """What resuming a run will do. ``todo`` empty: nothing left (``plan`` is then empty and
    ``registry``/``continuation`` None). ``plan`` holds the cells to run, in run order, and
    ``todo`` their seqs in the run; ``warnings`` are to be shown before running (changed
    versions, plugins that did not load)."""

    run_id: int
    selection: Selection
    files: tuple[str, ...]
    plan: Plan
    todo: tuple[int, ...]
    warnings: tuple[str, ...]
    full_plan: Plan
    command: str = ""  # the run's own command line, as recorded
    registry: Registry | None = None
    continuation: Continuation | None = None


def prepare(db_path: str | Path, run: int | str) -> ResumePlan:
    """Check that run ``run`` (an id, or ``latest``) of the database may be resumed and say
    what resuming it runs. Every refusal is one UserError: no such run, a run still
    running or imported, another host, a selection that cannot be rebuilt or whose plan
    changed. Reads only; the run is taken up when the RecordedRun starts."""
    path = Path(db_path).expanduser()
    if not path.exists():
        raise UserError(f"no database at {path} (pass the --db the run was saved in)")
    with Store(path, writable=True) as store:  # a dead owner's run is marked abandoned now, once
        run_id = _run_id(store, run)
        record = store.run(run_id)
        stored = store.stored_cells(run_id)
    _check_resumable(record)
    try:
        selection = selection_from_record(record.selection)
    except UserError as exc:
        raise UserError(f"cannot resume run {run_id}: {exc}") from None
    files = tuple(str(f) for f in record.selection.get("workload_files") or ())
    if record.state == "finished" and not any(c.status in REDO_STATUSES for c in stored.values()):
        empty = Plan(cells=[], workload_files=files)
        return ResumePlan(run_id, selection, files, empty, (), (), empty, record.command)
    registry, plan = _rebuild(run_id, selection, files)
    _check_same_plan(run_id, record.selection.get("plan_cells"), plan, stored)
    todo = tuple(seq for seq in range(len(plan.cells))
                 if seq not in stored or stored[seq].status in REDO_STATUSES)
    if not todo:
        return ResumePlan(run_id, selection, files, Plan(cells=[], workload_files=plan.workload_files), (), (), plan,
                          record.command)
    now = collect_environment(plan.cells[0].threads if plan.cells else None,
                              modules=[m for b in registry.backends.values() for m in b.requires])
    differences = environment_differences(record.environment, now, _modules(registry, selection))
    continuation = _continuation(record, stored, todo, differences, now)
    subplan = Plan(cells=[plan.cells[seq] for seq in todo], workload_files=plan.workload_files, processes=plan.processes)
    warnings = (*registry.problems, *differences)
    return ResumePlan(run_id, selection, files, subplan, todo, warnings, plan, record.command, registry, continuation)


def _run_id(store: Store, run: int | str) -> int:
    return run if isinstance(run, int) else resolve_run_id(store, run, empty=": nothing to resume")


def _check_resumable(record: RunRecord) -> None:
    """A run that is still going, that was imported, or that was timed on another machine
    is not resumed here (one line each)."""
    if record.state == "running":
        raise UserError(f"run {record.id} is still running (started {record.started}); "
                        "resume it once it has ended")
    if record.state == "imported":
        raise UserError(f"run {record.id} was imported, not run by jitscope here: there is nothing to resume")
    here = socket.gethostname()
    if record.host and record.host != here:
        raise UserError(f"run {record.id} was timed on host {record.host}, this is {here}: one run's cells must come "
                        "from one machine; run its selection anew here instead")


def _rebuild(run_id: int, selection: Selection, files: tuple[str, ...]) -> tuple[Registry, Plan]:
    """The registry and plan the stored selection gives today (a missing file, a plugin
    gone, a size no longer valid: one line naming it)."""
    try:
        registry = load_registry(files)
        return registry, build_plan(registry, selection)
    except UserError as exc:
        raise UserError(f"cannot rebuild run {run_id}'s plan: {exc}") from None


def _check_same_plan(run_id: int, recorded: Any, plan: Plan, stored: dict[int, StoredCell]) -> None:
    """The rebuilt plan must be the recorded one, cell for cell (each stored cell's spec, and
    the whole planned list where the run recorded it): the first difference is named."""
    now = [cell.key for cell in plan.cells]
    pairs: list[tuple[int, str | None, str | None]] = []
    if isinstance(recorded, list):
        pairs += [(seq, then, cur) for seq, (then, cur) in enumerate(zip_longest(recorded, now))]
    pairs += [(seq, cell.result.spec.key, now[seq] if seq < len(now) else None)
              for seq, cell in sorted(stored.items()) if cell.result is not None]
    for seq, then, cur in pairs:
        if then != cur:
            raise UserError(f"run {run_id}'s plan has changed since it ran (a workload file or plugin changed?): "
                            f"cell {seq} was {then or 'not planned'}, now it is {cur or 'not planned'}; nothing was run")


def _modules(registry: Registry, selection: Selection) -> list[str]:
    """The modules the run's own backends require (whose versions time its cells)."""
    return list(dict.fromkeys(m for name, _ in selection.backends if name in registry.backends
                              for m in registry.backends[name].requires))


def environment_differences(then: dict[str, Any], now: dict[str, Any], modules: list[str]) -> list[str]:
    """One line per difference between a run's recorded environment and ``now`` (both as
    collect_environment gives them): jitscope, Python, and the ``modules``' versions."""
    pairs = [("jitscope", then.get("jitscope"), now["jitscope"]), ("python", then.get("python"), now["python"]),
             ("python executable", then.get("python_executable"), now["python_executable"])]
    recorded = then.get("versions") or {}
    pairs += [(m, recorded.get(m), now["versions"].get(m)) for m in modules]
    return [_difference(name, a, b) for name, a, b in pairs if a != b]


def _difference(name: str, then: Any, now: Any) -> str:
    if now is None:
        return f"{name} {then} then, not installed now: the resumed cells cannot use it"
    if then is None:
        return f"{name} not recorded then, {now} now: the resumed cells are timed with {now}"
    return f"{name} {then} then, {now} now: the resumed cells are timed with {now}"


def _continuation(record: RunRecord, stored: dict[int, StoredCell], todo: tuple[int, ...],
                  differences: list[str], now: dict[str, Any]) -> Continuation:
    """The run's environment as recorded plus a ``resumed`` entry for this sweep (when,
    where, with what, which cells, what differed; its workers are noted as they start), and
    the cells kept as they are."""
    entry = {
        "at": time.time(),
        "host": now["host"],
        "jitscope": now["jitscope"],
        "python": now["python"],
        "versions": now["versions"],
        "previous_state": record.state,
        "cells": list(todo),
        "differences": differences,
        "workers": {},
    }
    environment = {**record.environment, "resumed": [*(record.environment.get("resumed") or []), entry]}
    kept: dict[int, CellResult] = {seq: cell.result for seq, cell in stored.items()
                                   if seq not in todo and cell.result is not None}
    return Continuation(record.id, todo, environment, kept, record.state, record.finished_at)
