"""A small document model every output format renders: headings, paragraphs, tables of text cells and equations
with matrices (render/equation.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

from bpcalc.explain.mathtext import M
from bpcalc.render.equation import Equation, Matrix

__all__ = ["Block", "Cell", "Doc", "Equation", "Heading", "M", "Matrix", "Para", "Table", "text_of"]

Cell = str | M


def text_of(c: Cell) -> str:
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

    def add(self, *cells: Cell) -> None:
        self.rows.append(list(cells))


Block = Heading | Para | Table | Equation


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
