"""Running the real ``jitscope`` command in a subprocess, as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent
CHAOS = str(TESTS / "plugins" / "chaos_backend.py")


def jitscope(*args: str, timeout: float = 300, env: dict[str, str] | None = None,
             columns: int = 120, obey_permissions: bool = False,
             cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``obey_permissions``: when we are root, run without the capabilities that let root
    ignore file modes, so a 0444 file is read-only to the command as it is to a user."""
    full_env = {**os.environ, "COLUMNS": str(columns), **(env or {})}
    return subprocess.run([sys.executable, "-m", "jitscope.cli", *args], capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL, env=full_env, cwd=cwd,
                          preexec_fn=_drop_permission_overrides if obey_permissions else None)


# CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER (linux/capability.h); PR_CAPBSET_DROP.
_OVERRIDE_CAPS = (1, 2, 3)
_PR_CAPBSET_DROP = 24


def _drop_permission_overrides() -> None:
    """In the child before exec: take the file-permission overrides out of the bounding set,
    so even root's exec'd command gets none of them (as an ordinary user has none)."""
    if os.geteuid() != 0:
        return
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    for cap in _OVERRIDE_CAPS:
        if libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


def start_jitscope(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """The command in the background (for signals); its own session, like a terminal job."""
    full_env = {**os.environ, "COLUMNS": "120", **(env or {})}
    return subprocess.Popen([sys.executable, "-m", "jitscope.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL, env=full_env,
                            start_new_session=True)


def assert_clean_error(proc: subprocess.CompletedProcess[str], *needles: str) -> None:
    """Exit 2, no traceback, one short message that contains every needle."""
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    for needle in needles:
        assert needle in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) <= 3, proc.stderr


def pids_alive(pids: list[int]) -> list[int]:
    alive = []
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
                state = fh.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            alive.append(pid)
    return alive


def worker_pids() -> list[int]:
    """Every live ``jitscope.runner.child`` process on this machine started by this test run."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                cmd = fh.read().split(b"\0")
            with open(f"/proc/{entry}/environ", "rb") as fh:
                environ = fh.read()
        except OSError:
            continue
        if b"jitscope.runner.child" in cmd and os.environ.get("JITSCOPE_HOME", "").encode() in environ:
            pids.append(int(entry))
    return pids_alive(pids)


def run_json_cells(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> list[dict]:
    """``jitscope run ARGS --budget 0.05 --json out.json`` (its own database under tmp_path):
    the cells as the JSON export has them, after checking the command did not crash."""
    import json

    out = tmp_path / "out.json"
    proc = jitscope("run", *args, "--budget", "0.05", "--no-plot", "--db", str(tmp_path / "db.sqlite"),
                    "--json", str(out), env=env, timeout=900)
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    return list(json.loads(out.read_text())["cells"])
