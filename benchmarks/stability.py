"""Tuning the stability flag: quiet cells vs cells disturbed by a competing CPU-bound process.

For a few cells it prints, per repeat, three candidate measures of instability:
IQR/median (the old rule), the 95% CI width of the median over the median, and the shift
between the first and the second half's medians (drift). Run it on the machine you tune for:

    python benchmarks/stability.py [--repeats 3] [--budget 1.0]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys

from jitscope.core.model import CellSpec
from jitscope.core.registry import load_registry
from jitscope.core.stats import instability
from jitscope.runner.events import CellFinished
from jitscope.runner.plan import Plan
from jitscope.runner.supervisor import Supervisor

CELLS = [("linreg", "numpy", 100), ("lu", "numpy", 256), ("mcpi", "numpy", 1_000_000)]


def measure(budget: float) -> list[tuple[str, list[float]]]:
    cells = [CellSpec(w, b, "default", "cpu", "float64", n, budget_s=budget) for w, b, n in CELLS]
    out = []
    for event in Supervisor(Plan(cells=cells), load_registry(), lock_path=None).run():
        if isinstance(event, CellFinished) and event.result.raw_samples:
            out.append((event.result.spec.key, list(event.result.raw_samples)))
    return out


def hog(cores: int) -> list[subprocess.Popen[bytes]]:
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(cores)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--budget", type=float, default=1.0)
    args = parser.parse_args()
    print(f"{'condition':<10} {'cell':<42} {'IQR/med':>8} {'CIw/med':>8} {'drift':>7} {'n':>4}")
    for condition in ("quiet", "disturbed"):
        for _ in range(args.repeats):
            hogs = hog(2) if condition == "disturbed" else []
            try:
                for key, samples in measure(args.budget):
                    m = instability(samples)
                    iqr = statistics.quantiles(samples, n=4)
                    print(f"{condition:<10} {key[:42]:<42} {(iqr[2] - iqr[0]) / statistics.median(samples):8.3f} "
                          f"{m.ci_width:8.3f} {m.drift:7.3f} {len(samples):4d}")
            finally:
                for p in hogs:
                    p.kill()


if __name__ == "__main__":
    main()
