"""How often does ``jitscope compare`` cry wolf, and how often does it catch a real change?

Each round makes three real runs (``jitscope run``, fresh worker processes, NumPy backend,
each workload's default sizes: linreg 2/10/100, lu 10/64/256, mcpi 1e4/1e5/1e6):

* **A1** and **A2**: the same configuration twice: every pair of cells is an A/A trial,
  where any verdict but "no significant change" is a false alarm;
* **B**: the same with ``-p epochs=24``: linreg does 20% more work (24 gradient-descent
  epochs instead of 20) and each of its cells is an A/B trial that should say "slower"; lu and
  mcpi have no ``epochs`` and are further A/A trials.

Both comparisons are made as ``jitscope compare`` makes them (``--ignore-param epochs`` so B's
linreg cells pair with A's). Counted twice: under the default rule (an unstable cell is not
comparable) and with ``--allow-unstable`` (every ok cell gets a verdict). The false-positive
rate is faster+slower over A/A trials with a verdict; the detection rate is slower over A/B
trials with a verdict. The machine's CPU pressure before and after says how quiet it was.

Each cell runs in ``--processes`` worker processes (jitscope's default: 3 from a 0.3 s budget
on), and ``compare`` then takes the process as the unit; ``--processes 1`` gives the rates of
one process per cell, as before issue 20 item 5.

    python benchmarks/compare_aa.py [--rounds 3] [--budget 0.3] [--threshold 5] [--threads 1] [--processes N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from jitscope.core.contention import cpu_pressure
from jitscope.core.environment import cpu_model
from jitscope.results.compare import CompareOptions, Comparison, compare_sides, load_side

RUN = ("run", "-w", "linreg", "-w", "lu", "-w", "mcpi", "-b", "numpy", "--no-plot")
MORE_WORK = ("-p", "epochs=24")  # linreg: 20% more epochs than its default 20
VERDICTS = ("faster", "slower", "no significant change", "no verdict", "not comparable")


@dataclass
class Tally:
    """Verdicts of one kind of trial (A/A or A/B) under one rule."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(VERDICTS, 0))
    ratios: list[float] = field(default_factory=list)

    def add(self, verdict: str, ratio: float | None) -> None:
        self.counts[verdict] = self.counts.get(verdict, 0) + 1
        if ratio is not None:
            self.ratios.append(ratio)

    @property
    def judged(self) -> int:
        return self.counts["faster"] + self.counts["slower"] + self.counts["no significant change"]

    def rate(self, *verdicts: str) -> str:
        if not self.judged:
            return "n/a"
        hits = sum(self.counts[v] for v in verdicts)
        return f"{hits}/{self.judged} = {hits / self.judged:.0%}"

    def spread(self) -> str:
        if not self.ratios:
            return ""
        return f"{min(self.ratios):.3f}-{max(self.ratios):.3f} (median {statistics.median(self.ratios):.3f})"


@dataclass
class Trials:
    aa: Tally = field(default_factory=Tally)
    ab: Tally = field(default_factory=Tally)


def jitscope_run(db: Path, home: Path, out: Path, budget: float, *extra: str) -> Path:
    cmd = [sys.executable, "-m", "jitscope.cli", *RUN, "--budget", str(budget), "--db", str(db),
           "--json", str(out), *extra]
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "JITSCOPE_HOME": str(home)},
                          stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        sys.exit(f"jitscope run failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")
    return out


def tally(comparison: Comparison, trials: Trials) -> None:
    for pair in comparison.pairs:
        if pair.a is None or pair.b is None:
            continue
        more_work = pair.key.workload == "linreg" and dict(pair.b.spec.params).get("epochs") == 24
        kind = trials.ab if more_work else trials.aa
        kind.add(pair.verdict, pair.change.ratio if pair.change else None)


def one_round(folder: Path, args: argparse.Namespace, strict: Trials, allowed: Trials) -> None:
    db, home = folder / "runs.sqlite", folder / "home"
    extra = (("--threads", str(args.threads)) if args.threads else ()) + (
        ("--processes", str(args.processes)) if args.processes else ())
    a1 = jitscope_run(db, home, folder / "a1.json", args.budget, *extra)
    a2 = jitscope_run(db, home, folder / "a2.json", args.budget, *extra)
    b = jitscope_run(db, home, folder / "b.json", args.budget, *extra, *MORE_WORK)
    side_a1, side_a2, side_b = (load_side(str(p), db) for p in (a1, a2, b))
    for allow, trials in ((False, strict), (True, allowed)):
        options = CompareOptions(args.threshold / 100, allow, ("epochs",))
        tally(compare_sides(side_a1, side_a2, options), trials)
        tally(compare_sides(side_a1, side_b, options), trials)


def report(name: str, trials: Trials) -> None:
    print(f"\n{name}")
    print(f"  {'':5} {'trials':>6} {'faster':>6} {'slower':>6} {'same':>5} {'no verdict':>10} "
          f"{'not comp.':>9}  rate{'':14} B/A medians")
    for label, t, rate in (("A/A", trials.aa, t_rate(trials.aa, "faster", "slower")),
                           ("A/B", trials.ab, t_rate(trials.ab, "slower"))):
        c = t.counts
        total = sum(c.values())
        print(f"  {label:5} {total:>6} {c['faster']:>6} {c['slower']:>6} {c['no significant change']:>5} "
              f"{c['no verdict']:>10} {c['not comparable']:>9}  {rate:18} {t.spread()}")


def t_rate(t: Tally, *verdicts: str) -> str:
    return ("false alarms " if "faster" in verdicts else "detected ") + t.rate(*verdicts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--budget", type=float, default=0.3, help="seconds of sampling per cell")
    parser.add_argument("--threshold", type=float, default=5.0, help="per cent, as compare --threshold")
    parser.add_argument("--threads", type=int, default=None, help="--threads for every run (default: the libraries')")
    parser.add_argument("--processes", type=int, default=None, help="--processes for every run (default: jitscope's)")
    args = parser.parse_args()
    print(f"machine: {cpu_model()}, {os.cpu_count()} cores; load {os.getloadavg()[0]:.2f}; "
          f"CPU pressure {cpu_pressure()}")
    print(f"{args.rounds} rounds x (A1, A2, B=epochs 24) x 9 numpy cells, budget {args.budget} s, "
          f"threshold {args.threshold:g}%, threads {args.threads or 'library default'}, "
          f"processes {args.processes or 'jitscope default'}")
    strict, allowed = Trials(), Trials()
    for r in range(args.rounds):
        with tempfile.TemporaryDirectory(prefix="jitscope-aa-") as tmp:
            one_round(Path(tmp), args, strict, allowed)
        print(f"  round {r + 1} done; CPU pressure {cpu_pressure()}", flush=True)
    report("default rule (unstable cells are not comparable)", strict)
    report("--allow-unstable (every ok cell gets a verdict)", allowed)
    print(f"\nafter: load {os.getloadavg()[0]:.2f}; CPU pressure {cpu_pressure()}")


if __name__ == "__main__":
    main()
