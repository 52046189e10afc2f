"""attention's `explain` face: one parameter as a derivation, ∂E/∂w_q[c,k] = Σ_t ∂E/∂Q_t[c] · x_t[k], with
∂E/∂Q_t[c] = Σ_j ∂E/∂S_tj · K_j[c] / √d_k, ∂E/∂S_tj = A_tj(∂E/∂A_tj − Σ_m ∂E/∂A_tm·A_tm) (the row softmax's
Jacobian) and ∂E/∂A_tj = Σ_c ∂E/∂H_t[c]·V_j[c]; W_k, W_v and W_o alike. Then each (sequence, step) term with the
trace's numbers. The only arithmetic: each term's product of two numbers the trace holds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from bpcalc.i18n import Msg
from bpcalc.registry.kinds import Formats
from bpcalc.registry.layers.attention_narrate import param_sym
from bpcalc.registry.layers.derive import common as dv
from bpcalc.registry.written import M


@dataclass
class AttentionTerm:
    """One (sequence, step) term: the inner gradient at step t times the factor the parameter multiplies."""

    sample: int
    step: int
    inner: float  # ∂E/∂Q_t[c], ∂E/∂K_t[c], ∂E/∂V_t[c] or ∂E/∂a_t[r]
    factor: float  # x_t[k], H_t[c] or 1
    product: float
    texts: tuple[str, ...] = ()


@dataclass(kw_only=True)
class AttentionDerivation(dv.Derivation):
    """∂E/∂θ for one parameter of an attention layer, over the steps: each step's inner gradient times a factor."""

    key: str  # weights_q, …, biases_o
    inner_name: str  # ∂E/∂Q_t[1] …
    factor_name: str  # x_t[2], H_t[1] or 1

    def narrate(self) -> list[dv.Section]:
        """The layer's heading, then where the parameter is used, the chain rule down to the scores, each step's
        term and the sum."""
        note = Msg("{p} (JSON: {path}) is used at every step, so its gradient is the sum over the steps{samples} of "
                   "{inner} times {factor}; the lines under the first say where {inner} comes from (the trace holds "
                   "each of them: grad_q, grad_k, grad_v, grad_scores, grad_attention)", p=self.name.text,
                   path=self.path, inner=self.inner_name, factor=self.factor_name,
                   samples=Msg(" and sequences") if self.samples > 1 else "")
        return dv.over_steps(self, Msg("Layer {l}: attention", l=self.l), note,
                             [self.inner_name, self.factor_name, Msg("product")])

    def as_dict(self) -> dict:
        return {"name": self.name.text, "path": self.path, "key": self.key, "layer": self.l, "index": list(self.index),
                "gradient": self.gradient, "old": self.old, "new": self.new, "equation": [m.text for m in self.lines],
                "terms": [{"sample": t.sample, "step": t.step, "inner": t.inner, "factor": t.factor,
                           "product": t.product} for t in self.terms]} | dv.frozen(self)


def keys(L: Any, li: int) -> list[tuple]:
    """Every parameter of an attention layer: ("att", li, key, index)."""
    return [("att", li, key, tuple(int(v) for v in ix)) for key in L.params for ix in np.ndindex(L.params[key].shape)]


def names(L: Any, key: tuple, number: int, profile: str) -> list[str]:
    """w_q[1,2] (1-based, as the tables write it), with the layer's number (w_q^(3)[1,2]) and the JSON paths."""
    _k, li, name, ix = key
    shown = param_sym(name, ix)[0]
    return [shown, dv.layered(shown, number, profile), *dv.paths(li, name, ix)]


def _chain(m: str, c: int, dk: int, wo: bool) -> list[tuple[str, str]]:
    """The chain rule down to the scores for the inner gradient of projection m at feature c: (text, TeX) lines."""
    hs = "C" if wo else "h"
    dA = (f"∂E/∂A_tj = Σ_c ∂E/∂{hs}_t[c]·V_j[c]", rf"\frac{{\partial E}}{{\partial A_{{tj}}}} = \sum_c "
          rf"\frac{{\partial E}}{{\partial {hs}_t[c]}} V_j[c]")
    dS = ("∂E/∂S_tj = A_tj(∂E/∂A_tj − Σ_m ∂E/∂A_tm·A_tm)   (the row softmax's Jacobian A_tm(δ_mj − A_tj))",
          r"\frac{\partial E}{\partial S_{tj}} = A_{tj}\left(\frac{\partial E}{\partial A_{tj}} - \sum_m "
          r"\frac{\partial E}{\partial A_{tm}} A_{tm}\right)")
    if m == "q":
        return [(f"∂E/∂Q_t[{c + 1}] = Σ_j ∂E/∂S_tj · K_j[{c + 1}] / √{dk}",
                 rf"\frac{{\partial E}}{{\partial Q_t[{c + 1}]}} = \sum_j \frac{{\partial E}}{{\partial S_{{tj}}}}"
                 rf" K_j[{c + 1}] / \sqrt{{{dk}}}"), dS, dA]
    if m == "k":
        return [(f"∂E/∂K_t[{c + 1}] = Σ_i ∂E/∂S_it · Q_i[{c + 1}] / √{dk}",
                 rf"\frac{{\partial E}}{{\partial K_t[{c + 1}]}} = \sum_i \frac{{\partial E}}{{\partial S_{{it}}}}"
                 rf" Q_i[{c + 1}] / \sqrt{{{dk}}}"), dS, dA]
    if m == "v":
        return [(f"∂E/∂V_t[{c + 1}] = Σ_i A_it · ∂E/∂{hs}_i[{c + 1}]",
                 rf"\frac{{\partial E}}{{\partial V_t[{c + 1}]}} = \sum_i A_{{it}} "
                 rf"\frac{{\partial E}}{{\partial {hs}_i[{c + 1}]}}")]
    return []


def derive(L: Any, key: tuple, number: int, f: Formats, full: bool = False, profile: str = "layer"
           ) -> AttentionDerivation:
    _k, li, name, ix = key
    rec, P = L.record, L.params
    kind, m = name.split("_")
    wo = "weights_o" in P
    dk = P["weights_q"].shape[0]
    row = ix[0]
    if m == "o":
        inner, iname = L.grad_a[..., row], f"∂E/∂h_t[{row + 1}]"
        src, fname = rec["context"], "C_t"
    else:
        inner, iname = rec[f"grad_{m}"][..., row], f"∂E/∂{m.upper()}_t[{row + 1}]"
        src, fname = L.a_prev, "x_t" if li == 0 else "a_t"
    if kind == "weights":
        factor, fname = src[..., ix[1]], f"{fname}[{ix[1] + 1}]"
    else:
        factor, fname = np.ones(inner.shape), "1"
    n, T = inner.shape
    terms = []
    for s in range(n):
        for t in range(T):
            prod = float(inner[s, t] * factor[s, t])
            terms.append(AttentionTerm(s, t, float(inner[s, t]), float(factor[s, t]), prod,
                                       (f(inner[s, t]), f(factor[s, t]), f(prod))))
    p = M(*param_sym(name, ix))
    lhs = dv.grad(p)
    sums = dv.over(n, "Σ_t", r"\sum_t")
    fac = "" if fname == "1" else f" · {fname}"
    lines = [M(f"{lhs.text} = {sums[0]} {iname}{fac}", rf"{lhs.tex} = {sums[1]} {iname}{fac}".replace("·", r"\cdot"))]
    lines += [M(f"   {a}", f"\\quad {b}") for a, b in _chain(m, row, dk, wo)]
    shown = dv.shown(len(terms), full)
    more = dv.left_out("" if shown == len(terms) else f" + … ({len(terms) - shown})")
    g = L.grads[name][ix]
    lines += dv.summed([(x.inner, x.factor) for x in terms[:shown]], [x.product for x in terms[:shown]], g, f, more)
    return AttentionDerivation(layer=li, l=number, key=name, index=ix, path=dv.path(li, name, ix), name=p, lhs=lhs,
                               lines=lines, terms=terms, samples=n, shown=shown, inner_name=iname, factor_name=fname,
                               **dv.numbers(f, g, P[name][ix], L.new_params[name][ix]))


FACE = dv.Face(keys, names, derive)
