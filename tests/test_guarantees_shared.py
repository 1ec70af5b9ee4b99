"""Issue 17's cases (a shared GPU box: hostile and careless users, odd environments), one test
(or more) each, through the real command where a user would hit it.

Each test is named after the item it covers (``test_item_N_...``). The README's "What jitscope
guarantees" section is backed by these tests (and tests/test_guarantees.py).
"""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cli_support import assert_clean_error, jitscope

from jitscope.results.store import Store

MCPI = ["-w", "mcpi", "-b", "numpy", "-s", "1000", "--budget", "0.02", "--no-plot"]


def _with_closed(redirect: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The command with a standard stream closed by the shell (``>&-`` or ``2>&-``); no
    COLUMNS, as from a shell that does not export it."""
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    return subprocess.run(["bash", "-c", f'exec "$@" {redirect}', "bash", sys.executable, "-m", "jitscope.cli", *args],
                          capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL, env=env, cwd=cwd)


def _runs(db: Path) -> list[tuple[str, int]]:
    with Store(db, create=False) as store:
        return [(r.state, r.cell_count) for r in store.runs()]


# ---- 7. a closed stdout or stderr ---------------------------------------------------------------
def test_item_7_run_with_stderr_closed_runs_saves_and_exports(tmp_path: Path) -> None:
    db, out = tmp_path / "r.db", tmp_path / "out.csv"
    proc = _with_closed("2>&-", "run", *MCPI, "--db", str(db), "--csv", str(out))
    assert proc.returncode == 0, proc.stdout
    assert "saved as run 1" in proc.stdout
    assert _runs(db) == [("finished", 1)]
    assert out.read_text().startswith("run_id,")


def test_item_7_run_with_stdout_closed_still_measures_and_never_writes_into_the_database(tmp_path: Path) -> None:
    db, out = tmp_path / "r.db", tmp_path / "out.csv"
    proc = _with_closed(">&-", "run", *MCPI, "--db", str(db), "--csv", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert _runs(db) == [("finished", 1)]  # the report went nowhere, not into the database file
    assert len(list(csv.DictReader(io.StringIO(out.read_text())))) == 1


def test_item_7_a_command_that_only_prints_refuses_a_closed_stdout(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    assert jitscope("run", *MCPI, "--db", str(db)).returncode == 0
    for args in (["history", "--db", str(db)], ["show", "1", "--db", str(db)],
                 ["export", "1", "--db", str(db), "--csv", "-"], ["run", *MCPI, "--db", str(db), "--csv", "-"]):
        assert_clean_error(_with_closed(">&-", *args), "standard output is closed")
    assert _runs(db) == [("finished", 1)]  # the refused run never started


# ---- 13. odd environments: an ASCII-only stream, HOME unusable, a terminal 0 columns wide ------
def test_item_13_ascii_only_output_gets_stand_ins_not_a_traceback(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    proc = jitscope("run", *MCPI, "--db", str(db), env={"PYTHONIOENCODING": "ascii"})
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "0.066 ok" in proc.stdout or " ok " in proc.stdout  # the accuracy mark, spelled in ASCII
    assert "saved as run 1" in proc.stdout
    shown = jitscope("show", "1", "--db", str(db), env={"PYTHONIOENCODING": "ascii"})
    assert shown.returncode == 0, shown.stderr
    assert "+-IQR" in shown.stdout


@pytest.mark.parametrize("env", [{"HOME": "/dev/null", "JITSCOPE_HOME": "", "XDG_DATA_HOME": ""},
                                 {"JITSCOPE_HOME": "FILE"}])
def test_item_13_an_unusable_home_is_one_line(env: dict[str, str], tmp_path: Path) -> None:
    afile = tmp_path / "afile"
    afile.write_text("x")
    env = {k: str(afile) if v == "FILE" else v for k, v in env.items()}
    for args in (["history"], ["run", *MCPI], ["export", "latest", "--csv", str(tmp_path / "o.csv")]):
        assert_clean_error(jitscope(*args, env=env), "jitscope's files", "JITSCOPE_HOME")


def test_item_13_a_terminal_zero_columns_wide_still_gets_the_report(tmp_path: Path) -> None:
    import pty

    db = tmp_path / "r.db"
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    main, sub = pty.openpty()  # a fresh pty reports 0 rows x 0 columns
    assert os.get_terminal_size(sub).columns == 0
    proc = subprocess.Popen([sys.executable, "-m", "jitscope.cli", "run", *MCPI, "--db", str(db)],
                            stdin=subprocess.DEVNULL, stdout=sub, stderr=sub, env=env)
    os.close(sub)
    seen = _read_all(main)
    assert proc.wait(timeout=300) == 0
    assert "saved as run 1" in seen
    assert "mcpi" in seen and "median" in seen


def _read_all(fd: int) -> str:
    chunks = []
    while True:
        try:
            data = os.read(fd, 65536)
        except OSError:  # EIO: every writer closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(fd)
    return b"".join(chunks).decode("utf-8", "replace")
