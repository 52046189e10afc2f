"""batchnorm: each feature (each channel, after conv2d) normalised over the samples of the batch, as PyTorch's
nn.BatchNorm1d/2d: μ = mean, σ² = the biased variance, x̂ = (x − μ)/√(σ² + ε), z = γ·x̂ + β, then a = f(z).

In training mode the running estimates move once per training step (the `advance` face): running_mean ←
(1 − momentum)·running_mean + momentum·μ, running_var likewise with the unbiased variance σ²·m/(m − 1) (m values
per feature). In eval mode the layer normalises with the running estimates, which stay.

Backward (train mode), per feature over its m values, g = ∂E/∂x̂ = δ·γ: the three paths
    ∂E/∂x_i = g_i/σ  +  ∂E/∂σ²·2(x_i − μ)/m  +  ∂E/∂μ/m,
    ∂E/∂σ² = Σ g_i (x_i − μ)·(−½)(σ² + ε)^(−3/2),   ∂E/∂μ = −Σ g_i/σ + ∂E/∂σ²·Σ(−2(x_i − μ))/m,
add up to the compact ∂E/∂x = (1/(mσ))(m·g − Σg − x̂·Σ(g·x̂)), σ = √(σ² + ε).
"""

from __future__ import annotations

import numpy as np

from bpcalc.i18n import N_, _
from bpcalc.registry.kinds import Generator, LayerKind, LayerMistake
from bpcalc.registry.layers import keys

KEYS = frozenset({"gamma", "beta", "epsilon", "momentum", "running_mean", "running_var", "mode", "activation"})
STATE = ("running_mean", "running_var")


# ---------------------------------------------------------------- the arithmetic (shared with layernorm)
def normalise(x: np.ndarray, axes: tuple[int, ...], eps: float, mean=None, var=None, rnd=None) -> dict:
    """μ and σ² over `axes` (kept as size-1 axes; given: used as they are), σ = √(σ² + ε), x̂, and m, the count.
    `rnd` (--round N): by hand μ and σ² are quotients (a sum over m), σ is read off a calculator and x̂ is a
    quotient, each rounded as it is written; the next step goes on from the rounded numbers."""
    r = rnd or _same
    m = int(np.prod([x.shape[a] for a in axes]))
    if mean is None:
        mean = r(x.mean(axis=axes, keepdims=True))
        var = r(((x - mean) ** 2).mean(axis=axes, keepdims=True))
    std = np.sqrt(var + eps)
    std = np.where(r(std) == 0, std, r(std))  # (σ is never written 0: a divisor; by hand, more digits)
    return {"mean": mean, "var": var, "std": std, "x_hat": r((x - mean) / std), "m": m, "axes": axes, "rnd": rnd}


def _same(x):
    return x


def hand(rnd) -> tuple:
    """Hand rounding (`rnd`: engine.rounding's rounder, or None) as (written, read): a sum or product as written
    (rounded only under the rule that rounds every result, --round-style every/truncate), a quotient or a value
    read off a calculator (rounded under every style); -0 written 0."""
    if rnd is None:
        return _same, _same

    def read(v):
        return rnd(v) + 0.0

    return (read if getattr(rnd, "every", False) else _same), read


def back_normalised(g: np.ndarray, c: dict, paths: str = "all") -> np.ndarray:
    """∂E/∂x from g = ∂E/∂x̂ through x̂ = (x − μ)/σ with μ, σ² of the same values: the compact formula
    (1/(mσ))(m·g − Σg − x̂·Σ(g·x̂)). `paths` leaves paths out (the hand mistakes): "no_var" drops the path through σ²
    (−x̂·Σ(g·x̂)), "no_mean" the path through μ (−Σg; through σ² the mean's own term is 0 anyway). By hand g, Σg and
    Σ(g·x̂) are written as the tables write them (rounded where every result is), the one quotient rounded."""
    axes, m, x_hat, std = c["axes"], c["m"], c["x_hat"], c["std"]
    written, read = hand(c.get("rnd"))
    g = written(g)
    out = m * g
    if paths != "no_mean":
        out = out - written(g.sum(axis=axes, keepdims=True))
    if paths != "no_var":
        out = out - x_hat * written((g * x_hat).sum(axis=axes, keepdims=True))
    return read(out / (m * std)) if c.get("rnd") is not None else out / (m * std)


def three_paths(g: np.ndarray, x: np.ndarray, c: dict) -> dict:
    """The three paths of ∂E/∂x written apart (what the narration shows): through x̂ directly g/σ, through σ²
    (∂E/∂σ² · 2(x − μ)/m) and through μ (∂E/∂μ / m), with ∂E/∂σ² and ∂E/∂μ, and `total`, the three added. By hand
    (c["rnd"]) each is rounded as a person writes it: ∂E/∂σ², ∂E/∂μ and each path hold a quotient (rounded), the
    next going on from the rounded numbers; their sum is a sum of the numbers written (rounded only where every
    result is, as a dense layer's sums)."""
    axes, m, mu, std = c["axes"], c["m"], c["mean"], c["std"]
    written, read = hand(c.get("rnd"))
    d_var = read((g * (x - mu)).sum(axis=axes, keepdims=True) * -0.5 / (std ** 3))
    d_mu = read(-(g / std).sum(axis=axes, keepdims=True)
                + d_var * (-2.0 * (x - mu)).sum(axis=axes, keepdims=True) / m)
    direct, via_var = read(g / std), read(d_var * 2.0 * (x - mu) / m)
    via_mean = np.broadcast_to(read(d_mu / m), x.shape)
    return {"direct": direct, "via_var": via_var, "via_mean": via_mean, "total": written(direct + via_var + via_mean),
            "grad_var": d_var, "grad_mean": d_mu}


# ---------------------------------------------------------------- faces
def _axes(x: np.ndarray) -> tuple[int, ...]:
    """Every axis but the features' (axis 1): the samples, and the positions of a feature map."""
    return (0, *range(2, x.ndim))


def _per_feature(v: np.ndarray, ndim: int) -> np.ndarray:
    """A per-feature vector shaped to broadcast over (n, C, …)."""
    return v.reshape((1, -1) + (1,) * (ndim - 2))


def forward(P: dict, hp: dict, x: np.ndarray):
    """z = γ·x̂ + β; P holds gamma, beta (learnable) and running_mean, running_var (the state)."""
    if hp.get("mode", "train") == "eval":
        c = normalise(x, _axes(x), hp["epsilon"], _per_feature(P["running_mean"], x.ndim),
                      _per_feature(P["running_var"], x.ndim), rnd=hp.get("round"))
        c["eval"] = True
    else:
        c = normalise(x, _axes(x), hp["epsilon"], rnd=hp.get("round"))
    gamma, beta = P.get("gamma"), P.get("beta")
    z = c["x_hat"] * _per_feature(gamma, x.ndim) if gamma is not None else c["x_hat"].copy()
    if beta is not None:
        z += _per_feature(beta, x.ndim)
    return z, c


def grads(P: dict, hp: dict, x: np.ndarray, delta: np.ndarray, c: dict, G: dict) -> None:
    axes = _axes(delta)
    if G.get("gamma") is not None:
        G["gamma"][...] = (delta * c["x_hat"]).sum(axis=axes)
    if G.get("beta") is not None:
        G["beta"][...] = delta.sum(axis=axes)


def _g(P: dict, delta: np.ndarray) -> np.ndarray:
    """∂E/∂x̂ = δ·γ."""
    return delta * _per_feature(P["gamma"], delta.ndim) if P.get("gamma") is not None else delta


def back(P: dict, hp: dict, delta: np.ndarray, c: dict, paths: str = "all") -> np.ndarray:
    g = _g(P, delta)
    if c.get("eval"):  # μ and σ² are constants (the running estimates): only the direct path
        written, read = hand(c.get("rnd"))
        return read(written(g) / c["std"]) if c.get("rnd") is not None else g / c["std"]
    return back_normalised(g, c, paths)


def advance(state: dict, hp: dict, c: dict) -> dict:
    """The running estimates after a training step: momentum towards this batch's μ and unbiased σ²."""
    if c.get("eval"):
        return state
    mom, m = hp["momentum"], c["m"]
    mean, var = c["mean"].reshape(-1), c["var"].reshape(-1)
    unbiased = (c.get("rnd") or _same)(var * m / (m - 1)) if m > 1 else var  # (a quotient: rounded by hand)
    written = hand(c.get("rnd"))[0]  # (sums of products: rounded as written where every result is)
    return {"running_mean": written((1 - mom) * state["running_mean"] + mom * mean),
            "running_var": written((1 - mom) * state["running_var"] + mom * unbiased)}


def record(c: dict) -> dict:
    """What the trace keeps: μ and σ² per feature (per sample for layernorm), x̂, and σ as the step used it
    (rounded by hand under --round; not in the JSON)."""
    out = {"mean": c["mean"].reshape(-1), "var": c["var"].reshape(-1), "x_hat": c["x_hat"],
           "std": c["std"].reshape(-1),
           "per_sample": ("x_hat",)}  # (JSON: one sample's without the sample axis, as a and z)
    if c.get("rnd") is not None:  # (--round N: the tables' backward rows rounded as the step rounded)
        out["round"] = c["rnd"]
    return out


# ---------------------------------------------------------------- narration (read by the tables; shared with layernorm)
class Groups:
    """What one normalisation pools: batchnorm a feature (channel) over the batch's samples and positions, layernorm
    a sample over its features. `of(s, cell)` the group of a sample's cell, `shown(s)` the groups a sample's table
    states μ and σ² for (batchnorm: all of them, in the first sample's table; layernorm: the sample's own),
    `values(x, k)` the group's values, `stat(k)` its index into μ and σ², `sym(k)` the index its names carry."""

    def __init__(self, L, batch: bool):
        self.L, self.batch = L, batch
        self.x = L.a_prev
        self.n = self.x.shape[0]

    def of(self, s: int, cell: tuple) -> int:
        return cell[0] if self.batch else s

    def shown(self, s: int) -> range:
        if self.batch:
            return range(self.x.shape[1]) if s == 0 else range(0)
        return range(s, s + 1)

    def values(self, arr: np.ndarray, k: int) -> np.ndarray:
        return arr[:, k].reshape(-1) if self.batch else arr[k].reshape(-1)

    def cells(self, s: int, k: int):
        """(sample, cell) of every value of group k, in the order `values` lists them."""
        if not self.batch:
            return [(k, c) for c in np.ndindex(self.x.shape[1:])]
        return [(n, (k, *pos)) for n in range(self.n) for pos in np.ndindex(self.x.shape[2:])]

    def count(self, k: int = 0) -> int:
        return self.values(self.x, k).size

    def idx(self, k: int) -> tuple:
        """The index a group's μ, σ² carry in their names: the feature (channel), or the sample."""
        return (k,)

    def param(self, P: np.ndarray, cell: tuple) -> float:
        """γ or β of a cell: per feature (batchnorm) or per cell (layernorm)."""
        return P[cell[0]] if self.batch else P[cell]


TEX_SYM = {"μ": r"\mu", "σ²": r"\sigma^2"}


def _std(rec: dict, k: int, var: float, eps: float) -> float:
    """σ of group k as the step used it (rounded by hand under --round), √(σ² + ε) for older records."""
    return float(rec["std"][k]) if "std" in rec else float(np.sqrt(var + eps))


def _eval_mode(L) -> bool:
    return L.hyper.get("mode", "train") == "eval"


def narrate_norm_forward(L, s: int, fmt, names, full: bool, batch: bool):
    """μ, σ², σ = √(σ² + ε) of the groups (with numbers), then per cell x̂ = (x − μ)/σ, z = γ·x̂ + β, a = f(z)."""
    from bpcalc.registry import ACTIVATIONS
    from bpcalc.registry.kinds import Narration
    from bpcalc.registry.layers import narrate as nr

    gr, rec, eps = Groups(L, batch), L.record, L.hyper["epsilon"]
    act = ACTIVATIONS[L.activation]
    gamma, beta = L.params.get("gamma"), L.params.get("beta")
    out = Narration()
    xs = names.short("in", ())
    for k in gr.shown(s):
        vals = gr.values(L.a_prev, k)
        m = vals.size
        mu, var = rec["mean"][k], rec["var"][k]
        write = nr.written(m, full)
        if _eval_mode(L):
            out.rows.append(nr.row(names.at("μ", (k,)), (_("running mean"), r"\text{" + _("running mean") + "}"),
                                   fmt(mu), mu))
            out.rows.append(nr.row(names.at("σ²", (k,)), (_("running variance"),
                                                           r"\text{" + _("running variance") + "}"), fmt(var), var))
        else:
            over = f"(1/{m}) Σ {xs[0]}", rf"\frac{{1}}{{{m}}} \sum {xs[1]}"
            out.rows.append(nr.row(names.at("μ", (k,)), over,
                                   f"({nr.total(vals, fmt)}) / {m}" if write else _("({n} terms)").format(n=m), mu,
                                   words=not write))
            mus = names.short("μ", ())
            sq = (f"(1/{m}) Σ ({xs[0]} − {mus[0]})²", rf"\frac{{1}}{{{m}}} \sum ({xs[1]} - {mus[1]})^2")
            nums = " + ".join(f"({fmt.p_(v)} − {fmt.p_(mu)})²" for v in vals)
            out.rows.append(nr.row(names.at("σ²", (k,)), sq, f"({nums}) / {m}" if write else
                                   _("({n} terms)").format(n=m), var, words=not write))
        root = (f"√({names.short('σ²', ())[0]} + ε)", r"\sqrt{\sigma^2 + \epsilon}")
        out.rows.append(nr.row(names.at("σ", (k,)), root, f"√({fmt(var)} + {fmt(eps)})", _std(rec, k, var, eps)))
    if batch and s == 0 and "new_running_mean" in rec and not _eval_mode(L):  # the running estimates move
        mom, m = L.hyper["momentum"], gr.count()
        for k in gr.shown(s):
            for key, sym, stat, extra in (("mean", "μ", rec["mean"][k], ""), ("var", "σ²", rec["var"][k],
                                                                                  f" × {m}/{m - 1}")):
                old, new = rec["running_" + key][k], rec["new_running_" + key][k]
                corr = (f" · {m}/({m}−1)", rf" \cdot \frac{{{m}}}{{{m}-1}}") if extra else ("", "")
                new_w = _("new")
                out.rows.append(nr.row(
                    (f"running_{key}_{k + 1} ({new_w})", rf"\text{{running\_{key}}}_{{{k + 1}}}\ (\text{{{new_w}}})"),
                    (f"(1 − {mom:g})·running_{key} + {mom:g}·{sym}{corr[0]}",
                     rf"(1 - {mom:g})\,\text{{running\_{key}}} + {mom:g}\,{TEX_SYM[sym]}{corr[1]}"),
                    f"{1 - mom:g} × {fmt.p_(old)} + {mom:g} × {fmt.p_(stat)}{extra}", new))
    if batch and s == 0 and not _eval_mode(L):
        out.notes.append(_("μ and σ² are taken over the {m} values of each feature in the batch (the biased "
                           "variance, divided by {m})").format(m=gr.count()))
    elif not batch:
        out.notes.append(_("μ and σ² are taken over the {m} features of each sample (the biased variance)").format(
            m=gr.count(s)))
    idx, count = nr.cells(L.z.shape[1:], full)
    out.total = len(out.rows) + count * (3 if L.activation != "linear" else 2)
    for cell in idx:
        k = gr.of(s, cell)
        x, mu, var = L.a_prev[(s, *cell)], rec["mean"][k], rec["var"][k]
        xh = rec["x_hat"][(s, *cell)]
        mu_n, sd_n = names.short("μ", gr.idx(k)), names.short("σ", gr.idx(k))
        xin = names.at("in", cell)
        out.rows.append(nr.row(names.at("x̂", cell), (f"({xin[0]} − {mu_n[0]}) / {sd_n[0]}",
                                                      rf"\frac{{{xin[1]} - {mu_n[1]}}}{{{sd_n[1]}}}"),
                               f"({fmt.p_(x)} − {fmt.p_(mu)}) / {fmt(_std(rec, k, var, eps))}", xh))
        g = 1.0 if gamma is None else gr.param(gamma, cell)
        b = 0.0 if beta is None else gr.param(beta, cell)
        pidx = (cell[0],) if batch else cell
        z = names.at("z", cell)
        out.rows.append(nr.row(z, nr.plus([nr.times(names.short("γ", pidx), names.short("x̂", cell)),
                                           names.short("β", pidx)]),
                               f"{fmt.p_(g)}×{fmt.p_(xh)} + {fmt.p_(b)}", L.z[(s, *cell)]))
        if L.activation != "linear":
            out.rows.append(nr.row(names.at("a", cell), (f"{act.symbol}({z[0]})", f"{act.tex_symbol}({z[1]})"),
                                   f"{act.symbol}({fmt(L.z[(s, *cell)])})", L.a[(s, *cell)]))
    return out


def _parts(L, batch: bool) -> dict:
    """g = ∂E/∂x̂ = δ·γ and the three paths, from the trace's numbers (the entry's own arithmetic, three_paths)."""
    gamma = L.params.get("gamma")
    x = L.a_prev
    axes = _axes(x) if batch else tuple(range(1, x.ndim))
    written = hand(L.record.get("round"))[0]
    g = written(L.delta * (1.0 if gamma is None else (_per_feature(gamma, x.ndim) if batch else gamma)))
    mean = L.record["mean"].reshape([-1 if a == (1 if batch else 0) else 1 for a in range(x.ndim)])
    var = L.record["var"].reshape(mean.shape)
    std = L.record["std"].reshape(mean.shape) if "std" in L.record else np.sqrt(var + L.hyper["epsilon"])
    c = {"axes": axes, "m": int(np.prod([x.shape[a] for a in axes])), "mean": mean, "var": var,
         "std": std, "x_hat": L.record["x_hat"], "rnd": L.record.get("round")}
    out = three_paths(g, x, c)
    out.update(g=g, sum_g=written(g.sum(axis=axes, keepdims=True)),
               sum_gx=written((g * c["x_hat"]).sum(axis=axes, keepdims=True)), std=c["std"], m=c["m"])
    return out


def _k(arr: np.ndarray, k: int, batch: bool) -> float:
    """A per-group value kept as size-1 axes (the feature's, or the sample's)."""
    return float(arr.reshape(-1)[k])


def narrate_norm_backward(L, s: int, fmt, names, full: bool, grad_in, own_delta: bool, batch: bool):
    """δ = ∂E/∂a·f′(z); g = ∂E/∂x̂ = δ·γ; per group ∂E/∂σ², ∂E/∂μ, Σg, Σ(g·x̂); per cell ∂E/∂x by its three paths
    added, and by the compact formula with the same numbers."""
    from bpcalc.registry import ACTIVATIONS
    from bpcalc.registry.kinds import Narration
    from bpcalc.registry.layers import narrate as nr

    act = ACTIVATIONS[L.activation]
    out = Narration()
    idx, count = nr.cells(L.z.shape[1:], full)
    if own_delta:
        out.total += count
        for cell in idx:
            dEa, z = names.grad(names.at("a", cell)), names.at("z", cell)
            g = L.grad_a[(s, *cell)]
            if L.activation == "linear":
                out.rows.append(nr.row(names.at("δ", cell), dEa, fmt(g), L.delta[(s, *cell)]))
            else:
                local = (f"{act.symbol}′({z[0]})", rf"{act.tex_symbol}'({z[1]})")
                out.rows.append(nr.row(names.at("δ", cell), nr.times(dEa, local),
                                       f"{fmt.p_(g)} × {fmt.p_(L.local[(s, *cell)])}", L.delta[(s, *cell)]))
    if grad_in is None:
        return out
    gr = Groups(L, batch)
    pt = _parts(L, batch)
    gamma = L.params.get("gamma")
    rec, x = L.record, L.a_prev
    gs = names.short("g", ())
    # g = ∂E/∂x̂ per cell of this sample
    for cell in idx:
        pidx = (cell[0],) if batch else cell
        gm = 1.0 if gamma is None else gr.param(gamma, cell)
        out.rows.append(nr.row(names.at("g", cell), nr.times(names.short("δ", cell), names.short("γ", pidx)),
                               f"{fmt.p_(L.delta[(s, *cell)])}×{fmt.p_(gm)}", pt["g"][(s, *cell)]))
    out.total += count
    ev = _eval_mode(L)
    if not ev:
        for k in gr.shown(s):
            cells = gr.cells(s, k)
            m = len(cells)
            write = nr.written(m, full)
            gv = [pt["g"][(n, *c)] for n, c in cells]
            xv = [x[(n, *c)] for n, c in cells]
            xh = [rec["x_hat"][(n, *c)] for n, c in cells]
            mu, sd = rec["mean"][k], _k(pt["std"], k, batch)
            xs, mus, sds = names.short("in", ()), names.short("μ", ()), names.short("σ", ())
            many = _("({n} terms)").format(n=m)
            # ∂E/∂σ²
            nums = " + ".join(f"{fmt.p_(a)}×({fmt.p_(b)} − {fmt.p_(mu)})" for a, b in zip(gv, xv))
            out.rows.append(nr.row(names.grad(names.at("σ²", (k,))),
                                   (f"Σ {gs[0]}·({xs[0]} − {mus[0]}) × (−½)·{sds[0]}^−3",
                                    rf"\sum {gs[1]} ({xs[1]} - {mus[1]}) \cdot (-\tfrac{{1}}{{2}}) {sds[1]}^{{-3}}"),
                                   f"({nums}) × (-0.5) / {fmt(sd)}³" if write else many,
                                   _k(pt["grad_var"], k, batch), words=not write))
            dvar = _k(pt["grad_var"], k, batch)
            nums = " + ".join(fmt.p_(a) for a in gv)
            nums2 = " + ".join(f"({fmt.p_(b)} − {fmt.p_(mu)})" for b in xv)
            out.rows.append(nr.row(names.grad(names.at("μ", (k,))),
                                   (f"−Σ {gs[0]}/{sds[0]} + ∂E/∂σ²·(−2/{m})·Σ({xs[0]} − {mus[0]})",
                                    rf"-\sum \frac{{{gs[1]}}}{{{sds[1]}}} + \frac{{\partial E}}{{\partial \sigma^2}}"
                                    rf" \cdot \left(-\frac{{2}}{{{m}}}\right) \sum ({xs[1]} - {mus[1]})"),
                                   f"-({nums}) / {fmt(sd)} + {fmt.p_(dvar)} × (-2/{m}) × ({nums2})" if write
                                   else many, _k(pt["grad_mean"], k, batch), words=not write))
            out.rows.append(nr.row(M_sum(names, "g", k), (f"Σ {gs[0]}", rf"\sum {gs[1]}"),
                                   nr.total(gv, fmt) if write else many, _k(pt["sum_g"], k, batch), words=not write))
            out.rows.append(nr.row(M_sum(names, "g·x̂", k), (f"Σ {gs[0]}·x̂", rf"\sum {gs[1]} \hat{{x}}"),
                                   nr.products(list(zip(gv, xh)), fmt) if write else many,
                                   _k(pt["sum_gx"], k, batch), words=not write))
            out.total += 4
    # ∂E/∂x per cell: the three paths added, then the compact formula
    by_hand = rec.get("round") is not None  # (the paths' sum is then its own number: the rounded paths added)
    apart = False  # (by hand, does the sum of the rounded paths differ from the compact formula's value?)
    for cell in idx:
        k = gr.of(s, cell)
        at = (s, *cell)
        xin = names.at("in", cell)
        dx = names.grad(xin)
        sd = _k(pt["std"], k, batch)
        g = pt["g"][at]
        if ev:
            out.rows.append(nr.row(dx, (f"{gs[0]}/σ", rf"{gs[1]}/\sigma"), f"{fmt.p_(g)} / {fmt(sd)}", grad_in[at]))
            out.total += 1
            continue
        m, mu = pt["m"], rec["mean"][k]
        dvar, dmu = _k(pt["grad_var"], k, batch), _k(pt["grad_mean"], k, batch)
        direct, via_var, via_mean = pt["direct"][at], pt["via_var"][at], pt["via_mean"][at]
        out.rows.append(nr.row(_path(dx, _("through x̂")), (f"{gs[0]}/σ", rf"{gs[1]}/\sigma"),
                               f"{fmt.p_(g)} / {fmt(sd)}", direct))
        out.rows.append(nr.row(_path(dx, _("through σ²")), (f"∂E/∂σ²·2({xin[0]} − μ)/{m}",
                                                              rf"\frac{{\partial E}}{{\partial \sigma^2}} \cdot "
                                                              rf"\frac{{2({xin[1]} - \mu)}}{{{m}}}"),
                               f"{fmt.p_(dvar)} × 2 × ({fmt.p_(x[at])} − {fmt.p_(mu)}) / {m}", via_var))
        out.rows.append(nr.row(_path(dx, _("through μ")),
                               (f"∂E/∂μ / {m}", rf"\frac{{\partial E}}{{\partial \mu}} / {m}"),
                               f"{fmt.p_(dmu)} / {m}", via_mean))
        total = pt["total"][at] if by_hand else grad_in[at]
        apart = apart or (by_hand and abs(total - grad_in[at]) > 1e-9)  # (beyond float64's last bits)
        out.rows.append(nr.row(dx, (_("the three paths added"), r"\text{" + _("the three paths added") + "}"),
                               f"{fmt.p_(direct)} + {fmt.p_(via_var)} + {fmt.p_(via_mean)}", total))
        out.rows.append(nr.row(dx, ("(1/(mσ))(m·g − Σg − x̂·Σ(g·x̂))",
                                    r"\frac{1}{m\sigma}\left(m g - \sum g - \hat{x} \sum g \hat{x}\right)"),
                               f"(1/({m}×{fmt(sd)}))×({m}×{fmt.p_(g)} − {fmt.p_(_k(pt['sum_g'], k, batch))} − "
                               f"{fmt.p_(rec['x_hat'][at])}×{fmt.p_(_k(pt['sum_gx'], k, batch))})", grad_in[at]))
        out.total += 5
    if ev:
        out.notes.append(_("in eval mode μ and σ² are the running estimates, constants: ∂E/∂x = g/σ only"))
    else:
        out.notes.append(_("∂E/∂x reaches x three ways: through x̂ directly, through σ² and through μ; their sum "
                           "equals the compact formula (m = {m} values per group, σ = √(σ² + ε))").format(m=pt["m"]))
        if apart:
            out.notes.append(_("rounded as they are written, the three paths' sum and the compact formula can differ "
                               "in the last decimal; the step goes on with the compact formula's value"))
    return out


def M_sum(names, what: str, k: int) -> tuple[str, str]:  # noqa: N802
    """Σg or Σ(g·x̂) of group k, as a quantity."""
    tex = {"g": "g", "g·x̂": r"g \hat{x}"}[what]
    return f"Σ{what} [{k + 1}]", rf"\sum {tex}\ [{k + 1}]"


def _path(dx, words: str) -> tuple[str, str]:
    """∂E/∂x (through …): in TeX the symbols in the words as inline math inside \text."""
    tex = words
    for sym, math in (("x̂", r"$\hat{x}$"), ("σ²", r"$\sigma^2$"), ("μ", r"$\mu$")):
        tex = tex.replace(sym, math)
    return f"{dx[0]} ({words})", rf"{dx[1]}\ \text{{({tex})}}"


def narrate_norm_grads(L, fmt, names, full: bool, batch: bool):
    """∂E/∂γ = Σ δ·x̂, ∂E/∂β = Σ δ over what shares the parameter (the batch and positions; the samples)."""
    from bpcalc.registry.kinds import Narration
    from bpcalc.registry.layers import narrate as nr

    out = Narration()
    d, xh = L.delta, L.record["x_hat"]
    shape = L.params["gamma"].shape if "gamma" in L.params else L.params["beta"].shape
    idx, count = nr.cells(shape, full)
    for key, sym in (("gamma", "γ"), ("beta", "β")):
        if key not in L.grads:
            continue
        out.total += count
        for ix in idx:
            if batch:
                dv, xv = d[:, ix[0]].reshape(-1), xh[:, ix[0]].reshape(-1)
            else:
                dv, xv = d[(slice(None), *ix)], xh[(slice(None), *ix)]
            write = nr.written(dv.size, full)
            ds = names.short("δ", ())
            if key == "gamma":
                definition = (f"Σ {ds[0]}·x̂", rf"\sum {ds[1]} \hat{{x}}")
                numbers = nr.products(list(zip(dv, xv)), fmt) if write else _("({n} terms)").format(n=dv.size)
            else:
                definition = (f"Σ {ds[0]}", rf"\sum {ds[1]}")
                numbers = nr.total(list(dv), fmt) if write else _("({n} terms)").format(n=dv.size)
            out.rows.append(nr.row(names.grad(names.at(sym, ix)), definition, numbers, L.grads[key][ix],
                                   words=not write))
    out.notes.append(_("each sum runs over the samples") + ("" if not batch or d.ndim == 2 else
                                                            _(" and the positions of the channel")))
    return out


def narrate_forward(L, s, fmt, names, full=False):
    return narrate_norm_forward(L, s, fmt, names, full, batch=True)


def narrate_backward(L, s, fmt, names, full=False, grad_in=None, own_delta=True):
    return narrate_norm_backward(L, s, fmt, names, full, grad_in, own_delta, batch=True)


def narrate_grads(L, fmt, names, full=False):
    return narrate_norm_grads(L, fmt, names, full, batch=True)


# ---------------------------------------------------------------- spec
def parse(rd, raw: dict, path: tuple, in_shape: tuple):
    C = in_shape[0]
    act = rd.activation({"activation": "linear", **raw}, path)
    P = vectors(rd, raw, path, C, ("gamma", "beta"), (1.0, 0.0), _("{n} feature(s)").format(n=C))
    state = vectors(rd, raw, path, C, STATE, (0.0, 1.0), _("{n} feature(s)").format(n=C))
    if np.any(state["running_var"] < 0):
        raise rd.error(path + ("running_var",), _("a variance is never negative"))
    hp = {"epsilon": positive(rd, raw, "epsilon", path, 1e-5),
          "momentum": fraction(rd, raw, "momentum", path, 0.1),
          "mode": rd.choice(raw.get("mode", "train"), path + ("mode",), ("train", "eval"), "mode")}
    return rd.layer_params(P, act, hyper=hp, state=state)


def vectors(rd, raw: dict, path: tuple, n: int, keys, defaults, what: str) -> dict:
    """Per-feature vectors by key (1-D, n long; default: filled with the default)."""
    out = {}
    for key, default in zip(keys, defaults):
        if key in raw:
            v = rd.parameter(raw[key], path + (key,), 1)
            if v.shape != (n,):
                raise rd.error(path + (key,), _("`{key}` needs one value per feature: {what}, found {m}").format(
                    key=key, what=what, m=v.size))
            out[key] = v
        else:
            out[key] = np.full(n, default)
    return out


def positive(rd, raw: dict, key: str, path: tuple, default: float) -> float:
    if key not in raw:
        return default
    v = rd.number(raw[key], path + (key,))
    if v <= 0:
        raise rd.error(path + (key,), _("`{key}` must be greater than 0").format(key=key))
    return v


def fraction(rd, raw: dict, key: str, path: tuple, default: float, closed: bool = True) -> float:
    """A number in [0, 1] ([0, 1) unless closed)."""
    if key not in raw:
        return default
    v = rd.number(raw[key], path + (key,))
    if v < 0 or v > 1 or (v == 1 and not closed):
        raise rd.error(path + (key,), (_("`{key}` lies from 0 to 1") if closed else
                                       _("`{key}` lies from 0 up to (not including) 1")).format(key=key))
    return v


def param_name(key: str, ix: tuple, params: dict | None = None) -> tuple[str, str]:
    """γ_c, β_c (layernorm: γ[i,j,…] shaped like a sample) as the update table writes them."""
    sym, tex = {"gamma": ("γ", r"\gamma"), "beta": ("β", r"\beta")}[key]
    at = ",".join(str(i + 1) for i in ix)
    return (f"{sym}_{at}", rf"{tex}_{{{at}}}") if len(ix) == 1 else (f"{sym}[{at}]", rf"{tex}[{at}]")


def _describe(layer) -> str:
    return "batchnorm" + (" eval" if layer.hyper.get("mode") == "eval" else "")


def _torch(layer) -> str:
    C = layer.params["gamma"].shape[0]
    module = "BatchNorm2d" if len(layer.in_shape) == 3 else "BatchNorm1d"
    return f"nn.{module}({C}, eps={layer.hyper['epsilon']!r}, momentum={layer.hyper['momentum']!r})"


# ---------------------------------------------------------------- known hand mistakes, `new`
def _without(paths: str):
    """The backward face with a path left out (the mistake's variant)."""
    def wrong(m, P, hp, delta, c):
        return back(P, hp, delta, c, paths=paths)
    return wrong


MISTAKES = (
    LayerMistake("variance_path_missing", N_("∂E/∂x without the path through σ²: (1/(mσ))(m·g − Σg), the term "
                                             "−x̂·Σ(g·x̂) left out"), back=_without("no_var")),
    LayerMistake("mean_path_missing", N_("∂E/∂x without the path through μ: (1/(mσ))(m·g − x̂·Σ(g·x̂)), the term "
                                         "−Σg left out"), back=_without("no_mean")),
)


def read_word(text: str) -> dict:
    if text:
        raise ValueError(_("this layer takes no number after its name"))
    return {}


def _draw(rng, st: dict, in_shape: tuple, values, decimals: int) -> dict:
    """γ in [0.5, 1.5], β in [−0.5, 0.5], per feature (channel)."""
    C = in_shape[0]
    return {"type": "batchnorm", "gamma": values(rng, 0.5, 1.5, decimals, C, nonzero=True),
            "beta": values(rng, -0.5, 0.5, decimals, C)}


SCHEMA = {
    "gamma": keys.arrays("batchnorm: the scale γ, one per feature (channel); layernorm: shaped like one sample "
                         "(default 1)."),
    "beta": keys.arrays("batchnorm/layernorm: the shift β, shaped as `gamma` (default 0)."),
    "epsilon": {"type": "number", "minimum": 0,
                "description": "batchnorm/layernorm: ε added to the variance, above 0 (default 1e-5)."},
    "momentum": {"type": "number", "minimum": 0, "maximum": 1,
                 "description": "batchnorm: how far the running estimates move towards each batch's (default 0.1, "
                                "as PyTorch)."},
    "running_mean": keys.arrays("batchnorm: the running mean, one per feature (default 0); `step --save` writes "
                                "it.", maps=False),
    "running_var": keys.arrays("batchnorm: the running (unbiased) variance, one per feature (default 1).",
                               maps=False),
    "mode": {"enum": ["train", "eval"],
             "description": "batchnorm: train normalises with the batch's μ and σ², eval with the running "
                            "estimates; dropout: eval passes the input through (default train)."},
}

BATCHNORM = LayerKind(
    rank=5, schema=SCHEMA,
    name="batchnorm", help=N_("batch normalisation: each feature (channel) normalised over the batch's samples, "
                              "then scaled by γ and shifted by β (nn.BatchNorm1d/2d); then the activation"),
    params=("gamma", "beta"), keys=KEYS, activation=True, parse=parse,
    out_shape=lambda layer, in_shape: tuple(in_shape),
    forward=forward, grads=grads, back=back, torch=_torch,
    json=("activation", "gamma", "beta", "mean", "var", "x_hat", "z", "a", "grad_a", "delta", "grad_gamma",
          "grad_beta", "new_gamma", "new_beta", "new_running_mean", "new_running_var", "optimizer_state"),
    describe=_describe, record=record, state=STATE, advance=advance, param_name=param_name, mistakes=MISTAKES,
    elementwise=True, normalises="batch", hand_rounds=True,
    new=Generator(word="batchnorm", syntax="batchnorm", read=read_word, out_shape=lambda st, in_shape: in_shape,
                  draw=_draw, samples=3),
    narrate_forward=narrate_forward, narrate_backward=narrate_backward, narrate_grads=narrate_grads,
)
