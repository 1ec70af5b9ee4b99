"""Asking a backend about itself (version, devices, GPU) in a worker, without timing anything.

The parent never imports a heavy backend; this starts the same worker the supervisor uses,
with no cells, and returns the ``info`` of its hello message.
"""

from __future__ import annotations

import os
import selectors
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from jitscope.runner.protocol import ProtocolError, decode
from jitscope.runner.supervisor import _kill, spawn_worker, tail_of


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
    with tempfile.TemporaryDirectory(prefix="jitscope-probe-") as tmp:
        proc, read_fd, log_path = spawn_worker(python or sys.executable, backend, device, [], workload_files, Path(tmp))
        selector = selectors.DefaultSelector()
        selector.register(read_fd, selectors.EVENT_READ)
        buffer = b""
        deadline = time.monotonic() + timeout_s
        try:
            while time.monotonic() < deadline:
                if cancel is not None and cancel.is_set():
                    _kill(proc)
                    return {"error": "cancelled", "cancelled": True}
                if not selector.select(timeout=0.1):
                    continue
                chunk = os.read(read_fd, 65536)
                if not chunk:
                    break
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    try:
                        message = decode(line)
                    except ProtocolError as exc:
                        return {"error": str(exc)}
                    if message["type"] == "hello":
                        return dict(message.get("info") or {})
            else:
                return {"error": f"no answer within {timeout_s:g} s"}
            proc.wait()
            tail = tail_of(log_path)
            return {"error": f"worker exited with code {proc.returncode}" + (f": {tail}" if tail else "")}
        finally:
            selector.close()
            os.close(read_fd)
            if proc.poll() is None:
                try:
                    proc.wait(timeout=5)
                except Exception:
                    _kill(proc)
                    proc.wait()
