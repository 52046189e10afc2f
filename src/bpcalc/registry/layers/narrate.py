"""What the layer kinds' narrations share: how many rows and terms a table writes out, and sums written as text.

A narration takes its names from the `names` the renderer hands in (the notation's names of z, a, δ, the
parameters and the layer's input) and its numbers from the trace, formatted by the `fmt` handed in; it computes no
value of its own."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import numpy as np

from bpcalc.i18n import Msg
from bpcalc.registry.kinds import Row, Sym

LARGE = 64  # rows (cells, neurons, parameters) above which a table shows the first TOP only, unless full
TOP = 10
TERMS = 18  # products written out in one sum (more: the count, unless full)


def shown(total: int, full: bool) -> range:
    """The rows a table writes out: all of them for a small layer (or with full), else the first TOP."""
    return range(total if full or total <= LARGE else TOP)


def cells(shape: Sequence[int], full: bool) -> tuple[list[tuple[int, ...]], int]:
    """The indexes of an array's cells a table writes out (row-major) and how many there are in all."""
    total = int(np.prod(shape))
    return [tuple(int(i) for i in np.unravel_index(m, shape)) for m in shown(total, full)], total


def plus(syms: Iterable[Sym]) -> Sym:
    """Symbols added: (text, LaTeX)."""
    syms = list(syms)
    return " + ".join(s[0] for s in syms), " + ".join(s[1] for s in syms)


def times(a: Sym, b: Sym, sep: str = "·") -> Sym:
    return f"{a[0]}{sep}{b[0]}", rf"{a[1]} \cdot {b[1]}"


def in_names(formula: str, a: str, z: str) -> str:
    """A derivative written in a and z, with the neuron's own names for them."""
    return re.sub(r"(?<![A-Za-z_])([az])(?![A-Za-z_])", lambda m: a if m.group(1) == "a" else z, formula)


def equals(a: Sym, b: Sym) -> Sym:
    return f"{a[0]} = {b[0]}", f"{a[1]} = {b[1]}"


def products(pairs: Sequence[tuple[float, float]], fmt) -> str:
    """0.1×0.5 + 0.2×(-0.3) + …"""
    return " + ".join(f"{fmt.p_(x)}×{fmt.p_(y)}" for x, y in pairs)


def total(values: Sequence[float], fmt) -> str:
    """0.1 + (-0.3) + … (one value: itself)"""
    return fmt(values[0]) if len(values) == 1 else " + ".join(fmt.p_(v) for v in values)


def written(count: int, full: bool, limit: int = TERMS) -> bool:
    """Whether a sum of `count` terms is written out term by term."""
    return full or count <= limit


def terms(n: int) -> Msg:
    """"(n terms)": a sum too long to write out, in words (a Msg: data in English, translated where shown)."""
    return Msg("({n} terms)", n=n)


def sigma(over: str, body: Sym, count: int) -> Sym:
    """Σ_over body, with the number of terms: a sum too long to write out."""
    return f"Σ_{over} {body[0]} ({count})", rf"\sum_{{{over}}} {body[1]}\ ({count})"


def row(quantity: Sym, definition: Sym, numbers: str | Sym, value, words: bool = False) -> Row:
    return Row(quantity, definition, numbers, float(value), words)
