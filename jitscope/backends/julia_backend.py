"""Julia (the seed's "Numba vs Julia"): kernels in ``_julia_server.jl``, run by a long-lived
``julia`` process that this worker drives over a line protocol on stdin/stdout.

Available only where a ``julia`` binary is on PATH (otherwise: "julia not found on PATH").
Inputs travel as raw float64 files written during ``transfer`` (timed as transfer). Julia's
JIT compiles each kernel on its first call, which is the cell's compile column. The headline
time per call includes one pipe round trip (tens of microseconds); Julia's own ``time_ns()``
measurement of the call is recorded next to it as ``julia_internal_median_s``.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from jitscope.backends._observe import SeenDtype
from jitscope.core.backend import (
    Backend,
    CellContext,
    Kernel,
    SkipCell,
    which_probe,
)

NAME = "julia"
SERVER = Path(__file__).with_name("_julia_server.jl")
WORKLOADS = ("linreg", "mcpi", "lu", "nodes")


class JuliaServer:
    """One ``julia`` child process speaking the _julia_server.jl protocol."""

    def __init__(self, julia: str) -> None:
        self.proc = subprocess.Popen(
            [julia, "--startup-file=no", "--history-file=no", "--threads=1", "-O3", str(SERVER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=None,  # inherits the worker's captured stderr
            text=True,
            bufsize=1,
        )
        ready = self._readline()
        if not ready.startswith("READY"):
            self.close()
            raise RuntimeError(f"julia server did not start: {ready!r}")
        self.version = ready.split(maxsplit=1)[1] if " " in ready else "?"

    def _readline(self) -> str:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            code = self.proc.poll()
            raise RuntimeError(f"julia server exited (code {code})")
        return line.strip()

    def request(self, line: str) -> list[str]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        reply = self._readline()
        if reply.startswith("ERR"):
            raise RuntimeError(f"julia: {reply[4:]}")
        if not reply.startswith("OK"):
            raise RuntimeError(f"julia server: unexpected reply {reply[:200]!r}")
        return reply.split()[1:]

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.write("QUIT\n")
                self.proc.stdin.flush()
                self.proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()


class JuliaKernel(Kernel):
    def __init__(self, ctx: CellContext, julia: str) -> None:
        super().__init__()
        self.ctx = ctx
        self.server = JuliaServer(julia)
        self._tmp = tempfile.TemporaryDirectory(prefix="jitscope-julia-")
        self._internal: list[float] = []
        self.notes.update(
            {
                "compiler": f"julia {self.server.version} (LLVM JIT, -O3), kernels compiled on first call",
                "threads": 1,
                "sync": "reply line read back over the pipe (the call is complete when it arrives)",
                "timing": "median includes one pipe round trip; julia_internal_median_s is Julia's own time_ns()",
            }
        )

    def _file(self, name: str, array: Any) -> str:
        import numpy as np

        path = Path(self._tmp.name) / name
        np.ascontiguousarray(array, dtype="<f8").tofile(path)
        return str(path)

    def transfer(self) -> None:
        ctx, inputs, dt = self.ctx, self.ctx.inputs, self.ctx.dtype
        if ctx.spec.workload == "linreg":
            n, d = inputs["X"].shape
            x_file = self._file("X.bin", inputs["X"])
            y_file = self._file("y.bin", inputs["y"])
            coef = repr(float(inputs["mu"]) * 2.0 / n)
            self.server.request(f"SETUP linreg {dt} {x_file} {n} {d} {y_file} {coef} {int(inputs['epochs'])}")
            self.notes["layout"] = "X as d x N column-major (each sample contiguous), one fused pass per epoch"
        elif ctx.spec.workload == "mcpi":
            self.server.request(f"SETUP mcpi {dt} {int(inputs['n'])} {int(inputs['seed'])}")
            self.notes["rng"] = "Julia Random.Xoshiro (xoshiro256++), seeded per call"
            self.notes["layout"] = "fused generate-test-count, Int64 counter"
        elif ctx.spec.workload == "lu":
            a_file = self._file("A.bin", inputs["A"])
            self.server.request(f"SETUP lu {dt} {a_file} {inputs['A'].shape[0]}")
            self.notes["layout"] = "copy of A, naive Doolittle in column-oriented (kji) loop order"
        elif ctx.spec.workload == "nodes":
            self.server.request(f"SETUP nodes {dt} {int(inputs['n'])} {float(inputs['p'])!r} {int(inputs['seed'])}")
            self.notes["rng"] = "Julia Random.Xoshiro (xoshiro256++), seeded per call"
            self.notes["layout"] = "Vector of mutable struct Node{T}(key, bias) objects; checksum in Float64"
        else:  # _build refuses other workloads before a process is started
            raise RuntimeError(f"julia has no kernel for {ctx.spec.workload}")

    def run(self) -> Any:
        fields = self.server.request("RUN")  # elapsed_ns, element type, result values
        self._internal.append(int(fields[0]) * 1e-9)
        return fields[1], fields[2:]

    def ran_with(self, out: Any) -> Any:
        """The element type the server read from the data its kernel computed with."""
        return SeenDtype(out[0])

    def fetch(self, out: Any) -> Any:
        if self._internal:
            steady = self._internal[1:] or self._internal
            self.notes["julia_internal_median_s"] = statistics.median(steady)
            self.notes["julia_first_call_s"] = self._internal[0]
        values = [float(v) for v in out[1]]
        if self.ctx.spec.workload == "linreg":
            import numpy as np

            return np.array(values)
        if self.ctx.spec.workload == "lu":
            return values[0], values[1]
        return values[0]

    def close(self) -> None:
        self.server.close()
        self._tmp.cleanup()


def _build(ctx: CellContext) -> Kernel:
    julia = shutil.which("julia")
    if julia is None:
        raise SkipCell("julia not found on PATH")
    if ctx.spec.workload not in WORKLOADS:
        raise SkipCell(f"julia has no kernel for {ctx.spec.workload}")
    return JuliaKernel(ctx, julia)


def _info() -> dict[str, Any]:
    julia = shutil.which("julia")
    info: dict[str, Any] = {"devices": ["cpu"], "julia": julia}
    if julia:
        try:
            out = subprocess.run([julia, "--version"], capture_output=True, text=True, timeout=60)
            info["version"] = out.stdout.strip().removeprefix("julia version ")
        except (OSError, subprocess.SubprocessError):
            info["version"] = "?"
    return info


BACKEND = Backend(
    name=NAME,
    description="Julia kernels in a long-lived julia process (when julia is on PATH)",
    requires=(),
    devices=("cpu",),
    info=_info,
    probe=which_probe("julia"),
)
