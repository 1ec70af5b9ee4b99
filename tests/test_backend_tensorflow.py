"""TensorFlow for real: XLA-compiled graph loops on every workload and dtype, sync by
materialising, float64 honoured, CUDA a clear skip on a CPU box."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from backend_support import run_cells
from cli_support import run_json_cells

from jitscope.core.model import CellResult, CellSpec, Status

if importlib.util.find_spec("tensorflow") is None:  # not importorskip: keep heavy libraries out of pytest
    pytest.skip("tensorflow is not installed", allow_module_level=True)

pytestmark = pytest.mark.xdist_group("tensorflow")  # one worker: its module fixture runs once

BUDGET = 0.05


def spec(workload: str, size: int, dtype: str = "float64", device: str = "cpu", **params: int) -> CellSpec:
    return CellSpec(workload, "tensorflow", "default", device, dtype, size,
                    params=tuple(sorted(params.items())), budget_s=BUDGET, timeout_s=300)


CELLS = [
    spec("linreg", 10),
    spec("linreg", 10, "float32"),
    spec("mcpi", 50_000),
    spec("mcpi", 3_000_000, "float32"),  # several chunks, last one partial
    spec("lu", 24),
    spec("lu", 24, "float32"),
    spec("nodes", 20_000),
    spec("nodes", 20_000, "float32"),
]
CUDA = [spec("nodes", 1000, device="cuda")]


@pytest.fixture(scope="module")
def run() -> tuple[dict[int, CellResult], dict[tuple[str, str], dict]]:
    return run_cells(CELLS + CUDA)


@pytest.mark.parametrize("index", range(len(CELLS)), ids=[c.key for c in CELLS])
def test_cell_accurate_and_dtype_honest(run: tuple, index: int) -> None:
    cell, r = CELLS[index], run[0][index]
    assert r.status == Status.OK, r.reason
    assert r.accuracy is not None and r.accuracy.accurate
    # Read from the tensors that ran (a sample carried out of the mcpi loop, the factor's
    # sign for lu), not from the request.
    assert r.observed.dtype_used == cell.dtype
    assert ".numpy()" in r.info["sync"]
    assert "jit_compile=True" in r.info["compiler"]
    # A new tf.function per cell: its tracing count grows in the first call (XLA compiles).
    assert (r.observed.compiled, r.observed.cache) == ("yes", "n/a")
    assert r.compile_s is not None


def test_worker_start_up_pays_for_the_runtime(run: tuple) -> None:
    info = run[1][("tensorflow", "cpu")]
    assert "trivial XLA function" in info["startup_notes"]["runtime_initialised"]
    assert info["startup_s"] > 0


def test_cuda_is_a_clear_skip_without_a_gpu(run: tuple) -> None:
    info = run[1].get(("tensorflow", "cuda"), {})
    r = run[0][len(CELLS)]
    if "cuda" in info.get("devices", []):
        assert r.status == Status.OK, r.reason
        return
    assert r.status == Status.SKIPPED
    assert r.reason.startswith("no cuda device visible to tensorflow (")


EAGER_FILE = '''
import tensorflow as tf
import jitscope

tf.config.run_functions_eagerly(True)  # every tf.function in the worker now runs eagerly

double = jitscope.workload("double", inputs=lambda n, rng: {"x": rng.standard_normal(n)}, sizes=(8,))

@double.reference
def _(x):
    return 2.0 * x

@double.kernel("tensorflow")
def _(x):
    return 2.0 * x
'''


def test_functions_run_eagerly_is_not_a_compiled_timing(tmp_path: Path) -> None:
    """A kernel file that turns on tf.config.run_functions_eagerly: tf.function neither traces
    nor compiles; the cell used to be ok with "no new trace"."""
    kernels = tmp_path / "kernels.py"
    kernels.write_text(EAGER_FILE)
    (cell,) = run_json_cells(tmp_path, "-w", str(kernels), "-b", "tensorflow", "-s", "8")
    assert cell["status"] == "failed", cell
    assert cell["reason"].startswith("tf.function ran eagerly (tf.config.run_functions_eagerly"), cell["reason"]
    assert cell["observed"]["compiled"] == "no", cell
