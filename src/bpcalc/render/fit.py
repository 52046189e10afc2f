"""Fitting tables to a printed page: the width of a table's columns in characters, and a table too wide for a page
split into parts of its columns, each repeating the leading column (the one that names the row)."""

from __future__ import annotations

import unicodedata

from bpcalc.i18n import _
from bpcalc.render.doc import Cell, Table, text_of


def display_width(s: str) -> int:
    """Columns `s` takes: wide (CJK) characters two, combining marks none."""
    w = 0
    for ch in s:
        if unicodedata.combining(ch):
            continue
        w += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return w


def cell_width(c: Cell) -> int:
    """The widest line of a cell, in characters."""
    return max((display_width(line) for line in text_of(c).split("\n")), default=0)


def column_widths(t: Table, width=cell_width) -> list:
    """Each column's width: the widest of its header and cells, as `width` measures a cell."""
    widths = [width(h) for h in t.columns]
    for r in t.rows:
        for i, c in enumerate(r[:len(widths)]):
            widths[i] = max(widths[i], width(c))
    return widths


def split_columns(t: Table, fits, key: int = 1, width=cell_width) -> list[Table]:
    """The table as parts of its columns for which `fits(widths)` holds, each repeating the first `key` columns
    (the table itself when it fits). `fits` takes the widths of a part's columns, as `width` measures a cell."""
    widths = column_widths(t, width)
    if fits(widths) or len(t.columns) <= key + 1:
        return [t]
    groups: list[list[int]] = []
    current: list[int] = []
    for i in range(key, len(t.columns)):
        trial = current + [i]
        if current and not fits([widths[k] for k in range(key)] + [widths[k] for k in trial]):
            groups.append(current)
            current = [i]
        else:
            current = trial
    if current:
        groups.append(current)
    parts = []
    for n, g in enumerate(groups):
        cols = list(range(key)) + g
        title = t.title if n == 0 else _("{title} (continued)").format(title=t.title or _("table"))
        part = Table(title, [t.columns[i] for i in cols],
                     numeric={new for new, old in enumerate(cols) if old in t.numeric},
                     caption=t.caption if n == len(groups) - 1 else None)
        part.rows = [[r[i] if i < len(r) else "" for i in cols] for r in t.rows]
        parts.append(part)
    return parts
