"""Text that came from outside (a user, a plugin, a worker's error) made safe to display.

Terminal control characters (ESC sequences, BEL, backspace, carriage returns...) in a cell's
reason or a run label could rewrite the user's terminal; they are replaced here. Escaping of
Rich/Textual markup is the presentation layer's job (``rich.markup.escape``) and happens
there, on top of this.
"""

from __future__ import annotations

import re

# C0 controls except tab and newline, DEL, and the C1 range (which some terminals obey).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: object) -> str:
    """``text`` as a string with every terminal control character shown as U+FFFD."""
    return _CONTROL.sub("\ufffd", str(text))
