"""Issue 21, in the real command: the CLI's plot legend, size labels, history without a
terminal, a first look on a fresh machine and one line for every bad option."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_support import assert_clean_error, jitscope
from test_ui_support import ok_result

from jitscope.core.model import CellSpec
from jitscope.plots import MONO_MARKERS

BACKENDS = [f"b{i}" for i in range(1, 9)]


def stored_run(db: Path, backends: list[str], sizes: tuple[int, ...] = (1000, 3000, 10000), command: str = "run") -> None:
    from jitscope.results.store import Store

    specs = [CellSpec("mcpi", b, "default", "cpu", "float64", n) for b in backends for n in sizes]
    with Store(db) as store:
        store.import_cells([ok_result(s, 1e-8 * (i + 1)) for i, s in enumerate(specs)], label="here",
                           environment={"host": "here"}, command=command)


def test_cli_plot_has_a_legend_line_with_each_series_marker_and_one_size_style(tmp_path: Path) -> None:
    """Items 2, 6, 12: eight series without colour (a pipe): the legend is a line under the
    chart (no box over the data) with each series' own marker; sizes read 1e3, 3e3, 1e4."""
    db = tmp_path / "runs.sqlite"
    stored_run(db, BACKENDS)
    proc = jitscope("show", "latest", "--db", str(db))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    legend = [line for line in lines if line.startswith(f"{MONO_MARKERS[0]} b1")]
    assert legend == ["  ".join(f"{m} {b}" for m, b in zip(MONO_MARKERS, BACKENDS, strict=False))]
    chart = lines[next(i for i, line in enumerate(lines) if "median time per call" in line): lines.index(legend[0])]
    assert not any(b in line for line in chart for b in BACKENDS), "a legend inside the chart covers its data"
    assert all(m in "\n".join(chart) for m in MONO_MARKERS[:8])
    assert "3e3" in proc.stdout and "1e4" in proc.stdout
    assert "3000" not in proc.stdout and "10000" not in proc.stdout


def test_history_without_a_terminal_truncates_a_long_command(tmp_path: Path) -> None:
    """Item 8: a long command is cut with an ellipsis, not dropped, however many runs show."""
    db = tmp_path / "runs.sqlite"
    long = "run -w mcpi -b " + ",".join(f"backend{i}" for i in range(40))
    stored_run(db, ["numpy"], command=long)
    stored_run(db, ["numpy"], command="run -w mcpi -b numpy")
    for n in ("3", "20"):
        proc = jitscope("history", "--db", str(db), "-n", n, columns=100)
        assert proc.returncode == 0, proc.stderr
        assert "command" in proc.stdout and "run -w mcpi -b numpy" in proc.stdout
        assert any("run -w mcpi -b backend0" in line and line.rstrip().endswith("…") for line in proc.stdout.splitlines())
        assert max(len(line) for line in proc.stdout.splitlines()) <= 100


@pytest.mark.parametrize("args", [["history"], ["show", "latest"]])
def test_a_fresh_machine_has_no_runs_yet_and_says_how_to_make_one(args: list[str], tmp_path: Path) -> None:
    """Item 13: the default database does not exist yet: not an error, a pointer."""
    proc = jitscope(*args, env={"JITSCOPE_HOME": str(tmp_path / "home")})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "no runs yet" in proc.stdout and "jitscope run -w mcpi -b numpy" in proc.stdout
    assert not (tmp_path / "home").exists() or not any((tmp_path / "home").rglob("*.sqlite"))


@pytest.mark.parametrize("args", [["history"], ["show", "latest"]])
def test_an_explicit_database_that_does_not_exist_stays_an_error(args: list[str], tmp_path: Path) -> None:
    proc = jitscope(*args, "--db", str(tmp_path / "nope.sqlite"))
    assert_clean_error(proc, "nope.sqlite")


@pytest.mark.parametrize("args, needle", [
    (["run", "--threads", "two", "-w", "mcpi"], "--threads"),
    (["run", "--budget", "soon"], "--budget"),
    (["history", "--nope"], "--nope"),
    (["show"], "run_id"),
    (["run", "-w"], "-w"),
])
def test_every_bad_option_is_one_line_and_exit_2(args: list[str], needle: str) -> None:
    """Item 9: Typer's error box (4+ lines of frame) is replaced by one line, for every option."""
    proc = jitscope(*args)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("jitscope: error: "), proc.stderr
    assert needle in proc.stderr and "╭" not in proc.stderr and proc.stdout == ""


def test_workloads_lists_sizes_in_the_one_size_style() -> None:
    """Item 6: the listing of default sizes and presets is written like every table and axis."""
    proc = jitscope("workloads")
    assert proc.returncode == 0, proc.stderr
    assert "default sizes 1e4, 1e5, 1e6" in proc.stdout and "large 1e5,1e6,1e7,1e8" in proc.stdout
    assert "sizes 10000" not in proc.stdout and "1000,10000" not in proc.stdout
