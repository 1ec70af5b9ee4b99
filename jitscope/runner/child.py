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
from typing import Any

from jitscope.runner.channel import ChannelWriter

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
    parser = argparse.ArgumentParser(prog="jitscope-worker")
    parser.add_argument("job")
    parser.add_argument("--channel-fd", type=int, required=True)
    args = parser.parse_args(argv)
    os.dup2(2, 1)  # stray prints go to the captured stderr, never to the protocol
    sys.stdout = sys.stderr
    channel = ChannelWriter(args.channel_fd)
    os.environ["JITSCOPE_CHANNEL_FD"] = str(args.channel_fd)

    with open(args.job, encoding="utf-8") as fh:
        job = json.load(fh)
    _die_with_parent(job.get("parent_pid"))

    from jitscope.core.model import CellResult, CellSpec, Phase, Status
    from jitscope.core.registry import load_registry
    from jitscope.runner.execute import execute_cell

    # Start-up, measured once here and never charged to a cell (docs/design.md §4):
    # interpreter start until now, the backend's import (info() imports it), and its runtime
    # initialisation (Backend.startup: a trivial jitted call, a device context).
    t_main = time.time()
    spawned_at = job.get("spawned_at")
    registry = load_registry(job.get("workload_files", []))
    backend = registry.backend(job["backend"])
    for key, value in backend.env.items():
        os.environ.setdefault(key, value)
    info: dict[str, Any] = {}
    if backend.info is not None:
        try:
            info = dict(backend.info())
        except Exception as exc:
            info = {"error": f"{type(exc).__name__}: {exc}"}
    threads = job.get("threads")
    if threads and backend.setup_threads is not None:
        try:
            backend.setup_threads(int(threads))
        except Exception as exc:
            info["threads_error"] = f"{type(exc).__name__}: {exc}"
    import_s = time.time() - t_main  # the registry, the backend import (in info) and thread setup
    init_s = 0.0
    if backend.startup is not None and "error" not in info and job["cells"]:
        variants = tuple(dict.fromkeys(item["spec"]["variant"] for item in job["cells"]))
        t_init = time.perf_counter()
        try:
            info["startup_notes"] = backend.startup(job["device"], variants)
        except Exception as exc:
            info["startup_error"] = f"{type(exc).__name__}: {exc}"
        init_s = time.perf_counter() - t_init
    interpreter_s = max(0.0, t_main - float(spawned_at)) if isinstance(spawned_at, (int, float)) else None
    info["startup"] = {"interpreter_s": interpreter_s, "import_s": import_s, "init_s": init_s}
    info["startup_s"] = (interpreter_s or 0.0) + import_s + init_s
    channel.send(
        {"type": "hello", "pid": os.getpid(), "backend": backend.name, "device": job["device"], "info": info}
    )

    for item in job["cells"]:
        index = int(item["index"])
        spec = CellSpec.from_json(item["spec"])
        last = [0.0]

        def on_phase(phase: Phase, fraction: float, index: int = index, last: list[float] = last) -> None:
            now = time.monotonic()
            if phase == Phase.MEASURING and fraction not in (0.0, 1.0) and now - last[0] < PROGRESS_INTERVAL_S:
                return
            last[0] = now
            channel.send({"type": "phase", "cell": index, "phase": phase.value, "fraction": fraction})

        if "error" in info:
            result = CellResult(spec=spec, status=Status.FAILED, reason=f"{backend.name} failed to load: {info['error']}")
        else:
            result = execute_cell(spec, registry, info, on_phase)
        channel.send({"type": "result", "cell": index, "result": result.to_json()})
    channel.send({"type": "bye"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
