"""Do jitscope's medians agree with timeit's and pyperf's on the very same kernels?

    python benchmarks/agreement.py [--budget 2] [--kernels lu/numpy:default/256,...]

Each kernel is built by its backend exactly as a jitscope cell builds it (inputs, transfer,
then ``sync(run())`` per call; one thread everywhere), and each tool measures it in fresh
processes that import only that backend: jitscope through its whole engine (a worker, first
call and warm-up apart, calibrated samples); ``timeit`` in a child process (one compiling
call, ``autorange``, then repeats, median per call); ``pyperf`` in worker processes of its
own (calibration, warm-up, several processes, median of the values). The three run back to
back per kernel, so a machine whose load drifts disturbs them alike. The ratios
jitscope/timeit and jitscope/pyperf should be near 1 (target: within 10% on a quiet machine).

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
    from jitscope.runner.plan import Plan
    from jitscope.runner.supervisor import Supervisor

    for event in Supervisor(Plan(cells=[spec]), registry, lock_path=None).run():
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


def _ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}" if a and b else "-"


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
    jit, tim, perf = _measure_all(kernels, specs, registry, runner, args.budget, in_pyperf_worker)
    if in_pyperf_worker:
        return
    _print_table(specs, jit, tim, perf)


def _parse_args() -> tuple[Any, Any]:
    """pyperf's Runner (its argument parser, with ours added) when pyperf is installed."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    runner = None
    if pyperf is not None:

        def pass_on(cmd: list[str], args: Any) -> None:
            cmd.extend(["--budget", str(args.budget), "--kernels", args.kernels])

        runner = pyperf.Runner(processes=4, values=5, warmups=1, add_cmdline_args=pass_on)
        parser = runner.argparser
    parser.add_argument("--budget", type=float, default=2.0, help="seconds of sampling per kernel (jitscope, timeit)")
    parser.add_argument("--kernels", default=",".join(DEFAULT_KERNELS),
                        help="comma-separated workload/backend:variant/size (float64, CPU)")
    args = runner.parse_args() if runner is not None else parser.parse_args()
    return runner, args


Medians = dict[str, float | None]


def _measure_all(kernels: list[str], specs: list[CellSpec], registry: Registry, runner: Any, budget: float,
                 in_pyperf_worker: bool) -> tuple[Medians, Medians, Medians]:
    """Each kernel's median by jitscope, timeit (in a child) and pyperf (its own workers)."""
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

        bench = runner.bench_func(spec.key, call)  # in a worker: runs only its own task
        if bench is not None and not in_pyperf_worker:
            perf[spec.key] = bench.median()
    return jit, tim, perf


def _print_table(specs: list[CellSpec], jit: Medians, tim: Medians, perf: Medians) -> None:
    print()
    print("| kernel | jitscope | timeit | pyperf | jitscope/timeit | jitscope/pyperf |")
    print("|---|---:|---:|---:|---:|---:|")
    for spec in specs:
        j, t, p = jit[spec.key], tim[spec.key], perf[spec.key]
        cells = [fmt_seconds(v) if v else "-" for v in (j, t, p)]
        print(f"| {spec.workload}/{spec.backend}:{spec.variant}/{spec.size} | {' | '.join(cells)} | "
              f"{_ratio(j, t)} | {_ratio(j, p)} |")
    if pyperf is None:
        print("\npyperf is not installed (pip install 'jitscope[bench]'): jitscope vs timeit only.")


if __name__ == "__main__":
    main()
