"""Asking a backend about itself (version, devices, GPU) in a worker, without timing anything.

The parent never imports a heavy backend; this starts the same worker the supervisor uses,
with no cells, reads its channel with the same reader, and returns the ``info`` of its hello.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from typing import Any

from jitscope.runner.channel import ChannelReader
from jitscope.runner.protocol import ProtocolError
from jitscope.runner.supervisor import kill_worker, spawn_worker
from jitscope.runner.workdirs import worker_dir


def probe_backend(
    backend: str,
    device: str = "cpu",
    workload_files: tuple[str, ...] = (),
    timeout_s: float = 120.0,
    python: str | None = None,
    cancel: threading.Event | None = None,
) -> dict[str, Any]:
    """The backend's ``info()`` as seen from a worker; ``{"error": ...}`` if it failed.
    Setting ``cancel`` (from any thread) kills the worker at once and returns
    ``{"error": "cancelled", "cancelled": True}`` (the app does this when a run starts)."""
    with worker_dir() as workdir:
        proc, read_fd, log = spawn_worker(python or sys.executable, backend, device, [], workload_files, workdir)
        reader = ChannelReader(read_fd)
        deadline = time.monotonic() + timeout_s
        try:
            while time.monotonic() < deadline:
                if cancel is not None and cancel.is_set():
                    kill_worker(proc)
                    return {"error": "cancelled", "cancelled": True}
                try:
                    messages = reader.poll(0.1)
                except ProtocolError as exc:
                    kill_worker(proc)  # it speaks garbage: no point waiting for it to finish
                    return {"error": str(exc)}
                for message in messages:
                    if message["type"] == "hello":
                        return dict(message.get("info") or {})
                if reader.closed and proc.poll() is not None:
                    log.close()
                    tail = log.tail()
                    return {"error": f"worker exited with code {proc.returncode}" + (f": {tail}" if tail else "")}
            return {"error": f"no answer within {timeout_s:g} s"}
        finally:
            reader.close()
            if proc.poll() is None:
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    kill_worker(proc)
                    proc.wait(timeout=10)
            log.close()
