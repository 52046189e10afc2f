"""The narration of the gated cells (lstm, gru), read by the tables: per step each gate's sum written with its
numbers, the gate's value, c_t and h_t; backward from the last step ∂E/∂h_t as both paths added, ∂E/∂c_t (LSTM),
each gate's δ, the path handed to step t−1, ∂E/∂x_t; each parameter's gradient as a sum over the steps.

Names: the sum of gate g at step t, unit j, is sᵍ_t[j] (its value g_t[j]); PyTorch's names for the parameters,
W_ig[j,k] and b_ig[j] (the input side, rows of weights_ih / biases_ih), W_hg[j,m] and b_hg[j] (the recurrent side);
steps are numbered from 1, h_0 (c_0) the start state. Values come from the trace, never computed here."""

from __future__ import annotations

import numpy as np

from bpcalc.i18n import _
from bpcalc.registry.kinds import Narration, Sym
from bpcalc.registry.layers import narrate as nr
from bpcalc.registry.layers import recurrent as rc

SUP = {"i": "ⁱ", "f": "ᶠ", "g": "ᵍ", "o": "ᵒ", "r": "ʳ", "z": "ᶻ", "n": "ⁿ"}
SIG = {"g": ("tanh", r"\tanh"), "n": ("tanh", r"\tanh")}  # the other gates: σ
H_SYM: Sym = ("h", "h")
C_SYM: Sym = ("c", "c")


# ---------------------------------------------------------------- names
def at(sym: Sym, t: int | str, idx: tuple = ()) -> Sym:
    """A quantity at step t (0-based; written from 1, t = −1 the start state)."""
    return rc.step_name(sym, t, idx)


def gate_sym(g: str) -> Sym:
    return g, g


def sum_sym(g: str) -> Sym:
    return f"s{SUP[g]}", f"s^{{{g}}}"


def delta_sym(g: str) -> Sym:
    return f"δ{SUP[g]}", rf"\delta^{{{g}}}"


def param_sym(side: str, g: str, bias: bool = False) -> Sym:
    """W_ig, W_hg, b_ig, b_hg."""
    base = "b" if bias else "W"
    return f"{base}_{side}{g}", f"{base}_{{{side}{g}}}"


def indexed(sym: Sym, idx: tuple) -> Sym:
    ix = ",".join(str(i + 1) if isinstance(i, int) else i for i in idx)
    return f"{sym[0]}[{ix}]", f"{sym[1]}[{ix}]"


def in_sym(names) -> Sym:
    """The layer's input: x for the first layer, else the layer below's output (h of a recurrent layer)."""
    if names.li == 0:
        return "x", "x"
    below = names.prev()
    return f"h^({below.l})", f"h^{{({below.l})}}"


def _func(g: str) -> Sym:
    return SIG.get(g, ("σ", r"\sigma"))


def _pd(v: float, fmt) -> str:
    return fmt.p_(v)


# ---------------------------------------------------------------- what a table shows
def _steps(T: int, step: int | None) -> range:
    """The steps narrated: the one the table is for (run's tables go step by step), else every step."""
    return range(T) if step is None else range(step, step + 1)


def _units(H: int, full: bool) -> range:
    return nr.shown(H, full)


# ---------------------------------------------------------------- forward
def narrate_forward(L, s: int, fmt, names, full: bool = False, step: int | None = None) -> Narration:
    """At every step (or the one given), per unit j: each gate's sum with its numbers and the gate's value; then
    c_t (LSTM) and h_t."""
    rec, P = L.record, L.params
    gates = L.hyper["gate_names"]
    x = L.a_prev[s]
    T, F = x.shape
    H = P["weights_hh"].shape[1]
    lstm = "c" in rec
    steps = _steps(T, step)
    out = Narration(total=len(steps) * H * (2 * len(gates) + (2 if lstm else 1)))
    xs = in_sym(names)
    write = nr.written(F + H + 2, full)
    for t in steps:
        h_prev = rec["h_prev"][s, t]
        for j in _units(H, full):
            for gi, g in enumerate(gates):
                row = gi * H + j
                w_i, w_h = P["weights_ih"][row], P["weights_hh"][row]
                b_i = P["biases_ih"][row] if "biases_ih" in P else None
                b_h = P["biases_hh"][row] if "biases_hh" in P else None
                x_part = (f"Σ_k {indexed(param_sym('i', g), (j, 'k'))[0]}·{at(xs, t, ('k',))[0]}",
                          rf"\sum_k {indexed(param_sym('i', g), (j, 'k'))[1]} {at(xs, t, ('k',))[1]}")
                h_part = (f"Σ_m {indexed(param_sym('h', g), (j, 'm'))[0]}·{at(H_SYM, t - 1, ('m',))[0]}",
                          rf"\sum_m {indexed(param_sym('h', g), (j, 'm'))[1]} {at(H_SYM, t - 1, ('m',))[1]}")
                xb = [x_part] + ([indexed(param_sym("i", g, True), (j,))] if b_i is not None else [])
                hb = [h_part] + ([indexed(param_sym("h", g, True), (j,))] if b_h is not None else [])
                xn = nr.products(list(zip(w_i, x[t])), fmt) + (f" + {_pd(b_i, fmt)}" if b_i is not None else "")
                hn = nr.products(list(zip(w_h, h_prev)), fmt) + (f" + {_pd(b_h, fmt)}" if b_h is not None else "")
                if g == "n" and "hn" in rec:  # GRU: n's recurrent side is gated by r_t
                    r = at(gate_sym("r"), t, (j,))
                    hsum = nr.plus(hb)
                    definition = nr.plus([nr.plus(xb), (f"{r[0]}·({hsum[0]})", rf"{r[1]} \left({hsum[1]}\right)")])
                    numbers = f"{xn} + {_pd(rec['gates']['r'][s, t, j], fmt)}×({hn})"
                else:
                    definition = nr.plus(xb + hb)
                    numbers = f"{xn} + {hn}"
                if not write:
                    numbers = _("({n} terms)").format(n=F + H + (b_i is not None) + (b_h is not None))
                sq = at(sum_sym(g), t, (j,))
                out.rows.append(nr.row(sq, definition, numbers, rec["sums"][g][s, t, j], words=not write))
                fn = _func(g)
                out.rows.append(nr.row(at(gate_sym(g), t, (j,)), (f"{fn[0]}({sq[0]})", rf"{fn[1]}({sq[1]})"),
                                       f"{fn[0]}({fmt(rec['sums'][g][s, t, j])})", rec["gates"][g][s, t, j]))
            gv = {g: rec["gates"][g][s, t, j] for g in gates}
            h_old = at(H_SYM, t - 1, (j,))
            if lstm:
                c, c_old = at(C_SYM, t, (j,)), at(C_SYM, t - 1, (j,))
                f_, i_, g_ = (at(gate_sym(k), t, (j,)) for k in "fig")
                out.rows.append(nr.row(c, (f"{f_[0]}·{c_old[0]} + {i_[0]}·{g_[0]}",
                                           rf"{f_[1]} {c_old[1]} + {i_[1]} {g_[1]}"),
                                       f"{_pd(gv['f'], fmt)}×{_pd(rec['c_prev'][s, t, j], fmt)} + "
                                       f"{_pd(gv['i'], fmt)}×{_pd(gv['g'], fmt)}", rec["c"][s, t, j]))
                o_ = at(gate_sym("o"), t, (j,))
                out.rows.append(nr.row(at(H_SYM, t, (j,)), (f"{o_[0]}·tanh({c[0]})", rf"{o_[1]} \tanh({c[1]})"),
                                       f"{_pd(gv['o'], fmt)}×tanh({fmt(rec['c'][s, t, j])})", rec["h"][s, t, j]))
            else:
                z_, n_ = at(gate_sym("z"), t, (j,)), at(gate_sym("n"), t, (j,))
                out.rows.append(nr.row(at(H_SYM, t, (j,)),
                                       (f"(1 − {z_[0]})·{n_[0]} + {z_[0]}·{h_old[0]}",
                                        rf"(1 - {z_[1]}) {n_[1]} + {z_[1]} {h_old[1]}"),
                                       f"(1 − {_pd(gv['z'], fmt)})×{_pd(gv['n'], fmt)} + "
                                       f"{_pd(gv['z'], fmt)}×{_pd(h_prev[j], fmt)}", rec["h"][s, t, j]))
    if 0 in steps:
        out.notes.append(_("h_0 is the initial state ({what})").format(
            what=_("given as h0") if L.hyper.get("h0") is not None else _("zeros")))
        if lstm:
            out.notes.append(_("c_0 is the initial cell state ({what})").format(
                what=_("given as c0") if L.hyper.get("c0") is not None else _("zeros")))
    return out


# ---------------------------------------------------------------- backward
def _deltas(rec: dict, g: str) -> np.ndarray:
    """The recurrent side's δ of gate g (GRU's n: δⁿ ⊙ r_t), (n, T, H)."""
    hh = rec.get("delta_hh")
    return (hh if hh is not None else rec["delta_gates"])[g]


def narrate_backward(L, s: int, fmt, names, full: bool = False, grad_in=None, own_delta: bool = True,
                     step: int | None = None) -> Narration:
    """From the last step back (or at the step given): ∂E/∂h_t (both paths), ∂E/∂c_t (LSTM), each gate's δ, the
    path on to step t−1 and ∂E/∂x_t."""
    rec, P = L.record, L.params
    gates = L.hyper["gate_names"]
    T, H = rec["h"].shape[1:]
    F = L.a_prev.shape[-1]
    lstm = "c" in rec
    k = L.hyper.get("truncate")
    out = Narration()
    xs = in_sym(names)
    for t in reversed(_steps(T, step)):
        rc.path_rows(L, s, fmt, out, t, H, k, "grad_h_next")
        for j in _units(H, full):
            dh = rec["grad_h"][s, t, j]
            gv = {g: rec["gates"][g][s, t, j] for g in gates}
            dEh = rc.grad(at(H_SYM, t, (j,)))
            if lstm:
                dEc = rc.grad(at(C_SYM, t, (j,)))
                o_, c_ = at(gate_sym("o"), t, (j,)), at(C_SYM, t, (j,))
                tc = rec["tanh_c"][s, t, j]  # (as read off a calculator, under hand rounding)
                own = (f"{dEh[0]}·{o_[0]}·(1 − tanh²{c_[0]})", rf"{dEh[1]} {o_[1]} (1 - \tanh^2 {c_[1]})")
                numbers = f"{_pd(dh, fmt)}×{_pd(gv['o'], fmt)}×(1 − {_pd(tc, fmt)}²)"
                if t < T - 1 and not rc.cut(t, k):
                    f_next = at(gate_sym("f"), t + 1, (j,))
                    nxt = (f"{rc.grad(at(C_SYM, t + 1, (j,)))[0]}·{f_next[0]}",
                           rf"{rc.grad(at(C_SYM, t + 1, (j,)))[1]} {f_next[1]}")
                    own = nr.plus([own, nxt])
                    numbers += (f" + {_pd(rec['grad_c'][s, t + 1, j], fmt)}×"
                                f"{_pd(rec['gates']['f'][s, t + 1, j], fmt)}")
                out.rows.append(nr.row(dEc, own, numbers, rec["grad_c"][s, t, j]))
                dc = rec["grad_c"][s, t, j]
                terms = {
                    "o": ((f"{dEh[0]}·tanh({c_[0]})·{o_[0]}(1 − {o_[0]})",
                           rf"{dEh[1]} \tanh({c_[1]})\, {o_[1]}(1 - {o_[1]})"),
                          f"{_pd(dh, fmt)}×{_pd(tc, fmt)}×{_pd(gv['o'], fmt)}×(1 − {_pd(gv['o'], fmt)})"),
                    "i": (_lstm_gate(dEc, at(gate_sym("g"), t, (j,)), at(gate_sym("i"), t, (j,)), "σ"),
                          f"{_pd(dc, fmt)}×{_pd(gv['g'], fmt)}×{_pd(gv['i'], fmt)}×(1 − {_pd(gv['i'], fmt)})"),
                    "f": (_lstm_gate(dEc, at(C_SYM, t - 1, (j,)), at(gate_sym("f"), t, (j,)), "σ"),
                          f"{_pd(dc, fmt)}×{_pd(rec['c_prev'][s, t, j], fmt)}×{_pd(gv['f'], fmt)}×"
                          f"(1 − {_pd(gv['f'], fmt)})"),
                    "g": (_lstm_gate(dEc, at(gate_sym("i"), t, (j,)), at(gate_sym("g"), t, (j,)), "tanh"),
                          f"{_pd(dc, fmt)}×{_pd(gv['i'], fmt)}×(1 − {_pd(gv['g'], fmt)}²)"),
                }
            else:
                z_, n_, r_ = (at(gate_sym(g), t, (j,)) for g in "znr")
                h_old = at(H_SYM, t - 1, (j,))
                dn_sym = at(delta_sym("n"), t, (j,))
                hn = rec["hn"][s, t, j]
                b_hn = (f" + {indexed(param_sym('h', 'n', True), (j,))[0]}",
                        f" + {indexed(param_sym('h', 'n', True), (j,))[1]}") if "biases_hh" in P else ("", "")
                hn_sym = (f"({indexed(param_sym('h', 'n'), (j, ':'))[0]}·{at(H_SYM, t - 1, ())[0]}{b_hn[0]})",
                          rf"({indexed(param_sym('h', 'n'), (j, ':'))[1]} {at(H_SYM, t - 1, ())[1]}{b_hn[1]})")
                terms = {
                    "n": ((f"{dEh[0]}·(1 − {z_[0]})·(1 − {n_[0]}²)", rf"{dEh[1]} (1 - {z_[1]})(1 - {n_[1]}^2)"),
                          f"{_pd(dh, fmt)}×(1 − {_pd(gv['z'], fmt)})×(1 − {_pd(gv['n'], fmt)}²)"),
                    "z": ((f"{dEh[0]}·({h_old[0]} − {n_[0]})·{z_[0]}(1 − {z_[0]})",
                           rf"{dEh[1]} ({h_old[1]} - {n_[1]})\, {z_[1]}(1 - {z_[1]})"),
                          f"{_pd(dh, fmt)}×({_pd(rec['h_prev'][s, t, j], fmt)} − {_pd(gv['n'], fmt)})×"
                          f"{_pd(gv['z'], fmt)}×(1 − {_pd(gv['z'], fmt)})"),
                    "r": ((f"{dn_sym[0]}·{hn_sym[0]}·{r_[0]}(1 − {r_[0]})",
                           rf"{dn_sym[1]} {hn_sym[1]}\, {r_[1]}(1 - {r_[1]})"),
                          f"{_pd(rec['delta_gates']['n'][s, t, j], fmt)}×{_pd(hn, fmt)}×{_pd(gv['r'], fmt)}×"
                          f"(1 − {_pd(gv['r'], fmt)})"),
                }
            for g in (("o", "i", "f", "g") if lstm else ("n", "z", "r")):
                definition, numbers = terms[g]
                out.rows.append(nr.row(at(delta_sym(g), t, (j,)), definition, numbers,
                                       rec["delta_gates"][g][s, t, j]))
        if t > 0:
            _to_prev(L, s, fmt, out, t, H, full, rc.cut(t - 1, k))
        if grad_in is not None:
            _to_input(L, s, fmt, out, t, F, xs, grad_in, full)
    if k is not None and step in (None, T - 1):
        out.notes.append(_("truncate {k}: the path from step t+1 is cut where t is a multiple of {k} (the state "
                           "detached every {k} steps, as in PyTorch)").format(k=k))
    out.total = len(out.rows)
    return out


def _lstm_gate(dEc: Sym, other: Sym, gate: Sym, fn: str) -> Sym:
    """δ of i, f or g: ∂E/∂c_t · (the factor it multiplies) · the gate's slope."""
    if fn == "tanh":
        return f"{dEc[0]}·{other[0]}·(1 − {gate[0]}²)", rf"{dEc[1]} {other[1]} (1 - {gate[1]}^2)"
    return (f"{dEc[0]}·{other[0]}·{gate[0]}(1 − {gate[0]})", rf"{dEc[1]} {other[1]}\, {gate[1]}(1 - {gate[1]})")


def _to_prev(L, s: int, fmt, out: Narration, t: int, H: int, full: bool, cut: bool) -> None:
    """∂E/∂h_{t−1}[m] from step t: Σ over the gates and units of δ·W_h (GRU: also ∂E/∂h_t[m]·z_t[m]); 0 where
    truncation cuts the path."""
    rec, P = L.record, L.params
    gates = L.hyper["gate_names"]
    gru = "hn" in rec
    write = nr.written(len(gates) * H + gru, full)
    for m in _units(H, full):
        q = at(H_SYM, t - 1, (m,))
        words = (_("∂E/∂{h} via step {u}").format(h=q[0], u=t + 1),
                 rf"\frac{{\partial E}}{{\partial {q[1]}}}\big|_{{{t + 1}}}")
        if cut:
            out.rows.append(nr.row(words, (_("0 (cut: truncate {k})").format(k=L.hyper["truncate"]), "0"), "0", 0.0))
            continue
        pairs = [(_deltas(rec, g)[s, t, j], P["weights_hh"][gi * H + j, m]) for gi, g in enumerate(gates)
                 for j in range(H)]
        body = (f"Σ_g,j δᵍ_{t + 1}[j]·W_hg[j,{m + 1}]",
                rf"\sum_{{g,j}} \delta^{{g}}_{{{t + 1}}}[j] W_{{hg}}[j,{m + 1}]")
        numbers = nr.products(pairs, fmt) if write else _("({n} terms)").format(n=len(pairs))
        if gru:
            z_, dEh = at(gate_sym("z"), t, (m,)), rc.grad(at(H_SYM, t, (m,)))
            body = nr.plus([(f"{dEh[0]}·{z_[0]}", rf"{dEh[1]} {z_[1]}"), body])
            if write:
                numbers = (f"{_pd(rec['grad_h'][s, t, m], fmt)}×{_pd(rec['gates']['z'][s, t, m], fmt)} + "
                           + numbers)
        out.rows.append(nr.row(words, body, numbers, rec["grad_h_next"][s, t - 1, m], words=not write))
    if gru and not cut and _("in the recurrent side, gate n's δ is δⁿ·r (r multiplies W_hn·h + b_hn)") not in out.notes:
        out.notes.append(_("in the recurrent side, gate n's δ is δⁿ·r (r multiplies W_hn·h + b_hn)"))


def _to_input(L, s: int, fmt, out: Narration, t: int, F: int, xs: Sym, grad_in, full: bool) -> None:
    """∂E/∂x_t[k] = Σ over the gates and units of δ·W_i."""
    rec, P = L.record, L.params
    gates = L.hyper["gate_names"]
    H = P["weights_hh"].shape[1]
    write = nr.written(len(gates) * H, full)
    for kk in _units(F, full):
        pairs = [(rec["delta_gates"][g][s, t, j], P["weights_ih"][gi * H + j, kk]) for gi, g in enumerate(gates)
                 for j in range(H)]
        body = (f"Σ_g,j δᵍ_{t + 1}[j]·W_ig[j,{kk + 1}]",
                rf"\sum_{{g,j}} \delta^{{g}}_{{{t + 1}}}[j] W_{{ig}}[j,{kk + 1}]")
        numbers = nr.products(pairs, fmt) if write else _("({n} terms)").format(n=len(pairs))
        out.rows.append(nr.row(rc.grad(at(xs, t, (kk,))), body, numbers, grad_in[s, t, kk], words=not write))


# ---------------------------------------------------------------- gradients
def narrate_grads(L, fmt, names, full: bool = False) -> Narration:
    """∂E/∂W_ig[j,k] = Σ over sequences and steps of δᵍ_t[j]·x_t[k]; W_hg with h_{t−1}; biases: Σ δ."""
    rec, P = L.record, L.params
    gates = L.hyper["gate_names"]
    x = L.a_prev
    n, T, F = x.shape
    H = P["weights_hh"].shape[1]
    xs = in_sym(names)
    out = Narration(total=sum(v.size for v in P.values()))
    write = nr.written(n * T, full, 2 * nr.TERMS)
    over = _("each sum runs over the steps of every sequence") if n > 1 else _("each sum runs over the steps")
    for name, side, other in (("weights_ih", "i", x), ("weights_hh", "h", rec["h_prev"]), ("biases_ih", "i", None),
                              ("biases_hh", "h", None)):
        if name not in P:
            continue
        grad = L.grads[name]
        count = grad.size
        cells = [tuple(int(i) for i in ix) for ix in np.ndindex(grad.shape)]
        if not (full or out.total <= nr.LARGE):
            cells = [tuple(int(i) for i in np.unravel_index(m, grad.shape))
                     for m in np.sort(np.argsort(-np.abs(grad).reshape(-1), kind="stable")[:min(nr.TOP, count)])]
        for cell in cells:
            row = cell[0]
            gi, j = divmod(row, H)
            g = gates[gi]
            d = rec["delta_gates"][g] if side == "i" else _deltas(rec, g)
            dsym = delta_sym(g) if side == "i" or g != "n" or "delta_hh" not in rec else \
                ("(δⁿ·r)", r"(\delta^{n} r)")
            dname = (f"{dsym[0]}_t[{j + 1}]", rf"{dsym[1]}_t[{j + 1}]")
            if other is None:
                qty = indexed(param_sym(side, g, True), (j,))
                definition = (f"Σ_t {dname[0]}", rf"\sum_t {dname[1]}")
                vals = d[:, :, j].reshape(-1)
                numbers = nr.total(vals, fmt) if write else _("({n} terms)").format(n=vals.size)
            else:
                kk = cell[1]
                qty = indexed(param_sym(side, g), (j, kk))
                osym = at(xs, "t", (kk,)) if side == "i" else (f"h_{{t−1}}[{kk + 1}]", f"h_{{t-1}}[{kk + 1}]")
                definition = (f"Σ_t {dname[0]}·{osym[0]}", rf"\sum_t {dname[1]} {osym[1]}")
                pairs = list(zip(d[:, :, j].reshape(-1), other[:, :, kk].reshape(-1)))
                numbers = nr.products(pairs, fmt) if write else _("({n} terms)").format(n=len(pairs))
            out.rows.append(nr.row(rc.grad(qty), definition, numbers, grad[cell], words=not write))
    out.notes.append(over)
    if L.hyper.get("truncate"):
        out.notes.append(_("δ from truncated backpropagation through time (truncate {k})").format(
            k=L.hyper["truncate"]))
    return out


def param_name(key: str, idx: tuple, params: dict | None = None) -> Sym:
    """A parameter as the tables write it, by gate: weights_ih row r, column k -> W_ig[j,k] (gate g = r // H, unit
    j = r mod H); without the layer's parameters, PyTorch's stacked name (W_ih[r,k])."""
    if params is None or not idx:
        return rc.param_sym(key, idx)
    H = params["weights_hh"].shape[1]
    gates = ("i", "f", "g", "o") if params["weights_hh"].shape[0] == 4 * H else ("r", "z", "n")
    g, j = gates[idx[0] // H], idx[0] % H
    side = "i" if key.endswith("_ih") else "h"
    return indexed(param_sym(side, g, key.startswith("biases")), (j, *idx[1:]))
