"""What the layer kinds' `explain` faces (kinds.Explains) share: ∂E/∂θ's name, the sum over positions or steps (and
samples), the chain rule's first line, how many terms are written out, and the closing lines: each term's two
factors, their products and the trace's own total. Values come from the trace; the only arithmetic, in the faces,
is each term's product of two numbers the trace holds."""

from __future__ import annotations

from collections.abc import Iterable

from bpcalc.registry.kinds import Formats
from bpcalc.registry.written import M, Sym

TERMS = 24  # terms a derivation writes out (more with --full); the JSON has all


def shown(total: int, full: bool) -> int:
    """How many of a derivation's `total` terms are written out."""
    return total if full else min(total, TERMS)


def grad(p: M) -> M:
    """∂E/∂p."""
    return M(f"∂E/∂{p.text}", rf"\frac{{\partial E}}{{\partial {p.tex}}}")


def over(n: int, text: str, tex: str) -> Sym:
    """The sum over positions or steps (Σ_t), over the samples too when there are several (Σ_s Σ_t)."""
    return (f"Σ_s {text}", rf"\sum_s {tex}") if n > 1 else (text, tex)


def chain(lhs: M, sums: Sym, inner: Sym, p: M) -> M:
    """lhs = Σ ∂E/∂inner · ∂inner/∂p: the chain rule through the quantity p enters at each position or step."""
    return M(f"{lhs.text} = {sums[0]} ∂E/∂{inner[0]} · ∂{inner[0]}/∂{p.text}",
             rf"{lhs.tex} = {sums[1]} \frac{{\partial E}}{{\partial {inner[1]}}} "
             rf"\frac{{\partial {inner[1]}}}{{\partial {p.tex}}}")


def summed(pairs: Iterable[tuple[float, float]], products: Iterable[float], total: float, fmt: Formats,
           more: M) -> list[M]:
    """`= a·b + c·d + …`, `= ab + cd + …` (the terms written out, then `more`: what is left out) and `= total`."""
    nums = " + ".join(f"{fmt.p_(a)}·{fmt.p_(b)}" for a, b in pairs)
    prods = " + ".join(fmt.p_(x) for x in products)
    return [M(f"= {nums}{more.text}", "= " + nums.replace("·", r" \cdot ").replace("…", r"\ldots") + more.tex),
            M(f"= {prods}{more.text}", "= " + prods.replace("…", r"\ldots") + more.tex),
            M(f"= {fmt(total)}", f"= {fmt(total)}")]


def left_out(words: str) -> M:
    """` + … (n more terms)` as the sequence derivations write it (LaTeX: … as \\ldots); "" when all are written."""
    return M(words, words.replace("…", r"\ldots"))
