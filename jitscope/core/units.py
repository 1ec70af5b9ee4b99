"""Human-readable numbers shared by the CLI table, the plots, the app and Markdown export."""

from __future__ import annotations

import math


def fmt_seconds(value: float) -> str:
    if value <= 0 or not math.isfinite(value):
        return "0"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6), ("ns", 1e-9)):
        if value >= scale * 0.9995:
            return f"{value / scale:.3g}{unit}"
    return f"{value * 1e9:.2g}ns"


def fmt_number(value: float) -> str:
    if value == 0 or not math.isfinite(value):
        return str(value)
    exponent = math.floor(math.log10(abs(value)))
    if -3 <= exponent <= 5:
        return f"{value:.4g}"
    mantissa = value / 10**exponent
    return f"1e{exponent}" if abs(mantissa - 1) < 1e-9 else f"{mantissa:.2g}e{exponent}"


def fmt_size(value: float) -> str:
    """The one way a problem size is written (tables, axes, the grid, Setup, the CLI): a round
    size from 1000 up as ``1e3``, ``3e3``, ``2.5e4``, ``1.28e5`` (the form ``-s`` takes), any
    other size in full (``64``, ``1024``, ``12345``), so a sweep never mixes ``3000`` and ``1e4``."""
    if not math.isfinite(value):
        return str(value)
    if float(value).is_integer():
        whole = int(value)
        if whole >= 1000:
            mantissa, exponent = f"{whole:.2e}".split("e")
            short = f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"
            if float(short) == whole:
                return short
        return str(whole)
    return f"{value:g}"


def fmt_bytes(value: float | None) -> str:
    """``31MiB``, ``512KiB``, ``0B``; empty for an unknown (None) amount."""
    if value is None or not math.isfinite(value):
        return ""
    amount = float(value)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(amount) < 1024 or unit == "TiB":
            return f"{amount:.3g}{unit}" if unit != "B" else f"{int(amount)}B"
        amount /= 1024
    return f"{amount:.3g}TiB"


def fmt_ratio(value: float) -> str:
    """A speed-up: ``1.00x``, ``0.16x``, ``250x``; a tiny one keeps two significant digits
    (``0.0011x``) rather than reading ``0.00x``, which would say "no speed at all"."""
    if not math.isfinite(value) or value <= 0:
        return ""
    if value >= 100:
        return f"{value:.0f}x"
    if value >= 0.01:
        return f"{value:.2f}x"
    return f"{value:.2g}x"
