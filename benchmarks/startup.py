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
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

RUN = ["run", "-w", "mcpi", "-s", "1000", "--budget", "0.05", "--no-plot"]


def reap(proc: subprocess.Popen[bytes]) -> float:
    """Wait for ``proc``; its user + sys CPU seconds and those of the children it reaped
    (``os.wait4``), its return code set as ``wait()`` would."""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return usage.ru_utime + usage.ru_stime


def cpu_of(argv: list[str], env: dict[str, str], cwd: Path, pass_fds: tuple[int, ...] = ()) -> float:
    """User + sys CPU seconds of one process and the children it reaped (``os.wait4``)."""
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env=env, cwd=cwd, pass_fds=pass_fds)
    assert proc.stderr is not None
    err = proc.stderr.read()
    cpu = reap(proc)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}: {err.decode(errors='replace')[-2000:]}")
    return cpu


def jitscope(*args: str) -> Callable[[dict[str, str], Path], float]:
    def measure(env: dict[str, str], folder: Path) -> float:
        db = ["--db", str(folder / "runs.sqlite")] if args and args[0] == "run" else []
        return cpu_of([sys.executable, "-m", "jitscope.cli", *args, *db], env, folder)
    return measure


def worker(backend: str, cells: int) -> Callable[[dict[str, str], Path], float]:
    """A worker started by the supervisor's own ``spawn_worker`` (its job file, environment
    and protocol pipe as in a run), on ``cells`` mcpi cells (size 1000, 0.05 s budget) or
    none; its channel is read until it closes, then the worker is reaped with its CPU."""
    def measure(env: dict[str, str], folder: Path) -> float:
        from jitscope.core.model import CellSpec
        from jitscope.runner.channel import ChannelReader
        from jitscope.runner.supervisor import spawn_worker

        spec = CellSpec("mcpi", backend, "default", "cpu", "float64", 1000, budget_s=0.05)
        saved = dict(os.environ)
        os.environ.update(env)  # spawn_worker gives the worker our environment
        try:
            proc, read_fd, log = spawn_worker(sys.executable, backend, "cpu", [(i, spec) for i in range(cells)], (),
                                              folder)
        finally:
            os.environ.clear()
            os.environ.update(saved)
        reader = ChannelReader(read_fd)
        messages: list[dict[str, object]] = []
        while not reader.closed:
            messages += reader.poll(1.0)
        reader.close()
        cpu = reap(proc)
        log.close()
        if proc.returncode != 0 or not any(m["type"] == "bye" for m in messages):
            raise RuntimeError(f"the {backend} worker exited {proc.returncode}: {log.tail()}")
        return cpu
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
