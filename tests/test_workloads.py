"""Workload definitions: references, checks that can fail, cost models (in-process)."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import numpy as np
import pytest

from jitscope.core.model import CellSpec, Status
from jitscope.core.registry import load_registry
from jitscope.runner.execute import execute_cell

REG = load_registry()
INFO = {"version": "test", "devices": ["cpu"]}


@pytest.mark.parametrize("workload,size", [("linreg", 8), ("mcpi", 20_000), ("lu", 24), ("nodes", 20_000)])
@pytest.mark.parametrize("backend", ["python", "numpy"])
def test_python_and_numpy_are_accurate(workload: str, size: int, backend: str) -> None:
    r = execute_cell(CellSpec(workload, backend, "default", "cpu", "float64", size, budget_s=0.02), REG, INFO)
    assert r.status == Status.OK, r.reason
    assert r.accuracy is not None and r.accuracy.accurate
    assert r.stats is not None and r.stats.median > 0 and r.first_call_s is not None and r.first_call_s > 0
    # Read from what the kernel returned: NumPy arrays/scalars, or Python floats (C doubles).
    assert r.observed.dtype_used == "float64"
    assert "dtype_used" not in r.info  # the retired note: the observation is the only record


@pytest.mark.parametrize("workload,size", [("linreg", 8), ("mcpi", 20_000), ("lu", 24), ("nodes", 20_000)])
def test_numpy_float32_really_runs_float32(workload: str, size: int) -> None:
    """The dtype comes from the arrays the kernel computed (its output, the factor for lu, a
    slice of the generated points for mcpi), so a kernel that upcast would be caught."""
    r = execute_cell(CellSpec(workload, "numpy", "default", "cpu", "float32", size, budget_s=0.02), REG, INFO)
    assert r.status == Status.OK, r.reason
    assert r.observed.dtype_used == "float32"


def test_python_float32_is_a_reasoned_skip() -> None:
    r = execute_cell(CellSpec("lu", "python", "default", "cpu", "float32", 8), REG, INFO)
    assert r.status == Status.SKIPPED and "float64 only" in r.reason


def test_linreg_reference_converges_towards_least_squares() -> None:
    w = REG.workload("linreg")
    few = w.resolve_params({"epochs": 5})
    many = w.resolve_params({"epochs": 500})
    inputs_few, inputs_many = w.make_inputs(6, few, 3), w.make_inputs(6, many, 3)
    ref_few, ref_many = w.reference(inputs_few, 6, few), w.reference(inputs_many, 6, many)
    gap = lambda ref: np.linalg.norm(ref["w"] - ref["w_opt"])  # noqa: E731
    assert gap(ref_many) < gap(ref_few) * 1e-3


def test_linreg_check_catches_wrong_weights() -> None:
    w = REG.workload("linreg")
    p = w.resolve_params({})
    inputs = w.make_inputs(4, p, 1)
    ref = w.reference(inputs, 4, p)
    assert w.check(ref["w"], ref, inputs, 4, p, "float64").accurate
    assert not w.check(ref["w"] * 1.001, ref, inputs, 4, p, "float64").accurate
    assert w.check(ref["w"] * (1 + 1e-5), ref, inputs, 4, p, "float32").accurate
    assert not w.check(ref["w"][:-1], ref, inputs, 4, p, "float64").accurate


def test_mcpi_z_check_flags_broken_kernels() -> None:
    w = REG.workload("mcpi")
    n = 10**7
    good = w.check(math.pi + 1e-4, math.pi, {}, n, {}, "float32")
    assert good.accurate and good.metric == "abs_error_pi"
    # float32 counter saturation at 2^24: count stops at 16777216 of ~7.85e6... for n = 1e8 it is badly low
    saturated = 4.0 * 2**24 / 10**8
    assert not w.check(saturated, math.pi, {}, 10**8, {}, "float32").accurate
    # the same stream reused for x and y gives points on the diagonal: pi_hat -> 4/sqrt(2)
    assert not w.check(4 / math.sqrt(2), math.pi, {}, n, {}, "float64").accurate


def test_lu_check_uses_slogdet_and_sign() -> None:
    w = REG.workload("lu")
    inputs = w.make_inputs(200, {}, 4)
    sign, logdet = w.reference(inputs, 200, {})
    assert sign == 1.0 and logdet > 700  # det itself would overflow float64 here
    with np.errstate(over="ignore"):
        assert np.isinf(np.linalg.det(inputs["A"]))
    assert w.check((1.0, logdet + 1e-9), (sign, logdet), inputs, 200, {}, "float64").accurate
    assert not w.check((-1.0, logdet), (sign, logdet), inputs, 200, {}, "float64").accurate
    assert not w.check((1.0, logdet + 1.0), (sign, logdet), inputs, 200, {}, "float64").accurate


def test_nodes_statistics() -> None:
    w = REG.workload("nodes")
    n = 10**6
    mean, sd = w.reference(w.make_inputs(n, {"p": 0.5}, 0), n, {"p": 0.5})
    assert mean == pytest.approx(n * 0.75)
    assert sd == pytest.approx(math.sqrt(n * (1 / 6 - 1 / 16)))
    assert w.check(mean + 3 * sd, (mean, sd), {}, n, {"p": 0.5}, "float64").accurate
    assert not w.check(mean + 5 * sd, (mean, sd), {}, n, {"p": 0.5}, "float64").accurate
    # p = 0 is exact: no node is mutated
    exact = w.reference(w.make_inputs(10, {"p": 0.0}, 0), 10, {"p": 0.0})
    assert exact == (5.0, 0.0)
    assert w.check(5.0, exact, {}, 10, {"p": 0.0}, "float64").accurate


def test_flop_models() -> None:
    assert REG.workload("linreg").flops(10, {"samples": 10_000, "epochs": 3}) == 4 * 10_000 * 10 * 3
    n = 100
    assert REG.workload("lu").flops(n, {}) == pytest.approx(2 / 3 * n**3 - n**2 / 2 - n / 6)
    assert REG.workload("mcpi").flops(1000, {}) == 5000
    assert REG.workload("nodes").flops(1000, {}) is None


@pytest.mark.parametrize("workload,size", [("linreg", 10), ("lu", 256), ("mcpi", 100_000), ("nodes", 100_000)])
def test_numpy_is_checked_against_an_independent_reference(workload: str, size: int) -> None:
    """No backend shares code with a workload's reference, so numpy's float64 answer is within
    tolerance but not identical to the last bit (it was exactly 0 when numpy's linreg ran the
    reference's own function). linreg's reference iterates on the normal matrix, lu's is
    LAPACK's slogdet; mcpi's is math.pi and nodes' the checksum's exact mean, which a random
    estimate can equal only by accident (4*count/n is rational, pi is not)."""
    spec = CellSpec(workload, "numpy", "default", "cpu", "float64", size, budget_s=0.01)
    result = execute_cell(spec, REG)
    assert result.accuracy is not None and result.accuracy.accurate, result.reason
    assert result.accuracy.error > 0.0


def _imported_modules(tree: ast.Module, package: str) -> list[str]:
    """Every module a source file imports, by its absolute name: ``import a.b``,
    ``from a import b`` (as ``a`` and ``a.b``), relative imports resolved against ``package``
    (``from ..workloads import lu`` in jitscope.backends is jitscope.workloads.lu), and
    ``importlib.import_module`` / ``__import__`` of a string written in the file."""
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            parts = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            base = ".".join(parts + ([node.module] if node.module else []))
            found += [base] + [f"{base}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Call) and ast.unparse(node.func) in ("importlib.import_module", "import_module",
                                                                        "__import__"):
            found += [a.value for a in node.args[:1] if isinstance(a, ast.Constant) and isinstance(a.value, str)]
    return found


def test_no_backend_imports_workload_code() -> None:
    """A backend that imported a workload module could reuse the answer key (the reference)
    as its implementation; every backend module is checked, by its import statements,
    relative ones and import_module calls included."""
    import jitscope.backends

    offenders = []
    for path in sorted(Path(jitscope.backends.__file__).parent.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        offenders += [f"{path.name}: {n}" for n in _imported_modules(tree, "jitscope.backends")
                      if n == "jitscope.workloads" or n.startswith("jitscope.workloads.")]
    assert offenders == []


@pytest.mark.parametrize("line", ["from ..workloads.lu import reference", "from .. import workloads",
                                  "from jitscope import workloads", "import jitscope.workloads.mcpi",
                                  "importlib.import_module('jitscope.workloads.nodes')"])
def test_the_import_scan_sees_every_way_of_importing_a_workload(line: str) -> None:
    """The scan above can fail: each way a backend could reach a workload module is seen."""
    names = _imported_modules(ast.parse(line), "jitscope.backends")
    assert any(n.startswith("jitscope.workloads") for n in names), names
