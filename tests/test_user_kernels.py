"""Users' own kernels (``jitscope.workload``) through the real command: the README's file
verbatim on every backend, the adapters' dtype/compile observations read from what ran,
wrong answers and untypable kernels failing with the library's words, and a file's mistakes
refused at load with one line."""

from __future__ import annotations

import csv
import math
import textwrap
from pathlib import Path

import numpy as np
import pytest
from cli_support import assert_clean_error, jitscope
from conftest import ROOT

from jitscope.core.userkernels import relative_error

EVERY_BACKEND = "python,numpy,numba,numba:parallel,jax,tensorflow,torch,torch:compile,cupy,triton"


def _rows(tmp_path: Path, kernels: Path, backends: str, *extra: str, home: Path | None = None) -> list[dict[str, str]]:
    out = tmp_path / f"out-{len(list(tmp_path.glob('out-*.csv')))}.csv"
    env = {"JITSCOPE_HOME": str(home or tmp_path / "home")}
    proc = jitscope("run", "-w", str(kernels), "-b", backends, "--budget", "0.05", "--no-plot",
                    "--db", str(tmp_path / "db.sqlite"), "--csv", str(out), *extra, env=env, timeout=600)
    assert proc.returncode in (0, 1), proc.stderr
    with out.open() as f:
        return list(csv.DictReader(f))


def _cell(rows: list[dict[str, str]], workload: str, backend: str, variant: str, size: str | None = None) -> dict[str, str]:
    found = [r for r in rows if (r["workload"], r["backend"], r["variant"]) == (workload, backend, variant)
             and (size is None or r["size"] == size)]
    assert found, f"no cell {workload}/{backend}:{variant}"
    return found[0]


def _write(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return path


@pytest.mark.slow
def test_the_readme_file_runs_on_every_backend(tmp_path: Path) -> None:
    """The issue's ``kernels.py`` verbatim (examples/saxpy.py): every cell ok or skipped with
    a reason, compile apart from the steady state, errors within tolerance."""
    pytest.importorskip("numba")
    pytest.importorskip("torch")
    # One size: a second one only adds a recompile per compiler (a sweep past torch.compile's
    # recompile limit is test_backend_torch's compile_sweep).
    rows = _rows(tmp_path, ROOT / "examples" / "saxpy.py", EVERY_BACKEND, "-s", "1e4")
    for r in rows:
        assert r["status"] in ("ok", "skipped"), r
        if r["status"] == "skipped":
            assert r["reason"], r
        else:
            assert float(r["error"]) <= float(r["tolerance"]) and r["dtype_used"] == "float64", r
    ok = {(r["backend"], r["variant"]) for r in rows if r["status"] == "ok"}
    for pair in [("numpy", "default"), ("numba", "default"), ("numba", "parallel"), ("torch", "eager"), ("torch", "compile")]:
        assert pair in ok, pair
    assert "no @saxpy.kernel('python')" in _cell(rows, "saxpy", "python", "default")["reason"]
    assert "no @saxpy.kernel('tensorflow')" in _cell(rows, "saxpy", "tensorflow", "default")["reason"]
    first = _cell(rows, "saxpy", "torch", "compile", "10000")
    assert first["compiled"] == "yes" and float(first["compile_s"]) > 0
    assert _cell(rows, "saxpy", "numpy", "default", "10000")["compile_s"] == ""  # nothing compiled


KERNELS = """
    import numba
    import numpy as np
    import jitscope

    axpb = jitscope.workload("axpb", inputs=lambda n, rng: {"x": rng.standard_normal(n), "a": 3.0}, sizes=(1000,))

    @axpb.reference
    def _(x, a):
        return a * x + 1.0

    @axpb.kernel("numpy")
    def _(x, a):
        return a * x + 1.0

    @axpb.kernel("numba")
    def _(x, a):
        out = np.empty_like(x)
        for i in range(x.shape[0]):
            out[i] = a * x[i] + 1.0
        return out

    @axpb.kernel("numba", "parallel")   # bound to one variant: wins over the backend-wide one
    def _(x, a):
        out = np.empty_like(x)
        for i in numba.prange(x.shape[0]):
            out[i] = a * x[i]            # forgets the + 1.0: must fail, proving which ran
        return out

    @axpb.kernel("jax")
    def _(x, a):
        return a * x + 1.0

    @axpb.kernel("tensorflow")
    def _(x, a):
        return a * x + 1.0

    @axpb.kernel("torch")
    def _(x, a):
        return a * x + 1.0

    stats = jitscope.workload("stats", inputs=lambda n, rng: {"x": rng.standard_normal(n)}, sizes=(1000,))

    @stats.reference
    def _(x):
        return x.mean(), x.std(), np.sort(x)

    @stats.kernel("numpy")                # a tuple: two scalars and an array
    def _(x):
        return x.mean(), x.std(), np.sort(x)

    @stats.kernel("numba")
    def _(x):
        return x.mean(), x.std(), np.sort(x)

    @stats.kernel("python", lists=True)   # plain lists in, a tuple with a list out
    def _(x):
        m = sum(x) / len(x)
        return m, (sum((v - m) ** 2 for v in x) / len(x)) ** 0.5, sorted(x)

    upcast = jitscope.workload("upcast", inputs=lambda n, rng: {"x": rng.standard_normal(n)}, sizes=(1000,))

    @upcast.reference
    def _(x):
        return x * 2.0

    @upcast.kernel("numpy")               # silently computes in float64 whatever it is given
    def _(x):
        return x.astype(np.float64) * 2.0

    untypable = jitscope.workload("untypable", inputs=lambda n, rng: {"x": rng.standard_normal(n)}, sizes=(100,))

    @untypable.reference
    def _(x):
        return x

    @untypable.kernel("numba")
    def _(x):
        return x.no_such_attribute
"""


# Under xdist the tests that read `runs` share one worker, so it runs once; the file's other
# tests spread over the workers.
RUNS_GROUP = pytest.mark.xdist_group("user-kernel-runs")
CPU_BACKENDS = "python,numpy,numba,numba:parallel,jax,tensorflow,torch"
# The example files a user would bring, and the workloads each defines (all of them get a size
# below: a workload left at its default sizes would run at 1e6).
EXAMPLES = {"logsumexp.py": ("logsumexp", "logsumexp_naive"), "pairwise.py": ("pairwise",), "ema.py": ("ema",)}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict[str, str]]]:
    """KERNELS above and the example files in one run, both dtypes (a dtype sweep): one worker
    per backend does all of it, instead of one run per file and dtype each starting jax,
    TensorFlow and torch again. The files' workloads are independent cells (their own
    functions, compiled and checked on their own), so sharing the workers takes nothing from
    the tests that read them; the examples run at one small size."""
    pytest.importorskip("numba")
    tmp = tmp_path_factory.mktemp("user")
    path = _write(tmp, "kernels.py", KERNELS)
    examples = [arg for name in EXAMPLES for arg in ("-w", str(ROOT / "examples" / name))]
    sizes = [arg for names in EXAMPLES.values() for name in names for arg in ("-s", f"{name}=64")]
    rows = _rows(tmp, path, CPU_BACKENDS, *examples, *sizes, "--dtype", "float64,float32", home=tmp / "home")
    return {dtype: [r for r in rows if r["dtype"] == dtype] for dtype in ("float64", "float32")}


@RUNS_GROUP
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("backend,variant", [("numpy", "default"), ("numba", "default"), ("jax", "default"),
                                             ("tensorflow", "default"), ("torch", "eager")])
def test_each_adapter_runs_accurately_in_the_dtype_read_from_the_data(runs: dict, dtype: str, backend: str, variant: str) -> None:
    r = _cell(runs[dtype], "axpb", backend, variant)
    if r["status"] == "skipped" and "not installed" in r["reason"]:
        pytest.skip(r["reason"])
    assert r["status"] == "ok", r["reason"]
    assert r["dtype_used"] == dtype


@RUNS_GROUP
def test_a_kernel_that_upcasts_is_labelled_with_what_ran_not_what_was_asked(runs: dict) -> None:
    r = _cell(runs["float32"], "upcast", "numpy", "default")
    assert r["dtype_used"] == "float32+float64"  # float32 inputs, a float64 result


@RUNS_GROUP
def test_the_variant_bound_kernel_takes_precedence(runs: dict) -> None:
    assert _cell(runs["float64"], "axpb", "numba", "default")["status"] == "ok"
    bound = _cell(runs["float64"], "axpb", "numba", "parallel")
    assert bound["status"] == "failed" and bound["reason"].startswith("inaccurate"), bound


@RUNS_GROUP
def test_tuple_results_with_scalars_and_lists_are_checked_part_by_part(runs: dict) -> None:
    for backend in ("numpy", "numba", "python"):
        r = _cell(runs["float64"], "stats", backend, "default")
        assert r["status"] == "ok", (backend, r["reason"])
        assert float(r["error"]) < 1e-12


@RUNS_GROUP
def test_a_kernel_numba_cannot_type_fails_with_numbas_message_in_one_line(runs: dict) -> None:
    r = _cell(runs["float64"], "untypable", "numba", "default")
    assert r["status"] == "failed"
    assert r["reason"].startswith("TypingError:") and "no_such_attribute" in r["reason"]
    assert "\n" not in r["reason"] and "Traceback" not in r["reason"] and "During:" not in r["reason"]
    assert "kernels.py, line" in r["reason"]  # where, without the source excerpt


@RUNS_GROUP
def test_a_backend_without_a_kernel_is_skipped_with_the_decorator_to_write(runs: dict) -> None:
    r = _cell(runs["float64"], "upcast", "jax", "default")
    assert r["status"] == "skipped" and "no @upcast.kernel('jax')" in r["reason"]


@pytest.mark.slow
def test_a_parallel_kernel_never_loads_the_serial_one_from_numbas_disk_cache(tmp_path: Path) -> None:
    """Numba keys its disk cache by function and types, not by ``parallel=True``: without a
    cache per variant, numba:parallel of a function first cached by numba:default is a cache
    hit on the serial machine code (it ran single-threaded under the parallel label)."""
    pytest.importorskip("numba")
    path = _write(tmp_path, "one.py", """
        import numba
        import numpy as np
        import jitscope

        total = jitscope.workload("total", inputs=lambda n, rng: {"x": rng.standard_normal(n)}, sizes=(1000,))

        @total.reference
        def _(x):
            return x.sum()

        @total.kernel("numba")
        def _(x):
            s = 0.0
            for i in numba.prange(x.shape[0]):
                s += x[i]
            return s
    """)
    home = tmp_path / "home"
    serial = _rows(tmp_path, path, "numba", home=home)
    assert _cell(serial, "total", "numba", "default")["cache"] == "miss"
    parallel = _rows(tmp_path, path, "numba:parallel", home=home)
    cell = _cell(parallel, "total", "numba", "parallel")
    assert (cell["compiled"], cell["cache"]) == ("yes", "miss"), cell
    again = _rows(tmp_path, path, "numba:parallel", home=home)
    assert _cell(again, "total", "numba", "parallel")["cache"] == "hit"


@pytest.mark.parametrize("body,needle", [
    ("w = jitscope.workload('w', inputs=lambda n, rng: {'x': rng.random(n)})\n"
     "@w.reference\ndef _(x): return x\n@w.kernel('numbaa')\ndef _(x): return x\n", "unknown backend 'numbaa'"),
    ("w = jitscope.workload('w', inputs=lambda n, rng: {'x': rng.random(n)})\n"
     "@w.reference\ndef _(x): return x\n@w.kernel('numba', 'vectorize')\ndef _(x): return x\n", "no variant 'vectorize'"),
    ("w = jitscope.workload('w', inputs=lambda n, rng: {'x': rng.random(n)})\n"
     "@w.reference\ndef _(x): return x\n@w.kernel('numpy', lists=True)\ndef _(x): return x\n", "no option lists"),
    ("w = jitscope.workload('w', inputs=lambda n, rng: {'x': rng.random(n)})\n"
     "@w.kernel('numpy')\ndef _(x): return x\n", "no @w.reference"),
    ("w = jitscope.workload('mcpi', inputs=lambda n, rng: {'x': rng.random(n)})\n"
     "@w.reference\ndef _(x): return x\n", "like the built-in one"),
])
def test_a_files_mistakes_are_one_line_and_exit_2(tmp_path: Path, body: str, needle: str) -> None:
    path = tmp_path / "k.py"
    path.write_text("import jitscope\n" + body)
    assert_clean_error(jitscope("run", "-w", str(path), "-b", "numpy", "--db", str(tmp_path / "db.sqlite")), needle)


def test_the_default_check_is_norm_wise_and_says_what_is_wrong() -> None:
    ref = np.array([3.0, 4.0])
    assert relative_error(np.array([3.0, 4.0 + 5e-3]), ref)[0] == pytest.approx(1e-3)
    assert relative_error(np.zeros(3), np.zeros(3)) == (0.0, "")  # all-zero reference: absolute
    error, detail = relative_error(np.ones(3), np.ones(4))
    assert math.isinf(error) and "shape" in detail
    error, detail = relative_error(np.array([np.nan, 1.0]), ref)
    assert math.isinf(error) and "NaN" in detail
    error, detail = relative_error((1.0,), (1.0, 2.0))
    assert math.isinf(error) and "returned 1 value" in detail


TRITON_KERNELS = """
    import torch
    import triton
    import triton.language as tl
    import jitscope

    add = jitscope.workload("tadd", inputs=lambda n, rng: {"x": rng.standard_normal(n), "y": rng.standard_normal(n)},
                            sizes=(1000,))

    @add.reference
    def _(x, y):
        return x + y

    @triton.jit
    def add_kernel(x_ptr, y_ptr, out_ptr, n, BLOCK: tl.constexpr):
        offsets = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        mask = offsets < n
        tl.store(out_ptr + offsets, tl.load(x_ptr + offsets, mask=mask) + tl.load(y_ptr + offsets, mask=mask), mask=mask)

    @add.kernel("triton")                 # the launcher: torch tensors in, a tensor out
    def _(x, y):
        out = torch.empty_like(x)
        n = x.numel()
        add_kernel[(triton.cdiv(n, 256),)](x, y, out, n, BLOCK=256)
        return out
"""


@pytest.mark.slow
def test_a_users_triton_launcher_runs_under_the_interpreter_and_says_why_not_otherwise(tmp_path: Path) -> None:
    pytest.importorskip("triton")
    pytest.importorskip("torch")
    path = _write(tmp_path, "tk.py", TRITON_KERNELS)
    proc = jitscope("run", "-w", str(path), "-b", "triton:interpreter,triton", "--dtype", "float32", "--budget", "0.05",
                    "--no-plot", "--db", str(tmp_path / "db.sqlite"), "--csv", str(tmp_path / "t.csv"),
                    env={"TRITON_INTERPRET": "1", "JITSCOPE_HOME": str(tmp_path / "home")}, timeout=600)
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader((tmp_path / "t.csv").open()))
    interpreted = _cell(rows, "tadd", "triton", "interpreter")
    assert interpreted["status"] == "ok" and interpreted["dtype_used"] == "float32", interpreted
    assert interpreted["compiled"] == "no"  # the interpreter compiles nothing
    assert "CUDA GPU" in _cell(rows, "tadd", "triton", "default")["reason"]
    plain = _rows(tmp_path, path, "triton:interpreter")  # TRITON_INTERPRET not set: a reason, not a crash
    assert plain[0]["status"] == "skipped" and "TRITON_INTERPRET=1" in plain[0]["reason"]


@RUNS_GROUP
@pytest.mark.parametrize("example", EXAMPLES)
def test_each_example_runs_accurately_on_five_or_more_backends(runs: dict, example: str) -> None:
    """The examples a user would bring, on every CPU backend with a kernel in the file, at a
    small size, in float64: each cell of the file's main workload accurate (its naive
    companion is the next test's)."""
    name = EXAMPLES[example][0]
    rows = [r for r in runs["float64"] if r["workload"] == name]
    ok = [r for r in rows if r["status"] == "ok"]
    installed = [r for r in rows if "not installed" not in r["reason"]]
    assert len(ok) == len(installed) >= 5, [(r["backend"], r["reason"]) for r in rows]


@RUNS_GROUP
def test_the_naive_logsumexp_is_reported_inaccurate_in_float32_not_fast(runs: dict) -> None:
    """The example's inputs reach 200, so exp() overflows float32 at any size."""
    naive = _cell(runs["float32"], "logsumexp_naive", "numpy", "default")
    assert naive["status"] == "failed" and "inaccurate" in naive["reason"]
    assert _cell(runs["float32"], "logsumexp", "numpy", "default")["status"] == "ok"
