"""A user's workload file whose kernel starts processes of its own (issue 19 item 7).

On its first call the kernel forks a child that sleeps (it stays in the worker's process
group) and a child that leaves the worker's session (``os.setsid``) and spins, as a careless
kernel might. Each child writes its pid to a file ``fork.PID`` / ``setsid.PID`` in the folder
named by ``$JITSCOPE_TEST_PIDS``. ``$JITSCOPE_TEST_SLOW`` seconds of sleep per call keep a
cell running (for a test that kills the run mid-cell).
"""

import os
import time

import jitscope

_started: list[int] = []


def _child(kind: str) -> None:
    if kind == "setsid":
        os.setsid()
    path = os.path.join(os.environ["JITSCOPE_TEST_PIDS"], f"{kind}.{os.getpid()}")
    with open(path + ".tmp", "w") as fh:
        fh.write(str(os.getpid()))
    os.rename(path + ".tmp", path)
    deadline = time.monotonic() + 120  # bounded, should a test fail to clean up
    while time.monotonic() < deadline:
        if kind == "fork":
            time.sleep(0.1)


def _start_children() -> None:
    if _started:
        return
    for kind in ("fork", "setsid"):
        pid = os.fork()
        if pid == 0:
            try:
                _child(kind)
            finally:
                os._exit(0)
        _started.append(pid)


spawn = jitscope.workload("spawn", inputs=lambda n, rng: {"x": float(n)}, sizes=(1,))


@spawn.reference
def _(x):
    return x


@spawn.kernel("python")
def _(x):
    _start_children()
    time.sleep(float(os.environ.get("JITSCOPE_TEST_SLOW") or 0))
    return x
