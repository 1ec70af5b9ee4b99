"""Tuning the stability flag: quiet cells vs cells disturbed by competing CPU-bound processes.

Each cell runs in a real worker (the supervisor), under three conditions:

* ``quiet``: nothing of ours competes (on a shared machine other users may; the
  ``contention`` column says how quiet it really was);
* ``hogs``: one ``while True: pass`` process pinned to each core for the whole cell;
* ``bursts``: the same hogs, busy 0.15 s then idle 0.35 s, over and over (a competitor that
  comes and goes, e.g. another test suite).

Per cell it prints the measures the stability rule may use: IQR/median (the old rule), the
95% CI width of the median over the median, the drift between the two halves' medians, the
CPU use and the run-queue contention (jitscope.core.contention), then which parts of the
current rule (jitscope.core.stats) fired: ``ci``, ``drift``, ``cont``. Before each condition
it prints the machine's CPU pressure (``/proc/pressure/cpu``, "some avg10": the share of the
last 10 s in which some runnable task waited for a CPU), so "quiet" can be judged; at the end,
per condition, how many cells each rule flagged. Run it on the machine you tune for:

    python benchmarks/stability.py [--repeats 3] [--budget 1.0]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from collections import Counter

from jitscope.core.contention import cpu_pressure
from jitscope.core.model import CellResult, CellSpec
from jitscope.core.registry import load_registry
from jitscope.core.stats import instability
from jitscope.runner.events import CellFinished
from jitscope.runner.plan import Plan
from jitscope.runner.supervisor import Supervisor

# workload, backend, variant, size, threads (None: the libraries' own choice)
CELLS = [
    ("linreg", "numpy", "default", 100, None),
    ("lu", "numpy", "default", 256, None),
    ("mcpi", "numpy", "default", 1_000_000, None),
    ("mcpi", "python", "default", 20_000, None),
    ("mcpi", "numba", "parallel", 10_000_000, 2),  # two threads on two cores
]

_BURST = "import time\nwhile True:\n    t = time.time()\n    while time.time() - t < 0.15: pass\n    time.sleep(0.35)\n"
_HOG = "while True: pass"


def measure(budget: float) -> list[CellResult]:
    cells = [CellSpec(w, b, v, "cpu", "float64", n, budget_s=budget, threads=t) for w, b, v, n, t in CELLS]
    events = Supervisor(Plan(cells=cells), load_registry(), lock_path=None).run()
    return [e.result for e in events if isinstance(e, CellFinished) and e.result.raw_samples]


def competitors(condition: str) -> list[subprocess.Popen[bytes]]:
    if condition == "quiet":
        return []
    code = _HOG if condition == "hogs" else _BURST
    procs = []
    for core in sorted(os.sched_getaffinity(0)):
        procs.append(subprocess.Popen(["taskset", "-c", str(core), sys.executable, "-c", code]))
    return procs


def fired(r: CellResult) -> list[str]:
    m = instability(list(r.raw_samples), r.observed.cpu_contention)
    return [name for name, on in (("ci", m.not_pinned_down), ("drift", m.drifted), ("cont", m.contended)) if on]


def row(condition: str, r: CellResult) -> str:
    samples = list(r.raw_samples)
    m = instability(samples)
    q = statistics.quantiles(samples, n=4) if len(samples) > 1 else [samples[0]] * 3
    o = r.observed
    util = f"{o.cpu_util:5.2f}" if o.cpu_util is not None else "    -"
    cont = f"{o.cpu_contention:6.3f}" if o.cpu_contention is not None else "     -"
    label = f"{r.spec.workload} {r.spec.backend}:{r.spec.variant} {r.spec.size:g}"
    return (f"{condition:<7} {label:<28} {(q[2] - q[0]) / statistics.median(samples):7.3f} {m.ci_width:7.3f} "
            f"{m.drift:6.3f} {util} {cont} {len(samples):4d}  {','.join(fired(r))}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--budget", type=float, default=1.0)
    parser.add_argument("--conditions", default="quiet,hogs,bursts")
    args = parser.parse_args()
    conditions = args.conditions.split(",")
    tally: dict[str, Counter[str]] = {c: Counter() for c in conditions}
    print(f"{'cond':<7} {'cell':<28} {'IQR/med':>7} {'CIw/med':>7} {'drift':>6} {'cpu':>5} {'contn':>6} {'n':>4}  fired")
    for _ in range(args.repeats):
        for condition in conditions:
            print(f"# {condition}: CPU pressure before it {cpu_pressure()}", flush=True)
            procs = competitors(condition)
            try:
                for result in measure(args.budget):
                    print(row(condition, result), flush=True)
                    names = fired(result)
                    tally[condition].update(["cells", *(["flagged"] if names else []), *names])
            finally:
                for p in procs:
                    p.kill()
                    p.wait()
    print()
    for condition, counts in tally.items():
        print(f"{condition:<7} flagged {counts['flagged']:3d} of {counts['cells']:3d} "
              f"(ci {counts['ci']}, drift {counts['drift']}, contention {counts['cont']})")


if __name__ == "__main__":
    main()
