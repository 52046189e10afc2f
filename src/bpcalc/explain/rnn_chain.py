"""One parameter of a recurrent layer as a derivation unrolled over the steps: ∂E/∂W_hh[j,i] = Σ_t ∂E/∂z_t[j] ·
∂z_t[j]/∂W_hh[j,i] = Σ_t δ_t[j] · h_{t−1}[i], with δ_t[j] = (∂E/∂h_t[j] from this step's output + from step t+1) ·
f′(z_t[j]); then each (sequence, step) term with the trace's numbers. The only arithmetic: each term's product of
two numbers the trace holds; every other value shown is the trace's own."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from bpcalc.engine.trace import NetworkTrace
from bpcalc.explain.mathtext import M
from bpcalc.explain.numfmt import Fmt
from bpcalc.i18n import _
from bpcalc.registry import LAYERS
from bpcalc.registry.layers import recurrent as rc

MAX_TERMS = 24  # terms written out (more with --full); the JSON has all


@dataclass
class StepTerm:
    """One (sequence, step) term of the sum: δ_t[j] = (out + next) · f′, times the factor ∂z_t[j]/∂θ."""

    sample: int
    step: int
    out: float  # ∂E/∂h_t[j] through this step's output
    next: float  # … through step t+1 (0 where truncation cuts it)
    local: float  # f′(z_t[j])
    delta: float  # ∂E/∂z_t[j]
    factor: float  # x_t[k], h_{t−1}[i] or 1
    product: float
    texts: tuple[str, ...] = ()


@dataclass
class RnnDerivation:
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


def rnn_keys(tr: NetworkTrace) -> list[tuple]:
    """Every parameter of the recurrent layers: ("rnn", li, key, index)."""
    return [("rnn", li, key, tuple(int(v) for v in ix)) for li, L in enumerate(tr.layers) if LAYERS[L.type].sequence
            for key in rc.PARAMS if key in L.params for ix in np.ndindex(L.params[key].shape)]


def rnn_names(tr: NetworkTrace, key: tuple) -> list[str]:
    """The names a recurrent parameter is known by: W_hh[1,2] (1-based, as the tables write it) and its JSON paths."""
    _k, li, name, ix = key
    dots = ".".join(map(str, ix))
    return [rc.param_sym(name, ix)[0], *(f"layers.{li}.{p}{name}.{dots}" for p in ("", "grad_", "new_"))]


def derive_rnn(tr: NetworkTrace, key: tuple, number: int, f: Fmt, full: bool = False) -> RnnDerivation:
    _k, li, name, ix = key
    L = tr.layers[li]
    rec = L.record
    j = ix[0]
    h, pre, d = rec["h"], rec["preactivation"], rec["grad_preactivation"]
    n, T, _H = h.shape
    hprev = np.concatenate([rec["h0"][:, None], h[:, :-1]], axis=1)
    if name == "weights_ih":
        src, fname = L.a_prev[..., ix[1]], rc.x_sym(_Names(li), "t", ix[1])
    elif name == "weights_hh":
        src, fname = hprev[..., ix[1]], ("h_{t−1}[" + str(ix[1] + 1) + "]", "h_{t-1}[" + str(ix[1] + 1) + "]")
    else:
        src, fname = np.ones((n, T)), ("1", "1")
    nonlin = rec["nonlinearity"]
    local = rc.f_prime(nonlin, pre, h)
    terms = []
    for s in range(n):
        for t in range(T):
            prod = float(d[s, t, j] * src[s, t])
            terms.append(StepTerm(s, t, float(L.grad_a[s, t, j]), float(rec["grad_h_next"][s, t, j]),
                                  float(local[s, t, j]), float(d[s, t, j]), float(src[s, t]), prod,
                                  (f(L.grad_a[s, t, j]), f(rec["grad_h_next"][s, t, j]), f(rec["grad_h"][s, t, j]),
                                   f(local[s, t, j]), f(d[s, t, j]), f(src[s, t]), f(prod))))
    p = M(*rc.param_sym(name, ix))
    lhs = M(f"∂E/∂{p.text}", rf"\frac{{\partial E}}{{\partial {p.tex}}}")
    sums = ("Σ_s Σ_t", r"\sum_s \sum_t") if n > 1 else ("Σ_t", r"\sum_t")
    z = M(f"z_t[{j + 1}]", f"z_t[{j + 1}]")
    hj = M(f"h_t[{j + 1}]", f"h_t[{j + 1}]")
    fp = rc.f_prime_sym(nonlin, (z.text, z.tex), (hj.text, hj.tex))
    lines = [
        M(f"{lhs.text} = {sums[0]} ∂E/∂{z.text} · ∂{z.text}/∂{p.text}",
          rf"{lhs.tex} = {sums[1]} \frac{{\partial E}}{{\partial {z.tex}}} "
          rf"\frac{{\partial {z.tex}}}{{\partial {p.tex}}}"),
        M(f"= {sums[0]} (∂E/∂{hj.text}|out + ∂E/∂{hj.text}|t+1) · {fp[0]} · {fname[0]}",
          rf"= {sums[1]} \left(\frac{{\partial E}}{{\partial {hj.tex}}}\Big|_{{\text{{out}}}} + "
          rf"\frac{{\partial E}}{{\partial {hj.tex}}}\Big|_{{t+1}}\right) {fp[1]} \, {fname[1]}"),
    ]
    shown = len(terms) if full else min(len(terms), MAX_TERMS)
    more = "" if shown == len(terms) else _(" + … ({n} more terms)").format(n=len(terms) - shown)
    nums = " + ".join(f"{f.p_(x.delta)}·{f.p_(x.factor)}" for x in terms[:shown]) + more
    prods = " + ".join(f.p_(x.product) for x in terms[:shown]) + more
    g = L.grads[name][ix]
    lines += [M(f"= {nums}", "= " + nums.replace("·", r" \cdot ").replace("…", r"\ldots")),
              M(f"= {prods}", "= " + prods.replace("…", r"\ldots")), M(f"= {f(g)}", f"= {f(g)}")]
    return RnnDerivation(li, number, name, ix, f"layers.{li}.{name}.{'.'.join(map(str, ix))}", p, lhs, lines, terms,
                         float(g), float(L.params[name][ix]), float(L.new_params[name][ix]), n, shown, fname[0],
                         rec["truncate"], {"gradient": f(g), "old": f(L.params[name][ix]),
                                           "new": f(L.new_params[name][ix])})


class _Names:
    """What recurrent.x_sym needs: the layer's index (the first layer reads x, a later one the h below)."""

    def __init__(self, li: int):
        self.li = li


def select_rnn(tr: NetworkTrace, names: list[str] | None) -> list[tuple]:
    """The recurrent parameters named (W_hh[1,2] or a JSON path; every one when none is named); a name of another
    layer's parameter is bad input."""
    from bpcalc.errors import SpecError

    keys = rnn_keys(tr)
    if not names:
        return keys
    table = {nm.replace(" ", ""): k for k in keys for nm in rnn_names(tr, k)}
    out = []
    for raw in names:
        k = table.get(raw.strip().replace(" ", ""))
        if k is None:
            import difflib

            close = difflib.get_close_matches(raw.strip(), list(table), n=5, cutoff=0.4)
            raise SpecError(_("no recurrent parameter is named {raw!r} (explain derives the recurrent layer's "
                              "parameters of a sequence network)").format(raw=raw),
                            hint=_("for example {names}").format(names=", ".join(close or list(table)[:4])))
        if k not in out:
            out.append(k)
    return out
