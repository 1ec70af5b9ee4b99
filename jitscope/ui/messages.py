"""Past-tense messages background threads post to the UI (never widget calls from a thread)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from textual.message import Message

from jitscope.core.model import CellResult, Phase


@dataclass
class BackendProbed(Message):
    """A worker told us a backend's version and devices (``info`` may hold ``error``)."""

    backend: str
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunStarted(Message):
    run_id: int | None


@dataclass
class CellProgressed(Message):
    index: int
    phase: Phase
    fraction: float


@dataclass
class CellFinished(Message):
    index: int
    result: CellResult


@dataclass
class WorkerReady(Message):
    backend: str
    device: str
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunNoticed(Message):
    """Something worth a line in the run log (waiting for the timing lock...)."""

    text: str


@dataclass
class RunEnded(Message):
    cancelled: bool
    error: str = ""
