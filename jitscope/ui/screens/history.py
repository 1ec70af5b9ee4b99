"""History: past runs from the store; open one, overlay two or more (e.g. a laptop run and a
GPU-box run imported from CSV), compare two (did it get faster?), resume a cut one (R), import
a CSV, delete.

Every store access runs in a thread worker: another jitscope writing to the same database
may hold its lock for a while (SQLite waits up to its busy timeout), and the app must go on
answering keys meanwhile. Each worker posts its answer back as a message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.message import Message
from textual.widgets import DataTable, Static
from textual.worker import get_current_worker

from jitscope.core.errors import UserError
from jitscope.core.model import CellResult, axis_text
from jitscope.core.text import printable
from jitscope.results.store import RunRecord, Store
from jitscope.ui import STYLES
from jitscope.ui.screens.dialogs import ConfirmDialog, PathDialog
from jitscope.ui.shared_state import SessionApp, SessionScreen
from jitscope.ui.state import ResultSet, RunRef
from jitscope.ui.widgets.footer import FitFooter
from jitscope.ui.widgets.modebar import ModeBar

if TYPE_CHECKING:
    from jitscope.results.compare import Comparison
    from jitscope.runner.resume import ResumePlan

TWO_RUNS = "mark two runs with space (or one, then highlight another), then press {key}"


def run_ref(run: RunRecord, tag: str | None = None) -> RunRef:
    record = {"id": run.id, "environment": run.environment, "command": run.command, "started": run.started}
    return RunRef(run.id, tag or f"#{run.id}", record)


def overlay_tags(runs: list[RunRecord]) -> list[str]:
    """Short, distinct names for overlaid runs: the label or host when they tell runs apart."""
    for pick in (lambda r: r.label, lambda r: r.host):
        names = [pick(r) for r in runs]
        if all(names) and len(set(names)) == len(names):
            return [n[:16] for n in names]
    return [f"#{r.id}" for r in runs]


def compare_name(run: RunRecord) -> str:
    """``run #3 laptop``: a run as the Compare screen's title names it."""
    return f"run #{run.id}" + (f" {run.label}" if run.label else "")


def run_title(run: RunRecord) -> str:
    return f"run #{run.id}" + (f" ({run.label})" if run.label else "") + f" {run.started}"


class RunsTable(DataTable[Text]):
    # DataTable binds enter itself; re-bind it with a description so the footer shows it.
    BINDINGS = [Binding("enter", "select_cursor", "Open", tooltip="Open the highlighted run in Results")]


class HistoryScreen(SessionScreen):
    CSS_PATH = STYLES / "history.tcss"  # loaded when the screen is first shown, not for the first frame
    BINDINGS = [
        Binding("space", "mark", "Mark", tooltip="Mark a run for an overlay"),
        Binding("o", "overlay", "Overlay", tooltip="Overlay the marked runs (or marked + highlighted)"),
        Binding("c", "compare", "Compare",
                tooltip="Compare two runs (marked, or marked + highlighted): ratio, interval, p, verdict"),
        Binding("R", "resume", "Resume", key_display="R", show=False,
                tooltip="Run the highlighted run's unfinished cells again, into the same run (in the background)"),
        Binding("i", "import_csv", "Import", tooltip="Import a jitscope CSV (e.g. from another machine)"),
        Binding("d", "delete", "Delete", tooltip="Delete the highlighted run"),
    ]

    @dataclass
    class RunsRead(Message):
        """The runs in the store (``read``: which request this answers)."""

        read: int
        runs: list[RunRecord] = field(default_factory=list)
        error: str = ""

    @dataclass
    class ResultsRead(Message):
        """The cells of the runs asked for, as what Results will show."""

        view: ResultSet | None
        problem: str = ""

    @dataclass
    class StoreChanged(Message):
        """A run was deleted or imported (``done`` says what), or ``error`` why not."""

        done: str = ""
        error: str = ""

    @dataclass
    class Compared(Message):
        """Two runs compared (``names``: A's and B's, as the screen titles them), or why not."""

        comparison: Comparison | None
        names: tuple[str, str] = ("", "")
        problem: str = ""

    @dataclass
    class ResumeReady(Message):
        """What resuming a run will do (``ready``), or why it cannot (``problem``)."""

        ready: ResumePlan | None
        problem: str = ""

    def __init__(self) -> None:
        super().__init__()
        self.runs: list[RunRecord] = []
        self.marked: set[int] = set()
        self.reads = 0  # store reads asked for; only the latest one's answer is shown
        self.loaded = False  # the table holds an answer (not just "reading...")
        self.pending_compare: HistoryScreen.Compared | None = None

    def compose(self) -> ComposeResult:
        yield ModeBar("history")
        yield RunsTable(id="runs", cursor_type="row", zebra_stripes=True)
        yield Static("", id="run-detail")
        yield FitFooter(show_command_palette=False)

    def on_mount(self) -> None:
        table = self.query_one(RunsTable)
        for name in ("", "run", "started", "state", "ok/cells", "host", "label / command"):
            table.add_column(name, key=name or "mark")
        self.refresh_runs()

    def on_screen_resume(self) -> None:
        self.refresh_runs()
        if self.pending_compare is not None:  # computed while another screen was shown
            message, self.pending_compare = self.pending_compare, None
            self.call_after_refresh(self._open_compare, message)

    # ---- reading the store (in threads) ---------------------------------------------------------
    def refresh_runs(self) -> None:
        self.reads += 1
        if not self.loaded:
            self._say(f"reading {self.session.db_path}…")
        self._read_runs(self.reads, self.session.db_path)

    @work(thread=True, group="store", exit_on_error=False)
    def _read_runs(self, read: int, db_path: Path) -> None:
        try:
            with Store(db_path) as store:
                runs = store.runs()
        except UserError as exc:
            self.post_message(self.RunsRead(read, error=str(exc)))
            return
        self.post_message(self.RunsRead(read, runs))

    def on_history_screen_runs_read(self, message: RunsRead) -> None:
        if message.read != self.reads:  # a newer read is on its way
            return
        if message.error:
            self.notify(message.error, title="Cannot read the results store", severity="error")
        self.loaded = True
        self.runs = message.runs
        table = self.query_one(RunsTable)
        row = table.cursor_row
        table.clear()
        self.marked &= {r.id for r in self.runs}
        for run in self.runs:
            table.add_row(*self._cells(run), key=str(run.id))
        if self.runs:
            table.move_cursor(row=min(max(row, 0), len(self.runs) - 1), animate=False)
            self._show_detail()
        else:
            self._say(f"no runs in {self.session.db_path} yet: run a sweep (r) or import a CSV (i)")

    @work(thread=True, group="store", exit_on_error=False)
    def _read_results(self, db_path: Path, runs: list[RunRecord], tags: list[str] | None, title: str) -> None:
        """The cells of ``runs``: one run (``tags`` None) or an overlay tagged with ``tags``."""
        items: list[tuple[RunRef, CellResult]] = []
        try:
            with Store(db_path) as store:
                for n, run in enumerate(runs):
                    ref = run_ref(run, tags[n] if tags else None)
                    items.extend((ref, cell) for cell in store.cells(run.id))
        except UserError as exc:
            self.post_message(self.ResultsRead(None, str(exc)))
            return
        if not items:
            self.post_message(self.ResultsRead(None, f"{title} has no cells"))
            return
        self.post_message(self.ResultsRead(ResultSet(items, title)))

    async def on_history_screen_results_read(self, message: ResultsRead) -> None:
        if message.view is None:
            self.notify(message.problem, severity="warning")
            return
        self.session.show(message.view)
        await self.app.switch_mode("results")

    @work(thread=True, group="compare", exclusive=True, exit_on_error=False)
    def _compare(self, db_path: Path, older: RunRecord, newer: RunRecord) -> None:
        """``jitscope compare older newer``'s comparison: the store read and the statistics
        (a bootstrap per pair) both take a while, so off the UI thread."""
        from jitscope.results.compare import compare_sides, load_side, require_scipy

        names = (compare_name(older), compare_name(newer))
        try:
            require_scipy()
            comparison = compare_sides(load_side(str(older.id), db_path), load_side(str(newer.id), db_path))
        except UserError as exc:
            self.post_message(self.Compared(None, names, str(exc)))
            return
        if not get_current_worker().is_cancelled:  # c pressed again meanwhile: the newer one opens
            self.post_message(self.Compared(comparison, names))

    def on_history_screen_compared(self, message: Compared) -> None:
        if message.comparison is None:
            self.notify(message.problem, title="Cannot compare", severity="error", timeout=10)
        elif self.is_current:
            self._open_compare(message)
        else:  # the user went to another screen meanwhile: it opens when History comes back
            self.pending_compare = message
            self.notify("the comparison is ready: press h to see it", timeout=5)

    def _open_compare(self, message: Compared) -> None:
        from jitscope.ui.screens.compare import CompareScreen

        assert message.comparison is not None
        self.app.push_screen(CompareScreen(message.comparison, message.names))

    @work(thread=True, group="resume", exclusive=True, exit_on_error=False)
    def _prepare_resume(self, db_path: Path, run_id: int) -> None:
        """What resuming asks of the store, the plugins and the environment: a thread."""
        from jitscope.runner.resume import prepare

        try:
            ready = prepare(db_path, run_id)
        except UserError as exc:
            self.post_message(self.ResumeReady(None, str(exc)))
            return
        self.post_message(self.ResumeReady(ready))

    async def on_history_screen_resume_ready(self, message: ResumeReady) -> None:
        ready = message.ready
        if ready is None:
            self.notify(message.problem, title="Cannot resume", severity="error", timeout=10)
            return
        if ready.registry is None or not ready.todo:
            self.notify(f"run #{ready.run_id} has no unfinished cells: nothing to resume", severity="warning")
            return
        if self.session.running:
            self.notify("A run is in progress: resume once it is done (escape cancels it)", severity="warning")
            return
        if ready.warnings:
            self.notify("\n".join(ready.warnings), title=f"Resuming run #{ready.run_id}", severity="warning",
                        timeout=15)
        from jitscope.ui.following import resume_job

        job, factory = resume_job(ready, self.session.clock)
        await self.app_session().start_job(job, factory, ready.registry)

    def app_session(self) -> SessionApp:
        app = self.app
        assert isinstance(app, SessionApp)
        return app

    @work(thread=True, group="store", exit_on_error=False)
    def _delete(self, db_path: Path, run_id: int) -> None:
        try:
            with Store(db_path) as store:
                store.delete_run(run_id)
        except UserError as exc:
            self.post_message(self.StoreChanged(error=str(exc)))
            return
        self.post_message(self.StoreChanged(done=f"deleted run #{run_id}"))

    @work(thread=True, group="store", exit_on_error=False)
    def _import(self, db_path: Path, path: str) -> None:
        from jitscope.results.export import read_csv

        try:
            results, host = read_csv(path)
            if not results:
                raise UserError(f"{path} has no rows")
            label = host or Path(path).stem
            with Store(db_path) as store:
                run_id = store.import_cells(results, label=label, environment={"host": host},
                                            command=f"import {path}")
        except UserError as exc:
            self.post_message(self.StoreChanged(error=f"Import failed: {exc}"))
            return
        self.post_message(self.StoreChanged(done=f"{len(results)} cells from {path} as run #{run_id}"))

    def on_history_screen_store_changed(self, message: StoreChanged) -> None:
        if message.error:
            self.notify(message.error, severity="error", timeout=10)
        else:
            self.notify(message.done)
        self.refresh_runs()

    # ---- showing ---------------------------------------------------------------------------------
    def _say(self, text: str) -> None:
        self.query_one("#run-detail", Static).update(Content(printable(text)))

    def _cells(self, run: RunRecord) -> list[Text]:
        """Text cells, never markup: a label or command is whatever the user typed."""
        state = run.state + (f" ({run.timing_exclusion})" if run.timing_exclusion else "")
        values = ["✓" if run.id in self.marked else " ", f"#{run.id}", run.started, state,
                  f"{run.ok_count}/{run.cell_count}", run.host[:20], (run.label or run.command)[:40]]
        return [Text(printable(v)) for v in values]

    def _highlighted(self) -> RunRecord | None:
        table = self.query_one(RunsTable)
        if not self.runs or table.cursor_row < 0 or table.cursor_row >= len(self.runs):
            return None
        return self.runs[table.cursor_row]

    @on(DataTable.RowHighlighted)
    def _show_detail(self) -> None:
        run = self._highlighted()
        if run is None:
            return
        sel = run.selection
        env = run.environment
        if sel.get("workloads"):
            text = (f"#{run.id}: " + ", ".join(map(str, sel["workloads"])) + " on "
                    + ", ".join(map(str, sel.get("backends", [])))
                    + (f" · sizes {', '.join(map(str, sel['sizes']))}" if sel.get("sizes") else "")
                    + f" · {axis_text(sel.get('device'))}, {axis_text(sel.get('dtype'))}")
        else:
            text = f"#{run.id}: {run.command or run.state}"
        machine = ", ".join(str(env[k]) for k in ("host", "cpu") if env.get(k))
        self._say(text + (f" · {machine}" if machine else ""))

    @on(DataTable.RowSelected)
    def _selected(self) -> None:
        self.action_open()

    # ---- keys ----------------------------------------------------------------------------------
    def action_open(self) -> None:
        run = self._highlighted()
        if run is not None:
            self._read_results(self.session.db_path, [run], None, run_title(run))

    def action_mark(self) -> None:
        run = self._highlighted()
        if run is None:
            return
        self.marked ^= {run.id}
        table = self.query_one(RunsTable)
        table.update_cell(str(run.id), "mark", Text("✓" if run.id in self.marked else " "))
        table.move_cursor(row=min(table.cursor_row + 1, len(self.runs) - 1))

    def _chosen(self) -> list[RunRecord]:
        """The marked runs; with one marked, the highlighted run after it."""
        chosen = [r for r in self.runs if r.id in self.marked]
        current = self._highlighted()
        if len(chosen) == 1 and current is not None and current.id not in self.marked:
            chosen.append(current)
        return chosen

    def action_overlay(self) -> None:
        chosen = self._chosen()
        if len(chosen) < 2:
            self.notify(TWO_RUNS.format(key="o"), severity="warning")
            return
        title = " vs ".join(f"#{r.id}" for r in chosen)
        self._read_results(self.session.db_path, chosen, overlay_tags(chosen), title)

    def action_compare(self) -> None:
        """A = the older run, B = the newer (as ``jitscope compare latest~1 latest``)."""
        chosen = self._chosen()
        if len(chosen) != 2:
            more = f" ({len(chosen)} are marked: space unmarks one)" if len(chosen) > 2 else ""
            self.notify(TWO_RUNS.format(key="c") + more, severity="warning")
            return
        older, newer = sorted(chosen, key=lambda r: r.id)  # ids grow with time, as latest~1 < latest
        self.notify(f"comparing #{older.id} (A) with #{newer.id} (B)…", timeout=3)
        self._compare(self.session.db_path, older, newer)

    def action_resume(self) -> None:
        """The highlighted run's unfinished cells (cancelled, interrupted, timeout, crashed,
        never started), run again into it in the background and shown on Live run."""
        run = self._highlighted()
        if run is None:
            return
        if self.session.running:
            self.notify("A run is in progress: resume once it is done (escape cancels it)", severity="warning")
            return
        self.notify(f"checking what run #{run.id} left unfinished…", timeout=3)
        self._prepare_resume(self.session.db_path, run.id)

    def action_delete(self) -> None:
        run = self._highlighted()
        if run is None:
            return

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.marked.discard(run.id)
                self._delete(self.session.db_path, run.id)

        self.app.push_screen(ConfirmDialog(f"Delete run #{run.id} ({run.cell_count} cells) from the store?"), confirmed)

    def action_import_csv(self) -> None:
        def chosen(path: str | None) -> None:
            if path:
                self._import(self.session.db_path, path)

        self.app.push_screen(PathDialog("Import a jitscope CSV", "path/to/results.csv", ""), chosen)
