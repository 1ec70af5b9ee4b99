"""Reading the dtype that really ran from the objects a kernel used or returned.

Backends used to copy the *requested* dtype into their notes; that is an assumption, not an
observation. :func:`dtype_of` looks at the arrays/tensors themselves (NumPy, JAX, torch,
TensorFlow, CuPy all expose ``.dtype``) without importing any of those libraries.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_FLOAT_NAMES = ("float64", "float32", "float16", "bfloat16")


def _name(dtype: Any) -> str | None:
    """'float32' from numpy.dtype('float32'), torch.float32, jnp.float32, tf.float32..."""
    name = getattr(dtype, "name", None)  # numpy / jax / tensorflow dtypes
    text = str(name if isinstance(name, str) else dtype)
    text = text.rsplit(".", 1)[-1].strip("<>' ")  # "torch.float32", "<dtype: 'float32'>"
    if text.startswith("dtype: "):
        text = text[len("dtype: "):].strip("' ")
    return text or None


def _collect(value: Any, found: list[str], depth: int = 0) -> None:
    if depth > 4 or value is None:
        return
    dtype = getattr(value, "dtype", None)
    if dtype is not None and not isinstance(value, type):
        name = _name(dtype)
        if name:
            found.append(name)
        return
    if isinstance(value, Mapping):
        for item in value.values():
            _collect(item, found, depth + 1)
    elif isinstance(value, (list, tuple)) and len(value) <= 64:
        for item in value:
            _collect(item, found, depth + 1)


def dtype_of(value: Any) -> str:
    """The floating dtype found in ``value`` (an array, a tensor, or a tuple/list/dict of
    them). A Python scalar says nothing about what ran and is ignored. Several floating dtypes give e.g. ``"float32+float64"``; no floating data gives
    the integer/other dtype seen, and nothing at all gives ``"unknown"``."""
    found: list[str] = []
    _collect(value, found)
    floats = sorted({n for n in found if n in _FLOAT_NAMES})
    if floats:
        return "+".join(floats)
    others = sorted(set(found))
    return "+".join(others) if others else "unknown"
