"""How long this process's threads waited for a core: evidence that something else competed.

A timing taken while another process shares the cores is slower, and when the competitor
runs for the whole cell every sample is slowed alike: the spread of the samples looks quiet
and no statistic of the samples can tell. The kernel's scheduler can: for every thread Linux
counts the time it ran and the time it sat on a run queue, ready but without a core
(``/proc/self/task/<tid>/schedstat``: "run ns, wait ns, slices"). Over the sampling phase,

    cpu_contention = waited / (ran + waited)

is the share of the time the cell's threads wanted a core and did not get one: 0 on an idle
machine; about 1/3 for a single-threaded kernel next to two busy processes on two cores (each
of three runnable threads gets two thirds of a core). The median of such a cell is inflated by
about ``1 / (1 - cpu_contention)``.

Threads that exit during the window lose their share (a pool that lives for the process, as
NumPy's BLAS, Numba's and torch's do, is counted whole); a thread created during it counts from
zero. Where ``schedstat`` cannot be read (not Linux, a kernel without it) the answer is
``None``: unknown, not zero.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

_TASKS = "/proc/self/task"

Snapshot = dict[int, tuple[int, int]]  # thread id -> (ran ns, waited ns)


def thread_times() -> Snapshot | None:
    """Ran/waited nanoseconds of every live thread of this process, or None if unreadable."""
    try:
        tids = os.listdir(_TASKS)
    except OSError:
        return None
    times: Snapshot = {}
    for tid in tids:
        try:
            with open(f"{_TASKS}/{tid}/schedstat", encoding="ascii") as fh:
                ran, waited = fh.read().split()[:2]
            times[int(tid)] = (int(ran), int(waited))
        except (OSError, ValueError):
            continue  # the thread exited between listdir and open: nothing to count
    return times or None


@dataclass
class ContentionWatch:
    """``start()`` before the sampling phase, ``stop()`` after it: the share of the threads'
    demand for a core that waited (see the module docstring), or None when not observable."""

    before: Snapshot | None = field(default=None, repr=False)

    def start(self) -> None:
        self.before = thread_times()

    def stop(self) -> float | None:
        after = thread_times()
        if self.before is None or after is None:
            return None
        ran = waited = 0
        for tid, (r1, w1) in after.items():
            r0, w0 = self.before.get(tid, (0, 0))
            ran += max(0, r1 - r0)
            waited += max(0, w1 - w0)
        total = ran + waited
        return waited / total if total > 0 else None


def cpu_pressure() -> str:
    """The machine-wide counterpart, for the tuning scripts in benchmarks/: ``some avg10`` of
    ``/proc/pressure/cpu`` (the share of the last 10 s in which some runnable task waited for a
    CPU) as ``"1.23%"``, or ``"unknown"`` where the kernel offers no pressure information."""
    try:
        with open("/proc/pressure/cpu", encoding="ascii") as fh:
            return fh.readline().split()[1].split("=")[1] + "%"
    except (OSError, IndexError):
        return "unknown"
