"""Parsing what users type: sizes, ``-p key=value`` and ``-b name[:variant],...``.

Shared by the CLI and the app's setup screen so both accept exactly the same language.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from jitscope.core.errors import UserError

_SUFFIX = {"k": 10**3, "m": 10**6, "g": 10**9}
_SIZE_RE = re.compile(r"^(\d[\d_]*)([kKmMgG]?)$|^(\d+(?:\.\d+)?)[eE](\d+)$")


def parse_size(text: str) -> int:
    """``100``, ``1_000``, ``10k``, ``2M``, ``1e6`` -> int; anything else is a UserError."""
    raw = text.strip()
    match = _SIZE_RE.match(raw)
    if not match:
        raise UserError(f"size {text!r} is not a positive integer (try 1000, 10k, 1e6)")
    if match.group(1) is not None:
        value = int(match.group(1).replace("_", "")) * _SUFFIX.get(match.group(2).lower(), 1)
    else:
        mantissa, exponent = match.group(3), int(match.group(4))
        if exponent > 15:
            raise UserError(f"size {text!r} is absurdly large")
        scaled = float(mantissa) * 10**exponent
        if scaled != int(scaled):
            raise UserError(f"size {text!r} is not a whole number")
        value = int(scaled)
    if value <= 0:
        raise UserError(f"size {text!r} must be positive")
    return value


def parse_sizes(texts: Iterable[str]) -> list[int]:
    """Comma-separated lists, possibly repeated: ``-s 2,10 -s 100``. Empty is an error."""
    sizes: list[int] = []
    for text in texts:
        parts = [p for p in text.split(",")]
        if not text.strip() or any(not p.strip() for p in parts):
            raise UserError(f"sizes {text!r} contain an empty entry (write e.g. -s 2,10,100)")
        sizes.extend(parse_size(p) for p in parts)
    seen: list[int] = []
    for s in sizes:
        if s not in seen:
            seen.append(s)
    return seen


_WORD = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")


def parse_size_requests(texts: Iterable[str]) -> dict[str, list[int | str]]:
    """``-s S,M`` (presets), ``-s 1e6`` and ``-s crc16=1e6,1e7`` (sizes meant for one
    workload: the whole comma list after ``NAME=``) -> {workload name or "": requests}.
    A word is a preset name, checked against the workload later; a number is a size."""
    out: dict[str, list[int | str]] = {}
    for text in texts:
        name, sep, rest = text.partition("=")
        target, body = (name.strip(), rest) if sep else ("", text)
        if sep and not _WORD.match(target):
            raise UserError(f"sizes {text!r}: {target!r} is not a workload name (write e.g. -s crc16=1e6,1e7)")
        parts = body.split(",")
        if not body.strip() or any(not p.strip() for p in parts):
            raise UserError(f"sizes {text!r} contain an empty entry (write e.g. -s 2,10,100)")
        wanted = out.setdefault(target, [])
        for part in (p.strip() for p in parts):
            token: int | str = part if _WORD.match(part) else parse_size(part)
            if token not in wanted:
                wanted.append(token)
    return out


def parse_params(texts: Iterable[str]) -> dict[str, str]:
    """``-p epochs=100 -p p=0.3`` -> raw strings; each workload parses its own values."""
    params: dict[str, str] = {}
    for text in texts:
        key, sep, value = text.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise UserError(f"parameter {text!r} is not key=value (e.g. -p epochs=100)")
        params[key.strip()] = value.strip()
    return params


def parse_backend_specs(texts: Iterable[str]) -> list[tuple[str, str | None]]:
    """``-b numpy,numba:parallel -b jax`` -> [(numpy, None), (numba, parallel), (jax, None)].

    ``None`` means the backend's default variant; ``*`` means every variant.
    """
    specs: list[tuple[str, str | None]] = []
    for text in texts:
        for part in text.split(","):
            part = part.strip()
            if not part:
                raise UserError(f"backends {text!r} contain an empty entry (write e.g. -b numpy,numba)")
            name, sep, variant = part.partition(":")
            if sep and not variant:
                raise UserError(f"backend {part!r} names no variant after ':'")
            spec = (name.strip(), variant.strip() if sep else None)
            if spec not in specs:
                specs.append(spec)
    return specs


def split_list(texts: Iterable[str]) -> list[str]:
    """``-w linreg,mcpi -w lu`` -> [linreg, mcpi, lu] (order kept, duplicates dropped)."""
    out: list[str] = []
    for text in texts:
        for part in text.split(","):
            part = part.strip()
            if part and part not in out:
                out.append(part)
    return out
