"""conv2d's `explain` face: one kernel weight as a derivation, ∂E/∂w[o,c,p,q] = Σ_{i,j} ∂E/∂z[o,i,j] ·
x[c, s·i+p, s·j+q] (x the zero-padded input, indices from 0 as in the JSON), symbol by symbol, then each position's
product with the trace's numbers (a bias: the sum of δ over the positions). The only arithmetic: each term's product
of two numbers the trace holds; the total shown is the trace's own gradient."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from bpcalc.i18n import Msg, _
from bpcalc.registry.kinds import Formats
from bpcalc.registry.layers.derive import common as dv
from bpcalc.registry.written import M


@dataclass
class ConvTerm:
    """One position's term δ[o,i,j] · x[c, s·i+p, s·j+q] (of one sample)."""

    sample: int
    i: int
    j: int
    row: int  # the input cell read, in the unpadded input (may lie in the padding: outside 0 … H−1)
    col: int
    delta: float
    x: float
    product: float
    padding: bool
    texts: tuple[str, str, str] = ("", "", "")  # δ, x, product as written


@dataclass(kw_only=True)
class ConvDerivation(dv.Derivation):
    """∂E/∂w for one kernel weight (or bias) of a conv2d layer: index (o, c, p, q), or (o,) for a bias."""

    stride: tuple[int, int]
    padding: tuple[int, int]
    kind: str = "weight"  # weight | bias

    def narrate(self) -> list[dv.Section]:
        """The layer's heading, then the weight's (bias's) note, its equation, each position's term and the sum."""
        many = self.samples > 1
        sample = [Msg("sample")] if many else []
        terms = self.terms[:self.shown]
        if self.kind == "bias":
            note = Msg("the bias {b} (JSON: {path}) is added at every position of output channel {o}, so ∂z/∂b = 1 "
                       "there and its gradient is the sum of δ = ∂E/∂z over all positions{samples}", b=self.name.text,
                       path=self.path, o=self.index[0], samples=Msg(" and samples") if many else "")
            columns, numeric = [*sample, "i", "j", "δ"], 1
            rows = [[*([str(t.sample + 1)] if many else []), str(t.i), str(t.j), t.texts[0]] for t in terms]
            total = Msg("the sum: {g} (the gradient in the JSON's grad_biases); {b} is frozen: it stays {old}",
                        g=self.texts["gradient"], b=self.name.text, old=self.texts["old"]) if self.frozen else \
                Msg("the sum: {g} (the gradient in the JSON's grad_biases); after the update {b} = {new} (was "
                    "{old})", g=self.texts["gradient"], b=self.name.text, new=self.texts["new"], old=self.texts["old"])
        else:
            o, c, p, q = self.index
            (sh, sw), (ph, pw) = self.stride, self.padding
            note = Msg("the weight {w} (JSON: {path}) multiplies input channel {c}'s cell at offset ({p}, {q}) of "
                       "every window of output channel {o}: z[{o},i,j] = … + w · x[{c}, {sh}·i+{p}, {sw}·j+{q}] + …, "
                       "so its gradient is the sum over all output positions (i, j){samples} of δ = ∂E/∂z times the "
                       "input cell it read; x is the input zero-padded by ({ph}, {pw}); indices count from 0, as in "
                       "the JSON", w=self.name.text, path=self.path, o=o, c=c, p=p, q=q, sh=sh, sw=sw, ph=ph, pw=pw,
                       samples=Msg(" and samples") if many else "")
            columns, numeric = [*sample, "i", "j", Msg("input cell"), "δ", "x", "δ·x"], 3
            rows = [[*([str(t.sample + 1)] if many else []), str(t.i), str(t.j),
                     [f"({c}, {t.row}, {t.col})", *([" ", Msg("padding")] if t.padding else [])], *t.texts]
                    for t in terms]
            total = Msg("the sum of the terms: {g} (the gradient in the JSON's grad_weights); {w} is frozen: it "
                        "stays {old}", g=self.texts["gradient"], w=self.name.text, old=self.texts["old"]) \
                if self.frozen else \
                Msg("the sum of the terms: {g} (the gradient in the JSON's grad_weights); after the update {w} = "
                    "{new} (was {old})", g=self.texts["gradient"], w=self.name.text, new=self.texts["new"],
                    old=self.texts["old"])
        return [dv.Section(heading=Msg("Layer {l}: conv2d", l=self.l), depth=1),
                dv.Section(heading=self.lhs.text, note=note, lines=self.lines, columns=columns, numeric=numeric,
                           rows=rows, after=[*dv.written_out(self), (total, "")])]

    def as_dict(self) -> dict:
        bias = self.kind == "bias"
        return {"name": self.name.text, "path": self.path, "kind": self.kind, "layer": self.l,
                "index": list(self.index), "gradient": self.gradient, "old": self.old, "new": self.new,
                "equation": [m.text for m in self.lines],
                "terms": [{"sample": t.sample, "i": t.i, "j": t.j, "input_cell": None if bias else [t.row, t.col],
                           "padding": t.padding, "delta": t.delta, "x": t.x, "product": t.product}
                          for t in self.terms]} | dv.frozen(self)


def _more(left: int) -> M:
    """` + … (n more terms)` after the terms written out (nothing when all are); LaTeX: the words as text."""
    if not left:
        return M("", "")
    words = _("({n} more terms)").format(n=left)
    return M(f" + … {words}", rf" + \ldots\ \text{{{words}}}")


def keys(L: Any, li: int) -> list[tuple]:
    """The kernel weights and biases of a conv2d layer: ("cw", li, (o, c, p, q), 0), ("cb", li, (o,), 0)."""
    out = [("cw", li, tuple(int(v) for v in ix), 0) for ix in np.ndindex(*L.weights.shape)]
    if L.biases is not None:
        out += [("cb", li, (o,), 0) for o in range(L.biases.shape[0])]
    return out


def names(L: Any, key: tuple, number: int, profile: str) -> list[str]:
    """The names a kernel weight (bias) is known by: w^(l)[o,c,p,q] (b^(l)[o]; ng: w^[l][o,c,p,q]) and its JSON
    paths."""
    o_, c_ = ("[", "]") if profile == "ng" else ("(", ")")
    _k, li, ix, _z = key
    base, name, at = ("b", "biases", f"{ix[0]}") if key[0] == "cb" else ("w", "weights", ",".join(map(str, ix)))
    return [f"{base}^{o_}{number}{c_}[{at}]", f"{base}^{number}[{at}]", *dv.paths(li, name, ix)]


def _name(base: str, l: int, ix: str, ng: bool, tex_ix: str | None = None) -> M:
    """base^(l)[ix] as explain writes a kernel's quantities (indices from 0, as in the JSON; TeX: as subscripts);
    ng: base^[l][ix], δ written dz (the course's names; mazur has none for kernels: the layer notation's)."""
    base = "dz" if ng and base == "δ" else base
    tex = {"δ": r"\delta"}.get(base, base)
    o, c = ("[", "]") if ng else ("(", ")")
    return M(f"{base}^{o}{l}{c}[{ix}]", rf"{tex}^{{{o}{l}{c}}}_{{{tex_ix or ix}}}")


def derive(L: Any, key: tuple, number: int, f: Formats, full: bool = False, profile: str = "layer"
           ) -> ConvDerivation:
    """The derivation of one kernel weight's gradient, with every position's term (profile `ng`: in ng's names)."""
    ng = profile == "ng"
    if key[0] == "cb":
        return _derive_bias(L, key, number, f, full, ng)
    _k, li, (o, c, p, q), _z = key
    (sh, sw), (ph, pw) = L.hyper["stride"], L.hyper["padding"]
    n, _o, Ho, Wo = L.delta.shape
    H, W = L.a_prev.shape[2:]
    terms = []
    for s in range(n):
        for i in range(Ho):
            for j in range(Wo):
                r, cc = sh * i + p - ph, sw * j + q - pw  # x[c, s·i+p, s·j+q] of the padded input: 0 in the padding
                inside = 0 <= r < H and 0 <= cc < W
                dl, x = float(L.delta[s, o, i, j]), float(L.a_prev[s, c, r, cc]) if inside else 0.0
                terms.append(ConvTerm(s, i, j, r, cc, dl, x, dl * x, not inside, (f(dl), f(x), f(dl * x))))
    l = number
    w, z, dlt = _name("w", l, f"{o},{c},{p},{q}", ng), _name("z", l, f"{o},i,j", ng), _name("δ", l, f"{o},i,j", ng)
    xs = _name("a", l - 1, f"{c}, {sh}·i+{p}, {sw}·j+{q}", ng, rf"{c},\,{sh}i+{p},\,{sw}j+{q}")
    sums = dv.over(n, "Σ_{i,j}", r"\sum_{i,j}")
    lhs = dv.grad(w)
    shown = dv.shown(len(terms), full)
    lines = [dv.chain(lhs, sums, z, w), M(f"= {sums[0]} {dlt.text} · {xs.text}", rf"= {sums[1]} {dlt.tex} \, {xs.tex}"),
             *dv.summed([(t.delta, t.x) for t in terms[:shown]], [t.product for t in terms[:shown]],
                        L.grad_weights[o, c, p, q], f, _more(len(terms) - shown))]
    return ConvDerivation(layer=li, l=l, index=(o, c, p, q), path=dv.path(li, "weights", (o, c, p, q)), name=w,
                          lhs=lhs, lines=lines, terms=terms, samples=n, shown=shown, stride=(sh, sw),
                          padding=(ph, pw), **dv.numbers(f, L.grad_weights[o, c, p, q], L.weights[o, c, p, q],
                                                         L.new_weights[o, c, p, q]))


def _derive_bias(L: Any, key: tuple, number: int, f: Formats, full: bool, ng: bool = False) -> ConvDerivation:
    """∂E/∂b[o] = Σ_{i,j} ∂E/∂z[o,i,j] · ∂z[o,i,j]/∂b[o] = Σ_{i,j} δ[o,i,j] (∂z/∂b = 1 at every position)."""
    li, (o,) = key[1], key[2]
    n, _o, Ho, Wo = L.delta.shape
    terms = [ConvTerm(s, i, j, -1, -1, float(L.delta[s, o, i, j]), 1.0, float(L.delta[s, o, i, j]), False,
                      (f(L.delta[s, o, i, j]), "1", f(L.delta[s, o, i, j])))
             for s in range(n) for i in range(Ho) for j in range(Wo)]
    l = number
    b, z, dlt = _name("b", l, f"{o}", ng), _name("z", l, f"{o},i,j", ng), _name("δ", l, f"{o},i,j", ng)
    sums = dv.over(n, "Σ_{i,j}", r"\sum_{i,j}")
    lhs = dv.grad(b)
    shown = dv.shown(len(terms), full)
    more = _more(len(terms) - shown)
    nums = " + ".join(f.p_(t.delta) for t in terms[:shown])
    g = f(L.grad_biases[o])
    lines = [dv.chain(lhs, sums, z, b), M(f"= {sums[0]} {dlt.text} · 1", rf"= {sums[1]} {dlt.tex} \cdot 1"),
             M(f"= {nums}{more.text}", "= " + nums + more.tex), M(f"= {g}", f"= {g}")]
    return ConvDerivation(layer=li, l=l, index=(o,), path=dv.path(li, "biases", (o,)), name=b, lhs=lhs, lines=lines,
                          terms=terms, samples=n, shown=shown, stride=L.hyper["stride"], padding=L.hyper["padding"],
                          kind="bias", **dv.numbers(f, L.grad_biases[o], L.biases[o], L.new_biases[o]))


FACE = dv.Face(keys, names, derive)
