"""Every GPU path of jitscope in one command, checked, timed twice, written up.

    python benchmarks/gpu.py                 # on a CUDA machine: writes docs/gpu.md (~8 min on an H100)
    python benchmarks/gpu.py --simulate      # no GPU: the same logic on the CPU, tiny sizes

On a CUDA machine it runs every backend:variant with a cuda path (numba:cuda, jax, torch
eager and compile, cupy, triton) on linreg, mcpi, lu and nodes, float32 and float64, at sizes
that matter on a GPU (mcpi up to 1e9 samples in float32, linreg d up to 1e4 in float32, lu up
to 4096), through jitscope's own engine: a worker per backend, compile apart, devices
synchronised, every answer checked against the float64 reference. Then, per implementation,
workload and dtype, it times the same kernel at its largest size *independently*, in a fresh
process: ``triton.testing.do_bench`` (CUDA events, median), else a ``torch.cuda.Event`` loop,
so a reader sees whether the harness's medians agree with CUDA's own clock.

Time: each backend gets an equal share of ``--limit`` seconds (what one backend leaves unused
goes to the next); a backend past its share is cancelled and its remaining cells say so.
Progress is one line per finished cell.

``--simulate`` (alias ``--tiny``): numba:cuda in numba's CUDA simulator and
triton:interpreter in Triton's interpreter, at tiny sizes, timed independently with
``time.perf_counter``; the implementations that need a real GPU (jax, torch, cupy, compiled
Triton) are listed as not run. It checks the script's logic and the kernels' answers, never
speed: the report says SIMULATED at the top and every device reads ``cuda (simulated)``.

Exit status: 0 when no cell failed, crashed or timed out; 1 otherwise; 2 for bad usage.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from jitscope.core.labels import impl_label, result_device  # noqa: E402
from jitscope.core.model import CellResult, CellSpec, Status  # noqa: E402
from jitscope.core.units import fmt_bytes, fmt_seconds, fmt_size  # noqa: E402

WORKLOADS = ("linreg", "mcpi", "lu", "nodes")
DTYPES = ("float32", "float64")
# backend, variant, device: every implementation with a cuda path.
GPU_IMPLS = (("numba", "cuda"), ("jax", "default"), ("torch", "eager"), ("torch", "compile"),
             ("cupy", "default"), ("triton", "default"))
SIM_IMPLS = (("numba", "cuda", "cuda"), ("triton", "interpreter", "cpu"))
NOT_SIMULATED = "needs a real CUDA GPU (no simulator): run without --simulate on a CUDA machine"

# Sizes per workload and dtype. linreg's inputs and reference cost O(d^3) on the host per
# cell (eigvalsh of X^T X): d = 1e4 runs in float32 only to fit the time; likewise mcpi 1e9.
GPU_SIZES: dict[str, dict[str, tuple[int, ...]]] = {
    "linreg": {"float32": (1_000, 10_000), "float64": (1_000,)},
    "mcpi": {"float32": (1_000_000, 100_000_000, 1_000_000_000), "float64": (1_000_000, 100_000_000)},
    "lu": {"float32": (512, 4096), "float64": (512, 4096)},
    "nodes": {"float32": (1_000_000, 10_000_000), "float64": (1_000_000, 10_000_000)},
}
SIM_SIZES = {"linreg": 3, "mcpi": 64, "lu": 6, "nodes": 64}  # the simulator: a Python thread per CUDA thread
SIM_PARAMS: dict[str, tuple[tuple[str, Any], ...]] = {"linreg": (("epochs", 2), ("samples", 64))}
AGREE = (0.8, 1.25)  # independent / harness median within this: the two clocks agree
INDEPENDENT_S = 90.0  # kept out of --limit for the independent timings


@dataclass
class Config:
    simulate: bool
    budget: float
    limit: float
    timeout: float
    out: Path


@dataclass
class Outcome:
    """What the run produced: results in plan order, workers' infos, independent timings."""

    results: list[CellResult] = field(default_factory=list)
    infos: dict[str, dict[str, Any]] = field(default_factory=dict)
    independent: dict[str, dict[str, Any]] = field(default_factory=dict)
    elapsed_s: float = 0.0


# ---- the plan -----------------------------------------------------------------------------------
def plan_cells(cfg: Config) -> dict[str, list[CellSpec]]:
    """Cells per implementation label, small sizes first (a cancelled backend loses its largest)."""
    plans: dict[str, list[CellSpec]] = {}
    impls = SIM_IMPLS if cfg.simulate else tuple((b, v, "cuda") for b, v in GPU_IMPLS)
    for backend, variant, device in impls:
        cells = []
        for workload in WORKLOADS:
            for dtype in DTYPES:
                sizes = (SIM_SIZES[workload],) if cfg.simulate else GPU_SIZES[workload][dtype]
                params = SIM_PARAMS.get(workload, ()) if cfg.simulate else ()
                cells += [CellSpec(workload, backend, variant, device, dtype, size, params=params,
                                   budget_s=cfg.budget, timeout_s=cfg.timeout) for size in sizes]
        plans[f"{backend}:{variant}"] = sorted(cells, key=lambda c: (c.size, c.workload, c.dtype))
    return plans


# ---- running through the harness ---------------------------------------------------------------
def _line(done: int, total: int, started: float, r: CellResult) -> str:
    s = r.spec
    what = f"{s.workload} {impl_label(s.backend, s.variant)} {s.dtype} {fmt_size(s.size)}"
    tail = f"median {fmt_seconds(r.median_s)}" if r.median_s else r.reason[:100]
    if r.accuracy is not None:
        tail += f", error {r.accuracy.error:.2g}{'' if r.accuracy.accurate else ' INACCURATE'}"
    return f"[{done:>3}/{total} {time.monotonic() - started:5.0f}s] {r.status.value:>9} {what}: {tail}"


def run_harness(plans: dict[str, list[CellSpec]], cfg: Config, outcome: Outcome) -> None:
    """One Supervisor per implementation, each cancelled when its share of the time is spent."""
    from jitscope.core.registry import load_registry
    from jitscope.runner.events import CellFinished, WorkerReady
    from jitscope.runner.plan import Plan
    from jitscope.runner.supervisor import Supervisor

    registry = load_registry()
    total = sum(len(c) for c in plans.values())
    started = time.monotonic()
    end = started + cfg.limit
    for left, (label, cells) in enumerate(plans.items()):
        share = max(1.0, (end - time.monotonic()) / (len(plans) - left))
        supervisor = Supervisor(Plan(cells=cells), registry, lock_path=None)
        timer = threading.Timer(share, supervisor.cancel)
        timer.start()
        try:
            for event in supervisor.run():
                if isinstance(event, WorkerReady):
                    outcome.infos[label] = event.info
                    print(f"{label} ready: {event.info.get('gpu') or event.info.get('version', '')}", flush=True)
                elif isinstance(event, CellFinished):
                    result = event.result
                    if result.status == Status.CANCELLED:
                        result.reason = f"cancelled: {label} used its {share:.0f} s share of --limit"
                    outcome.results.append(result)
                    print(_line(len(outcome.results), total, started, result), flush=True)
        finally:
            timer.cancel()


# ---- independent timing -------------------------------------------------------------------------
def largest_ok(results: list[CellResult]) -> list[CellSpec]:
    """Per implementation, workload and dtype, the largest size that ran ok."""
    best: dict[tuple[str, str, str, str], CellSpec] = {}
    for r in results:
        s = r.spec
        key = (s.backend, s.variant, s.workload, s.dtype)
        if r.status == Status.OK and (key not in best or s.size > best[key].size):
            best[key] = s
    return list(best.values())


def run_independent(specs: list[CellSpec], outcome: Outcome, limit: float) -> None:
    """Each backend's kernels timed in a fresh process of this script (``--independent``),
    each process given an equal share of what is left of ``limit`` seconds."""
    by_backend: dict[str, list[CellSpec]] = {}
    for spec in specs:
        by_backend.setdefault(spec.backend, []).append(spec)
    end = time.monotonic() + limit
    for left, (backend, group) in enumerate(by_backend.items()):
        timeout = max(5.0, (end - time.monotonic()) / (len(by_backend) - left))
        with tempfile.TemporaryDirectory() as tmp:
            job, answer = Path(tmp) / "job.json", Path(tmp) / "answer.json"
            job.write_text(json.dumps([s.to_json() for s in group]))
            print(f"independent timing: {backend} ({len(group)} kernels)", flush=True)
            with contextlib.suppress(subprocess.TimeoutExpired):  # what it answered so far is kept
                subprocess.run([sys.executable, __file__, "--independent", str(job), str(answer)],
                               timeout=timeout, check=False, stdin=subprocess.DEVNULL)
            done = json.loads(answer.read_text()) if answer.exists() else {}
            for spec in group:
                outcome.independent[spec.key] = done.get(spec.key, {"error": "no answer (timed out or crashed)"})


def pick_timer(device: str) -> tuple[str, Callable[[Callable[[], None]], float]]:
    """CUDA's own clock where there is one; ``perf_counter`` only where there is no GPU."""
    if device == "cuda" and os.environ.get("NUMBA_ENABLE_CUDASIM") != "1":
        try:
            import torch

            if torch.cuda.is_available():
                try:
                    from triton.testing import do_bench

                    return ("triton.testing.do_bench (CUDA events, median, L2 flushed)",
                            lambda call: float(do_bench(call, warmup=25, rep=100, return_mode="median")) / 1e3)
                except ImportError:
                    return "torch.cuda.Event around each call (median)", _torch_events
        except ImportError:
            pass
    return "time.perf_counter (no GPU: simulator/interpreter, not a GPU timing)", _perf_counter


def _torch_events(call: Callable[[], None]) -> float:
    import torch

    times = []
    for _ in range(20):
        start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        call()
        stop.record()
        stop.synchronize()
        times.append(start.elapsed_time(stop) / 1e3)
    return statistics.median(times)


def _perf_counter(call: Callable[[], None]) -> float:
    times: list[float] = []
    begin = time.perf_counter()
    while len(times) < 2 or (time.perf_counter() - begin < 0.2 and len(times) < 50):
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def independent_main(job: Path, answer: Path) -> int:
    """In a fresh process: build each kernel as a worker does, warm it, time it, write JSON."""
    from jitscope.core.backend import CellContext
    from jitscope.core.registry import load_registry

    specs = [CellSpec.from_json(d) for d in json.loads(job.read_text())]
    registry = load_registry()
    backend = registry.backend(specs[0].backend)
    for key, value in backend.env.items():
        os.environ.setdefault(key, value)
    if backend.info is not None:
        backend.info()
    if backend.startup is not None:
        backend.startup(specs[0].device, tuple(dict.fromkeys(s.variant for s in specs)))
    out: dict[str, dict[str, Any]] = {}
    for spec in specs:
        try:
            workload = registry.workload(spec.workload)
            params = workload.resolve_params(spec.params_dict)
            ctx = CellContext(spec, workload, params, workload.make_inputs(spec.size, params, spec.seed))
            impl = registry.find(spec.workload, spec.backend, spec.variant)
            assert impl is not None, spec.key
            kernel = impl.build(ctx)
            kernel.transfer()

            def call(kernel: Any = kernel) -> None:
                kernel.sync(kernel.run())

            call()  # compile, as the harness's first call
            method, timer = pick_timer(spec.device)
            out[spec.key] = {"seconds": timer(call), "method": method}
            kernel.close()
        except Exception as exc:  # one kernel's failure is its row, not the end of the others
            out[spec.key] = {"error": f"{type(exc).__name__}: {exc}"[:200]}
        answer.write_text(json.dumps(out))
    return 0


# ---- the report ---------------------------------------------------------------------------------
def _cell_row(r: CellResult) -> str:
    s, acc = r.spec, r.accuracy
    error = f"{acc.error:.2g} {'≤' if acc.accurate else '>'} {acc.tolerance:.2g}" if acc else ""
    seen = r.observed.peak_device_bytes if s.device != "cpu" else r.observed.peak_host_bytes
    peak = fmt_bytes(seen) or ("unknown" if r.stats else "")
    reason = r.reason.replace("|", "\\|").replace("\n", " ")[:160]
    return (f"| {s.workload} | {impl_label(s.backend, s.variant)} | {result_device(r)} | {s.dtype} | {fmt_size(s.size)} "
            f"| {r.status.value} | {fmt_seconds(r.median_s) if r.median_s else ''} | {error} "
            f"| {fmt_seconds(r.compile_s) if r.compile_s is not None else ''} | {peak} | {reason} |")


def _agreement_rows(outcome: Outcome, simulate: bool) -> list[str]:
    rows = []
    by_key = {r.spec.key: r for r in outcome.results}
    for key, got in outcome.independent.items():
        r = by_key[key]
        s, harness = r.spec, r.median_s or 0.0
        label = f"| {s.workload} | {impl_label(s.backend, s.variant)} | {s.dtype} | {fmt_size(s.size)} | {fmt_seconds(harness)} "
        if "error" in got:
            rows.append(label + f"| | {got['error']} | | not timed |")
            continue
        ratio = got["seconds"] / harness if harness > 0 else float("inf")
        verdict = "n/a (simulated)" if simulate else ("agrees" if AGREE[0] <= ratio <= AGREE[1] else "DIFFERS")
        rows.append(label + f"| {fmt_seconds(got['seconds'])} | {got['method']} | {ratio:.2f} | {verdict} |")
    return rows


def _summary(results: list[CellResult]) -> list[str]:
    counts: dict[str, dict[str, int]] = {}
    for r in results:
        row = counts.setdefault(impl_label(r.spec.backend, r.spec.variant), {})
        row[r.status.value] = row.get(r.status.value, 0) + 1
    statuses = [s.value for s in Status]
    lines = ["| backend:variant | " + " | ".join(statuses) + " |", "|---" * (len(statuses) + 1) + "|"]
    lines += [f"| {label} | " + " | ".join(str(c.get(s, "")) for s in statuses) + " |" for label, c in counts.items()]
    return lines


def report(outcome: Outcome, cfg: Config, command: str) -> str:
    gpus = sorted({str(i.get("gpu")) for i in outcome.infos.values() if i.get("gpu")})
    versions = ", ".join(f"{label} {info.get('version', '?')}" for label, info in outcome.infos.items())
    lines = ["# GPU check: every CUDA path of jitscope", ""]
    if cfg.simulate:
        lines += ["> **SIMULATED**: numba's CUDA simulator and Triton's interpreter on the CPU, tiny sizes. "
                  "This checks the script and the kernels' answers; no timing here says anything about a GPU.", ""]
    lines += [f"- command: `{command}`", f"- device(s): {', '.join(gpus) or 'none reported'}",
              f"- versions: {versions}",
              f"- budget per cell {cfg.budget:g} s, time limit {cfg.limit:g} s, wall time {outcome.elapsed_s:.0f} s",
              "", "## Cells per implementation", "", *_summary(outcome.results), "",
              "## Results", "",
              "Every answer is checked against the float64 reference (error ≤ tolerance); compile is "
              "first call - median where the library said it compiled; peak memory as each "
              "backend's allocator or driver reports it (the host's for a CPU cell).", "",
              "| workload | backend:variant | device | dtype | size | status | median | error | compile | peak memory | reason |",
              "|---|---|---|---|---|---|---|---|---|---|---|",
              *(_cell_row(r) for r in outcome.results), "",
              "## Does the harness agree with an independent clock?", "",
              f"The same kernel (built as a worker builds it) at its largest ok size, timed in a fresh process; "
              f"ratio = independent / harness median, agreeing within {AGREE[0]:g}-{AGREE[1]:g}. do_bench "
              "flushes the L2 cache before each call and the harness does not, so small kernels may read slower there.", "",
              "| workload | backend:variant | dtype | size | harness | independent | method | ratio | verdict |",
              "|---|---|---|---|---|---|---|---|---|", *_agreement_rows(outcome, cfg.simulate), ""]
    if cfg.simulate:
        lines += ["## Not run in this mode", ""]
        lines += [f"- {impl_label(b, v)}: {NOT_SIMULATED}" for b, v in GPU_IMPLS if (b, v) != ("numba", "cuda")]
        lines.append("")
    return "\n".join(lines)


# ---- main ---------------------------------------------------------------------------------------
def parse(argv: list[str] | None) -> Config:
    p = argparse.ArgumentParser(prog="benchmarks/gpu.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--simulate", "--tiny", action="store_true", help="no GPU: simulator and interpreter, tiny sizes")
    p.add_argument("--budget", type=float, default=0.2, help="seconds of sampling per cell (default 0.2)")
    p.add_argument("--limit", type=float, default=380.0,
                   help=f"seconds for all the cells (default 380; the independent timings add up to {INDEPENDENT_S:g})")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds before one cell is killed (default 120)")
    p.add_argument("--out", type=Path, default=None, help="the Markdown report (default docs/gpu.md; "
                   "gpu-simulated.md with --simulate)")
    args = p.parse_args(argv)
    for name in ("budget", "limit", "timeout"):
        value = getattr(args, name)
        if not (value > 0 and value < float("inf")):
            p.error(f"--{name} must be a finite number above 0, not {value}")
    out = args.out or (Path("gpu-simulated.md") if args.simulate else ROOT / "docs" / "gpu.md")
    return Config(args.simulate, args.budget, args.limit, args.timeout, out)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--independent"]:
        return independent_main(Path(argv[1]), Path(argv[2]))
    cfg = parse(argv)
    if cfg.simulate:
        os.environ["NUMBA_ENABLE_CUDASIM"] = "1"  # inherited by every worker it starts
    elif shutil.which("nvidia-smi") is None:
        print("benchmarks/gpu.py: no CUDA GPU here (nvidia-smi not found); --simulate checks the logic on the CPU",
              file=sys.stderr)
        return 2
    outcome = Outcome()
    started = time.monotonic()
    run_harness(plan_cells(cfg), cfg, outcome)
    again = largest_ok(outcome.results)
    if cfg.simulate:  # the logic, not a clock: one dtype keeps the CPU check short
        again = [s for s in again if s.dtype == "float64"]
    run_independent(again, outcome, INDEPENDENT_S)
    outcome.elapsed_s = time.monotonic() - started
    cfg.out.parent.mkdir(parents=True, exist_ok=True)
    cfg.out.write_text(report(outcome, cfg, "python benchmarks/gpu.py " + " ".join(argv)))
    print(f"wrote {cfg.out} ({outcome.elapsed_s:.0f} s)", flush=True)
    bad = {Status.FAILED, Status.CRASHED, Status.TIMEOUT}
    return 1 if any(r.status in bad for r in outcome.results) else 0


if __name__ == "__main__":
    sys.exit(main())
