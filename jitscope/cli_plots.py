"""The plots under the table of ``jitscope run`` and ``jitscope show``: one chart per workload
of the kind ``--plot KIND`` names (declared in :mod:`jitscope.plotkinds`, as the app's), each
with its legend as one line under it (a legend box inside the chart covers the data)."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.text import Text

from jitscope.core.model import CellResult
from jitscope.core.registry import Registry
from jitscope.core.text import printable
from jitscope.plotkinds import Y_FORMATS, ExpectedError, PlotData, PlotInputs, PlotKind
from jitscope.plots import (
    bar_legend_line,
    legend_line,
    loggable,
    render,
    render_log_bars,
    series_label,
    varying,
)

HEIGHT = 18


def print_plots(console: Console, results: Sequence[CellResult], kind: PlotKind, baseline: str | None,
                registry: Registry | None = None) -> None:
    """One chart per workload, in the order the workloads ran. ``baseline``: the speed-up
    reference (None: the fastest at each size, as the table's column); ``registry``: where
    the workloads' expected-error models come from (None: no reference line)."""
    axes = varying(results)

    def label(r: CellResult) -> str:
        return series_label(r, **axes)

    for workload in dict.fromkeys(r.spec.workload for r in results):
        cells = [r for r in results if r.spec.workload == workload]
        labels = list(dict.fromkeys(label(r) for r in cells))
        data = kind.data(PlotInputs(cells, workload, label, labels, baseline, _expected(registry, workload)))
        _print_chart(console, data, printable(f"{workload}: {kind.cli_title}"))


def _expected(registry: Registry | None, workload: str) -> ExpectedError | None:
    w = registry.workloads.get(workload) if registry is not None else None
    return w.expected_error if w is not None else None


def _print_chart(console: Console, data: PlotData, title: str) -> None:
    """The chart and its legend line; the kind's note alone (``no peak memory observed``)
    when it has nothing to draw, and nothing at all when it has no note either."""
    if data.groups is not None:
        _print_bars(console, data, title)
        return
    series, dropped = loggable(data.series)
    extra, _ = loggable(data.extra)
    if not any(s.x for s in series):
        _print_note(console, title, data.note)
        return
    width, color = _width(console), _color(console)
    chart = render(series, title=title, xlabel=data.xlabel, ylabel=data.ylabel, width=width, height=HEIGHT,
                   yfmt=Y_FORMATS[data.yunit], color=color, extra=extra, legend=False)
    console.print(Text.from_ansi(chart))
    console.print(Text.from_ansi(legend_line(series, extra, color=color)), soft_wrap=False)
    if dropped:
        console.print(Text(f"{dropped} point(s) <= 0 not drawn", style="dim"))


def _print_bars(console: Console, data: PlotData, title: str) -> None:
    if not data.groups:
        _print_note(console, title, data.note)
        return
    color = _color(console)
    chart = render_log_bars(data.group_names(), data.bars, title=title + (f" ({data.note})" if data.note else ""),
                            width=_width(console), height=HEIGHT, xfmt=Y_FORMATS[data.yunit], color=color,
                            legend=False)
    console.print(Text.from_ansi(chart))
    console.print(Text.from_ansi(bar_legend_line(data.bars, color=color)), soft_wrap=False)


def _print_note(console: Console, title: str, note: str) -> None:
    if note:
        console.print(Text(f"{title}: {note}", style="dim"))


def _width(console: Console) -> int:
    return min(max(console.width, 40), 120)


def _color(console: Console) -> bool:
    return console.is_terminal and not console.no_color
