"""The plot kinds as data: one :class:`PlotKind` per kind in :data:`KINDS`, read by the app
(``p`` cycles them in this order) and by ``jitscope run/show --plot KIND`` (its help lists them).

A kind says what it is called, its title, its axes (labels, scales, how the y ticks read),
which cells and fields it draws, how (series over size, reference lines, grouped bars) and
when it has nothing to draw and why. Its ``build`` turns one workload's cells into a
:class:`PlotData`, which the app's Chart and the CLI's report each draw with
:mod:`jitscope.plots`. Adding a kind is one entry here (plus, where it draws a new quantity,
its series function in :mod:`jitscope.plots`); nothing else names the kinds.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from jitscope.core.labels import cell_threads
from jitscope.core.model import CellResult, Status
from jitscope.core.units import fmt_bytes, fmt_number, fmt_seconds, fmt_size
from jitscope.plots import (
    Labeller,
    Series,
    axis_free_label,
    error_series,
    memory_series,
    speedup_series,
    time_series,
)

# The expected error of a workload at a size, with the cell's parameters (None: no model);
# ``Workload.expected_error`` bound to one workload is one.
ExpectedError = Callable[[int, dict[str, Any]], "float | None"]

# How the y ticks (the x ticks of bars) read, by PlotData.yunit.
Y_FORMATS: dict[str, Callable[[float], str]] = {"time": fmt_seconds, "number": fmt_number, "bytes": fmt_bytes}


@dataclass
class PlotData:
    """One kind's drawing for one workload: series over size (and reference lines), or
    grouped bars (one group per series label)."""

    series: list[Series]
    extra: list[Series]
    xlabel: str
    ylabel: str
    yunit: str  # "time", "number" or "bytes": how to format the y ticks
    note: str = ""
    groups: list[str] | None = None  # bar charts (compile vs steady): one group per series label
    bars: list[Series] = field(default_factory=list)
    where: dict[str, str] = field(default_factory=dict)  # bar groups: the size each was taken at
    # The series are named by the kind, not one per label of the results (the threads plot's
    # "numpy @1e6 (...)"): the app's legend lists them as they are.
    own_labels: bool = False

    def group_names(self, hidden: Collection[str] = ()) -> list[str]:
        """The shown bar groups, each with the size its bars were taken at (``numpy @1e3``)."""
        return [f"{g} {self.where[g]}".strip() if g in self.where else g for g in self.groups or [] if g not in hidden]

    def shown_bars(self, hidden: Collection[str] = ()) -> list[Series]:
        """Each bar kind with the values of the hidden groups left out."""
        groups = self.groups or []
        return [Series(b.label, [], [v for g, v in zip(groups, b.y, strict=True) if g not in hidden])
                for b in self.bars]


@dataclass(frozen=True)
class PlotInputs:
    """What a kind is drawn from: one workload's cells and how the caller names their series
    (the app tags overlaid runs), in the order the caller shows them."""

    results: Sequence[CellResult]
    workload: str
    label: Labeller
    labels: Sequence[str]
    baseline: str | None = None  # speed-up reference series; None: the fastest at each size
    expected: ExpectedError | None = None  # the workload's expected-error model, if any


@dataclass(frozen=True)
class PlotKind:
    """One plot kind, declared once (see the module docstring)."""

    name: str  # what ``--plot`` takes and the app's state holds
    word: str  # how the keys table names it ("speed-up")
    title: str  # after "workload: " above the chart
    needs: str  # which fields of the ok cells it draws (``--plot``'s help says it)
    draws: Literal["series", "bars"]  # log-log over size (and reference lines), or grouped log bars
    xlabel: str
    ylabel: str
    yunit: str
    build: Callable[[PlotKind, PlotInputs], PlotData]
    unavailable: str = ""  # the note shown instead of a chart when it has nothing to draw
    reference: str = ""  # the reference line it draws where the workload has one
    report_title: str = ""  # the CLI report's title, where it has long read differently

    def data(self, inputs: PlotInputs) -> PlotData:
        return self.build(self, inputs)

    @property
    def cli_title(self) -> str:
        return self.report_title or self.title


def _series_data(kind: PlotKind, series: list[Series], extra: Sequence[Series] = (), ylabel: str = "") -> PlotData:
    note = "" if series else kind.unavailable
    return PlotData(series, list(extra), kind.xlabel, ylabel or kind.ylabel, kind.yunit, note=note)


def _time(kind: PlotKind, p: PlotInputs) -> PlotData:
    return _series_data(kind, time_series(p.results, p.label).get(p.workload, []))


def _accuracy(kind: PlotKind, p: PlotInputs) -> PlotData:
    series = error_series(p.results, p.label).get(p.workload, [])
    metric = next((r.accuracy.metric for r in p.results if r.accuracy), kind.ylabel)
    line = expected_line(p.results, p.expected) if p.expected is not None else None
    return _series_data(kind, series, [line] if line is not None and line.x else [], ylabel=metric)


def _speedup(kind: PlotKind, p: PlotInputs) -> PlotData:
    series = speedup_series(p.results, p.baseline, p.label).get(p.workload, [])
    return _series_data(kind, series, ylabel=kind.ylabel.format(baseline=p.baseline or "the fastest"))


def _memory(kind: PlotKind, p: PlotInputs) -> PlotData:
    return _series_data(kind, memory_series(p.results, p.label).get(p.workload, []))


def _compile(kind: PlotKind, p: PlotInputs) -> PlotData:
    """Compile, worker start-up and steady state per series, each at the size where the
    compile (and start-up) happened; the group names that size."""
    by_label: dict[str, list[CellResult]] = {}
    for r in p.results:
        if r.status == Status.OK and r.median_s:
            by_label.setdefault(p.label(r), []).append(r)
    groups = [g for g in p.labels if g in by_label]
    at = {g: first_cost_cell(by_label[g]) for g in groups}
    bars = [
        Series("compile (first call - median)", [], [_or_nan(at[g].compile_s) for g in groups]),
        Series("worker start-up", [], [_or_nan(at[g].observed.startup_s) for g in groups]),
        Series("steady (median)", [], [_or_nan(at[g].median_s) for g in groups]),
    ]
    where = {g: f"@{fmt_size(at[g].spec.size)}" for g in groups}
    return PlotData([], [], kind.xlabel, kind.ylabel, kind.yunit, groups=groups, bars=bars, where=where,
                    note=kind.unavailable if not groups else "each where it happened")


def _ok_timed(p: PlotInputs) -> list[CellResult]:
    return [r for r in p.results if r.status == Status.OK and r.median_s]


def _threads(kind: PlotKind, p: PlotInputs) -> PlotData:
    """Speed-up vs thread count, one series per implementation and size, each over its own
    cell at the fewest threads (1 in a ``--threads 1,2,4`` sweep); the legend gives the
    scaling efficiency (speed-up / threads ratio) at the most threads; the ideal is a line."""
    threads = {id(r): t for r in _ok_timed(p) if (t := cell_threads(r)) is not None}
    cells = [r for r in _ok_timed(p) if id(r) in threads]
    counts = sorted(set(threads.values()))
    if len(counts) < 2:
        return _note_only(kind, f"the threads plot needs cells at 2 or more thread counts; this run has "
                                f"{len(counts)} (run with e.g. --threads 1,2,4)")
    by_series: dict[str, dict[int, float]] = {}
    for r in cells:
        name = f"{axis_free_label(p.label(r), r, threads=True)} @{fmt_size(r.spec.size)}"
        by_series.setdefault(name, {})[threads[id(r)]] = float(r.median_s or 0.0)
    series = [s for s in (_scaling(name, times) for name, times in by_series.items()) if s is not None]
    ideal = Series("ideal (speed-up = threads / fewest)", [float(c) for c in counts], [c / counts[0] for c in counts])
    data = _series_data(kind, series, [ideal])
    data.own_labels = True
    return data


def _scaling(name: str, times: dict[int, float]) -> Series | None:
    """One series of the threads plot: speed-up over its fewest threads at each count, named
    with its efficiency at its most threads; None with one count only."""
    if len(times) < 2:
        return None
    base = min(times)
    xs = sorted(times)
    ys = [times[base] / times[t] for t in xs]
    efficiency = ys[-1] / (xs[-1] / base)
    return Series(f"{name} ({efficiency:.0%} efficient at {xs[-1]} threads)", [float(x) for x in xs], ys)


def _dtype(kind: PlotKind, p: PlotInputs) -> PlotData:
    """float32 time / float64 time vs size, one series per implementation (and thread count):
    below 1, float32 is faster; a line at 1 is the same time."""
    cells = _ok_timed(p)
    have = sorted({r.spec.dtype for r in cells}, reverse=True)
    if not {"float32", "float64"} <= set(have):
        return _note_only(kind, "the dtype plot needs cells in both float32 and float64; this run has "
                                f"{' and '.join(have) or 'no ok cell'}{' only' if have else ''} "
                                "(run with --dtype float32,float64)")
    times: dict[str, dict[str, dict[int, float]]] = {}
    for r in cells:
        name = axis_free_label(p.label(r), r, dtype=True)
        times.setdefault(name, {}).setdefault(r.spec.dtype, {})[r.spec.size] = float(r.median_s or 0.0)
    series = []
    for name, by_dtype in times.items():
        sizes = sorted(set(by_dtype.get("float32", {})) & set(by_dtype.get("float64", {})))
        if sizes:
            series.append(Series(name, [float(n) for n in sizes],
                                 [by_dtype["float32"][n] / by_dtype["float64"][n] for n in sizes]))
    xs = sorted({x for s in series for x in s.x})
    data = _series_data(kind, series, [Series("same time (1x)", xs, [1.0] * len(xs))] if xs else [])
    data.own_labels = True
    return data


def _note_only(kind: PlotKind, note: str) -> PlotData:
    """What a kind draws when the run lacks its axis: no chart, the one line why."""
    return PlotData([], [], kind.xlabel, kind.ylabel, kind.yunit, note=note, own_labels=True)


KINDS: tuple[PlotKind, ...] = (
    PlotKind("time", "time", "time per call vs size", "median seconds per call vs size", "series",
             "size", "seconds per call", "time", _time, report_title="median time per call"),
    PlotKind("accuracy", "accuracy", "error vs size", "accuracy error vs size, and the expected error",
             "series", "size", "error", "number", _accuracy, reference="expected error"),
    PlotKind("speedup", "speed-up", "speed-up vs baseline", "speed-up over the baseline vs size", "series",
             "size", "x faster than {baseline}", "number", _speedup),
    PlotKind("compile", "compile", "compile vs steady state",
             "compile, start-up and median bars, where compiled", "bars", "seconds", "", "time", _compile),
    PlotKind("memory", "memory", "peak memory vs size", "observed peak memory vs size", "series",
             "size", "peak memory", "bytes", _memory, unavailable="no peak memory observed"),
    PlotKind("threads", "threads", "speed-up vs threads",
             "speed-up over the fewest threads vs thread count, and the scaling efficiency", "series",
             "threads", "x faster than its fewest threads", "number", _threads),
    PlotKind("dtype", "dtype", "float32 vs float64 time", "float32 time / float64 time vs size", "series",
             "size", "float32 time / float64 time", "number", _dtype),
)
BY_NAME: dict[str, PlotKind] = {k.name: k for k in KINDS}
DEFAULT_KIND = KINDS[0]


def kind_named(name: str) -> PlotKind:
    """The kind called ``name``; a ValueError that lists the kinds otherwise."""
    try:
        return BY_NAME[name]
    except KeyError:
        raise ValueError(f"unknown plot kind {name!r}; choose one of: {', '.join(BY_NAME)}") from None


def next_kind(name: str) -> str:
    """The kind after ``name`` in :data:`KINDS`, round the end (the app's ``p``)."""
    names = list(BY_NAME)
    return names[(names.index(name) + 1) % len(names)]


def kind_words() -> str:
    """The kinds in cycling order as the keys' help says them (``time, accuracy, speed-up...``)."""
    return ", ".join(k.word for k in KINDS)


def kinds_help() -> str:
    """``--plot``'s help: each kind with what it draws."""
    return "; ".join(f"{k.name} ({k.needs})" for k in KINDS)


def first_cost_cell(cells: Sequence[CellResult]) -> CellResult:
    """Where a series paid its one-off costs: the first size whose first call compiled (a JIT
    compiles once, at the first size it meets), else its smallest size (where its worker
    started). Drawing them at the largest size showed nothing: that cell compiled nothing."""
    ordered = sorted(cells, key=lambda r: r.spec.size)
    return next((r for r in ordered if r.compile_s), ordered[0])


def expected_line(results: Sequence[CellResult], expected: ExpectedError) -> Series:
    """The expected error at each size measured (with that size's parameters), for sizes
    where the workload's model gives one."""
    params_at: dict[int, dict[str, Any]] = {}
    for r in results:
        params_at.setdefault(r.spec.size, dict(r.spec.params))
    points = [(float(size), expected(size, params)) for size, params in sorted(params_at.items())]
    kept = [(x, y) for x, y in points if y is not None]
    return Series("expected error", [x for x, _ in kept], [y for _, y in kept])


def _or_nan(value: float | None) -> float:
    return math.nan if value is None else value
