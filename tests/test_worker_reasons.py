"""A killed worker's reason is its own (issue 24, item 8): what is known about how it died,
and only the output of the cell that was running, never an earlier cell's from another
workload that the same worker ran first."""

from __future__ import annotations

from pathlib import Path

from cli_support import run_json_cells

TWO_WORKLOADS = '''
import os, signal, sys
import jitscope

chatty = jitscope.workload("chatty", inputs=lambda n, rng: {"x": rng.standard_normal(n)}, sizes=(8,))

@chatty.reference
def _(x):
    return x * 2.0

@chatty.kernel("numpy")
def _(x):
    print("WARNING from chatty: something about chatty", file=sys.stderr, flush=True)
    return x * 2.0

killed = jitscope.workload("killed", inputs=lambda n, rng: {"x": rng.standard_normal(n)}, sizes=(8,))

@killed.reference
def _(x):
    return x * 2.0

@killed.kernel("numpy")
def _(x):
    print("killed starts", file=sys.stderr, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
'''


def test_a_killed_cell_says_what_is_known_and_never_quotes_an_earlier_cells_output(tmp_path: Path) -> None:
    kernels = tmp_path / "kernels.py"
    kernels.write_text(TWO_WORKLOADS, encoding="utf-8")
    cells = run_json_cells(tmp_path, "-w", str(kernels), "-b", "numpy", "-s", "8")
    by_workload = {c["spec"]["workload"]: c for c in cells}
    assert by_workload["chatty"]["status"] == "ok"
    reason = by_workload["killed"]["reason"]
    assert by_workload["killed"]["status"] == "crashed", reason
    assert "SIGKILL" in reason and "out of memory" in reason, reason
    assert "killed starts" in reason, reason  # its own output is still quoted
    assert "WARNING from chatty" not in reason, reason
