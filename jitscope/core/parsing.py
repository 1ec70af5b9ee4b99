"""Parsing what users type: sizes, ``-p key=value``, ``-b name[:variant],...`` and the sweep
axes (``--threads 1,2,4``, ``--dtype float32,float64``, ``--device cpu,cuda``).

Shared by the CLI and the app's setup screen so both accept exactly the same language.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

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


def _entries(texts: Iterable[str], what: str, example: str) -> list[str]:
    """The comma-separated entries of a repeatable option, duplicates dropped (as ``-s``)."""
    out: list[str] = []
    for text in texts:
        parts = [p.strip() for p in text.split(",")]
        if not all(parts):
            raise UserError(f"{what} {text!r} contains an empty entry (write e.g. {what} {example})")
        out.extend(p for p in parts if p not in out)
    return out


def parse_threads(texts: Iterable[str], what: str = "threads") -> list[int]:
    """``--threads 1,2,4`` (or repeated) -> [1, 2, 4]; ``what`` names the option in a message.
    Empty: no thread cap asked. Whether each is at least 1 is the planner's rule (check_options)."""
    counts: list[int] = []
    for part in _entries(texts, what, "1,2,4"):
        try:
            value = int(part)
        except ValueError:
            raise UserError(f"{what} {part!r} is not a whole number (write e.g. {what} 1,2,4)") from None
        if value not in counts:
            counts.append(value)
    return counts


def parse_choices(texts: Iterable[str], allowed: Sequence[str], what: str) -> list[str]:
    """``--dtype float32,float64`` -> each a known value, in the order given; empty: none asked
    (the caller's default)."""
    chosen = _entries(texts, what, ",".join(allowed))
    for value in chosen:
        if value not in allowed:
            raise UserError(f"{what} {value!r} is not one of {', '.join(allowed)}")
    return chosen


def split_list(texts: Iterable[str]) -> list[str]:
    """``-w linreg,mcpi -w lu`` -> [linreg, mcpi, lu] (order kept, duplicates dropped)."""
    out: list[str] = []
    for text in texts:
        for part in text.split(","):
            part = part.strip()
            if part and part not in out:
                out.append(part)
    return out
