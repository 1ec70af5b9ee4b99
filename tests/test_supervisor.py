"""The worker protocol survives misbehaving backends: prints, segfaults, hangs, exits, garbage."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from conftest import CHAOS

from jitscope.core.model import CellResult, Status
from jitscope.core.registry import load_registry
from jitscope.results.store import Store
from jitscope.runner.events import CellFinished, RunFinished, WorkerStarted
from jitscope.runner.plan import Selection, build_plan
from jitscope.runner.recorded_run import RecordedRun
from jitscope.runner.supervisor import Supervisor


def chaos_run(variants: list[str], timeout_s: float = 60.0, db: Path | None = None) -> tuple[list[CellResult], list[object]]:
    registry = load_registry([CHAOS])
    sel = Selection(workloads=["mcpi"], backends=[("chaos", v) for v in variants], sizes=[1000],
                    budget_s=0.02, timeout_s=timeout_s)
    plan = build_plan(registry, sel)
    # build_plan dedups (backend, variant) pairs; tests want repeats, so build cells by hand
    cells = []
    for v in variants:
        cells.append(next(c for c in plan.cells if c.variant == v))
    plan.cells = cells
    events: list[object] = []
    if db is None:
        sup = Supervisor(plan, registry, lock_path=None)
        for ev in sup.run():
            events.append(ev)
    else:
        rec = RecordedRun(plan, registry, db, supervisor_factory=lambda p, r: Supervisor(p, r, lock_path=None))
        events.extend(rec.events())
    finished = sorted((e for e in events if isinstance(e, CellFinished)), key=lambda e: e.index)
    return [e.result for e in finished], events


def test_prints_to_stdout_and_fd1_do_not_corrupt_protocol() -> None:
    results, _ = chaos_run(["noisy", "fine"])
    assert [r.status for r in results] == [Status.OK, Status.OK]
    assert results[0].accuracy is not None and results[0].accuracy.accurate


def test_segfault_is_a_crashed_cell_and_the_sweep_goes_on() -> None:
    results, events = chaos_run(["fine", "segfault", "fine"])
    assert [r.status for r in results] == [Status.OK, Status.CRASHED, Status.OK]
    assert "SIGSEGV" in results[1].reason
    # a fresh worker was started for the cells after the crash
    assert sum(isinstance(e, WorkerStarted) for e in events) == 2


def test_sigkill_and_os_exit_mid_cell() -> None:
    results, _ = chaos_run(["sigkill", "exit", "fine"])
    assert [r.status for r in results] == [Status.CRASHED, Status.CRASHED, Status.OK]
    assert "SIGKILL" in results[0].reason
    assert "code 3" in results[1].reason
    assert "about to exit mid-cell" in results[1].reason  # last stderr lines are kept


def test_hang_becomes_timeout_and_next_cell_runs() -> None:
    t0 = time.monotonic()
    results, _ = chaos_run(["hang", "fine"], timeout_s=3.0)
    assert [r.status for r in results] == [Status.TIMEOUT, Status.OK]
    assert "timeout of 3 s" in results[0].reason
    assert time.monotonic() - t0 < 60


def test_garbage_on_the_channel_is_a_failed_cell() -> None:
    results, _ = chaos_run(["garbage", "fine"])
    assert results[0].status == Status.FAILED
    assert "unparseable" in results[0].reason
    assert results[1].status == Status.OK


def test_exception_and_wrong_answer_are_failed_cells_with_reasons() -> None:
    results, _ = chaos_run(["raises", "wrong", "fine"])
    assert results[0].status == Status.FAILED and "kernel exploded" in results[0].reason
    assert results[1].status == Status.FAILED and results[1].reason.startswith("inaccurate")
    assert results[1].stats is not None  # timing kept, but the cell does not pass
    assert results[2].status == Status.OK


def test_results_before_a_crash_are_in_the_store(db_path: Path) -> None:
    results, _ = chaos_run(["fine", "noisy", "segfault"], db=db_path)
    with Store(db_path) as store:
        run = store.runs()[0]
        stored = store.cells(run.id)
    assert [r.status for r in stored] == [Status.OK, Status.OK, Status.CRASHED]
    assert stored[0].stats == results[0].stats
    assert run.state == "finished"
    env = run.environment
    for key in ("host", "os", "cpu", "cores", "memory_bytes", "python", "versions", "thread_env"):
        assert key in env
    assert env["workers"]["chaos/cpu"]["version"] == "0"  # what the worker itself reported


def test_cancel_kills_the_worker_at_once() -> None:
    registry = load_registry([CHAOS])
    plan = build_plan(registry, Selection(workloads=["mcpi"], backends=[("chaos", "hang"), ("numpy", None)],
                                          sizes=[1000], timeout_s=600))
    sup = Supervisor(plan, registry, lock_path=None)
    events: list[object] = []

    def consume() -> None:
        events.extend(sup.run())

    thread = threading.Thread(target=consume)
    thread.start()
    deadline = time.monotonic() + 60
    while not any(isinstance(e, WorkerStarted) for e in events) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)
    t0 = time.monotonic()
    sup.cancel()
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert time.monotonic() - t0 < 5
    finished = [e.result for e in events if isinstance(e, CellFinished)]
    assert [r.status for r in finished] == [Status.CANCELLED, Status.CANCELLED]
    assert isinstance(events[-1], RunFinished) and events[-1].cancelled


def test_unavailable_backend_and_missing_implementation_are_reasoned_skips() -> None:
    from jitscope.core.backend import Backend

    registry = load_registry([CHAOS])
    registry.backends["ghost"] = Backend("ghost", "not installed", requires=("no_such_module_xyz",), extra="ghost")
    plan = build_plan(registry, Selection(workloads=["lu"], backends=[("ghost", None), ("chaos", None)], sizes=[4]))
    # ghost has no variants at all, so build_plan yields only chaos cells; add a ghost cell by hand
    from dataclasses import replace

    plan.cells.append(replace(plan.cells[0], backend="ghost", variant="default"))
    results = [e.result for e in Supervisor(plan, registry, lock_path=None).run() if isinstance(e, CellFinished)]
    reasons = {r.spec.backend: r.reason for r in results}
    assert all(r.status == Status.SKIPPED for r in results)
    assert "has no implementation of lu" in reasons["chaos"]
    assert "no_such_module_xyz is not installed" in reasons["ghost"] and "jitscope[ghost]" in reasons["ghost"]


def test_cuda_cell_on_a_cpu_only_backend_is_skipped_with_reason() -> None:
    registry = load_registry()
    plan = build_plan(registry, Selection(workloads=["mcpi"], backends=[("numpy", None)], sizes=[1000], device="cuda"))
    results = [e.result for e in Supervisor(plan, registry, lock_path=None).run() if isinstance(e, CellFinished)]
    assert results[0].status == Status.SKIPPED
    assert "no cuda implementation" in results[0].reason


def test_timing_lock_serialises_two_supervisors(tmp_path: Path) -> None:
    from jitscope.runner.events import RunWaited
    from jitscope.runner.supervisor import TimingLock

    lock_path = tmp_path / "timing.lock"
    holder = TimingLock(lock_path)
    assert holder.try_acquire()
    registry = load_registry()
    plan = build_plan(registry, Selection(workloads=["mcpi"], backends=[("numpy", None)], sizes=[100], budget_s=0.02))
    sup = Supervisor(plan, registry, lock_path=lock_path)
    gen = sup.run()
    first = next(gen)
    assert isinstance(first, RunWaited)
    holder.release()
    rest = list(gen)
    assert [e.result.status for e in rest if isinstance(e, CellFinished)] == [Status.OK]


@pytest.mark.parametrize("threads", [1, 2])
def test_thread_setting_reaches_the_worker(threads: int) -> None:
    registry = load_registry()
    plan = build_plan(registry, Selection(workloads=["linreg"], backends=[("numpy", None)], sizes=[10], budget_s=0.02, threads=threads))
    events = list(Supervisor(plan, registry, lock_path=None).run())
    from jitscope.runner.events import WorkerReady

    pytest.importorskip("threadpoolctl")  # the test extra installs it: the worker reads its real pools
    info = next(e.info for e in events if isinstance(e, WorkerReady))
    result = next(e.result for e in events if isinstance(e, CellFinished))
    assert result.status == Status.OK
    # What the worker's BLAS pools really have (threadpoolctl, read inside the worker), not
    # an echo of the spec: the cap reached the library.
    pools = info["threadpools"]
    assert pools and all(p.endswith(f":{threads}") for p in pools), pools


# ---- the protocol's edge cases (issue 10: each had no test) -------------------------------------
def test_a_result_for_another_cell_fails_the_running_cell_and_nothing_else() -> None:
    results, _ = chaos_run(["wrongcell", "fine"], timeout_s=30)
    assert results[0].status == Status.FAILED and "while cell 0 runs" in results[0].reason
    assert results[1].status == Status.OK and results[1].spec.variant == "fine"


def test_an_over_long_protocol_line_fails_the_cell() -> None:
    results, _ = chaos_run(["longline", "fine"], timeout_s=30)
    assert results[0].status == Status.FAILED and "longer than" in results[0].reason
    assert results[1].status == Status.OK


def test_a_worker_that_never_says_hello_is_bounded_by_the_start_up_timeout() -> None:
    registry = load_registry([CHAOS])
    plan = build_plan(registry, Selection(workloads=["mcpi"], backends=[("mute", None)], sizes=[1000, 2000]))
    t0 = time.monotonic()
    events = list(Supervisor(plan, registry, lock_path=None, startup_timeout_s=2.0).run())
    finished = [e.result for e in events if isinstance(e, CellFinished)]
    assert [r.status for r in finished] == [Status.FAILED, Status.FAILED]
    assert all("did not start within 2 s" in r.reason for r in finished)
    assert time.monotonic() - t0 < 30


def test_a_result_is_matched_by_cell_id_not_by_comparing_specs() -> None:
    """A worker reporting its cell with a different (e.g. NaN-carrying) spec is still matched
    to the cell it ran, by id, and the supervisor's own spec is kept."""
    from dataclasses import replace

    registry = load_registry([CHAOS])
    plan = build_plan(registry, Selection(workloads=["mcpi"], backends=[("chaos", "fine")], sizes=[1000]))
    sup = Supervisor(plan, registry, lock_path=None)
    spec = plan.cells[0]
    pending = [(0, spec)]
    odd = replace(spec, params=(("p", float("nan")),))
    message = {"type": "result", "cell": 0, "result": CellResult(spec=odd, status=Status.OK).to_json()}
    event = sup._handle(message, "chaos", "cpu", pending)
    assert isinstance(event, CellFinished) and event.index == 0 and event.result.spec == spec
    assert pending == []


def _group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes in process group ``pgid``."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":  # fields: state, ppid, pgrp, ...
            members.append(int(entry.name))
    return members


def test_cancel_in_the_warm_up_kills_the_worker_process_group_grandchildren_included() -> None:
    from jitscope.core.model import Phase
    from jitscope.runner.events import CellProgressed

    registry = load_registry([CHAOS])
    plan = build_plan(registry, Selection(workloads=["mcpi"], backends=[("chaos", "spawner")], sizes=[1000],
                                          budget_s=0.02, timeout_s=600))
    sup = Supervisor(plan, registry, lock_path=None)
    gen = sup.run()
    worker_pid = None
    for event in gen:
        if isinstance(event, WorkerStarted):
            worker_pid = event.pid
        if isinstance(event, CellProgressed) and event.phase == Phase.WARMUP:
            break
    assert worker_pid is not None
    deadline = time.monotonic() + 10
    while len(_group_members(worker_pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(_group_members(worker_pid)) >= 2  # the worker and its grandchild
    sup.cancel()
    rest = list(gen)
    assert [e.result.status for e in rest if isinstance(e, CellFinished)] == [Status.CANCELLED]
    deadline = time.monotonic() + 10
    while _group_members(worker_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _group_members(worker_pid) == []


def test_cancel_while_waiting_for_the_timing_lock_starts_no_worker(tmp_path: Path) -> None:
    from jitscope.runner.events import RunWaited
    from jitscope.runner.supervisor import TimingLock

    lock_path = tmp_path / "timing.lock"
    holder = TimingLock(lock_path)
    assert holder.try_acquire()
    try:
        registry = load_registry()
        plan = build_plan(registry, Selection(workloads=["mcpi"], backends=[("numpy", None)], sizes=[100, 200],
                                              budget_s=0.02))
        sup = Supervisor(plan, registry, lock_path=lock_path)
        gen = sup.run()
        assert isinstance(next(gen), RunWaited)
        waiting = threading.Thread(target=lambda: events.extend(gen))
        events: list[object] = []
        waiting.start()
        time.sleep(0.5)
        sup.cancel()
        waiting.join(timeout=10)
        assert not waiting.is_alive(), "cancel must end the wait for the lock"
    finally:
        holder.release()
    assert not any(isinstance(e, WorkerStarted) for e in events)
    assert [e.result.status for e in events if isinstance(e, CellFinished)] == [Status.CANCELLED, Status.CANCELLED]
    assert isinstance(events[-1], RunFinished) and events[-1].cancelled
