"""How the terminal app feels, in numbers.

1. Time to first frame: a fresh ``python`` process imports the app, loads the registry and
   shows the setup screen (Textual's Ready event: the first frame is out), measured from the
   moment the process is spawned. Version probes start only after that frame.
2. Key-press latency during a run: a real NumPy sweep (worker process at full CPU) while keys
   are pressed on the run screen; from the key event (as the terminal driver posts it) to its
   action running, and to the new plot being painted.

Run: ``python benchmarks/ui.py [--repeat 5] [--keys 40]``. Headless (no terminal needed).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

FIRST_FRAME_CHILD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from jitscope.core.registry import load_registry
    from jitscope.ui.app import JitscopeApp

    class FirstFrame(JitscopeApp):
        def on_ready(self) -> None:
            print("FIRST-FRAME", time.perf_counter(), flush=True)
            self.exit(0)

    FirstFrame(load_registry(), Path(sys.argv[1]), probe=None).run(headless=True, size=(80, 24))
    """
)


def first_frame(repeat: int, tmp: Path) -> list[float]:
    times = []
    env = dict(os.environ, JITSCOPE_HOME=str(tmp / "home"))
    for _ in range(repeat):
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-c", FIRST_FRAME_CHILD, str(tmp / "ff.sqlite")],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("FIRST-FRAME"):
                times.append(time.perf_counter() - start)
                break
        proc.wait(timeout=60)
    return times


async def key_latency(keys: int, tmp: Path) -> tuple[list[float], list[float], str]:
    os.environ["JITSCOPE_HOME"] = str(tmp / "home")
    from textual import events
    from textual.binding import Binding

    from jitscope.core.model import Phase
    from jitscope.core.registry import load_registry
    from jitscope.runner.plan import Selection
    from jitscope.ui.app import JitscopeApp
    from jitscope.ui.widgets.plot import PlotView

    class Timed(JitscopeApp):
        BINDINGS = [*JitscopeApp.BINDINGS, Binding("f12", "ping", "Ping", show=False)]
        pinged_at = 0.0

        def action_ping(self) -> None:
            self.pinged_at = time.perf_counter()

    selection = Selection(workloads=["mcpi"], backends=[("numpy", None)], sizes=[10_000_000, 30_000_000],
                          budget_s=3.0)
    app = Timed(load_registry(), tmp / "run.sqlite", selection, probe=None)
    handled: list[float] = []
    redrawn: list[float] = []
    phases: set[str] = set()

    def send(key: str, char: str | None) -> None:  # what the terminal driver does with a key
        event = events.Key(key, char)
        event.set_sender(app)
        app._driver.send_message(event)  # type: ignore[union-attr]

    async def until(done, timeout: float = 2.0) -> float:
        start = time.perf_counter()
        while not done() and time.perf_counter() - start < timeout:
            await asyncio.sleep(0.0005)
        return time.perf_counter()

    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("r")
        screen = app.mode_screen("run")
        plot = screen.query_one(PlotView)  # type: ignore[union-attr]
        for _ in range(600):  # until the worker is measuring: its process at full CPU
            job = getattr(screen, "job", None)
            current = job.progress.current if job else None
            if current is not None and current.phase == Phase.MEASURING:
                break
            await pilot.pause(0.05)
        for i in range(keys):
            if not app.running:
                break
            job = screen.job  # type: ignore[union-attr]
            if job and job.progress.current:
                phases.add(job.progress.current.phase.value)
            start = time.perf_counter()
            if i % 2 == 0:
                send("f12", None)
                handled.append(await until(lambda t=start: app.pinged_at >= t) - start)
            else:
                before = plot.renders
                send("p", "p")  # the next plot kind: rebuilt and painted
                redrawn.append(await until(lambda n=before: plot.renders > n) - start)
            await asyncio.sleep(0.05)
        await app.action_quit()
    return handled, redrawn, ", ".join(sorted(phases))


def describe(values: list[float], unit: str = "ms") -> str:
    if not values:
        return "no samples"
    scale = 1000.0 if unit == "ms" else 1.0
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return (f"median {statistics.median(values) * scale:.1f} {unit}, p95 {p95 * scale:.1f} {unit}, "
            f"max {max(values) * scale:.1f} {unit} (n={len(values)})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5, help="fresh processes for the first-frame time")
    parser.add_argument("--keys", type=int, default=40, help="key presses during the run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="jitscope-ui-bench-") as name:
        tmp = Path(name)
        ff = first_frame(args.repeat, tmp)
        print(f"time to first frame (spawn -> setup screen, headless 80x24): {describe(ff, 's')}")
        handled, redrawn, phases = asyncio.run(key_latency(args.keys, tmp))
        print(f"key-press latency during a NumPy run (worker phases: {phases or 'none'}):")
        print(f"  key -> its action ran:        {describe(handled)}")
        print(f"  key -> new plot painted (p):  {describe(redrawn)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
