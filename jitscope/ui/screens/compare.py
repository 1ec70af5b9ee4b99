"""Compare: two runs from History, cell by cell, as ``jitscope compare A B`` shows them (the
same columns and words: results.compare builds the rows for both), with the answer first (the
verdict, by symbol as well as colour), and a plot of the ratio B/A with its interval per size.

The comparison is computed before this screen opens (History does it in a thread worker, as it
does every store read); the screen only draws it.
"""

from __future__ import annotations

import math
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult, RenderResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import DataTable, Static

from jitscope.core.labels import impl_label
from jitscope.core.text import printable
from jitscope.plots import REFERENCE_MARKER, RatioSeries, render_ratios, series_marker
from jitscope.results.compare import (
    VALUE_COLUMNS,
    VERDICT_TONE,
    CellKey,
    Comparison,
    key_value,
    table_columns,
    table_rows,
    varying_extras,
    verdict_counts,
)
from jitscope.ui import STYLES
from jitscope.ui.widgets.footer import FitFooter
from jitscope.ui.widgets.grid import tone_style
from jitscope.ui.widgets.modebar import ModeBar
from jitscope.ui.widgets.plot import muted_rgb, theme_palette


def app_columns(comparison: Comparison) -> list[str]:
    """The CLI's columns with the answer first, so 60-80 columns show the verdict and the ratio
    without scrolling: verdict, what was compared, B/A, its interval, p, then the medians."""
    cli = table_columns(comparison)
    keys = [c for c in cli if c not in VALUE_COLUMNS]
    return ["verdict", *keys, "B/A", "95% CI", "p", "A", "B"]


def ratio_series(comparison: Comparison) -> list[RatioSeries]:
    """One series per workload x backend (and whatever else varies but size): the ratio at each
    size with its interval. Pairs without a ratio (one side only, no median) are not drawn."""
    extras = varying_extras(comparison)
    series: dict[str, RatioSeries] = {}
    for pair in comparison.pairs:
        change, key = pair.change, pair.key
        if change is None or not math.isfinite(change.ratio) or change.ratio <= 0:
            continue
        label = " ".join([key.workload, impl_label(key.backend, key.variant), *_extras_label(key, extras)])
        s = series.setdefault(label, RatioSeries(label))
        s.x.append(float(key.size))
        s.y.append(change.ratio)
        s.low.append(change.ci_low)
        s.high.append(change.ci_high)
    for s in series.values():
        order = sorted(range(len(s.x)), key=s.x.__getitem__)
        s.x, s.y = [s.x[i] for i in order], [s.y[i] for i in order]
        s.low, s.high = [s.low[i] for i in order], [s.high[i] for i in order]
    return list(series.values())


def _extras_label(key: CellKey, extras: list[str]) -> list[str]:
    """``float32``, ``cuda``, ``threads=2``, ``epochs=5``: what tells a series apart beyond its
    workload and backend (a bare thread count would read as a number of something else)."""
    words = [key_value(key, c) for c in extras]
    return [f"threads={w}" if c == "threads" else w for c, w in zip(extras, words, strict=True) if w]


class RatioPlot(Widget):
    """The ratio B/A against size, each series with its interval, and a line at 1 (no change);
    drawn by jitscope.plots in the theme's colours, again on every resize or theme switch."""

    DEFAULT_CSS = """
    RatioPlot { height: 1fr; min-height: 6; color: $foreground; }
    """

    def __init__(self, series: list[RatioSeries], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.series = series

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self.refresh())

    def render(self) -> RenderResult:
        width, height = self.content_size
        if width < 10 or height < 4:
            return Text("")
        color = not self.app.no_color
        text = render_ratios(self.series, width=width, height=height, colors=theme_palette(self), color=color,
                             reference_color=muted_rgb(self))
        return Text.from_ansi(text, no_wrap=True) if color else Text(text, no_wrap=True)


class CompareScreen(Screen[None]):
    """Pushed over History; escape goes back to it."""

    CSS_PATH = STYLES / "compare.tcss"
    BINDINGS = [
        Binding("escape", "back", "Back", tooltip="Back to History"),
        Binding("e", "export_hint", "Export", show=False,
                tooltip="How to export this comparison (jitscope compare A B --csv/--json/--md)"),
    ]

    def __init__(self, comparison: Comparison, names: tuple[str, str]) -> None:
        super().__init__()
        self.comparison = comparison
        self.names = names  # what History calls A and B ("run #3 laptop")
        self.rows = table_rows(comparison)
        self.columns = app_columns(comparison)

    def compose(self) -> ComposeResult:
        yield ModeBar("history")
        yield Static(self._title(), id="compare-title")
        yield DataTable(id="compare-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="compare-detail")
        yield Static("", id="compare-legend")
        yield RatioPlot(ratio_series(self.comparison), id="compare-plot")
        yield FitFooter(show_command_palette=False)

    def _title(self) -> Text:
        """Which run is A and which B, then the verdicts counted (each line cut, never wrapped:
        the table keeps its room)."""
        c = self.comparison
        return Text(printable(f"A = {self.names[0]} (older), B = {self.names[1]} (newer); B/A > 1: B slower")
                    + "\n" + printable(f"{verdict_counts(c)} (a verdict needs p < 0.05, the 95% CI excluding 1 "
                                        f"and a change above {c.options.threshold:.0%})"),
                    no_wrap=True, overflow="ellipsis")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for name in self.columns:
            table.add_column(name, key=name)
        self._fill_table()
        self._show_legend()
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self._restyle())
        table.focus()
        self._show_detail()

    def _restyle(self) -> None:
        self._fill_table()
        self._show_legend()

    def _fill_table(self) -> None:
        table = self.query_one(DataTable)
        row_at = table.cursor_row
        table.clear()
        for row in self.rows:
            cells: list[Any] = [Text(printable(row.values[c])) for c in self.columns]
            tone = VERDICT_TONE.get(row.verdict)
            if tone:
                cells[0] = Text(row.values["verdict"], style=tone_style(self, tone, bold=tone == "error"))
            table.add_row(*cells)
        if self.rows:
            table.move_cursor(row=min(max(row_at, 0), len(self.rows) - 1), animate=False)

    def _show_legend(self) -> None:
        """Each series' colour (or, without colour, its marker), the line at 1 and the bars."""
        palette = theme_palette(self)
        no_color = self.app.no_color
        text = Text(no_wrap=False, overflow="fold")
        for i, s in enumerate(self.query_one(RatioPlot).series):
            marker = series_marker(i, color=False) if no_color else "●"
            text.append(f"{marker} ", style="" if no_color else "rgb({},{},{})".format(*palette[i % len(palette)]))
            text.append(printable(s.label) + "  ")
        text.append(f"{REFERENCE_MARKER * 3} no change (1)  │ 95% CI", style="dim")
        self.query_one("#compare-legend", Static).update(text)

    @on(DataTable.RowHighlighted)
    def _show_detail(self) -> None:
        table = self.query_one(DataTable)
        if not self.rows or not 0 <= table.cursor_row < len(self.rows):
            return
        row = self.rows[table.cursor_row]
        medians = f" · A {row.values['A'] or '-'}, B {row.values['B'] or '-'}"
        text = row.pair.key.title + medians + (f" · {row.note}" if row.note else "")
        self.query_one("#compare-detail", Static).update(Text(printable(text)))

    def action_back(self) -> None:
        self.dismiss(None)

    def action_export_hint(self) -> None:
        a, b = (label.removeprefix("run ") for label in (self.comparison.a.label, self.comparison.b.label))
        self.notify(f"export this comparison with: jitscope compare {a} {b} --csv PATH (or --json, --md)")
