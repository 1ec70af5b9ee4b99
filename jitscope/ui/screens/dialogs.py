"""Modal dialogs, each returning its answer through ``dismiss``: export path, a file path,
a yes/no question, what to do with a run on quitting, and the keys help. Text that came from a user (a run's label in a title)
is shown as text, never parsed as markup."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Static

from jitscope.core.text import printable
from jitscope.ui import STYLES
from jitscope.ui.exporting import ExportRequest, default_export_path
from jitscope.ui.state import ResultSet
from jitscope.ui.widgets.checklist import TickBox

DIALOGS_CSS = STYLES / "dialogs.tcss"  # loaded with the first dialog shown, not for the first frame


class ExportDialog(ModalScreen[ExportRequest | None]):
    CSS_PATH = DIALOGS_CSS
    BINDINGS = [Binding("escape", "dismiss_none", "Close", show=False)]

    def __init__(self, view: ResultSet, folder: Path) -> None:
        super().__init__()
        self.view = view
        self.folder = folder

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as box:
            box.border_title = "Export"
            # The title may hold a run's label, which is whatever a user typed: text, not markup.
            yield Label(printable(f"{len(self.view.items)} cells of {self.view.title or 'the results shown'} to CSV:"),
                        markup=False)
            yield Input(str(default_export_path(self.view, self.folder)), id="export-path")
            with Horizontal(classes="dialog-row"):
                yield TickBox("also JSON", id="export-json", compact=True)
                yield TickBox("also Markdown", id="export-md", compact=True)
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
    CSS_PATH = DIALOGS_CSS
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
    CSS_PATH = DIALOGS_CSS
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
            yield Label(printable(self.question), markup=False)
            yield Label("y: yes · n or escape: no", classes="dialog-hint")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class QuitRunDialog(ModalScreen[str | None]):
    """Quitting while a run is in progress: ``cancel`` it and quit, ``keep`` it running in
    the background and quit (it lives in a process of its own), or stay (None)."""

    CSS_PATH = DIALOGS_CSS
    BINDINGS = [
        Binding("c", "answer('cancel')", "Cancel it and quit"),
        Binding("k", "answer('keep')", "Keep it running and quit"),
        Binding("escape", "answer(None)", "Stay"),
    ]

    def __init__(self, run_id: int | None) -> None:
        super().__init__()
        self.run_id = run_id

    def compose(self) -> ComposeResult:
        run = f"Run #{self.run_id}" if self.run_id is not None else "A run"
        with Vertical(classes="dialog") as box:
            box.border_title = "Quit"
            yield Label(f"{run} is in progress.", markup=False)
            yield Label("c: cancel it and quit (finished cells are kept)", markup=False)
            yield Label("k: keep it running in the background and quit", markup=False)
            yield Label("escape: stay", classes="dialog-hint", markup=False)

    def action_answer(self, answer: str | None) -> None:
        self.dismiss(answer)


class HelpScreen(ModalScreen[None]):
    CSS_PATH = DIALOGS_CSS
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
            table.add_row(Text(key), Text(description))
        with VerticalScroll(classes="dialog help") as box:
            box.border_title = "Keys"
            box.border_subtitle = "escape to close"
            yield Static(table)

    def action_close(self) -> None:
        self.dismiss(None)
