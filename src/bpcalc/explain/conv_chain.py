"""One kernel weight of a conv2d layer as a derivation: ∂E/∂w[o,c,p,q] = Σ_{i,j} ∂E/∂z[o,i,j] · x[c, s·i+p, s·j+q]
(x the zero-padded input, indices from 0 as in the JSON), symbol by symbol, then each position's product with the
trace's numbers. The only arithmetic: each term's product of two numbers the trace holds; the total shown is the
trace's own gradient."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from bpcalc.engine.trace import NetworkTrace
from bpcalc.explain.mathtext import M
from bpcalc.explain.numfmt import Fmt
from bpcalc.i18n import _
from bpcalc.registry import LAYERS
from bpcalc.registry.layers.conv2d import windows

MAX_TERMS = 24  # terms written out (more with --full); the JSON has all


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


@dataclass
class ConvDerivation:
    """∂E/∂w for one kernel weight of a conv2d layer."""

    layer: int  # 0-based layer index
    l: int  # the layer's number in the notation
    index: tuple[int, int, int, int]  # (o, c, p, q)
    path: str
    name: M
    lhs: M
    lines: list[M]
    terms: list[ConvTerm]
    gradient: float  # the trace's own
    old: float
    new: float
    stride: tuple[int, int]
    padding: tuple[int, int]
    samples: int
    shown: int  # terms written out
    texts: dict = field(default_factory=dict)  # gradient, old, new as written
    kind: str = "weight"  # weight | bias


def _more(left: int) -> M:
    """` + … (n more terms)` after the terms written out (nothing when all are); LaTeX: the words as text."""
    if not left:
        return M("", "")
    words = _("({n} more terms)").format(n=left)
    return M(f" + … {words}", rf" + \ldots\ \text{{{words}}}")


def conv_keys(tr: NetworkTrace) -> list[tuple]:
    """The kernel weights and biases of the conv2d layers: ("cw", li, (o, c, p, q), 0), ("cb", li, (o,), 0)."""
    keys = []
    for li, L in enumerate(tr.layers):
        if LAYERS[L.type].kernels:
            keys += [("cw", li, tuple(int(v) for v in ix), 0) for ix in np.ndindex(*L.weights.shape)]
            if L.biases is not None:
                keys += [("cb", li, (o,), 0) for o in range(L.biases.shape[0])]
    return keys


def conv_names(tr: NetworkTrace, key: tuple, number: int, ng: bool = False) -> list[str]:
    """The names a kernel weight (bias) is known by: w^(l)[o,c,p,q] (b^(l)[o]; ng: w^[l][o,c,p,q]) and its JSON
    paths."""
    o_, c_ = ("[", "]") if ng else ("(", ")")
    if key[0] == "cb":
        li, (o,) = key[1], key[2]
        return [f"b^{o_}{number}{c_}[{o}]", f"b^{number}[{o}]", f"layers.{li}.biases.{o}",
                f"layers.{li}.grad_biases.{o}", f"layers.{li}.new_biases.{o}"]
    _k, li, (o, c, p, q), _z = key
    ix = f"{o}.{c}.{p}.{q}"
    return [f"w^{o_}{number}{c_}[{o},{c},{p},{q}]", f"w^{number}[{o},{c},{p},{q}]", f"layers.{li}.weights.{ix}",
            f"layers.{li}.grad_weights.{ix}", f"layers.{li}.new_weights.{ix}"]


def _name(base: str, l: int, ix: str, ng: bool, tex_ix: str | None = None) -> M:
    """base^(l)[ix] as explain writes a kernel's quantities (indices from 0, as in the JSON; TeX: as subscripts);
    ng: base^[l][ix], δ written dz (the course's names; mazur has none for kernels: the layer notation's)."""
    base = "dz" if ng and base == "δ" else base
    tex = {"δ": r"\delta"}.get(base, base)
    o, c = ("[", "]") if ng else ("(", ")")
    return M(f"{base}^{o}{l}{c}[{ix}]", rf"{tex}^{{{o}{l}{c}}}_{{{tex_ix or ix}}}")


def derive_conv(tr: NetworkTrace, key: tuple, number: int, f: Fmt, full: bool = False,
                ng: bool = False) -> ConvDerivation:
    """The derivation of one kernel weight's gradient, with every position's term (`ng`: in ng's names)."""
    if key[0] == "cb":
        return _derive_bias(tr, key, number, f, full, ng)
    _k, li, (o, c, p, q), _z = key
    L = tr.layers[li]
    (sh, sw), (ph, pw) = L.hyper["stride"], L.hyper["padding"]
    kh, kw = L.weights.shape[2:]
    win = windows(L.a_prev, kh, kw, (sh, sw), (ph, pw))  # x[c, s·i+p, s·j+q] of the padded input
    n, _o, Ho, Wo = L.delta.shape
    H, W = L.a_prev.shape[2:]
    terms = []
    for s in range(n):
        for i in range(Ho):
            for j in range(Wo):
                dl, x = float(L.delta[s, o, i, j]), float(win[s, c, i, j, p, q])
                r, cc = sh * i + p - ph, sw * j + q - pw
                terms.append(ConvTerm(s, i, j, r, cc, dl, x, dl * x, not (0 <= r < H and 0 <= cc < W),
                                      (f(dl), f(x), f(dl * x))))
    l = number
    w, z, dlt = _name("w", l, f"{o},{c},{p},{q}", ng), _name("z", l, f"{o},i,j", ng), _name("δ", l, f"{o},i,j", ng)
    xs = _name("a", l - 1, f"{c}, {sh}·i+{p}, {sw}·j+{q}", ng, rf"{c},\,{sh}i+{p},\,{sw}j+{q}")
    sums = ("Σ_s Σ_{i,j}", r"\sum_s \sum_{i,j}") if n > 1 else ("Σ_{i,j}", r"\sum_{i,j}")
    lhs = M(f"∂E/∂{w.text}", rf"\frac{{\partial E}}{{\partial {w.tex}}}")
    shown = len(terms) if full else min(len(terms), MAX_TERMS)
    lines = [
        M(f"{lhs.text} = {sums[0]} ∂E/∂{z.text} · ∂{z.text}/∂{w.text}",
          rf"{lhs.tex} = {sums[1]} \frac{{\partial E}}{{\partial {z.tex}}} \frac{{\partial {z.tex}}}"
          rf"{{\partial {w.tex}}}"),
        M(f"= {sums[0]} {dlt.text} · {xs.text}", rf"= {sums[1]} {dlt.tex} \, {xs.tex}"),
    ]
    written = terms[:shown]
    more = _more(len(terms) - shown)
    nums = " + ".join(f"{f.p_(t.delta)}·{f.p_(t.x)}" for t in written)
    prods = " + ".join(f.p_(t.product) for t in written)
    g = f(L.grad_weights[o, c, p, q])
    lines += [M(f"= {nums}{more.text}", "= " + nums.replace("·", r" \cdot ") + more.tex),
              M(f"= {prods}{more.text}", "= " + prods + more.tex), M(f"= {g}", f"= {g}")]
    return ConvDerivation(li, l, (o, c, p, q), f"layers.{li}.weights.{o}.{c}.{p}.{q}", w, lhs, lines, terms,
                          float(L.grad_weights[o, c, p, q]), float(L.weights[o, c, p, q]),
                          float(L.new_weights[o, c, p, q]), (sh, sw), (ph, pw), n, shown,
                          {"gradient": f(L.grad_weights[o, c, p, q]), "old": f(L.weights[o, c, p, q]),
                           "new": f(L.new_weights[o, c, p, q])})


def _derive_bias(tr: NetworkTrace, key: tuple, number: int, f: Fmt, full: bool, ng: bool = False) -> ConvDerivation:
    """∂E/∂b[o] = Σ_{i,j} ∂E/∂z[o,i,j] · ∂z[o,i,j]/∂b[o] = Σ_{i,j} δ[o,i,j] (∂z/∂b = 1 at every position)."""
    li, (o,) = key[1], key[2]
    L = tr.layers[li]
    n, _o, Ho, Wo = L.delta.shape
    terms = [ConvTerm(s, i, j, -1, -1, float(L.delta[s, o, i, j]), 1.0, float(L.delta[s, o, i, j]), False,
                      (f(L.delta[s, o, i, j]), "1", f(L.delta[s, o, i, j])))
             for s in range(n) for i in range(Ho) for j in range(Wo)]
    l = number
    b, z, dlt = _name("b", l, f"{o}", ng), _name("z", l, f"{o},i,j", ng), _name("δ", l, f"{o},i,j", ng)
    sums = ("Σ_s Σ_{i,j}", r"\sum_s \sum_{i,j}") if n > 1 else ("Σ_{i,j}", r"\sum_{i,j}")
    lhs = M(f"∂E/∂{b.text}", rf"\frac{{\partial E}}{{\partial {b.tex}}}")
    shown = len(terms) if full else min(len(terms), MAX_TERMS)
    more = _more(len(terms) - shown)
    nums = " + ".join(f.p_(t.delta) for t in terms[:shown])
    g = f(L.grad_biases[o])
    lines = [M(f"{lhs.text} = {sums[0]} ∂E/∂{z.text} · ∂{z.text}/∂{b.text}",
               rf"{lhs.tex} = {sums[1]} \frac{{\partial E}}{{\partial {z.tex}}} \frac{{\partial {z.tex}}}"
               rf"{{\partial {b.tex}}}"),
             M(f"= {sums[0]} {dlt.text} · 1", rf"= {sums[1]} {dlt.tex} \cdot 1"),
             M(f"= {nums}{more.text}", "= " + nums + more.tex), M(f"= {g}", f"= {g}")]
    return ConvDerivation(li, l, (o,), f"layers.{li}.biases.{o}", b, lhs, lines, terms, float(L.grad_biases[o]),
                          float(L.biases[o]), float(L.new_biases[o]), L.hyper["stride"], L.hyper["padding"], n,
                          shown, {"gradient": g, "old": f(L.biases[o]), "new": f(L.new_biases[o])}, kind="bias")
