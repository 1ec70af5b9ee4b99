"""The terminal app (Textual): ``jitscope`` with no subcommand. See :mod:`jitscope.ui.app`."""

from pathlib import Path

STYLES = Path(__file__).resolve().parent  # the style sheets (*.tcss), packaged next to this file
