"""One rule, one place: where two parts of jitscope answer the same question (which thread
caps a run has, which peak a cell reports), they answer it alike, through the real command."""

from __future__ import annotations

import json
from pathlib import Path

from cli_support import jitscope

from jitscope.core.model import CellResult, CellSpec, Observations, Status

MCPI = ["-w", "mcpi", "-b", "numpy", "-s", "1000", "--budget", "0.02", "--no-plot"]
# Every variable `--threads N` sets in a worker: BLIS, Accelerate (vecLib) and numexpr read
# their own, not OpenMP's.
CAPS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS",
        "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS", "BLIS_NUM_THREADS")


def test_the_run_record_names_every_thread_cap_that_threads_sets(tmp_path: Path) -> None:
    """A cap the user set for a library is part of the fairness record, whichever library it
    is for: the record keeps the same list of variables that ``--threads`` sets."""
    out = tmp_path / "run.json"
    env = {var: str(i + 1) for i, var in enumerate(CAPS)}
    proc = jitscope("run", *MCPI, "--db", str(tmp_path / "r.db"), "--json", str(out), env=env)
    assert proc.returncode == 0, proc.stderr
    recorded = json.loads(out.read_text())["run"]["environment"]["thread_env"]
    assert recorded == env


def _result(device: str, host: int | None, gpu: int | None) -> CellResult:
    spec = CellSpec(workload="mcpi", backend="torch", variant="eager", device=device, dtype="float64", size=1000)
    return CellResult(spec, Status.OK, observed=Observations(peak_host_bytes=host, peak_device_bytes=gpu))


def test_a_cells_peak_is_the_devices_on_a_gpu_and_the_hosts_on_the_cpu() -> None:
    assert _result("cuda", 10, 20).peak_memory_bytes == 20
    assert _result("cuda", 10, None).peak_memory_bytes is None  # unobserved: never the host's instead
    assert _result("cpu", 10, 20).peak_memory_bytes == 10
