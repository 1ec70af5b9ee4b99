"""Past-tense events the supervisor yields; the CLI and the UI both consume them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from jitscope.core.model import CellResult, CellSpec, Phase


@dataclass(frozen=True)
class WorkerStarted:
    backend: str
    device: str
    pid: int


@dataclass(frozen=True)
class WorkerReady:
    """The worker imported its backend; ``info`` has version, devices, thread pools..."""

    backend: str
    device: str
    info: dict[str, Any] = field(default_factory=dict)
    threads: int | None = None  # the thread cap set in its environment (None: the libraries' own)

    @property
    def key(self) -> str:
        """How the run's environment names this worker: ``numpy/cpu``, ``numpy/cpu/threads=2``
        (a thread sweep runs one worker per thread count)."""
        return f"{self.backend}/{self.device}" + (f"/threads={self.threads}" if self.threads is not None else "")


@dataclass(frozen=True)
class CellProgressed:
    index: int
    spec: CellSpec
    phase: Phase
    fraction: float


@dataclass(frozen=True)
class CellFinished:
    index: int
    result: CellResult


@dataclass(frozen=True)
class RunWaited:
    """A line about waiting to time: another jitscope holds the timing lock (we wait rather
    than time two things at once), or something else must finish first."""

    message: str


@dataclass(frozen=True)
class LockFallback(RunWaited):
    """The machine-wide timing lock could not be used (not held: broken, e.g. another user's
    FIFO under its name); we time under ``scope`` (``per-user`` or ``none``) instead. A
    RunWaited, so every consumer shows the line; the run records ``scope`` and ``problem``."""

    scope: str = ""
    problem: str = ""


@dataclass(frozen=True)
class RunFinished:
    cancelled: bool


Event = WorkerStarted | WorkerReady | CellProgressed | CellFinished | RunWaited | LockFallback | RunFinished
