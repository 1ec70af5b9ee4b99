"""The jitscope terminal app, kept thin: it declares the screens and the keys, starts the work
off the UI thread and feeds what comes back into the :class:`Session`, which the screens read
and draw from (each screen owns its behaviour). The work itself lives in its own modules:
``ui.background`` (registry, version probes), ``ui.runs`` / ``ui.job`` (the run),
``ui.exporting``, ``ui.keys`` (help and palette), ``ui.themes``.

Nothing here imports a numerical backend: backends are probed and run in worker processes
(``jitscope.runner``), and this process only reads their events from background threads.
The first frame needs Textual and the Setup screen's skeleton alone: the registry (the
workload modules, NumPy, the plugins' entry points), the other screens, the plots and the
store are all loaded after it, off the UI thread where they may block.
"""

from __future__ import annotations

import contextlib
import signal
import sys
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.app import SystemCommand
from textual.binding import Binding
from textual.notifications import SeverityLevel
from textual.reactive import reactive
from textual.screen import Screen

from jitscope.core.text import printable
from jitscope.ui import STYLES
from jitscope.ui.background import RegistryLoader, availability_of, probe_in_worker
from jitscope.ui.keys import next_in_cycle, palette_commands
from jitscope.ui.messages import BackendProbed, RegistryLoaded, RunEvent, RunningFound
from jitscope.ui.shared_state import Probe, Session, SessionApp
from jitscope.ui.themes import install_themes

if TYPE_CHECKING:
    from jitscope.core.registry import Registry
    from jitscope.runner.plan import Selection
    from jitscope.ui.exporting import ExportRequest
    from jitscope.ui.job import RunFactory, RunJob
    from jitscope.ui.state import ResultSet, RunEnded

STATUS_INTERVAL_S = 0.25  # the mode bar's run status, 4 times a second during a run
RUN_STOP_WAIT_S = 10.0  # after a stop signal, for the run's thread to record the run interrupted


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
        Binding("q", "quit", "Quit", tooltip="Quit (during a run: cancel it, or keep it running in the background)"),
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
        self._pending_stop: int | None = None
        if callable(registry):
            self._registry_loader = registry
        else:
            self.session.registry = registry
            self.session.availability = availability_of(registry)
        self.theme_names, self.startup_problems = install_themes(self, theme)

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None, markup: bool = True) -> None:
        """Every notification shows its text as text, whoever asks for it (``Widget.notify``
        passes ``markup=True``): messages carry file names, reasons and labels from users,
        plugins and workers (``cannot open [/tmp/x]`` is not markup), and terminal control
        characters are taken out."""
        super().notify(printable(message), title=printable(title), severity=severity, timeout=timeout, markup=False)

    def on_mount(self) -> None:
        self._status_timer = self.set_interval(STATUS_INTERVAL_S, self._show_status, pause=True)
        if self._pending_stop is not None:  # a stop signal came before the event loop ran
            self._stop_after_signal(self._pending_stop)
            return
        if self._registry_loader is None:
            self._registry_ready()

    def on_ready(self) -> None:
        # The first frame is on screen: only now load the registry. Its thread imports NumPy
        # and the plugins, and would compete with the first frame for the interpreter.
        if self._registry_loader is not None:
            self._load_registry(self._registry_loader)
        self._find_running()

    # ---- background work: the registry, version probes -------------------------------------
    def _load_registry(self, loader: RegistryLoader, reload: bool = False, added_file: str = "") -> None:
        from jitscope.ui import background

        self.run_worker(partial(background.load_registry, loader, self.post_message, reload=reload,
                                added_file=added_file), thread=True, group="registry", exit_on_error=False)

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
        from jitscope.ui.background import backends_to_probe, probe_backends

        session = self.session
        if session.probe is None or session.registry is None or session.running:
            return
        if any(w.group == "probe" and w.is_running for w in self.workers):
            return
        todo = backends_to_probe(session)
        if todo:
            self.run_worker(partial(probe_backends, todo, session.probe, session.probes, self.post_message),
                            thread=True, group="probe", exit_on_error=False)

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
        from jitscope.ui.runs import recorded_run
        from jitscope.ui.state import RunProgress

        job = RunJob(request, RunProgress(list(request.plan.cells), session.clock, cost=cost_model(session.registry)))
        await self.start_job(job, session.run_factory or recorded_run, session.registry)

    async def start_job(self, job: RunJob, factory: RunFactory, registry: Registry) -> None:
        """Make ``job`` the run in flight, show Live run, drive it in a thread."""
        from jitscope.ui.runs import drive

        session = self.session
        session.job = job
        self.refresh_bindings()
        await self.switch_mode("run")
        self.run_worker(partial(drive, job, factory, registry, session.db_path, session.probes,
                                self.post_message), thread=True, group="run", exit_on_error=False)
        self._status_timer.resume()

    # ---- runs already running when the app opens (in daemons: started here or by --detach) -----
    def _find_running(self) -> None:
        from jitscope.ui.daemon_run import find_running

        def search() -> None:
            self.post_message(RunningFound(find_running(self.session.db_path)))

        self.run_worker(search, thread=True, group="store", exit_on_error=False)

    async def on_running_found(self, message: RunningFound) -> None:
        """Show the newest run found running on Live run, reattached (unless a run was
        started here meanwhile), and say how many others run."""
        from jitscope.ui.following import attach_job, found_notice

        found = message.found
        notice = found_notice(found, self.session.db_path)
        if notice is not None:
            self.notify(notice.message, title=notice.title, severity=notice.severity, timeout=notice.timeout)
        running = found.newest
        if running is None or running.registry is None or self.session.running:
            return
        job, factory = attach_job(running, self.session.clock)
        await self.start_job(job, factory, running.registry)

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
        from jitscope.ui.job import end_notice, results_view

        notice = end_notice(job, end)
        self.notify(notice.message, title=notice.title, severity=notice.severity, timeout=notice.timeout)
        view = results_view(job)
        if view is not None:
            self.session.show(view)
        self._status_timer.pause()
        self.run_status = ""
        if self.screen_stack:  # not when the end arrives as the app closes (q then c): no screen is left
            self.refresh_bindings()
        self.session.probes.resume()
        self.start_probes()

    def action_cancel(self) -> None:
        job = self.session.job
        if job is not None and not job.finished:
            job.cancel()
            self._show_status()

    def interrupt(self, signum: int) -> None:
        """A stop signal (SIGHUP: the terminal went away; SIGTERM), from any thread, never
        from a signal handler (the exit guard's thread calls it): cancel a run in flight as
        ``interrupted``, kill a version probe, and have the UI exit with 128 + ``signum`` once
        the run's store is final. After a hang-up the terminal is let go of first, so that
        nothing on the way out writes to a terminal that is gone."""
        self._let_go_if_hung_up(signum)
        job = self.session.job
        if job is not None and not job.done.is_set():
            job.cancel(interrupted=True)
        self.session.probes.close()
        loop = self._loop
        if loop is None:  # not running yet: on_mount sees it
            self._pending_stop = signum
            return
        with contextlib.suppress(RuntimeError):  # the loop has closed: the app is gone already
            loop.call_soon_threadsafe(self._stop_after_signal, signum)

    def _let_go_if_hung_up(self, signum: int) -> None:
        if sys.platform == "win32" or signum != signal.SIGHUP:
            return
        from jitscope.ui.terminal import HangupSafeDriver, let_go_of_terminal, terminal_gone

        if terminal_gone():  # a real hang-up, not a `kill -HUP` with the terminal still there
            let_go_of_terminal()
            if isinstance(self._driver, HangupSafeDriver):
                self._driver.terminal_lost()

    def _stop_after_signal(self, signum: int) -> None:
        self.run_worker(self._exit_after_run(signum), group="stop", exit_on_error=False)

    async def _exit_after_run(self, signum: int) -> None:
        job = self.session.job
        if job is not None and not job.done.is_set():
            import asyncio

            await asyncio.to_thread(job.done.wait, RUN_STOP_WAIT_S)
        self.exit(128 + signum, return_code=128 + signum)

    async def action_quit(self) -> None:
        """Quit; during a run, ask first: cancel it, or keep it running in the background
        (it lives in a daemon process: see ``ui.daemon_run``), or stay."""
        from jitscope.ui.screens.dialogs import QuitRunDialog

        job = self.session.job
        if isinstance(self.screen, QuitRunDialog):
            return
        if job is not None and self.session.running and not job.left:
            self.push_screen(QuitRunDialog(job.progress.run_id), self._quit_answered)
            return
        await self._quit(keep=False)

    async def _quit_answered(self, answer: str | None) -> None:
        if answer is not None:
            await self._quit(keep=answer == "keep")

    async def _quit(self, *, keep: bool) -> None:
        job = self.session.job
        message: Text | None = None
        if job is not None and not job.done.is_set():
            import asyncio

            if keep:
                from jitscope.ui.daemon_run import follow_words

                job.leave()
                run_id = job.progress.run_id or (job.runner.run_id if job.runner is not None else None)
                message = Text(f"jitscope: run {run_id} goes on in the background; "
                               + follow_words(self.session.db_path, run_id).replace(" · ", "; ") if run_id else
                               "jitscope: the run was still starting; `jitscope history` says whether it runs")
            else:
                job.cancel()
            await asyncio.to_thread(job.done.wait, 10.0)
        self.session.probes.close()  # a version probe in flight is killed, not waited for
        self.exit(0, message=message)

    def on_unmount(self) -> None:
        # The app is closing (any way it can): it lets go of a run in flight, which lives in
        # a daemon of its own and goes on (a run in this process, a test's, is stopped).
        job = self.session.job
        if job is not None and not job.done.is_set():
            job.leave()
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

    def _export(self, view: ResultSet, request: ExportRequest) -> None:
        """Writing files can block (a slow or full disk): off the UI thread."""
        from jitscope.ui.exporting import export_in_thread

        self.run_worker(partial(export_in_thread, view, request, self.session.db_path,
                                partial(self.call_from_thread, self.notify)),
                        thread=True, group="export", exit_on_error=False)

    def action_next_theme(self) -> None:
        self.theme = next_in_cycle(self.theme_names, self.theme)
        self.notify(f"Theme: {self.theme}", timeout=2)

    def action_help(self) -> None:
        from jitscope.ui.keys import key_table
        from jitscope.ui.screens.dialogs import HelpScreen

        if isinstance(self.screen, HelpScreen):
            self.screen.dismiss(None)
            return
        self.push_screen(HelpScreen([(key, what) for key, what, _a, _n in key_table(self, self.screen)]))

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        return palette_commands(self, screen, self.theme_names, show_help=self.action_help,
                                quit_app=self.action_quit)


def run_app(selection: Selection | None, db_path: Path, workload_files: list[str],
            registry: Registry | None = None) -> int:
    """Open the app (``jitscope`` with no subcommand). Returns the exit code. Without a
    ``registry``, it is loaded in the background once the first frame is on screen."""
    source: Registry | RegistryLoader
    if registry is not None:
        source = registry
    else:
        def source() -> Registry:
            from jitscope.core.registry import load_registry

            return load_registry(workload_files)

    app = JitscopeApp(source, Path(db_path), selection)
    return _run_guarded(app)


def _run_guarded(app: JitscopeApp) -> int:
    """Run ``app`` with SIGHUP (the terminal went away: a dropped SSH session) and SIGTERM
    handled: a run in flight is stopped the way a signal stops `jitscope run` (the worker is
    killed, finished cells are kept, the run is recorded `interrupted`), then the app exits
    with 128 + signal, in at most :data:`~jitscope.ui.exit_guard.EXIT_BOUND_S` seconds
    (the exit guard forces it where the orderly way is stuck)."""
    from jitscope.runner.signals import on_signals
    from jitscope.ui.exit_guard import ExitGuard, kill_own_workers

    def last_words(wait_s: float) -> None:
        job = app.session.job
        if job is not None:
            job.done.wait(wait_s)
        if sys.platform != "win32":  # SIGTERM: the terminal may still be there
            from jitscope.ui.terminal import HangupSafeDriver, restore_terminal

            if isinstance(app._driver, HangupSafeDriver):
                restore_terminal(app._driver.attrs_before, app._driver.fileno)

    guard = ExitGuard(app.interrupt, last_words)
    if sys.platform != "win32":
        from jitscope.ui.terminal import HangupSafeDriver

        app.driver_class = HangupSafeDriver
    with on_signals(guard.handler):
        result = app.run()
    if guard.signum is not None:
        kill_own_workers()  # a probe's worker, if its thread had not killed it yet
        return 128 + guard.signum
    return app.return_code or int(result or 0)
