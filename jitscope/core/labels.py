"""One way to name an implementation, used by every report, plot, table and the baseline.

A backend's default variant is shown as the bare backend name (``numba``, ``torch``); any
other variant as ``backend:variant``. The default variant is a property of the backend
(torch's is ``eager``, most others' ``default``), so the name for a cell depends on it:
callers that know the registry pass it; :data:`DEFAULT_VARIANTS` covers the rest.
"""

from __future__ import annotations

from jitscope.core.model import CellSpec

DEFAULT_VARIANT = "default"


def impl_label(backend: str, variant: str, default_variant: str = DEFAULT_VARIANT) -> str:
    """``numba`` for numba's default variant, ``numba:parallel`` for another one."""
    return backend if variant in (default_variant, DEFAULT_VARIANT) else f"{backend}:{variant}"


def cell_label(spec: CellSpec, default_variant: str = DEFAULT_VARIANT, *, device: bool = True) -> str:
    """The implementation label plus ``@device`` when the cell did not run on the CPU."""
    label = impl_label(spec.backend, spec.variant, default_variant)
    if device and spec.device != "cpu":
        label += f"@{spec.device}"
    return label
