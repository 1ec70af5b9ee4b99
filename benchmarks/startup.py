"""What does a ``jitscope`` process cost before it does real work? CPU seconds (user + sys of
the process and every process it waited for) of a few commands and of a bare worker.

    python benchmarks/startup.py [--repeats 7] [--only NAME ...]

CPU, not wall time: on a shared box wall time measures the neighbours. Each command runs
``--repeats`` times in a fresh interpreter (``python -m ...``, as the test suite and the
supervisor start them) on a fresh database in a temporary folder; the median, min and max are
printed. A worker with no cells pays what every worker pays before its first cell (the
interpreter, the registry, the backend's import and the harness floor); with one small mcpi
cell, what a light worker of the test suite costs.
Compile the bytecode first (``python -m compileall -q jitscope``) where
``PYTHONDONTWRITEBYTECODE`` is set, or every process compiles jitscope from source.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

RUN = ["run", "-w", "mcpi", "-s", "1000", "--budget", "0.05", "--no-plot"]


def cpu_of(argv: list[str], env: dict[str, str], cwd: Path, pass_fds: tuple[int, ...] = ()) -> float:
    """User + sys CPU seconds of one process and the children it reaped (``os.wait4``)."""
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env=env, cwd=cwd, pass_fds=pass_fds)
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}: {err.decode(errors='replace')[-2000:]}")
    return usage.ru_utime + usage.ru_stime


def jitscope(*args: str) -> Callable[[dict[str, str], Path], float]:
    def measure(env: dict[str, str], folder: Path) -> float:
        db = ["--db", str(folder / "runs.sqlite")] if args and args[0] == "run" else []
        return cpu_of([sys.executable, "-m", "jitscope.cli", *args, *db], env, folder)
    return measure


def worker(backend: str, cells: int) -> Callable[[dict[str, str], Path], float]:
    """A worker as the supervisor starts it (runner/supervisor.py spawn_worker), on a job of
    ``cells`` mcpi cells (size 1000, 0.05 s budget) or none; its protocol channel is read
    after it exits (a few small messages fit a pipe)."""
    def measure(env: dict[str, str], folder: Path) -> float:
        spec = {"workload": "mcpi", "backend": backend, "variant": "default", "device": "cpu", "dtype": "float64",
                "size": 1000, "params": {}, "budget_s": 0.05, "timeout_s": 120.0, "threads": None, "seed": 12345}
        job = folder / "job.json"
        job.write_text(json.dumps({"parent_pid": os.getpid(), "spawned_at": time.time(), "backend": backend,
                                   "device": "cpu", "threads": None, "workload_files": [],
                                   "cells": [{"index": i, "spec": spec} for i in range(cells)]}))
        read_fd, write_fd = os.pipe()
        try:
            seconds = cpu_of([sys.executable, "-m", "jitscope.runner.child", str(job), "--channel-fd", str(write_fd)],
                             env, folder, pass_fds=(write_fd,))
        finally:
            os.close(write_fd)
        with os.fdopen(read_fd, "rb") as channel:
            if b'"bye"' not in channel.read():
                raise RuntimeError(f"the {backend} worker said no bye")
        return seconds
    return measure


COMMANDS: dict[str, Callable[[dict[str, str], Path], float]] = {
    "jitscope --version": jitscope("--version"),
    "jitscope --help": jitscope("--help"),
    "jitscope run ... -b python (parent + worker)": jitscope(*RUN, "-b", "python"),
    "jitscope run ... -b python,numpy (parent + 2 workers)": jitscope(*RUN, "-b", "python,numpy"),
    "worker python (no cells)": worker("python", 0),
    "worker python (one mcpi cell)": worker("python", 1),
    "worker numpy (no cells)": worker("numpy", 0),
    "worker numpy (one mcpi cell)": worker("numpy", 1),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--only", nargs="*", help="substrings of the command names to run")
    args = parser.parse_args()
    env = {**os.environ, "COLUMNS": "120"}
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}; "
          f"CPU seconds (user + sys), {args.repeats} runs each")
    for name, measure in COMMANDS.items():
        if args.only and not any(part in name for part in args.only):
            continue
        samples = []
        for _ in range(args.repeats):
            with tempfile.TemporaryDirectory(prefix="jitscope-startup-") as tmp:
                samples.append(measure({**env, "HOME": tmp, "JITSCOPE_HOME": tmp,
                                              "JITSCOPE_TIMING_LOCK": f"{tmp}/timing.lock"}, Path(tmp)))
        print(f"{name:55s} median {statistics.median(samples):.3f}  "
              f"(min {min(samples):.3f}, max {max(samples):.3f})", flush=True)
    print(f"load at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
