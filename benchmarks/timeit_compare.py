"""Does jitscope's median agree with timeit on the same kernel? Prints the ratio (~1 is good).

    python benchmarks/timeit_compare.py [--size 100000] [--budget 2]

The kernel is the example plugin's NumPy dot product (examples/dot_workload.py): jitscope
measures it through the whole engine (worker process, protocol, calibration); timeit measures
``a @ b`` on the same inputs in this process with autorange + repeat, median of the repeats.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import timeit
from pathlib import Path

# One BLAS thread on both sides, set before NumPy loads, so both measure the same thing.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from jitscope.core.model import Status  # noqa: E402
from jitscope.core.registry import load_registry  # noqa: E402
from jitscope.runner.events import CellFinished  # noqa: E402
from jitscope.runner.plan import Selection, build_plan  # noqa: E402
from jitscope.runner.supervisor import Supervisor  # noqa: E402

EXAMPLE = str(ROOT / "examples" / "dot_workload.py")


def jitscope_median(size: int, budget: float) -> float:
    registry = load_registry([EXAMPLE])
    plan = build_plan(registry, Selection(workloads=["dot"], backends=[("numpy", None)], sizes=[size], budget_s=budget, threads=1))
    results = [e.result for e in Supervisor(plan, registry).run() if isinstance(e, CellFinished)]
    assert results and results[0].status == Status.OK, results
    assert results[0].stats is not None
    return results[0].stats.median


def timeit_median(size: int, budget: float) -> float:
    registry = load_registry([EXAMPLE])
    inputs = registry.workload("dot").make_inputs(size, {}, 12345)
    a, b = inputs["a"], inputs["b"]
    timer = timeit.Timer(lambda: a @ b)
    loops, elapsed = timer.autorange()
    repeats = max(5, int(budget / max(elapsed, 1e-9)))
    per_call = [t / loops for t in timer.repeat(repeat=min(repeats, 200), number=loops)]
    return statistics.median(per_call)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--budget", type=float, default=2.0)
    args = parser.parse_args()
    js = jitscope_median(args.size, args.budget)
    ti = timeit_median(args.size, args.budget)
    print(f"kernel: numpy a @ b, n={args.size}, 1 BLAS thread")
    print(f"jitscope median: {js * 1e6:10.3f} us")
    print(f"timeit   median: {ti * 1e6:10.3f} us")
    print(f"ratio jitscope/timeit: {js / ti:.3f}  (close to 1 means the engine adds no bias)")


if __name__ == "__main__":
    main()
