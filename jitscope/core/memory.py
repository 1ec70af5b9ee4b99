"""Peak resident memory of a cell, read from the kernel (Linux), or honestly unknown.

Linux keeps a process's resident high-water mark (``VmHWM`` in ``/proc/self/status``); writing
``5`` to ``/proc/self/clear_refs`` resets it to the current resident size. A cell's peak is
measured as: collect Python's garbage and hand the C allocator's free memory back to the
system (``malloc_trim``), reset the mark, note ``VmRSS`` (the *baseline*), run, read ``VmHWM``.

The baseline is what is live just before the cell's transfer: the interpreter, the imported
libraries and what earlier cells compiled, this cell's float64 inputs, the reference answer and
the built kernel. The peak above it covers the transfer (device or dtype copies), the first
call (compilation memory included), the warm-up and the sampling. Without the trim, memory an
earlier cell (or the reference) freed but the allocator kept resident would be reused unseen:
numpy lu n=2000 read 64 MB as a worker's first cell and 32 MB as its second. With it, the
same cell reads the same wherever it runs.

A system without ``clear_refs`` (not Linux, or a restricted container) gives ``None``, never a
guess; without ``malloc_trim`` (not glibc) the peak is still read, but can be low as above.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass
from typing import Any

_STATUS = "/proc/self/status"
_CLEAR_REFS = "/proc/self/clear_refs"


def _status_kib(field: str) -> int | None:
    try:
        with open(_STATUS, encoding="ascii") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def resident_bytes() -> int | None:
    kib = _status_kib("VmRSS")
    return kib * 1024 if kib is not None else None


def release_free_heap() -> bool:
    """Give memory the C allocator holds free back to the system (glibc's ``malloc_trim``),
    so that a cell which allocates must fault pages in and show up in ``VmHWM``, whatever an
    earlier cell or the reference left free. False where there is no ``malloc_trim``."""
    global _malloc_trim
    if _malloc_trim is None:
        try:
            import ctypes

            _malloc_trim = ctypes.CDLL(None).malloc_trim
        except (OSError, AttributeError):
            _malloc_trim = False
    if _malloc_trim is False:
        return False
    _malloc_trim(0)
    return True


_malloc_trim: Any = None


@dataclass
class PeakWatch:
    """``start()`` resets the high-water mark and notes the baseline; ``peak_above_baseline()``
    is the growth since (bytes), or None when the kernel offers no reset."""

    baseline: int | None = None
    armed: bool = False

    def start(self) -> None:
        gc.collect()  # garbage of earlier cells is not this cell's baseline
        release_free_heap()
        try:
            with open(_CLEAR_REFS, "w", encoding="ascii") as fh:
                fh.write("5")
        except OSError:
            self.armed = False
            return
        self.baseline = resident_bytes()
        self.armed = self.baseline is not None

    def peak_above_baseline(self) -> int | None:
        if not self.armed or self.baseline is None:
            return None
        hwm = _status_kib("VmHWM")
        if hwm is None:
            return None
        return max(0, hwm * 1024 - self.baseline)
