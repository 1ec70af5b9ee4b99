"""Issue 18 item 6, in the real command: ``jitscope run/show --plot KIND`` draws each kind
declared in jitscope.plotkinds (the ones the app cycles with p), a bad kind is one line and
exit 2, a bare ``--plot`` is still the default kind and ``--no-plot`` still draws none."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_support import assert_clean_error, jitscope
from test_ui_support import ok_result

from jitscope.core.model import CellSpec
from jitscope.plotkinds import DEFAULT_KIND, KINDS
from jitscope.plots import BAR_MARKERS, MONO_MARKERS, REFERENCE_MARKER

NO_COLOR = {"NO_COLOR": "1"}

# What only that kind's chart shows (without colour), besides its title.
RECOGNISABLE = {
    "time": ["seconds per call", f"{MONO_MARKERS[0]} numpy  {MONO_MARKERS[1]} python"],
    "accuracy": ["abs_error_pi", f"{REFERENCE_MARKER} expected error"],  # mcpi's own 1.64/sqrt(n)
    "speedup": ["x faster than python"],
    "compile": [f"{BAR_MARKERS[0]} compile", f"{BAR_MARKERS[1]} worker start-up", "numpy @1e3"],
    "memory": ["peak memory", "iB"],
    # the sweep kinds, drawn from a sweep (sweep_db)
    "threads": ["x faster than its fewest threads", f"{REFERENCE_MARKER} ideal",
                "numpy float64 @1e3 (100% efficient at 4 threads)", "python float64 @1e3 (25% efficient at 4 threads)"],
    "dtype": ["float32 time / float64 time", "same time (1x)",
              f"{MONO_MARKERS[0]} numpy threads=1"],
}
SWEEP_KINDS = {"threads", "dtype"}


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """A stored run of mcpi (numpy, python) at two sizes: every kind has something to draw."""
    from jitscope.results.store import Store

    path = tmp_path / "runs.sqlite"
    specs = [CellSpec("mcpi", b, "default", "cpu", "float64", n) for b in ("numpy", "python") for n in (1000, 10000)]
    with Store(path) as store:
        store.import_cells([ok_result(s) for s in specs], label="here", environment={"host": "here"}, command="run")
    return path


@pytest.fixture
def sweep_db(tmp_path: Path) -> Path:
    """A stored sweep of mcpi (numpy, python) at two sizes, threads 1, 2 and 4 and both dtypes:
    numpy scales perfectly and float32 takes it half the time; python does not scale."""
    from jitscope.results.store import Store

    path = tmp_path / "sweep.sqlite"
    cells = []
    for b in ("numpy", "python"):
        for n in (1000, 10000):
            for dtype in ("float32", "float64"):
                for t in (1, 2, 4):
                    spec = CellSpec("mcpi", b, "default", "cpu", dtype, n, threads=t)
                    slow = (1 / t if b == "numpy" else 1.0) * (0.5 if dtype == "float32" and b == "numpy" else 1)
                    cells.append(ok_result(spec, speed=(1e-8 if b == "numpy" else 1e-6) * slow))
    with Store(path) as store:
        store.import_cells(cells, label="sweep", environment={"host": "here"}, command="run")
    return path


def chart_of(stdout: str, title: str) -> str:
    """The output from the chart's title on (the table above it is not the plot)."""
    assert title in stdout, stdout
    return stdout[stdout.index(title):]


def test_every_kind_in_the_declaration_is_recognisable_through_show(db: Path, sweep_db: Path) -> None:
    assert [k.name for k in KINDS] == list(RECOGNISABLE)  # a new kind gets its check here
    for kind in KINDS:
        where = sweep_db if kind.name in SWEEP_KINDS else db
        proc = jitscope("show", "latest", "--db", str(where), "--plot", kind.name, "--baseline", "python", env=NO_COLOR)
        assert proc.returncode == 0, proc.stderr
        chart = chart_of(proc.stdout, f"mcpi: {kind.cli_title}")
        for needle in RECOGNISABLE[kind.name]:
            assert needle in chart, f"--plot {kind.name}: {needle!r} missing\n{chart}"
        others = {k.cli_title for k in KINDS} - {kind.cli_title}
        assert not any(f"mcpi: {t}" in proc.stdout for t in others), f"--plot {kind.name} drew another kind too"


def test_speedup_without_a_baseline_is_over_the_fastest_as_the_table(db: Path) -> None:
    proc = jitscope("show", "latest", "--db", str(db), "--plot", "speedup", env=NO_COLOR)
    assert proc.returncode == 0, proc.stderr
    chart = chart_of(proc.stdout, "mcpi: speed-up vs baseline")
    assert "x faster than the fastest" in chart and "speed-up vs the fastest" in proc.stdout
    assert any(line.strip().startswith("1┤") for line in chart.splitlines()), chart  # the fastest at 1x


def test_run_draws_the_kind_it_is_asked_for(tmp_path: Path) -> None:
    """Through a real sweep: the memory a worker observed, and the default (time) without --plot."""
    args = ["run", "-w", "mcpi", "-b", "numpy", "-s", "1000,2000", "--budget", "0.02", "--db", str(tmp_path / "r.db")]
    proc = jitscope(*args, "--plot", "memory", env=NO_COLOR)
    assert proc.returncode == 0, proc.stderr
    chart = chart_of(proc.stdout, "mcpi: peak memory vs size")
    assert f"{MONO_MARKERS[0]} numpy" in chart and "iB" in chart
    assert "median time per call" not in proc.stdout
    default = jitscope(*args, env=NO_COLOR)
    assert default.returncode == 0 and f"mcpi: {DEFAULT_KIND.cli_title}" in default.stdout


def test_unknown_kind_is_one_line_naming_the_kinds_and_exit_2(tmp_path: Path, db: Path) -> None:
    run_db = tmp_path / "never.db"
    proc = jitscope("run", "-w", "mcpi", "-b", "numpy", "-s", "1000", "--db", str(run_db), "--plot", "histogram")
    assert_clean_error(proc, "unknown plot kind 'histogram'", ", ".join(k.name for k in KINDS))
    assert not run_db.exists()  # refused before anything ran
    assert_clean_error(jitscope("show", "latest", "--db", str(db), "--plot", "Time"), "unknown plot kind 'Time'")
    assert_clean_error(jitscope("show", "latest", "--db", str(db), "--plot", "nope", "--no-plot"), "unknown plot kind")


def test_help_lists_the_declared_kinds() -> None:
    for command in ("run", "show"):
        proc = jitscope(command, "--help")
        assert proc.returncode == 0, proc.stderr
        text = " ".join(proc.stdout.replace("│", " ").split())  # the help box wraps its lines
        assert all(f"{k.name} ({k.needs})" in text for k in KINDS), text


def test_bare_plot_is_the_default_kind_and_no_plot_draws_none(db: Path) -> None:
    title = f"mcpi: {DEFAULT_KIND.cli_title}"
    for args in (["show", "latest", "--db", str(db), "--plot"], ["show", "--plot", "--db", str(db), "latest"]):
        proc = jitscope(*args, env=NO_COLOR)
        assert proc.returncode == 0 and title in proc.stdout, proc.stderr
    for args in (["--no-plot"], ["--plot", "memory", "--no-plot"]):
        proc = jitscope("show", "latest", "--db", str(db), *args, env=NO_COLOR)
        assert proc.returncode == 0 and "numpy" in proc.stdout, proc.stderr
        assert not any(f"mcpi: {k.cli_title}" in proc.stdout for k in KINDS)


def test_a_single_point_keeps_its_time_axis_upright_and_in_time_units(tmp_path: Path) -> None:
    """One cell (one size, one backend): the y axis used to fall back to plotext's own log
    ticks, printed as raw seconds (0.0000244) and running the wrong way up."""
    from jitscope.results.store import Store

    path = tmp_path / "one.sqlite"
    with Store(path) as store:
        store.import_cells([ok_result(CellSpec("mcpi", "numpy", "default", "cpu", "float64", 1000))],
                           label="here", environment={"host": "here"}, command="run")
    proc = jitscope("show", "latest", "--db", str(path), env={**NO_COLOR, "COLUMNS": "80"})
    assert proc.returncode == 0, proc.stderr
    chart = chart_of(proc.stdout, "mcpi: median time per call")
    y_labels = [line.split("┤")[0].strip() for line in chart.splitlines() if "┤" in line]
    assert y_labels == ["10us"], chart  # ok_result: numpy at 1e-8 s per sample x 1000


@pytest.mark.parametrize(("kind", "line"), [
    ("threads", "mcpi: speed-up vs threads: the threads plot needs cells at 2 or more thread counts; this run has 0"),
    ("dtype", "mcpi: float32 vs float64 time: the dtype plot needs cells in both float32 and float64; "
              "this run has float64 only"),
])
def test_a_sweep_kind_without_its_axis_says_why_in_one_line_and_draws_no_chart(db: Path, kind: str, line: str) -> None:
    proc = jitscope("show", "latest", "--db", str(db), "--plot", kind, env={**NO_COLOR, "COLUMNS": "200"})
    assert proc.returncode == 0, proc.stderr
    assert line in proc.stdout, proc.stdout
    assert "┤" not in proc.stdout  # no empty chart


def test_a_real_thread_and_dtype_sweep_draws_both_sweep_kinds(tmp_path: Path) -> None:
    """Through a real sweep: each thread count's cell in the threads plot, both dtypes in the dtype plot."""
    args = ["run", "-w", "mcpi", "-b", "numpy", "-s", "1e4", "--threads", "1,2", "--dtype", "float32,float64",
            "--budget", "0.05", "--db", str(tmp_path / "r.db")]
    proc = jitscope(*args, "--plot", "threads", env=NO_COLOR)
    assert proc.returncode == 0, proc.stderr
    chart = chart_of(proc.stdout, "mcpi: speed-up vs threads")
    for dtype in ("float32", "float64"):
        assert f"numpy {dtype} @1e4 (" in chart and "efficient at 2 threads)" in chart, chart
    shown = jitscope("show", "latest", "--db", str(tmp_path / "r.db"), "--plot", "dtype", env=NO_COLOR)
    chart = chart_of(shown.stdout, "mcpi: float32 vs float64 time")
    assert "numpy threads=1" in chart and "numpy threads=2" in chart, chart
