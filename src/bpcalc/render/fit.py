"""Fitting tables to a printed page: the width of a table's columns in characters, and a table too wide for a page
split into parts of its columns, each repeating the leading column (the one that names the row)."""

from __future__ import annotations

import functools
import unicodedata

from bpcalc.i18n import _
from bpcalc.render.doc import Cell, M, Table, text_of
from bpcalc.render.mathml import tex_to_mathml

WRAP_CHARS = 36  # a formula longer than this may wrap after a + or − at the top level of its sum
_OPERATORS = set("+−-×·=/")


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
    return max((display_width(line) for line in str(text_of(c)).split("\n")), default=0)


def typeset_width(c: Cell) -> float:
    """A cell's width in characters of the text around it; a formula's as typeset (a fraction as wide as its wider
    part, scripts smaller, operators spaced)."""
    if not isinstance(c, M) or not c.tex:
        return float(cell_width(c))
    return _tex_width(c.tex)


@functools.lru_cache(maxsize=4096)
def _tex_width(tex: str) -> float:
    import xml.etree.ElementTree as ET

    return _math_width(ET.fromstring(tex_to_mathml(tex)))


def _math_width(e) -> float:
    """The width of a MathML element in characters of the text around it (scripts smaller, operators spaced)."""
    kids = list(e)
    tag = e.tag
    if tag in ("mi", "mn", "mtext"):
        return len(e.text or "")
    if tag == "mo":
        return len(e.text or "") + (0.9 if (e.text or "") in _OPERATORS and e.get("form") != "prefix" else 0.0)
    if tag == "mspace":
        return 1.0
    if tag == "mfrac":
        return max((_math_width(k) for k in kids), default=0.0) + 0.4
    if tag in ("msub", "msup", "msubsup", "munder", "mover", "munderover"):
        scripts = [_math_width(k) for k in kids[1:]]
        base = _math_width(kids[0]) if kids else 0.0
        if tag in ("munder", "mover", "munderover"):
            return max([base, *(0.7 * x for x in scripts)])
        return base + 0.7 * max(scripts, default=0.0)
    if tag in ("msqrt", "mroot"):
        return sum(_math_width(k) for k in kids) + 1.0
    if tag == "mtable":
        return max((sum(_math_width(td) + 1.0 for td in tr) for tr in kids), default=0.0)
    return sum(_math_width(k) for k in kids)


def sum_terms(tex: str) -> list[str]:
    """A LaTeX sum cut before each + or − at its top level (outside braces and \\left…\\right), if long."""
    if len(tex) < WRAP_CHARS:
        return [tex]
    parts, depth, start, i = [], 0, 0, 0
    while i < len(tex):
        ch = tex[i]
        if ch == "\\" and tex.startswith(("\\left", "\\begin"), i):
            depth += 1
        elif ch == "\\" and tex.startswith(("\\right", "\\end"), i):
            depth -= 1
        elif ch == "\\":
            i += 2
            continue
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif depth == 0 and ch in "+-" and tex[i - 1:i] == " " and tex[i + 1:i + 2] == " " and i > start:
            parts.append(tex[start:i].strip())
            start = i
        i += 1
    parts.append(tex[start:].strip())
    return [p for p in parts if p]


def column_widths(t: Table, width=cell_width) -> list:
    """Each column's width: the widest of its header and cells, as `width` measures a cell."""
    widths = [width(h) for h in t.columns]
    for r in t.rows:
        for i, c in enumerate(r[:len(widths)]):
            widths[i] = max(widths[i], width(c))
    return widths


def split_columns(t: Table, fits, key: int = 1, width=cell_width, part_fits=None) -> list[Table]:
    """The table itself when `fits(widths)` holds; else parts of its columns, each repeating the first `key`
    columns, as few as `part_fits` (default `fits`) allows and about equally wide. The fit tests take the widths
    of a table's columns, as `width` measures a cell."""
    widths = column_widths(t, width)
    if fits(widths) or len(t.columns) <= key + 1:
        return [t]
    part_fits = part_fits or fits
    head = widths[:key]

    def groups(limit: float | None) -> list[list[int]]:
        out: list[list[int]] = [[]]
        for i in range(key, len(t.columns)):
            trial = out[-1] + [i]
            too_wide = not part_fits(head + [widths[k] for k in trial])
            over = limit is not None and sum(widths[k] for k in trial) > limit
            if out[-1] and (too_wide or over):
                out.append([i])
            else:
                out[-1] = trial
        return out

    greedy = groups(None)
    limit = sum(widths[key:]) / len(greedy)  # the same number of parts, about equally wide
    balanced = groups(limit * 1.05 + max(widths[key:]) * 0.01)
    chosen = balanced if len(balanced) <= len(greedy) else greedy
    parts = []
    for n, g in enumerate(chosen):
        cols = list(range(key)) + g
        title = t.title if n == 0 else _("{title} (continued)").format(title=t.title or _("table"))
        part = Table(title, [t.columns[i] for i in cols],
                     numeric={new for new, old in enumerate(cols) if old in t.numeric},
                     caption=t.caption if n == len(chosen) - 1 else None)
        part.rows = [[r[i] if i < len(r) else "" for i in cols] for r in t.rows]
        parts.append(part)
    return parts
