"""Equations with matrices written out: a sequence of parts (symbols, operators, matrices of numbers as text),
laid out as multi-line bracket art for plain text and terminals, and as LaTeX (bmatrix) for Markdown and LaTeX.

Only arranges text that is already written: no number is computed here."""

from __future__ import annotations

from dataclasses import dataclass, field

from bpcalc.explain.mathtext import M
from bpcalc.render.width import display_width

VDOTS, CDOTS = "⋮", "⋯"


def pad(s: str, width: int, right: bool = False) -> str:
    """`s` padded with spaces to `width` display columns (on the left when `right`-aligned)."""
    fill = " " * max(0, width - display_width(s))
    return fill + s if right else s + fill


@dataclass
class Matrix:
    """A matrix as written: its cells (text, with ⋮ / ⋯ where rows or columns are left out) and its full shape."""

    cells: list[list[str]]
    shape: tuple[int, int]

    @property
    def elided(self) -> bool:
        return any(c in (VDOTS, CDOTS) for row in self.cells for c in row)

    @property
    def shape_text(self) -> str:
        return f"{self.shape[0]}×{self.shape[1]}"

    def art(self) -> list[str]:
        """The matrix in brackets, one line per row: [a  b] for one row, ⎡ ⎢ ⎣ … ⎤ ⎥ ⎦ for several."""
        ncol = max(len(r) for r in self.cells)
        widths = [max(display_width(r[c]) for r in self.cells if c < len(r)) for c in range(ncol)]
        body = ["  ".join(pad(r[c] if c < len(r) else "", widths[c], right=True) for c in range(ncol))
                for r in self.cells]
        if len(body) == 1:
            return [f"[{body[0]}]"]
        out = []
        for i, line in enumerate(body):
            left, right = ("⎡", "⎤") if i == 0 else ("⎣", "⎦") if i == len(body) - 1 else ("⎢", "⎥")
            out.append(f"{left}{line}{right}")
        return out

    def tex(self, env: str = "bmatrix") -> str:
        rows = [" & ".join(_tex_cell(c) for c in r) for r in self.cells]
        shape = rf"{self.shape[0]} \times {self.shape[1]}"
        return rf"\underset{{{shape}}}{{\begin{{{env}}} " + r" \\ ".join(rows) + rf" \end{{{env}}}}}"


def _tex_cell(c: str) -> str:
    if c == VDOTS:
        return r"\vdots"
    if c == CDOTS:
        return r"\cdots"
    return c.replace("−", "-").replace("∞", r"\infty")


Part = M | Matrix


@dataclass
class Equation:
    """One displayed equation: `lhs = …` as a sequence of parts; with matrices, their shapes under them."""

    parts: list[Part] = field(default_factory=list)
    caption: str | None = None  # a note below it (what was left out of a large matrix, say)

    @property
    def text(self) -> str:
        """The equation on one line, matrices as [[a, b], [c, d]] (for places that take one line of text)."""
        out = []
        for p in self.parts:
            if isinstance(p, Matrix):
                out.append("[" + ", ".join("[" + ", ".join(r) + "]" for r in p.cells) + "]")
            else:
                out.append(p.text)
        return " ".join(x for x in out if x)

    def text_lines(self) -> list[str]:
        """Bracket art: symbols on the middle row of the tallest matrix, each matrix's shape on a line below."""
        blocks = []
        for p in self.parts:
            if isinstance(p, Matrix):
                blocks.append((p.art(), p.shape_text))
            elif p.text:
                blocks.append(([p.text], None))
        height = max((len(b) for b, _ in blocks), default=1)
        mid = (height - 1) // 2
        has_shapes = any(s for _, s in blocks)
        rows = [""] * (height + (1 if has_shapes else 0))
        for k, (lines, shape) in enumerate(blocks):
            w = max(display_width(s) for s in lines)
            if shape:
                w = max(w, display_width(shape))
            top = mid - (len(lines) - 1) // 2 if len(lines) < height else 0
            for r in range(len(rows)):
                if has_shapes and r == height:
                    cell = shape or ""
                    cell = pad(" " * ((w - display_width(cell)) // 2) + cell, w)
                elif top <= r < top + len(lines):
                    cell = pad(lines[r - top], w)
                else:
                    cell = " " * w
                rows[r] += (" " if k else "") + cell
        return [r.rstrip() for r in rows]

    def tex(self, env: str = "bmatrix", break_after: int = 12) -> str:
        """LaTeX math (for $$…$$, \\[…\\] or an equation environment). A wide one (more matrix columns than
        `break_after`) is broken into aligned lines before each `=` after the first, shapes kept under each."""
        texs = [p.tex(env) if isinstance(p, Matrix) else p.tex for p in self.parts]
        cols = sum(max(len(r) for r in p.cells) for p in self.parts if isinstance(p, Matrix))
        eqs = [i for i, p in enumerate(self.parts) if not isinstance(p, Matrix) and p.text in ("=", "←")]
        if cols <= break_after or len(eqs) < 2:
            return " ".join(t for t in texs if t)
        lines, cur = [], []
        for i, t in enumerate(texs):
            if i in eqs:
                if i == eqs[0]:
                    cur.append("&" + t)
                else:
                    lines.append(" ".join(cur))
                    cur = ["&" + t]
            elif t:
                cur.append(t)
        lines.append(" ".join(cur))
        return r"\begin{aligned} " + r" \\ ".join(lines) + r" \end{aligned}"


def sym(text: str, tex: str | None = None) -> M:
    """An operator or symbol part: `=`, `+`, `·`, `⊙`, or a name."""
    return M(text, tex if tex is not None else _OPS.get(text, text))


_OPS = {"=": "=", "+": "+", "−": "-", "·": r"\cdot", "⊙": r"\odot", "←": r"\leftarrow", "×": r"\times"}
