"""`--format svg` of a report: the document itself as one self-contained SVG page (headings, paragraphs, tables
laid out by display width, layer notation as sub- and superscripts), not a picture of a terminal."""

from __future__ import annotations

import re

from bpcalc.render import svg as S
from bpcalc.render.doc import Cell, Doc, Heading, Para, Table
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


def text_of(c) -> str:
    """A cell's text; a kind of cell this renderer does not know yet: its `text`, else its str()."""
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


def render_svg(doc: Doc, **_) -> str:
    """The document as an SVG page: as wide as its widest table (at least a text block), as tall as it needs."""
    tables = [sum(_col_widths(b)) for b in doc.blocks if isinstance(b, Table)]
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
