"""A user's workload file with a slow kernel: ``$JITSCOPE_TEST_SLOW`` seconds a call (0.05 by
default), so that a test can pause or stall a run mid-cell. On its first call in a worker the
kernel writes ``measuring.SIZE`` into ``$JITSCOPE_TEST_PIDS`` (the cell is being timed)."""

import os
import time

import jitscope

_seen: set[float] = set()

slow = jitscope.workload("slow", inputs=lambda n, rng: {"x": float(n)}, sizes=(1, 2))


@slow.reference
def _(x):
    return x


@slow.kernel("python")
def _(x):
    if x not in _seen:
        _seen.add(x)
        folder = os.environ.get("JITSCOPE_TEST_PIDS")
        if folder:
            with open(os.path.join(folder, f"measuring.{int(x)}"), "w") as fh:
                fh.write(str(os.getpid()))
    time.sleep(float(os.environ.get("JITSCOPE_TEST_SLOW") or 0.05))
    return x
