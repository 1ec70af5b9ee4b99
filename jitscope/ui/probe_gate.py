"""One worker process at a time, between the app's version probes and its run.

A leaf (threading only): the shared state creates the gate, the run's thread and the probes
use it, and none of them has to import the others for it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class ProbeGate:
    """One worker process at a time: a version probe and a run never overlap. A probe runs
    holding :attr:`lock`; a run pauses new probes, kills the one in flight (:attr:`cancel`,
    which the probe passes on to its worker) and waits for the lock before it starts."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.paused = threading.Event()  # no new probes (a run is on, or the app is closing)
        self.cancel = threading.Event()  # kill the probe in flight

    def stop_for_run(self, notice: Callable[[str], object]) -> None:
        """(the run's thread) Pause probes and wait until none is running; ``notice`` says
        so first when one has to be stopped."""
        self.paused.set()
        self.cancel.set()
        if not self.lock.acquire(blocking=False):
            notice("stopping a version probe first (one worker process at a time)")
            self.lock.acquire()
        self.cancel.clear()
        self.lock.release()

    def resume(self) -> None:
        self.paused.clear()

    def close(self) -> None:
        """The app is closing: no new probe, and the one in flight is killed, not waited for."""
        self.paused.set()
        self.cancel.set()
