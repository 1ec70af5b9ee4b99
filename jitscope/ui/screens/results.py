"""Results: the table (median, IQR, compile, peak memory, error, speed-up vs a baseline) and
the plots (time, accuracy, speed-up, compile vs steady state, peak memory vs size).
Single keys switch the plot (p), the workload (w), the baseline (b) and which series are
shown (1-9, 0 for all); m zooms the plot to the whole screen."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.widgets import DataTable, Static

from jitscope.core.columns import APP_TABLE, headers
from jitscope.core.model import Status
from jitscope.core.text import printable
from jitscope.core.units import fmt_number, fmt_size
from jitscope.plotkinds import DEFAULT_KIND, kind_named, kind_words, next_kind
from jitscope.ui import STYLES
from jitscope.ui.keys import next_in_cycle
from jitscope.ui.shared_state import SessionScreen
from jitscope.ui.state import (
    ExpectedError,
    ResultSet,
    observed_details,
    results_table_row,
)
from jitscope.ui.widgets.footer import FitFooter
from jitscope.ui.widgets.grid import tone_style
from jitscope.ui.widgets.modebar import ModeBar
from jitscope.ui.widgets.plot import Chart

# The app's view of the result columns (jitscope.core.columns): the answer first (what ran, its
# median, speed-up and error ✓/✗: what fits 60 columns), the details after.
COLUMNS = headers(APP_TABLE)
_STATUS, _ERROR, _REASON = COLUMNS.index("status"), COLUMNS.index("error"), COLUMNS.index("reason")
REASON_WIDTH = 48


class ResultsScreen(SessionScreen):
    CSS_PATH = STYLES / "results.tcss"  # loaded when the screen is first shown, not for the first frame
    BINDINGS = [
        Binding("p", "next_plot", "Plot", tooltip=f"Cycle: {kind_words()}"),
        Binding("w", "next_workload", "Workload", tooltip="Cycle the workload the plot shows"),
        Binding("b", "next_baseline", "Baseline", tooltip="Cycle the speed-up baseline"),
        Binding("1", "toggle_series(0)", "Show", key_display="1-9", tooltip="Show/hide series 1-9 of the plot"),
        *[Binding(str(i + 1), f"toggle_series({i})", f"Show/hide series {i + 1}", show=False) for i in range(1, 9)],
        Binding("0", "show_all", "Show every series", show=False),
        Binding("m", "zoom", "Zoom", tooltip="Plot on the whole screen (again: back)"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.view: ResultSet | None = None
        self.kind = DEFAULT_KIND.name
        self.workload: str | None = None
        self.baseline: str | None = None
        self.hidden: set[str] = set()

    def compose(self) -> ComposeResult:
        yield ModeBar("results")
        yield Static("no results yet: run a sweep (r) or open one from History (h)", id="results-info")
        yield DataTable(id="results-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="results-detail")
        yield Chart(id="results-chart")
        yield FitFooter(show_command_palette=False)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for name in COLUMNS:
            table.add_column(name, key=name)
        self.app.theme_changed_signal.subscribe(self, lambda _t: self._fill_table())
        self.session.view_changed.subscribe(self, self.load)
        if self.session.view is not None:
            self.load(self.session.view)

    def load(self, view: ResultSet) -> None:
        """Show a run (or an overlay); keeps the plot kind, resets what depends on the data."""
        self.view = view
        workloads = view.workloads()
        if self.workload not in workloads:
            self.workload = workloads[0] if workloads else None
        labels = view.labels()
        if self.baseline not in labels:
            self.baseline = labels[0] if labels else None
        self.hidden &= set(labels)
        self._fill_table()
        self._draw()
        self.query_one(DataTable).focus()

    def on_screen_resume(self) -> None:
        """Arrows move in the table whenever Results comes up (from a run, History or a key)."""
        self.query_one(DataTable).focus()

    # ---- drawing ----------------------------------------------------------------------------------
    def _fill_table(self) -> None:
        table = self.query_one(DataTable)
        table.clear()
        view = self.view
        if view is None:
            return
        speedups = view.speedups(self.baseline)
        for n, ((ref, result), speedup) in enumerate(zip(view.items, speedups, strict=True)):
            row = results_table_row(result, speedup, view.label(ref, result))
            tone = {"ok": "success", "skipped": "warning", "cancelled": "warning"}.get(result.status.value, "error")
            cells: list[Any] = [Text(printable(v)) for v in row]
            cells[_STATUS] = Text(row[_STATUS], style=tone_style(self, tone))
            if result.accuracy is not None and not result.accuracy.accurate:
                cells[_ERROR] = Text(row[_ERROR], style=tone_style(self, "warning", bold=True))
            if row[_REASON]:
                text = row[_REASON]
                reason = text if len(text) <= REASON_WIDTH else text[: REASON_WIDTH - 1] + "…"
                cells[_REASON] = Text(printable(reason), style=tone_style(self, tone))
            table.add_row(*cells, key=str(n))
        self._info()

    def _info(self) -> None:
        view = self.view
        if view is None:
            return
        counts: dict[str, int] = {}
        for r in view.results:
            counts[r.status.value] = counts.get(r.status.value, 0) + 1
        runs = " vs ".join(ref.tag for ref in view.runs) if view.overlay else view.title
        text = f"{runs} · {len(view.items)} cells: " + ", ".join(f"{n} {k}" for k, n in counts.items())
        text += f" · baseline {self.baseline}" if self.baseline else ""
        self.query_one("#results-info", Static).update(Content(printable(text)))

    def _draw(self) -> None:
        view = self.view
        chart = self.query_one(Chart)
        if view is None or self.workload is None:
            return
        labels = view.labels(self.workload)
        data = view.plot(self.kind, self.workload, self.baseline, self._expected(self.workload))
        chart.draw(data, labels, self.hidden, f"{self.workload}: {kind_named(self.kind).title}",
                   f"{self.workload}: nothing measured to plot")

    def _expected(self, workload: str) -> ExpectedError | None:
        registry = self.session.registry
        w = registry.workloads.get(workload) if registry is not None else None
        return w.expected_error if w is not None else None

    @on(DataTable.RowHighlighted)
    def _row(self, event: DataTable.RowHighlighted) -> None:
        if self.view is None or event.row_key.value is None:
            return
        ref, r = self.view.items[int(event.row_key.value)]
        s = r.spec
        parts = [f"{self.view.label(ref, r)} {s.workload} n={fmt_size(s.size)} {s.dtype}: {r.status.value}"]
        if r.reason:
            parts.append(r.reason)
        if r.stats is not None:
            parts.append(f"{r.stats.samples}x{r.stats.loops} samples" + (" (unstable)" if r.stats.unstable else ""))
        if r.accuracy is not None:
            parts.append(f"{r.accuracy.metric} {fmt_number(r.accuracy.error)} (tol {fmt_number(r.accuracy.tolerance)})")
        if r.gflops:
            parts.append(f"{r.gflops:.3g} GFLOP/s")
        parts.append(observed_details(r))
        tone = "success" if r.status == Status.OK else "error" if not r.status.is_success else "warning"
        self.query_one("#results-detail", Static).update(Text(printable(" · ".join(parts)), style=tone_style(self, tone)))

    # ---- keys ---------------------------------------------------------------------------------------
    def action_next_plot(self) -> None:
        self.kind = next_kind(self.kind)
        self._draw()

    def action_next_workload(self) -> None:
        if self.view is None:
            return
        self.workload = next_in_cycle(self.view.workloads(), self.workload)
        self._draw()

    def action_next_baseline(self) -> None:
        if self.view is None:
            return
        self.baseline = next_in_cycle(self.view.labels(), self.baseline)
        self.notify(f"baseline: {self.baseline}", timeout=2)
        self._fill_table()
        self._draw()

    def action_toggle_series(self, index: int) -> None:
        if self.view is None or self.workload is None:
            return
        labels = self.view.labels(self.workload)
        if index >= len(labels):
            return
        self.hidden ^= {labels[index]}
        self._draw()

    def action_show_all(self) -> None:
        self.hidden.clear()
        self._draw()

    def action_zoom(self) -> None:
        if self.maximized is not None:
            self.minimize()
        else:
            self.maximize(self.query_one(Chart), container=False)
