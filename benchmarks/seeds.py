"""Published ratios next to the ratios measured here, with the seed-faithful and the tuned kernels.

    python benchmarks/seeds.py [--budget 1] [--epochs 200] [--threads N]

jitscope's own kernels are tuned (fused loops, a kernel specialised on d, counter-based RNGs),
so a ratio between two of them answers a different question from the one a post asked. The
``seed`` variants run the posts' own algorithms (jitscope/backends/_seeds.py says which post,
and what differs); this script runs both sets through the real engine in one plan and prints,
per published claim: the published ratio, the ratio measured here with the seed-faithful
variants, and with the tuned ones. Each ratio is "how many times faster the second is".
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from jitscope.core.model import CellResult, CellSpec, Status  # noqa: E402
from jitscope.core.registry import load_registry  # noqa: E402
from jitscope.core.units import fmt_seconds  # noqa: E402
from jitscope.runner.events import CellFinished  # noqa: E402
from jitscope.runner.plan import Plan  # noqa: E402
from jitscope.runner.supervisor import Supervisor  # noqa: E402


@dataclass(frozen=True)
class Claim:
    """A published "B is R times faster than A" and the implementations to measure it with."""

    name: str
    source: str
    published: float | None  # None: the post was not found
    published_how: str
    workload: str
    size: int
    faithful: tuple[str, str] | None  # (slow, fast) backend:variant, or None if no faithful pair
    tuned: tuple[str, str]


CLAIMS = (
    Claim("linreg d=2: NumPy vs pure Python", "Real Python, Pure Python vs NumPy vs TensorFlow (2018)",
          18.65 / 0.32, "18.65 s / 0.32 s", "linreg", 2, ("python:seed", "numpy:seed"),
          ("python:default", "numpy:default")),
    Claim("linreg d=2: NumPy vs TensorFlow (CPU)", "Real Python, same post", 1.20 / 0.32,
          "TF 1.20 s / NumPy 0.32 s (TF1 session code: no faithful TF2 variant)", "linreg", 2, None,
          ("tensorflow:default", "numpy:default")),
    Claim("lu n=10: Numba vs the NumPy loop", "Supersonic Tensor Processing in Python with JIT compilation",
          23.0, "about 23x at 10x10", "lu", 10, ("numpy:seed", "numba:seed"), ("numpy:default", "numba:default")),
    Claim("mcpi: Numba vs the plain-Python loop", "gjbex/Python-for-HPC notebook (the same textbook loop; "
          "the pi post itself was not found)", 27.1e-3 / 687e-6, "27.1 ms / 687 us at n=10^5", "mcpi", 100_000,
          ("python:seed", "numba:seed"), ("python:default", "numba:default")),
    Claim("nodes: Numba jitclass vs Python objects", "the nodes post (not found)", None, "not found",
          "nodes", 100_000, ("python:seed", "numba:seed"), ("python:default", "numba:jitclass")),
)


def _cells(budget: float, epochs: int, threads: int | None) -> list[CellSpec]:
    cells: dict[str, CellSpec] = {}
    for claim in CLAIMS:
        params = (("epochs", epochs),) if claim.workload == "linreg" else ()
        for label in (*(claim.faithful or ()), *claim.tuned):
            backend, variant = label.split(":")
            spec = CellSpec(claim.workload, backend, variant, "cpu", "float64", claim.size, params=params,
                            budget_s=budget, timeout_s=600, threads=threads)
            cells[spec.key] = spec
    return list(cells.values())


def _median(results: dict[tuple[str, str], CellResult], workload: str, label: str) -> float | None:
    r = results.get((workload, label))
    if r is None or r.status != Status.OK or r.stats is None:
        return None
    return r.stats.median


def _ratio(results: dict[tuple[str, str], CellResult], claim: Claim, pair: tuple[str, str] | None) -> str:
    if pair is None:
        return "-"
    slow, fast = (_median(results, claim.workload, label) for label in pair)
    if slow is None or fast is None:
        return "not measured"
    return f"{slow / fast:.1f}x ({fmt_seconds(slow)} / {fmt_seconds(fast)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget", type=float, default=1.0, help="seconds of sampling per cell")
    parser.add_argument("--epochs", type=int, default=200,
                        help="linreg epochs per call (the post ran 10,000; the ratio is per epoch)")
    parser.add_argument("--threads", type=int, default=None, help="thread cap for every library")
    args = parser.parse_args()

    cells = _cells(args.budget, args.epochs, args.threads)
    results: dict[tuple[str, str], CellResult] = {}
    for event in Supervisor(Plan(cells=cells), load_registry(), lock_path=None).run():
        if isinstance(event, CellFinished):
            r = event.result
            results[(r.spec.workload, f"{r.spec.backend}:{r.spec.variant}")] = r
            if r.status != Status.OK:
                print(f"  {r.spec.key}: {r.status.value} {r.reason}", file=sys.stderr)

    print(f"budget {args.budget:g} s/cell, linreg epochs {args.epochs}, threads {args.threads or 'library default'}")
    print()
    print("| claim | published | seed-faithful here | tuned here |")
    print("|---|---:|---:|---:|")
    for claim in CLAIMS:
        published = f"{claim.published:.1f}x" if claim.published else "not found"
        print(f"| {claim.name} | {published} | {_ratio(results, claim, claim.faithful)} | "
              f"{_ratio(results, claim, claim.tuned)} |")
    print()
    for claim in CLAIMS:
        pairs = " vs ".join(claim.faithful) if claim.faithful else "-"
        print(f"- {claim.name}: {claim.source}; published {claim.published_how}; faithful pair {pairs}; "
              f"tuned pair {' vs '.join(claim.tuned)}")


if __name__ == "__main__":
    main()
