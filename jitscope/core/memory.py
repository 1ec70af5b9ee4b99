"""Peak resident memory of a cell, read from the kernel (Linux), or honestly unknown.

Linux keeps a process's resident high-water mark (``VmHWM`` in ``/proc/self/status``); writing
``5`` to ``/proc/self/clear_refs`` resets it to the current resident size. So a cell's peak
above its baseline is: reset, note ``VmRSS``, run, read ``VmHWM``. Memory the allocator kept
from earlier work and reuses is not counted (it was resident already); a system without
``clear_refs`` (not Linux, or a restricted container) gives ``None``, never a guess.
"""

from __future__ import annotations

from dataclasses import dataclass

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


@dataclass
class PeakWatch:
    """``start()`` resets the high-water mark and notes the baseline; ``peak_above_baseline()``
    is the growth since (bytes), or None when the kernel offers no reset."""

    baseline: int | None = None
    armed: bool = False

    def start(self) -> None:
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
