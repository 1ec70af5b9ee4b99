"""Run: the live grid, overall progress with an ETA, plots that grow, and cancel.

A thread worker iterates the runner's events (worker processes do the work) and posts
messages; handlers only update :class:`RunProgress`, and a 4 Hz timer redraws what changed,
so the UI stays responsive however fast events come.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.content import Content
from textual.screen import Screen
from textual.widgets import DataTable, Footer, ProgressBar, RichLog, Static

from jitscope.core.model import Status
from jitscope.core.text import printable
from jitscope.plots import fmt_size
from jitscope.runner import events as ev
from jitscope.ui import messages as msg
from jitscope.ui.screens.setup import RunRequest
from jitscope.ui.state import (
    PLOT_KINDS,
    PLOT_TITLES,
    ResultSet,
    RunProgress,
    RunRef,
    fmt_duration,
    fmt_time,
    observed_summary,
)
from jitscope.ui.widgets.grid import CellGrid, spec_label, tone_style
from jitscope.ui.widgets.modebar import ModeBar
from jitscope.ui.widgets.plot import Chart

REDRAW_INTERVAL_S = 0.25  # the grid, progress and plot redraw at most 4 times a second
PROGRESS_MIN_INTERVAL_S = 0.1  # per cell, same-phase progress is forwarded at most 10/s


class RunJob:
    """One run in flight: the request, its progress, and a cancel that works at any moment."""

    def __init__(self, request: RunRequest, progress: RunProgress) -> None:
        self.request = request
        self.progress = progress
        self.runner: Any = None
        self.cancel_requested = False
        self.interrupted = False  # stopped by a signal / a closed terminal, not by the user
        self.done = threading.Event()
        self._lock = threading.Lock()

    def attach(self, runner: Any) -> bool:
        """Remember the runner; True if a cancel came in before it existed."""
        with self._lock:
            self.runner = runner
            return self.cancel_requested

    def cancel(self, *, interrupted: bool = False) -> None:
        with self._lock:
            self.cancel_requested = True
            self.interrupted = self.interrupted or interrupted
            runner = self.runner
        if runner is not None:
            if self.interrupted:
                runner.cancel(interrupted=True)
            else:
                runner.cancel()


class RunScreen(Screen[None]):
    BINDINGS = [
        Binding("r", "app.run", "Run", tooltip="Run the selection from the Setup screen"),
        Binding("p", "next_plot", "Plot", tooltip="Cycle the plot: time, accuracy, speed-up, compile"),
        Binding("w", "next_workload", "Workload", tooltip="Cycle the workload the plot shows"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.job: RunJob | None = None
        self.plot_kind = "time"
        self.plot_workload: str | None = None  # None: follow the running cell
        self._plot_dirty = False
        self._plotted_done = -1

    def compose(self) -> ComposeResult:
        yield ModeBar("run")
        with Horizontal(id="run-top"):
            yield ProgressBar(total=1, show_eta=False, id="run-progress")
            yield Static("no run yet: set it up (s), then press r", id="run-line")
        yield CellGrid(id="grid")
        yield Static("", id="cell-detail")
        yield Chart(id="run-chart")
        yield RichLog(id="run-log", markup=False, wrap=True, max_lines=500)
        yield Footer(show_command_palette=False)

    def on_mount(self) -> None:
        self._timer = self.set_interval(REDRAW_INTERVAL_S, self._tick, pause=True)

    # ---- starting, cancelling --------------------------------------------------------------
    def start(self, request: RunRequest) -> None:
        app: Any = self.app
        progress = RunProgress(list(request.plan.cells), app.clock)
        self.job = RunJob(request, progress)
        app.running = True
        app.refresh_bindings()
        self.plot_workload = None
        self._plotted_done = -1
        grid = self.query_one(CellGrid)
        grid.load(progress)
        grid.move_to(0)
        grid.focus()
        log = self.query_one(RichLog)
        log.clear()
        sel = request.selection
        log.write(f"{len(progress.cells)} cells: {', '.join(sel.workloads)} on "
                  f"{', '.join(n if v is None else f'{n}:{v}' for n, v in sel.backends)} "
                  f"({sel.device}, {sel.dtype}, budget {sel.budget_s:g} s)")
        self._tick()
        self._timer.resume()
        self._drive(self.job)

    def on_unmount(self) -> None:
        # The app is closing (any way it can): never leave a worker process behind.
        if self.job is not None and not self.job.done.is_set():
            self.job.cancel()

    def cancel(self) -> None:
        if self.job is not None and not self.job.done.is_set():
            self.job.cancel()
            self.query_one(RichLog).write("cancelling: the worker is stopped, finished cells are kept")

    async def stop_and_wait(self, timeout_s: float = 10.0) -> None:
        job = self.job
        if job is None:
            return
        job.cancel()
        await asyncio.to_thread(job.done.wait, timeout_s)

    @work(thread=True, group="run", exit_on_error=False)
    def _drive(self, job: RunJob) -> None:
        app: Any = self.app
        post = self.post_message
        cancelled = False
        try:
            # One worker process at a time: stop the version probe in flight, if any.
            app.probes_paused.set()
            app.probe_cancel.set()
            if not app.probe_lock.acquire(blocking=False):
                post(msg.RunNoticed("stopping a version probe first (one worker process at a time)"))
                app.probe_lock.acquire()
            app.probe_cancel.clear()
            app.probe_lock.release()
            req = job.request
            runner = app.run_factory(req.plan, app.registry, app.db_path, req.selection)
            if job.attach(runner):
                job.cancel(interrupted=job.interrupted)
            announced = False
            last: dict[int, tuple[Any, float]] = {}
            for event in runner.events():
                if not announced and getattr(runner, "run_id", None) is not None:
                    announced = True
                    post(msg.RunStarted(runner.run_id))
                if isinstance(event, ev.CellProgressed):
                    now = time.monotonic()
                    previous = last.get(event.index)
                    if previous and previous[0] == event.phase and now - previous[1] < PROGRESS_MIN_INTERVAL_S:
                        continue
                    last[event.index] = (event.phase, now)
                    post(msg.CellProgressed(event.index, event.phase, event.fraction))
                elif isinstance(event, ev.CellFinished):
                    post(msg.CellFinished(event.index, event.result))
                elif isinstance(event, ev.WorkerReady):
                    post(msg.WorkerReady(event.backend, event.device, dict(event.info)))
                elif isinstance(event, ev.RunWaited):
                    post(msg.RunNoticed(event.message))
                elif isinstance(event, ev.RunFinished):
                    cancelled = event.cancelled
            post(msg.RunEnded(cancelled or job.cancel_requested))
        except Exception as exc:  # the engine failed (store unwritable...): say so, keep the app
            post(msg.RunEnded(job.cancel_requested, error=f"{type(exc).__name__}: {exc}"))
        finally:
            job.done.set()

    # ---- events from the thread -------------------------------------------------------------
    def _current(self, message: Any) -> RunProgress | None:
        return self.job.progress if self.job is not None else None

    def on_run_started(self, message: msg.RunStarted) -> None:
        if self.job:
            self.job.progress.run_id = message.run_id
            name = self.app.db_path.name  # type: ignore[attr-defined]
            self.query_one(RichLog).write(f"run #{message.run_id}: each finished cell is saved to {name} (h: history)")

    def on_cell_progressed(self, message: msg.CellProgressed) -> None:
        progress = self._current(message)
        if progress is not None and 0 <= message.index < progress.total:
            progress.progressed(message.index, message.phase, message.fraction)

    def on_cell_finished(self, message: msg.CellFinished) -> None:
        progress = self._current(message)
        if progress is None or not 0 <= message.index < progress.total:
            return
        progress.finished_cell(message.index, message.result)
        self._plot_dirty = True
        r = message.result
        if r.status == Status.CANCELLED:  # the run's summary line counts these
            return
        if r.status != Status.OK or (r.accuracy is not None and not r.accuracy.accurate):
            s = r.spec
            what = r.status.value if r.status != Status.OK else "inaccurate"
            why = r.reason or (r.accuracy.detail if r.accuracy else "")
            line = f"{s.workload} {spec_label(s)} {fmt_size(s.size)}: {what}" + (f": {why}" if why else "")
            tone = "warning" if r.status in (Status.SKIPPED, Status.CANCELLED) or r.status == Status.OK else "error"
            self.query_one(RichLog).write(_styled(self, line, tone))

    def on_worker_ready(self, message: msg.WorkerReady) -> None:
        app: Any = self.app
        known = app.backend_info.get(message.backend)
        if known is None or "error" in known:  # the worker's own hello is as good as a probe
            app.backend_info[message.backend] = message.info
        setup = app.mode_screen("setup")
        if setup is not None:
            setup.post_message(msg.BackendProbed(message.backend, app.backend_info[message.backend]))
        version = message.info.get("version", "?")
        line = f"worker ready: {message.backend} {version} on {message.device}"
        startup = message.info.get("startup_s")
        if isinstance(startup, (int, float)):  # measured once by the worker, never a cell's compile
            line += f"; {message.backend} start-up {fmt_time(float(startup))}"
        self.query_one(RichLog).write(_styled(self, line, "muted"))

    def on_run_noticed(self, message: msg.RunNoticed) -> None:
        self.query_one(RichLog).write(_styled(self, message.text, "warning"))

    def on_run_ended(self, message: msg.RunEnded) -> None:
        app: Any = self.app
        job = self.job
        if job is None:
            return
        progress = job.progress
        progress.finished = True
        progress.cancelled = message.cancelled
        app.running = False
        app.refresh_bindings()
        self._timer.pause()
        self._plot_dirty = True
        self._tick()
        runner = job.runner
        results = runner.ordered_results() if runner is not None else progress.results()
        record = runner.run_record() if runner is not None else {}
        run_id = progress.run_id if progress.run_id is not None else getattr(runner, "run_id", None)
        counts = progress.counts()
        summary = ", ".join(f"{n} {k}" for k, n in counts.items()) or "nothing finished"
        log = self.query_one(RichLog)
        if message.error:
            log.write(_styled(self, f"run stopped: {message.error}", "error"))
            app.notify(message.error, title="Run stopped", severity="error", timeout=10)
        elif message.cancelled:
            app.notify(f"Cancelled; kept {summary}", title=f"Run #{run_id}" if run_id else "Run", severity="warning")
        else:
            app.notify(f"{summary}. enter: results, e: export", title=f"Run #{run_id} finished" if run_id else "Run finished")
        log.write(f"{'cancelled' if message.cancelled else 'finished'}: {summary}")
        if results:
            ref = RunRef(run_id, f"#{run_id}" if run_id else "run", record)
            view = ResultSet.single(results, ref, title=f"run #{run_id}" if run_id else "this run")
            app.view = view
            screen = app.mode_screen("results")
            if screen is not None:
                screen.load(view)
        app.refresh_bindings()
        app.probes_paused.clear()
        setup = app.mode_screen("setup")
        if setup is not None:
            setup.start_probes()

    # ---- drawing --------------------------------------------------------------------------------
    def _tick(self) -> None:
        job = self.job
        if job is None:
            return
        progress = job.progress
        grid = self.query_one(CellGrid)
        grid.sync()
        running = progress.current
        if grid.following and running is not None:
            grid.move_to(progress.states.index(running))
        bar = self.query_one(ProgressBar)
        bar.update(total=max(1, progress.total), progress=progress.fraction * max(1, progress.total))
        current = progress.current
        if progress.finished:
            state = "cancelled" if progress.cancelled else "done"
            counts = ", ".join(f"{n} {k}" for k, n in progress.counts().items())
            line = f"{state} in {fmt_duration(progress.elapsed())}: {counts or 'no cells'}"
            status = ""
        else:
            doing = ""
            if current is not None:
                s = current.spec
                doing = f" · {spec_label(s)} {s.workload} {fmt_size(s.size)} {current.phase.value}"
            line = (f"{progress.done}/{progress.total} · {fmt_duration(progress.elapsed())} · "
                    f"ETA {fmt_duration(progress.eta())}{doing}")
            status = f"running {progress.done}/{progress.total} · ETA {fmt_duration(progress.eta())}"
        self.query_one("#run-line", Static).update(line)
        self.app.run_status = status  # type: ignore[attr-defined]
        self._show_detail()
        if self._plot_dirty or (current is not None and self.plot_workload is None
                                and current.spec.workload != getattr(self, "_plotted_workload", None)):
            self._plot_dirty = False
            self._draw_plot()

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
        self._plotted_workload = workload
        view = ResultSet.single(progress.results(), RunRef(None, ""))
        labels = list(dict.fromkeys(spec_label(s.spec) for s in progress.states if s.spec.workload == workload))
        data = view.plot(self.plot_kind, workload, labels[0] if labels else None)
        self.query_one(Chart).draw(data, labels, set(), f"{workload}: {PLOT_TITLES[self.plot_kind]}",
                                   f"{workload}: the plot grows as cells finish")

    def _show_detail(self) -> None:
        state = self.query_one(CellGrid).state_at_cursor()
        detail = self.query_one("#cell-detail", Static)
        if state is None:
            detail.update("")
            return
        s = state.spec
        head = f"{s.workload} {spec_label(s)} {fmt_size(s.size)} {s.dtype}: "
        r = state.result
        if r is None:
            detail.update(Content(head + state.word))
            return
        body = state.word
        if r.status == Status.OK:
            parts = [f"median {body}"]
            if r.compile_s is not None:
                parts.append(f"compile {fmt_time(r.compile_s)}")
            if r.accuracy is not None:
                parts.append(f"error {r.accuracy.error:.2g} ({'ok' if r.accuracy.accurate else 'NOT accurate'})")
            parts.append(observed_summary(r))
            body = ", ".join(parts)
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
        app: Any = self.app
        if app.view is None:
            app.notify("No results yet", severity="warning")
            return
        await app.switch_mode("results")

    def action_next_plot(self) -> None:
        self.plot_kind = PLOT_KINDS[(PLOT_KINDS.index(self.plot_kind) + 1) % len(PLOT_KINDS)]
        self._draw_plot()

    def action_next_workload(self) -> None:
        if self.job is None:
            return
        workloads = list(dict.fromkeys(s.spec.workload for s in self.job.progress.states))
        current = self.plot_workload or getattr(self, "_plotted_workload", None)
        i = workloads.index(current) if current in workloads else -1
        self.plot_workload = workloads[(i + 1) % len(workloads)]
        self._draw_plot()


def _styled(widget: Any, text: str, tone: str):
    """Text (never markup) without terminal control characters: lines quote workers' errors."""
    from rich.text import Text

    return Text(printable(text), style=tone_style(widget, tone))
