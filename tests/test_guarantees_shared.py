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
from cli_support import assert_clean_error, copy_database, jitscope, module_run, read_into
from kernel_files import doubling_file

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


@pytest.fixture(scope="module")
def one_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database holding one real ``jitscope run`` (MCPI), made once for the module."""
    return module_run(tmp_path_factory.mktemp("one-run"), "r.db", *MCPI)


@pytest.fixture
def db(one_run: Path, tmp_path: Path) -> Path:
    """``tmp_path/r.db``: this test's own copy of :func:`one_run`'s database, for a test that
    needs a database holding a real run but does not test the run itself."""
    return copy_database(one_run, tmp_path / "r.db")


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


def test_item_7_a_command_that_only_prints_refuses_a_closed_stdout(db: Path) -> None:
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
    chunks: list[bytes] = []
    read_into(fd, chunks)
    return b"".join(chunks).decode("utf-8", "replace")


# ---- 9. spreadsheet formula injection -----------------------------------------------------------
HOSTILE = {"host": "=HYPERLINK(\"http://x\",\"y\")", "reason": "+cmd|' /C calc'!A0", "backend_version": "@SUM(1+1)",
           "unstable_reason": "-1+2", "note": "\tleading tab"}


def _csv_rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


def test_item_9_formulas_are_neutralised_and_the_round_trip_is_exact(db: Path, tmp_path: Path) -> None:
    first = tmp_path / "first.csv"
    assert jitscope("export", "1", "--db", str(db), "--csv", str(first)).returncode == 0
    rows = _csv_rows(first)
    rows[0].update(HOSTILE)  # a host named by someone else, a reason from a plugin...
    hostile = tmp_path / "hostile.csv"
    with hostile.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    assert jitscope("import", str(hostile), "--db", str(db)).returncode == 0  # run 2
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    assert jitscope("export", "2", "--db", str(db), "--csv", str(a)).returncode == 0
    exported = _csv_rows(a)[0]
    for key, value in HOSTILE.items():
        assert exported[key] == "'" + value, key  # a spreadsheet shows it as text
    assert float(exported["median_s"]) > 0 and not exported["median_s"].startswith("'")
    assert jitscope("import", str(a), "--db", str(db)).returncode == 0  # run 3
    assert jitscope("export", "3", "--db", str(db), "--csv", str(b)).returncode == 0
    strip = [{k: v for k, v in row.items() if k != "run_id"} for row in (_csv_rows(a)[0], _csv_rows(b)[0])]
    assert strip[0] == strip[1]
    json_out = jitscope("export", "3", "--db", str(db), "--json", "-")
    assert '"reason": "+cmd|' in json_out.stdout  # stored as it was, not with the quote


def test_item_9_negative_numbers_stay_numbers(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "o.csv"
    assert jitscope("export", "1", "--db", str(db), "--csv", str(out)).returncode == 0
    rows = _csv_rows(out)
    rows[0]["backend_version"] = "-5"
    with out.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    assert jitscope("import", str(out), "--db", str(db)).returncode == 0
    again = tmp_path / "again.csv"
    assert jitscope("export", "2", "--db", str(db), "--csv", str(again)).returncode == 0
    assert _csv_rows(again)[0]["backend_version"] == "-5"


# ---- 11. exports are created as any tool creates files ------------------------------------------
def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_item_11_new_exports_honour_the_umask(umask: int, tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    outs = [tmp_path / f"o.{ext}" for ext in ("csv", "json", "md")]
    proc = subprocess.run(["bash", "-c", f'umask {umask:03o}; exec "$@"', "bash", sys.executable, "-m", "jitscope.cli",
                           "run", *MCPI, "--db", str(db), "--csv", str(outs[0]), "--json", str(outs[1]), "--md", str(outs[2])],
                          capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    assert [_mode(p) for p in outs] == [0o666 & ~umask] * 3


def test_item_11_re_exporting_keeps_a_shared_files_mode(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "shared.csv"
    out.write_text("old\n")
    out.chmod(0o664)
    assert jitscope("export", "1", "--db", str(db), "--csv", str(out)).returncode == 0
    assert _mode(out) == 0o664
    assert out.read_text().startswith("run_id,")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".shared.csv.")]  # no temp file left


# ---- 16. an export path that is one of the run's inputs -----------------------------------------
KERNEL = doubling_file()


def test_item_16_export_over_the_kernel_file_is_refused(tmp_path: Path) -> None:
    kern = tmp_path / "mykern.py"
    kern.write_text(KERNEL)
    link = tmp_path / "link.py"
    link.symlink_to(kern)
    db = tmp_path / "r.db"
    # each spelling of the kernel file once, each export flag once (one command apiece)
    for target, flag in ((kern, "--csv"), (link, "--json"), (tmp_path / "." / "mykern.py", "--md")):
        proc = jitscope("run", "-w", str(kern), "-b", "numpy", "-s", "10", "--budget", "0.02", "--no-plot",
                        "--db", str(db), flag, str(target))
        assert_clean_error(proc, "input of this run")
    assert kern.read_text() == KERNEL
    assert not db.exists() or _runs(db) == []


# ---- 10. reading never writes: an empty file stays empty, a read-only database reads ------------
def test_item_10_an_empty_file_is_never_turned_into_a_database(tmp_path: Path) -> None:
    empty = tmp_path / "empty.db"
    empty.touch()
    for args in (["history"], ["show", "1"], ["export", "1", "--csv", str(tmp_path / "o.csv")]):
        assert_clean_error(jitscope(*args, "--db", str(empty)), "empty file")
        assert empty.stat().st_size == 0
    assert not (tmp_path / "empty.db-wal").exists()


def test_item_10_a_database_in_a_read_only_folder_can_be_read(one_run: Path, tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    db = copy_database(one_run, folder / "r.db")
    before = sorted(p.name for p in folder.iterdir())  # the database, and the run's event record beside it
    db.chmod(0o444)
    folder.chmod(0o555)
    try:
        hist = jitscope("history", "--db", str(db), obey_permissions=True)
        assert hist.returncode == 0, hist.stderr
        assert "finished" in hist.stdout
        shown = jitscope("show", "1", "--db", str(db), "--no-plot", obey_permissions=True)
        assert shown.returncode == 0, shown.stderr
        assert "mcpi" in shown.stdout
        out = tmp_path / "o.csv"
        exp = jitscope("export", "latest", "--db", str(db), "--csv", str(out), obey_permissions=True)
        assert exp.returncode == 0, exp.stderr
        assert len(_csv_rows(out)) == 1
        assert sorted(p.name for p in folder.iterdir()) == before  # the reads created nothing beside it
    finally:
        folder.chmod(0o755)


# ---- 17. one damaged row costs that row alone ----------------------------------------------------
def test_item_17_a_damaged_cell_is_named_and_the_rest_still_shows_and_exports(tmp_path: Path) -> None:
    import sqlite3

    db = tmp_path / "r.db"
    proc = jitscope("run", "-w", "mcpi", "-b", "numpy", "-s", "1000,2000,3000", "--budget", "0.02", "--no-plot",
                    "--db", str(db))
    assert proc.returncode == 0, proc.stderr
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE cells SET data = '{\"spec\": {broken' WHERE run_id = 1 AND seq = 1")
        conn.execute("UPDATE runs SET environment = 'not json' WHERE id = 1")
    hist = jitscope("history", "--db", str(db))
    assert hist.returncode == 0, hist.stderr
    assert "run 1's stored environment is damaged" in hist.stderr and "Traceback" not in hist.stderr
    shown = jitscope("show", "1", "--db", str(db), "--no-plot")
    assert shown.returncode == 0, shown.stderr
    assert "run 1 cell 1 (mcpi numpy:default size=2000): its stored data is damaged" in shown.stderr
    assert "1e3" in shown.stdout and "3e3" in shown.stdout
    out = tmp_path / "o.csv"
    exported = jitscope("export", "1", "--db", str(db), "--csv", str(out))
    assert exported.returncode == 1  # written, but a script must know a row is missing
    assert "run 1 cell 1" in exported.stderr and "Traceback" not in exported.stderr
    assert [r["size"] for r in _csv_rows(out)] == ["1000", "3000"]


# ---- 8. a plugin file whose top level raises a BaseException or calls os._exit -------------------
@pytest.mark.parametrize(("top_level", "words"), [
    ("raise GeneratorExit('bye')", "raised GeneratorExit"),
    ("class Odd(BaseException):\n    pass\nraise Odd()", "raised Odd"),
    ("import os\nos._exit(0)", "called os._exit(0)"),
    ("from os import _exit\n_exit(0)", "called os._exit(0)"),
    ("import posix\nposix._exit(0)", "called os._exit(0)"),
])
def test_item_8_a_plugin_that_exits_at_its_top_level_is_never_success(top_level: str, words: str, tmp_path: Path) -> None:
    plugin = tmp_path / "bad_plugin.py"
    plugin.write_text(KERNEL + "\n" + top_level + "\n")
    for args in (["run", "-w", str(plugin), "-b", "numpy", "--budget", "0.02", "--no-plot", "--db", str(tmp_path / "r.db")],
                 ["workloads", "-w", str(plugin)]):
        assert_clean_error(jitscope(*args), "bad_plugin.py", words)


# ---- 12. the output goes away mid-run ------------------------------------------------------------
# Six cells of ~0.2 s each: after the first, about a second of run left to close the output
# in. (Under 0.3 s a cell is measured in one worker process, not three: less work, and each
# cell's line comes as soon as it is measured.)
SIX = ["-w", "mcpi", "-b", "numpy", "-s", "1000,2000,3000,4000,5000,6000", "--budget", "0.2", "--no-plot"]


def _on_own_terminal(sub: int) -> None:
    """In the child: a new session whose controlling terminal is the pty (as in a real
    terminal window), so closing the pty's other side hangs it up."""
    import fcntl
    import termios

    os.setsid()
    fcntl.ioctl(sub, termios.TIOCSCTTY, 0)


def test_item_12_a_terminal_that_closes_mid_run_keeps_the_export_and_finishes(tmp_path: Path) -> None:
    """A closed terminal is a hang-up, not a stop (issue 19): the run goes on detached, to
    the end, and still writes its export; the exit code is the run's own."""
    import pty
    import time

    db, out = tmp_path / "r.db", tmp_path / "out.csv"
    main, sub = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "jitscope.cli", "run", *SIX, "--db", str(db), "--csv", str(out)],
                            stdin=sub, stdout=sub, stderr=sub, env={**os.environ, "COLUMNS": "100"},
                            preexec_fn=lambda: _on_own_terminal(sub))
    os.close(sub)
    seen = b""
    deadline = time.monotonic() + 240
    while b" median " not in seen and time.monotonic() < deadline:  # the first cell finished
        seen += os.read(main, 65536)
    os.close(main)  # the terminal window closes
    assert proc.wait(timeout=240) == 0
    rows = _csv_rows(out)
    assert [r["status"] for r in rows] == ["ok"] * 6
    assert _runs(db) == [("finished", 6)]


def test_item_12_a_pipe_closed_by_head_costs_neither_cells_nor_export(tmp_path: Path) -> None:
    db, out = tmp_path / "r.db", tmp_path / "out.csv"
    args = " ".join(["run", *SIX, "--db", str(db), "--csv", str(out)])
    proc = subprocess.run(["bash", "-c", f'"{sys.executable}" -m jitscope.cli {args} | head -2; echo "code=${{PIPESTATUS[0]}}"'],
                          capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert "code=0" in proc.stdout, proc.stdout + proc.stderr  # the run's own code: every cell ok
    assert "Traceback" not in proc.stderr and "Exception ignored" not in proc.stderr, proc.stderr
    assert [r["status"] for r in _csv_rows(out)] == ["ok"] * 6
    assert _runs(db) == [("finished", 6)]


# ---- 6. a disk that fills mid-run ----------------------------------------------------------------
TWELVE = ["-w", "mcpi", "-b", "numpy", "-s", ",".join(str(1000 * i) for i in range(1, 13)), "--budget", "0.02", "--no-plot"]


@pytest.fixture
def small_disk(tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    """A tmpfs of the size the test names (we are root in CI); skipped where mount is refused."""
    mount = tmp_path / "small"
    mount.mkdir()
    size = request.param
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)], capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {proc.stderr.strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def _measured_sizes(path: Path) -> set[str]:
    return {r["size"] for r in _csv_rows(path) if r["status"] == "ok"}


def _stopped_after(stderr: str) -> int:
    import re

    found = re.search(r"the sweep stopped after (\d+) of 12 cells", stderr)
    assert found, stderr
    return int(found.group(1))


@pytest.mark.parametrize("small_disk", ["240k"], indirect=True)
def test_item_6_disk_full_with_the_csv_on_it_keeps_every_measured_cell_and_a_true_state(small_disk: Path, tmp_path: Path) -> None:
    db, out = small_disk / "db.sqlite", small_disk / "out.csv"
    proc = jitscope("run", *TWELVE, "--db", str(db), "--csv", str(out), env={"TMPDIR": str(tmp_path)})
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert f"the disk holding {db} is full" in proc.stderr
    finished = _stopped_after(proc.stderr)
    assert 1 <= finished < 12
    with Store(db, create=False) as store:
        run = store.runs()[0]
        in_db = {str(c.spec.size) for c in store.cells(run.id) if c.status.value == "ok"}
    assert run.state == "interrupted"  # not `abandoned`: the reserve let the run record its end
    kept = set(in_db)
    for recovered in tmp_path.glob("jitscope-run-*-recovered-*.csv"):
        assert str(recovered) in proc.stderr  # a recovery file is named in the message
        kept |= _measured_sizes(recovered)
    if out.exists():
        kept |= _measured_sizes(out)
    assert len(kept) == finished  # every measured cell is somewhere


@pytest.mark.parametrize("small_disk", ["120k"], indirect=True)
def test_item_6_a_cell_the_database_refuses_is_in_the_export_on_another_disk(small_disk: Path, tmp_path: Path) -> None:
    db, out = small_disk / "db.sqlite", tmp_path / "out.csv"  # too small even for the reserve
    proc = jitscope("run", *TWELVE, "--db", str(db), "--csv", str(out), env={"TMPDIR": str(tmp_path)})
    assert proc.returncode == 2, proc.stdout + proc.stderr
    finished = _stopped_after(proc.stderr)
    assert "not saved in the database but measured: mcpi numpy float64 size=" in proc.stderr
    assert f"written to {out}" in proc.stderr
    with Store(db, create=False) as store:
        in_db = {str(c.spec.size) for c in store.cells(store.runs()[0].id) if c.status.value == "ok"}
    exported = _measured_sizes(out)
    assert len(exported) == finished and in_db < exported  # the refused cell is in the export


@pytest.mark.parametrize("small_disk", ["120k"], indirect=True)
def test_item_6_a_refused_cell_with_no_export_goes_to_a_named_recovery_file(small_disk: Path, tmp_path: Path) -> None:
    db = small_disk / "db.sqlite"
    proc = jitscope("run", *TWELVE, "--db", str(db), env={"TMPDIR": str(tmp_path)})
    assert proc.returncode == 2, proc.stdout + proc.stderr
    finished = _stopped_after(proc.stderr)
    [recovered] = tmp_path.glob("jitscope-run-1-recovered-*.csv")
    assert f"written to {recovered}" in proc.stderr
    assert len(_measured_sizes(recovered)) == finished
