"""History: past runs from the store; open one, overlay two or more (e.g. a laptop run and a
GPU-box run imported from CSV), import a CSV, delete."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from jitscope.core.errors import UserError
from jitscope.core.text import printable
from jitscope.results.store import RunRecord, Store
from jitscope.ui.screens.dialogs import ConfirmDialog, PathDialog
from jitscope.ui.state import ResultSet, RunRef
from jitscope.ui.widgets.modebar import ModeBar


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


class RunsTable(DataTable):
    # DataTable binds enter itself; re-bind it with a description so the footer shows it.
    BINDINGS = [Binding("enter", "select_cursor", "Open", tooltip="Open the highlighted run in Results")]


class HistoryScreen(Screen[None]):
    BINDINGS = [
        Binding("space", "mark", "Mark", tooltip="Mark a run for an overlay"),
        Binding("o", "overlay", "Overlay", tooltip="Overlay the marked runs (or marked + highlighted)"),
        Binding("i", "import_csv", "Import", tooltip="Import a jitscope CSV (e.g. from another machine)"),
        Binding("d", "delete", "Delete", tooltip="Delete the highlighted run"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.runs: list[RunRecord] = []
        self.marked: set[int] = set()

    def compose(self) -> ComposeResult:
        yield ModeBar("history")
        yield RunsTable(id="runs", cursor_type="row", zebra_stripes=True)
        yield Static("", id="run-detail")
        yield Footer(show_command_palette=False)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for name in ("", "run", "started", "state", "ok/cells", "host", "label / command"):
            table.add_column(name, key=name or "mark")
        self.refresh_runs()

    def on_screen_resume(self) -> None:
        self.refresh_runs()

    def _store(self) -> Store:
        return Store(self.app.db_path)  # type: ignore[attr-defined]

    def refresh_runs(self) -> None:
        table = self.query_one(DataTable)
        try:
            with self._store() as store:
                self.runs = store.runs()
        except UserError as exc:
            self.notify(str(exc), title="Cannot read the results store", severity="error")
            self.runs = []
        row = table.cursor_row
        table.clear()
        ids = {r.id for r in self.runs}
        self.marked &= ids
        for run in self.runs:
            table.add_row(*self._cells(run), key=str(run.id))
        if self.runs:
            table.move_cursor(row=min(row, len(self.runs) - 1), animate=False)
        else:
            self.query_one("#run-detail", Static).update(
                Content.from_markup("[$text-muted]no runs in $db yet: run a sweep (r) or import a CSV (i)",
                                    db=str(self.app.db_path)))  # type: ignore[attr-defined]

    def _cells(self, run: RunRecord) -> list[Text]:
        """Text cells, never markup: a label or command is whatever the user typed."""
        values = ["✓" if run.id in self.marked else " ", f"#{run.id}", run.started, run.state,
                  f"{run.ok_count}/{run.cell_count}", run.host[:20], (run.label or run.command)[:40]]
        return [Text(printable(v)) for v in values]

    def _highlighted(self) -> RunRecord | None:
        table = self.query_one(DataTable)
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
            text = (f"#{run.id}: " + ", ".join(sel["workloads"]) + " on " + ", ".join(sel.get("backends", []))
                    + (f" · sizes {', '.join(map(str, sel['sizes']))}" if sel.get("sizes") else "")
                    + f" · {sel.get('device', '?')}, {sel.get('dtype', '?')}")
        else:
            text = f"#{run.id}: {run.command or run.state}"
        machine = ", ".join(str(env[k]) for k in ("host", "cpu") if env.get(k))
        text += f" · {machine}" if machine else ""
        self.query_one("#run-detail", Static).update(Content(text))

    @on(DataTable.RowSelected)
    async def _selected(self) -> None:
        await self.action_open()

    # ---- keys ----------------------------------------------------------------------------------
    async def action_open(self) -> None:
        run = self._highlighted()
        if run is None:
            return
        with self._store() as store:
            cells = store.cells(run.id)
        if not cells:
            self.notify(f"run #{run.id} has no cells", severity="warning")
            return
        title = f"run #{run.id}" + (f" ({run.label})" if run.label else "") + f" {run.started}"
        await self.app.show_results(ResultSet.single(cells, run_ref(run), title))  # type: ignore[attr-defined]

    def action_mark(self) -> None:
        run = self._highlighted()
        if run is None:
            return
        self.marked ^= {run.id}
        table = self.query_one(DataTable)
        table.update_cell(str(run.id), "mark", Text("✓" if run.id in self.marked else " "))
        table.move_cursor(row=min(table.cursor_row + 1, len(self.runs) - 1))

    async def action_overlay(self) -> None:
        chosen = [r for r in self.runs if r.id in self.marked]
        current = self._highlighted()
        if len(chosen) == 1 and current is not None and current.id not in self.marked:
            chosen.append(current)
        if len(chosen) < 2:
            self.notify("mark two runs with space (or one, then highlight another), then press o",
                        severity="warning")
            return
        items: list[tuple[RunRef, Any]] = []
        with self._store() as store:
            for run, tag in zip(chosen, overlay_tags(chosen), strict=True):
                ref = run_ref(run, tag)
                items.extend((ref, cell) for cell in store.cells(run.id))
        title = " vs ".join(f"#{r.id}" for r in chosen)
        await self.app.show_results(ResultSet(items, title))  # type: ignore[attr-defined]

    def action_delete(self) -> None:
        run = self._highlighted()
        if run is None:
            return

        def confirmed(yes: bool | None) -> None:
            if not yes:
                return
            with self._store() as store:
                store.delete_run(run.id)
            self.marked.discard(run.id)
            self.notify(f"deleted run #{run.id}")
            self.refresh_runs()

        self.app.push_screen(ConfirmDialog(f"Delete run #{run.id} ({run.cell_count} cells) from the store?"), confirmed)

    def action_import_csv(self) -> None:
        def chosen(path: str | None) -> None:
            if not path:
                return
            from jitscope.results.export import read_csv

            try:
                results, host = read_csv(path)
                if not results:
                    raise UserError(f"{path} has no rows")
                label = host or Path(path).stem
                with self._store() as store:
                    run_id = store.import_cells(results, label=label, environment={"host": host},
                                                command=f"import {path}")
            except UserError as exc:
                self.notify(str(exc), title="Import failed", severity="error", timeout=10)
                return
            self.notify(f"{len(results)} cells from {path} as run #{run_id}", title="Imported")
            self.refresh_runs()

        self.app.push_screen(PathDialog("Import a jitscope CSV", "path/to/results.csv", ""), chosen)

