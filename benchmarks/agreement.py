"""Do jitscope's medians agree with timeit's and pyperf's on the very same kernels?

    python benchmarks/agreement.py [--rounds 3] [--budget 2] [--kernels lu/numpy:default/256,...]

Each kernel is built by its backend exactly as a jitscope cell builds it (inputs, transfer,
then ``sync(run())`` per call; one thread everywhere), and each tool measures it in fresh
processes that import only that backend: jitscope through its whole engine (worker
processes, ``--processes``' default for the budget, first call and warm-up apart, calibrated
samples); ``timeit`` in a child process (one compiling call, ``autorange``, then repeats,
median per call); ``pyperf`` in worker processes of its own (calibration, warm-up, several
processes, median of the values). The three run back to back per kernel, and the whole list
runs ``--rounds`` times, interleaved (round 1: every kernel by every tool, then round 2...),
so a machine whose load drifts disturbs them alike. Each ratio is printed as its median over
the rounds and its spread (min-max): one round's ratio says little on a shared machine (three
single rounds once put jitscope/timeit anywhere from 0.78 to 1.72 for the same kernels).
The ratios jitscope/timeit and jitscope/pyperf should be near 1 (target: within 10% on a
quiet machine). Microsecond kernels are in the default list: that is where a harness's own
cost shows.

pyperf is an optional dependency (``pip install 'jitscope[bench]'``); without it the script
says so and prints jitscope against timeit only.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

# One thread on every side, set before any numerical library loads (this process and, through
# the inherited environment, pyperf's workers; jitscope's workers get the same cap by --threads).
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false")

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from jitscope.core.backend import CellContext, Kernel  # noqa: E402
from jitscope.core.model import CellSpec, Status  # noqa: E402
from jitscope.core.registry import Registry, load_registry  # noqa: E402
from jitscope.core.units import fmt_seconds  # noqa: E402

try:
    import pyperf
except ImportError:  # optional: the bench extra
    pyperf = None

TIMEIT_CHILD = "JITSCOPE_AGREEMENT_TIMEIT"  # set: this process is timeit's child for one kernel

DEFAULT_KERNELS = (
    "linreg/numpy:default/100",
    "lu/numpy:default/256",
    "lu/numba:default/256",
    "mcpi/numba:default/1000000",
    "linreg/jax:default/100",
    "lu/torch:eager/128",
    "lu/numba:default/16",  # microseconds: the harness floor matters here
    "mcpi/numba:default/1000",
)


def parse_kernel(text: str, budget: float) -> CellSpec:
    workload, impl, size = text.split("/")
    backend, variant = impl.split(":")
    return CellSpec(workload, backend, variant, "cpu", "float64", int(size), budget_s=budget, timeout_s=600, threads=1)


def build(registry: Registry, spec: CellSpec) -> Callable[[], None]:
    """The cell's kernel, built in this process as a worker builds it; returns one synced call."""
    backend = registry.backend(spec.backend)
    for key, value in backend.env.items():
        os.environ.setdefault(key, value)
    if backend.setup_threads is not None:
        backend.setup_threads(1)
    workload = registry.workload(spec.workload)
    params = workload.resolve_params(spec.params_dict)
    ctx = CellContext(spec, workload, params, workload.make_inputs(spec.size, params, spec.seed), threads=1)
    impl = registry.find(spec.workload, spec.backend, spec.variant)
    assert impl is not None, spec.key
    kernel: Kernel = impl.build(ctx)
    kernel.transfer()

    def call() -> None:
        kernel.sync(kernel.run())

    return call


def jitscope_median(registry: Registry, spec: CellSpec) -> float | None:
    from jitscope.runner.events import CellFinished
    from jitscope.runner.plan import Plan, default_processes
    from jitscope.runner.supervisor import Supervisor

    plan = Plan(cells=[spec], processes=default_processes(spec.budget_s))
    for event in Supervisor(plan, registry, lock_path=None).run():
        if isinstance(event, CellFinished):
            r = event.result
            if r.status == Status.OK and r.stats is not None:
                return r.stats.median
            print(f"jitscope: {r.spec.key} {r.status.value}: {r.reason}", file=sys.stderr)
    return None


def timeit_median(call: Callable[[], None], budget: float) -> float:
    call()  # the first call compiles (jitscope times it apart as well)
    timer = timeit.Timer(call)
    loops, elapsed = timer.autorange()  # at least 0.2 s per repeat
    repeats = max(5, min(50, int(budget / max(elapsed, 1e-9))))
    return statistics.median(t / loops for t in timer.repeat(repeat=repeats, number=loops))


def timeit_in_child(kernel: str, budget: float) -> float | None:
    """timeit's median for one kernel, measured in a fresh process (only its backend loaded)."""
    env = {**os.environ, TIMEIT_CHILD: kernel, "AGREEMENT_BUDGET": str(budget)}
    proc = subprocess.run([sys.executable, __file__], env=env, capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        print(f"timeit: {kernel} failed: {proc.stderr.strip()[-500:]}", file=sys.stderr)
        return None
    return float(proc.stdout.strip().splitlines()[-1])


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a and b else None


def main() -> None:
    if TIMEIT_CHILD in os.environ:  # the child timeit_in_child started
        budget = float(os.environ["AGREEMENT_BUDGET"])
        spec = parse_kernel(os.environ[TIMEIT_CHILD], budget)
        print(repr(timeit_median(build(load_registry(), spec), budget)))
        return
    runner, args = _parse_args()
    kernels = args.kernels.split(",")
    specs = [parse_kernel(k, args.budget) for k in kernels]
    registry = load_registry()
    in_pyperf_worker = runner is not None and args.worker
    if not in_pyperf_worker:
        print(f"{args.rounds} interleaved rounds, budget {args.budget:g} s; load average before: "
              f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    rounds = [_measure_all(kernels, specs, registry, runner, args.budget, in_pyperf_worker, r)
              for r in range(args.rounds)]
    if in_pyperf_worker:
        return
    _print_table(specs, rounds)
    print(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def _parse_args() -> tuple[Any, Any]:
    """pyperf's Runner (its argument parser, with ours added) when pyperf is installed."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    runner = None
    if pyperf is not None and "--no-pyperf" not in sys.argv:

        def pass_on(cmd: list[str], args: Any) -> None:
            cmd.extend(["--budget", str(args.budget), "--kernels", args.kernels, "--rounds", str(args.rounds)])

        runner = pyperf.Runner(processes=4, values=5, warmups=1, add_cmdline_args=pass_on)
        parser = runner.argparser
    parser.add_argument("--budget", type=float, default=2.0, help="seconds of sampling per kernel (jitscope, timeit)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds over the whole list")
    parser.add_argument("--no-pyperf", action="store_true", help="jitscope against timeit only")
    parser.add_argument("--kernels", default=",".join(DEFAULT_KERNELS),
                        help="comma-separated workload/backend:variant/size (float64, CPU)")
    args = runner.parse_args() if runner is not None else parser.parse_args()
    return runner, args


Medians = dict[str, float | None]
Round = tuple[Medians, Medians, Medians]  # jitscope, timeit, pyperf: each kernel's median


def _measure_all(kernels: list[str], specs: list[CellSpec], registry: Registry, runner: Any, budget: float,
                 in_pyperf_worker: bool, round_no: int) -> Round:
    """One round: each kernel's median by jitscope, timeit (in a child) and pyperf (its own
    workers; a benchmark per kernel and round, called in the same order in every process)."""
    jit: Medians = {s.key: None for s in specs}
    tim: Medians = {s.key: None for s in specs}
    perf: Medians = {s.key: None for s in specs}
    for kernel, spec in zip(kernels, specs, strict=True):
        if not in_pyperf_worker:
            jit[spec.key] = jitscope_median(registry, spec)
            tim[spec.key] = timeit_in_child(kernel, budget)
        if runner is None:
            continue
        made: list[Callable[[], None]] = []

        def call(spec: CellSpec = spec, made: list[Callable[[], None]] = made) -> None:
            if not made:  # built in pyperf's worker, on its first (warm-up) call
                made.append(build(registry, spec))
            made[0]()

        bench = runner.bench_func(f"{spec.key} round {round_no + 1}", call)  # in a worker: only its own task
        if bench is not None and not in_pyperf_worker:
            perf[spec.key] = bench.median()
    if not in_pyperf_worker:
        print(f"round {round_no + 1} done; load average {os.getloadavg()[0]:.2f}", file=sys.stderr, flush=True)
    return jit, tim, perf


def _spread(values: list[float | None]) -> str:
    """The median of the rounds' values and their range: ``1.02 (0.97-1.10)``."""
    known = [v for v in values if v is not None]
    if not known:
        return "-"
    return f"{statistics.median(known):.2f} ({min(known):.2f}-{max(known):.2f})"


def _median_time(values: list[float | None]) -> str:
    known = [v for v in values if v is not None]
    return fmt_seconds(statistics.median(known)) if known else "-"


def _print_table(specs: list[CellSpec], rounds: list[Round]) -> None:
    print()
    print(f"Medians over {len(rounds)} rounds; each ratio as its median over the rounds (min-max).")
    print()
    print("| kernel | jitscope | timeit | pyperf | jitscope/timeit | jitscope/pyperf |")
    print("|---|---:|---:|---:|---:|---:|")
    for spec in specs:
        j = [r[0][spec.key] for r in rounds]
        t = [r[1][spec.key] for r in rounds]
        p = [r[2][spec.key] for r in rounds]
        times = " | ".join(_median_time(v) for v in (j, t, p))
        jt = _spread([_ratio(a, b) for a, b in zip(j, t, strict=True)])
        jp = _spread([_ratio(a, b) for a, b in zip(j, p, strict=True)])
        print(f"| {spec.workload}/{spec.backend}:{spec.variant}/{spec.size} | {times} | {jt} | {jp} |")
    if pyperf is None:
        print("\npyperf is not installed (pip install 'jitscope[bench]'): jitscope vs timeit only.")


if __name__ == "__main__":
    main()
