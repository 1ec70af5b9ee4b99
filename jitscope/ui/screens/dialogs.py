"""Modal dialogs, each returning its answer through ``dismiss``: export path, a file path,
a yes/no question, and the keys help."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rich.table import Table
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Static

from jitscope.ui.state import ResultSet


@dataclass
class ExportRequest:
    csv_path: Path
    json: bool = False
    markdown: bool = False

    @property
    def json_path(self) -> Path | None:
        return self.csv_path.with_suffix(".json") if self.json else None

    @property
    def md_path(self) -> Path | None:
        return self.csv_path.with_suffix(".md") if self.markdown else None


def default_export_path(view: ResultSet, folder: Path) -> Path:
    ids = [str(ref.run_id) for ref in view.runs if ref.run_id is not None]
    stem = f"jitscope-run-{ids[0]}" if len(ids) == 1 else f"jitscope-runs-{'-'.join(ids)}" if ids else "jitscope-results"
    return folder / f"{stem}.csv"


def export_view(view: ResultSet, request: ExportRequest) -> list[Path]:
    """Write the view: CSV (one row per cell, the right run id on each row of an overlay),
    and JSON/Markdown when asked. Raises UserError with a one-line message."""
    from jitscope.results.export import rows_for, to_csv, write_exports, write_text

    runs = view.runs
    json_path, md_path = request.json_path, request.md_path
    if len(runs) == 1:
        ref = runs[0]
        record = dict(ref.record) or {"id": ref.run_id, "environment": {}}
        record.setdefault("id", ref.run_id)
        return write_exports(view.results, record, csv_path=request.csv_path, json_path=json_path, md_path=md_path)
    rows = []
    for ref in runs:
        host = str(ref.record.get("environment", {}).get("host", ""))
        rows.extend(rows_for([r for rr, r in view.items if rr is ref], ref.run_id, host))
    written = [write_text(request.csv_path, to_csv(rows))]
    if json_path or md_path:
        record = {"id": "+".join(str(ref.run_id) for ref in runs), "environment": {},
                  "runs": [ref.record for ref in runs]}
        written += write_exports(view.results, record, json_path=json_path, md_path=md_path)
    return written


class ExportDialog(ModalScreen[ExportRequest | None]):
    BINDINGS = [Binding("escape", "dismiss_none", "Close", show=False)]

    def __init__(self, view: ResultSet, folder: Path) -> None:
        super().__init__()
        self.view = view
        self.folder = folder

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as box:
            box.border_title = "Export"
            yield Label(f"{len(self.view.items)} cells of {self.view.title or 'the results shown'} to CSV:")
            yield Input(str(default_export_path(self.view, self.folder)), id="export-path")
            with Horizontal(classes="dialog-row"):
                yield Checkbox("also JSON", id="export-json", compact=True)
                yield Checkbox("also Markdown", id="export-md", compact=True)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Export", variant="primary", id="export-ok", compact=True)
                yield Button("Cancel", id="export-cancel", compact=True)
            yield Label("enter: export · escape: cancel", classes="dialog-hint")

    def on_mount(self) -> None:
        self.query_one("#export-path", Input).focus()  # all selected: type to replace, arrows to edit

    @on(Input.Submitted)
    @on(Button.Pressed, "#export-ok")
    def _submit(self) -> None:
        text = self.query_one("#export-path", Input).value.strip()
        if not text:
            self.notify("give a path for the CSV", severity="warning")
            return
        path = Path(text).expanduser()
        if path.suffix.lower() != ".csv":
            path = path.with_name(path.name + ".csv")
        self.dismiss(ExportRequest(path.resolve(), self.query_one("#export-json", Checkbox).value,
                                   self.query_one("#export-md", Checkbox).value))

    @on(Button.Pressed, "#export-cancel")
    def action_dismiss_none(self) -> None:
        self.dismiss(None)


class PathDialog(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "dismiss_none", "Close", show=False)]

    def __init__(self, title: str, placeholder: str, value: str) -> None:
        super().__init__()
        self.title_text, self.placeholder, self.value = title, placeholder, value

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as box:
            box.border_title = self.title_text
            yield Input(self.value, placeholder=self.placeholder, id="path")
            yield Label("enter: ok · escape: cancel", classes="dialog-hint")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    @on(Input.Submitted)
    def _submit(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)

    def action_dismiss_none(self) -> None:
        self.dismiss(None)


class ConfirmDialog(ModalScreen[bool]):
    BINDINGS = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n", "answer(False)", "No"),
        Binding("escape", "answer(False)", "No", show=False),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as box:
            box.border_title = "Confirm"
            yield Label(self.question)
            yield Label("y: yes · n or escape: no", classes="dialog-hint")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class HelpScreen(ModalScreen[None]):
    """Every key of the screen below and of the app (built from the bindings, so never stale)."""

    BINDINGS = [
        Binding("escape", "close", "Close", show=False),
        Binding("question_mark", "close", "Close", show=False),
        Binding("q", "close", "Close", show=False),
    ]

    def __init__(self, rows: Sequence[tuple[str, str]]) -> None:
        super().__init__()
        self.rows = rows

    def compose(self) -> ComposeResult:
        table = Table(box=None, show_header=False, padding=(0, 1), expand=True)
        table.add_column(style="bold", no_wrap=True)
        table.add_column()
        for key, description in self.rows:
            table.add_row(key, description)
        with VerticalScroll(classes="dialog help") as box:
            box.border_title = "Keys"
            box.border_subtitle = "escape to close"
            yield Static(table)

    def action_close(self) -> None:
        self.dismiss(None)
