"""The `explain` face of the recurrent kinds (rnn, lstm, gru): one parameter as a derivation unrolled over the steps.

rnn: ∂E/∂W_hh[j,i] = Σ_t ∂E/∂z_t[j] · ∂z_t[j]/∂W_hh[j,i] = Σ_t δ_t[j] · h_{t−1}[i], with δ_t[j] = (∂E/∂h_t[j] from
this step's output + from step t+1) · f′(z_t[j]). lstm, gru: ∂E/∂W_ig[j,k] = Σ_t ∂E/∂sᵍ_t[j] · ∂sᵍ_t[j]/∂W_ig[j,k]
= Σ_t δᵍ_t[j] · x_t[k] (W_hg: h_{t−1}[m]; a bias: 1), δᵍ_t[j] as run's backward tables derive it from ∂E/∂h_t (both
paths) and, for an LSTM, ∂E/∂c_t (a GRU's n gate reaches W_hn and b_hn through r_t: their δ is δⁿ_t[j]·r_t[j]).
Then each (sequence, step) term with the trace's numbers. The only arithmetic: each term's product of two numbers
the trace holds; every other value shown is the trace's own."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bpcalc.i18n import _
from bpcalc.registry.kinds import Explains, Formats
from bpcalc.registry.layers import derivation as dv
from bpcalc.registry.layers import gated_narrate as gn
from bpcalc.registry.layers import recurrent as rc
from bpcalc.registry.written import M


@dataclass
class StepTerm:
    """One (sequence, step) term of the sum: δ_t[j] (rnn: (out + next) · f′; a gate's δ), times the factor
    ∂z_t[j]/∂θ (x_t[k], h_{t−1}[i] or 1)."""

    sample: int
    step: int
    out: float  # ∂E/∂h_t[j] through this step's output
    next: float  # … through step t+1 (0 where truncation cuts it)
    local: float | None  # f′(z_t[j]) (a gated cell has no single f′ factor: the JSON writes null)
    delta: float  # ∂E/∂z_t[j], or the gate's δ (the recurrent side's for W_hn, b_hn of a GRU: δⁿ·r)
    factor: float  # x_t[k], h_{t−1}[i] or 1
    product: float
    texts: tuple[str, ...] = ()


@dataclass
class RnnDerivation:
    """∂E/∂θ for one parameter of a recurrent layer, unrolled over the steps."""

    layer: int
    l: int
    key: str  # weights_ih, weights_hh, biases_ih, biases_hh
    index: tuple[int, ...]
    path: str
    name: M
    lhs: M
    lines: list[M]
    terms: list[StepTerm]
    gradient: float
    old: float
    new: float
    samples: int
    shown: int
    factor_name: str  # x_t[k], h_{t−1}[i] or 1
    truncate: int | None = None
    texts: dict = field(default_factory=dict)


@dataclass
class GatedDerivation(RnnDerivation):
    """… of an lstm or gru layer: through the δ of the parameter's gate."""

    gate: str = ""
    delta_name: str = ""
    cell: str = ""  # lstm or gru: the heading's kind
    cell_state: bool = False  # an LSTM's c_t carries δ too


def keys(L: Any, li: int) -> list[tuple]:
    """Every parameter of a recurrent layer: ("rnn", li, key, index)."""
    return [("rnn", li, key, tuple(int(v) for v in ix)) for key in rc.PARAMS if key in L.params
            for ix in np.ndindex(L.params[key].shape)]


def _names(namer):
    def names(L: Any, key: tuple, number: int, profile: str) -> list[str]:
        """W_hh[1,2] (1-based, as the tables write it; an LSTM's by gate, W_ii[1,2]) and the JSON paths."""
        _k, li, name, ix = key
        dots = ".".join(map(str, ix))
        return [namer(name, ix, L.params)[0], *(f"layers.{li}.{p}{name}.{dots}" for p in ("", "grad_", "new_"))]

    return names


def _terms(L: Any, j: int, delta: np.ndarray, src: np.ndarray, f: Formats, local: np.ndarray | None = None
           ) -> list[StepTerm]:
    """Each (sequence, step) term δ · factor of unit j (delta, src, local: sequence × step)."""
    rec = L.record
    out = []
    for s in range(delta.shape[0]):
        for t in range(delta.shape[1]):
            prod = float(delta[s, t] * src[s, t])
            fp = () if local is None else (f(local[s, t]),)
            out.append(StepTerm(s, t, float(L.grad_a[s, t, j]), float(rec["grad_h_next"][s, t, j]),
                                None if local is None else float(local[s, t]), float(delta[s, t]), float(src[s, t]),
                                prod, (f(L.grad_a[s, t, j]), f(rec["grad_h_next"][s, t, j]),
                                       f(rec["grad_h"][s, t, j]), *fp, f(delta[s, t]), f(src[s, t]), f(prod))))
    return out


def _closing(L: Any, name: str, ix: tuple, terms: list[StepTerm], f: Formats, full: bool) -> tuple[int, list[M]]:
    """How many terms are written out, and the lines with their numbers down to the trace's gradient."""
    shown = dv.shown(len(terms), full)
    more = "" if shown == len(terms) else _(" + … ({n} more terms)").format(n=len(terms) - shown)
    return shown, dv.summed([(x.delta, x.factor) for x in terms[:shown]], [x.product for x in terms[:shown]],
                            L.grads[name][ix], f, dv.left_out(more))


def _values(L: Any, name: str, ix: tuple, f: Formats) -> dict:
    g = L.grads[name][ix]
    return {"gradient": f(g), "old": f(L.params[name][ix]), "new": f(L.new_params[name][ix])}


def derive_rnn(L: Any, key: tuple, number: int, f: Formats, full: bool = False, profile: str = "layer"
               ) -> RnnDerivation:
    _k, li, name, ix = key
    rec = L.record
    j = ix[0]
    h, pre, d = rec["h"], rec["preactivation"], rec["grad_preactivation"]
    n, T, _H = h.shape
    hprev = np.concatenate([rec["h0"][:, None], h[:, :-1]], axis=1)
    if name == "weights_ih":
        src, fname = L.a_prev[..., ix[1]], rc.x_sym(_Below(li, number), "t", ix[1])
    elif name == "weights_hh":
        src, fname = hprev[..., ix[1]], ("h_{t−1}[" + str(ix[1] + 1) + "]", "h_{t-1}[" + str(ix[1] + 1) + "]")
    else:
        src, fname = np.ones((n, T)), ("1", "1")
    nonlin = rec["nonlinearity"]
    local = rc.f_prime(nonlin, pre, h)
    terms = _terms(L, j, d[..., j], src, f, local[..., j])
    p = M(*rc.param_sym(name, ix))
    lhs = dv.grad(p)
    sums = dv.over(n, "Σ_t", r"\sum_t")
    z = M(f"z_t[{j + 1}]", f"z_t[{j + 1}]")
    hj = M(f"h_t[{j + 1}]", f"h_t[{j + 1}]")
    fp = rc.f_prime_sym(nonlin, (z.text, z.tex), (hj.text, hj.tex))
    shown, closing = _closing(L, name, ix, terms, f, full)
    lines = [
        dv.chain(lhs, sums, z, p),
        M(f"= {sums[0]} (∂E/∂{hj.text}|out + ∂E/∂{hj.text}|t+1) · {fp[0]} · {fname[0]}",
          rf"= {sums[1]} \left(\frac{{\partial E}}{{\partial {hj.tex}}}\Big|_{{\text{{out}}}} + "
          rf"\frac{{\partial E}}{{\partial {hj.tex}}}\Big|_{{t+1}}\right) {fp[1]} \, {fname[1]}"),
        *closing,
    ]
    return RnnDerivation(li, number, name, ix, f"layers.{li}.{name}.{'.'.join(map(str, ix))}", p, lhs, lines, terms,
                         float(L.grads[name][ix]), float(L.params[name][ix]), float(L.new_params[name][ix]), n, shown,
                         fname[0], rec["truncate"], _values(L, name, ix, f))


def _derive_gated(cell_state: bool):
    def derive_gated(L: Any, key: tuple, number: int, f: Formats, full: bool = False, profile: str = "layer"
                     ) -> GatedDerivation:
        _k, li, name, ix = key
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
            src, fname = L.a_prev[..., ix[1]], gn.at(gn.in_sym(_Below(li, number)), "t", (ix[1],))
        elif name == "weights_hh":
            src, fname = rec["h_prev"][..., ix[1]], (f"h_{{t−1}}[{ix[1] + 1}]", f"h_{{t-1}}[{ix[1] + 1}]")
        else:
            src, fname = np.ones((n, T)), ("1", "1")
        terms = _terms(L, j, d, src, f)
        p = M(*gn.param_name(name, ix, P))
        lhs = dv.grad(p)
        sums = dv.over(n, "Σ_t", r"\sum_t")
        shown, closing = _closing(L, name, ix, terms, f, full)
        lines = [dv.chain(lhs, sums, s_sym, p),
                 M(f"= {sums[0]} {d_sym[0]} · {fname[0]}", rf"= {sums[1]} {d_sym[1]} \, {fname[1]}"), *closing]
        return GatedDerivation(li, number, name, ix, f"layers.{li}.{name}.{'.'.join(map(str, ix))}", p, lhs, lines,
                               terms, float(L.grads[name][ix]), float(P[name][ix]), float(L.new_params[name][ix]), n,
                               shown, fname[0], L.hyper.get("truncate"), _values(L, name, ix, f), g, d_sym[0], L.type,
                               cell_state)

    return derive_gated


class _Below:
    """What recurrent.x_sym and gated_narrate.in_sym need: the layer's index and the layer below's number."""

    def __init__(self, li: int, number: int):
        self.li, self.l = li, number

    def prev(self) -> _Below:
        return _Below(self.li - 1, self.l - 1)


def gate_words(rd: GatedDerivation) -> str:
    """How the table's δ was reached, in words, for the explanation's note."""
    return (_("δ{sup} comes from ∂E/∂h_t (both paths) and ∂E/∂c_t, as run's backward tables derive it")
            if rd.cell_state else _("δ{sup} comes from ∂E/∂h_t (both paths), as run's backward tables derive it")
            ).format(sup=gn.SUP[rd.gate])


RNN = Explains(keys=keys, names=_names(rc.param_sym), derive=derive_rnn, group="rnn")


def gated(cell_state: bool) -> Explains:
    """The face of a gated cell: an LSTM's (cell_state: its c_t carries δ too) or a GRU's."""
    return Explains(keys=keys, names=_names(gn.param_name), derive=_derive_gated(cell_state), group="rnn")
