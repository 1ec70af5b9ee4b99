"""Every plotext call in jitscope lives here (docs/design.md §8), used by the CLI and the app.

plotext keeps one global figure, and a log-scaled figure that is built twice can fail, so each
render starts from ``clear_figure()`` and re-adds its data: a chart is a pure function of its
series, and redraws, resizes and theme switches are just new calls.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from jitscope.core.labels import cell_threads, result_label
from jitscope.core.model import CellResult, Status
from jitscope.core.units import fmt_number, fmt_seconds, fmt_size

__all__ = ["Labeller", "Series", "fmt_number", "fmt_seconds", "fmt_size", "render", "series_label"]


# One marker per series when there is no colour; none of them is a letter or a digit.
MONO_MARKERS = ("•", "+", "*", "#", "@", "%", "&", "$", "^", "=")
# Reference lines (an expected error...) are drawn with a marker no series uses, with or
# without colour, so a reader never takes one for a series.
REFERENCE_MARKER = "·"
# The fill of each bar kind (compile, start-up, steady), so they differ without colour too.
BAR_MARKERS = ("█", "▒", "░")
BAR_COLORS = ("blue+", "red+", "green+", "magenta+")
PLOTEXT_COLORS = ("blue+", "red+", "green+", "magenta+", "cyan+", "orange+", "yellow+", "gray")


def series_marker(index: int, color: bool) -> str:
    """The character that draws series ``index`` (its fixed position, whatever is hidden) and
    that its legend entry shows: a dot in colour, one of :data:`MONO_MARKERS` without."""
    return MONO_MARKERS[index % len(MONO_MARKERS)] if not color else "•"


@dataclass
class Series:
    label: str
    x: list[float] = field(default_factory=list)
    y: list[float] = field(default_factory=list)


def series_label(result: CellResult, with_dtype: bool = False, with_threads: bool = False) -> str:
    """The implementation label, plus the dtype and the thread count where the cells differ
    in them (a sweep): ``numpy float32 threads=2``. :func:`axis_free_label` takes them off."""
    s = result.spec
    label = result_label(result)
    if with_dtype:
        label += f" {s.dtype}"
    if with_threads:
        label += threads_suffix(cell_threads(result))
    return label


def threads_suffix(threads: int | None) -> str:
    return f" threads={threads if threads is not None else 'default'}"


def varying(results: Sequence[CellResult]) -> dict[str, bool]:
    """Which sweep axes the cells differ in: ``series_label``'s keywords."""
    return {"with_dtype": len({r.spec.dtype for r in results}) > 1,
            "with_threads": len({cell_threads(r) for r in results}) > 1}


def axis_free_label(label: str, result: CellResult, *, threads: bool = False, dtype: bool = False) -> str:
    """A series label (:func:`series_label`, perhaps tagged by the app) without its thread
    count and/or its dtype: what one series of the threads and dtype plots is named, the
    axis taken off being that plot's x or its ratio."""
    suffix = threads_suffix(cell_threads(result))
    had_threads = label.endswith(suffix)
    if had_threads:
        label = label[: -len(suffix)]
    if dtype and label.endswith(f" {result.spec.dtype}"):
        label = label[: -len(result.spec.dtype) - 1]
    return label + (suffix if had_threads and not threads else "")


Labeller = Callable[[CellResult], str]
# What a series draws of an ok cell (None: nothing observed, left out rather than drawn as 0).
Value = Callable[[CellResult], "float | None"]


def _group(results: Sequence[CellResult], value: Value, label: Labeller | None = None) -> dict[str, list[Series]]:
    """Per workload, one series per backend:variant(@device)(dtype), points sorted by size.
    ``label`` overrides the series name (the app tags overlaid runs with it)."""
    axes = varying(results)
    out: dict[str, dict[str, Series]] = {}
    for r in results:
        y = value(r) if r.status == Status.OK else None
        if y is None:
            continue
        name = label(r) if label is not None else series_label(r, **axes)
        series = out.setdefault(r.spec.workload, {}).setdefault(name, Series(name))
        series.x.append(float(r.spec.size))
        series.y.append(float(y))
    return {workload: [_sorted_by_x(s) for s in by_label.values()] for workload, by_label in out.items()}


def _sorted_by_x(s: Series) -> Series:
    pairs = sorted(zip(s.x, s.y, strict=True))
    return Series(s.label, [p[0] for p in pairs], [p[1] for p in pairs])


def _timings_of_one_kind(results: Sequence[CellResult]) -> list[CellResult]:
    """Results whose timings may share a plot: a simulator's timing (numba's CUDA simulator)
    says nothing about hardware, so simulated cells are plotted only when no real cell is
    there to be compared with (they stay in the table, labelled, either way)."""
    real = [r for r in results if not r.observed.simulated]
    return real if real else list(results)


def time_series(results: Sequence[CellResult], label: Labeller | None = None) -> dict[str, list[Series]]:
    """Median seconds per call vs size."""
    plotted = {id(r) for r in _timings_of_one_kind(results)}
    return _group(results, lambda r: r.median_s if id(r) in plotted else None, label)


def error_series(results: Sequence[CellResult], label: Labeller | None = None) -> dict[str, list[Series]]:
    """Accuracy error vs size."""
    return _group(results, lambda r: r.accuracy.error if r.accuracy else None, label)


def memory_series(results: Sequence[CellResult], label: Labeller | None = None) -> dict[str, list[Series]]:
    """Peak memory in bytes vs size, per workload, one series per implementation: the device's
    peak for a cell that ran on a GPU, the host's for a CPU cell. A cell whose peak was not
    observed (None) is left out rather than drawn as zero (the rule: ``CellResult.peak_memory_bytes``)."""
    return _group(results, lambda r: r.peak_memory_bytes, label)


def speedup_series(results: Sequence[CellResult], baseline: str | None, label: Labeller | None = None) -> dict[str, list[Series]]:
    """Speed-up of each series over ``baseline`` (a series label) at the same sizes; with no
    baseline, over the fastest series at each size (as the CLI table's speed-up column)."""
    out: dict[str, list[Series]] = {}
    for workload, series in time_series(results, label).items():
        base_at = _reference_times(series, baseline)
        if base_at is None:
            continue
        out[workload] = [
            Series(s.label, [x for x in s.x if x in base_at], [base_at[x] / y for x, y in zip(s.x, s.y, strict=True) if x in base_at and y > 0])
            for s in series
        ]
    return out


def _reference_times(series: Sequence[Series], baseline: str | None) -> dict[float, float] | None:
    """The reference median at each size: ``baseline``'s (None where it is not among the
    series), or the fastest there."""
    if baseline is None:
        best: dict[float, float] = {}
        for s in series:
            for x, y in zip(s.x, s.y, strict=True):
                best[x] = min(best.get(x, math.inf), y)
        return best
    base = next((s for s in series if s.label == baseline), None)
    return dict(zip(base.x, base.y, strict=True)) if base is not None else None


def _decade_ticks(lo: float, hi: float) -> list[float]:
    if lo <= 0 or hi <= 0:
        return []
    a, b = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    return [10.0**e for e in range(a, b + 1)]


def render(
    series: Sequence[Series],
    *,
    title: str = "",
    xlabel: str = "",
    ylabel: str = "",
    width: int = 80,
    height: int = 20,
    logx: bool = True,
    logy: bool = True,
    yfmt=fmt_number,
    colors: Sequence[str | tuple[int, int, int]] | None = None,
    color: bool = True,
    extra: Sequence[Series] = (),
    legend: bool = True,
    extra_color: str | tuple[int, int, int] = "gray",
    indices: Sequence[int] | None = None,
) -> str:
    """A line chart as text (ANSI colours unless ``color`` is False). ``extra`` series are
    drawn as reference lines (e.g. the expected 1/sqrt(n) error of a pi estimate).
    ``colors`` may hold plotext names or RGB tuples (the app passes its theme's colours);
    ``legend=False`` leaves the legend to the caller (the app draws its own, numbered;
    :func:`legend_line` is the CLI's). ``indices``: each series' fixed position, which picks
    its marker without colour (default: its place in ``series``)."""
    import plotext as plt

    _new_figure(plt, width, height)
    drawable = _drawable([*series, *extra], logx, logy)
    if not drawable:
        return "(no data to plot yet)"
    if logx:
        plt.xscale("log")
    if logy:
        plt.yscale("log")
    for s in extra:  # reference lines first, so the data is drawn over them
        if s in drawable:
            plt.plot(s.x, s.y, label=s.label if legend else None, marker=REFERENCE_MARKER, color=extra_color)
    positions = list(indices) if indices is not None else list(range(len(series)))
    _plot_series(plt, [(i, s) for i, s in zip(positions, series, strict=True) if s in drawable],
                 list(colors or PLOTEXT_COLORS), color, legend)
    _log_ticks(plt, drawable, logx, logy, yfmt)
    _labels(plt, title, xlabel, ylabel)
    return _built(plt, color)


def _new_figure(plt, width: int, height: int) -> None:
    """plotext keeps one global figure: every chart starts from a cleared one (module docstring)."""
    plt.clear_figure()
    plt.plotsize(max(20, width), max(8, height))


def _drawable(series: Sequence[Series], logx: bool, logy: bool) -> list[Series]:
    """The series with points that the axes can show (a log axis takes no value <= 0)."""
    return [s for s in series if s.x and all(v > 0 for v in s.y if logy) and all(v > 0 for v in s.x if logx)]


def _plot_series(plt, series: Sequence[tuple[int, Series]], palette: Sequence[str | tuple[int, int, int]],
                 color: bool, legend: bool) -> None:
    for i, s in series:
        # Without colour (NO_COLOR, a pipe) the marker is the only thing telling series apart.
        marker = series_marker(i, color) if not color or len(s.x) > 1 else "o"
        plt.plot(s.x, s.y, label=s.label if legend else None, marker=marker, color=palette[i % len(palette)])


def _log_ticks(plt, drawable: Sequence[Series], logx: bool, logy: bool, yfmt: Callable[[float], str]) -> None:
    """Sizes as ticks on a log x axis; decades inside the data on a log y axis."""
    xs = sorted({x for s in drawable for x in s.x})
    ys = [y for s in drawable for y in s.y]
    if logx and xs:
        plt.xticks(xs, [fmt_size(x) for x in xs])
    if logy and ys:
        ticks = _y_ticks(min(ys), max(ys))
        if ticks:  # one tick too: plotext's own log ticks are raw numbers, upside down
            plt.yticks(ticks, [yfmt(t) for t in ticks])


def _y_ticks(lo: float, hi: float) -> list[float]:
    """Only decades inside the data's range: a tick outside it is drawn over the title. Fewer
    than two decades inside: the range's own ends (one value: that value alone)."""
    ticks = [t for t in _decade_ticks(lo, hi) if lo * (1 - 1e-9) <= t <= hi * (1 + 1e-9)]
    if len(ticks) < 2:
        ticks = sorted({lo, *ticks, hi})
    return ticks


def _labels(plt, title: str, xlabel: str = "", ylabel: str = "") -> None:
    if title:
        plt.title(title)
    if xlabel:
        plt.xlabel(xlabel)
    if ylabel:
        plt.ylabel(ylabel)


def _built(plt, color: bool) -> str:
    """The figure as text: ANSI colours, or none at all (NO_COLOR, a pipe)."""
    plt.theme("pro" if color else "clear")
    text = str(plt.build())
    return text if color else plt.uncolorize(text)


def legend_line(series: Sequence[Series], extra: Sequence[Series] = (), *, color: bool = True,
                colors: Sequence[str] | None = None) -> str:
    """The legend as one line under a chart (``• numpy  + python  · expected``), each entry
    with the marker its series is drawn with, coloured like it when ``color``: a legend box
    inside the chart covers the data at its top left once there are many series."""
    import plotext as plt

    palette = list(colors or PLOTEXT_COLORS)
    entries = []
    for i, s in enumerate(series):
        marker = series_marker(i, color)
        entries.append((plt.colorize(marker, palette[i % len(palette)]) if color else marker) + " " + s.label)
    entries += [f"{REFERENCE_MARKER} {s.label}" for s in extra]
    return "  ".join(entries)


def bar_legend_line(bars: Sequence[Series], *, color: bool = True, colors: Sequence[str] | None = None) -> str:
    """The bars' legend as one line under a chart (``█ compile  ▒ worker start-up``), each
    entry with its bar's fill, coloured like it when ``color``."""
    import plotext as plt

    palette = list(colors or BAR_COLORS)
    entries = []
    for i, b in enumerate(bars):
        marker = BAR_MARKERS[i % len(BAR_MARKERS)]
        entries.append((plt.colorize(marker, palette[i % len(palette)]) if color else marker) + " " + b.label)
    return "  ".join(entries)


def loggable(series: Sequence[Series], logx: bool = True, logy: bool = True) -> tuple[list[Series], int]:
    """The series with the points a log axis cannot show (<= 0, nan, inf) left out, and how
    many were left out, so one exact (zero-error) point does not hide a whole series."""
    out: list[Series] = []
    dropped = 0
    for s in series:
        keep = [
            (x, y) for x, y in zip(s.x, s.y, strict=True)
            if math.isfinite(x) and math.isfinite(y) and (x > 0 or not logx) and (y > 0 or not logy)
        ]
        dropped += len(s.x) - len(keep)
        out.append(Series(s.label, [p[0] for p in keep], [p[1] for p in keep]))
    return out, dropped


def render_log_bars(
    groups: Sequence[str],
    bars: Sequence[Series],
    *,
    title: str = "",
    width: int = 80,
    height: int = 20,
    xfmt=fmt_seconds,
    colors: Sequence[str | tuple[int, int, int]] | None = None,
    color: bool = True,
    legend: bool = True,
) -> str:
    """Horizontal grouped bars on a log axis (plotext bars cannot take a log scale, so the
    values are drawn as decades above the smallest and the ticks relabelled). ``bars`` holds
    one Series per bar kind (e.g. compile, steady) whose ``y`` has one value per group;
    None or <= 0 draws no bar."""
    import plotext as plt

    _new_figure(plt, width, height)
    values = [v for b in bars for v in b.y if v is not None and v > 0 and math.isfinite(v)]
    if not groups or not values:
        return "(no data to plot yet)"
    lo = math.floor(math.log10(min(values)))
    hi = max(lo + 1, math.ceil(math.log10(max(values))))
    lifted = [[math.log10(v) - lo + 0.05 if v is not None and v > 0 and math.isfinite(v) else 0.0 for v in b.y]
              for b in bars]
    palette = list(colors or BAR_COLORS)
    plt.multiple_bar(list(groups), lifted, labels=[b.label for b in bars] if legend else None,
                     color=[palette[i % len(palette)] for i in range(len(bars))], orientation="horizontal", width=0.8,
                     marker=[BAR_MARKERS[i % len(BAR_MARKERS)] for i in range(len(bars))])
    decades = list(range(0, hi - lo + 1))
    plt.xticks(decades, [xfmt(10.0 ** (lo + d)) for d in decades])
    plt.xlim(0, hi - lo)
    _labels(plt, title)
    return _built(plt, color)


@dataclass
class RatioSeries(Series):
    """Ratios over size, each with its interval (``low``/``high``; None where there is none)."""

    low: list[float | None] = field(default_factory=list)
    high: list[float | None] = field(default_factory=list)


def render_ratios(
    series: Sequence[RatioSeries],
    *,
    title: str = "",
    width: int = 80,
    height: int = 20,
    colors: Sequence[str | tuple[int, int, int]] | None = None,
    color: bool = True,
    indices: Sequence[int] | None = None,
    reference_color: str | tuple[int, int, int] = "gray",
) -> str:
    """Ratios (B/A) against size on log-log axes: each series a line through its ratios with
    its interval drawn as a vertical bar at each size, and a reference line at 1 (no change).
    ``colors`` and ``indices`` as for :func:`render`."""
    import plotext as plt

    _new_figure(plt, width, height)
    drawable = [s for s in series if s.x and all(v > 0 for v in s.y)]
    if not drawable:
        return "(no ratio to plot)"
    plt.xscale("log")
    plt.yscale("log")
    xs = sorted({x for s in drawable for x in s.x})
    plt.plot([xs[0], xs[-1]] if len(xs) > 1 else xs, [1.0] * min(2, len(xs)), marker=REFERENCE_MARKER,
             color=reference_color)
    palette = list(colors or PLOTEXT_COLORS)
    positions = list(indices) if indices is not None else list(range(len(series)))
    bounds: list[float] = []
    for i, s in zip(positions, series, strict=True):
        if s not in drawable:
            continue
        for x, low, high in zip(s.x, s.low, s.high, strict=True):
            if low is not None and high is not None and low > 0:
                plt.plot([x, x], [low, high], marker="│", color=palette[i % len(palette)])
                bounds += [low, high]
    _plot_series(plt, [(i, s) for i, s in zip(positions, series, strict=True) if s in drawable], palette, color, False)
    _log_ticks(plt, [*drawable, Series("", [xs[0]] * (len(bounds) + 1), [*bounds, 1.0])], True, True,
               lambda v: f"{v:.3g}x")
    _labels(plt, title, "size", "B/A")
    return _built(plt, color)
