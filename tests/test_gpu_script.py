"""benchmarks/gpu.py end to end without a GPU (``--simulate``: numba's CUDA simulator and
Triton's interpreter at tiny sizes): every cell checked and reported, the independent clock
run on the same kernels, the report saying SIMULATED and never judging a simulated timing;
and on a machine without a GPU, the real mode refuses in one line instead of timing nothing."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

SCRIPT = str(ROOT / "benchmarks" / "gpu.py")

if importlib.util.find_spec("numba") is None or importlib.util.find_spec("triton") is None:
    pytest.skip("numba and triton are needed for the simulated GPU check", allow_module_level=True)


def _script(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in __import__("os").environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    return subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True, timeout=300,
                          stdin=subprocess.DEVNULL, env={**env, "JITSCOPE_HOME": str(home)})


def _table(text: str, heading: str) -> list[list[str]]:
    """The rows of the Markdown table under ``heading``, as lists of cells."""
    section = text.split(f"## {heading}", 1)[1].split("\n## ", 1)[0]
    rows = [line.strip("|").split("|") for line in section.splitlines() if line.startswith("| ")]
    return [[c.strip() for c in row] for row in rows[1:]]  # without the header


@pytest.mark.slow
def test_simulated_run_checks_every_kernel_and_reports_it(tmp_path: Path) -> None:
    out = tmp_path / "gpu.md"
    proc = _script("--simulate", "--budget", "0.01", "--out", str(out), home=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "[ 16/16" in proc.stdout  # progress: one line per finished cell
    text = out.read_text()
    assert "**SIMULATED**" in text
    cells = _table(text, "Results")
    numba = [c for c in cells if c[1] == "numba:cuda"]
    assert len(numba) == 8 and all(c[2] == "cuda (simulated)" and c[5] == "ok" and "≤" in c[7] for c in numba)
    triton = [c for c in cells if c[1] == "triton:interpreter"]
    assert sorted(c[5] for c in triton) == ["ok"] * 6 + ["skipped"] * 2  # no nodes kernel in Triton
    agreement = _table(text, "Does the harness agree with an independent clock?")
    assert len(agreement) == 7  # one per implementation and workload that ran ok (float64 when simulated)
    assert all("perf_counter" in row[6] and row[8] == "n/a (simulated)" for row in agreement), agreement
    assert "- torch:compile: needs a real CUDA GPU" in text


@pytest.mark.skipif(shutil.which("nvidia-smi") is not None, reason="a CUDA GPU may be here")
def test_the_real_mode_without_a_gpu_says_so_in_one_line(tmp_path: Path) -> None:
    proc = _script("--out", str(tmp_path / "gpu.md"), home=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "--simulate" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "gpu.md").exists()


def test_bad_numbers_are_one_line_and_exit_2(tmp_path: Path) -> None:
    proc = _script("--simulate", "--budget", "nan", home=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and "--budget" in proc.stderr
