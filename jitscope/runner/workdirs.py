"""Worker folders in the system temp dir, and the sweep of those a dead jitscope left.

Each worker gets ``jitscope-worker-<supervisor pid>-XXXX`` (its job file, its log, its cwd).
The supervisor removes it when the worker is done; if the supervisor itself was killed
(SIGKILL, power loss) nobody did, so every later jitscope command removes folders whose
supervisor pid is no longer alive on this machine.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from jitscope.core.processes import pid_alive

PREFIX = "jitscope-worker-"


@contextlib.contextmanager
def worker_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def sweep_stale(folder: str | None = None) -> list[Path]:
    """Remove worker folders whose supervisor is dead; return what was removed."""
    base = Path(folder or tempfile.gettempdir())
    removed: list[Path] = []
    try:
        entries = list(base.iterdir())
    except OSError:
        return removed
    for entry in entries:
        name = entry.name
        if not name.startswith(PREFIX):
            continue
        owner = name[len(PREFIX):].split("-", 1)[0]
        if not owner.isdigit() or pid_alive(int(owner)):
            continue
        with contextlib.suppress(OSError):
            if entry.stat().st_uid == os.getuid():
                shutil.rmtree(entry, ignore_errors=True)
                removed.append(entry)
    return removed
