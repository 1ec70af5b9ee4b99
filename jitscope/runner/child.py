"""Worker process entry point: ``python -m jitscope.runner.child JOB.json --channel-fd N``.

One fresh interpreter per backend x device. The supervisor set the thread variables in our
environment before we started, so they apply before any library is imported. We speak the
protocol on the channel fd only; fd 1 is pointed at fd 2 first thing, so a backend (or a C
library) that prints cannot corrupt anything.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from jitscope.runner.channel import ChannelWriter

if TYPE_CHECKING:
    from jitscope.core.backend import Backend
    from jitscope.core.model import Phase
    from jitscope.core.registry import Registry

PROGRESS_INTERVAL_S = 0.1  # coalesce progress: at most ~10 messages a second


def _die_with_parent(parent_pid: int | None) -> None:
    """A worker must never outlive its supervisor (a SIGKILLed jitscope, a closed terminal):
    on Linux the kernel sends us SIGKILL when the parent goes (PR_SET_PDEATHSIG); if the
    parent is already gone by the time we ask, we leave at once."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes
            import signal

            libc = ctypes.CDLL(None, use_errno=True)
            pr_set_pdeathsig = 1
            libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass
    if parent_pid is not None and os.getppid() != parent_pid:
        os._exit(1)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    _keep_stdout_off_the_protocol()
    channel = ChannelWriter(args.channel_fd)
    os.environ["JITSCOPE_CHANNEL_FD"] = str(args.channel_fd)
    with open(args.job, encoding="utf-8") as fh:
        job = json.load(fh)
    _die_with_parent(job.get("parent_pid"))

    # The engine's own modules load before start-up is timed (the cells' helpers import them again, free).
    import jitscope.runner.execute  # noqa: F401
    from jitscope.core.registry import load_registry

    # Start-up, measured once here and never charged to a cell (docs/design.md §4):
    # interpreter start until now, the backend's import (info() imports it), and its runtime
    # initialisation (Backend.startup: a trivial jitted call, a device context).
    t_main = time.time()
    registry = load_registry(job.get("workload_files", []), job.get("entry_points"))
    backend = registry.backend(job["backend"])
    for key, value in backend.env.items():
        os.environ.setdefault(key, value)
    info = _backend_info(backend)
    _setup_threads(backend, job.get("threads"), info)
    import_s = time.time() - t_main  # the registry, the backend import (in info) and thread setup
    init_s = _start_runtime(backend, job, info)
    _record_startup(info, job.get("spawned_at"), t_main, import_s, init_s)
    _record_floor(info)
    channel.send(
        {"type": "hello", "pid": os.getpid(), "backend": backend.name, "device": job["device"], "info": info}
    )
    for item in job["cells"]:
        _run_cell(channel, item, registry, backend, info)
    channel.send({"type": "bye"})
    return 0


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="jitscope-worker")
    parser.add_argument("job")
    parser.add_argument("--channel-fd", type=int, required=True)
    return parser.parse_args(argv)


def _keep_stdout_off_the_protocol() -> None:
    """Stray prints (a backend's, a C library's) go to the captured stderr, never to the protocol."""
    os.dup2(2, 1)
    sys.stdout = sys.stderr


def _backend_info(backend: Backend) -> dict[str, Any]:
    """The backend's own description (its import happens here); ``error`` when that fails."""
    if backend.info is None:
        return {}
    try:
        return dict(backend.info())
    except Exception as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}


def _setup_threads(backend: Backend, threads: Any, info: dict[str, Any]) -> None:
    """Cap the backend's thread pools to the run's ``--threads``; a failure is noted in ``info``."""
    if threads and backend.setup_threads is not None:
        try:
            backend.setup_threads(int(threads))
        except Exception as exc:
            info["threads_error"] = f"{type(exc).__name__}: {exc}"


def _start_runtime(backend: Backend, job: dict[str, Any], info: dict[str, Any]) -> float:
    """The backend's runtime initialisation for the job's variants; its seconds (0 if none)."""
    if backend.startup is None or "error" in info or not job["cells"]:
        return 0.0
    variants = tuple(dict.fromkeys(item["spec"]["variant"] for item in job["cells"]))
    t_init = time.perf_counter()
    try:
        info["startup_notes"] = backend.startup(job["device"], variants)
    except Exception as exc:
        info["startup_error"] = f"{type(exc).__name__}: {exc}"
    return time.perf_counter() - t_init


def _record_startup(info: dict[str, Any], spawned_at: Any, t_main: float, import_s: float, init_s: float) -> None:
    """The start-up's three parts (interpreter start only when the supervisor said when it spawned us)."""
    interpreter_s = max(0.0, t_main - float(spawned_at)) if isinstance(spawned_at, (int, float)) else None
    info["startup"] = {"interpreter_s": interpreter_s, "import_s": import_s, "init_s": init_s}
    info["startup_s"] = (interpreter_s or 0.0) + import_s + init_s


def _record_floor(info: dict[str, Any]) -> None:
    """The harness floor (core/timing.harness_floor: an empty kernel through the same timing
    loop), measured once per worker after start-up, in milliseconds; cells compare their
    median with it (a note when near)."""
    from jitscope.core.timing import harness_floor

    floor = harness_floor()
    info["harness_floor"] = {"resident_s": floor.resident_s, "fresh_s": floor.fresh_s}


def _run_cell(channel: ChannelWriter, item: dict[str, Any], registry: Registry, backend: Backend,
              info: dict[str, Any]) -> None:
    """Measure one cell (or fail it when the backend did not load) and send its result."""
    from jitscope.core.model import CellResult, CellSpec, Status
    from jitscope.runner.execute import execute_cell

    index = int(item["index"])
    spec = CellSpec.from_json(item["spec"])
    if "error" in info:
        result = CellResult(spec=spec, status=Status.FAILED, reason=f"{backend.name} failed to load: {info['error']}")
    else:
        result = execute_cell(spec, registry, info, _progress_sender(channel, index))
    channel.send({"type": "result", "cell": index, "result": result.to_json()})


def _progress_sender(channel: ChannelWriter, index: int) -> Callable[[Phase, float], None]:
    """The cell's phase callback: every phase change is sent; progress within measuring at most
    every ``PROGRESS_INTERVAL_S``."""
    from jitscope.core.model import Phase

    last = [0.0]

    def on_phase(phase: Phase, fraction: float) -> None:
        now = time.monotonic()
        if phase == Phase.MEASURING and fraction not in (0.0, 1.0) and now - last[0] < PROGRESS_INTERVAL_S:
            return
        last[0] = now
        channel.send({"type": "phase", "cell": index, "phase": phase.value, "fraction": fraction})

    return on_phase


if __name__ == "__main__":
    sys.exit(main())
