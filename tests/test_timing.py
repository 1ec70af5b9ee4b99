"""The measurement protocol, driven by a fake clock: no real time, no flakiness."""

from __future__ import annotations

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


def test_every_timed_region_is_synced() -> None:
    dev = FakeDevice(call_s=1e-4)
    measure(dev.run, dev.sync, budget_s=0.2, clock=dev.clock)
    assert dev.queued == 0.0  # nothing left un-synced when the clock was read
    assert dev.syncs >= 3


def test_unsynced_measurement_would_be_wrong() -> None:
    """Sanity of the fake: without sync the clock never moves — which is exactly the trap
    (timing an async dispatch) the protocol's sync prevents."""
    dev = FakeDevice(call_s=1e-3)
    m = measure(dev.run, lambda out: None, budget_s=0.05, clock=dev.clock, max_samples=10, max_loops=100)
    assert m.samples and all(s == 0.0 for s in m.samples)


def test_progress_reports_phases_in_order() -> None:
    phases: list[str] = []
    dev = FakeDevice(call_s=1e-3)
    measure(dev.run, dev.sync, budget_s=0.1, clock=dev.clock, progress=lambda p, f: phases.append(p.value))
    order = [p for i, p in enumerate(phases) if i == 0 or phases[i - 1] != p]
    assert order == ["compiling", "warmup", "measuring"]
