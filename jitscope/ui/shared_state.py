"""What the app's screens share, in one typed place: the :class:`Session`.

Screens never reach into the app or into each other. Each reads and changes the session
(``self.session`` on a :class:`SessionScreen`) and hears about changes through its signals
(Textual's ``Signal``: a subscriber's callback runs on the UI thread, after the messages
already queued for it). The app owns the background work (loading the registry, version
probes, the run's thread) and feeds the results into the session.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual.app import App
from textual.dom import DOMNode
from textual.screen import Screen
from textual.signal import Signal

from jitscope.ui.probe_gate import ProbeGate

if TYPE_CHECKING:
    from jitscope.core.backend import Availability
    from jitscope.core.registry import Registry
    from jitscope.runner.plan import Selection
    from jitscope.ui.job import RunFactory, RunJob
    from jitscope.ui.messages import RunEvent
    from jitscope.ui.planning import RunRequest
    from jitscope.ui.state import ResultSet

# (backend, device) -> {"version": ..., "devices": [...]} or {"error": ...}
Probe = Callable[[str, str], dict[str, Any]]


class Session:
    """The app's shared state. Signals (all owned by the app, published on the UI thread):

    * :attr:`registry_ready` — the registry was loaded (the Setup form builds itself);
    * :attr:`backend_probed` — a backend's version/devices arrived (name of the backend);
    * :attr:`run_updated` — an event of the run in flight was applied to its progress;
    * :attr:`view_changed` — :attr:`view`, what Results shows, was replaced.
    """

    def __init__(
        self,
        owner: DOMNode,
        db_path: Path,
        *,
        selection: Selection | None,
        run_factory: RunFactory | None,
        probe: Probe | None,
        clock: Callable[[], float],
        export_dir: Path,
    ) -> None:
        self.db_path = db_path
        self.initial_selection = selection
        self.run_factory = run_factory  # None: the real run (jitscope.ui.runs.recorded_run)
        self.probe = probe  # None: versions are not probed (benchmarks, some tests)
        self.clock = clock
        self.export_dir = export_dir
        self.registry: Registry | None = None  # None until loaded (after the first frame)
        self.availability: dict[str, Availability] = {}
        self.backend_info: dict[str, dict[str, Any]] = {}
        self.probes = ProbeGate()
        self.request: RunRequest | None = None  # what r runs: the Setup form, when valid
        self.request_problem = "the workloads and backends are still loading"
        self.job: RunJob | None = None  # the run in flight, or the last one
        self.view: ResultSet | None = None  # what Results shows
        self.registry_ready: Signal[Registry] = Signal(owner, "registry-ready")
        self.backend_probed: Signal[str] = Signal(owner, "backend-probed")
        self.run_updated: Signal[RunEvent] = Signal(owner, "run-updated")
        self.view_changed: Signal[ResultSet] = Signal(owner, "view-changed")

    @property
    def running(self) -> bool:
        return self.job is not None and not self.job.finished

    def show(self, view: ResultSet) -> None:
        """Make ``view`` what Results shows."""
        self.view = view
        self.view_changed.publish(view)

    def probing_label(self, backend: str) -> str:
        """How the Setup screen describes a backend's version probe so far."""
        info = self.backend_info.get(backend)
        if info is None:
            return "…" if self.probe is not None else ""
        if "error" in info:
            return "probe failed"
        devices = info.get("devices") or []
        return str(info.get("version", "?")) + (f" · {', '.join(map(str, devices))}" if devices else "")


class SessionApp(App[int]):
    """An app that carries a :class:`Session` (``JitscopeApp`` is the one)."""

    session: Session

    async def start_job(self, job: RunJob, factory: RunFactory, registry: Registry) -> None:
        """Make ``job`` the run in flight, show Live run, and drive it in a thread (a run
        that did not come from the Setup form: a resume from History)."""
        raise NotImplementedError


def session_of(node: DOMNode) -> Session:
    """The session of the app ``node`` runs in: the typed way in for screens and widgets."""
    app = node.app
    if not isinstance(app, SessionApp):
        raise TypeError(f"{node!r} runs in {type(app).__name__}, not in a jitscope app")
    return app.session


class SessionScreen(Screen[None]):
    """A screen of the app, with the session at hand."""

    @property
    def session(self) -> Session:
        return session_of(self)
