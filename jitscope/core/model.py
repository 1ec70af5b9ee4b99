"""The data every layer passes around: what to measure (a cell) and what came out.

These are plain dataclasses with no behaviour beyond (de)serialisation, so the runner can
ship them over JSON lines, the store can flatten them into rows, and the UI can render them
without importing anything heavy.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

DEVICES = ("cpu", "cuda")
DTYPES = ("float64", "float32")


def as_axis(value: Any, default: Any) -> list[Any]:
    """A sweep axis (devices, dtypes, thread counts) as a list: a run may ask for several
    (``--threads 1,2,4``), while older runs stored one value as a scalar (``"threads": 2``)
    and older callers pass one. None or empty is ``[default]``; duplicates are dropped."""
    if value is None or (isinstance(value, (list, tuple)) and not value):
        return [default]
    items = list(value) if isinstance(value, (list, tuple)) else [value]
    return list(dict.fromkeys(items))


def axis_text(value: Any, unknown: str = "?") -> str:
    """A sweep axis as people read it (``cpu``, ``float32, float64``, ``1, 2, 4``), from a
    Selection's list or a stored record's scalar or list; ``unknown`` where none is known."""
    return ", ".join(str(v) for v in as_axis(value, unknown))


class Status(str, Enum):
    """Final state of one cell. Only ``ok`` and ``skipped`` count as success for exit codes."""

    OK = "ok"
    SKIPPED = "skipped"
    FAILED = "failed"  # the cell raised, or its result missed the tolerance check by crashing it
    CRASHED = "crashed"  # the worker process died (signal, os._exit, segfault)
    TIMEOUT = "timeout"  # the cell ran past its timeout and the worker was killed
    CANCELLED = "cancelled"  # the user cancelled before or during the cell

    @property
    def is_success(self) -> bool:
        return self in (Status.OK, Status.SKIPPED)


class Phase(str, Enum):
    """Where a running cell is; the UI shows it in the live grid."""

    QUEUED = "queued"
    STARTING = "starting"  # worker interpreter starting / backend importing
    TRANSFER = "transfer"
    COMPILING = "compiling"  # the first call: tracing, JIT compilation, cache load
    WARMUP = "warmup"
    MEASURING = "measuring"
    CHECKING = "checking"


@dataclass(frozen=True)
class CellCoords:
    """Where a cell stands in the grid: workload x backend[:variant] x device x dtype x size
    (docs/design.md §4). The spec that runs a cell and the key that matches two runs' cells
    (results/compare.py) both start from these, so a new axis is added here once."""

    workload: str
    backend: str
    variant: str
    device: str
    dtype: str
    size: int

    def coords(self) -> dict[str, Any]:
        """Just the coordinates, by name (to build another CellCoords from this one)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(CellCoords)}


@dataclass(frozen=True)
class CellSpec(CellCoords):
    """One cell: its coordinates, plus how to run it (parameters, budget, threads, seed)."""

    params: tuple[tuple[str, Any], ...] = ()
    budget_s: float = 1.0
    timeout_s: float = 120.0
    threads: int | None = None
    seed: int = 12345

    @property
    def key(self) -> str:
        """A short human-readable identity, stable across processes."""
        base = f"{self.workload}/{self.backend}:{self.variant}/{self.device}/{self.dtype}/{self.size}"
        return base + "".join(f"/{k}={v}" for k, v in self.params)

    @property
    def params_dict(self) -> dict[str, Any]:
        return dict(self.params)

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["params"] = dict(self.params)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CellSpec:
        data = dict(data)
        data["params"] = tuple(sorted(dict(data.get("params") or {}).items()))
        return cls(**data)


@dataclass(frozen=True)
class Stats:
    """Steady-state timing statistics of one cell, all in seconds per call."""

    median: float
    iqr: float
    min: float
    mean: float
    stdev: float
    ci_low: float
    ci_high: float
    samples: int
    loops: int
    unstable: bool
    unstable_reason: str = ""  # why, in words (core/stats.py's stability rule); "" if stable

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Accuracy:
    """How far a cell's answer is from the float64 reference, and whether that is acceptable."""

    error: float
    metric: str
    tolerance: float
    accurate: bool
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


YES_NO_UNKNOWN = ("yes", "no", "unknown")
CACHE_STATES = ("hit", "miss", "n/a", "unknown")


@dataclass(frozen=True)
class Observations:
    """What was *observed* about a cell besides its timing: the one typed place these
    fields are defined. The CSV/JSON/Markdown columns, the store and the UI derive from
    ``dataclasses.fields(Observations)``; nothing here is copied from the request.

    A field the library gave no signal for stays ``None`` (numbers) or ``"unknown"``
    (labels): a label says only what was seen.
    """

    startup_s: float | None = None  # the worker's start-up (interpreter + import + runtime
    #   init), measured once per worker and repeated on each of its cells
    compiled: str = "unknown"  # yes / no / unknown: did the first call compile anything?
    cache: str = "unknown"  # hit / miss / n/a / unknown: the library's own cache counters
    graph_breaks: int | None = None  # torch.compile graph breaks during the first call
    peak_host_bytes: int | None = None  # peak resident memory above the cell's baseline
    peak_device_bytes: int | None = None  # peak device memory (GPU allocators), None on CPU
    cpu_util: float | None = None  # CPU seconds / wall seconds while sampling (1.0 = one core)
    cpu_contention: float | None = None  # share of the threads' demand for a core that waited
    #   on a run queue while sampling (0: had the cores; 0.33: one thread beside two busy
    #   processes on two cores); Linux schedstat, None elsewhere. See core/contention.py
    dtype_used: str = "unknown"  # read from the arrays that ran, never from the request
    simulated: bool = False  # the worker's library said this device is a simulator (numba's
    #   CUDA simulator, NUMBA_ENABLE_CUDASIM=1): shown as "cuda (simulated)", never compared
    #   with or plotted beside real timings. No other library has one: False is what they run

    def __post_init__(self) -> None:
        if self.compiled not in YES_NO_UNKNOWN:
            raise ValueError(f"compiled must be one of {YES_NO_UNKNOWN}, not {self.compiled!r}")
        if self.cache not in CACHE_STATES:
            raise ValueError(f"cache must be one of {CACHE_STATES}, not {self.cache!r}")

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Observations:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in (data or {}).items() if k in known})


OBSERVATION_FIELDS = tuple(f.name for f in dataclasses.fields(Observations))


@dataclass
class CellResult:
    """Everything measured for one cell. ``observed`` holds what was seen (compile, cache,
    memory, parallelism, dtype); ``raw_samples`` the seconds per call of every sample in the
    order taken; ``sample_groups`` how many of them each worker process took, in order (a
    cell measured in several processes, ``--processes``; empty: one process took them all);
    ``info`` the rest of the fairness record (RNG, sync method, layout, backend version...)."""

    spec: CellSpec
    status: Status
    reason: str = ""
    first_call_s: float | None = None
    compile_s: float | None = None
    transfer_s: float | None = None
    stats: Stats | None = None
    accuracy: Accuracy | None = None
    gflops: float | None = None
    gbs: float | None = None
    info: dict[str, Any] = field(default_factory=dict)
    observed: Observations = field(default_factory=Observations)
    raw_samples: tuple[float, ...] = ()
    sample_groups: tuple[int, ...] = ()

    @property
    def processes(self) -> int:
        """How many worker processes took the samples (1 when not grouped)."""
        return max(1, len(self.sample_groups))

    def grouped_samples(self) -> tuple[tuple[float, ...], ...]:
        """The raw samples split by the process that took them (one group when not grouped,
        or when the sizes do not add up to the samples: a damaged record is one group)."""
        if not self.sample_groups or sum(self.sample_groups) != len(self.raw_samples):
            return (self.raw_samples,)
        out, start = [], 0
        for size in self.sample_groups:
            out.append(self.raw_samples[start:start + size])
            start += size
        return tuple(out)

    @property
    def median_s(self) -> float | None:
        return self.stats.median if self.stats else None

    @property
    def peak_memory_bytes(self) -> int | None:
        """The peak that matters for this cell, the one every table, export and plot shows:
        the device's for a cell on a GPU, the host's for a CPU cell (None: not observed)."""
        o = self.observed
        return o.peak_device_bytes if self.spec.device != "cpu" else o.peak_host_bytes

    def to_json(self) -> dict[str, Any]:
        return {
            "spec": self.spec.to_json(),
            "status": self.status.value,
            "reason": self.reason,
            "first_call_s": self.first_call_s,
            "compile_s": self.compile_s,
            "transfer_s": self.transfer_s,
            "stats": self.stats.to_json() if self.stats else None,
            "accuracy": self.accuracy.to_json() if self.accuracy else None,
            "gflops": self.gflops,
            "gbs": self.gbs,
            "info": self.info,
            "observed": self.observed.to_json(),
            "raw_samples": list(self.raw_samples),
            "sample_groups": list(self.sample_groups),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CellResult:
        return cls(
            spec=CellSpec.from_json(data["spec"]),
            status=Status(data["status"]),
            reason=data.get("reason", ""),
            first_call_s=data.get("first_call_s"),
            compile_s=data.get("compile_s"),
            transfer_s=data.get("transfer_s"),
            stats=Stats(**data["stats"]) if data.get("stats") else None,
            accuracy=Accuracy(**data["accuracy"]) if data.get("accuracy") else None,
            gflops=data.get("gflops"),
            gbs=data.get("gbs"),
            info=dict(data.get("info") or {}),
            observed=Observations.from_json(data.get("observed")),
            raw_samples=tuple(float(x) for x in data.get("raw_samples") or ()),
            sample_groups=tuple(int(x) for x in data.get("sample_groups") or ()),
        )

    @classmethod
    def skipped(cls, spec: CellSpec, reason: str, **info: Any) -> CellResult:
        return cls(spec=spec, status=Status.SKIPPED, reason=reason, info=dict(info))
