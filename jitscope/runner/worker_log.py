"""A worker's standard output and error: drained from a pipe, only its head and tail kept.

The worker's fd 1 and 2 are one pipe; a thread of ours reads it as fast as the kernel writes
and keeps the first and the last ``KEEP_BYTES`` in memory, counting what it let go. Why not
a file in the temp folder, as before: a chatty kernel (10 MB per call) filled TMPDIR — on
many machines /tmp, shared by every user and service — and the cell failed with ENOSPC,
while only the last few lines were ever read back (for a failure's reason). Now nothing a
kernel prints reaches the disk, memory stays bounded, and the kernel is never stopped: the
pipe is enlarged where Linux allows, and draining it is a read into a bounded buffer.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import threading

KEEP_BYTES = 64 * 1024  # of the head, and again of the tail
READ_BYTES = 1 << 20
PIPE_BYTES = 1 << 20  # F_SETPIPE_SZ: a burst of this much never waits for our thread
TAIL_LINES = 4
_F_SETPIPE_SZ = 1031  # linux/fcntl.h


class WorkerLog:
    """What a worker printed: ``head``, ``tail``, and how many bytes between them were dropped."""

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
    def open(cls) -> WorkerLog:
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

    def text(self) -> str:
        """Everything kept, with a line saying how much was not."""
        with self._mutex:
            head, tail, dropped = bytes(self._head), bytes(self._tail), self.dropped
        cut = f"\n[... {dropped} bytes of output not kept ...]\n".encode() if dropped else b""
        return (head + cut + tail).decode("utf-8", "replace")

    def tail(self, lines: int = TAIL_LINES) -> str:
        """The last non-empty lines, joined by `` | `` (a failure's reason quotes them)."""
        with self._mutex:
            data = bytes(self._tail) if self.dropped else bytes(self._head + self._tail)
        text = data[-8192:].decode("utf-8", "replace")
        kept = [line.strip() for line in text.splitlines() if line.strip()][-lines:]
        return " | ".join(kept)[-600:]

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
