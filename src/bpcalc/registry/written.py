"""Formulas as the registry's narrations write them: plain-text templates (`{a}(1 − {a})`) filled with names and
turned into LaTeX, so an entry's face returns both forms (text, LaTeX) without importing a renderer."""

from __future__ import annotations

import re
import string
from typing import NamedTuple

Sym = tuple[str, str]  # (plain text, LaTeX), as registry/kinds.py names it


class M(NamedTuple):
    """A cell or phrase with a plain-text form and a LaTeX form (for markdown and LaTeX output): a Sym with names,
    as explanations and the layer kinds' derivations write symbols, formulas and lines."""

    text: str
    tex: str

    def __str__(self) -> str:
        return self.text

_TEX_WORDS = [
    ("½", r"\tfrac{1}{2}"), ("−", "-"), ("·", r" \cdot "), ("×", r" \times "), ("²", "^{2}"), ("σ", r"\sigma "),
    ("Σ_k", r"\sum_k "), ("Σ", r"\sum "), ("log ", r"\log "), ("ln ", r"\ln "), ("exp(", r"\exp("),
    ("sqrt(", r"\operatorname{sqrt}("), ("tanh", r"\tanh "), ("sin(", r"\sin("), ("cos(", r"\cos("),
    ("sign(", r"\operatorname{sign}("), (" if ", r"\text{ if }"), (" else ", r"\text{ else }"),
    ("Jacobian", r"\text{Jacobian}"), ("∂", r"\partial "), ("δ", r"\delta "), ("θ", r"\theta "), ("α", r"\alpha "),
    ("μ", r"\mu "), ("ε", r"\varepsilon "), ("m̂", r"\hat{m}"), ("v̂", r"\hat{v}"),
]


def tex_literal(s: str) -> str:
    """Plain-text math as the entries' templates write it -> LaTeX."""
    s = re.sub(r"\^\(([^()]*)\)", r"^{\1}", s)
    s = re.sub(r"√([^\s()]+)", r"\\sqrt{\1}", s)
    for a, b in _TEX_WORDS:
        s = s.replace(a, b)
    return re.sub(" {2,}", " ", s)


def fill(template: str, *args: Sym, **kw: Sym) -> tuple[str, str]:
    """A template (`{a}(1 − {a})`) filled with names given as (text, LaTeX): the text and the LaTeX."""
    text = template.format(*[a[0] for a in args], **{k: v[0] for k, v in kw.items()})
    parts, values = [], []
    for lit, fld, _spec, _conv in string.Formatter().parse(template):
        parts.append(lit)
        if fld is not None:
            parts.append(f"\x00{len(values)}\x00")
            values.append(args[int(fld)] if fld.isdigit() else kw[fld])
    tex = tex_literal("".join(parts))
    for i, v in enumerate(values):
        tex = tex.replace(f"\x00{i}\x00", "{" + v[1] + "}")
    return text, tex
