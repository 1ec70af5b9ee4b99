"""The app's data, kept free of Textual so it can be tested as plain logic.

- :class:`RunProgress` follows a run's cells (phase, status, timings) from the engine's
  events and estimates the ETA.
- :class:`ResultSet` is what the Results screen shows: one run, or several overlaid, with
  series labels, speed-ups against a baseline and the plot of each kind (declared in
  ``jitscope.plotkinds``).
- :func:`results_table_row` and :func:`observed_details` put a cell into words.

Nothing here imports the planner or the registry (see ``jitscope.ui.planning``): the Live
run and Results screens are built from this module alone.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from jitscope.core.columns import APP_TABLE, UNKNOWN, Cell, fmt_time, row_words
from jitscope.core.labels import phase_word
from jitscope.core.model import CellResult, CellSpec, Phase, Status
from jitscope.core.units import fmt_bytes, fmt_seconds
from jitscope.plotkinds import KINDS, ExpectedError, PlotData, PlotInputs, kind_named
from jitscope.plots import series_label, varying
from jitscope.results.summary import speedups
from jitscope.runner import events as ev

# A cell's cost in its workload's model (``jitscope.ui.planning.cost_model``); None: no model.
CostModel = Callable[[CellSpec], "float | None"]


# ---- a run in progress -------------------------------------------------------------------
@dataclass
class CellState:
    spec: CellSpec
    phase: Phase = Phase.QUEUED
    fraction: float = 0.0
    result: CellResult | None = None
    started_at: float | None = None
    finished_at: float | None = None

    @property
    def done(self) -> bool:
        return self.result is not None

    @property
    def word(self) -> str:
        """What the live grid shows for this cell."""
        if self.result is not None:
            r = self.result
            if r.status == Status.OK and r.median_s is not None:
                return fmt_seconds(r.median_s)
            return r.status.value
        if self.phase == Phase.MEASURING and self.fraction > 0:
            return f"measure {min(99, int(self.fraction * 100))}%"
        return phase_word(self.phase)

    @property
    def tone(self) -> str:
        """A theme role: the grid colours cells through theme variables only."""
        if self.result is None:
            return "muted" if self.phase == Phase.QUEUED else "primary"
        if self.result.status == Status.OK:
            return "success" if not (self.result.accuracy and not self.result.accuracy.accurate) else "warning"
        if self.result.status in (Status.SKIPPED, Status.CANCELLED):
            return "warning"
        return "error"


@dataclass
class RunProgress:
    """Cell states and timing of one run; ``clock`` is injected so tests are deterministic."""

    cells: list[CellSpec]
    clock: Callable[[], float]
    states: list[CellState] = field(default_factory=list)
    started_at: float = 0.0
    finished: bool = False
    cancelled: bool = False
    run_id: int | None = None
    cost: CostModel | None = None  # the workloads' cost models, for the ETA (None: no ETA)

    def __post_init__(self) -> None:
        self.states = [CellState(spec) for spec in self.cells]
        self.started_at = self.clock()

    @property
    def total(self) -> int:
        return len(self.states)

    @property
    def done(self) -> int:
        return sum(1 for s in self.states if s.done)

    def progressed(self, index: int, phase: Phase, fraction: float) -> None:
        state = self.states[index]
        if state.started_at is None:
            state.started_at = self.clock()
        state.phase = phase
        state.fraction = fraction

    def finished_cell(self, index: int, result: CellResult) -> None:
        state = self.states[index]
        state.result = result
        state.finished_at = self.clock()
        if state.started_at is None:
            state.started_at = state.finished_at

    @property
    def current(self) -> CellState | None:
        for s in self.states:
            if not s.done and s.phase != Phase.QUEUED:
                return s
        return None

    @property
    def fraction(self) -> float:
        if not self.states:
            return 1.0
        running = self.current
        partial = running.fraction * 0.5 if running and running.phase == Phase.MEASURING else 0.0
        return min(1.0, (self.done + partial) / self.total)

    def elapsed(self) -> float:
        return max(0.0, self.clock() - self.started_at)

    def eta(self) -> float | None:
        """Seconds left, or None when some cell left cannot be estimated yet: each cell from
        what the same implementation took at the largest size it finished so far, scaled by
        the workload's cost model (an LU in Python at n = 1000 is ~1000x its n = 100)."""
        if self.finished:
            return 0.0
        left = 0.0
        for state in self.states:
            if state.done:
                continue
            estimate = self.cell_estimate(state.spec)
            if estimate is None:
                return None
            spent = self.clock() - state.started_at if state.started_at is not None else 0.0
            left += max(0.0, estimate - spent)
        return left

    def cell_estimate(self, spec: CellSpec) -> float | None:
        """The wall time of a cell: a finished one of the same series (the largest size not
        above it) with two calls' time (the first call and the last sample) rescaled."""
        ref = self._reference(spec)
        if ref is None or ref.result is None or ref.result.median_s is None:
            return None
        ratio = 1.0 if ref.spec.size == spec.size else self._cost_ratio(ref.spec, spec)
        if ratio is None:
            return None
        assert ref.started_at is not None and ref.finished_at is not None
        wall, median = ref.finished_at - ref.started_at, ref.result.median_s
        return max(spec.budget_s, wall + 2 * median * (ratio - 1.0))

    def _reference(self, spec: CellSpec) -> CellState | None:
        series = _series_key(spec)
        measured = [s for s in self.states
                    if s.result is not None and s.result.status == Status.OK and s.result.median_s
                    and s.started_at is not None and s.finished_at is not None
                    and _series_key(s.spec) == series and s.spec.size <= spec.size]
        return max(measured, key=lambda s: s.spec.size, default=None)

    def _cost_ratio(self, measured: CellSpec, wanted: CellSpec) -> float | None:
        if self.cost is None:
            return None
        then, now = self.cost(measured), self.cost(wanted)
        return now / then if then and now else None

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for s in self.states:
            if s.result is not None:
                out[s.result.status.value] = out.get(s.result.status.value, 0) + 1
        return out

    def results(self) -> list[CellResult]:
        return [s.result for s in self.states if s.result is not None]

    def apply(self, event: ev.Event | RunEnded) -> None:
        """Follow one event of the run (events for cells outside the plan are ignored)."""
        if isinstance(event, ev.CellProgressed) and 0 <= event.index < self.total:
            self.progressed(event.index, event.phase, event.fraction)
        elif isinstance(event, ev.CellFinished) and 0 <= event.index < self.total:
            self.finished_cell(event.index, event.result)
        elif isinstance(event, RunEnded):
            self.finished = True
            self.cancelled = event.cancelled


def _series_key(spec: CellSpec) -> tuple[str, ...]:
    """Cells whose times scale into each other: one implementation, one workload."""
    return (spec.workload, spec.backend, spec.variant, spec.device, spec.dtype, repr(spec.params))


@dataclass(frozen=True)
class RunEnded:
    """The end of a run as the app sees it: the engine's events are over, because the run
    finished, was cancelled, or the engine failed (``error``: one line saying why)."""

    cancelled: bool
    error: str = ""


def fmt_duration(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "-"
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
    return f"{seconds // 60}:{seconds % 60:02d}"


def fmt_eta(seconds: float | None) -> str:
    """``ETA 0:35``, or ``ETA unknown`` until the cells left can be estimated."""
    return "ETA unknown" if seconds is None else f"ETA {fmt_duration(seconds)}"


def status_line(progress: RunProgress, cancelling: bool = False) -> str:
    """A run in flight in a few words, for the mode bar."""
    if cancelling:
        return f"cancelling · {progress.done}/{progress.total} kept"
    return f"running {progress.done}/{progress.total} · {fmt_eta(progress.eta())}"


# ---- results on screen ---------------------------------------------------------------------
# The app cycles the plot kinds in their declared order (``jitscope.plotkinds.KINDS``).
PLOT_KINDS = tuple(kind.name for kind in KINDS)


@dataclass
class RunRef:
    """One run in a ResultSet: its id, a short tag for overlays and what exports need."""

    run_id: int | None
    tag: str
    record: dict[str, Any] = field(default_factory=dict)


@dataclass
class ResultSet:
    """Results of one run, or of several overlaid (each result tagged with its run)."""

    items: list[tuple[RunRef, CellResult]]
    title: str = ""

    @classmethod
    def single(cls, results: Sequence[CellResult], ref: RunRef, title: str = "") -> ResultSet:
        return cls([(ref, r) for r in results], title)

    @property
    def runs(self) -> list[RunRef]:
        seen: dict[int, RunRef] = {}
        for ref, _ in self.items:
            seen.setdefault(id(ref), ref)
        return list(seen.values())

    @property
    def overlay(self) -> bool:
        return len(self.runs) > 1

    @property
    def results(self) -> list[CellResult]:
        return [r for _, r in self.items]

    def label(self, ref: RunRef, result: CellResult) -> str:
        base = series_label(result, **varying(self.results))
        return f"{ref.tag} {base}" if self.overlay else base

    def labeller(self) -> Callable[[CellResult], str]:
        tags = {id(r): ref for ref, r in self.items}
        return lambda r: self.label(tags[id(r)], r)

    def workloads(self) -> list[str]:
        return list(dict.fromkeys(r.spec.workload for r in self.results))

    def labels(self, workload: str | None = None) -> list[str]:
        return list(dict.fromkeys(self.label(ref, r) for ref, r in self.items
                                  if workload is None or r.spec.workload == workload))

    def speedups(self, baseline: str | None) -> list[float | None]:
        """Per item: baseline median / its median at the same workload, size and dtype."""
        if baseline is None:
            return [None] * len(self.items)
        return speedups(self.results, baseline, [self.label(ref, r) for ref, r in self.items])

    def plot(self, kind: str, workload: str, baseline: str | None, expected: ExpectedError | None = None) -> PlotData:
        """Series (and reference lines) of one plot kind for one workload; ``expected`` is
        the workload's expected-error model, drawn on the accuracy plot where it has one."""
        results = [r for r in self.results if r.spec.workload == workload]
        inputs = PlotInputs(results, workload, self.labeller(), self.labels(workload), baseline, expected)
        return kind_named(kind).data(inputs)



def results_table_row(result: CellResult, speedup: float | None, label: str) -> list[str]:
    """One Results-table row as plain strings (styles are added by the widget), in the order
    of the app's view in jitscope.core.columns. ``compiled`` and ``peak mem`` are what the
    worker observed: ``unknown`` when the library gave no signal, ``-`` for a cell that was
    never measured (failed, skipped...)."""
    return row_words(APP_TABLE, Cell(result, speedup=speedup, label=label))


def observed_details(result: CellResult) -> str:
    """Every observation of a cell, for the cell details (Live run and Results): what was
    seen, each field named, then one ``unknown:`` list of the fields the library gave no
    signal for. A CPU cell has no device, so no device peak."""
    o = result.observed
    seen: list[str] = []
    unknown: list[str] = []

    def field(name: str, value: str | None, shown: str | None = None) -> None:
        if value is None or value == UNKNOWN:
            unknown.append(name)
        else:
            seen.append(shown or f"{name} {value}")

    compiled = o.compiled if o.compiled != UNKNOWN else None
    in_time = f" in {fmt_time(result.compile_s)}" if o.compiled == "yes" and result.compile_s is not None else ""
    field("compiled", compiled, f"compiled {o.compiled}{in_time}")
    field("cache", o.cache)
    field("graph breaks", None if o.graph_breaks is None else str(o.graph_breaks))
    field("worker start-up", None if o.startup_s is None else fmt_seconds(o.startup_s))
    field("peak host", fmt_bytes(o.peak_host_bytes) or None)
    if result.spec.device != "cpu" or o.peak_device_bytes is not None:
        field("peak device", fmt_bytes(o.peak_device_bytes) or None)
    field("cpu", None if o.cpu_util is None else f"{o.cpu_util:.1f} cores")
    field("cpu contention", None if o.cpu_contention is None else f"{o.cpu_contention:.0%}")
    field("dtype", o.dtype_used)
    return " · ".join(seen + ([f"unknown: {', '.join(unknown)}"] if unknown else []))
