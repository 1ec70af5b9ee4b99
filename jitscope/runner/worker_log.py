"""A worker's standard output and error: only the first and last 64 KiB are kept.

Why: the worker's fd 1 and 2 used to be a file in the temp folder; a chatty kernel (10 MB per
call) filled TMPDIR — on many machines /tmp, shared by every user and service — and the cell
failed with ENOSPC, while only the last few lines were ever read back (for a failure's
reason). The kernel must never be stopped or slowed for its output, so its writes never wait
for us:

* Linux: a memfd — an anonymous in-memory file, in no folder — whose middle a thread of ours
  punches out every 50 ms (``fallocate(PUNCH_HOLE)``), so it holds the head, the tail and at
  most what was written since the last pass. The kernel writes to a file, as before; nothing
  copies its bytes.
* elsewhere: a pipe, drained by a thread into a bounded buffer (Linux-like systems without
  hole punching also land here).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import selectors
import threading
from collections.abc import Callable

KEEP_BYTES = 64 * 1024  # of the head, and again of the tail
READ_BYTES = 1 << 20
PIPE_BYTES = 1 << 20  # F_SETPIPE_SZ: a burst of this much never waits for our thread
TAIL_LINES = 4
_F_SETPIPE_SZ = 1031  # linux/fcntl.h


class WorkerLog:
    """What a worker printed, as far as kept. ``open()`` picks the kind for this system;
    ``write_fd`` goes to the worker, then :meth:`close_write_end`; :meth:`close` once it is
    done (what it wrote is then read), then :meth:`tail` / :meth:`text`."""

    write_fd: int | None

    @staticmethod
    def open() -> WorkerLog:
        try:
            return MemoryLog.open()
        except (OSError, AttributeError):  # no memfd or no hole punching here
            return PipeLog.open()

    def close_write_end(self) -> None:
        raise NotImplementedError

    def close(self, wait_s: float = 1.0) -> None:
        raise NotImplementedError

    def kept(self) -> tuple[bytes, bytes, int]:
        """(head, tail, bytes dropped between them)."""
        raise NotImplementedError

    def text(self) -> str:
        """Everything kept, with a line saying how much was not."""
        head, tail, dropped = self.kept()
        cut = f"\n[... {dropped} bytes of output not kept ...]\n".encode() if dropped else b""
        return (head + cut + tail).decode("utf-8", "replace")

    def written(self) -> int:
        """How many bytes the worker has written so far (kept or not): a mark for :meth:`tail`."""
        head, tail, dropped = self.kept()
        return len(head) + dropped + len(tail)

    def tail(self, lines: int = TAIL_LINES, since: int = 0) -> str:
        """The last non-empty lines written after byte ``since`` (a :meth:`written` mark),
        joined by `` | `` (a failure's reason quotes them). The mark keeps an earlier cell's
        output — another workload's warning — out of this cell's reason."""
        head, tail, dropped = self.kept()
        data = tail if dropped else head + tail
        data_starts_at = len(head) + dropped if dropped else 0
        data = data[max(0, since - data_starts_at):]
        text = data[-8192:].decode("utf-8", "replace")
        kept = [line.strip() for line in text.splitlines() if line.strip()][-lines:]
        return " | ".join(kept)[-600:]


class PipeLog(WorkerLog):
    """The worker writes to a pipe; a thread keeps the head and the tail of what it reads."""

    def __init__(self, read_fd: int, write_fd: int) -> None:
        self.write_fd: int | None = write_fd  # for the worker; ours closed after it starts
        self._read_fd: int | None = read_fd
        self._head = bytearray()
        self._tail = bytearray()
        self.dropped = 0
        self._mutex = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._drain, name="jitscope-worker-log", daemon=True)

    @classmethod
    def open(cls) -> PipeLog:  # type: ignore[override]
        read_fd, write_fd = os.pipe()
        with contextlib.suppress(OSError, ImportError):
            import fcntl

            fcntl.fcntl(write_fd, _F_SETPIPE_SZ, PIPE_BYTES)
        log = cls(read_fd, write_fd)
        log._thread.start()
        return log

    def close_write_end(self) -> None:
        """Our copy of the worker's end: closed once the worker has its own (so the pipe
        ends when the worker and everything it started are gone)."""
        if self.write_fd is not None:
            os.close(self.write_fd)
            self.write_fd = None

    def close(self, wait_s: float = 1.0) -> None:
        """Read what is left (up to ``wait_s`` for the end of the output), then stop. A
        grandchild still holding the pipe does not keep us: what the worker wrote is read."""
        self.close_write_end()
        self._thread.join(timeout=wait_s)
        self._stop.set()
        self._thread.join()
        if self._read_fd is not None:
            os.close(self._read_fd)
            self._read_fd = None

    def kept(self) -> tuple[bytes, bytes, int]:
        with self._mutex:
            return bytes(self._head), bytes(self._tail), self.dropped

    # ---- the thread ---------------------------------------------------------------------------
    def _drain(self) -> None:
        assert self._read_fd is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self._read_fd, selectors.EVENT_READ)
            while not self._stop.is_set():
                if not selector.select(timeout=0.1):
                    continue
                try:
                    chunk = os.read(self._read_fd, READ_BYTES)
                except OSError:
                    return
                if not chunk:
                    return
                self._keep(chunk)

    def _keep(self, chunk: bytes) -> None:
        with self._mutex:
            room = KEEP_BYTES - len(self._head)
            if room > 0:
                self._head += chunk[:room]
                chunk = chunk[room:]
            self._tail += chunk
            excess = len(self._tail) - KEEP_BYTES
            if excess > 0:
                del self._tail[:excess]
                self.dropped += excess


_PUNCH_HOLE = 0x01 | 0x02  # FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE (linux/falloc.h)
TRIM_EVERY_S = 0.05
TRIM_AT_LEAST = 1 << 20  # punch when this much has piled up between head and tail


class MemoryLog(WorkerLog):
    """The worker writes to a memfd; a thread punches out all but the head and the tail."""

    def __init__(self, fd: int, punch: Callable[[int, int, int], None]) -> None:
        self.write_fd = fd  # the worker's stdout and stderr: a dup of it, same file offset
        self._fd: int | None = fd
        self._punch = punch
        self._punched_to = 0
        self._page = os.sysconf("SC_PAGE_SIZE")
        self._final: tuple[bytes, bytes, int] | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._trim_loop, name="jitscope-worker-log", daemon=True)

    @classmethod
    def open(cls) -> MemoryLog:  # type: ignore[override]
        punch = _hole_puncher()
        fd = os.memfd_create("jitscope-worker-log", os.MFD_CLOEXEC)
        try:
            punch(fd, 0, os.sysconf("SC_PAGE_SIZE"))  # EOPNOTSUPP here, not mid-run
        except OSError:
            os.close(fd)
            raise
        log = cls(fd, punch)
        log._thread.start()
        return log

    def close_write_end(self) -> None:
        """Nothing to close: our fd is also how we read it back."""

    def close(self, wait_s: float = 1.0) -> None:
        """Keep what is to be kept, in memory, and let the file go."""
        if self._fd is None:
            return
        self._stop.set()
        self._thread.join()
        self._final = self._read_kept()
        os.close(self._fd)
        self._fd = None

    def kept(self) -> tuple[bytes, bytes, int]:
        if self._final is not None:
            return self._final
        return self._read_kept() if self._fd is not None else (b"", b"", 0)

    def _read_kept(self) -> tuple[bytes, bytes, int]:
        assert self._fd is not None
        size = os.fstat(self._fd).st_size
        if size <= 2 * KEEP_BYTES:
            return os.pread(self._fd, size, 0), b"", 0
        # [0, KEEP) is never punched, nor the last KEEP bytes (see _trim)
        return os.pread(self._fd, KEEP_BYTES, 0), os.pread(self._fd, KEEP_BYTES, size - KEEP_BYTES), size - 2 * KEEP_BYTES

    def _trim_loop(self) -> None:
        while not self._stop.wait(TRIM_EVERY_S):
            with contextlib.suppress(OSError):
                self._trim()

    def _trim(self) -> None:
        assert self._fd is not None
        size = os.fstat(self._fd).st_size
        start = max(-(-KEEP_BYTES // self._page) * self._page, self._punched_to)
        end = (size - KEEP_BYTES) // self._page * self._page
        if end - start >= TRIM_AT_LEAST:
            self._punch(self._fd, start, end - start)
            self._punched_to = end


def _hole_puncher() -> Callable[[int, int, int], None]:
    """``fallocate(fd, KEEP_SIZE | PUNCH_HOLE, offset, length)`` from libc (Linux)."""
    libc = ctypes.CDLL(None, use_errno=True)
    fallocate = libc.fallocate
    fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
    fallocate.restype = ctypes.c_int

    def punch(fd: int, offset: int, length: int) -> None:
        if fallocate(fd, _PUNCH_HOLE, offset, length) != 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err))

    return punch
