"""Run: the live grid, overall progress with an ETA, plots that grow, and cancel.

The app drives the run in a thread and applies each engine event to the job's progress
(:meth:`JitscopeApp.on_run_event`); this screen hears of each through the session's
``run_updated`` signal to write its log, and redraws the grid, the progress line and the
plot from the progress 4 times a second, so it stays responsive however fast events come.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.content import Content
from textual.widget import Widget
from textual.widgets import DataTable, ProgressBar, RichLog, Static

from jitscope.core.labels import cell_label, phase_word
from jitscope.core.model import Status, axis_text
from jitscope.core.text import printable
from jitscope.core.units import fmt_number, fmt_seconds, fmt_size
from jitscope.plotkinds import DEFAULT_KIND, kind_named, kind_words, next_kind
from jitscope.runner import events as ev
from jitscope.ui import STYLES
from jitscope.ui.keys import next_in_cycle
from jitscope.ui.messages import RunEvent
from jitscope.ui.shared_state import SessionScreen
from jitscope.ui.state import (
    ExpectedError,
    ResultSet,
    RunEnded,
    RunRef,
    fmt_duration,
    fmt_eta,
    observed_details,
)
from jitscope.ui.widgets.footer import FitFooter
from jitscope.ui.widgets.grid import CellGrid, tone_style
from jitscope.ui.widgets.modebar import ModeBar
from jitscope.ui.widgets.plot import Chart

if TYPE_CHECKING:
    from jitscope.ui.job import RunJob

REDRAW_INTERVAL_S = 0.25  # the grid, progress and plot redraw at most 4 times a second


class RunScreen(SessionScreen):
    CSS_PATH = STYLES / "run.tcss"  # loaded when the screen is first shown, not for the first frame
    BINDINGS = [
        Binding("r", "app.run", "Run", tooltip="Run the selection from the Setup screen"),
        Binding("p", "next_plot", "Plot", tooltip=f"Cycle the plot: {kind_words()}"),
        Binding("w", "next_workload", "Workload", tooltip="Cycle the workload the plot shows"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.job: RunJob | None = None  # the run on show (the session's latest)
        self.plot_kind = DEFAULT_KIND.name
        self.plot_workload: str | None = None  # None: follow the running cell
        self.plotted_workload: str | None = None
        self.plot_dirty = False
        self.started: set[str] = set()  # backends whose worker start-up is in the log
        self.announced = False  # the run's id is in the log

    def compose(self) -> ComposeResult:
        yield ModeBar("run")
        with Horizontal(id="run-top"):
            yield ProgressBar(total=1, show_eta=False, id="run-progress")
            yield Static("no run yet: set it up (s), then press r", id="run-line")
        yield CellGrid(id="grid")
        yield Static("", id="cell-detail")
        yield Chart(id="run-chart")
        yield RichLog(id="run-log", markup=False, wrap=True, max_lines=500)
        yield FitFooter(show_command_palette=False)

    def on_mount(self) -> None:
        self._timer = self.set_interval(REDRAW_INTERVAL_S, self._tick, pause=True)
        self.session.run_updated.subscribe(self, self._run_updated)

    def on_screen_resume(self) -> None:
        job = self.session.job
        if job is not None and job is not self.job:
            self._show(job)

    # ---- a new run ----------------------------------------------------------------------------
    def _show(self, job: RunJob) -> None:
        self.job = job
        progress = job.progress
        self.plot_workload = None
        self.plotted_workload = None
        self.started.clear()
        self.announced = False
        registry = self.session.registry
        grid = self.query_one(CellGrid)
        grid.load(progress, {name: w.size_label for name, w in registry.workloads.items()} if registry else {})
        grid.move_to(0)
        grid.focus()
        log = self.query_one(RichLog)
        log.clear()
        sel = job.request.selection
        implementations = ", ".join(dict.fromkeys(cell_label(c) for c in progress.cells))
        log.write(_styled(self, f"{len(progress.cells)} cells: {', '.join(sel.workloads)} on {implementations} "
                                f"({axis_text(sel.device)}, {axis_text(sel.dtype)}, budget {sel.budget_s:g} s)", "foreground"))
        self.plot_dirty = True
        self._tick()
        if not job.finished:
            self._timer.resume()

    # ---- events of the run, already applied to its progress by the app ------------------------
    def _run_updated(self, message: RunEvent) -> None:
        if message.job is not self.job:
            if message.job is not self.session.job:
                return
            self._show(message.job)
        if message.run_id is not None and not self.announced:
            self.announced = True
            self._log(f"run #{message.run_id}: each finished cell is saved to {self.session.db_path.name} "
                      "(h: history)", "foreground")
        event = message.event
        if isinstance(event, ev.CellFinished):
            self.plot_dirty = True
            self._cell_finished(event)
        elif isinstance(event, ev.WorkerReady):
            self._worker_ready(event)
        elif isinstance(event, ev.RunWaited):
            self._log(event.message, "warning")
        elif isinstance(event, RunEnded):
            self._run_ended(event)

    def _log(self, text: str, tone: str) -> None:
        self.query_one(RichLog).write(_styled(self, text, tone))

    def _cell_finished(self, event: ev.CellFinished) -> None:
        r = event.result
        if r.status == Status.CANCELLED:  # the run's summary line counts these
            return
        if r.status != Status.OK or (r.accuracy is not None and not r.accuracy.accurate):
            s = r.spec
            what = r.status.value if r.status != Status.OK else "inaccurate"
            why = r.reason or (r.accuracy.detail if r.accuracy else "")
            line = f"{s.workload} {cell_label(s)} {fmt_size(s.size)}: {what}" + (f": {why}" if why else "")
            self._log(line, "warning" if r.status in (Status.SKIPPED, Status.OK) else "error")

    def _worker_ready(self, event: ev.WorkerReady) -> None:
        """The worker's hello: its version, and its start-up the first time for a backend
        (measured once by the worker; no cell's compile time holds it)."""
        version = event.info.get("version", "?")
        line = f"worker ready: {event.backend} {version} on {event.device}" + (
            f" with {event.threads} threads" if event.threads else "")
        startup = event.info.get("startup_s")
        if isinstance(startup, (int, float)) and event.backend not in self.started:
            self.started.add(event.backend)
            line += f" · {event.backend} start-up {fmt_seconds(float(startup))}"
        self._log(line, "muted")

    def _run_ended(self, end: RunEnded) -> None:
        self._timer.pause()
        self.plot_dirty = True
        self._tick()
        if self.job is None:
            return
        progress = self.job.progress
        summary = ", ".join(f"{n} {k}" for k, n in progress.counts().items()) or "nothing finished"
        if end.error:
            self._log(f"run stopped: {end.error}", "error")
        else:
            self._log(f"{'cancelled' if end.cancelled else 'finished'}: {summary}", "foreground")

    # ---- drawing --------------------------------------------------------------------------------
    def _tick(self) -> None:
        job = self.job
        if job is None:
            return
        progress = job.progress
        grid = self.query_one(CellGrid)
        grid.sync()
        current = progress.current
        if grid.following and current is not None:
            grid.move_to(progress.states.index(current))
        bar = self.query_one(ProgressBar)
        bar.update(total=max(1, progress.total), progress=progress.fraction * max(1, progress.total))
        if progress.finished:
            state = "cancelled" if progress.cancelled else "done"
            counts = ", ".join(f"{n} {k}" for k, n in progress.counts().items())
            line = f"{state} in {fmt_duration(progress.elapsed())}: {counts or 'no cells'}"
        elif job.cancel_requested:
            line = f"cancelling: the worker is stopped, finished cells are kept ({progress.done}/{progress.total})"
        else:
            doing = ""
            if current is not None:
                s = current.spec
                doing = f" · {cell_label(s)} {s.workload} {fmt_size(s.size)} {phase_word(current.phase)}"
            line = (f"{progress.done}/{progress.total} · {fmt_duration(progress.elapsed())} · "
                    f"{fmt_eta(progress.eta())}{doing}")
        self.query_one("#run-line", Static).update(Content(printable(line)))
        self._show_detail()
        if self.plot_dirty or (current is not None and self.plot_workload is None
                               and current.spec.workload != self.plotted_workload):
            self.plot_dirty = False
            self._draw_plot()

    def _expected(self, workload: str) -> ExpectedError | None:
        registry = self.session.registry
        w = registry.workloads.get(workload) if registry is not None else None
        return w.expected_error if w is not None else None

    def _draw_plot(self) -> None:
        job = self.job
        if job is None:
            return
        progress = job.progress
        workloads = list(dict.fromkeys(s.spec.workload for s in progress.states))
        workload = self.plot_workload
        if workload is None:
            current = progress.current
            workload = current.spec.workload if current is not None else workloads[-1] if workloads else None
        if workload is None:
            return
        self.plotted_workload = workload
        view = ResultSet.single(progress.results(), RunRef(None, ""))
        labels = list(dict.fromkeys(cell_label(s.spec) for s in progress.states if s.spec.workload == workload))
        data = view.plot(self.plot_kind, workload, labels[0] if labels else None, self._expected(workload))
        self.query_one(Chart).draw(data, labels, set(), f"{workload}: {kind_named(self.plot_kind).title}",
                                   f"{workload}: the plot grows as cells finish")

    def _show_detail(self) -> None:
        state = self.query_one(CellGrid).state_at_cursor()
        detail = self.query_one("#cell-detail", Static)
        if state is None:
            detail.update("")
            return
        s = state.spec
        head = f"{s.workload} {cell_label(s)} {fmt_size(s.size)} {s.dtype}: "
        r = state.result
        if r is None:
            detail.update(_styled(self, head + state.word, state.tone))
            return
        body = state.word
        if r.status == Status.OK:
            parts = [f"median {body}"]
            if r.accuracy is not None:
                parts.append(f"error {fmt_number(r.accuracy.error)} ({'ok' if r.accuracy.accurate else 'NOT accurate'})")
            parts.append(observed_details(r))
            body = " · ".join(parts)
        elif r.reason:
            body = f"{body}: {r.reason}"
        detail.update(_styled(self, head + body, state.tone))

    @on(DataTable.CellSelected)
    async def _cell_selected(self) -> None:
        await self.action_results()

    @on(DataTable.CellHighlighted)
    def _cursor_moved(self) -> None:
        self._show_detail()

    # ---- keys -------------------------------------------------------------------------------------
    async def action_results(self) -> None:
        if self.session.view is None:
            self.notify("No results yet", severity="warning")
            return
        await self.app.switch_mode("results")

    def action_next_plot(self) -> None:
        self.plot_kind = next_kind(self.plot_kind)
        self._draw_plot()

    def action_next_workload(self) -> None:
        if self.job is None:
            return
        workloads = list(dict.fromkeys(s.spec.workload for s in self.job.progress.states))
        self.plot_workload = next_in_cycle(workloads, self.plot_workload or self.plotted_workload)
        self._draw_plot()


def _styled(widget: Widget, text: str, tone: str) -> Text:
    """Text (never markup) without terminal control characters: lines quote workers' errors."""
    return Text(printable(text), style=tone_style(widget, tone))
