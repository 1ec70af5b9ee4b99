"""A shared machine: another user's files never hang, crash or redirect a run, the timing lock
is one for the whole machine whatever TMPDIR says, a chatty kernel cannot fill the temp
folder, and a worker that dies or cannot start is a cell with a reason, at once (issue 17).

Each test goes through the real command. The second-user tests create a throwaway user
(``useradd``; we are root in CI) and act as that user with ``runuser``.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_support import jitscope, pids_alive, wait_until
from conftest import ROOT

RUN = ("run", "-w", "mcpi", "-b", "numpy", "-s", "1000", "--budget", "0.05", "--no-plot")
FALLBACK = "timing without machine-wide exclusion"

# These tests take (or squat) the real machine-wide lock name, which is one per machine: under
# xdist they share one worker, so no two of them hold it at once.
pytestmark = pytest.mark.xdist_group("machine-lock")
HANG_GUARD_S = 90  # a run that hangs fails the test here instead of blocking the suite


def _csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open() as fh:
        return list(csv.DictReader(fh))


def _no_traceback(proc: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr


class Lines:
    """A background process's output, read line by line in a thread (to wait for one)."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    def wait_for(self, needle: str, timeout: float = 60) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(needle in line for line in self.lines):
                return True
            if self.proc.poll() is not None and not self._thread.is_alive():
                return any(needle in line for line in self.lines)
            time.sleep(0.05)
        return False

    def finish(self, timeout: float = HANG_GUARD_S) -> str:
        try:
            self.proc.wait(timeout=timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        self._thread.join(timeout=5)
        return "".join(self.lines)


def _background(argv: list[str], env: dict[str, str]) -> Lines:
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            stdin=subprocess.DEVNULL, env=env)
    return Lines(proc)


HELD_KERNEL = """
    import os
    import time
    import jitscope

    held = jitscope.workload("held", inputs=lambda n, rng: {"x": rng.random(n)}, sizes=(100,))

    @held.reference
    def _(x):
        return x.sum()

    @held.kernel("numpy")
    def _(x):
        deadline = time.time() + 60      # holds the timing lock until the test says so
        while not os.path.exists(RELEASE) and time.time() < deadline:
            time.sleep(0.02)
        return x.sum()
"""


def _held_kernel(folder: Path, release: Path) -> Path:
    path = folder / "held.py"
    path.write_text(textwrap.dedent(HELD_KERNEL).replace("RELEASE", repr(str(release))))
    path.chmod(0o644)
    return path


# ---- 1-3. whatever sits at the lock's name, a run neither hangs nor fails nor follows it ----------
def _squat(kind: str, path: Path, victim: Path) -> None:
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "directory":
        path.mkdir()
    elif kind == "unreadable file":
        path.write_text("")
        path.chmod(0)
    else:
        path.symlink_to(victim)


@pytest.mark.parametrize(("kind", "said"), [
    ("fifo", "is a FIFO"),
    ("directory", "is a directory"),
    ("unreadable file", "permission denied"),
    ("dangling symlink", "symbolic link"),
])
def test_anything_but_a_lock_file_at_the_lock_path_is_one_line_and_a_labelled_run(tmp_path: Path, kind: str, said: str) -> None:
    lock, victim = tmp_path / "jitscope-timing.lock", tmp_path / "etc" / "victim"
    victim.parent.mkdir()
    _squat(kind, lock, victim)
    db, out = tmp_path / "db.sqlite", tmp_path / "out.csv"
    proc = jitscope(*RUN, "--db", str(db), "--csv", str(out), env={"JITSCOPE_TIMING_LOCK": str(lock)},
                    timeout=HANG_GUARD_S, obey_permissions=kind == "unreadable file", columns=1000)
    _no_traceback(proc)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    said_lines = [line for line in (proc.stdout + proc.stderr).splitlines() if FALLBACK in line]
    assert len(said_lines) == 1 and said in said_lines[0] and "JITSCOPE_TIMING_LOCK" in said_lines[0], proc.stdout
    assert not victim.exists() and not os.path.lexists(victim)  # root did not follow the link
    [row] = _csv_rows(out)
    assert row["status"] == "ok" and "timed without machine-wide exclusion (per-user lock)" in row["note"]
    history = jitscope("history", "--db", str(db))
    assert "finished (per-user lock)" in history.stdout, history.stdout


def test_a_fifo_where_the_old_lock_file_was_changes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``mkfifo $TMPDIR/jitscope-timing.lock`` hung every run; the lock is no file there now."""
    monkeypatch.delenv("JITSCOPE_TIMING_LOCK", raising=False)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    os.mkfifo(tmp / "jitscope-timing.lock")
    proc = jitscope(*RUN, "--db", str(tmp_path / "db.sqlite"), env={"TMPDIR": str(tmp)}, timeout=HANG_GUARD_S, columns=1000)
    _no_traceback(proc)
    assert proc.returncode == 0 and FALLBACK not in proc.stdout, proc.stdout


def test_root_never_follows_a_symlink_at_the_lock_path_to_an_existing_file(tmp_path: Path) -> None:
    target = tmp_path / "passwd"
    target.write_text("root:x:0:0\n")
    target.chmod(0o644)
    lock = tmp_path / "jitscope-timing.lock"
    lock.symlink_to(target)
    proc = jitscope(*RUN, "--db", str(tmp_path / "db.sqlite"), env={"JITSCOPE_TIMING_LOCK": str(lock)},
                    timeout=HANG_GUARD_S, columns=1000)
    _no_traceback(proc)
    assert proc.returncode == 0 and "is a symbolic link (not followed)" in proc.stdout, proc.stdout
    assert target.stat().st_mode & 0o777 == 0o644 and target.read_text() == "root:x:0:0\n"


def test_a_lock_file_we_create_is_a_regular_file_every_user_can_open(tmp_path: Path) -> None:
    lock = tmp_path / "shared.lock"
    proc = jitscope(*RUN, "--db", str(tmp_path / "db.sqlite"), env={"JITSCOPE_TIMING_LOCK": str(lock)},
                    timeout=HANG_GUARD_S, columns=1000)
    assert proc.returncode == 0 and FALLBACK not in proc.stdout, proc.stdout
    assert lock.is_file() and not lock.is_symlink() and lock.stat().st_mode & 0o777 == 0o666


# ---- 4. one lock whatever TMPDIR says -------------------------------------------------------------
def test_two_runs_with_different_tmpdirs_still_take_turns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JITSCOPE_TIMING_LOCK", raising=False)
    release = tmp_path / "release"
    kernel = _held_kernel(tmp_path, release)
    tmp_a, tmp_b = tmp_path / "tmp-a", tmp_path / "tmp-b"
    tmp_a.mkdir()
    tmp_b.mkdir()
    base = {**os.environ, "COLUMNS": "1000"}
    holder = _background([sys.executable, "-m", "jitscope.cli", "run", "-w", str(kernel), "-b", "numpy", "--budget", "0.05",
                          "--no-plot", "--db", str(tmp_path / "a.sqlite")], {**base, "TMPDIR": str(tmp_a)})
    try:
        assert holder.wait_for("ready on cpu"), holder.lines
        second = _background([sys.executable, "-m", "jitscope.cli", *RUN, "--db", str(tmp_path / "b.sqlite")],
                             {**base, "TMPDIR": str(tmp_b)})
        waited = second.wait_for("waiting for it", timeout=30)
        release.touch()
        out = second.finish()
        assert waited, out
        assert "another jitscope is timing" in out and "ok" in out
    finally:
        release.touch()
        assert holder.finish() and holder.proc.returncode == 0, holder.lines


def test_a_squatter_on_the_lock_name_is_named_with_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Any user can bind the socket's name without being a jitscope: we wait (it may be one
    starting), but say what it looks like and what to do."""
    monkeypatch.delenv("JITSCOPE_TIMING_LOCK", raising=False)
    release = tmp_path / "release"
    squatter = _background([sys.executable, "-c", textwrap.dedent(f"""
        import os, socket, time
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind("\\0jitscope-timing")
        print("bound", flush=True)
        deadline = time.time() + 60
        while not os.path.exists({str(release)!r}) and time.time() < deadline:
            time.sleep(0.05)
    """)], dict(os.environ))
    try:
        assert squatter.wait_for("bound"), squatter.lines
        run = _background([sys.executable, "-m", "jitscope.cli", *RUN, "--db", str(tmp_path / "db.sqlite")],
                          {**os.environ, "COLUMNS": "1000"})
        waited = run.wait_for("waiting for it", timeout=30)
        release.touch()
        out = run.finish()
        assert waited, out
        assert "held by a process that does not listen on it" in out and "JITSCOPE_TIMING_LOCK=FILE" in out, out
        assert run.proc.returncode == 0, out
    finally:
        release.touch()
        squatter.finish()


# ---- 5. a chatty kernel on a small temp folder --------------------------------------------------------
CHATTY = """
    import os
    import sys
    import jitscope

    chatty = jitscope.workload("chatty", inputs=lambda n, rng: {"x": rng.random(n)}, sizes=(100,))
    BLOCK = b"x" * 1_000_000 + b"\\n"

    @chatty.reference
    def _(x):
        return x.sum()

    @chatty.kernel("numpy")
    def _(x):
        for _ in range(10):              # 10 MB to stdout and 10 MB to stderr per call
            os.write(1, BLOCK)
            sys.stderr.write("e" * 1_000_000 + "\\n")
        return x.sum()
"""


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "small-tmp"
    mount.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=20m", "tmpfs", str(mount)], capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {proc.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def test_a_chatty_kernel_never_fills_a_small_temp_folder(tmp_path: Path, small_tmpfs: Path) -> None:
    kernel = tmp_path / "chatty.py"
    kernel.write_text(textwrap.dedent(CHATTY))
    out = tmp_path / "out.csv"
    proc = jitscope("run", "-w", str(kernel), "-b", "numpy", "--budget", "0.05", "--no-plot", "--db", str(tmp_path / "db.sqlite"),
                    "--csv", str(out), env={"TMPDIR": str(small_tmpfs)}, timeout=300)
    _no_traceback(proc)
    [row] = _csv_rows(out)
    assert row["status"] == "ok", row["reason"]
    assert proc.returncode == 0
    assert shutil.disk_usage(small_tmpfs).used < 1_000_000


# ---- 13. a worker that cannot start ----------------------------------------------------------------
def test_too_few_file_descriptors_is_a_reason_per_cell_not_a_traceback(tmp_path: Path) -> None:
    db = tmp_path / "db.sqlite"
    cmd = " ".join([sys.executable, "-m", "jitscope.cli", *RUN, "-b", "numpy,python", "--db", str(db)])
    proc = subprocess.run(["bash", "-c", f"ulimit -n 12; exec {cmd}"], capture_output=True, text=True, timeout=HANG_GUARD_S,
                          stdin=subprocess.DEVNULL, env={**os.environ, "COLUMNS": "1000"})
    _no_traceback(proc)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    said = "could not start a worker: Too many open files (raise the limit: ulimit -n)"
    for backend in ("numpy", "python"):
        assert any(f"failed mcpi {backend}" in line and said in line for line in proc.stdout.splitlines()), proc.stdout
    history = jitscope("history", "--db", str(db))
    assert " finished " in history.stdout and "0/2" in history.stdout, history.stdout


def test_a_temp_folder_out_of_inodes_is_a_reason_per_cell_not_a_traceback(tmp_path: Path) -> None:
    mount = tmp_path / "no-inodes"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,nr_inodes=8", "tmpfs", str(mount)], capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {made.stderr.strip()}")
    try:
        made_files = []
        for i in range(100):
            try:
                (mount / f"f{i}").touch()
            except OSError:
                break
            made_files.append(mount / f"f{i}")
        made_files[-1].unlink()  # one inode left: Python still takes TMPDIR, the worker's folder takes the last
        db = tmp_path / "db.sqlite"
        proc = jitscope(*RUN, "--db", str(db), env={"TMPDIR": str(mount)}, timeout=HANG_GUARD_S)
        _no_traceback(proc)
        assert proc.returncode == 1, proc.stdout + proc.stderr
        assert "could not start a worker: No space left on device in the temp folder" in proc.stdout, proc.stdout
        assert " finished " in jitscope("history", "--db", str(db)).stdout
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


# ---- 14. a kernel that forks and exits ---------------------------------------------------------------
FORKER = """
    import os
    import time
    import jitscope

    forker = jitscope.workload("forker", inputs=lambda n, rng: {"x": rng.random(n)}, sizes=(100,))

    @forker.reference
    def _(x):
        return x.sum()

    @forker.kernel("numpy")
    def _(x):
        if os.fork():
            while not os.path.exists(PIDFILE):
                time.sleep(0.01)
            os._exit(3)                  # the worker dies...
        with open(PIDFILE + ".new", "w") as fh:
            fh.write(str(os.getpid()))
        os.rename(PIDFILE + ".new", PIDFILE)
        time.sleep(600)                  # ...its child lives on, holding the worker's pipes
"""


def test_a_kernel_that_forks_and_exits_is_crashed_at_once_and_its_child_is_killed(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    kernel = tmp_path / "forker.py"
    kernel.write_text(textwrap.dedent(FORKER).replace("PIDFILE", repr(str(pidfile))))
    out = tmp_path / "out.csv"
    # --timeout far above the guard: a run that waits for it fails here
    proc = jitscope("run", "-w", str(kernel), "-b", "numpy", "--budget", "0.05", "--timeout", "600", "--no-plot",
                    "--db", str(tmp_path / "db.sqlite"), "--csv", str(out), timeout=HANG_GUARD_S)
    [row] = _csv_rows(out)
    assert row["status"] == "crashed" and "worker exited with code 3" in row["reason"], row
    deadline = time.monotonic() + 10
    while pids_alive([int(pidfile.read_text())]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not pids_alive([int(pidfile.read_text())])
    assert proc.returncode == 1


# ---- 15. a plugin that hangs while the worker loads it ----------------------------------------------
def test_a_plugin_that_hangs_in_the_worker_is_bounded_by_the_timeout(tmp_path: Path) -> None:
    plugin = tmp_path / "slow_plugin.py"
    plugin.write_text(textwrap.dedent("""
        import os
        import time
        import jitscope

        if os.environ.get("JITSCOPE_CHANNEL_FD"):   # only in the worker
            time.sleep(600)

        w = jitscope.workload("slowload", inputs=lambda n, rng: {"x": rng.random(n)}, sizes=(100,))

        @w.reference
        def _(x):
            return x.sum()

        @w.kernel("numpy")
        def _(x):
            return x.sum()
    """))
    out = tmp_path / "out.csv"
    proc = jitscope("run", "-w", str(plugin), "-b", "numpy", "--budget", "0.05", "--timeout", "3", "--no-plot",
                    "--db", str(tmp_path / "db.sqlite"), "--csv", str(out), timeout=HANG_GUARD_S)
    [row] = _csv_rows(out)
    assert row["status"] == "failed" and "worker did not start within 3 s" in row["reason"], row
    assert proc.returncode == 1


# ---- a second user, for real -------------------------------------------------------------------------
@pytest.fixture
def other_user() -> Iterator[str]:
    if os.geteuid() != 0 or not shutil.which("useradd") or not shutil.which("runuser"):
        pytest.skip("acting as a second user needs root, useradd and runuser")
    name = f"jsx{os.getpid() % 100000}"
    made = subprocess.run(["useradd", "-M", "-s", "/bin/sh", name], capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"useradd refused: {made.stderr.strip()}")
    try:
        yield name
    finally:
        subprocess.run(["userdel", name], capture_output=True)


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A sticky world-writable folder, like /tmp (tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="jitscope-shared-"))
    path.chmod(0o1777)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _python_for(user: str) -> list[str]:
    """Our interpreter as ``user`` can run it (same version, our packages on PYTHONPATH)."""
    ours = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    paths = [*ours, str(ROOT), *(p for p in sys.path if p.endswith("site-packages"))]
    version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    for candidate in (sys.executable, *(f"{folder}/{version}" for folder in ("/usr/local/bin", "/usr/bin"))):
        argv = ["runuser", "-u", user, "--", "env", f"PYTHONPATH={os.pathsep.join(paths)}", candidate]
        probe = subprocess.run([*argv, "-c", "import jitscope.cli, numpy"], capture_output=True, text=True)
        if probe.returncode == 0:
            return argv
    pytest.skip(f"no Python {sys.version_info[0]}.{sys.version_info[1]} with our packages that {user} can run")


def _user_home(user: str, parent: Path) -> Path:
    home = parent / user
    home.mkdir()
    shutil.chown(home, user)
    return home


def test_another_user_timing_makes_us_wait_and_is_named(tmp_path: Path, other_user: str, shared_tmp: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JITSCOPE_TIMING_LOCK", raising=False)
    theirs = _user_home(other_user, shared_tmp)
    release = shared_tmp / "release"
    kernel = _held_kernel(theirs, release)
    argv = [*_python_for(other_user), "-m", "jitscope.cli", "run", "-w", str(kernel), "-b", "numpy", "--budget", "0.05",
            "--no-plot", "--db", str(theirs / "db.sqlite")]
    env = {**os.environ, "COLUMNS": "1000"}
    argv[5:5] = [f"JITSCOPE_HOME={theirs / 'home'}", f"TMPDIR={theirs}"]  # after runuser ... env
    holder = _background(argv, env)
    try:
        assert holder.wait_for("ready on cpu"), holder.lines
        second = _background([sys.executable, "-m", "jitscope.cli", *RUN, "--db", str(tmp_path / "db.sqlite")], env)
        waited = second.wait_for("waiting for it", timeout=30)
        release.touch()
        out = second.finish()
        assert waited and f"of user {other_user}" in out, out
    finally:
        release.touch()
        holder.finish()
    assert holder.proc.returncode == 0, holder.lines


def test_another_users_fifo_in_a_sticky_folder_neither_hangs_nor_fails_us(tmp_path: Path, other_user: str,
                                                                          shared_tmp: Path) -> None:
    lock = shared_tmp / "jitscope-timing.lock"
    subprocess.run(["runuser", "-u", other_user, "--", "mkfifo", str(lock)], check=True)
    proc = jitscope(*RUN, "--db", str(tmp_path / "db.sqlite"), env={"JITSCOPE_TIMING_LOCK": str(lock)},
                    timeout=HANG_GUARD_S, columns=1000)
    _no_traceback(proc)
    assert proc.returncode == 0 and FALLBACK in proc.stdout and "is a FIFO" in proc.stdout, proc.stdout


def test_a_root_owned_unreadable_lock_file_is_one_line_for_another_user(other_user: str, shared_tmp: Path) -> None:
    lock = shared_tmp / "jitscope-timing.lock"
    lock.write_text("")
    lock.chmod(0)
    theirs = _user_home(other_user, shared_tmp)
    argv = [*_python_for(other_user), "-m", "jitscope.cli", *RUN, "--db", str(theirs / "db.sqlite")]
    argv[5:5] = [f"JITSCOPE_HOME={theirs / 'home'}", f"TMPDIR={theirs}", f"JITSCOPE_TIMING_LOCK={lock}", "COLUMNS=1000"]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=HANG_GUARD_S, stdin=subprocess.DEVNULL)
    _no_traceback(proc)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert FALLBACK in proc.stdout and "permission denied" in proc.stdout, proc.stdout


# ---- 5. the log keeps its head and tail, and frees the middle ------------------------------------------
@pytest.mark.parametrize("kind", ["memory", "pipe"])
def test_a_worker_log_keeps_the_head_and_the_tail_and_frees_the_rest(kind: str) -> None:
    from jitscope.runner.worker_log import KEEP_BYTES, MemoryLog, PipeLog

    if kind == "memory" and not hasattr(os, "memfd_create"):
        pytest.skip("no memfd on this system")
    log = MemoryLog.open() if kind == "memory" else PipeLog.open()
    assert log.write_fd is not None
    fd = os.dup(log.write_fd)  # the worker's copy
    log.close_write_end()
    try:
        os.write(fd, b"first line\n")
        for _ in range(20):
            os.write(fd, b"." * 999_999 + b"\n")
        if isinstance(log, MemoryLog):  # the middle is freed, within a few trimming passes
            memfd = log._fd
            assert memfd is not None
            wait_until(lambda: os.fstat(memfd).st_blocks * 512 < 4 * 2**20, 10, "the log's middle freed")
        os.write(fd, b"last line\n")
    finally:
        os.close(fd)
    log.close()
    head, tail, dropped = log.kept()
    assert head.startswith(b"first line\n") and len(head) == KEEP_BYTES
    assert tail.endswith(b"last line\n") and len(tail) == KEEP_BYTES
    assert dropped == 11 + 20 * 1_000_000 + 10 - 2 * KEEP_BYTES
    assert log.tail().endswith("last line") and "bytes of output not kept" in log.text()
