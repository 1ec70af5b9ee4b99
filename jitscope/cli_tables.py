"""Tables that fit the terminal: key columns always, the rest only while they fit.

Rich squeezes a table that is too wide by cutting cells to ``6…`` or wrapping headers letter
by letter; a benchmark table cut that way says nothing. We choose columns instead.
"""

from __future__ import annotations

from collections.abc import Sequence


def choose_columns(rows: Sequence[dict[str, str]], key: Sequence[str], optional: Sequence[str], width: int) -> list[str]:
    """Key columns always; optional ones in priority order while the table fits ``width``."""
    def need(col: str) -> int:
        return max([len(col), *(len(row.get(col, "")) for row in rows)])

    chosen = list(key)
    total = sum(need(c) for c in chosen) + 2 * (len(chosen) - 1)
    for col in optional:
        if not any(row.get(col) for row in rows):
            continue
        if total + 2 + need(col) <= width:
            chosen.append(col)
            total += 2 + need(col)
    return chosen
