"""Kernel files as a user writes them, for the tests that run one with ``-w``.

The smallest honest one, a workload whose kernel doubles its input, was written out again
in each test that needed a file to load; it lives here once, with what those tests vary."""

from __future__ import annotations


def doubling_file(name: str = "double", backend: str = "numpy", size: int = 10, before: str = "") -> str:
    """The text of a kernel file: workload ``name`` (one input ``x``, standard normal, sizes
    ``(size,)``) whose reference and ``backend`` kernel both return ``2.0 * x``. ``before``:
    lines the file runs first (an import, a slow load)."""
    return f'''{before}
import jitscope

{name} = jitscope.workload("{name}", inputs=lambda n, rng: {{"x": rng.standard_normal(n)}}, sizes=({size},))

@{name}.reference
def _(x):
    return 2.0 * x

@{name}.kernel("{backend}")
def _(x):
    return 2.0 * x
'''
