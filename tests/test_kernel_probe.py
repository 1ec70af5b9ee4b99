"""``@w.kernel(..., probe=True)``: a plain function returns ``(result, probe)``; the result is
checked, the probe (data the kernel computed, in the precision it ran in) is where the
adapter reads ``dtype_used`` from. The public way for a kernel whose answer is a float64
accumulator or a count to say what really ran, as numpy's built-in ``mcpi`` kernel does."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from cli_support import assert_clean_error, jitscope

from jitscope.core.backend import BuildRef
from jitscope.core.registry import load_registry

# Two workloads on the same float input: "probed" kernels return (float64 accumulator, a
# slice of data they computed); "plain" kernels return the accumulator alone (no probe: the
# dtype is read from the result and the inputs, as before); "pairs" returns a 2-tuple that
# IS its result (no probe: a tuple is still a result); "broken" says probe=True and returns
# a bare number.
KERNELS = '''
    import numpy as np
    import jitscope

    def _inputs(n, rng):
        return {"x": rng.random(n)}

    probed = jitscope.workload("probed", inputs=_inputs, sizes=(1000,))
    plain = jitscope.workload("plain", inputs=_inputs, sizes=(1000,))
    pairs = jitscope.workload("pairs", inputs=_inputs, sizes=(1000,))
    broken = jitscope.workload("broken", inputs=_inputs, sizes=(1000,))

    for _w in (probed, plain, broken):
        _w.reference(lambda x: float(np.sum(x)))

    @pairs.reference
    def _(x):
        return float(np.sum(x)), float(x[0])

    @probed.kernel("numpy", probe=True)
    def _(x):
        y = x + x                                   # in x's dtype
        return y.sum(dtype=np.float64) / 2.0, y[:1]  # a float64 answer, a probe in what ran

    @probed.kernel("python", probe=True)
    def _(x):
        total = 0.0
        for v in x.tolist():
            total += v
        return total, total  # the probe: a Python float, what the sum ran in

    @probed.kernel("numba", probe=True)
    def _(x):
        y = x + x
        total = 0.0
        for v in y:
            total += v
        return total / 2.0, y[:1]

    @plain.kernel("numpy")
    def _(x):
        return (x + x).sum(dtype=np.float64) / 2.0

    @pairs.kernel("numpy")
    def _(x):
        return float(np.sum(x)), float(x[0])

    @broken.kernel("numpy", probe=True)
    def _(x):
        return float(np.sum(x))
'''


@pytest.fixture(scope="module")
def cells(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str, str], dict]:
    """One real run of the file: numpy, python and numba, float32 and float64."""
    pytest.importorskip("numba")
    tmp = tmp_path_factory.mktemp("probe")
    path = tmp / "probes.py"
    path.write_text(textwrap.dedent(KERNELS))
    out = tmp / "out.json"
    proc = jitscope("run", "-w", str(path), "-b", "numpy,python,numba", "--dtype", "float32,float64",
                    "--budget", "0.02", "--processes", "1", "--no-plot", "--db", str(tmp / "db.sqlite"),
                    "--json", str(out), env={"JITSCOPE_HOME": str(tmp / "home")}, timeout=600)
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    found = {}
    for cell in json.loads(out.read_text())["cells"]:
        spec = cell["spec"]
        found[(spec["workload"], spec["backend"], spec["dtype"])] = cell
    return found


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_probed_kernel_reports_the_probes_dtype_and_is_checked_on_its_result(
        cells: dict, backend: str, dtype: str) -> None:
    """The answer is a float64 accumulator whatever ran; the probe says what ran: float32 in
    a float32 cell (not float32+float64, which the result would add), and the result alone
    is checked (a 2-tuple checked against a scalar reference would fail)."""
    cell = cells[("probed", backend, dtype)]
    assert cell["status"] == "ok", cell["reason"]
    assert cell["accuracy"]["accurate"], cell["accuracy"]
    assert cell["observed"]["dtype_used"] == dtype
    assert "kernel_options" not in cell["info"], cell["info"]  # jitscope's own option, no library's


def test_a_probed_python_kernel_reads_its_python_float_probe(cells: dict) -> None:
    """Python: the probe is a Python float (a C double, read from the interpreter)."""
    cell = cells[("probed", "python", "float64")]
    assert (cell["status"], cell["observed"]["dtype_used"]) == ("ok", "float64"), cell
    assert cell["accuracy"]["accurate"], cell["accuracy"]
    assert cells[("probed", "python", "float32")]["status"] == "skipped"


def test_without_probe_the_result_and_inputs_give_the_dtype_and_a_tuple_is_a_result(cells: dict) -> None:
    """The old behaviour: the float64 answer next to float32 inputs says float32+float64;
    a 2-tuple is a two-part result, checked part by part."""
    cell = cells[("plain", "numpy", "float32")]
    assert (cell["status"], cell["observed"]["dtype_used"]) == ("ok", "float32+float64"), cell
    for dtype in ("float32", "float64"):
        pair = cells[("pairs", "numpy", dtype)]
        assert (pair["status"], pair["accuracy"]["accurate"]) == ("ok", True), pair


def test_a_probed_kernel_that_returns_no_pair_fails_its_cell_saying_so(cells: dict) -> None:
    for dtype in ("float32", "float64"):
        cell = cells[("broken", "numpy", dtype)]
        assert cell["status"] == "failed", cell
        reason = cell["reason"]
        assert "numpy:default" in reason and "probe=True" in reason and "(result, probe)" in reason, reason
        assert "float" in reason and "Traceback" not in reason, reason


def test_probe_must_be_true_or_false_refused_when_the_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "odd.py"
    path.write_text(textwrap.dedent('''
        import jitscope
        odd = jitscope.workload("odd", inputs=lambda n, rng: {"x": rng.random(n)}, sizes=(8,))
        odd.reference(lambda x: x)

        @odd.kernel("numpy", probe="yes")
        def _(x):
            return x, x
    '''))
    proc = jitscope("run", "-w", str(path), "-b", "numpy", "--budget", "0.02", "--db", str(tmp_path / "db.sqlite"))
    assert_clean_error(proc, "probe=", "True or False")


def test_numpys_mcpi_is_a_plain_function_returning_a_probe() -> None:
    """The built-in moved to the public API: bound by the numpy adapter (no build), with the
    description it had and both dtypes."""
    from jitscope.workloads.mcpi import WORKLOAD

    kernel = WORKLOAD.kernel_for("numpy", "default")
    assert kernel is not None and kernel.option("probe") is True
    impl = load_registry().find("mcpi", "numpy", "default")
    assert impl is not None and not isinstance(impl.build, BuildRef)
    assert (impl.description, impl.dtypes) == ("chunked vectorised PCG64", ("float64", "float32"))


def test_numpys_mcpi_reports_the_dtype_its_points_had(tmp_path: Path) -> None:
    """Its answer is a Python float: only the probe (points it drew) can say float32."""
    out = tmp_path / "out.json"
    proc = jitscope("run", "-w", "mcpi", "-b", "numpy", "-s", "10000", "--dtype", "float32,float64",
                    "--budget", "0.02", "--processes", "1", "--no-plot", "--db", str(tmp_path / "db.sqlite"),
                    "--json", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for cell in json.loads(out.read_text())["cells"]:
        assert cell["status"] == "ok" and cell["accuracy"]["accurate"], cell
        assert cell["observed"]["dtype_used"] == cell["spec"]["dtype"], cell["observed"]
        info = cell["info"]
        assert (info["rng"], info["layout"]) == ("numpy default_rng (PCG64)", "chunks of 1048576"), info
        assert "inputs" not in info and "kernel_options" not in info, info
