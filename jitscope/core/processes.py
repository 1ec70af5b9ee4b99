"""Whether a process still lives on this machine: the one test behind every sweep of what a
dead jitscope left (worker folders, timing-lock files, runs marked as still running)."""

from __future__ import annotations

import os


def pid_alive(pid: int) -> bool:
    """True unless the kernel says no process has ``pid``. A process of another user answers
    with a permission error: alive. Any other error is not proof of death either, so it
    counts as alive: a sweep that guesses wrong must leave things, never remove a live one's.
    A number too large for a pid (a folder named by hand) is no process."""
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return False
    except OSError:
        return True
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    """A process that has exited but that its parent has not reaped yet still answers
    ``kill(pid, 0)``: it is dead all the same (it holds no lock, writes nothing, will never
    finish a run). Its parent may never reap it — a subreaper that does not know it, an init
    that never waits — so asking the kernel's state (Linux /proc) is the only way to tell."""
    fields = stat_fields(pid)
    return bool(fields) and fields[0] in ("Z", "X")


def stat_fields(pid: int) -> list[str]:
    """/proc/PID/stat after the command name (field 3, the state, first; field 22, the start
    time, at index 19); [] when unknown (no such process, no /proc)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            return fh.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return []
