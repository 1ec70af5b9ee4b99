"""`jitscope backends NAME...`: the table for some backends, probing only those."""

from __future__ import annotations

from cli_support import assert_clean_error, jitscope


def test_named_backends_are_the_only_rows_and_the_only_probes() -> None:
    proc = jitscope("backends", "python", "numpy", columns=250, timeout=120)
    assert proc.returncode == 0, proc.stderr
    rows = [line.split("│")[1].strip() for line in proc.stdout.splitlines() if line.startswith("│ ")]
    assert rows == ["numpy", "python"], proc.stdout
    numpy_row = next(line for line in proc.stdout.splitlines() if line.startswith("│ numpy "))
    assert "blas:" in numpy_row, numpy_row  # what only numpy's probe (its worker) reports


def test_an_unknown_backend_name_is_one_line_and_exit_2() -> None:
    assert_clean_error(jitscope("backends", "numbaa"), "unknown backend 'numbaa'")
