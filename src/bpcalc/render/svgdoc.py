"""`--format svg` of a report: the document itself as one self-contained SVG page (headings, paragraphs, tables
laid out by display width, layer notation as sub- and superscripts), not a picture of a terminal."""

from __future__ import annotations

import re

from bpcalc.render import svg as S
from bpcalc.render.doc import Blank, Cell, Doc, Heading, Para, Table
from bpcalc.render.doc import text_of as _text_of

MARGIN = 32
PAGE = 760  # the narrowest text block; a wider table widens the page
BODY = 13
SMALL = 11
CELL_PAD = 18
ROW_H = 20
PARA_STYLE = {"note": S.MUTED, "ok": "#1b5e20", "bad": S.GRAD, "math": S.VALUE, "": S.INK}
# plain text that is layer notation (z_1^(2), w_11^(3), a_k^(1)), not a name such as half_sse
_NOTATION = re.compile(r"(?<![A-Za-z])[A-Za-zα-ωΑ-ΩÂ-ž]_[0-9jkn]")
_NAME = re.compile(r"[A-Za-z0-9]_[A-Za-z]{2,}")


def _blank(c) -> bool:
    """A worksheet's blank: a quantity left for the reader (drawn as an empty box)."""
    return isinstance(c, Blank)


def text_of(c) -> str:
    """A cell's text (a blank: spaces as wide as its box); a kind of cell not known here: its `text`, else str()."""
    if _blank(c):
        return " " * int(getattr(c, "width", 4) * 1.6)
    t = _text_of(c)
    return t if isinstance(t, str) else str(getattr(c, "text", c))


def _scripts(c: Cell) -> bool:
    s = text_of(c)
    return not isinstance(c, str) or (bool(_NOTATION.search(s)) and not _NAME.search(s))


def _wrap(s: str, size: float, width: float) -> list[str]:
    """Lines of `s` no wider than `width` (estimated), broken between words; a word is never cut."""
    lines: list[str] = []
    for para in s.split("\n"):
        line = ""
        for word in para.split(" "):
            trial = f"{line} {word}" if line else word
            if line and S.text_width(trial, size) > width:
                lines.append(line)
                line = word
            else:
                line = trial
        lines.append(line)
    return lines


def _title(doc: Doc) -> str:
    return next((b.text for b in doc.blocks if isinstance(b, Heading)), "bpcalc")


def _col_widths(t: Table) -> list[float]:
    widths = [S.text_width(h, BODY) + CELL_PAD for h in t.columns]
    for r in t.rows:
        for i, c in enumerate(r[:len(widths)]):
            widths[i] = max(widths[i], S.text_width(text_of(c), BODY) + CELL_PAD)
    return widths


EQ_ROW = 19  # a matrix row
EQ_GAP = 8  # between the parts of an equation


def _is_equation(b) -> bool:
    """A displayed equation with matrices (parts: symbols with `text`, matrices with `cells` and `shape`)."""
    return hasattr(b, "parts") and hasattr(b, "text_lines")


def _equation(b, x0: float, y: float) -> tuple[list[str], float, float]:
    """An equation laid out: symbols on the middle line, each matrix as a grid in brackets with its shape
    below it. (svg elements, width, height)"""
    sizes = []
    for p in b.parts:
        if hasattr(p, "cells"):
            ncol = max(len(r) for r in p.cells)
            cw = [max(S.text_width(r[c], BODY) for r in p.cells if c < len(r)) + 12 for c in range(ncol)]
            sizes.append((sum(cw) + 12, len(p.cells) * EQ_ROW, cw))
        else:
            sizes.append((S.text_width(p.text, BODY), EQ_ROW, None))
    rows = max(h for _w, h, _c in sizes)
    shapes = any(hasattr(p, "cells") for p in b.parts)
    mid = y + rows / 2
    out: list[str] = []
    x = x0
    for p, (w, h, cw) in zip(b.parts, sizes):
        if cw is None:
            if p.text:
                out.append(S.text(x, mid + BODY * 0.35, p.text, BODY, fill=S.VALUE, scripts=True))
        else:
            top = mid - h / 2
            for side, bx in ((1, x + 3), (-1, x + w - 3)):  # the brackets
                out.append(f'<path d="M{bx + 5 * side:.1f},{top:.1f} H{bx:.1f} V{top + h:.1f} H{bx + 5 * side:.1f}" '
                           f'fill="none" stroke="{S.INK}" stroke-width="1.2"/>')
            for r, row in enumerate(p.cells):
                cx = x + 6
                for c, cell in enumerate(row):
                    cx += cw[c]
                    out.append(S.text(cx - 6, top + (r + 1) * EQ_ROW - 5, cell, BODY, "end", S.INK, scripts=False))
            shape = getattr(p, "shape_text", "")
            if shape:
                out.append(S.text(x + w / 2, y + rows + 14, shape, SMALL, "middle", S.MUTED, scripts=False))
        x += w + EQ_GAP
    return out, x - x0, rows + (18 if shapes else 0)


def render_svg(doc: Doc, **_) -> str:
    """The document as an SVG page: as wide as its widest table (at least a text block), as tall as it needs."""
    tables = [sum(_col_widths(b)) for b in doc.blocks if isinstance(b, Table)]
    tables += [_equation(b, 0, 0)[1] for b in doc.blocks if _is_equation(b)]
    inner = max([PAGE, *tables])
    body: list[str] = []
    y = MARGIN
    for b in doc.blocks:
        if isinstance(b, Heading):
            size = {1: 20, 2: 17, 3: 15}.get(b.level, 14)
            y += 14 if b.level == 1 else 12
            for line in _wrap(b.text, size, inner):
                y += size + 6
                body.append(S.text(MARGIN, y, line, size, weight="bold", scripts=_scripts(b.text)))
            y += 6
            if b.level == 1:
                body.append(f'<line x1="{MARGIN}" y1="{y:.1f}" x2="{MARGIN + inner:.1f}" y2="{y:.1f}" '
                            f'stroke="#2f6fb3" stroke-width="1.5"/>')
            y += 6
        elif isinstance(b, Para):
            colour = PARA_STYLE.get(b.style, S.INK)
            scripts = _scripts(b.text)
            for line in _wrap(text_of(b.text), BODY, inner):
                y += BODY + 6
                body.append(S.text(MARGIN, y, line, BODY, fill=colour, scripts=scripts))
            y += 6
        elif isinstance(b, Table):
            y = _table(b, y, inner, body)
        elif _is_equation(b):
            els, _w, h = _equation(b, MARGIN, y + 8)
            body.extend(els)
            y += h + 14
            if getattr(b, "caption", None):
                for line in _wrap(b.caption, SMALL, inner):
                    y += SMALL + 5
                    body.append(S.text(MARGIN, y, line, SMALL, fill=S.MUTED, scripts=False))
                y += 6
        else:  # a block this renderer does not know yet: its text, as a paragraph
            for line in _wrap(text_of(getattr(b, "text", str(b))), BODY, inner):
                y += BODY + 6
                body.append(S.text(MARGIN, y, line, BODY))
            y += 6
    return S.document(inner + 2 * MARGIN, y + MARGIN, body, _title(doc))


def _table(t: Table, y: float, inner: float, body: list[str]) -> float:
    widths = _col_widths(t)
    xs = [MARGIN + sum(widths[:i]) for i in range(len(widths))]
    right = MARGIN + sum(widths)
    y += 8
    if t.title:
        y += BODY + 6
        body.append(S.text(MARGIN, y, t.title, BODY, weight="bold", scripts=False))
        y += 4

    def row(cells: list[Cell], yy: float, weight: str = "", fill: str = S.INK) -> None:
        for i, c in enumerate(cells[:len(widths)]):
            if _blank(c):  # an empty box to write in
                bw = S.text_width(text_of(c), BODY)
                bx = xs[i] + widths[i] - CELL_PAD / 2 - bw if i in t.numeric else xs[i] + (CELL_PAD / 2 if i else 0)
                body.append(f'<rect x="{bx:.1f}" y="{yy - BODY:.1f}" width="{bw:.1f}" height="{BODY + 4}" '
                            f'fill="#ffffff" stroke="{S.MUTED}" stroke-width="0.8"/>')
                continue
            s = text_of(c)
            if not s:
                continue
            if i in t.numeric:
                body.append(S.text(xs[i] + widths[i] - CELL_PAD / 2, yy, s, BODY, "end", fill, weight,
                                   scripts=_scripts(c)))
            else:
                body.append(S.text(xs[i] + (CELL_PAD / 2 if i else 0), yy, s, BODY, "start", fill, weight,
                                   scripts=_scripts(c)))

    y += ROW_H
    row(t.columns, y - 5, "bold", "#24527a")
    body.append(f'<line x1="{MARGIN}" y1="{y:.1f}" x2="{right:.1f}" y2="{y:.1f}" stroke="#57606a" '
                f'stroke-width="1"/>')
    for i, r in enumerate(t.rows):
        if i % 2 == 1:
            body.append(f'<rect x="{MARGIN}" y="{y:.1f}" width="{right - MARGIN:.1f}" height="{ROW_H}" '
                        f'fill="#f3f6f9"/>')
        y += ROW_H
        row(r, y - 5)
    body.append(f'<line x1="{MARGIN}" y1="{y + 2:.1f}" x2="{right:.1f}" y2="{y + 2:.1f}" stroke="#d0d7de" '
                f'stroke-width="1"/>')
    if t.caption:
        y += 4
        for line in _wrap(t.caption, SMALL, max(inner, right - MARGIN)):
            y += SMALL + 5
            body.append(S.text(MARGIN, y, line, SMALL, fill=S.MUTED, scripts=False))
    return y + 14
