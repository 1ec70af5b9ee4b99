"""The jitscope terminal app: a thin App holding the session; screens own the behaviour.

Nothing here imports a numerical backend: backends are probed and run in worker processes
(``jitscope.runner``), and this process only reads their events from a background thread.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path
from typing import Any, Protocol

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.notifications import SeverityLevel
from textual.reactive import reactive
from textual.screen import Screen

from jitscope.core.errors import UserError
from jitscope.core.model import CellResult
from jitscope.core.registry import Registry
from jitscope.core.text import printable
from jitscope.runner.plan import Plan, Selection
from jitscope.runner.signals import on_signals
from jitscope.ui.state import ResultSet
from jitscope.ui.themes import DEFAULT_THEME, THEME_ENV, load_themes


class Runner(Protocol):
    """What the app needs from a run (``RecordedRun`` is one; tests pass a scripted fake)."""

    run_id: int | None

    def events(self) -> Iterable[Any]: ...
    def cancel(self) -> None: ...
    def ordered_results(self) -> list[CellResult]: ...
    def run_record(self) -> dict[str, Any]: ...


RunFactory = Callable[[Plan, Registry, Path, Selection], Runner]
Probe = Callable[[str, str], dict[str, Any]]


def recorded_run(plan: Plan, registry: Registry, db_path: Path, selection: Selection) -> Runner:
    """The real runner: worker processes, every finished cell committed to the store."""
    from jitscope.runner.session import RecordedRun

    return RecordedRun(plan, registry, db_path, selection=selection, command="jitscope (app)")


def probe_in_worker(backend: str, device: str, workload_files: tuple[str, ...] = (),
                    cancel: threading.Event | None = None) -> dict[str, Any]:
    """Version and devices from a worker process (the UI imports no backend)."""
    from jitscope.runner.probe import probe_backend

    return probe_backend(backend, device, workload_files, timeout_s=60.0, cancel=cancel)


class JitscopeApp(App[int]):
    """Setup -> Run -> Results, and History; every action has a key (see :data:`BINDINGS`)."""

    CSS_PATH = Path(__file__).with_name("jitscope.tcss")  # absolute: subclasses live elsewhere
    TITLE = "jitscope"
    DEFAULT_MODE = "setup"
    BINDINGS = [
        # r is shown in the footer by Setup and Run (their bindings point here); on the other
        # screens it still works, listed in the help (?) and the command palette.
        Binding("r", "run", "Run", show=False, tooltip="Run the selection from the Setup screen"),
        Binding("escape", "cancel", "Cancel", tooltip="Cancel the run (finished cells are kept)"),
        Binding("e", "export", "Export", tooltip="Export the results shown to CSV/JSON/Markdown"),
        Binding("t", "next_theme", "Theme", show=False, tooltip="Switch to the next theme"),
        Binding("question_mark", "help", "Keys", key_display="?", tooltip="Show every key"),
        Binding("q", "quit", "Quit", tooltip="Quit (a running sweep is cancelled first)"),
        Binding("s", "mode('setup')", "Setup screen", show=False),
        Binding("l", "mode('run')", "Live run screen", show=False),
        Binding("v", "mode('results')", "Results screen", show=False),
        Binding("h", "mode('history')", "History screen", show=False),
    ]

    run_status: reactive[str] = reactive("")

    def __init__(
        self,
        registry: Registry,
        db_path: Path,
        selection: Selection | None = None,
        *,
        run_factory: RunFactory | None = None,
        probe: Probe | None = probe_in_worker,
        clock: Callable[[], float] = time.monotonic,
        export_dir: Path | None = None,
        theme: str | None = None,
    ) -> None:
        super().__init__()
        self.registry = registry
        self.db_path = Path(db_path)
        self.initial_selection = selection
        self.run_factory: RunFactory = run_factory or recorded_run
        self.probe_lock = threading.Lock()  # held while a probe worker runs; a run waits for it
        self.probes_paused = threading.Event()  # no new probes (a run is on)
        self.probe_cancel = threading.Event()  # kill the probe in flight (a run is starting)
        if probe is probe_in_worker:
            probe = partial(probe_in_worker, workload_files=registry.workload_files, cancel=self.probe_cancel)
        self.probe = probe
        self.clock = clock
        self.export_dir = export_dir or Path.cwd()
        # Shared by the screens: what was probed, the run in flight, the results on show.
        self.backend_info: dict[str, dict[str, Any]] = {}
        self.running = False
        self.view: ResultSet | None = None
        self.startup_problems: list[str] = list(registry.problems)
        themes, problems = load_themes()
        self.startup_problems += problems
        self.theme_names = [t.name for t in themes]
        for t in themes:
            self.register_theme(t)
        wanted = theme or os.environ.get(THEME_ENV) or DEFAULT_THEME
        if wanted in self.available_themes:
            self.theme = wanted
        elif self.theme_names:
            self.theme = self.theme_names[0]
        if not self.theme_names:
            self.theme_names = ["textual-dark", "textual-light"]

        from jitscope.ui.screens.history import HistoryScreen
        from jitscope.ui.screens.results import ResultsScreen
        from jitscope.ui.screens.run import RunScreen
        from jitscope.ui.screens.setup import SetupScreen

        self.add_mode("setup", SetupScreen)
        self.add_mode("run", RunScreen)
        self.add_mode("results", ResultsScreen)
        self.add_mode("history", HistoryScreen)

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None, markup: bool = False) -> None:
        """Every notification shows its text as text: messages carry file names, reasons and
        labels from users, plugins and workers (``cannot open [/tmp/x]`` is not markup), and
        terminal control characters are taken out."""
        super().notify(printable(message), title=printable(title), severity=severity, timeout=timeout, markup=markup)

    def on_mount(self) -> None:
        if self.startup_problems:  # one short note; `jitscope backends` has the details
            first = self.startup_problems[0]
            more = len(self.startup_problems) - 1
            self.notify((first if len(first) < 120 else first[:119] + "…") + (f" (+{more} more)" if more else ""),
                        title="Not everything could be loaded", severity="warning", timeout=6)

    # ---- screens ------------------------------------------------------------------------
    def mode_screen(self, mode: str) -> Screen[Any] | None:
        try:
            stack = self.get_screen_stack(mode)
        except KeyError:
            return None
        return stack[0] if stack else None

    async def action_mode(self, mode: str) -> None:
        await self.switch_mode(mode)

    async def show_results(self, view: ResultSet) -> None:
        self.view = view
        await self.switch_mode("results")
        screen = self.mode_screen("results")
        if screen is not None:
            screen.load(view)  # type: ignore[attr-defined]

    # ---- actions ------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # False hides a key from the footer while it cannot do anything (80 columns are few).
        if action == "cancel":
            return self.running
        if action == "export":
            return self.view is not None and bool(self.view.items)
        return True

    async def action_run(self) -> None:
        if self.running:
            self.notify("A run is in progress; press escape to cancel it first", severity="warning")
            return
        setup = self.mode_screen("setup")
        if setup is None:
            return
        try:
            request = setup.run_request()  # type: ignore[attr-defined]
        except UserError as exc:
            self.notify(str(exc), title="Cannot run", severity="error", timeout=8)
            await self.switch_mode("setup")
            return
        await self.switch_mode("run")
        run_screen = self.mode_screen("run")
        if run_screen is not None:
            run_screen.start(request)  # type: ignore[attr-defined]

    def action_cancel(self) -> None:
        run_screen = self.mode_screen("run")
        if self.running and run_screen is not None:
            run_screen.cancel()  # type: ignore[attr-defined]

    def action_export(self) -> None:
        if self.view is None or not self.view.items:
            self.notify("Nothing to export yet: run a sweep or open a run from History", severity="warning")
            return
        from jitscope.ui.screens.dialogs import ExportDialog, export_view

        def done(request: Any) -> None:
            if request is None:
                return
            try:
                written = export_view(self.view, request)  # type: ignore[arg-type]
            except UserError as exc:
                self.notify(str(exc), title="Export failed", severity="error", timeout=10)
                return
            cells = len(self.view.items) if self.view else 0
            others = ", ".join(p.suffix for p in written[1:])
            self.notify(f"{cells} cells to {written[0]}" + (f" (+ {others})" if others else ""),
                        title="Exported", timeout=10)

        self.push_screen(ExportDialog(self.view, self.export_dir), done)

    def action_next_theme(self) -> None:
        names = self.theme_names
        current = names.index(self.theme) if self.theme in names else -1
        self.theme = names[(current + 1) % len(names)]
        self.notify(f"Theme: {self.theme}", timeout=2)

    def action_help(self) -> None:
        from jitscope.ui.screens.dialogs import HelpScreen

        if isinstance(self.screen, HelpScreen):
            self.screen.dismiss(None)
            return
        self.push_screen(HelpScreen([(key, what) for key, what, _a, _n in self.key_table(self.screen)]))

    def interrupt(self, signum: int, wait_s: float = 10.0) -> None:
        """Stop a run in flight as ``interrupted`` and wait (bounded) until its store is
        final, then exit with 128 + ``signum``. Called from a signal handler."""
        run_screen = self.mode_screen("run")
        job = getattr(run_screen, "job", None)
        if job is not None and not job.done.is_set():
            job.cancel(interrupted=True)
            job.done.wait(wait_s)
        self.probe_cancel.set()
        self.exit(128 + signum, return_code=128 + signum)

    async def action_quit(self) -> None:
        run_screen = self.mode_screen("run")
        if self.running and run_screen is not None:
            await run_screen.stop_and_wait()  # type: ignore[attr-defined]
        self.probes_paused.set()
        self.probe_cancel.set()  # a version probe in flight is killed, not waited for
        self.exit(0)

    # ---- keys everywhere: footer, help, command palette ---------------------------------------
    def key_table(self, screen: Screen[Any]) -> list[tuple[str, str, str, Any]]:
        """(key, what it does, action, node) for every key active on ``screen``: its focused
        widget's and its own first, then the app's. Built from the bindings, so never stale."""
        rows: list[tuple[int, str, str, str, Any]] = []
        seen: set[str] = set()
        for key, active in screen.active_bindings.items():
            b = active.binding
            if not b.description or b.system or (not b.show and b.action.startswith("toggle_series")):
                continue
            display = b.key_display or self.get_key_display(b)
            if display in seen or key.startswith("super+"):
                continue
            seen.add(display)
            what = str(b.tooltip or b.description)
            # jitscope's own keys first (the screen's, then the app's), generic ones last
            own_screen = active.node is screen and any(_same(b, o) for o in type(screen).BINDINGS)
            own_app = active.node is self and any(_same(b, o) for o in type(self).BINDINGS)
            rank = 0 if own_screen else 1 if own_app else 2
            rows.append((rank, display, what, b.action, active.node))
        rows.sort(key=lambda row: row[0])
        return [row[1:] for row in rows]

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        for key, what, action, node in self.key_table(screen):
            if action in ("quit", "help", "command_palette"):
                continue
            title = what.split(" (")[0] if len(what) < 60 else what[:57] + "…"
            yield SystemCommand(f"{title} ({key})", what, partial(self.call_later, self.run_action, action, node))
        for name in self.theme_names:
            yield SystemCommand(f"Theme: {name}", "Switch to this theme", partial(setattr, self, "theme", name))
        yield SystemCommand("Keys (?)", "Show every key of this screen and the app", self.action_help)
        yield SystemCommand("Quit (q)", "Quit (a running sweep is cancelled first)",
                            partial(self.call_later, self.action_quit))


def _same(binding: Binding, declared: Any) -> bool:
    return isinstance(declared, Binding) and declared.action == binding.action and binding.key in declared.key.split(",")


def run_app(selection: Selection | None, db_path: Path, workload_files: list[str]) -> int:
    """Open the app (``jitscope`` with no subcommand). Returns the exit code."""
    from jitscope.core.registry import load_registry

    try:
        registry = load_registry(workload_files)
    except UserError as exc:
        import sys

        print(f"jitscope: {exc}", file=sys.stderr)
        return 2
    app = JitscopeApp(registry, Path(db_path), selection)
    with terminal_signals(app):
        result = app.run()
    return app.return_code or int(result or 0)


def terminal_signals(app: JitscopeApp) -> contextlib.AbstractContextManager[None]:
    """SIGHUP (the terminal went away: a dropped SSH session) and SIGTERM stop a run in
    flight the way a signal stops ``jitscope run``: the worker is killed, finished cells
    are kept, the run is recorded ``interrupted``; then the app exits with 128 + signal."""
    return on_signals(app.interrupt)
