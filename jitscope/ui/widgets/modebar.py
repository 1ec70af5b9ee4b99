"""The top line: the four screens with the key that opens each, and the run's status."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.events import Click
from textual.widgets import Label

MODES = (("setup", "s", "Setup"), ("run", "l", "Live run"), ("results", "v", "Results"), ("history", "h", "History"))


IDLE_HINT = "[b]t[/b] theme [b]^p[/b] commands"


class ModeTab(Label):
    def __init__(self, mode: str, key: str, title: str, active: bool) -> None:
        super().__init__(f"[b]{key}[/b] {title}", id=f"tab-{mode}", classes="-active" if active else "")
        self.mode = mode

    def on_click(self, event: Click) -> None:
        event.stop()
        self.app.switch_mode(self.mode)


class ModeBar(Horizontal):
    def __init__(self, active: str) -> None:
        super().__init__(id="modebar")
        self.active = active

    def compose(self) -> ComposeResult:
        for mode, key, title in MODES:
            yield ModeTab(mode, key, title, mode == self.active)
        yield Label(IDLE_HINT, id="run-status")

    def on_mount(self) -> None:
        self.watch(self.app, "run_status", self._status_changed)

    def _status_changed(self, text: str) -> None:
        self.query_one("#run-status", Label).update(text or IDLE_HINT)
