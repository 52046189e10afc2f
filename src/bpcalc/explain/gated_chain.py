"""One parameter of an lstm or gru layer as a derivation unrolled over the steps: ∂E/∂W_ig[j,k] = Σ_t ∂E/∂sᵍ_t[j] ·
∂sᵍ_t[j]/∂W_ig[j,k] = Σ_t δᵍ_t[j] · x_t[k] (W_hg: h_{t−1}[m]; a bias: 1), δᵍ_t[j] as run's backward tables derive it
from ∂E/∂h_t (the path from this step's output plus the path from step t+1) and, for an LSTM, ∂E/∂c_t; then each
(sequence, step) term with the trace's numbers. The only arithmetic: each term's product of two numbers the trace
holds. (A GRU's n gate reaches W_hn and b_hn through r_t: their δ is δⁿ_t[j]·r_t[j].)"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from bpcalc.engine.trace import NetworkTrace
from bpcalc.explain.mathtext import M
from bpcalc.explain.numfmt import Fmt
from bpcalc.i18n import _
from bpcalc.registry import LAYERS
from bpcalc.registry.layers import gated_narrate as gn

MAX_TERMS = 24  # terms written out (more with --full); the JSON has all


@dataclass
class GatedTerm:
    """One (sequence, step) term: δ of the parameter's gate times the factor ∂s/∂θ (x_t[k], h_{t−1}[m] or 1)."""

    sample: int
    step: int
    out: float  # ∂E/∂h_t[j] through this step's output
    next: float  # … through step t+1 (0 where truncation cuts it)
    delta: float  # the gate's δ (the recurrent side's for W_hn, b_hn of a GRU: δⁿ·r)
    factor: float
    product: float
    local: None = None  # (no single f′ factor: the JSON writes null, as for every gated term)
    texts: tuple[str, ...] = ()


@dataclass
class GatedDerivation:
    layer: int
    l: int
    key: str  # weights_ih, weights_hh, biases_ih, biases_hh
    index: tuple[int, ...]
    path: str
    name: M
    lhs: M
    lines: list[M]
    terms: list[GatedTerm]
    gradient: float
    old: float
    new: float
    samples: int
    shown: int
    factor_name: str
    gate: str
    delta_name: str
    cell: str  # lstm or gru: the heading's kind
    truncate: int | None = None
    texts: dict = field(default_factory=dict)


def is_gated(tr: NetworkTrace, li: int) -> bool:
    """A layer whose trace records gates (lstm, gru): its derivation is this module's."""
    return "delta_gates" in tr.layers[li].record


def derive_gated(tr: NetworkTrace, key: tuple, number: int, f: Fmt, full: bool = False) -> GatedDerivation:
    _k, li, name, ix = key
    L = tr.layers[li]
    rec, P = L.record, L.params
    H = P["weights_hh"].shape[1]
    gates = L.hyper["gate_names"]
    g, j = gates[ix[0] // H], ix[0] % H
    side = "i" if name.endswith("_ih") else "h"
    gru_n = "delta_hh" in rec and side == "h" and g == "n"
    d = (rec["delta_hh"] if gru_n else rec["delta_gates"])[g][..., j]
    n, T = d.shape
    s_sym = gn.at(gn.sum_sym(g), "t", (j,))
    d_sym = (f"δ{gn.SUP[g]}_t[{j + 1}]·r_t[{j + 1}]", rf"\delta^{{{g}}}_t[{j + 1}]\, r_t[{j + 1}]") if gru_n else \
        gn.at(gn.delta_sym(g), "t", (j,))
    if name == "weights_ih":
        src, fname = L.a_prev[..., ix[1]], gn.at(gn.in_sym(_Names(li, tr)), "t", (ix[1],))
    elif name == "weights_hh":
        src, fname = rec["h_prev"][..., ix[1]], (f"h_{{t−1}}[{ix[1] + 1}]", f"h_{{t-1}}[{ix[1] + 1}]")
    else:
        src, fname = np.ones((n, T)), ("1", "1")
    terms = []
    for s in range(n):
        for t in range(T):
            prod = float(d[s, t] * src[s, t])
            terms.append(GatedTerm(s, t, float(L.grad_a[s, t, j]), float(rec["grad_h_next"][s, t, j]), float(d[s, t]),
                                   float(src[s, t]), prod,
                                   texts=(f(L.grad_a[s, t, j]), f(rec["grad_h_next"][s, t, j]),
                                          f(rec["grad_h"][s, t, j]), f(d[s, t]), f(src[s, t]), f(prod))))
    p = M(*gn.param_name(name, ix, P))
    lhs = M(f"∂E/∂{p.text}", rf"\frac{{\partial E}}{{\partial {p.tex}}}")
    sums = ("Σ_s Σ_t", r"\sum_s \sum_t") if n > 1 else ("Σ_t", r"\sum_t")
    lines = [
        M(f"{lhs.text} = {sums[0]} ∂E/∂{s_sym[0]} · ∂{s_sym[0]}/∂{p.text}",
          rf"{lhs.tex} = {sums[1]} \frac{{\partial E}}{{\partial {s_sym[1]}}} "
          rf"\frac{{\partial {s_sym[1]}}}{{\partial {p.tex}}}"),
        M(f"= {sums[0]} {d_sym[0]} · {fname[0]}", rf"= {sums[1]} {d_sym[1]} \, {fname[1]}"),
    ]
    shown = len(terms) if full else min(len(terms), MAX_TERMS)
    more = "" if shown == len(terms) else _(" + … ({n} more terms)").format(n=len(terms) - shown)
    nums = " + ".join(f"{f.p_(x.delta)}·{f.p_(x.factor)}" for x in terms[:shown]) + more
    prods = " + ".join(f.p_(x.product) for x in terms[:shown]) + more
    grad = L.grads[name][ix]
    lines += [M(f"= {nums}", "= " + nums.replace("·", r" \cdot ").replace("…", r"\ldots")),
              M(f"= {prods}", "= " + prods.replace("…", r"\ldots")), M(f"= {f(grad)}", f"= {f(grad)}")]
    return GatedDerivation(li, number, name, ix, f"layers.{li}.{name}.{'.'.join(map(str, ix))}", p, lhs, lines,
                           terms, float(grad), float(P[name][ix]), float(L.new_params[name][ix]), n, shown, fname[0],
                           g, d_sym[0], L.type, L.hyper.get("truncate"),
                           {"gradient": f(grad), "old": f(P[name][ix]), "new": f(L.new_params[name][ix])})


class _Names:
    """What gated_narrate.in_sym needs: the layer's index and the layer below's number."""

    def __init__(self, li: int, tr: NetworkTrace):
        from bpcalc.explain.notation import Notation

        self.li, self._tr = li, tr
        self.l = Notation.of(tr).number(li)

    def prev(self) -> _Names:
        return _Names(self.li - 1, self._tr)


def gate_words(rd: GatedDerivation) -> str:
    """How the table's δ was reached, in words, for the explanation's note."""
    kind = LAYERS[rd.cell]
    lstm = "c0" in kind.keys
    return (_("δ{sup} comes from ∂E/∂h_t (both paths) and ∂E/∂c_t, as run's backward tables derive it") if lstm
            else _("δ{sup} comes from ∂E/∂h_t (both paths), as run's backward tables derive it")).format(
                sup=gn.SUP[rd.gate])
