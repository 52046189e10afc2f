"""The `explain` face of the recurrent kinds (rnn, lstm, gru): one parameter as a derivation unrolled over the steps.

rnn: ∂E/∂W_hh[j,i] = Σ_t ∂E/∂z_t[j] · ∂z_t[j]/∂W_hh[j,i] = Σ_t δ_t[j] · h_{t−1}[i], with δ_t[j] = (∂E/∂h_t[j] from
this step's output + from step t+1) · f′(z_t[j]). lstm, gru: ∂E/∂W_ig[j,k] = Σ_t ∂E/∂sᵍ_t[j] · ∂sᵍ_t[j]/∂W_ig[j,k]
= Σ_t δᵍ_t[j] · x_t[k] (W_hg: h_{t−1}[m]; a bias: 1), δᵍ_t[j] as run's backward tables derive it from ∂E/∂h_t (both
paths) and, for an LSTM, ∂E/∂c_t (a GRU's n gate reaches W_hn and b_hn through r_t: their δ is δⁿ_t[j]·r_t[j]).
Then each (sequence, step) term with the trace's numbers. The only arithmetic: each term's product of two numbers
the trace holds; every other value shown is the trace's own."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from bpcalc.i18n import Msg, _
from bpcalc.registry.kinds import Formats
from bpcalc.registry.layers import gated_narrate as gn
from bpcalc.registry.layers import recurrent as rc
from bpcalc.registry.layers.derive import common as dv
from bpcalc.registry.written import M, Sym


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


@dataclass(kw_only=True)
class RnnDerivation(dv.Derivation):
    """∂E/∂θ for one parameter of a recurrent layer, unrolled over the steps."""

    key: str  # weights_ih, weights_hh, biases_ih, biases_hh
    factor_name: str  # x_t[k], h_{t−1}[i] or 1
    truncate: int | None = None

    def narrate(self) -> list[dv.Section]:
        """The layer's heading, then how the parameter enters z_t, the equation, each step's term and the sum."""
        note = Msg("{p} (JSON: {path}) enters z_t at every step, so its gradient is the sum over the steps{samples} "
                   "of δ_t = ∂E/∂z_t times ∂z_t/∂{p} = {factor}; ∂E/∂h_t adds the path from this step's output and "
                   "the path from step t+1", p=self.name.text, path=self.path, factor=self.factor_name,
                   samples=Msg(" and sequences") if self.samples > 1 else "")
        return dv.over_steps(self, Msg("Layer {l}: rnn", l=self.l), [note, *self._truncated()],
                             ["∂E/∂h_t|out", "∂E/∂h_t|t+1", "∂E/∂h_t", "f′(z_t)", "δ_t", self.factor_name,
                              Msg("product")])

    def _truncated(self) -> list[Msg]:
        """What truncation cuts, after the note (nothing without it)."""
        return [Msg("; truncate {k} cuts the path from step t+1 where t is a multiple of {k}", k=self.truncate)
                ] if self.truncate else []

    def as_dict(self) -> dict:
        return {"name": self.name.text, "path": self.path, "key": self.key, "layer": self.l, "index": list(self.index),
                "gradient": self.gradient, "old": self.old, "new": self.new, "equation": [m.text for m in self.lines],
                "terms": [{"sample": t.sample, "step": t.step, "grad_h_out": t.out, "grad_h_next": t.next,
                           "local": t.local, "delta": t.delta, "factor": t.factor, "product": t.product}
                          for t in self.terms]} | dv.frozen(self)


@dataclass(kw_only=True)
class GatedDerivation(RnnDerivation):
    """… of an lstm or gru layer: through the δ of the parameter's gate."""

    gate: str
    delta_name: str
    cell: str  # lstm or gru: the heading's kind
    cell_state: bool = False  # an LSTM's c_t carries δ too

    def narrate(self) -> list[dv.Section]:
        """The layer's heading, then how the parameter enters its gate's sum, the equation, each step's term and
        the sum."""
        note = Msg("{p} (JSON: {path}) enters gate {g}'s sum at every step, so its gradient is the sum over the "
                   "steps{samples} of the gate's δ times ∂s/∂{p} = {factor}; {how}", p=self.name.text, path=self.path,
                   g=self.gate, factor=self.factor_name, how=gate_words(self),
                   samples=Msg(" and sequences") if self.samples > 1 else "")
        return dv.over_steps(self, Msg("Layer {l}: {kind}", l=self.l, kind=self.cell), [note, *self._truncated()],
                             ["∂E/∂h_t|out", "∂E/∂h_t|t+1", "∂E/∂h_t", self.delta_name, self.factor_name,
                              Msg("product")])


def keys(L: Any, li: int) -> list[tuple]:
    """Every parameter of a recurrent layer: ("rnn", li, key, index)."""
    return [("rnn", li, key, tuple(int(v) for v in ix)) for key in rc.PARAMS if key in L.params
            for ix in np.ndindex(L.params[key].shape)]


def _names(namer):
    def names(L: Any, key: tuple, number: int, profile: str) -> list[str]:
        """W_hh[1,2] (1-based, as the tables write it; an LSTM's by gate, W_ii[1,2]), with the layer's number
        (W_hh^(3)[1,2]) and the JSON paths."""
        _k, li, name, ix = key
        shown = namer(name, ix, L.params)[0]
        return [shown, dv.layered(shown, number, profile), *dv.paths(li, name, ix)]

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


def _unrolled(cls: type, L: Any, key: tuple, number: int, f: Formats, full: bool, j: int, delta: np.ndarray,
              h_prev: np.ndarray, x_name: Callable[[int], Sym], p: M, inner: Sym,
              second: Callable[[Sym, Sym], M], local: np.ndarray | None = None, **own: Any) -> RnnDerivation:
    """A recurrent parameter θ of unit j, unrolled: ∂E/∂θ = Σ_t ∂E/∂inner · ∂inner/∂θ, then `second`(sums, the
    factor's name) in the kind's own terms, then each (sequence, step) term δ_t · factor with the trace's numbers,
    their products and the trace's gradient. The factor: x_t[k] (`x_name`(k), W_ih), h_{t−1}[m] (W_hh) or 1."""
    _k, li, name, ix = key
    if name == "weights_ih":
        src, fname = L.a_prev[..., ix[1]], x_name(ix[1])
    elif name == "weights_hh":
        src, fname = h_prev[..., ix[1]], (f"h_{{t−1}}[{ix[1] + 1}]", f"h_{{t-1}}[{ix[1] + 1}]")
    else:
        src, fname = np.ones(delta.shape), ("1", "1")
    terms = _terms(L, j, delta, src, f, local)
    lhs, sums = dv.grad(p), dv.over(delta.shape[0], "Σ_t", r"\sum_t")
    shown = dv.shown(len(terms), full)
    more = "" if shown == len(terms) else _(" + … ({n} more terms)").format(n=len(terms) - shown)
    lines = [dv.chain(lhs, sums, inner, p), second(sums, fname),
             *dv.summed([(x.delta, x.factor) for x in terms[:shown]], [x.product for x in terms[:shown]],
                        L.grads[name][ix], f, dv.left_out(more))]
    return cls(layer=li, l=number, key=name, index=ix, path=dv.path(li, name, ix), name=p,
               lhs=lhs, lines=lines, terms=terms, samples=delta.shape[0], shown=shown, factor_name=fname[0],
               **dv.numbers(f, L.grads[name][ix], L.params[name][ix], L.new_params[name][ix]), **own)


def derive_rnn(L: Any, key: tuple, number: int, f: Formats, full: bool = False, profile: str = "layer"
               ) -> RnnDerivation:
    _k, li, name, ix = key
    rec = L.record
    j = ix[0]
    h, nonlin = rec["h"], rec["nonlinearity"]
    z = M(f"z_t[{j + 1}]", f"z_t[{j + 1}]")
    hj = M(f"h_t[{j + 1}]", f"h_t[{j + 1}]")
    fp = rc.f_prime_sym(nonlin, (z.text, z.tex), (hj.text, hj.tex))

    def second(sums: Sym, fname: Sym) -> M:
        return M(f"= {sums[0]} (∂E/∂{hj.text}|out + ∂E/∂{hj.text}|t+1) · {fp[0]} · {fname[0]}",
                 rf"= {sums[1]} \left(\frac{{\partial E}}{{\partial {hj.tex}}}\Big|_{{\text{{out}}}} + "
                 rf"\frac{{\partial E}}{{\partial {hj.tex}}}\Big|_{{t+1}}\right) {fp[1]} \, {fname[1]}")

    return _unrolled(RnnDerivation, L, key, number, f, full, j, rec["grad_preactivation"][..., j],
                     np.concatenate([rec["h0"][:, None], h[:, :-1]], axis=1),
                     lambda k: rc.x_sym(_Below(li, number), "t", k), M(*rc.param_sym(name, ix)), z, second,
                     rc.f_prime(nonlin, rec["preactivation"], h)[..., j], truncate=rec["truncate"])


def _derive_gated(cell_state: bool):
    def derive_gated(L: Any, key: tuple, number: int, f: Formats, full: bool = False, profile: str = "layer"
                     ) -> GatedDerivation:
        _k, li, name, ix = key
        rec, P = L.record, L.params
        H = P["weights_hh"].shape[1]
        g, j = L.hyper["gate_names"][ix[0] // H], ix[0] % H
        gru_n = "delta_hh" in rec and name.endswith("_hh") and g == "n"  # (W_hn, b_hn: through r_t)
        d_sym = (f"δ{gn.SUP[g]}_t[{j + 1}]·r_t[{j + 1}]", rf"\delta^{{{g}}}_t[{j + 1}]\, r_t[{j + 1}]") if gru_n \
            else gn.at(gn.delta_sym(g), "t", (j,))

        def second(sums: Sym, fname: Sym) -> M:
            return M(f"= {sums[0]} {d_sym[0]} · {fname[0]}", rf"= {sums[1]} {d_sym[1]} \, {fname[1]}")

        return _unrolled(GatedDerivation, L, key, number, f, full, j,
                         (rec["delta_hh"] if gru_n else rec["delta_gates"])[g][..., j], rec["h_prev"],
                         lambda k: gn.at(gn.in_sym(_Below(li, number)), "t", (k,)), M(*gn.param_name(name, ix, P)),
                         gn.at(gn.sum_sym(g), "t", (j,)), second, truncate=L.hyper.get("truncate"), gate=g,
                         delta_name=d_sym[0], cell=L.type, cell_state=cell_state)

    return derive_gated


class _Below:
    """What recurrent.x_sym and gated_narrate.in_sym need: the layer's index and the layer below's number."""

    def __init__(self, li: int, number: int):
        self.li, self.l = li, number

    def prev(self) -> _Below:
        return _Below(self.li - 1, self.l - 1)


def gate_words(rd: GatedDerivation) -> Msg:
    """How the table's δ was reached, in words, for the explanation's note."""
    if rd.cell_state:
        return Msg("δ{sup} comes from ∂E/∂h_t (both paths) and ∂E/∂c_t, as run's backward tables derive it",
                   sup=gn.SUP[rd.gate])
    return Msg("δ{sup} comes from ∂E/∂h_t (both paths), as run's backward tables derive it", sup=gn.SUP[rd.gate])


RNN = dv.Face(keys, _names(rc.param_sym), derive_rnn)
LSTM = dv.Face(keys, _names(gn.param_name), _derive_gated(cell_state=True))  # its c_t carries δ too
GRU = dv.Face(keys, _names(gn.param_name), _derive_gated(cell_state=False))
