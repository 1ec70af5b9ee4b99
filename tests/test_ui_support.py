"""Fixed data and fakes for the app's tests (no tests here): a registry whose backends do not
depend on what is installed, a probe that answers at once, and a scripted runner that
yields engine events without starting any process."""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

from jitscope.backends.numpy_backend import BACKEND as NUMPY
from jitscope.backends.python_backend import BACKEND as PYTHON
from jitscope.core.backend import Backend, Implementation
from jitscope.core.model import Accuracy, CellResult, CellSpec, Observations, Phase, Stats, Status
from jitscope.core.registry import Registry
from jitscope.runner import events as ev
from jitscope.runner.plan import Plan, Selection
from jitscope.workloads.linreg import WORKLOAD as LINREG
from jitscope.workloads.lu import WORKLOAD as LU
from jitscope.workloads.mcpi import WORKLOAD as MCPI
from jitscope.workloads.nodes import WORKLOAD as NODES

FIXED_CLOCK = 1000.0


def aio(test: Callable[..., Awaitable[None]]) -> Callable[..., None]:
    """Run an async test without an async pytest plugin (none is in the test extra)."""

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        FakeRun.instances.clear()
        asyncio.run(test(*args, **kwargs))

    return run
SPEED = {"numpy": 1e-8, "python": 2e-7, "turbo": 4e-9}


def _never(ctx: Any) -> Any:  # pragma: no cover - fakes never build kernels
    raise AssertionError("fake backends do not run")


def _impls(backend: str, variants: tuple[str, ...]) -> tuple[Implementation, ...]:
    return tuple(Implementation(w, backend, v, _never) for v in variants for w in ("linreg", "mcpi", "lu", "nodes"))


TURBO = Backend(name="turbo", description="an imaginary JIT with two variants",
                implementations=_impls("turbo", ("default", "parallel")))
FASTLIB = Backend(name="fastlib", description="an imaginary library that is not installed",
                  requires=("jitscope_no_such_module_xyz",), extra="fastlib",
                  implementations=_impls("fastlib", ("default",)))


def make_registry() -> Registry:
    return Registry(
        workloads={w.name: w.workload for w in (LINREG, MCPI, LU, NODES)},
        backends={"numpy": NUMPY, "python": PYTHON, "turbo": TURBO, "fastlib": FASTLIB},
    )


def fake_probe(name: str, device: str) -> dict[str, Any]:
    return {"version": {"numpy": "2.0.0", "python": "3.11.0", "turbo": "0.9"}.get(name, "1.0"), "devices": ["cpu"]}


STARTUP_S = {"numpy": 0.2, "turbo": 0.47}  # python's worker says nothing about its start-up


def fake_hello(name: str, device: str) -> dict[str, Any]:
    """A worker's hello: the probe's answer plus the start-up it measured (when it did)."""
    info = fake_probe(name, device)
    if name in STARTUP_S:
        info["startup_s"] = STARTUP_S[name]
    return info


def fake_observations(spec: CellSpec) -> Observations:
    """What the engine would observe: turbo compiles (a JIT), numpy does not, and python's
    worker observes nothing (every field unknown), so both kinds show in the app."""
    if spec.backend == "python":
        return Observations()
    jit = spec.backend == "turbo"
    return Observations(startup_s=STARTUP_S.get(spec.backend), compiled="yes" if jit else "no",
                        cache="miss" if jit else "n/a", peak_host_bytes=16 * spec.size, cpu_util=1.9 if jit else 1.0,
                        dtype_used=spec.dtype)


def ok_result(spec: CellSpec, speed: float | None = None) -> CellResult:
    median = (speed or SPEED.get(spec.backend, 1e-8)) * spec.size * (1.5 if spec.variant != "default" else 1.0)
    stats = Stats(median=median, iqr=median * 0.05, min=median * 0.97, mean=median * 1.01, stdev=median * 0.03,
                  ci_low=median * 0.98, ci_high=median * 1.02, samples=20, loops=10, unstable=False)
    scale = {"numpy": 0.5, "python": 1.5, "turbo": 4.0}.get(spec.backend, 1.0)
    error = scale / spec.size**0.5 if spec.workload == "mcpi" else 1e-12 * scale
    accuracy = Accuracy(error, "abs_error_pi" if spec.workload == "mcpi" else "rel_error", 1.0, True)
    observed = fake_observations(spec)
    compile_s = 0.5 if observed.compiled == "yes" else None  # only where a compilation was seen
    return CellResult(spec=spec, status=Status.OK, first_call_s=(compile_s or 0.0) + median, compile_s=compile_s,
                      stats=stats, accuracy=accuracy, info={"backend_version": "1.0"}, observed=observed)


def failed_result(spec: CellSpec, reason: str = "ZeroDivisionError: division by zero in the kernel") -> CellResult:
    return CellResult(spec=spec, status=Status.FAILED, reason=reason)


Script = Callable[[int, CellSpec], CellResult]


class FakeRun:
    """Yields the events a real run would, for the plan's cells; ``results`` decides each
    cell's outcome. With ``hold_after`` it stops after that many cells until ``release()``
    (or ``cancel()``), so a test can look at a run in the middle."""

    instances: list[FakeRun] = []

    def __init__(self, plan: Plan, results: Script | None = None, run_id: int = 42,
                 hold_after: int | None = None) -> None:
        self.plan = plan
        self.results_for = results or (lambda i, spec: ok_result(spec))
        self.run_id: int | None = None
        self._id = run_id
        self.hold_after = hold_after
        self.held = threading.Event()
        self.released = threading.Event()
        self.cancelled = threading.Event()
        self.finished: dict[int, CellResult] = {}
        self.cancel_calls = 0
        self.interrupted = False  # cancelled by a signal, not by the user
        FakeRun.instances.append(self)

    def release(self) -> None:
        self.released.set()

    def cancel(self, *, interrupted: bool = False) -> None:
        self.cancel_calls += 1
        self.interrupted = self.interrupted or interrupted
        self.cancelled.set()
        self.released.set()

    def events(self) -> Iterator[Any]:
        self.run_id = self._id
        seen_backends: set[str] = set()
        for index, spec in enumerate(self.plan.cells):
            if self.hold_after is not None and index == self.hold_after:
                yield ev.CellProgressed(index, spec, Phase.COMPILING, 0.0)
                self.held.set()
                self.released.wait(10)
            if self.cancelled.is_set():
                result = CellResult(spec=spec, status=Status.CANCELLED, reason="cancelled by the user")
                self.finished[index] = result
                yield ev.CellFinished(index, result)
                continue
            if spec.backend not in seen_backends:
                seen_backends.add(spec.backend)
                yield ev.WorkerStarted(spec.backend, spec.device, 1234)
                yield ev.WorkerReady(spec.backend, spec.device, fake_hello(spec.backend, spec.device))
            yield ev.CellProgressed(index, spec, Phase.COMPILING, 0.0)
            yield ev.CellProgressed(index, spec, Phase.MEASURING, 0.5)
            result = self.results_for(index, spec)
            self.finished[index] = result
            yield ev.CellFinished(index, result)
        yield ev.RunFinished(cancelled=self.cancelled.is_set())

    def ordered_results(self) -> list[CellResult]:
        return [self.finished[i] for i in sorted(self.finished)]

    def run_record(self) -> dict[str, Any]:
        return {"id": self.run_id, "environment": {"host": "testhost", "cpu": "Test CPU"}, "command": "jitscope (app)"}


def factory(results: Script | None = None, hold_after: int | None = None) -> Callable[..., FakeRun]:
    def make(plan: Plan, registry: Registry, db_path: Path, selection: Selection) -> FakeRun:
        return FakeRun(plan, results, hold_after=hold_after)

    return make


def make_app(tmp_path: Path, selection: Selection | None = None, **kwargs: Any):
    from jitscope.ui.app import JitscopeApp

    kwargs.setdefault("run_factory", factory())
    kwargs.setdefault("probe", fake_probe)
    kwargs.setdefault("clock", lambda: FIXED_CLOCK)
    kwargs.setdefault("export_dir", tmp_path)
    kwargs.setdefault("theme", "jitscope-dark")
    return JitscopeApp(make_registry(), tmp_path / "results.sqlite", selection, **kwargs)


def text_of(widget: Any) -> str:
    """What a Static shows, as plain text."""
    return str(widget.render())


async def wait_for(pilot: Any, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    """Let the app run until ``predicate()`` holds; fail the test after ``timeout`` seconds."""
    for _ in range(int(timeout / 0.02)):
        if predicate():
            return
        await pilot.pause(0.02)
    raise AssertionError("condition not reached in time")


async def run_to_end(app: Any, pilot: Any) -> None:
    """Press r (run) and wait until the Run screen's job has finished."""
    from jitscope.ui.screens.run import RunScreen

    await pilot.press("r")
    await wait_for(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.job is not None)
    await wait_for(pilot, lambda: not app.session.running)
    await pilot.pause()


async def run_until_held(app: Any, pilot: Any) -> FakeRun:
    """Press r (run) and wait until the scripted run stops at its ``hold_after`` cell (made
    with ``factory(hold_after=N)``); the run, to ``release()`` it or check its calls."""
    await pilot.press("r")
    await wait_for(pilot, lambda: bool(FakeRun.instances) and FakeRun.instances[-1].held.is_set())
    return FakeRun.instances[-1]


def mcpi_selection(**kw: Any) -> Selection:
    base: dict[str, Any] = {"workloads": ["mcpi"], "backends": [("numpy", None), ("python", None)],
                            "sizes": [1000, 10000, 100000]}
    base.update(kw)
    return Selection(**base)


def store_with_runs(db_path: Path) -> list[int]:
    """Two imported runs of the same sweep on two 'machines' (laptop slower than gpubox)."""
    from jitscope.results.store import Store

    specs = [CellSpec("mcpi", b, "default", "cpu", "float64", n) for b in ("numpy", "python") for n in (1000, 10000, 100000)]
    ids = []
    with Store(db_path) as store:
        for label, speed in (("laptop", 1.0), ("gpubox", 0.25)):
            results = [ok_result(s, SPEED[s.backend] * speed) for s in specs]
            ids.append(store.import_cells(results, label=label, environment={"host": label}))
        store._conn.execute("UPDATE runs SET started_at = 1700000000 + id * 3600")
    return ids
