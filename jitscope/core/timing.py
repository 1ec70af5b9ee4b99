"""The measurement protocol of docs/design.md §4, independent of any backend.

``measure`` takes the call, the sync and a clock, so tests drive it with a fake clock and
backends plug in their own synchronisation (``block_until_ready``, ``cuda.synchronize``...).
Every timed region ends with a sync: an asynchronous backend cannot look faster than it is.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from jitscope.core.backend import CompileObservation, CompileWatch, FunctionKernel
from jitscope.core.contention import ContentionWatch
from jitscope.core.model import Phase

Clock = Callable[[], float]
Progress = Callable[[Phase, float], None]

LOOP_STEPS = (1, 2, 5)  # autorange: 1, 2, 5, 10, 20, 50, ... calls per sample
MAX_WARMUP_CALLS = 10_000  # warm-up is for JIT/caches/allocators; more calls teach nothing
MAX_LOOPS = 10**7  # ~10 ms even for a 1 ns call; beyond that the clock or sync is broken
# A warm-up call after one this long (a share of the budget) may become the single sample:
# its CPU use is watched too. Shorter ones are not: reading every thread's schedstat costs
# tens of microseconds (more with torch's or TensorFlow's dozens of threads).
WATCH_AFTER_BUDGET_SHARE = 0.25


@dataclass
class Measurement:
    """Raw outcome of the protocol; statistics are computed from ``samples`` afterwards."""

    first_call_s: float
    samples: list[float] = field(default_factory=list)  # seconds per call, one per sample
    loops: int = 1
    warmup_calls: int = 0
    note: str = ""  # e.g. why there is a single sample
    last_output: Any = None
    compile: CompileObservation = field(default_factory=lambda: CompileWatch().stop())
    cpu_s: float = 0.0  # process CPU time (all threads) spent while taking the samples
    wall_s: float = 0.0  # wall time of the same region
    cpu_contention: float | None = None  # share of the threads' demand for a core that waited

    @property
    def cpu_util(self) -> float | None:
        """CPU seconds per wall second while sampling: 1.0 = one core busy, 2.0 = two."""
        return self.cpu_s / self.wall_s if self.wall_s > 0 else None


def target_sample_seconds(budget_s: float) -> float:
    """How long one sample should last: far above timer overhead (~0.1 µs), yet leaving room
    for a few dozen samples inside the budget."""
    return max(0.001, min(0.01, budget_s / 20.0))


class _Usage:
    """CPU time, wall time and run-queue contention over one region of the protocol."""

    def __init__(self, clock: Clock, cpu_clock: Clock, contention: ContentionWatch) -> None:
        self._clock, self._cpu_clock, self._contention = clock, cpu_clock, contention
        self._wall0 = self._cpu0 = 0.0

    def start(self) -> None:
        self._contention.start()
        self._cpu0, self._wall0 = self._cpu_clock(), self._clock()

    def stop(self) -> tuple[float, float, float | None]:
        cpu_s, wall_s = self._cpu_clock() - self._cpu0, self._clock() - self._wall0
        return cpu_s, wall_s, self._contention.stop()


def _timed_resident(run: Callable[[], Any], sync: Callable[[Any], None], loops: int, clock: Clock) -> tuple[float, Any]:
    out = None
    t0 = clock()
    for _ in range(loops):
        out = run()
    sync(out)
    return clock() - t0, out


def _fresh_timer(before: Callable[[], None]) -> Callable[..., tuple[float, Any]]:
    """Like :func:`_timed_resident`, with ``before()`` (a fresh copy of the inputs) ahead of every
    call and outside the clock; each call is synced before the next copy is made, so an
    asynchronous library cannot overlap a call with the next copy."""

    def timed(run: Callable[[], Any], sync: Callable[[Any], None], loops: int, clock: Clock) -> tuple[float, Any]:
        out = None
        elapsed = 0.0
        for _ in range(loops):
            before()
            t0 = clock()
            out = run()
            sync(out)
            elapsed += clock() - t0
        return elapsed, out

    return timed


def measure(
    run: Callable[[], Any],
    sync: Callable[[Any], None],
    *,
    budget_s: float,
    clock: Clock = time.perf_counter,
    max_samples: int = 200,
    min_samples: int = 5,
    max_loops: int = MAX_LOOPS,
    warmup_fraction: float = 0.1,
    progress: Progress | None = None,
    first_call_watch: CompileWatch | None = None,
    cpu_clock: Clock = time.process_time,
    contention_watch: ContentionWatch | None = None,
    before_call: Callable[[], None] | None = None,
) -> Measurement:
    """First call, warm-up, calibration, samples.

    * first call, synced -> ``first_call_s`` (tracing/compilation included), bracketed by
      ``first_call_watch`` (the library's own compile/cache counters);
    * warm-up: untimed calls for ``warmup_fraction * budget_s`` (at least one call), whose
      last duration estimates one steady call;
    * a steady call slower than the budget gets a single sample (the last warm-up call) and
      says so in ``note``;
    * otherwise loops per sample grow 1, 2, 5, 10, ... until a sample lasts
      ``target_sample_seconds``; then samples until the budget is spent (at least
      ``min_samples`` unless that would take more than 3x the budget);
    * over the sampling (or the single sample's call): process CPU time and wall time
      (``cpu_util``), and ``cpu_contention`` from ``contention_watch`` (the share of the
      threads' demand for a core that waited on a run queue: a competing process);
    * ``before_call``: run ahead of every call, untimed (fresh inputs per call).
    """
    timer = _Timer(run, sync, _fresh_timer(before_call) if before_call is not None else _timed_resident, clock)
    report = progress or (lambda phase, fraction: None)
    report(Phase.COMPILING, 0.0)
    first_call_s, out, observed = _first_call(timer, first_call_watch or CompileWatch())

    report(Phase.WARMUP, 0.0)
    usage = _Usage(clock, cpu_clock, contention_watch or ContentionWatch())
    warm = _warm_up(timer, usage, first_call_s, out, budget_s=budget_s, warmup_budget=warmup_fraction * budget_s)
    if warm.last_call >= budget_s:
        return _single_sample(warm, usage, first_call_s, observed, budget_s)

    report(Phase.MEASURING, 0.0)
    usage.start()
    sampling = _calibrate(timer, target_sample_seconds(budget_s), budget_s, max_loops)
    _sample_until_spent(timer, sampling, budget_s=budget_s, max_samples=max_samples, min_samples=min_samples,
                        report=report)
    cpu_s, wall_s, cpu_contention = usage.stop()
    samples = sampling.samples
    note = "" if len(samples) >= min_samples else f"only {len(samples)} samples fit in 3x the budget"
    return Measurement(compile=observed, cpu_s=cpu_s, wall_s=wall_s, cpu_contention=cpu_contention,
                       first_call_s=first_call_s, samples=samples, loops=sampling.loops, warmup_calls=warm.calls,
                       note=note, last_output=sampling.out)


def _first_call(timer: _Timer, watch: CompileWatch) -> tuple[float, Any, CompileObservation]:
    """The first call, synced, bracketed by the library's own compile/cache counters."""
    watch.start()
    first_call_s, out = timer(1)
    return first_call_s, out, watch.stop()


@dataclass
class _Timer:
    """One way of timing ``run`` (resident or fresh inputs), called with a loop count:
    ``timer(loops) -> (elapsed seconds, last output)``."""

    run: Callable[[], Any]
    sync: Callable[[Any], None]
    timed: Callable[..., tuple[float, Any]]
    clock: Clock

    def __call__(self, loops: int) -> tuple[float, Any]:
        return self.timed(self.run, self.sync, loops, self.clock)


@dataclass
class _WarmUp:
    """What the warm-up saw: its calls, the last call's duration and output, and whether
    ``usage`` was started for that last call (a call long enough to be the single sample)."""

    calls: int
    last_call: float
    out: Any
    watched: bool


def _warm_up(timer: _Timer, usage: _Usage, first_call_s: float, out: Any, *,
             budget_s: float, warmup_budget: float) -> _WarmUp:
    """Untimed calls for ``warmup_budget`` (at least one); stops early once a call alone
    exceeds the budget. CPU usage is watched around a call that may turn out to be that one."""
    spent = 0.0
    warm = _WarmUp(calls=0, last_call=first_call_s, out=out, watched=False)
    while warm.calls == 0 or (spent < warmup_budget and warm.calls < MAX_WARMUP_CALLS):
        warm.watched = warm.last_call >= WATCH_AFTER_BUDGET_SHARE * budget_s
        if warm.watched:
            usage.start()
        warm.last_call, warm.out = timer(1)
        spent += warm.last_call
        warm.calls += 1
        if warm.last_call >= budget_s:
            break
    return warm


def _single_sample(warm: _WarmUp, usage: _Usage, first_call_s: float, observed: CompileObservation,
                   budget_s: float) -> Measurement:
    """One steady call is slower than the whole budget: it is the only sample, and says so."""
    cpu_s, wall_s, cpu_contention = usage.stop() if warm.watched else (0.0, 0.0, None)
    return Measurement(
        first_call_s=first_call_s,
        samples=[warm.last_call],
        loops=1,
        warmup_calls=warm.calls - 1,
        note=f"single sample: one call ({warm.last_call:.3g} s) exceeds the budget ({budget_s:g} s)",
        last_output=warm.out,
        compile=observed,
        cpu_s=cpu_s,
        wall_s=wall_s,
        cpu_contention=cpu_contention,
    )


@dataclass
class _Sampling:
    """The sampling so far: calls per sample, seconds spent, per-call samples, last output."""

    loops: int
    spent: float
    samples: list[float]
    out: Any


def _calibrate(timer: _Timer, target: float, budget_s: float, max_loops: int) -> _Sampling:
    """Time candidate loop counts 1, 2, 5, 10, 20, ...; the first sample long enough (or the
    one that spends the budget, or reaches ``max_loops``) is the first sample and fixes the loops."""
    spent = 0.0
    decade = 1
    step = 0
    while True:
        loops = LOOP_STEPS[step] * decade
        elapsed, out = timer(loops)
        spent += elapsed
        if elapsed >= target or spent >= budget_s or loops >= max_loops:
            return _Sampling(loops=loops, spent=spent, samples=[elapsed / loops], out=out)
        step += 1
        if step == len(LOOP_STEPS):
            step = 0
            decade *= 10


def _sample_until_spent(timer: _Timer, sampling: _Sampling, *, budget_s: float, max_samples: int,
                        min_samples: int, report: Progress) -> None:
    """Samples until the budget is spent (at least ``min_samples`` unless that would take
    more than 3x the budget, at most ``max_samples``), reporting progress after each."""
    while len(sampling.samples) < max_samples:
        if sampling.spent >= budget_s and len(sampling.samples) >= min_samples:
            break
        if sampling.spent >= 3.0 * budget_s:
            break
        elapsed, sampling.out = timer(sampling.loops)
        sampling.spent += elapsed
        sampling.samples.append(elapsed / sampling.loops)
        report(Phase.MEASURING, min(1.0, sampling.spent / budget_s))


FLOOR_SAMPLE_S = 0.004  # one floor sample: long enough to share the machine the way a cell's
#   samples do (a time slice is a few ms: shorter samples would miss what a loaded machine adds)
FLOOR_SAMPLES = 5


@dataclass(frozen=True)
class HarnessFloor:
    """What an empty kernel reads through this harness, per call: ``resident`` with the inputs
    moved once (one clock reading per sample of many calls), ``fresh`` with a fresh copy of the
    inputs before each call (a clock reading around every call). A cell's median near its
    floor is mostly the harness, not the kernel."""

    resident_s: float
    fresh_s: float

    def for_cell(self, fresh: bool) -> float:
        return self.fresh_s if fresh else self.resident_s


def harness_floor(clock: Clock = time.perf_counter) -> HarnessFloor:
    """Time an empty kernel the way a cell is timed (the same :class:`_Timer`, samples of a
    few milliseconds, the median of ``FLOOR_SAMPLES``), each way. The empty kernel is wrapped
    the way a user's kernel is (the user-kernel contract's kernel around an adapter's, calling
    a function with keyword arguments): jitscope's own layers, never the library's dispatch,
    which is part of what a user's call costs. About 50 ms, once per worker."""

    def empty(**_inputs: Any) -> None:
        return None

    inputs: dict[str, Any] = {}
    kernel = FunctionKernel(FunctionKernel(lambda: empty(**inputs)).run)
    floors = []
    for timed in (_timed_resident, _fresh_timer(kernel.transfer)):
        timer = _Timer(kernel.run, kernel.sync, timed, clock)
        probe, _ = timer(200)
        loops = max(200, int(FLOOR_SAMPLE_S / max(probe / 200, 1e-9)))
        samples = sorted(timer(loops)[0] / loops for _ in range(FLOOR_SAMPLES))
        floors.append(samples[len(samples) // 2])
    return HarnessFloor(resident_s=floors[0], fresh_s=floors[1])


NEAR_FLOOR_FACTOR = 5.0  # a median below this many floors is at least a fifth harness
NEAR_FLOOR_WORDS = "near the harness floor"


def near_floor_note(median_s: float, floor_s: float | None) -> str:
    """The note a cell gets when its median is within ``NEAR_FLOOR_FACTOR`` of the harness
    floor ("" otherwise, or when the floor is unknown)."""
    if floor_s is None or floor_s <= 0 or median_s >= NEAR_FLOOR_FACTOR * floor_s:
        return ""
    return f"{NEAR_FLOOR_WORDS} ({floor_s * 1e9:.0f} ns: an empty kernel's time through the same timing loop)"
