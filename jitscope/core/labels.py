"""One way to name an implementation, used by every report, plot, table and the baseline.

A variant literally named ``default`` is shown as the bare backend name (``numba``); any
other variant as ``backend:variant`` (``numba:parallel``, ``torch:eager``) — labels need no
registry, so a stored or imported run is labelled the same way everywhere. What a user types
is resolved the other way by :func:`resolve_label`: a bare backend name means that backend's
default variant, whatever it is called (``--baseline torch`` is ``torch:eager``).
"""

from __future__ import annotations

from collections.abc import Mapping

from jitscope.core.model import CellResult, CellSpec, Phase

SIMULATED = "(simulated)"

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


def device_label(device: str, simulated: bool) -> str:
    """``cuda (simulated)`` for a cell that ran in a simulator (numba's CUDA simulator), the
    device name otherwise: what every table, CSV, JSON and plot shows as the device."""
    return f"{device} {SIMULATED}" if simulated else device


def result_device(result: CellResult) -> str:
    """The device a result ran on, as shown: :func:`device_label` of what was observed."""
    return device_label(result.spec.device, result.observed.simulated)


def result_label(result: CellResult, default_variant: str = DEFAULT_VARIANT) -> str:
    """:func:`cell_label` of a result, with a simulated device said so (``numba:cuda@cuda
    (simulated)``): a simulated series or row can never pass for a real one."""
    label = cell_label(result.spec, default_variant)
    return f"{label} {SIMULATED}" if result.observed.simulated else label


def cell_threads(result: CellResult) -> int | None:
    """The thread cap a cell ran with (``--threads``; a CSV import reads its threads column
    into it); None: the libraries' own choice. Never ``info["threads"]`` of a live run: that
    is what a backend noted of its runtime (1 for pure Python, torch's pool), which would make
    a run without any ``--threads`` look like a thread sweep."""
    return result.spec.threads


def split_device_label(text: str) -> tuple[str, bool]:
    """The device and whether it was simulated, from :func:`device_label`'s text (CSV)."""
    suffix = f" {SIMULATED}"
    return (text[: -len(suffix)], True) if text.endswith(suffix) else (text, False)


def resolve_label(text: str, default_variants: Mapping[str, str]) -> str:
    """The label of what a user typed (``torch``, ``numba:parallel``, ``torch@cuda``), with a
    bare backend name taken as its default variant (``default_variants``: backend -> name)."""
    name, at, device = text.partition("@")
    backend, colon, variant = name.partition(":")
    if not colon:
        variant = default_variants.get(backend, DEFAULT_VARIANT)
    return impl_label(backend, variant) + (f"@{device}" if at and device != "cpu" else "")


def phase_word(phase: Phase) -> str:
    """A running cell's phase in the words of what is seen: the first call is ``first call``
    (the engine calls the phase "compiling", but pure Python or NumPy compile nothing; whether
    anything compiled is known only after, in the cell's ``compiled``)."""
    return "first call" if phase == Phase.COMPILING else phase.value
