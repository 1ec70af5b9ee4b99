"""Errors meant for the user: one line, no traceback, exit code 2 at the CLI."""

from __future__ import annotations


class UserError(Exception):
    """Bad input the user can fix (unknown workload, malformed size, unwritable path...).

    The message must make sense on its own, on one line, and say what would be accepted.
    """


class PluginError(UserError):
    """A plugin (entry point or ``-w file.py``) failed to load; names the source and the cause."""
