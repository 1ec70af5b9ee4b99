"""A real suite of own kernels (examples/kernel_suite.py) through the real command: workloads
picked from a file, sizes and presets per workload, declared parameters on record, fresh or
resident inputs, library options, dtypes per workload, exact integer checks, NaN equal to
NaN, and the Numba helper pattern that keeps the disk cache (issue 24)."""

from __future__ import annotations

import csv
import textwrap
from pathlib import Path

import pytest
from cli_support import assert_clean_error, jitscope
from conftest import ROOT

SUITE = ROOT / "examples" / "kernel_suite.py"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One JITSCOPE_HOME for the module: Numba's disk cache is shared between the tests."""
    return tmp_path_factory.mktemp("home")


# Under xdist the tests that read `heat_fresh` share one worker, so it runs once; the file's
# other tests spread over the workers.
HEAT_GROUP = pytest.mark.xdist_group("kernel-suite-heat")


@pytest.fixture(scope="module")
def heat_fresh(tmp_path_factory: pytest.TempPathFactory, home: Path) -> list[dict[str, str]]:
    """heat at S on numpy, numba and jax with fresh inputs, in the module's home, with two
    small files of own kernels (a jax option misspelt, a numba helper reached through a
    closure): one run read by five tests below (each worker start imports numba or jax). The
    files' workloads have their own functions and their own cells: sharing the workers
    changes nothing they check."""
    pytest.importorskip("numba")
    pytest.importorskip("jax")
    tmp = tmp_path_factory.mktemp("heat")
    typo = _write(tmp, TYPO_KERNEL, "typo.py")
    closure = _write(tmp, CLOSURE_KERNEL, "closure.py")
    return _run(tmp, home, "-w", f"{SUITE}:heat", "-w", str(typo), "-w", str(closure), "-b", "numpy,numba,jax",
                "-s", "heat=S")


# Under xdist the tests that read `float32_fresh` share one worker, so it runs once.
F32_GROUP = pytest.mark.xdist_group("kernel-suite-f32")


@pytest.fixture(scope="module")
def float32_fresh(tmp_path_factory: pytest.TempPathFactory, home: Path) -> list[dict[str, str]]:
    """checksum and softmax in float32 with fresh inputs on numpy, numba and jax: one run read
    by three tests below (fresh inputs do not change an exact or a NaN-aware comparison)."""
    pytest.importorskip("numba")
    pytest.importorskip("jax")
    return _run(tmp_path_factory.mktemp("f32"), home, "-w", f"{SUITE}:checksum,{SUITE}:softmax", "-b", "numpy,numba,jax",
                "--dtype", "float32", "-s", "checksum=1e4", "-s", "softmax=S", "-p", "inputs=fresh")


def _run(tmp_path: Path, home: Path, *args: str, env: dict[str, str] | None = None) -> list[dict[str, str]]:
    out = tmp_path / f"out-{len(list(tmp_path.glob('out-*.csv')))}.csv"
    proc = jitscope("run", *args, "--budget", "0.05", "--no-plot", "--db", str(tmp_path / "db.sqlite"),
                    "--csv", str(out), env={"JITSCOPE_HOME": str(home), **(env or {})}, timeout=600)
    assert proc.returncode in (0, 1), proc.stderr
    with out.open() as f:
        return list(csv.DictReader(f))


def _write(tmp_path: Path, body: str, name: str = "kernels.py") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return path


def _params(row: dict[str, str]) -> dict[str, str]:
    return dict(kv.split("=", 1) for kv in row["params"].split(";") if kv)


def _by(rows: list[dict[str, str]], workload: str, backend: str) -> list[dict[str, str]]:
    return [r for r in rows if r["workload"] == workload and r["backend"] == backend]


def _heat(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    return [r for r in rows if r["workload"] == "heat"]


# ---- 1. picking workloads from a file; sizes meant for one workload; memory refused up front --
def test_workloads_picked_from_a_file_run_alone(tmp_path: Path, home: Path) -> None:
    rows = _run(tmp_path, home, "-w", f"{SUITE}:checksum", "-b", "numpy", "-s", "2e4")
    assert {r["workload"] for r in rows} == {"checksum"} and [r["size"] for r in rows] == ["20000"]
    rows = _run(tmp_path, home, "-w", str(SUITE), "-w", "checksum", "-b", "numpy", "-s", "2e4")
    assert {r["workload"] for r in rows} == {"checksum"}
    assert_clean_error(jitscope("run", "-w", f"{SUITE}:nope", "-b", "numpy"), "defines no workload 'nope'", "checksum")


def test_sizes_for_one_workload_leave_the_others_at_theirs(tmp_path: Path, home: Path) -> None:
    rows = _run(tmp_path, home, "-w", str(SUITE), "-b", "numpy", "-s", "checksum=3e4", "--dtype", "float32")
    assert [r["size"] for r in _by(rows, "checksum", "numpy")] == ["30000"]
    heat = _by(rows, "heat", "numpy")
    assert [_params(r)["nx"] for r in heat] == ["64"] and heat[0]["status"] == "ok", heat
    assert_clean_error(jitscope("run", "-w", f"{SUITE}:heat", "-b", "numpy", "-s", "checksum=1e4"),
                       "checksum is not a selected workload")


def test_a_size_beyond_the_memory_estimate_is_refused_before_anything_runs(tmp_path: Path) -> None:
    proc = jitscope("run", "-w", f"{SUITE}:checksum", "-b", "numpy", "-s", "checksum=1e14",
                    "--db", str(tmp_path / "db.sqlite"))
    assert_clean_error(proc, "checksum size 100000000000000 needs about", "choose a smaller size")
    assert not (tmp_path / "db.sqlite").exists() or "ok" not in proc.stdout


# ---- 2. several size parameters, presets, -p, all on record -------------------------------------
def test_presets_and_parameters_are_recorded_with_every_cell(tmp_path: Path, home: Path) -> None:
    rows = _run(tmp_path, home, "-w", f"{SUITE}:heat", "-b", "numpy", "-s", "S,M", "-p", "steps=3")
    assert [r["status"] for r in rows] == ["ok", "ok"], rows
    assert [_params(r) for r in rows] == [{"inputs": "fresh", "nx": "64", "ny": "64", "steps": "3"},
                                         {"inputs": "fresh", "nx": "256", "ny": "256", "steps": "3"}]
    assert [r["size"] for r in rows] == [str(64 * 64 * 3), str(256 * 256 * 3)]  # the grid's work
    assert_clean_error(jitscope("run", "-w", f"{SUITE}:heat", "-b", "numpy", "-s", "XL"), "size 'XL'", "S, M")


# ---- 3/4. fresh or resident inputs; in-place kernels; None ----------------------------------------
@HEAT_GROUP
def test_in_place_kernels_run_on_fresh_inputs_and_resident_ones_are_caught(tmp_path: Path, home: Path,
                                                                          heat_fresh: list[dict[str, str]]) -> None:
    rows = _heat(heat_fresh)
    assert [(r["backend"], r["status"]) for r in rows] == [("numpy", "ok"), ("numba", "ok"), ("jax", "ok")], rows
    assert all(float(r["error"]) < 1e-12 for r in rows)
    resident = _run(tmp_path, home, "-w", f"{SUITE}:heat", "-b", "numpy,numba,jax", "-s", "S", "-p", "inputs=resident")
    for r in resident[:2]:
        assert r["status"] == "failed" and "changed its input 'u' in place" in r["reason"], r
        assert "fresh_inputs=True" in r["reason"]
    assert resident[2]["status"] == "ok"  # JAX arrays cannot change: nothing to catch


def test_undeclared_in_place_kernel_and_none_have_their_own_reasons(tmp_path: Path, home: Path) -> None:
    kernels = _write(tmp_path, """
        import jitscope

        double = jitscope.workload("double", inputs=lambda n, rng: {"x": rng.random(n)}, sizes=(1000,))

        @double.reference
        def _(x):
            return 2.0 * x

        @double.kernel("numpy")
        def _(x):
            x *= 2.0
            return x

        @double.kernel("python")
        def _(x):
            y = 2.0 * x  # computed, never returned
    """)
    rows = _run(tmp_path, home, "-w", str(kernels), "-b", "numpy,python")
    numpy_row, python_row = rows
    assert numpy_row["status"] == "failed" and "changed its input 'x' in place" in numpy_row["reason"], numpy_row
    assert python_row["status"] == "failed" and "returned None" in python_row["reason"], python_row


@F32_GROUP
def test_fresh_inputs_are_a_user_choice_on_record(float32_fresh: list[dict[str, str]]) -> None:
    rows = _by(float32_fresh, "softmax", "jax")
    assert rows[0]["status"] == "ok" and _params(rows[0])["inputs"] == "fresh", rows
    assert_clean_error(jitscope("run", "-w", f"{SUITE}:softmax", "-b", "jax", "-p", "inputs=sometimes"),
                       "inputs='sometimes' is not one of resident, fresh")


# ---- 5. library options pass through, on record ---------------------------------------------------
@HEAT_GROUP
def test_library_options_reach_the_library_and_the_record(heat_fresh: list[dict[str, str]]) -> None:
    rows = [r for r in _heat(heat_fresh) if r["backend"] in ("numba", "jax")]
    assert [r["status"] for r in rows] == ["ok", "ok"], rows
    assert [r["kernel_options"] for r in rows] == ["fastmath=True", "static_argnames=('steps',)"]
    (row,) = _by(heat_fresh, "w", "jax")
    assert row["status"] == "failed" and "static_argnums_typo" in row["reason"], row  # the library's words


TYPO_KERNEL = """
    import jitscope

    w = jitscope.workload("w", inputs=lambda n, rng: {"x": rng.random(n)}, sizes=(100,))

    @w.reference
    def _(x):
        return 2.0 * x

    @w.kernel("jax", static_argnums_typo=(0,))
    def _(x):
        return 2.0 * x
"""


# ---- 6. dtypes per workload ---------------------------------------------------------------------
@F32_GROUP
def test_a_float32_only_workload_skips_float64_with_that_reason(tmp_path: Path, home: Path,
                                                                 float32_fresh: list[dict[str, str]]) -> None:
    rows = _run(tmp_path, home, "-w", f"{SUITE}:softmax", "-b", "numpy")
    assert rows[0]["status"] == "skipped" and "declared for float32 only" in rows[0]["reason"], rows
    rows = _by(float32_fresh, "softmax", "numpy")
    assert rows[0]["status"] == "ok" and rows[0]["dtype_used"] == "float32", rows


# ---- 7. exact integer checks; NaN where the reference has NaN ------------------------------------
@F32_GROUP
def test_integers_are_compared_exactly_and_nan_matches_nan(tmp_path: Path, home: Path,
                                                           float32_fresh: list[dict[str, str]]) -> None:
    rows = [r for r in float32_fresh if r["backend"] in ("numpy", "numba")]
    assert len(rows) == 4, float32_fresh
    for r in rows:
        assert r["status"] == "ok", r  # softmax's first row is NaN in the reference and the kernels
    assert {r["error_metric"] for r in _by(rows, "checksum", "numpy")} == {"exact"}
    kernels = _write(tmp_path, """
        import numpy as np
        import jitscope

        total = jitscope.workload("total", inputs=lambda n, rng: {"x": rng.integers(0, 9, n)}, sizes=(1000,))

        @total.reference
        def _(x):
            return int(x.sum()) + 10**6

        @total.kernel("numpy")
        def _(x):
            return int(x.sum()) + 10**6 + 5
    """)
    (row,) = _run(tmp_path, home, "-w", str(kernels), "-b", "numpy")
    assert row["status"] == "failed" and "compared exactly" in row["reason"], row


# ---- 9. Numba helpers and the disk cache ---------------------------------------------------------
@HEAT_GROUP
def test_module_level_cached_helpers_keep_the_kernel_cached(tmp_path: Path, home: Path,
                                                            heat_fresh: list[dict[str, str]]) -> None:
    """The first run is `heat_fresh` (numba compiled heat and cached it in `home`); a new
    process on the same home must load it from the disk cache."""
    assert [r["status"] for r in _by(heat_fresh, "heat", "numba")] == ["ok"], heat_fresh
    (again,) = _run(tmp_path, home, "-w", f"{SUITE}:heat", "-b", "numba", "-s", "S")
    assert again["cache"] == "hit" and again["compiled"] == "no", again


@HEAT_GROUP
def test_a_kernel_reaching_its_helper_through_a_closure_says_why_it_recompiles(heat_fresh: list[dict[str, str]]) -> None:
    (row,) = _by(heat_fresh, "twice", "numba")
    assert row["status"] == "ok" and "reads h from a closure" in row["note"], row


CLOSURE_KERNEL = """
    import numba
    import jitscope

    w = jitscope.workload("twice", inputs=lambda n, rng: {"x": rng.random(n)}, sizes=(100,))

    @w.reference
    def _(x):
        return 2.0 * x.sum()

    @numba.njit
    def helper(v):
        return 2.0 * v

    def make(h):
        def kernel(x):
            t = 0.0
            for v in x:
                t += h(v)
            return t
        return kernel

    w.kernel("numba")(make(helper))
"""


@pytest.mark.slow
def test_torch_compile_options_reach_torch_compile_and_eager_records_none(tmp_path: Path, home: Path,
                                                                         warm_inductor_cache: dict[str, str]) -> None:
    """Options and status only, nothing about compiling: a shared warm Inductor cache."""
    pytest.importorskip("torch")
    kernels = _write(tmp_path, """
        import jitscope

        w = jitscope.workload("axpy", inputs=lambda n, rng: {"x": rng.random(n)}, sizes=(1000,))

        @w.reference
        def _(x):
            return 2.0 * x + 1.0

        @w.kernel("torch", dynamic=True, fullgraph=True)
        def _(x):
            return 2.0 * x + 1.0
    """)
    eager, compiled = _run(tmp_path, home, "-w", str(kernels), "-b", "torch:eager,torch:compile", env=warm_inductor_cache)
    assert eager["status"] == "ok" and eager["kernel_options"] == "", eager
    if compiled["status"] == "skipped":  # no C++ compiler here: said, not hidden
        assert "C++ compiler" in compiled["reason"]
        return
    assert compiled["status"] == "ok" and compiled["kernel_options"] == "dynamic=True, fullgraph=True", compiled
