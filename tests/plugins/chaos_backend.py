"""A backend that misbehaves on purpose, to prove the supervisor survives it.

Loaded as a plugin file (-w); every variant implements the ``mcpi`` workload.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import time

from jitscope.core.backend import Backend, CellContext, FunctionKernel, Implementation, Kernel


def _fine(ctx: CellContext) -> Kernel:
    return FunctionKernel(lambda: 3.141592653589793, notes={"dtype_used": ctx.dtype})


def _noisy(ctx: CellContext) -> Kernel:
    def run() -> float:
        print("hello from print() on stdout")
        os.write(1, b"raw bytes on fd 1, as a C library would write them\n")
        sys.stdout.flush()
        return 3.141592653589793

    return FunctionKernel(run)


def _segfault(ctx: CellContext) -> Kernel:
    def run() -> float:
        ctypes.string_at(0)  # a real SIGSEGV
        return 0.0

    return FunctionKernel(run)


def _hang(ctx: CellContext) -> Kernel:
    def run() -> float:
        time.sleep(3600)
        return 0.0

    return FunctionKernel(run)


def _exit(ctx: CellContext) -> Kernel:
    def run() -> float:
        sys.stderr.write("about to exit mid-cell\n")
        sys.stderr.flush()
        os._exit(3)

    return FunctionKernel(run)


def _garbage(ctx: CellContext) -> Kernel:
    def run() -> float:
        os.write(int(os.environ["JITSCOPE_CHANNEL_FD"]), b"this is not json\n")
        time.sleep(3600)
        return 0.0

    return FunctionKernel(run)


def _raises(ctx: CellContext) -> Kernel:
    def run() -> float:
        raise RuntimeError("kernel exploded")

    return FunctionKernel(run)


def _wrong(ctx: CellContext) -> Kernel:
    return FunctionKernel(lambda: 2.5)  # a broken estimate: the z-check must catch it


def _kill(ctx: CellContext) -> Kernel:
    def run() -> float:
        os.kill(os.getpid(), signal.SIGKILL)
        return 0.0

    return FunctionKernel(run)


def _closed(ctx: CellContext) -> Kernel:
    def run() -> float:
        os.close(int(os.environ["JITSCOPE_CHANNEL_FD"]))  # stop talking, keep running
        time.sleep(3600)
        return 0.0

    return FunctionKernel(run)


def _nan(ctx: CellContext) -> Kernel:
    return FunctionKernel(lambda: float("nan"))


def _huge(ctx: CellContext) -> Kernel:
    def run() -> float:
        import numpy as np

        np.ones(2**62, dtype=np.uint8)  # far beyond any machine: MemoryError
        return 0.0

    return FunctionKernel(run)


def _markup(ctx: CellContext) -> Kernel:
    def run() -> float:
        raise OSError("cannot open [/tmp/data.bin] [bold]x[/] \x1b[31mred")

    return FunctionKernel(run)


def _slow(ctx: CellContext) -> Kernel:
    def run() -> float:
        time.sleep(0.3)
        return 3.141592653589793

    return FunctionKernel(run)


def _wrong_cell(ctx: CellContext) -> Kernel:
    def run() -> float:
        from jitscope.runner.protocol import encode

        fake = {"type": "result", "cell": 10**6, "result": {"spec": ctx.spec.to_json(), "status": "ok"}}
        os.write(int(os.environ["JITSCOPE_CHANNEL_FD"]), encode(fake))
        time.sleep(3600)
        return 0.0

    return FunctionKernel(run)


def _long_line(ctx: CellContext) -> Kernel:
    def run() -> float:
        fd = int(os.environ["JITSCOPE_CHANNEL_FD"])
        chunk = b"x" * 65536
        for _ in range(100):  # 6.5 MB without a newline
            os.write(fd, chunk)
        time.sleep(3600)
        return 0.0

    return FunctionKernel(run)


def _spawner(ctx: CellContext) -> Kernel:
    """The first call starts a grandchild (in the worker's process group) and answers; every
    later call hangs. Cancelling in the warm-up must take the grandchild down too."""
    calls = []

    def run() -> float:
        import subprocess

        if not calls:
            calls.append(subprocess.Popen(["sleep", "3600"]))
            return 3.141592653589793
        time.sleep(3600)
        return 0.0

    return FunctionKernel(run)


def _mute_info() -> dict[str, object]:
    time.sleep(3600)  # never says hello
    return {}


_VARIANTS = {
    "fine": _fine,
    "noisy": _noisy,
    "segfault": _segfault,
    "hang": _hang,
    "exit": _exit,
    "garbage": _garbage,
    "raises": _raises,
    "wrong": _wrong,
    "sigkill": _kill,
    "closed": _closed,
    "nan": _nan,
    "huge": _huge,
    "markup": _markup,
    "slow": _slow,
    "wrongcell": _wrong_cell,
    "longline": _long_line,
    "spawner": _spawner,
}

BACKENDS = [
    Backend(
        name="chaos",
        description="misbehaves on purpose (tests only)",
        implementations=tuple(Implementation("mcpi", "chaos", v, f) for v, f in _VARIANTS.items()),
        default_variant="fine",
        info=lambda: {"version": "0", "devices": ["cpu"]},
    ),
    Backend(
        name="mute",
        description="a worker that never says hello (tests only)",
        implementations=(Implementation("mcpi", "mute", "default", _fine),),
        info=_mute_info,
    ),
]
