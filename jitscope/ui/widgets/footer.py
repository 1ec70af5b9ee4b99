"""The footer, fitted to the terminal's width: Textual's Footer lays its keys out in one row and
lets the last ones fall off the right edge, which at 60 columns were ``? Keys`` and ``q Quit``,
the two a new user needs. This one leaves out the screen's own keys, last first, until the row
fits; every key stays in the help (``?``) and the command palette."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.events import Resize
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

# Kept whatever the width: how to learn the rest, leave, and stop a run.
ESSENTIAL = frozenset({"app.help", "app.quit", "app.cancel", "help", "quit", "cancel"})
# Dropped after the screen's own keys, only if the row still does not fit.
SECONDARY = frozenset({"app.export", "export"})


def key_width(key: FooterKey) -> int:
    """Cells a key takes in the footer: its key padded by one either side, its description
    followed by one."""
    return len(key.key_display) + 2 + (len(key.description) + 1 if key.description else 0)


class FitFooter(Footer):
    def compose(self) -> ComposeResult:
        widgets = list(super().compose())
        keys = [w for w in widgets if isinstance(w, FooterKey)]
        room = self.app.size.width
        dropped: set[int] = set()
        for tier in (lambda k: k.action not in ESSENTIAL | SECONDARY, lambda k: k.action in SECONDARY):
            for key in reversed([k for k in keys if tier(k)]):
                if sum(key_width(k) for k in keys if id(k) not in dropped) <= room:
                    break
                dropped.add(id(key))
        kept = [w for w in widgets if id(w) not in dropped]
        self.styles.grid_size_columns = len(kept)
        yield from kept

    def on_resize(self, event: Resize) -> None:
        self.refresh(recompose=True)
