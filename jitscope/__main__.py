"""``python -m jitscope``: the same as the ``jitscope`` command."""

from jitscope.cli import main

main()
