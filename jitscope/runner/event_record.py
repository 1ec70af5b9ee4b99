"""A run's event record: ``<database>.runs/<id>.events``, one JSON object per line.

The first line says which run it is (``{"type": "run", "run_id", "planned", "pid", "owner"...}``),
then every engine event in order (see ``events.event_to_json``), and last
``{"type": "exit", "code": N}`` once the command that owns the run knows its exit code.
Append-only and flushed per line, so any reader (``jitscope attach``, the app, a viewer over
SSH reading ``attach --events``) can replay it from the start and follow it while it grows.
The database stays the truth for cells: the record is what a viewer shows, and a record that
cannot be written never stops or loses a measured cell.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jitscope.core.paths import RunFiles
from jitscope.runner.events import Event, event_to_json


def _warn_stderr(message: str) -> None:
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.write(f"jitscope: warning: {message}\n")
        sys.stderr.flush()


class EventWriter:
    """Appends lines to one run's record. Every failure (a full disk, a folder that cannot be
    made) is reported once through ``warn`` and then swallowed: writing stops, the run goes on."""

    def __init__(self, db_path: Path, run_id: int, warn: Callable[[str], None] = _warn_stderr) -> None:
        self.files = RunFiles.of(db_path, run_id)
        self._warn = warn
        self._fh: Any = None
        self._broken = False
        try:
            self.files.create_folder()
            fd = os.open(self.files.events, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o600)
            self._fh = os.fdopen(fd, "a", encoding="utf-8")
        except OSError as exc:
            self._fail(exc)

    def write(self, data: dict[str, Any]) -> None:
        if self._fh is None:
            return
        try:
            self._fh.write(json.dumps(data, default=str, allow_nan=True) + "\n")
            self._fh.flush()
        except (OSError, ValueError, TypeError) as exc:
            self._fail(exc)

    def event(self, event: Event) -> None:
        try:
            data = event_to_json(event)
        except (KeyError, TypeError, ValueError) as exc:
            self._fail(exc)
            return
        self.write(data)

    def close(self) -> None:
        if self._fh is not None:
            with contextlib.suppress(OSError, ValueError):
                self._fh.close()
            self._fh = None

    def _fail(self, exc: BaseException) -> None:
        if not self._broken:
            self._broken = True
            self._warn(f"cannot write the run's event record {self.files.events} ({exc}); "
                       "the run goes on and its cells are saved, but `jitscope attach` cannot follow it")
        self.close()


def read_new_lines(path: Path, offset: int) -> tuple[list[dict[str, Any]], int]:
    """Complete lines appended since ``offset`` (a line still being written waits for the next
    call), parsed; a line that is not a JSON object is skipped. Returns them and the new offset."""
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            chunk = fh.read()
    except FileNotFoundError:
        return [], offset
    end = chunk.rfind(b"\n") + 1
    lines: list[dict[str, Any]] = []
    for raw in chunk[:end].splitlines():
        with contextlib.suppress(ValueError):
            value = json.loads(raw)
            if isinstance(value, dict):
                lines.append(value)
    return lines, offset + end
