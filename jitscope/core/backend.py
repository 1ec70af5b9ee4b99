"""What a backend is, and the contract an implementation (workload x backend x variant) meets.

Backend modules must stay *light at import*: they declare :class:`Backend` and
:class:`Implementation` objects and import their heavy library (numba, jax, torch...) only
inside the functions that run in a worker process. The UI and the planner import these modules
to list what exists; only ``jitscope.runner.child`` ever calls ``build``/``info``.
"""

from __future__ import annotations

import importlib
import importlib.util
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from jitscope.core.implementation import BuildRef as BuildRef
from jitscope.core.implementation import Implementation as Implementation
from jitscope.core.implementation import UserKernel as UserKernel
from jitscope.core.model import CellSpec
from jitscope.core.workload import Inputs, Workload


@dataclass
class CellContext:
    """What ``Implementation.build`` receives inside the worker."""

    spec: CellSpec
    workload: Workload
    params: dict[str, Any]
    inputs: Inputs  # float64 NumPy arrays / Python scalars, straight from make_inputs
    threads: int | None = None

    @property
    def size(self) -> int:
        return self.spec.size

    @property
    def dtype(self) -> str:
        return self.spec.dtype

    @property
    def device(self) -> str:
        return self.spec.device


@dataclass(frozen=True)
class CompileObservation:
    """What a backend's own counters said about one first call."""

    compiled: str  # "yes" / "no" / "unknown"
    cache: str  # "hit" / "miss" / "n/a" / "unknown"
    graph_breaks: int | None = None
    detail: str = ""  # e.g. "numba: 1 new signature, cache miss"; goes to info["compile_detail"]


class CompileWatch:
    """Brackets a kernel's first call: ``start()`` just before it, ``stop()`` right after
    (after the sync). The base class is the honest default: the library gave no signal."""

    def start(self) -> None:
        """Snapshot the library's counters (dispatcher signatures, cache hits, traces...)."""

    def stop(self) -> CompileObservation:
        return CompileObservation("unknown", "unknown")

    def fell_back(self) -> str:
        """Asked once the samples are taken: why the timed calls did *not* run what the
        library compiled (e.g. Dynamo past its recompile limit runs eager code), in the
        library's words, or "" when nothing says so. A non-empty answer fails the cell with
        that reason, its measurements kept: a variant named "compile" that ran uncompiled
        code must never read as a compiled timing."""
        return ""


class NothingCompiles(CompileWatch):
    """For backends that have no compiler at all (python, numpy, scipy): a fact, not a guess."""

    def stop(self) -> CompileObservation:
        return CompileObservation("no", "n/a")


class Kernel:
    """One prepared implementation, driven by the measurement protocol (docs/design.md §4).

    ``transfer`` moves/casts inputs onto the device (timed as ``transfer_s``; it must return
    only when the data is really there). ``run`` performs one call and may return before the
    device finished; ``sync`` waits for a ``run`` result; ``fetch`` turns it into the
    workload's result form for the accuracy check. ``notes`` is the fairness record: set
    ``dtype_used``, ``rng``, ``sync``, ``cache``, ``layout``... as they apply.
    """

    def __init__(self) -> None:
        self.notes: dict[str, Any] = {}
        # What a user's kernel is called with (an adapter's converted inputs), for the
        # in-place check; None: the adapter does not say (jitscope.core.userrun).
        self.arguments: dict[str, Any] | None = None

    def transfer(self) -> None:
        """Default: nothing to move (host backends read ``ctx.inputs`` directly)."""

    def run(self) -> Any:
        raise NotImplementedError

    def sync(self, out: Any) -> None:
        """Default: synchronous backends have nothing to wait for."""

    def fetch(self, out: Any) -> Any:
        return out

    def close(self) -> None:
        """Release device memory etc. once the cell is done."""

    # ---- observation hooks (measurement truth: labels say only what was seen) ------------
    def before_each_call(self) -> Callable[[], None] | None:
        """What must run ahead of every timed call, outside the clock (a fresh copy of the
        inputs for a kernel that works in place); None: nothing (inputs stay resident)."""
        return None

    def compile_watch(self) -> CompileWatch:
        """A watch for the first call; the default says ``unknown``."""
        return CompileWatch()

    def reset_device_peak(self) -> None:
        """Reset the device allocator's high-water mark (torch, JAX, CuPy on a GPU)."""

    def device_peak_bytes(self) -> int | None:
        """Peak device bytes since :meth:`reset_device_peak`; ``None`` when not observable
        (and always on the CPU, where host memory covers it)."""
        return None

    def explain(self, exc: BaseException) -> str | None:
        """The library's own message for a failure in this kernel (e.g. Numba's typing
        error for a user's kernel), to be the failed cell's reason instead of a traceback;
        None: the default (exception type and text)."""
        return None

    def ran_with(self, out: Any) -> Any:
        """The arrays/tensors whose dtype is what really ran (default: the call's output).
        Override when the output is a count or a Python scalar, e.g. return the device
        inputs. ``jitscope.core.dtypes.dtype_of`` reads the dtype from whatever this returns."""
        return out


class DevicePeak(Protocol):
    """A device allocator's high-water mark: ``reset`` before the cell, ``peak`` after."""

    def reset(self) -> None: ...

    def peak(self) -> int | None: ...


class FunctionKernel(Kernel):
    """The one kernel shape the backends build: the protocol's steps and the observation
    hooks given as keywords, so a built-in kernel and an adapter's state everything where
    they build it (nothing set on the kernel afterwards)."""

    def __init__(  # noqa: PLR0913 - each keyword is one optional protocol step or hook
        self,
        run: Callable[[], Any],
        *,
        transfer: Callable[[], None] | None = None,
        sync: Callable[[Any], None] | None = None,
        fetch: Callable[[Any], Any] | None = None,
        notes: dict[str, Any] | None = None,
        compiler: bool | None = None,
        explain: Callable[[BaseException], str | None] | None = None,
        watch: Callable[[], CompileWatch] | None = None,
        ran_with: Callable[[Any], Any] | None = None,
        device_peak: DevicePeak | None = None,
        close: Callable[[], None] | None = None,
        arguments: dict[str, Any] | None = None,
    ) -> None:
        """``compiler``: False for libraries with no compiler at all (then a first call is
        known not to compile); None when nobody knows (the default watch says unknown).
        ``watch``: a backend that can observe compilation (torch's Dynamo counters...).
        ``ran_with``: the arrays whose dtype is what ran (default: the output).
        ``device_peak``: the device allocator's high-water mark (None: not observable).
        ``close``: what releases the cell's resources (a julia process, device memory).
        ``arguments``: what a user's kernel is called with, for the in-place check.
        ``notes`` is kept, not copied: the steps may add to the same dict (threads seen at
        fetch, a build's cache state seen at the first run)."""
        super().__init__()
        self._compiler = compiler
        self._watch = watch
        self._run = run
        self._transfer = transfer
        self._sync = sync
        self._fetch = fetch
        self._explain = explain
        self._ran_with = ran_with
        self._device_peak = device_peak
        self._close = close
        self.arguments = arguments
        if notes is not None:
            self.notes = notes

    def explain(self, exc: BaseException) -> str | None:
        return self._explain(exc) if self._explain is not None else None

    def transfer(self) -> None:
        if self._transfer is not None:
            self._transfer()

    def run(self) -> Any:
        return self._run()

    def sync(self, out: Any) -> None:
        if self._sync is not None:
            self._sync(out)

    def fetch(self, out: Any) -> Any:
        return self._fetch(out) if self._fetch is not None else out

    def compile_watch(self) -> CompileWatch:
        if self._watch is not None:
            return self._watch()
        return NothingCompiles() if self._compiler is False else CompileWatch()

    def ran_with(self, out: Any) -> Any:
        return self._ran_with(out) if self._ran_with is not None else out

    def reset_device_peak(self) -> None:
        if self._device_peak is not None:
            self._device_peak.reset()

    def device_peak_bytes(self) -> int | None:
        return self._device_peak.peak() if self._device_peak is not None else None

    def close(self) -> None:
        if self._close is not None:
            self._close()


class SkipCell(Exception):
    """Raised by ``build`` (in the worker) when a cell cannot run here; the message is the
    reason shown to the user, e.g. ``"jax x64 disabled: float64 would silently be float32"``."""


@dataclass(frozen=True)
class Adapter:
    """How a backend runs a user's kernel: the backend's own knowledge of transfer, jit,
    sync, fetch and observation, applied to a plain function (docs/design.md §10).

    ``build(ctx, kernel, variant)`` runs only in a worker and returns a :class:`Kernel`
    whose ``run`` calls the user's function with the workload's inputs as keyword
    arguments, moved/cast for ``ctx`` (device, dtype); its ``fetch`` returns NumPy."""

    build: Callable[[CellContext, UserKernel, str], Kernel]
    variants: tuple[str, ...] = ("default",)  # the variants that can run a plain function
    devices: tuple[str, ...] = ("cpu",)
    dtypes: tuple[str, ...] = ("float64", "float32")
    options: tuple[str, ...] = ()  # jitscope's own keyword options of @w.kernel(...) for this backend
    # The library call other keywords of @w.kernel(...) are passed to ("numba.njit",
    # "jax.jit"...): the library validates them. "": none (other keywords are refused).
    passes_options_to: str = ""
    options_variants: tuple[str, ...] = ()  # the variants that make that call (empty: every one)
    # Options that narrow the dtypes, e.g. python's lists=True: Python floats are float64.
    dtypes_with: Callable[[UserKernel], tuple[str, ...]] | None = None
    # Variants whose devices differ from ``devices`` (numba's ``cuda``: ``("cuda",)``).
    variant_devices: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # Variants that need a different program, not the same plain function (numba's ``cuda``
    # takes a launcher of @cuda.jit kernels): bound only by a kernel that names them.
    named_only: tuple[str, ...] = ()

    def devices_for(self, variant: str) -> tuple[str, ...]:
        return dict(self.variant_devices).get(variant, self.devices)


@dataclass(frozen=True)
class Availability:
    available: bool
    reason: str = ""  # why not, with the install hint


@dataclass(frozen=True)
class Backend:
    """A numerical backend. ``info`` and ``setup_threads`` run only inside a worker."""

    name: str
    description: str
    requires: tuple[str, ...] = ()  # importable module names, probed with find_spec
    extra: str = ""  # the pip extra that installs it: pip install 'jitscope[extra]'
    devices: tuple[str, ...] = ("cpu",)  # devices it could support on some machine
    implementations: tuple[Implementation, ...] = ()
    default_variant: str = "default"
    info: Callable[[], dict[str, Any]] | None = None
    setup_threads: Callable[[int], None] | None = None
    probe: Callable[[], str | None] | None = None  # extra no-import check; returns a reason
    # Runtime initialisation measured as the worker's start-up, not as any cell's compile:
    # called once in the worker with (device, variants it will run), e.g. a trivial jitted
    # call or the CUDA context. Returns notes for the worker's hello info.
    startup: Callable[[str, tuple[str, ...]], dict[str, Any]] | None = None
    env: dict[str, str] = field(default_factory=dict)  # set in the worker before any import
    adapter: Adapter | None = None  # runs users' own kernels (jitscope.workload); None: cannot
    # The order variants are listed and run in, where the workloads' files declare the kernels
    # (numba's ``vectorize`` is mcpi's only); unnamed ones follow, as they are declared.
    variant_order: tuple[str, ...] = ()

    def availability(self) -> Availability:
        """Installed? Decided without importing the library (docs/design.md §5)."""
        for module in self.requires:
            try:
                found = importlib.util.find_spec(module) is not None
            except (ImportError, ValueError):
                found = False
            if not found:
                hint = f": pip install 'jitscope[{self.extra}]'" if self.extra else ""
                return Availability(False, f"{module} is not installed{hint}")
        if self.probe is not None:
            reason = self.probe()
            if reason:
                return Availability(False, reason)
        return Availability(True)

    @property
    def variants(self) -> tuple[str, ...]:
        seen: list[str] = []
        for impl in self.implementations:
            if impl.variant not in seen:
                seen.append(impl.variant)
        if self.default_variant in seen:
            seen.remove(self.default_variant)
            seen.insert(0, self.default_variant)
        return self.ordered(seen)

    def ordered(self, variants: list[str]) -> tuple[str, ...]:
        """``variants`` in :attr:`variant_order` (those it does not name last, as given)."""
        rank = {v: i for i, v in enumerate(self.variant_order)}
        return tuple(sorted(variants, key=lambda v: rank.get(v, len(rank))))


def which_probe(binary: str, what: str | None = None) -> Callable[[], str | None]:
    """A probe that requires an executable on PATH (julia, a C compiler...)."""

    def probe() -> str | None:
        return None if shutil.which(binary) else f"{what or binary} not found on PATH"

    return probe
