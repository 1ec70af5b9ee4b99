"""A user's workload file whose speed depends on the worker process that runs it, and an
empty kernel (the harness floor).

``perprocess``: each worker process, on its first call, takes the next free number k (0, 1,
2...) from ``$JITSCOPE_TEST_ROUNDS`` (a folder; files created exclusively, so two processes
never share a number) and then sleeps (k + 1) x 2 ms a call: processes that differ far more
than any process's own noise. Without the folder every process is k = 0.

``empty``: returns its input; what it reads is the harness and the call, nothing else."""

import os
import time

import jitscope

_ordinal: list[int] = []


def _process_ordinal() -> int:
    if not _ordinal:
        folder = os.environ.get("JITSCOPE_TEST_ROUNDS")
        k = 0
        while folder:
            try:
                os.close(os.open(os.path.join(folder, f"process.{k}"), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
                break
            except FileExistsError:
                k += 1
        _ordinal.append(k)
    return _ordinal[0]


def _number_workload(name):
    """A workload of one number ``x`` whose reference is ``x``: the three below differ only in
    their python kernel."""
    made = jitscope.workload(name, inputs=lambda n, rng: {"x": float(n)}, sizes=(1,))

    @made.reference
    def _(x):
        return x

    return made


perprocess = _number_workload("perprocess")


@perprocess.kernel("python")
def _(x):
    time.sleep(0.002 * 4 ** _process_ordinal())
    return x


empty = _number_workload("empty")


@empty.kernel("python")
def _(x):
    return x


crashes = _number_workload("crashes")


@crashes.kernel("python")
def _(x):
    """Dies in the second process that runs it (k = 1), mid-cell: the worker exits."""
    if _process_ordinal() == 1:
        os._exit(3)
    time.sleep(0.002)
    return x
