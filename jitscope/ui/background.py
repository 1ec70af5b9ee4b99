"""The app's work off the UI thread, other than the run: loading the registry after the first
frame and probing each backend's version and devices in a worker process.

Plain functions that the app runs as Textual thread workers; they talk back only by posting
messages (``ui.messages``), never by touching a widget.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from textual.worker import get_current_worker

from jitscope.core.errors import UserError
from jitscope.ui.messages import BackendProbed, RegistryLoaded

if TYPE_CHECKING:
    import threading

    from textual.message import Message

    from jitscope.core.backend import Availability
    from jitscope.core.registry import Registry
    from jitscope.ui.probe_gate import ProbeGate
    from jitscope.ui.shared_state import Probe, Session

RegistryLoader = Callable[[], "Registry"]
Post = Callable[["Message"], object]


def probe_in_worker(backend: str, device: str, workload_files: tuple[str, ...] = (),
                    cancel: threading.Event | None = None) -> dict[str, Any]:
    """Version and devices from a worker process (the UI imports no backend)."""
    from jitscope.runner.probe import probe_backend

    return probe_backend(backend, device, workload_files, timeout_s=60.0, cancel=cancel)


def availability_of(registry: Registry) -> dict[str, Availability]:
    """Each backend's availability (a look on disk for its modules; no import)."""
    return {name: backend.availability() for name, backend in registry.backends.items()}


def load_registry(loader: RegistryLoader, post: Post, *, reload: bool = False, added_file: str = "") -> None:
    """(a thread) Load the registry and each backend's availability and post them. A user's
    file that does not load is posted as the error; any other failure of a reload too (a
    reload must never take the app down), while at start-up it is raised."""
    try:
        registry = loader()
        availability = availability_of(registry)
    except UserError as exc:
        post(RegistryLoaded(None, error=str(exc), reload=reload))
        return
    except Exception as exc:
        if not reload:
            raise
        post(RegistryLoaded(None, error=f"{type(exc).__name__}: {exc}", reload=True))
        return
    # The Setup form's module and its planner, imported here rather than on the UI thread.
    import jitscope.ui.screens.setup_form  # noqa: F401

    added = tuple(registry.workloads_of_file(added_file)) if added_file else ()
    post(RegistryLoaded(registry, availability, reload=reload, added=added))


def backends_to_probe(session: Session) -> list[str]:
    """The available backends whose version was not probed yet."""
    if session.registry is None:
        return []
    return [n for n in session.registry.backends
            if n not in session.backend_info and session.availability.get(n) and session.availability[n].available]


def probe_backends(names: list[str], probe: Probe, gate: ProbeGate, post: Post) -> None:
    """(a thread) Probe each backend in turn, holding the gate's lock (one worker process at a
    time); stop as soon as a run pauses the gate or the worker is cancelled."""
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
        post(BackendProbed(name, info))
