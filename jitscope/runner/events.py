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
class CellMeasuredSoFar:
    """A cell measured in some, not yet all, of its worker processes (``--processes N``):
    what those processes measured, merged. Not a finished cell (viewers wait for its
    :class:`CellFinished`); it is committed to the store as it comes, so a run cut between
    rounds (a signal, a SIGKILL, a power loss) keeps every round it measured."""

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


Event = WorkerStarted | WorkerReady | CellProgressed | CellFinished | CellMeasuredSoFar | RunWaited | LockFallback | RunFinished


# ---- the event record: each event as one JSON object (one line of ``<run>.events``) ----------
# Readers of a run (``jitscope attach``, the app) follow this record instead of a queue in
# another process, so the form is stable: a "type" key and plain JSON values.
_TYPES: dict[type, str] = {
    WorkerStarted: "worker_started", WorkerReady: "worker_ready", CellProgressed: "cell_progressed",
    CellFinished: "cell_finished", CellMeasuredSoFar: "cell_measured_so_far", LockFallback: "lock_fallback", RunWaited: "run_waited",
    RunFinished: "run_finished",
}


def event_to_json(event: Event) -> dict[str, Any]:
    """``event`` as a JSON-ready dict with a ``"type"`` key (see :func:`event_from_json`)."""
    data: dict[str, Any] = {"type": _TYPES[type(event)]}
    if isinstance(event, CellProgressed):
        data.update(index=event.index, spec=event.spec.to_json(), phase=event.phase.value, fraction=event.fraction)
    elif isinstance(event, (CellFinished, CellMeasuredSoFar)):
        data.update(index=event.index, result=event.result.to_json())
    else:
        data.update(vars(event))
    return data


def event_from_json(data: dict[str, Any]) -> Event:
    """The event a line of the record holds; ValueError for a line that is none (an unknown
    type, a missing field), so a reader can skip what a newer jitscope wrote."""
    kind = data.get("type")
    fields = {k: v for k, v in data.items() if k != "type"}
    try:
        if kind == "cell_progressed":
            return CellProgressed(index=int(fields["index"]), spec=CellSpec.from_json(fields["spec"]),
                                  phase=Phase(fields["phase"]), fraction=float(fields["fraction"]))
        if kind in ("cell_finished", "cell_measured_so_far"):
            cell = CellFinished if kind == "cell_finished" else CellMeasuredSoFar
            return cell(index=int(fields["index"]), result=CellResult.from_json(fields["result"]))
        cls = next((c for c, name in _TYPES.items() if name == kind), None)
        if cls is None:
            raise ValueError(f"not an event: {kind!r}")
        event: Event = cls(**fields)
        return event
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"a damaged {kind} event ({exc})") from None
