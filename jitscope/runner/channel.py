"""A worker's protocol channel, both ends: JSON lines on a pipe of its own.

The worker writes with :class:`ChannelWriter`; every place that talks to a worker (the
supervisor's cells, the backend version probe) reads with :class:`ChannelReader`, never
blocking for long, so line framing, the size limit and end-of-file are handled once.
"""

from __future__ import annotations

import os
import selectors
from typing import Any

from jitscope.runner.protocol import MAX_LINE_BYTES, ProtocolError, decode, encode


class ChannelWriter:
    """The worker's end: each message one whole line, written however many writes it takes."""

    def __init__(self, fd: int) -> None:
        self._fd = fd

    def send(self, message: dict[str, Any]) -> None:
        view = memoryview(encode(message))
        while view:
            written = os.write(self._fd, view)
            view = view[written:]


class ChannelReader:
    """Non-blocking reader of one worker's channel fd (which it owns and closes)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.closed = False  # the worker closed its end (exited, or closed the fd itself)
        self._buffer = b""
        self._selector: selectors.BaseSelector | None = selectors.DefaultSelector()
        self._selector.register(fd, selectors.EVENT_READ)

    def poll(self, timeout: float) -> list[dict[str, Any]]:
        """Wait up to ``timeout`` seconds for data; return the complete messages read.

        Raises ProtocolError for a line that is not a message of our version, or one longer
        than ``MAX_LINE_BYTES``. After end-of-file it returns at once (sleeping ``timeout``
        so callers polling a closed channel do not spin).
        """
        if self.closed or self._selector is None:
            import time

            time.sleep(timeout)
            return []
        if self._selector.select(timeout=timeout):
            chunk = os.read(self.fd, 65536)
            if chunk == b"":
                self.closed = True
                self._selector.unregister(self.fd)
            self._buffer += chunk
        messages: list[dict[str, Any]] = []
        while b"\n" in self._buffer:
            line, self._buffer = self._buffer.split(b"\n", 1)
            if line.strip():
                messages.append(decode(line))
        if len(self._buffer) > MAX_LINE_BYTES:
            raise ProtocolError(f"a line longer than {MAX_LINE_BYTES} bytes")
        return messages

    def drain(self) -> list[dict[str, Any]]:
        """Every message that can be read now, without waiting for more (after the worker
        exited: what it wrote before, even while a process it forked keeps the pipe open)."""
        messages: list[dict[str, Any]] = []
        while not self.closed and self._selector is not None and self._selector.select(timeout=0):
            messages += self.poll(0)
        return messages

    def close(self) -> None:
        if self._selector is not None:
            self._selector.close()
            self._selector = None
            os.close(self.fd)
