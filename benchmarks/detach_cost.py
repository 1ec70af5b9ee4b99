"""What does detaching cost? Time from typing the command to the first finished cell on screen,
for a foreground ``jitscope run`` and for ``jitscope run --detach`` followed at once by
``jitscope attach`` (the daemon's own start plus a viewer's start and its polling).

    python benchmarks/detach_cost.py [--repeats 5]

Each repeat uses a fresh database in a temporary folder and the same tiny plan (one
``mcpi`` cell on the pure-Python backend, 0.05 s of sampling), so what is measured is the
start-up path, not the kernel. Prints the median and range of each, and their difference.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PLAN = ["-w", "mcpi", "-b", "python", "-s", "100", "--budget", "0.05", "--no-plot"]
CELL_LINE = "ok mcpi python"


def _jitscope(*args: str) -> list[str]:
    return [sys.executable, "-m", "jitscope.cli", *args]


def _until_first_cell(proc: subprocess.Popen[str], t0: float) -> float:
    assert proc.stdout is not None
    for line in proc.stdout:
        if CELL_LINE in line:
            seconds = time.perf_counter() - t0
            proc.communicate(timeout=120)
            return seconds
    raise RuntimeError(f"no cell line from {proc.args}")


def foreground(folder: Path, env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    proc = subprocess.Popen(_jitscope("run", *PLAN, "--db", str(folder / "fg.sqlite")), stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, env=env)
    return _until_first_cell(proc, t0)


def detached(folder: Path, env: dict[str, str]) -> float:
    db = str(folder / "bg.sqlite")
    t0 = time.perf_counter()
    subprocess.run(_jitscope("run", *PLAN, "--db", db, "--detach"), check=True, capture_output=True, env=env)
    proc = subprocess.Popen(_jitscope("attach", "--db", db), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True, env=env)
    return _until_first_cell(proc, t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    times: dict[str, list[float]] = {"foreground": [], "detach+attach": []}
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory() as tmp:
            env = {**os.environ, "JITSCOPE_HOME": str(Path(tmp) / "home"), "COLUMNS": "120"}
            times["foreground"].append(foreground(Path(tmp), env))
            times["detach+attach"].append(detached(Path(tmp), env))
    for name, values in times.items():
        print(f"{name:>14}: median {statistics.median(values):.2f} s  (min {min(values):.2f}, max {max(values):.2f}, "
              f"{len(values)} runs)")
    diff = statistics.median(times["detach+attach"]) - statistics.median(times["foreground"])
    print(f"{'detaching costs':>14}: {diff:+.2f} s to the first cell")


if __name__ == "__main__":
    main()
