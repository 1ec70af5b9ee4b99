"""Hostile input found after issue 7's first pass: each case crashed or misled before its fix.

Same rules as tests/test_guarantees.py: the real command, each test named after what it checks
and grouped under the issue-7 case the input belongs to (4: markup, 5: exports, 7: one line
instead of a traceback, 8: plugins, 10: validation).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_support import assert_clean_error, jitscope

from jitscope.results.store import Store

MCPI = ["-w", "mcpi", "-b", "numpy", "-s", "1000", "--budget", "0.02", "--no-plot"]


def _run_count(db: Path) -> int:
    with Store(db, create=False) as store:
        return len(store.runs())


# ---- 4. text that looks like markup, wherever it comes from ------------------------------------
def test_history_of_an_empty_database_whose_path_has_brackets(tmp_path: Path) -> None:
    folder = tmp_path / "[red]runs[/]"  # a folder "[red]runs[" holding "]"
    folder.mkdir(parents=True)
    db = folder / "X.db"
    Store(db).close()
    proc = jitscope("history", "--db", str(db))
    assert proc.returncode == 0, proc.stderr
    assert f"no runs in {db} yet" in " ".join(proc.stdout.split())


PLUGIN_WITH_MARKUP = """
import jitscope

WORKLOAD = jitscope.workload("marked", inputs=lambda n: {"n": n}, sizes=(10,),
                             description="reads [/tmp/in.bin] [bold]fast[/]", size_label="n [/]",
                             presets={"[/]odd": (10, 20)})

@WORKLOAD.reference
def _(n):
    return float(n)
"""


def test_a_plugin_whose_texts_look_like_markup_is_listed_as_written(tmp_path: Path) -> None:
    plugin = tmp_path / "marked.py"
    plugin.write_text(PLUGIN_WITH_MARKUP)
    proc = jitscope("workloads", "-w", str(plugin))
    assert proc.returncode == 0, proc.stderr
    assert "marked — reads [/tmp/in.bin] [bold]fast[/]" in proc.stdout
    assert "presets: [/]odd 10,20" in proc.stdout


# ---- 5. exports ----------------------------------------------------------------------------------
def test_two_exports_to_one_file_are_refused(tmp_path: Path) -> None:
    out = tmp_path / "out.txt"
    proc = jitscope("run", *MCPI, "--db", str(tmp_path / "X.db"), "--csv", str(out), "--md", str(tmp_path / "." / "out.txt"))
    assert_clean_error(proc, "same file")
    assert not (tmp_path / "X.db").exists() or _run_count(tmp_path / "X.db") == 0


# ---- 7. one line, never a traceback --------------------------------------------------------------
@pytest.mark.parametrize("columns", ["abc", "-5", "0", ""])
def test_a_columns_variable_that_is_not_a_width_is_ignored(columns: str, tmp_path: Path) -> None:
    proc = jitscope("history", "--db", str(tmp_path / "nope.db"), env={"COLUMNS": columns})
    assert_clean_error(proc, "no database")


def test_import_of_numbers_sqlite_cannot_hold_is_one_line(tmp_path: Path) -> None:
    header = "run_id,workload,backend,variant,device,dtype,size,status,seed\n"
    for row, needle in (("1,mcpi,numpy,default,cpu,float64,100000000000000000000000,ok,1\n", "size"),
                        ("1,mcpi,numpy,default,cpu,float64,10,ok,99999999999999999999999999\n", "seed")):
        path = tmp_path / "in.csv"
        path.write_text(header + row)
        assert_clean_error(jitscope("import", str(path), "--db", str(tmp_path / "X.db")), needle, "line 2")


@pytest.mark.parametrize("value", ["nan", "-0.5", "inf"])
def test_import_of_a_time_that_is_not_one_is_one_line(value: str, tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text("run_id,workload,backend,variant,device,dtype,size,status,median_s\n"
                    f"1,mcpi,numpy,default,cpu,float64,10,ok,{value}\n")
    assert_clean_error(jitscope("import", str(path), "--db", str(tmp_path / "X.db")), "median_s", "line 2")


def test_history_limit_beyond_sqlite_shows_every_run(tmp_path: Path) -> None:
    db = tmp_path / "X.db"
    assert jitscope("run", *MCPI, "--db", str(db)).returncode == 0
    proc = jitscope("history", "--db", str(db), "--limit", str(10**20))
    assert proc.returncode == 0, proc.stderr
    assert "1/1" in proc.stdout


# ---- 8. plugins ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["a,b", "x:y", "w@cuda", "has space", "[/]", ""])
def test_a_plugin_name_nobody_could_type_is_refused(name: str, tmp_path: Path) -> None:
    plugin = tmp_path / "odd.py"
    plugin.write_text("import jitscope\n"
                      f"WORKLOAD = jitscope.workload({name!r}, inputs=lambda n: {{'n': n}}, sizes=(10,))\n"
                      "WORKLOAD.reference(lambda n: float(n))\n")
    assert_clean_error(jitscope("run", "-w", str(plugin), "-b", "numpy", "--db", str(tmp_path / "X.db")),
                       "odd.py", "name")


# ---- 10. validation ------------------------------------------------------------------------------
@pytest.mark.parametrize("db", ["-", "/dev/null"])
def test_a_database_path_that_is_not_a_file_is_refused(db: str, tmp_path: Path) -> None:
    assert_clean_error(jitscope("run", *MCPI, "--db", db, cwd=tmp_path), "database")
    assert not (tmp_path / "-").exists()


def test_a_budget_not_below_the_timeout_is_refused(tmp_path: Path) -> None:
    assert_clean_error(jitscope("run", *MCPI[:-3], "--budget", "5", "--timeout", "5", "--no-plot",
                                "--db", str(tmp_path / "X.db")), "--budget", "--timeout")


def test_an_absurd_whole_number_parameter_is_refused_in_the_words_typed(tmp_path: Path) -> None:
    proc = jitscope("run", "-w", "linreg", "-b", "numpy", "-s", "10", "-p", "samples=1e300", "--db", str(tmp_path / "X.db"))
    assert_clean_error(proc, "samples=1e300")
    assert len(proc.stderr) < 400, proc.stderr  # not a 300-digit number
