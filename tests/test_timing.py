"""The measurement protocol, driven by a fake clock: no real time, no flakiness."""

from __future__ import annotations

from collections import deque

import pytest

from jitscope.core.backend import CompileObservation, CompileWatch
from jitscope.core.contention import ContentionWatch
from jitscope.core.timing import measure, target_sample_seconds


class FakeDevice:
    """A 'device' whose calls advance a fake clock. The first call also pays compile time.
    Work is only accounted when sync() runs, like an asynchronous GPU queue."""

    def __init__(self, call_s: float, compile_s: float = 0.0) -> None:
        self.now = 0.0
        self.call_s = call_s
        self.compile_s = compile_s
        self.calls = 0
        self.queued = 0.0
        self.syncs = 0

    def clock(self) -> float:
        return self.now

    def run(self) -> int:
        self.calls += 1
        self.queued += self.call_s + (self.compile_s if self.calls == 1 else 0.0)
        return self.calls

    def sync(self, out: object) -> None:
        self.syncs += 1
        self.now += self.queued
        self.queued = 0.0


def test_first_call_includes_compile_and_steady_state_excludes_it() -> None:
    dev = FakeDevice(call_s=2e-3, compile_s=1.5)
    m = measure(dev.run, dev.sync, budget_s=0.5, clock=dev.clock)
    assert abs(m.first_call_s - 1.502) < 1e-12
    assert all(abs(s - 2e-3) < 1e-12 for s in m.samples)


def test_calibration_reaches_target_sample_length() -> None:
    dev = FakeDevice(call_s=1.25e-6)
    m = measure(dev.run, dev.sync, budget_s=1.0, clock=dev.clock, max_samples=20)
    target = target_sample_seconds(1.0)
    assert m.loops * 1.25e-6 >= target
    # the autorange sequence 1, 2, 5, 10, ...: the first count long enough
    assert m.loops == 10_000
    assert len(m.samples) >= 5


def test_samples_stop_at_budget_or_max() -> None:
    dev = FakeDevice(call_s=0.02)
    m = measure(dev.run, dev.sync, budget_s=1.0, clock=dev.clock, max_samples=1000)
    total = sum(s * m.loops for s in m.samples)
    assert 1.0 <= total <= 1.0 + 0.02 * m.loops + 1e-9
    dev2 = FakeDevice(call_s=1e-3)
    m2 = measure(dev2.run, dev2.sync, budget_s=100.0, clock=dev2.clock, max_samples=7)
    assert len(m2.samples) == 7


def test_slow_call_gets_single_sample_and_says_so() -> None:
    dev = FakeDevice(call_s=5.0, compile_s=1.0)
    m = measure(dev.run, dev.sync, budget_s=1.0, clock=dev.clock)
    assert m.samples == [5.0]
    assert m.loops == 1
    assert "single sample" in m.note
    assert dev.calls == 2  # first call + one steady call, nothing more


class LoggingDevice(FakeDevice):
    """Records every run, sync and clock read in order, with the work still queued when the
    clock was read."""

    def __init__(self, call_s: float, compile_s: float = 0.0) -> None:
        super().__init__(call_s, compile_s)
        self.log: list[tuple[str, float]] = []

    def clock(self) -> float:
        self.log.append(("clock", self.queued))
        return self.now

    def run(self) -> int:
        self.log.append(("run", 0.0))
        return super().run()

    def sync(self, out: object) -> None:
        self.log.append(("sync", 0.0))
        super().sync(out)


def _check_every_region_synced(log: list[tuple[str, float]]) -> int:
    """Every clock read finds nothing queued (so every timed region, which ends with a clock
    read, ended with a sync after its last run), and every run is followed by a sync before
    the next clock read. Returns how many timed regions there were."""
    regions = 0
    pending_run = False
    for event, queued in log:
        if event == "run":
            pending_run = True
        elif event == "sync":
            if pending_run:
                regions += 1
            pending_run = False
        else:
            assert queued == 0.0 and not pending_run, "the clock was read with work un-synced"
    return regions


def test_every_timed_region_is_synced() -> None:
    dev = LoggingDevice(call_s=1e-4, compile_s=0.01)
    m = measure(dev.run, dev.sync, budget_s=0.2, clock=dev.clock)
    regions = _check_every_region_synced(dev.log)
    # first call + warm-up calls + calibration samples + samples, each synced
    assert regions >= 1 + m.warmup_calls + len(m.samples)


def test_every_timed_region_is_synced_in_the_single_sample_path() -> None:
    dev = LoggingDevice(call_s=3.0, compile_s=1.0)
    measure(dev.run, dev.sync, budget_s=1.0, clock=dev.clock)
    assert _check_every_region_synced(dev.log) == 2  # the first call and the one sample


def test_a_region_without_its_sync_is_caught() -> None:
    """The check above can fail: a protocol that skipped one sync would be caught."""
    dev = LoggingDevice(call_s=1e-4)
    calls = [0]

    def sync_but_the_third(out: object) -> None:
        calls[0] += 1
        if calls[0] != 3:
            dev.sync(out)

    measure(dev.run, sync_but_the_third, budget_s=0.05, clock=dev.clock)
    try:
        _check_every_region_synced(dev.log)
    except AssertionError:
        return
    raise AssertionError("a missing sync went unnoticed")


class RecordingWatch(CompileWatch):
    def __init__(self, dev: FakeDevice) -> None:
        self.dev = dev
        self.seen: list[tuple[str, int, float]] = []

    def start(self) -> None:
        self.seen.append(("start", self.dev.calls, self.dev.queued))

    def stop(self) -> CompileObservation:
        self.seen.append(("stop", self.dev.calls, self.dev.queued))
        return CompileObservation("yes", "miss", graph_breaks=1, detail="d")


def test_the_compile_watch_brackets_the_first_call_and_its_sync() -> None:
    dev = FakeDevice(call_s=1e-3, compile_s=0.5)
    watch = RecordingWatch(dev)
    m = measure(dev.run, dev.sync, budget_s=0.05, clock=dev.clock, first_call_watch=watch)
    # started before any call; stopped after exactly one call, with its work synced
    assert watch.seen == [("start", 0, 0.0), ("stop", 1, 0.0)]
    assert m.compile == CompileObservation("yes", "miss", graph_breaks=1, detail="d")


def test_without_a_watch_compilation_is_unknown() -> None:
    dev = FakeDevice(call_s=1e-3, compile_s=0.5)
    m = measure(dev.run, dev.sync, budget_s=0.05, clock=dev.clock)
    assert (m.compile.compiled, m.compile.cache) == ("unknown", "unknown")


class FixedContention(ContentionWatch):
    def __init__(self, value: float | None) -> None:
        super().__init__()
        self.value = value
        self.starts = 0

    def start(self) -> None:
        self.starts += 1

    def stop(self) -> float | None:
        return self.value


def test_cpu_util_is_cpu_time_over_wall_time_of_the_sampling() -> None:
    """A fake process whose CPU clock runs twice as fast as the wall clock (two busy
    threads); the window is the sampling phase, not the 0.5 s first call."""
    dev = FakeDevice(call_s=1e-3, compile_s=0.5)
    m = measure(dev.run, dev.sync, budget_s=0.1, clock=dev.clock, cpu_clock=lambda: 2.0 * dev.now,
                contention_watch=FixedContention(0.25))
    assert m.cpu_util == pytest.approx(2.0)
    assert 0.1 <= m.wall_s < 0.5
    assert m.cpu_contention == 0.25


def test_a_single_long_sample_has_its_cpu_use_too() -> None:
    dev = FakeDevice(call_s=5.0, compile_s=1.0)
    watch = FixedContention(0.4)
    m = measure(dev.run, dev.sync, budget_s=1.0, clock=dev.clock, cpu_clock=lambda: dev.now,
                contention_watch=watch)
    assert m.samples == [5.0]
    assert m.cpu_util == pytest.approx(1.0) and m.wall_s == pytest.approx(5.0)
    assert m.cpu_contention == 0.4
    assert watch.starts == 1  # only around the call that became the sample


def test_short_warm_up_calls_are_not_watched() -> None:
    """Reading every thread's schedstat costs tens of microseconds: not around every call of
    a warm-up, only where a call may become the single sample."""
    dev = FakeDevice(call_s=1e-5)
    watch = FixedContention(0.0)
    measure(dev.run, dev.sync, budget_s=0.05, clock=dev.clock, contention_watch=watch)
    assert watch.starts == 1  # the sampling phase only


class AsyncQueue(FakeDevice):
    """An asynchronous device the way JAX or CUDA are one: ``run`` only enqueues, and
    ``sync(out)`` waits for the call that produced ``out`` and every call before it (like
    ``out.block_until_ready()``). A sync given no output, or an older one, leaves later work
    queued, so only a protocol that syncs the last output before reading the clock times it."""

    def __init__(self, call_s: float) -> None:
        super().__init__(call_s)
        self.pending: deque[tuple[int, float]] = deque()

    def run(self) -> int:
        self.calls += 1
        self.pending.append((self.calls, self.call_s))
        return self.calls

    def sync(self, out: object) -> None:
        self.syncs += 1
        upto = out if isinstance(out, int) else 0
        while self.pending and self.pending[0][0] <= upto:
            self.now += self.pending.popleft()[1]


def test_an_asynchronous_device_is_timed_at_its_true_speed() -> None:
    """The trap the protocol exists for: timing an asynchronous dispatch, which returns at
    once. Each sample must hold its calls' work, so it is the true per-call time, not 0."""
    dev = AsyncQueue(call_s=1e-3)
    m = measure(dev.run, dev.sync, budget_s=0.05, clock=dev.clock, max_samples=10, max_loops=100)
    assert m.first_call_s == pytest.approx(1e-3)
    assert m.samples and all(s == pytest.approx(1e-3) for s in m.samples)
    assert not dev.pending  # nothing left un-waited at the end


def test_progress_reports_phases_in_order() -> None:
    phases: list[str] = []
    dev = FakeDevice(call_s=1e-3)
    measure(dev.run, dev.sync, budget_s=0.1, clock=dev.clock, progress=lambda p, f: phases.append(p.value))
    order = [p for i, p in enumerate(phases) if i == 0 or phases[i - 1] != p]
    assert order == ["compiling", "warmup", "measuring"]
