"""Triton without a GPU: the interpreter variant runs the real kernels at small sizes and
says it is the interpreter; sizes over its cap, nodes, and compiled kernels are skipped with
a reason."""

from __future__ import annotations

import importlib.util

import pytest
from backend_support import run_cells

from jitscope.core.model import CellResult, CellSpec, Status

if importlib.util.find_spec("triton") is None:  # not importorskip: keep heavy libraries out of pytest
    pytest.skip("triton is not installed", allow_module_level=True)
if importlib.util.find_spec("torch") is None:  # not importorskip: keep heavy libraries out of pytest
    pytest.skip("torch is not installed", allow_module_level=True)

pytestmark = pytest.mark.xdist_group("triton")  # one worker: its module fixture runs once


def spec(workload: str, size: int, dtype: str = "float64", variant: str = "interpreter", device: str = "cpu") -> CellSpec:
    return CellSpec(workload, "triton", variant, device, dtype, size, budget_s=0.02, timeout_s=300)


CELLS = [
    spec("mcpi", 70_000),  # two programs, the second one partial
    spec("mcpi", 20_000, "float32"),
    spec("linreg", 3),
    spec("linreg", 5, "float32"),
    spec("lu", 12),
    spec("lu", 12, "float32"),
]
SKIPS = [spec("mcpi", 5_000_000), spec("nodes", 100), spec("lu", 10, variant="default")]
CUDA = [spec("mcpi", 1000, variant="default", device="cuda")]


@pytest.fixture(scope="module")
def run() -> tuple[dict[int, CellResult], dict[tuple[str, str], dict]]:
    return run_cells(CELLS + SKIPS + CUDA)


@pytest.mark.parametrize("index", range(len(CELLS)), ids=[c.key for c in CELLS])
def test_interpreter_cell_accurate_and_labelled(run: tuple, index: int) -> None:
    cell, r = CELLS[index], run[0][index]
    assert r.status == Status.OK, r.reason
    assert r.accuracy is not None and r.accuracy.accurate
    # Read from the tensors that ran (for mcpi a probe the kernel statically asserts has the
    # points' dtype), not from the request.
    assert r.observed.dtype_used == cell.dtype
    assert "interpreter" in r.info["compiler"] and "NOT compiled" in r.info["compiler"]
    assert (r.observed.compiled, r.observed.cache) == ("no", "n/a")  # the interpreter compiles nothing


def test_skips_have_reasons(run: tuple) -> None:
    over, nodes, compiled = (run[0][len(CELLS) + i] for i in range(3))
    assert over.status == nodes.status == compiled.status == Status.SKIPPED
    assert "limited to size <= " in over.reason and "interpreter" in over.reason
    assert nodes.reason == "triton:interpreter has no implementation of nodes"
    assert compiled.reason == "triton:default has no cpu implementation of lu"


def test_cuda_is_a_clear_skip_without_a_gpu(run: tuple) -> None:
    info = run[1].get(("triton", "cuda"), {})
    r = run[0][len(CELLS) + len(SKIPS)]
    if "cuda" in info.get("devices", []):
        assert r.status == Status.OK, r.reason
        return
    assert r.status == Status.SKIPPED
    assert r.reason.startswith("no cuda device visible to triton (") and "GPU" in r.reason


COMPILE_CHECK = r"""
import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource
from jitscope.backends import _triton_kernels as K
assert not K.INTERPRETED
ptr = {"float64": "*fp64", "float32": "*fp32"}
for dt in ptr:
    cases = [
        (K.mcpi_kernel, {"seed": "i32", "n": "i32", "partial_ptr": "*i32", "probe_ptr": ptr[dt], "BLOCK": "constexpr",
         "F64": "constexpr"}, {"BLOCK": 4096, "F64": dt == "float64"}),
        (K.linreg_partial_kernel, {"X": ptr[dt], "y": ptr[dt], "w": ptr[dt], "partial": ptr[dt], "n": "i32", "d": "i32",
         "BLOCK_N": "constexpr", "BLOCK_D": "constexpr"}, {"BLOCK_N": 512, "BLOCK_D": 8}),
        (K.linreg_update_kernel, {"partial": ptr[dt], "w": ptr[dt], "coef": ptr[dt], "nblocks": "i32", "d": "i32",
         "BLOCK_D": "constexpr"}, {"BLOCK_D": 8}),
        (K.lu_scale_kernel, {"A": ptr[dt], "n": "i32", "k": "i32", "BLOCK": "constexpr"}, {"BLOCK": 256}),
        (K.lu_update_kernel, {"A": ptr[dt], "n": "i32", "k": "i32", "BM": "constexpr", "BN": "constexpr"},
         {"BM": 32, "BN": 32}),
    ]
    for fn, sig, constants in cases:
        compiled = triton.compile(ASTSource(fn, sig, constants), target=GPUTarget("cuda", 90, 32))
        assert compiled.asm["cubin"], fn.__name__
print("compiled")
"""


def test_kernels_compile_for_cuda_without_a_gpu() -> None:
    """The `default` variant cannot run here, but its kernels can be compiled all the way to
    an sm_90 cubin (Triton ships ptxas): catches what the interpreter forgives (non-constexpr
    globals, unsupported casts)."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    env["TRITON_DEFAULT_FP_FUSION"] = "1"
    env["TRITON_CACHE_DIR"] = os.path.join(os.environ["JITSCOPE_HOME"], "triton-cache")
    proc = subprocess.run([sys.executable, "-c", COMPILE_CHECK], capture_output=True, text=True, env=env, timeout=600)
    if proc.returncode != 0 and "ptxas" in proc.stderr and "not found" in proc.stderr.lower():
        pytest.skip("this triton install has no ptxas")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().endswith("compiled")


WATCH_CHECK = r"""
import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource
from jitscope.backends import _triton_kernels as K
from jitscope.backends.triton_backend import TritonCompileWatch
src = lambda: ASTSource(K.lu_scale_kernel, {"A": "*fp32", "n": "i32", "k": "i32", "BLOCK": "constexpr"}, {"BLOCK": 256})
for _ in range(2):  # the second build of the same kernel finds it in TRITON_CACHE_DIR
    watch = TritonCompileWatch()
    watch.start()
    triton.compile(src(), target=GPUTarget("cuda", 90, 32))
    o = watch.stop()
    print(o.compiled, o.cache)
watch = TritonCompileWatch()
watch.start()
o = watch.stop()
print(o.compiled, o.cache)
"""


def test_compile_watch_reads_triton_compilation_listener() -> None:
    """Compiled kernels cannot run here, but Triton builds them without a GPU: its own
    compilation listener says compiled (cache miss), then loaded from the disk cache (hit),
    and nothing built at all is n/a."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    env["TRITON_CACHE_DIR"] = os.path.join(os.environ["JITSCOPE_HOME"], "triton-watch-cache")
    proc = subprocess.run([sys.executable, "-c", WATCH_CHECK], capture_output=True, text=True, env=env, timeout=600)
    if proc.returncode != 0 and "ptxas" in proc.stderr and "not found" in proc.stderr.lower():
        pytest.skip("this triton install has no ptxas")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split("\n")[:3] == ["yes miss", "no hit", "no n/a"]
