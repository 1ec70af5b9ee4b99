"""The jitscope terminal app: the App owns the background work, the :class:`Session` holds what
the screens share, and the screens own the behaviour.

Nothing here imports a numerical backend: backends are probed and run in worker processes
(``jitscope.runner``), and this process only reads their events from background threads.
The first frame needs Textual and the Setup screen's skeleton alone: the registry (the
workload modules, NumPy, the plugins' entry points), the other screens, the plots and the
store are all loaded after it, off the UI thread where they may block.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.notifications import SeverityLevel
from textual.reactive import reactive
from textual.screen import Screen
from textual.worker import get_current_worker

from jitscope.core.errors import UserError
from jitscope.core.text import printable
from jitscope.ui import STYLES
from jitscope.ui.messages import BackendProbed, RegistryLoaded, RunEvent
from jitscope.ui.shared_state import Probe, Session, SessionApp
from jitscope.ui.themes import DEFAULT_THEME, THEME_ENV, load_themes

if TYPE_CHECKING:
    import threading

    from jitscope.core.backend import Availability
    from jitscope.core.registry import Registry
    from jitscope.runner.plan import Selection
    from jitscope.ui.exporting import ExportRequest
    from jitscope.ui.job import RunFactory, RunJob
    from jitscope.ui.state import RunEnded

RegistryLoader = Callable[[], "Registry"]
STATUS_INTERVAL_S = 0.25  # the mode bar's run status, 4 times a second during a run


def probe_in_worker(backend: str, device: str, workload_files: tuple[str, ...] = (),
                    cancel: threading.Event | None = None) -> dict[str, Any]:
    """Version and devices from a worker process (the UI imports no backend)."""
    from jitscope.runner.probe import probe_backend

    return probe_backend(backend, device, workload_files, timeout_s=60.0, cancel=cancel)


def availability_of(registry: Registry) -> dict[str, Availability]:
    """Each backend's availability (a look on disk for its modules; no import)."""
    return {name: backend.availability() for name, backend in registry.backends.items()}


def _setup_screen() -> Screen[None]:
    from jitscope.ui.screens.setup import SetupScreen

    return SetupScreen()


def _run_screen() -> Screen[None]:
    from jitscope.ui.screens.run import RunScreen

    return RunScreen()


def _results_screen() -> Screen[None]:
    from jitscope.ui.screens.results import ResultsScreen

    return ResultsScreen()


def _history_screen() -> Screen[None]:
    from jitscope.ui.screens.history import HistoryScreen

    return HistoryScreen()


class JitscopeApp(SessionApp):
    """Setup -> Run -> Results, and History; every action has a key (see :data:`BINDINGS`)."""

    CSS_PATH = STYLES / "jitscope.tcss"  # absolute: subclasses live elsewhere; each screen adds its own
    TITLE = "jitscope"
    DEFAULT_MODE = "setup"
    MODES = {"setup": _setup_screen, "run": _run_screen, "results": _results_screen, "history": _history_screen}
    BINDINGS = [
        # r is shown in the footer by Setup and Run (their bindings point here); on the other
        # screens it still works, listed in the help (?) and the command palette.
        Binding("r", "run", "Run", show=False, tooltip="Run the selection from the Setup screen"),
        Binding("escape", "cancel", "Cancel", tooltip="Cancel the run (finished cells are kept)"),
        Binding("e", "export", "Export", tooltip="Export the results shown to CSV/JSON/Markdown"),
        Binding("t", "next_theme", "Theme", show=False, tooltip="Switch to the next theme"),
        Binding("ctrl+o", "load_kernels", "Load kernels", show=False,
                tooltip="Load or reload a file of your own kernels (jitscope.workload)"),
        Binding("question_mark", "help", "Keys", key_display="?", tooltip="Show every key"),
        Binding("q", "quit", "Quit", tooltip="Quit (a running sweep is cancelled first)"),
        Binding("s", "mode('setup')", "Setup screen", show=False),
        Binding("l", "mode('run')", "Live run screen", show=False),
        Binding("v", "mode('results')", "Results screen", show=False),
        Binding("h", "mode('history')", "History screen", show=False),
    ]

    # Screens get -narrow below 80 columns and -short below 24 rows: the layout gives the
    # answer and the keys room down to 60x20 (the smallest size supported, a common split pane).
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (80, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (24, "-tall")]

    run_status: reactive[str] = reactive("")

    def __init__(
        self,
        registry: Registry | RegistryLoader,
        db_path: Path,
        selection: Selection | None = None,
        *,
        run_factory: RunFactory | None = None,
        probe: Probe | None = probe_in_worker,
        clock: Callable[[], float] | None = None,
        export_dir: Path | None = None,
        theme: str | None = None,
    ) -> None:
        """``registry``: the registry, or a function that loads it (called in a thread after
        the first frame, which is what ``jitscope`` does). ``run_factory``: how a run is made
        (None: the real, recorded run). ``probe=None`` probes no versions."""
        super().__init__()
        if clock is None:
            import time

            clock = time.monotonic
        self.session = Session(
            self, Path(db_path), selection=selection, run_factory=run_factory,
            probe=self._probe_in_worker if probe is probe_in_worker else probe,
            clock=clock, export_dir=export_dir or Path.cwd(),
        )
        self._registry_loader: RegistryLoader | None = None
        self._last_kernels_file = ""
        if callable(registry):
            self._registry_loader = registry
        else:
            self.session.registry = registry
            self.session.availability = availability_of(registry)
        self.startup_problems: list[str] = []
        themes, problems = load_themes()
        self.startup_problems += problems
        self.theme_names = [t.name for t in themes]
        for t in themes:
            self.register_theme(t)
        wanted = theme or os.environ.get(THEME_ENV) or DEFAULT_THEME
        first = wanted if wanted in self.available_themes else self.theme_names[0] if self.theme_names else None
        if first is not None:
            self.set_reactive(App.theme, first)
            dark = self.current_theme.dark
            self.set_class(dark, "-dark-mode", update=False)
            self.set_class(not dark, "-light-mode", update=False)
        if not self.theme_names:
            self.theme_names = ["textual-dark", "textual-light"]

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None, markup: bool = True) -> None:
        """Every notification shows its text as text, whoever asks for it (``Widget.notify``
        passes ``markup=True``): messages carry file names, reasons and labels from users,
        plugins and workers (``cannot open [/tmp/x]`` is not markup), and terminal control
        characters are taken out."""
        super().notify(printable(message), title=printable(title), severity=severity, timeout=timeout, markup=False)

    def on_mount(self) -> None:
        self._status_timer = self.set_interval(STATUS_INTERVAL_S, self._show_status, pause=True)
        if self._registry_loader is None:
            self._registry_ready()

    def on_ready(self) -> None:
        # The first frame is on screen: only now load the registry. Its thread imports NumPy
        # and the plugins, and would compete with the first frame for the interpreter.
        if self._registry_loader is not None:
            self._load_registry(self._registry_loader)

    # ---- background work: the registry, version probes -------------------------------------
    @work(thread=True, group="registry", exit_on_error=False)
    def _load_registry(self, loader: RegistryLoader, reload: bool = False, added_file: str = "") -> None:
        try:
            registry = loader()
            availability = availability_of(registry)
        except UserError as exc:
            self.post_message(RegistryLoaded(None, error=str(exc), reload=reload))
            return
        except Exception as exc:  # a reload must never take the app down with it
            if not reload:
                raise
            self.post_message(RegistryLoaded(None, error=f"{type(exc).__name__}: {exc}", reload=True))
            return
        # The Setup form's module and its planner, imported here rather than on the UI thread.
        import jitscope.ui.screens.setup_form  # noqa: F401

        added = tuple(registry.file_workloads_of(added_file)) if added_file else ()
        self.post_message(RegistryLoaded(registry, availability, reload=reload, added=added))

    def on_registry_loaded(self, message: RegistryLoaded) -> None:
        if message.registry is None:
            if message.reload:
                self.notify(message.error, title="The kernels file was not loaded", severity="error", timeout=12)
                return
            self.exit(2, return_code=2, message=Text(f"jitscope: {printable(message.error)}"))
            return
        if message.reload:
            self._keep_selection(message.registry, message.added)
            names = ", ".join(message.added) or "no workload"
            self.notify(f"loaded {names}", title="Kernels file loaded")
        self.session.registry = message.registry
        self.session.availability = message.availability
        self._registry_ready()
        self.session.registry_ready.publish(message.registry)

    def _keep_selection(self, registry: Registry, added: tuple[str, ...]) -> None:
        """What Setup shows after a reload: the form's choices where they still exist, with
        the file's workloads selected (as ``-w file.py`` selects them)."""
        from dataclasses import replace

        from jitscope.runner.plan import Selection

        request = self.session.request
        sel = request.selection if request is not None else self.session.initial_selection or Selection(workloads=[], backends=[])
        workloads = [w for w in sel.workloads if w in registry.workloads]
        workloads += [w for w in added if w not in workloads]
        self.session.initial_selection = replace(sel, workloads=workloads)

    def action_load_kernels(self) -> None:
        """A file of the user's own kernels: loaded (or reloaded, after an edit) with the
        workload files already in use, in a thread; runs then load the same files."""
        if self.session.running:
            self.notify("A run is in flight: load the file once it is done (escape cancels it)", severity="warning")
            return
        if self.session.registry is None:
            self.notify("Still loading the workloads and backends", severity="warning")
            return
        from jitscope.ui.screens.dialogs import PathDialog

        current = self.session.registry.workload_files
        suggestion = self._last_kernels_file or (current[-1] if current else "kernels.py")

        def chosen(path: str | None) -> None:
            if not path:
                return
            self._last_kernels_file = path
            resolved = str(Path(path).expanduser().resolve())
            files = [f for f in current if f != resolved] + [path]

            def loader() -> Registry:
                from jitscope.core.registry import load_registry

                return load_registry(files)

            self._load_registry(loader, reload=True, added_file=path)

        self.push_screen(PathDialog("Load kernels file (jitscope.workload)", "path/to/kernels.py", suggestion), chosen)

    def _registry_ready(self) -> None:
        registry = self.session.registry
        problems = [*(registry.problems if registry else []), *self.startup_problems]
        if problems:  # one short note; `jitscope backends` has the details
            first = problems[0]
            more = len(problems) - 1
            self.notify((first if len(first) < 120 else first[:119] + "…") + (f" (+{more} more)" if more else ""),
                        title="Not everything could be loaded", severity="warning", timeout=6)
        self.call_after_refresh(self.start_probes)

    def _probe_in_worker(self, backend: str, device: str) -> dict[str, Any]:
        registry = self.session.registry
        files = registry.workload_files if registry is not None else ()
        return probe_in_worker(backend, device, files, cancel=self.session.probes.cancel)

    def start_probes(self) -> None:
        """Probe the versions of the available backends not probed yet, one at a time."""
        session = self.session
        if session.probe is None or session.registry is None or session.running:
            return
        if any(w.group == "probe" and w.is_running for w in self.workers):
            return
        todo = [n for n in session.registry.backends
                if n not in session.backend_info and session.availability.get(n) and session.availability[n].available]
        if todo:
            self._probe_all(todo, session.probe)

    @work(thread=True, group="probe", exit_on_error=False)
    def _probe_all(self, names: list[str], probe: Probe) -> None:
        gate = self.session.probes
        worker = get_current_worker()
        for name in names:
            if worker.is_cancelled or gate.paused.is_set():
                return
            with gate.lock:
                if gate.paused.is_set():
                    return
                try:
                    info = probe(name, "cpu")
                except Exception as exc:  # a probe must never take the app down
                    info = {"error": f"{type(exc).__name__}: {exc}"}
            if info.get("cancelled"):  # a run started: probe it again later
                return
            self.post_message(BackendProbed(name, info))

    def on_backend_probed(self, message: BackendProbed) -> None:
        self.session.backend_info[message.backend] = message.info
        self.session.backend_probed.publish(message.backend)

    # ---- runs ---------------------------------------------------------------------------------
    async def action_run(self) -> None:
        session = self.session
        if session.running:
            self.notify("A run is in progress; press escape to cancel it first", severity="warning")
            return
        request = session.request
        if request is None or session.registry is None:
            self.notify(session.request_problem, title="Cannot run", severity="error", timeout=8)
            await self.switch_mode("setup")
            return
        from jitscope.ui.job import RunJob
        from jitscope.ui.planning import cost_model
        from jitscope.ui.runs import drive, recorded_run
        from jitscope.ui.state import RunProgress

        job = RunJob(request, RunProgress(list(request.plan.cells), session.clock, cost=cost_model(session.registry)))
        session.job = job
        self.refresh_bindings()
        await self.switch_mode("run")
        factory = session.run_factory or recorded_run
        self.run_worker(partial(drive, job, factory, session.registry, session.db_path, session.probes,
                                self.post_message), thread=True, group="run", exit_on_error=False)
        self._status_timer.resume()

    def _show_status(self) -> None:
        """The run's state in the mode bar, whichever screen is shown."""
        from jitscope.ui.state import status_line

        job = self.session.job
        self.run_status = status_line(job.progress, job.cancel_requested) if job is not None and not job.finished else ""

    def on_run_event(self, message: RunEvent) -> None:
        """Apply an event of the run in flight to its progress, then tell the screens."""
        from jitscope.ui.state import RunEnded

        job = self.session.job
        if message.job is not job or job.finished:  # a stale run's straggler
            return
        event = message.event
        if message.run_id is not None:
            job.progress.run_id = message.run_id
        job.progress.apply(event)
        if isinstance(event, RunEnded):
            self._run_ended(job, event)
        self.session.run_updated.publish(message)

    def _run_ended(self, job: RunJob, end: RunEnded) -> None:
        from jitscope.ui.state import ResultSet, RunRef

        progress = job.progress
        runner = job.runner
        results = runner.ordered_results() if runner is not None else progress.results()
        record = runner.run_record() if runner is not None else {}
        run_id = progress.run_id
        counts = progress.counts()
        summary = ", ".join(f"{n} {k}" for k, n in counts.items()) or "nothing finished"
        if end.error:
            self.notify(end.error, title="Run stopped", severity="error", timeout=10)
        elif end.cancelled:
            self.notify(f"Cancelled; kept {summary}", title=f"Run #{run_id}" if run_id else "Run", severity="warning")
        else:
            self.notify(f"{summary}. enter: results, e: export", title=f"Run #{run_id} finished" if run_id else "Run finished")
        if results:
            ref = RunRef(run_id, f"#{run_id}" if run_id else "run", record)
            self.session.show(ResultSet.single(results, ref, title=f"run #{run_id}" if run_id else "this run"))
        self._status_timer.pause()
        self.run_status = ""
        self.refresh_bindings()
        self.session.probes.resume()
        self.start_probes()

    def action_cancel(self) -> None:
        job = self.session.job
        if job is not None and not job.finished:
            job.cancel()
            self._show_status()

    def interrupt(self, signum: int, wait_s: float = 10.0) -> None:
        """Stop a run in flight as ``interrupted`` and wait (bounded) until its store is
        final, then exit with 128 + ``signum``. Called from a signal handler."""
        job = self.session.job
        if job is not None and not job.done.is_set():
            job.cancel(interrupted=True)
            job.done.wait(wait_s)
        self.session.probes.close()
        self.exit(128 + signum, return_code=128 + signum)

    async def action_quit(self) -> None:
        job = self.session.job
        if job is not None and not job.done.is_set():
            import asyncio

            job.cancel()
            await asyncio.to_thread(job.done.wait, 10.0)
        self.session.probes.close()  # a version probe in flight is killed, not waited for
        self.exit(0)

    def on_unmount(self) -> None:
        # The app is closing (any way it can): never leave a worker process behind.
        job = self.session.job
        if job is not None and not job.done.is_set():
            job.cancel()
        self.session.probes.close()

    # ---- screens, export, themes, help --------------------------------------------------------
    async def action_mode(self, mode: str) -> None:
        await self.switch_mode(mode)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # False hides a key from the footer while it cannot do anything (80 columns are few).
        if action == "cancel":
            return self.session.running
        if action == "export":
            return self.session.view is not None and bool(self.session.view.items)
        return True

    def action_export(self) -> None:
        view = self.session.view
        if view is None or not view.items:
            self.notify("Nothing to export yet: run a sweep or open a run from History", severity="warning")
            return
        from jitscope.ui.screens.dialogs import ExportDialog

        def chosen(request: ExportRequest | None) -> None:
            if request is not None:
                self._export(view, request)

        self.push_screen(ExportDialog(view, self.session.export_dir), chosen)

    @work(thread=True, group="export", exit_on_error=False)
    def _export(self, view: Any, request: ExportRequest) -> None:
        """Writing files can block (a slow or full disk): off the UI thread."""
        from jitscope.ui.exporting import export_view

        try:
            written = export_view(view, request, self.session.db_path)
        except UserError as exc:
            self.call_from_thread(self.notify, str(exc), title="Export failed", severity="error", timeout=10)
            return
        others = ", ".join(p.suffix for p in written[1:])
        self.call_from_thread(self.notify, f"{len(view.items)} cells to {written[0]}" + (f" (+ {others})" if others else ""),
                              title="Exported", timeout=10)

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
            # A help line only where it adds to the title: the palette shows it under each entry.
            helps = what if what != title else ""
            yield SystemCommand(f"{title} ({key})", helps, partial(self.call_later, self.run_action, action, node))
        for name in self.theme_names:
            yield SystemCommand(f"Theme: {name}", "Switch to this theme", partial(setattr, self, "theme", name))
        yield SystemCommand("Keys (?)", "Show every key of this screen and the app", self.action_help)
        yield SystemCommand("Quit (q)", "Quit (a running sweep is cancelled first)",
                            partial(self.call_later, self.action_quit))


def _same(binding: Binding, declared: Any) -> bool:
    return isinstance(declared, Binding) and declared.action == binding.action and binding.key in declared.key.split(",")


def run_app(selection: Selection | None, db_path: Path, workload_files: list[str],
            registry: Registry | None = None) -> int:
    """Open the app (``jitscope`` with no subcommand). Returns the exit code. Without a
    ``registry``, it is loaded in the background once the first frame is on screen."""
    from jitscope.runner.signals import on_signals

    source: Registry | RegistryLoader
    if registry is not None:
        source = registry
    else:
        def source() -> Registry:
            from jitscope.core.registry import load_registry

            return load_registry(workload_files)

    app = JitscopeApp(source, Path(db_path), selection)
    # SIGHUP (the terminal went away: a dropped SSH session) and SIGTERM stop a run in flight
    # the way a signal stops `jitscope run`: the worker is killed, finished cells are kept,
    # the run is recorded `interrupted`; then the app exits with 128 + signal.
    with on_signals(app.interrupt):
        result = app.run()
    return app.return_code or int(result or 0)
