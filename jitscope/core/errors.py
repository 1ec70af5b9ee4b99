"""Errors meant for the user: one line, no traceback, exit code 2 at the CLI."""

from __future__ import annotations


class UserError(Exception):
    """Bad input the user can fix (unknown workload, malformed size, unwritable path...).

    The message must make sense on its own, on one line, and say what would be accepted.
    """


class PluginError(UserError):
    """A plugin (entry point or ``-w file.py``) failed to load; names the source and the cause."""


class StopRequested(BaseException):  # noqa: N818 - a request, like KeyboardInterrupt
    """A stop the user asked for (a signal turned into an exception): never a plugin's
    failure, so code that turns whatever a plugin raised into an error lets it through."""
