"""How wide text is on a terminal or in a monospaced layout: display columns, not characters."""

from __future__ import annotations

import unicodedata


def display_width(s: str) -> int:
    """Columns `s` takes on a terminal: wide and fullwidth characters (CJK, Hangul) two, combining marks none."""
    if s.isascii():
        return len(s)
    w = 0
    for ch in s:
        if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf"):
            continue
        w += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return w


def ljust(s: str, width: int) -> str:
    return s + " " * (width - display_width(s))


def rjust(s: str, width: int) -> str:
    return " " * (width - display_width(s)) + s
