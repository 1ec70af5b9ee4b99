"""The versioned JSON-lines protocol between the supervisor and a worker process.

The worker writes one JSON object per line to a pipe of its own (``--channel-fd``), never to
stdout: a backend that prints, or a C library that writes to fd 1, cannot corrupt it. The job
arrives as a JSON file named on the command line; stdin is /dev/null.

Messages (every one carries ``"v": PROTOCOL_VERSION``):
  {"type": "hello", "pid": int, "backend": str, "device": str, "info": {...}}
  {"type": "phase", "cell": int, "phase": "compiling"|..., "fraction": float}
  {"type": "result", "cell": int, "result": CellResult.to_json()}
  {"type": "bye"}
"""

from __future__ import annotations

import json
import math
from typing import Any

PROTOCOL_VERSION = 1
MAX_LINE_BYTES = 4 * 1024 * 1024


class ProtocolError(ValueError):
    """A line that is not a well-formed message of our version."""


def _clean(value: Any) -> Any:
    """JSON has no NaN/inf: encode them as strings so they survive the trip."""
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def encode(message: dict[str, Any]) -> bytes:
    payload = dict(message)
    payload["v"] = PROTOCOL_VERSION
    return (json.dumps(_clean(payload), default=str) + "\n").encode()


def decode(line: bytes) -> dict[str, Any]:
    try:
        message = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProtocolError(f"not JSON: {line[:80]!r} ({exc})") from None
    if not isinstance(message, dict) or "type" not in message:
        raise ProtocolError(f"not a message object: {line[:80]!r}")
    if message.get("v") != PROTOCOL_VERSION:
        raise ProtocolError(f"protocol version {message.get('v')!r}, expected {PROTOCOL_VERSION}")
    return message


def restore_floats(value: Any) -> Any:
    """Undo :func:`_clean` for the float fields a result carries."""
    if isinstance(value, str) and value in ("nan", "inf", "-inf"):
        return float(value)
    if isinstance(value, dict):
        return {k: restore_floats(v) for k, v in value.items()}
    if isinstance(value, list):
        return [restore_floats(v) for v in value]
    return value
