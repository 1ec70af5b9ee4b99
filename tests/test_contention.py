"""Run-queue contention (jitscope.core.contention): the share of the threads' demand for a
core that waited, from Linux's per-thread schedstat; None where it cannot be read."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from jitscope.core import contention
from jitscope.core.contention import ContentionWatch, thread_times

has_schedstat = pytest.mark.skipif(not Path("/proc/self/schedstat").exists(), reason="needs Linux schedstat")


def test_waits_and_runs_are_summed_per_thread_across_the_window(monkeypatch: pytest.MonkeyPatch) -> None:
    """Thread 1 lived throughout; thread 2 started inside the window (counted from zero);
    thread 3 exited inside it (its share is lost, not negative)."""
    snapshots = iter([
        {1: (1_000, 100), 3: (500, 500)},
        {1: (1_600, 300), 2: (200, 100)},
    ])
    monkeypatch.setattr(contention, "thread_times", lambda: next(snapshots))
    watch = ContentionWatch()
    watch.start()
    # ran 600 + 200, waited 200 + 100
    assert watch.stop() == pytest.approx(300 / 1_100)


def test_unreadable_schedstat_is_unknown_not_zero(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(contention, "_TASKS", str(tmp_path / "no-such-dir"))
    assert thread_times() is None
    watch = ContentionWatch()
    watch.start()
    assert watch.stop() is None


@has_schedstat
def test_every_live_thread_is_read() -> None:
    done = threading.Event()
    ready = threading.Event()
    ids: list[int] = []

    def worker() -> None:
        ids.append(threading.get_native_id())
        ready.set()
        done.wait()

    t = threading.Thread(target=worker)
    t.start()
    ready.wait()
    try:
        times = thread_times()
    finally:
        done.set()
        t.join()
    assert times is not None
    assert {threading.get_native_id(), ids[0]} <= set(times)


@has_schedstat
def test_sharing_a_core_with_a_busy_process_is_seen() -> None:
    """A busy loop pinned to the same core as a competing busy process: each gets at most
    half the core, so at least about half of the loop's demand waited. (Other load on the
    machine only raises it, so the bound holds on a shared machine.)"""
    core = min(os.sched_getaffinity(0))
    hog = f"import os, time\nos.sched_setaffinity(0, {{{core}}})\nend = time.time() + 5\nwhile time.time() < end: pass"
    script = textwrap.dedent(f"""
        import os, subprocess, sys, time
        from jitscope.core.contention import ContentionWatch
        os.sched_setaffinity(0, {{{core}}})
        hog = subprocess.Popen([sys.executable, "-c", {hog!r}])  # ends by itself within 5 s
        time.sleep(0.2)
        watch = ContentionWatch()
        watch.start()
        t = time.perf_counter()
        while time.perf_counter() - t < 0.4:
            pass
        print(watch.stop())
        hog.kill()
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    assert out.returncode == 0, out.stderr
    assert float(out.stdout) > 0.3
