"""Every key the app has, from its bindings: the help screen's table and the command palette's
entries are built here, so neither can go stale when a binding changes."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from functools import partial
from typing import Any, TypeVar

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

T = TypeVar("T")


def next_in_cycle(items: Sequence[T], current: object) -> T:
    """What every key that cycles a choice picks (workload, baseline, theme, size preset,
    dtype): the item after ``current``, round the end; the first one where ``current`` is not
    among ``items`` (nothing chosen yet, or a choice that is gone since)."""
    i = items.index(current) if current in items else -1
    return items[(i + 1) % len(items)]


def key_table(app: App[Any], screen: Screen[Any]) -> list[tuple[str, str, str, Any]]:
    """(key, what it does, action, node) for every key active on ``screen``: its focused
    widget's and its own first, then the app's. Built from the bindings, so never stale."""
    rows: list[tuple[int, str, str, str, Any]] = []
    seen: set[str] = set()
    for key, active in screen.active_bindings.items():
        b = active.binding
        if not b.description or b.system or (not b.show and b.action.startswith("toggle_series")):
            continue
        display = b.key_display or app.get_key_display(b)
        if display in seen or key.startswith("super+"):
            continue
        seen.add(display)
        what = str(b.tooltip or b.description)
        rows.append((_rank(app, screen, active.node, b), display, what, b.action, active.node))
    rows.sort(key=lambda row: row[0])
    return [row[1:] for row in rows]


def _rank(app: App[Any], screen: Screen[Any], node: Any, binding: Binding) -> int:
    """jitscope's own keys first (the screen's, then the app's), generic ones last."""
    if node is screen and any(_same(binding, o) for o in type(screen).BINDINGS):
        return 0
    if node is app and any(_same(binding, o) for o in type(app).BINDINGS):
        return 1
    return 2


def _same(binding: Binding, declared: Any) -> bool:
    return isinstance(declared, Binding) and declared.action == binding.action and binding.key in declared.key.split(",")


def palette_commands(app: App[Any], screen: Screen[Any], theme_names: list[str], *,
                     show_help: Callable[[], object], quit_app: Callable[[], object]) -> Iterable[SystemCommand]:
    """The command palette: every key of ``screen`` (titled with its key), each theme, the
    help and quit."""
    for key, what, action, node in key_table(app, screen):
        if action in ("quit", "help", "command_palette"):
            continue
        title = what.split(" (")[0] if len(what) < 60 else what[:57] + "…"
        # A help line only where it adds to the title: the palette shows it under each entry.
        helps = what if what != title else ""
        yield SystemCommand(f"{title} ({key})", helps, partial(app.call_later, app.run_action, action, node))
    for name in theme_names:
        yield SystemCommand(f"Theme: {name}", "Switch to this theme", partial(setattr, app, "theme", name))
    yield SystemCommand("Keys (?)", "Show every key of this screen and the app", show_help)
    yield SystemCommand("Quit (q)", "Quit (a running sweep is cancelled first)",
                        partial(app.call_later, quit_app))
