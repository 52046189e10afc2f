"""A small document model every output format renders: headings, paragraphs, tables of text cells and equations
with matrices (render/equation.py)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bpcalc.explain.mathtext import M
from bpcalc.render.equation import Equation, Matrix

__all__ = ["Block", "Cell", "Doc", "Equation", "Heading", "M", "Matrix", "NameLine", "PageBreak", "Para", "Table",
           "as_scientific", "text_of"]


@dataclass(frozen=True)
class Blank:
    """A quantity left for the reader to find (a worksheet): `____` in text and Markdown, a ruled box in LaTeX."""

    width: int = 4  # in characters (text: that many underscores)


Cell = str | M | Blank
BLANK_TEXT = "____"


def text_of(c: Cell) -> str:
    if isinstance(c, Blank):
        return "_" * c.width
    return c.text if isinstance(c, M) else c


@dataclass
class Heading:
    text: str
    level: int = 1


@dataclass
class Para:
    text: Cell
    style: str = ""  # "", "note", "ok", "bad", "math"


@dataclass
class Table:
    title: str | None
    columns: list[str]
    rows: list[list[Cell]] = field(default_factory=list)
    numeric: set[int] = field(default_factory=set)  # right-aligned columns
    caption: str | None = None
    scientific: set[int] = field(default_factory=set)  # numeric columns holding a number in scientific notation
    compact: bool = False  # set tight on paper (a worksheet's: rows close together, ∂a/∂z inline)

    def add(self, *cells: Cell) -> None:
        """A row; a numeric column never mixes notations: once one of its numbers is scientific (8.033e-7), every
        plain number in it, above and below, is written so too, with the same digits (0.0000012194 → 1.2194e-6)."""
        row = list(cells)
        for i in self.numeric:
            if i >= len(row) or not isinstance(row[i], str):
                continue
            if i not in self.scientific and SCIENTIFIC.match(row[i]):
                self.scientific.add(i)
                for r in self.rows:
                    if i < len(r) and isinstance(r[i], str):
                        r[i] = as_scientific(r[i])
            if i in self.scientific:
                row[i] = as_scientific(row[i])
        self.rows.append(row)


SCIENTIFIC = re.compile(r"[-+]?\d(?:\.\d+)?e[-+]?\d+$")
_PLAIN = re.compile(r"([-+]?)(\d+)(?:\.(\d+))?$")


def as_scientific(text: str) -> str:
    """A plain number as written (0.0000012194, -12.50) in scientific notation with exactly its digits (1.2194e-6,
    -1.250e1), as numfmt.Fmt writes one; anything else (0, a word, a scientific number) as it is."""
    m = _PLAIN.match(text)
    if not m:
        return text
    sign, whole, frac = m[1], m[2], m[3] or ""
    digits = (whole + frac).lstrip("0")
    if not digits:
        return text
    exponent = len(whole.lstrip("0")) - 1 if whole.lstrip("0") else -(len(frac) - len(frac.lstrip("0")) + 1)
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    return f"{sign}{mantissa}e{exponent}"


@dataclass
class PageBreak:
    """A new page (a class set's documents: one student a section); a rule in text and Markdown."""


@dataclass
class NameLine:
    """The line a student writes their name and ID on, with the sheet's `label` (its variant) at the right."""

    label: str


Block = Heading | Para | Table | Equation | PageBreak | NameLine


@dataclass
class Doc:
    blocks: list[Block] = field(default_factory=list)

    def heading(self, text: str, level: int = 1) -> None:
        self.blocks.append(Heading(text, level))

    def para(self, text: Cell, style: str = "") -> None:
        self.blocks.append(Para(text, style))

    def table(self, title: str | None, columns: list[str], numeric: set[int] | None = None,
              caption: str | None = None) -> Table:
        t = Table(title, columns, numeric=numeric or set(), caption=caption)
        self.blocks.append(t)
        return t

    def equation(self, *parts, caption: str | None = None) -> Equation:
        e = Equation(list(parts), caption)
        self.blocks.append(e)
        return e

    def extend(self, other: Doc) -> None:
        self.blocks.extend(other.blocks)

    # Jupyter shows a Doc as its document
    def _repr_html_(self) -> str:
        from bpcalc.render.notebook import to_html

        return to_html(self)

    def _repr_markdown_(self) -> str:
        from bpcalc.render.markdown import render_markdown

        return render_markdown(self)

    def _repr_latex_(self) -> str:
        from bpcalc.render.latex import render_latex

        return render_latex(self)
