"""What the layer kinds' derivations (their `explain` faces, kinds.Explains) share: ∂E/∂θ's name, the sum over
positions or steps (and samples), the chain rule's first line, how many terms are written out, and the closing
lines: each term's two factors, their products and the trace's own total. Values come from the trace; the only
arithmetic, in the faces, is each term's product of two numbers the trace holds.

A derivation also carries its narration as data (`Section`s: headings, notes, the equation, the table of terms and
the paragraphs after it, words as `Msg`) and its JSON record (`as_dict`), so the renderers draw and write any kind's
derivation alike, without knowing the kind (render/explain_report.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from bpcalc.i18n import Msg
from bpcalc.registry.kinds import Formats
from bpcalc.registry.written import M, Sym

TERMS = 24  # terms a derivation writes out (more with --full); the JSON has all


class Face(NamedTuple):
    """What a kind's `explain` face loads (kinds.Explains: the signatures): its keys, names and derive."""

    keys: Callable[[Any, int], list[tuple]]
    names: Callable[[Any, tuple, int, str], list[str]]
    derive: Callable[..., Any]


Text = Any  # words as a Msg (translated where shown), symbols and numbers as str, or a list of those, in a row


@dataclass
class Section:
    """One part of a derivation as every renderer draws it, top to bottom: a heading `depth` levels below the
    explanation's, a note, the equation (its lines aligned on `=`), a table (its columns, the last `numeric` of them
    numbers, and its rows) and the paragraphs after it, each with its style ("note" or ""). Numbers are as the
    derivation's Formats wrote them; an empty part is left out."""

    heading: Text = ""
    depth: int = 2
    note: Text = ""
    lines: list[M] = field(default_factory=list)
    columns: list[Text] = field(default_factory=list)
    numeric: int = 0
    rows: list[list[Text]] = field(default_factory=list)
    after: list[tuple[Text, str]] = field(default_factory=list)


@dataclass(kw_only=True)
class Derivation:
    """∂E/∂θ for one parameter, as a kind's `explain` face derives it: what every such derivation holds (each kind
    adds its own: a kernel's stride, a gate's δ, and says in `narrate` and `as_dict` how it is drawn and written);
    data the renderers read (render/explain_report.py), never by kind."""

    layer: int  # 0-based layer index
    l: int  # the layer's number in the notation shown
    index: tuple[int, ...]  # the parameter's index in its array
    path: str  # its JSON path
    name: M
    lhs: M  # ∂E/∂θ
    lines: list[M]  # the equation: the chain rule, then with the numbers, down to the gradient
    terms: list  # one per position or step (and sample), each a product of two numbers the trace holds
    gradient: float  # the trace's own
    old: float
    new: float
    samples: int
    shown: int  # terms written out
    texts: dict = field(default_factory=dict)  # gradient, old, new as written
    frozen: bool = False  # the spec's `freeze:` names the parameter: the update leaves it as it was (set by explain)

    @property
    def param(self) -> str:
        """The parameter's spec (and JSON) name: weights_hh, gamma, weights_q, … (`freeze:` names it so)."""
        return self.path.split(".")[2]

    @property
    def narration(self) -> list[Section]:
        """What the renderers draw, from the derivation as it stands (explain may mark it after the face made it)."""
        return self.narrate()

    def narrate(self) -> list[Section]:
        """The derivation as the renderers draw it: the kind's own words around its lines and terms."""
        raise NotImplementedError

    def as_dict(self) -> dict:
        """The derivation's JSON record (in the explanation's `{group}_params`)."""
        raise NotImplementedError


def over_steps(d: Derivation, heading: Text, note: Text, numeric: list[Text]) -> list[Section]:
    """A parameter used at every step of a sequence network (its derivation's `key` names it in the JSON): the
    layer's heading, then the note, the equation and a table of the terms over the steps (and sequences: sequence,
    step, then the `numeric` columns, the terms' texts), and their sum with the update."""
    many = d.samples > 1
    columns = [*([Msg("sequence")] if many else []), Msg("step"), *numeric]
    rows = [[*([str(t.sample + 1)] if many else []), str(t.step + 1), *t.texts] for t in d.terms[:d.shown]]
    total = Msg("the sum of the terms: {g} (the gradient in the JSON's grad_{key}); {p} is frozen: it stays {old}",
                g=d.texts["gradient"], key=d.key, p=d.name.text, old=d.texts["old"]) if d.frozen else \
        Msg("the sum of the terms: {g} (the gradient in the JSON's grad_{key}); after the update {p} = {new} "
            "(was {old})", g=d.texts["gradient"], key=d.key, p=d.name.text, new=d.texts["new"], old=d.texts["old"])
    return [Section(heading=heading, depth=1),
            Section(heading=d.lhs.text, note=note, lines=d.lines, columns=columns, numeric=len(numeric), rows=rows,
                    after=[*written_out(d), (total, "")])]


def frozen(d: Derivation) -> dict:
    """`"frozen": true` in a derivation's JSON record when the spec freezes its parameter; nothing otherwise."""
    return {"frozen": True} if d.frozen else {}


def written_out(d: Derivation) -> list[tuple[Text, str]]:
    """The note after a table of terms that leaves some out (none when all are written)."""
    if d.shown >= len(d.terms):
        return []
    return [(Msg("{shown} of {n} terms written out; --full writes all, --format json has every one", shown=d.shown,
                 n=len(d.terms)), "note")]


def numbers(fmt: Formats, gradient: float, old: float, new: float) -> dict:
    """A derivation's gradient, old and new value (the trace's), and as written: its fields of them."""
    return {"gradient": float(gradient), "old": float(old), "new": float(new),
            "texts": {"gradient": fmt(gradient), "old": fmt(old), "new": fmt(new)}}


def path(li: int, name: str, ix: tuple) -> str:
    """A parameter's JSON path: layers.0.weights_ih.3.1."""
    return f"layers.{li}.{name}." + ".".join(map(str, ix))


def paths(li: int, name: str, ix: tuple) -> list[str]:
    """The JSON paths --param knows a parameter by: its own, its gradient's and its new value's."""
    return [path(li, f"{pre}{name}", ix) for pre in ("", "grad_", "new_")]


def layered(name: str, number: int, profile: str) -> str:
    """A parameter's name as the tables write it, with its layer's number as the notation writes a layer's
    quantities (h^(2)_t[1]): W_hh[1,2] -> W_hh^(3)[1,2] (ng: W_hh^[3][1,2]), what --param takes where stacked
    layers share W_hh[1,2]."""
    o, c = ("[", "]") if profile == "ng" else ("(", ")")
    base, bracket, ix = name.partition("[")
    return f"{base}^{o}{number}{c}{bracket}{ix}"


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
