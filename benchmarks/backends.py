"""A fixed CPU sweep of every backend through the real engine, in one go.

Run with the environment that has the backends installed::

    python benchmarks/backends.py            # ~3-5 minutes on 2 cores
    python benchmarks/backends.py --compile  # also torch.compile (adds its compile time)

Each row is one workload/size/dtype. Every backend's median (the engine's headline: steady
state, synced, after compile and warm-up) is printed with its speed-up over the row's
baseline measured in the same run (NumPy; pure Python for ``nodes``), and each row says
whether its target is met. The Triton interpreter is left out on purpose: it emulates GPU
programs in NumPy and its times mean nothing.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from jitscope.core.model import CellResult, CellSpec, Status  # noqa: E402
from jitscope.core.registry import load_registry  # noqa: E402
from jitscope.runner.events import CellFinished, WorkerReady  # noqa: E402
from jitscope.runner.plan import Plan  # noqa: E402
from jitscope.runner.supervisor import Supervisor  # noqa: E402

JIT = ("numba", "jax", "tensorflow", "torch", "cython", "julia")


@dataclass
class Row:
    label: str
    workload: str
    size: int
    baseline: str  # backend:variant every ratio is relative to
    candidates: list[str]
    target: str  # human-readable
    check: Callable[[Row, dict[str, CellResult]], tuple[bool, str]]
    dtype: str = "float64"
    params: dict[str, int] = field(default_factory=dict)


def _median(r: CellResult | None) -> float | None:
    return r.stats.median if r is not None and r.status == Status.OK and r.stats else None


def best_jit_speedup(minimum: float, families: tuple[str, ...] = JIT) -> Callable[[Row, dict[str, CellResult]], tuple[bool, str]]:
    def check(row: Row, res: dict[str, CellResult]) -> tuple[bool, str]:
        base = _median(res.get(row.baseline))
        timed = {k: _median(r) for k, r in res.items() if k.split(":")[0] in families}
        timed = {k: v for k, v in timed.items() if v}
        if not base or not timed:
            return False, "no baseline or no candidate measured"
        best = min(timed, key=lambda k: timed[k])
        ratio = base / timed[best]
        return ratio >= minimum, f"best {best}: {ratio:.1f}x vs {row.baseline} (target >= {minimum:g}x)"

    return check


def fastest_is(label: str) -> Callable[[Row, dict[str, CellResult]], tuple[bool, str]]:
    def check(row: Row, res: dict[str, CellResult]) -> tuple[bool, str]:
        timed = {k: _median(r) for k, r in res.items()}
        timed = {k: v for k, v in timed.items() if v}
        if label not in timed:
            return False, f"{label} not measured"
        best = min(timed, key=lambda k: timed[k])
        runner_up = min((v for k, v in timed.items() if k != label), default=None)
        margin = f" ({runner_up / timed[label]:.1f}x ahead of the next)" if best == label and runner_up else ""
        return best == label, f"fastest: {best}{margin}"

    return check


def rows(with_compile: bool) -> list[Row]:
    torch = ["torch:eager"] + (["torch:compile"] if with_compile else [])
    linreg = ["numba:default", "numba:parallel", "jax:default", "tensorflow:default", *torch, "cython:default"]
    return [
        Row("linreg d=2, N=10^4, 20 epochs", "linreg", 2, "numpy:default", linreg, ">= 6x NumPy", best_jit_speedup(6)),
        Row("linreg d=100, N=10^4, 20 epochs", "linreg", 100, "numpy:default", linreg, ">= 1.2x NumPy (stretch)",
            best_jit_speedup(1.2)),
        Row("mcpi n=10^7", "mcpi", 10_000_000, "numpy:default",
            ["numba:default", "numba:parallel", "numba:vectorize", "jax:default", "tensorflow:default", *torch,
             "cython:default"], ">= 10x NumPy", best_jit_speedup(10)),
        Row("lu n=10", "lu", 10, "numpy:default",
            ["python:default", "numba:default", "numba:parallel", "jax:default", "tensorflow:default", "torch:eager",
             "cython:default", "scipy:default"], "numba >= 20x NumPy's naive loop",
            best_jit_speedup(20, ("numba",))),
        Row("lu n=256", "lu", 256, "numpy:default",
            ["numba:default", "numba:parallel", "jax:default", "tensorflow:default", "torch:eager", "cython:default",
             "scipy:default"], "scipy (LAPACK) fastest of all", fastest_is("scipy:default")),
        Row("nodes n=10^6", "nodes", 1_000_000, "python:default",
            ["numpy:default", "numba:default", "numba:parallel", "numba:jitclass", "jax:default",
             "tensorflow:default", *torch, "cython:default"], ">= 50x pure Python", best_jit_speedup(50)),
    ]


def machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} logical CPUs, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def fmt_time(s: float | None) -> str:
    if s is None:
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if s >= scale:
            return f"{s / scale:.3g} {unit}"
    return f"{s * 1e9:.3g} ns"


def _cells(table: list[Row], budget: float, threads: int | None) -> tuple[list[CellSpec], list[tuple[int, str]]]:
    """Every row's cells (its baseline first, then its candidates, and numpy:default when the
    row has no NumPy cell), with where each one goes: (row index, backend:variant)."""
    cells: list[CellSpec] = []
    where: list[tuple[int, str]] = []
    for r_index, row in enumerate(table):
        for label in [row.baseline, *[c for c in row.candidates if c != row.baseline]] + (
            ["numpy:default"] if row.baseline != "numpy:default" and "numpy:default" not in row.candidates else []
        ):
            backend, variant = label.split(":")
            cells.append(CellSpec(row.workload, backend, variant, "cpu", row.dtype, row.size,
                                  params=tuple(sorted(row.params.items())), budget_s=budget, timeout_s=600,
                                  threads=threads))
            where.append((r_index, label))
    return cells, where


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", type=float, default=1.0, help="time budget per cell in seconds (default 1)")
    ap.add_argument("--compile", action="store_true", help="include torch:compile (slow first calls)")
    ap.add_argument("--threads", type=int, default=None, help="threads per worker (default: the libraries' own)")
    ap.add_argument("--omp-wait-policy", default="passive",
                    help="OMP_WAIT_POLICY for the workers (default passive; 'keep' leaves the environment alone)")
    args = ap.parse_args(argv)
    if args.omp_wait_policy != "keep":
        # On small shared VMs, spinning OpenMP workers (GOMP's default) sometimes stall a
        # parallel region for a scheduler tick (~8 ms); passive waiting avoids that.
        os.environ["OMP_WAIT_POLICY"] = args.omp_wait_policy

    registry = load_registry()
    table = rows(args.compile)
    cells, where = _cells(table, args.budget, args.threads)

    print(f"# jitscope backend sweep\n\nmachine: {machine()}")
    threads = args.threads if args.threads else "library defaults (all cores)"
    print(f"threads: {threads}; OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '(unset)')}; "
          f"budget {args.budget:g} s per cell\n")
    t0 = time.monotonic()
    results: dict[int, dict[str, CellResult]] = {i: {} for i in range(len(table))}
    versions: dict[str, str] = {}
    for event in Supervisor(Plan(cells=cells), registry, lock_path=True).run():
        if isinstance(event, CellFinished):
            r_index, label = where[event.index]
            results[r_index][label] = event.result
            print(f"  done {event.result.spec.key}: {event.result.status.value}", file=sys.stderr, flush=True)
        elif isinstance(event, WorkerReady):
            versions[event.backend] = str(event.info.get("version", "?"))
    elapsed = time.monotonic() - t0

    print("versions: " + ", ".join(f"{k} {v}" for k, v in sorted(versions.items())) + "\n")
    verdicts = []
    for r_index, row in enumerate(table):
        res = results[r_index]
        base = _median(res.get(row.baseline))
        print(f"## {row.label} ({row.dtype})\n")
        print(f"| backend | median | first call | vs {row.baseline.split(':')[0]} | status |")
        print("|---|---:|---:|---:|---|")
        order = sorted(res, key=lambda k: _median(res[k]) or float("inf"))
        for label in order:
            r = res[label]
            m = _median(r)
            ratio = f"{base / m:.2f}x" if base and m else "-"
            status = r.status.value if r.status != Status.OK else "ok"
            if r.status != Status.OK:
                status += f": {r.reason[:80]}"
            print(f"| {label} | {fmt_time(m)} | {fmt_time(r.first_call_s)} | {ratio} | {status} |")
        ok, detail = row.check(row, res)
        verdicts.append((row, ok, detail))
        print(f"\ntarget {row.target}: {'MET' if ok else 'MISSED'} ({detail})\n")

    print("## targets\n")
    for row, ok, detail in verdicts:
        print(f"- {'MET   ' if ok else 'MISSED'} {row.label}: {row.target} - {detail}")
    print(f"\nsweep took {elapsed:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
