"""numba:cuda without a GPU: every kernel's answer checked in numba's CUDA simulator
(``NUMBA_ENABLE_CUDASIM=1``, tiny sizes: every CUDA thread is a Python thread there), the
simulated runs labelled so everywhere a user looks (table, CSV, JSON, Markdown, `jitscope
backends`, an imported CSV) and never compared with or plotted beside real timings; without
the simulator and without a GPU every cell is skipped with a reason that says what to do."""

from __future__ import annotations

import csv
import importlib.util
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from backend_support import run_cells
from cli_support import jitscope
from conftest import ROOT
from kernel_files import doubling_file

from jitscope.core.model import CellResult, CellSpec, Status

if importlib.util.find_spec("numba") is None:  # not importorskip: keep heavy libraries out of pytest
    pytest.skip("numba is not installed", allow_module_level=True)

SIM = {"NUMBA_ENABLE_CUDASIM": "1"}
LINREG = (("epochs", 3), ("samples", 64))
TINY = {"linreg": 3, "mcpi": 256, "lu": 8, "nodes": 256}
ALL_FOUR = ("-w", "linreg", "-w", "mcpi", "-w", "lu", "-w", "nodes", "-b", "numba:cuda", "--device", "cuda")


def _spec(workload: str, dtype: str) -> CellSpec:
    params = LINREG if workload == "linreg" else ()
    return CellSpec(workload, "numba", "cuda", "cuda", dtype, TINY[workload], params=params, budget_s=0.01, timeout_s=300)


CELLS = [_spec(w, d) for w in TINY for d in ("float64", "float32")]


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, CellResult]]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JITSCOPE_HOME", str(tmp_path_factory.mktemp("cuda-home")))
        mp.setenv("NUMBA_ENABLE_CUDASIM", "1")
        results, infos = run_cells(CELLS)
    assert infos[("numba", "cuda")]["simulated_devices"] == ["cuda"]
    yield {CELLS[i].key: r for i, r in results.items()}


@pytest.mark.xdist_group("numba-cuda-simulated")  # one worker: `simulated` runs once
@pytest.mark.parametrize("cell", CELLS, ids=lambda c: f"{c.workload}-{c.dtype}")
def test_each_kernel_is_accurate_in_the_simulator(simulated: dict[str, CellResult], cell: CellSpec) -> None:
    r = simulated[cell.key]
    assert r.status == Status.OK, r.reason + str(r.info.get("traceback", ""))
    assert r.accuracy is not None and r.accuracy.accurate, r.accuracy
    # Read from the device arrays the kernels wrote (a sample's probe for mcpi, the biases
    # for nodes, the factor for lu): a kernel that silently widened would say float64.
    assert r.observed.dtype_used == cell.dtype
    assert r.observed.simulated
    # The simulator's driver reports infinite memory: unknown, never a made-up number.
    assert r.observed.peak_device_bytes is None
    assert (r.observed.compiled, r.observed.cache) == ("no", "n/a")  # Python runs, nothing compiles
    assert "synchronize" in r.info["sync"] and "simulator" in r.info["simulator"]
    if cell.workload in ("mcpi", "nodes"):
        assert "xoroshiro128+" in r.info["rng"]


def _run(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> tuple[str, list[dict[str, str]]]:
    out = tmp_path / "out.csv"
    proc = jitscope("run", *args, "--budget", "0.01", "--no-plot", "--db", str(tmp_path / "db.sqlite"),
                    "--csv", str(out), "--json", str(tmp_path / "out.json"), "--md", str(tmp_path / "out.md"),
                    env={"JITSCOPE_HOME": str(tmp_path / "home"), **(env or {})}, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with out.open() as f:
        return proc.stdout, list(csv.DictReader(f))


@pytest.mark.slow
def test_the_command_labels_a_simulated_run_everywhere(tmp_path: Path) -> None:
    stdout, rows = _run(tmp_path, *ALL_FOUR, "-s", "8", "-p", "samples=64", "-p", "epochs=2", env=SIM)
    assert [r["status"] for r in rows] == ["ok"] * 4, rows
    assert {r["device"] for r in rows} == {"cuda (simulated)"} and {r["simulated"] for r in rows} == {"true"}
    assert "ready on cuda (simulated)" in stdout
    assert stdout.count("cuda (simulated)") >= 5  # the worker line and each row of the table
    cells = json.loads((tmp_path / "out.json").read_text())["cells"]
    assert {c["device_label"] for c in cells} == {"cuda (simulated)"}
    assert all(c["observed"]["simulated"] and c["spec"]["device"] == "cuda" for c in cells)
    assert (tmp_path / "out.md").read_text().count("| cuda (simulated) |") >= 4


@pytest.mark.skipif(shutil.which("nvidia-smi") is not None, reason="a CUDA GPU may be here: the cells would run")
def test_without_the_simulator_or_a_gpu_every_cell_is_skipped_with_its_reason(tmp_path: Path) -> None:
    _, rows = _run(tmp_path, *ALL_FOUR, "-s", "8", env={"NUMBA_ENABLE_CUDASIM": "0"})
    assert [r["status"] for r in rows] == ["skipped"] * 4, rows
    for r in rows:
        assert r["device"] == "cuda" and r["simulated"] == "false"
        assert "numba.cuda.is_available() is False" in r["reason"] and "NUMBA_ENABLE_CUDASIM=1" in r["reason"], r


@pytest.mark.slow
def test_backends_says_numba_has_a_simulated_cuda(tmp_path: Path) -> None:
    proc = jitscope("backends", "numba", env={**SIM, "JITSCOPE_HOME": str(tmp_path)}, columns=250, timeout=300)
    assert proc.returncode == 0, proc.stderr
    line = next(x for x in proc.stdout.splitlines() if x.startswith("│ numba "))
    assert "cpu, cuda (simulated)" in line, line


# ---- users' own numba.cuda kernels -----------------------------------------------------------
def test_the_cuda_example_runs_in_the_simulator(tmp_path: Path) -> None:
    """examples/saxpy_cuda.py, as the README shows it: the user's launcher of their own
    @cuda.jit kernel, in float32 (cast by the adapter, read back from the device)."""
    _, rows = _run(tmp_path, "-w", str(ROOT / "examples" / "saxpy_cuda.py"), "-b", "numba:cuda", "--device", "cuda",
                   "-s", "300", "--dtype", "float32", env=SIM)
    (row,) = rows
    assert row["status"] == "ok" and row["accurate"] == "true", row
    assert row["dtype_used"] == "float32" and row["device"] == "cuda (simulated)"


def test_a_backend_wide_numba_kernel_does_not_serve_cuda(tmp_path: Path) -> None:
    """@w.kernel("numba") is an njit function: numba:cuda needs a launcher, named as such."""
    path = tmp_path / "k.py"
    path.write_text(doubling_file("twice", "numba", size=8))
    _, rows = _run(tmp_path, "-w", str(path), "-b", "numba:cuda", "--device", "cuda", "-s", "8", env=SIM)
    (row,) = rows
    assert row["status"] == "skipped" and "@twice.kernel('numba', 'cuda')" in row["reason"], row


# ---- simulated timings are never compared with real ones ---------------------------------------
def test_a_simulated_cell_is_never_a_baseline_nor_plotted_beside_real_ones(tmp_path: Path) -> None:
    """A CSV holding a real CPU cell and a simulated CUDA cell of the same workload, size and
    dtype, imported and shown: each is the fastest of its kind (1.00x), the simulated one is
    not plotted beside the real one, and the device reads back as simulated."""
    header = "workload,backend,variant,device,dtype,size,status,median_s,samples,loops,simulated\n"
    body = ("linreg,numba,default,cpu,float64,8,ok,0.001,5,1,false\n"
            "linreg,numba,cuda,cuda (simulated),float64,8,ok,0.5,5,1,true\n")
    (tmp_path / "mixed.csv").write_text(header + body)
    env = {"JITSCOPE_HOME": str(tmp_path / "home")}
    db = str(tmp_path / "db.sqlite")
    imported = jitscope("import", str(tmp_path / "mixed.csv"), "--db", db, env=env)
    assert imported.returncode == 0, imported.stderr
    shown = jitscope("show", "latest", "--db", db, env=env, columns=160)
    assert shown.returncode == 0, shown.stderr
    rows = [line for line in shown.stdout.splitlines() if line.strip().startswith("linreg") and " ok " in line]
    assert len(rows) == 2 and all(line.rstrip().endswith("1.00x") for line in rows), shown.stdout
    assert "cuda (simulated)" in rows[1]
    assert "@cuda" not in shown.stdout  # no series of the simulated cell in the plot


def test_the_app_labels_simulated_cells_and_keeps_them_off_real_timing_plots() -> None:
    """The app overlaying a real GPU run and a simulated one: the simulated cells say so in
    their label, speed-ups never cross the two, and the time plot shows the real one only."""
    from jitscope.core.model import Observations, Stats
    from jitscope.ui.state import ResultSet, RunRef

    def cell(median: float, simulated: bool) -> CellResult:
        spec = CellSpec("mcpi", "numba", "cuda", "cuda", "float64", 1000)
        stats = Stats(median, 0.0, median, median, 0.0, median, median, 5, 1, False)
        return CellResult(spec, Status.OK, stats=stats, observed=Observations(simulated=simulated))

    gpu, sim = RunRef(1, "h100"), RunRef(2, "laptop")
    view = ResultSet([(gpu, cell(1e-4, False)), (sim, cell(0.5, True))])
    assert view.labels() == ["h100 numba:cuda@cuda", "laptop numba:cuda@cuda (simulated)"]
    assert view.speedups("h100 numba:cuda@cuda") == [1.0, None]
    series = view.plot("time", "mcpi", None).series
    assert [s.label for s in series] == ["h100 numba:cuda@cuda"]
