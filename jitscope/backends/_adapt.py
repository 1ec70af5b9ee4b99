"""Shared plumbing for the backends' adapters (users' own kernels, docs/design.md §10).

Each backend's adapter knows its library (how to move, cast, jit, sync and fetch); what is
the same everywhere lives here: walking a result that may be an array, a scalar or a tuple,
casting the workload's float64 inputs, and turning a failure to compile into the library's
own message. Light at import: NumPy is imported inside the functions.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from jitscope.core.backend import CellContext


def tree_map(fn: Callable[[Any], Any], value: Any) -> Any:
    """``fn`` on every leaf of a result (tuples and lists walked, order kept)."""
    if isinstance(value, tuple):
        return tuple(tree_map(fn, v) for v in value)
    if isinstance(value, list):
        return [tree_map(fn, v) for v in value]
    return fn(value)


def leaves(value: Any) -> list[Any]:
    """The leaves of a result, in order (for a sync that must wait on each)."""
    out: list[Any] = []
    tree_map(out.append, value)
    return out


def cast_inputs(ctx: CellContext, convert_float: Callable[[Any], Any],
                convert_other: Callable[[Any], Any] | None = None) -> dict[str, Any]:
    """The workload's inputs for the kernel: float arrays through ``convert_float`` (cast to
    the cell's dtype, moved to its device), other arrays through ``convert_other`` (default:
    as they are), scalars as they are (a Python float stays weakly typed in every library).
    Arrays are always copies: the kernel never shares memory with the workload's inputs, so
    a kernel that writes to them cannot change the reference, the in-place check or the
    next fresh copy."""
    np = sys.modules.get("numpy")
    if np is None:  # no input can be an array before NumPy is imported (mcpi's, nodes': numbers)
        return dict(ctx.inputs)
    out: dict[str, Any] = {}
    for name, value in ctx.inputs.items():
        if isinstance(value, np.ndarray):
            if value.dtype.kind == "f":
                out[name] = convert_float(np.array(value, dtype=ctx.dtype, order="C"))
            else:
                own = value.copy()
                out[name] = convert_other(own) if convert_other is not None else own
        else:
            out[name] = value
    return out


def closure_note(fn: Callable[..., Any]) -> str:
    """Why Numba will compile ``fn`` again in every run, or "": a function that reaches a
    helper (or anything) through a closure's free variables is never read back from the
    disk cache (measured: a kernel made by a factory that captures its helper missed the
    cache on every run, while the same kernel calling a module-level ``@numba.njit`` helper
    by its global name hit it from the second run on)."""
    names = getattr(getattr(fn, "__code__", None), "co_freevars", ())
    if not names:
        return ""
    return (f"numba cannot cache this kernel across runs: it reads {', '.join(names)} from a closure; define "
            "helpers at module level (@numba.njit(cache=True)) and call them by name")


def to_numpy(value: Any) -> Any:
    """A host result as NumPy (arrays and lists as arrays, scalars as they are)."""

    def leaf(v: Any) -> Any:
        if isinstance(v, (int, float, complex, bool)):
            return v  # a pure-Python kernel's number: no NumPy loaded for it
        import numpy as np

        return np.asarray(v)

    return tree_map(leaf, value)


def library_message(exc: BaseException, limit: int = 400) -> str:
    """A library's error as one readable line: its type, its message up to the first source
    excerpt, and where (Numba's typing errors run to dozens of lines: the message, then
    ``File "kernels.py", line 12:``, the code, a caret, and ``During: ...`` context)."""
    import re

    keep: list[str] = []
    where = ""
    for raw in str(exc).strip().splitlines():
        line = raw.strip()
        located = re.match(r'File "([^"]+)", line (\d+)', line)
        if located:
            where = f" ({located.group(1).rsplit('/', 1)[-1]}, line {located.group(2)})"
            break
        if line.startswith("During:"):
            break
        if line:
            keep.append(line)
    body = " ".join(keep)
    if len(body) > limit:
        body = body[: limit - 3] + "..."
    return f"{type(exc).__name__}: {body}{where}" if body else type(exc).__name__
