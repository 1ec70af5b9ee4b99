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
from jitscope.core import backend as api

NAME = "julia"
SERVER = Path(__file__).with_name("_julia_server.jl")


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


JULIA_RNG = "Julia Random.Xoshiro (xoshiro256++), seeded per call"


class _Files:
    """Where a cell's inputs are written for the julia process to read (float64, raw)."""

    def __init__(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="jitscope-julia-")

    def write(self, name: str, array: Any) -> str:
        import numpy as np

        path = Path(self._tmp.name) / name
        np.ascontiguousarray(array, dtype="<f8").tofile(path)
        return str(path)

    def cleanup(self) -> None:
        self._tmp.cleanup()


def _setup_linreg(inputs: dict[str, Any], dt: str, files: _Files) -> tuple[str, dict[str, str]]:
    n, d = inputs["X"].shape
    x_file, y_file = files.write("X.bin", inputs["X"]), files.write("y.bin", inputs["y"])
    coef = repr(float(inputs["mu"]) * 2.0 / n)
    return (f"SETUP linreg {dt} {x_file} {n} {d} {y_file} {coef} {int(inputs['epochs'])}",
            {"layout": "X as d x N column-major (each sample contiguous), one fused pass per epoch"})


def _setup_mcpi(inputs: dict[str, Any], dt: str, files: _Files) -> tuple[str, dict[str, str]]:
    return (f"SETUP mcpi {dt} {int(inputs['n'])} {int(inputs['seed'])}",
            {"rng": JULIA_RNG, "layout": "fused generate-test-count, Int64 counter"})


def _setup_lu(inputs: dict[str, Any], dt: str, files: _Files) -> tuple[str, dict[str, str]]:
    return (f"SETUP lu {dt} {files.write('A.bin', inputs['A'])} {inputs['A'].shape[0]}",
            {"layout": "copy of A, naive Doolittle in column-oriented (kji) loop order"})


def _setup_nodes(inputs: dict[str, Any], dt: str, files: _Files) -> tuple[str, dict[str, str]]:
    return (f"SETUP nodes {dt} {int(inputs['n'])} {float(inputs['p'])!r} {int(inputs['seed'])}",
            {"rng": JULIA_RNG, "layout": "Vector of mutable struct Node{T}(key, bias) objects; checksum in Float64"})


# Each workload's SETUP request (sent in transfer: writing the inputs is timed as transfer).
_SETUPS = {"linreg": _setup_linreg, "mcpi": _setup_mcpi, "lu": _setup_lu, "nodes": _setup_nodes}


def _result(workload: str, fields: list[str]) -> Any:
    """The reply's values in the workload's result form."""
    values = [float(v) for v in fields]
    if workload == "linreg":
        import numpy as np

        return np.array(values)
    if workload == "lu":
        return values[0], values[1]
    return values[0]


def julia_kernel(ctx: api.CellContext, julia: str) -> api.Kernel:
    """A :class:`FunctionKernel` (the one kernel shape) driving one julia process: transfer
    writes the inputs and sends SETUP, each run is one RUN round trip, whose reply carries
    Julia's own elapsed time (recorded beside the headline time) and the element type the
    kernel computed with (what ran)."""
    server, files = JuliaServer(julia), _Files()
    internal: list[float] = []
    notes: dict[str, Any] = {
        "compiler": f"julia {server.version} (LLVM JIT, -O3), kernels compiled on first call",
        "threads": 1,
        "sync": "reply line read back over the pipe (the call is complete when it arrives)",
        "timing": "median includes one pipe round trip; julia_internal_median_s is Julia's own time_ns()",
    }

    def transfer() -> None:
        request, more = _SETUPS[ctx.spec.workload](ctx.inputs, ctx.dtype, files)
        server.request(request)
        notes.update(more)

    def run() -> Any:
        fields = server.request("RUN")  # elapsed_ns, element type, result values
        internal.append(int(fields[0]) * 1e-9)
        return fields[1], fields[2:]

    def fetch(out: Any) -> Any:
        if internal:
            notes["julia_internal_median_s"] = statistics.median(internal[1:] or internal)
            notes["julia_first_call_s"] = internal[0]
        return _result(ctx.spec.workload, out[1])

    def close() -> None:
        server.close()
        files.cleanup()

    return api.FunctionKernel(run, transfer=transfer, fetch=fetch, ran_with=lambda out: SeenDtype(out[0]),
                          notes=notes, close=close)


def _build(ctx: api.CellContext) -> api.Kernel:
    julia = shutil.which("julia")
    if julia is None:
        raise api.SkipCell("julia not found on PATH")
    if ctx.spec.workload not in _SETUPS:
        raise api.SkipCell(f"julia has no kernel for {ctx.spec.workload}")
    return julia_kernel(ctx, julia)


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


BACKEND = api.Backend(
    name=NAME,
    description="Julia kernels in a long-lived julia process (when julia is on PATH)",
    requires=(),
    devices=("cpu",),
    info=_info,
    probe=api.which_probe("julia"),
)
