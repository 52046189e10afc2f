"""The attention entry's narration, read by the tables (render/layer_report.py): Q, K, V, the score matrix, each
softmax row and the output, with their numbers; backward through the output projection, A·V, each row's softmax as
its Jacobian a_m(δ_mj − a_j) written out term by term (and the compact a_j(g_j − Σ_m g_m a_m) beside it, the same
number), the scaling 1/√d_k and the projections; each parameter's gradient summed over samples and steps.

Every value comes from the trace (the layer's record: q, k, v, scores, attention, h and their gradients)."""

from __future__ import annotations

import numpy as np

from bpcalc.i18n import _
from bpcalc.registry.kinds import Narration, Sym
from bpcalc.registry.layers import narrate as nr
from bpcalc.registry.layers.recurrent import H_SYM, step_name

C_SYM = "C"  # the context C = A·V, before the output projection


def out_sym(t: int | str, idx: tuple) -> Sym:
    """The layer's output at step t as the next layer's rows name their input: h_t[k]."""
    return step_name(H_SYM, t, idx)

SPELLED = 3  # terms up to which a sum's symbols are written term by term (more: Σ with its count)


def _sum(names, over: str, terms: list[tuple[Sym, Sym]], generic: tuple[Sym, Sym]) -> Sym:
    """Σ of products: each written out (few), or Σ_over of the generic product."""
    if len(terms) <= SPELLED:
        return nr.plus(nr.times(a, b) for a, b in terms) if terms else ("0", "0")
    return nr.sigma(over, nr.times(*generic), len(terms))


def _scaled(sym: Sym, dk: int) -> Sym:
    """(sum) / √d_k."""
    return f"({sym[0]}) / √{dk}", rf"\left({sym[1]}\right) / \sqrt{{{dk}}}"


def param_sym(key: str, idx: tuple = (), params: dict | None = None) -> Sym:
    """A parameter as the tables write it: weights_q, (0, 1) -> w_q[1,2]; biases_o, (2,) -> b_o[3]."""
    kind, m = key.split("_")
    base = f"{kind[0]}_{m}"
    ix = ",".join(str(i + 1) if isinstance(i, int) else str(i) for i in idx)
    return (f"{base}[{ix}]", f"{base}[{ix}]") if idx else (base, base)


def _blocks(full: bool, *counts: int) -> list[range]:
    """The rows each block of a table writes out: all for a small layer (or with full), else the first TOP each."""
    big = not full and sum(counts) > nr.LARGE
    return [range(min(c, nr.TOP) if big else c) for c in counts]


def _hidden(rec: dict, i: int, j: int) -> bool:
    m = rec.get("mask")
    return bool(m is not None and m[i, j])


def narrate_forward(L, s: int, fmt, names, full: bool = False, step: int | None = None) -> Narration:
    """Q, K, V (one row per step and feature), S = Q·Kᵀ/√d_k, each row's softmax, H = A·V, then W_o; with `step`,
    that step's rows only (its Q, K, V, its row of scores and of A, its output)."""
    P, rec, x = L.params, L.record, L.a_prev[s]
    T, d = x.shape
    ts = range(T) if step is None else [step]
    dk = P["weights_q"].shape[0]
    wo = "weights_o" in P
    out = Narration()
    dout = P["weights_o"].shape[0] if wo else dk
    counts = (3 * len(ts) * dk, len(ts) * T, len(ts) * T, len(ts) * dk, len(ts) * dout if wo else 0)
    out.total = sum(counts)
    proj, score, soft, hrows, orows = _blocks(full, *counts)
    write = nr.written(d, full)
    # Q, K, V
    cells = [(m, t, c) for m in "qkv" for t in ts for c in range(dk)]
    for m, t, c in (cells[r] for r in proj):
        W, b = P[f"weights_{m}"], P.get(f"biases_{m}")
        terms = [(names.short("in", (t, k)), names.short(f"w_{m}", (c, k))) for k in range(d)]
        definition = _sum(names, "k", terms, (names.short("in", (t, "k")), names.short(f"w_{m}", (c, "k"))))
        numbers = nr.products([(x[t, k], W[c, k]) for k in range(d)], fmt) if write else \
            _("({n} terms)").format(n=d)
        if b is not None:
            definition = nr.plus([definition, names.short(f"b_{m}", (c,))])
            numbers += f" + {fmt.p_(b[c])}" if write else ""
        out.rows.append(nr.row(names.at(m.upper(), (t, c)), definition, numbers, rec[m][s, t, c]))
    # the scores
    grid = [(i, j) for i in ts for j in range(T)]
    for i, j in (grid[r] for r in score):
        S = names.at("S", (i, j))
        if _hidden(rec, i, j):
            out.rows.append(nr.row(S, ("−∞", r"-\infty"), _("hidden by the causal mask (step {j} after step {i})")
                                   .format(i=i + 1, j=j + 1), rec["scores"][s, i, j], words=True))
            continue
        terms = [(names.short("Q", (i, c)), names.short("K", (j, c))) for c in range(dk)]
        definition = _scaled(_sum(names, "c", terms, (names.short("Q", (i, "c")), names.short("K", (j, "c")))), dk)
        numbers = f"({nr.products([(rec['q'][s, i, c], rec['k'][s, j, c]) for c in range(dk)], fmt)}) / √{dk}"
        out.rows.append(nr.row(S, definition, numbers, rec["scores"][s, i, j]))
    # each row's softmax
    for i, j in (grid[r] for r in soft):
        A = names.at("A", (i, j))
        seen = [m for m in range(T) if not _hidden(rec, i, m)]
        if j not in seen:
            out.rows.append(nr.row(A, ("0", "0"), _("e^(−∞) = 0: the mask hides this step"),
                                   rec["attention"][s, i, j], words=True))
            continue
        Sij = names.short("S", (i, j))
        definition = (f"e^{Sij[0]} / Σ_m e^{names.short('S', (i, 'm'))[0]}",
                      rf"\frac{{e^{{{Sij[1]}}}}}{{\sum_m e^{{{names.short('S', (i, 'm'))[1]}}}}}")
        sc = rec["scores"][s, i]
        numbers = (f"e^({fmt(sc[j])}) / ({' + '.join(f'e^({fmt(sc[m])})' for m in seen)})"
                   if nr.written(len(seen), full) else _("({n} terms)").format(n=len(seen)))
        out.rows.append(nr.row(A, definition, numbers, rec["attention"][s, i, j]))
    # H = A·V, then the output projection
    for r in hrows:
        i, c = ts[r // dk], r % dk
        seen = [j for j in range(T) if not _hidden(rec, i, j)]
        terms = [(names.short("A", (i, j)), names.short("V", (j, c))) for j in seen]
        definition = _sum(names, "j", terms, (names.short("A", (i, "j")), names.short("V", ("j", c))))
        numbers = nr.products([(rec["attention"][s, i, j], rec["v"][s, j, c]) for j in seen], fmt) \
            if nr.written(len(seen), full) else _("({n} terms)").format(n=len(seen))
        quantity = names.at(C_SYM, (i, c)) if wo else out_sym(i, (c,))
        out.rows.append(nr.row(quantity, definition, numbers, rec["context"][s, i, c]))
    for r in orows:
        i, o = ts[r // dout], r % dout
        W, b = P["weights_o"], P.get("biases_o")
        terms = [(names.short(C_SYM, (i, c)), names.short("w_o", (o, c))) for c in range(dk)]
        definition = _sum(names, "c", terms, (names.short(C_SYM, (i, "c")), names.short("w_o", (o, "c"))))
        numbers = nr.products([(rec["context"][s, i, c], W[o, c]) for c in range(dk)], fmt)
        if b is not None:
            definition = nr.plus([definition, names.short("b_o", (o,))])
            numbers += f" + {fmt.p_(b[o])}"
        out.rows.append(nr.row(out_sym(i, (o,)), definition, numbers, L.a[s, i, o]))
    if rec.get("mask") is not None:
        out.notes.append(_("causal: step i attends to steps 1 to i only (S_ij = −∞ for j > i, so A_ij = 0)"))
    if not wo:
        out.notes.append(_("no output projection: the layer's output is the context A·V"))
    return out


def narrate_backward(L, s: int, fmt, names, full: bool = False, grad_in=None, own_delta: bool = True,
                     step: int | None = None) -> Narration:
    """∂E/∂H (through W_o), ∂E/∂A and ∂E/∂V (through A·V), ∂E/∂S (each softmax row's Jacobian written out, then
    the compact form), ∂E/∂Q and ∂E/∂K (through the scaling), and ∂E/∂x (through the three projections); with
    `step`, the rows of that step (its rows of ∂E/∂H, ∂E/∂A, ∂E/∂S, its ∂E/∂Q, ∂E/∂K, ∂E/∂V and ∂E/∂x)."""
    P, rec = L.params, L.record
    T = L.a.shape[1]
    dk = P["weights_q"].shape[0]
    wo = "weights_o" in P
    dout = P["weights_o"].shape[0] if wo else dk
    d = L.a_prev.shape[2]
    gA, gS, gH, A = rec["grad_attention"][s], rec["grad_scores"][s], rec["grad_context"][s], rec["attention"][s]
    ts = list(range(T)) if step is None else [step]
    nt_ = len(ts)
    out = Narration()
    counts = (nt_ * dk if wo else 0, nt_ * T, nt_ * dk, 2 * nt_ * T, 2 * nt_ * dk,
              nt_ * d if grad_in is not None else 0)
    hidden = sum(_hidden(rec, i, j) for i in ts for j in range(T))  # a masked score has one row, not two
    out.total = sum(counts) - hidden
    hrows, arows, vrows, srows, qkrows, xrows = _blocks(full, *counts)
    ga = names.grad
    g_out = L.grad_a[s]
    for r in hrows:  # ∂E/∂H = ∂E/∂a·W_o
        i, c = ts[r // dk], r % dk
        terms = [(ga(out_sym(i, (o,))), names.short("w_o", (o, c))) for o in range(dout)]
        definition = _sum(names, "r", terms, (ga(out_sym(i, ("r",))), names.short("w_o", ("r", c))))
        numbers = nr.products([(g_out[i, o], P["weights_o"][o, c]) for o in range(dout)], fmt)
        out.rows.append(nr.row(ga(names.at(C_SYM, (i, c))), definition, numbers, gH[i, c]))

    def hs(t, idx: tuple) -> Sym:  # what ∂E/∂A and ∂E/∂V read: the context's gradient, or the output's
        return names.short(C_SYM, (t, *idx)) if wo else out_sym(t, idx)
    grid = [(i, j) for i in ts for j in range(T)]
    for i, j in (grid[r] for r in arows):  # ∂E/∂A = ∂E/∂H·Vᵀ
        terms = [(ga(hs(i, (c,))), names.short("V", (j, c))) for c in range(dk)]
        definition = _sum(names, "c", terms, (ga(hs(i, ("c",))), names.short("V", (j, "c"))))
        numbers = nr.products([(gH[i, c], rec["v"][s, j, c]) for c in range(dk)], fmt)
        out.rows.append(nr.row(ga(names.at("A", (i, j))), definition, numbers, gA[i, j]))
    for r in vrows:  # ∂E/∂V = Aᵀ·∂E/∂H
        j, c = ts[r // dk], r % dk
        terms = [(names.short("A", (i, j)), ga(hs(i, (c,)))) for i in range(T)]
        definition = _sum(names, "i", terms, (names.short("A", ("i", j)), ga(hs("i", (c,)))))
        numbers = nr.products([(A[i, j], gH[i, c]) for i in range(T)], fmt) if nr.written(T, full) else \
            _("({n} terms)").format(n=T)
        out.rows.append(nr.row(ga(names.at("V", (j, c))), definition, numbers, rec["grad_v"][s, j, c]))
    for r in srows:  # ∂E/∂S through each row's softmax: the Jacobian, then the compact form
        i, j = grid[r // 2]
        dS = ga(names.at("S", (i, j)))
        if _hidden(rec, i, j):
            if r % 2 == 0:
                out.rows.append(nr.row(dS, ("0", "0"), _("hidden by the mask: A_ij = 0 whatever S_ij"), gS[i, j],
                                       words=True))
            continue
        seen = [m for m in range(T) if not _hidden(rec, i, m)]
        Am, gAm = names.short("A", (i, "m")), ga(names.short("A", (i, "m")))
        Aj = names.short("A", (i, j))
        if r % 2 == 0:
            definition = (f"Σ_m {gAm[0]}·{Am[0]}(δ_m{j + 1} − {Aj[0]})",
                          rf"\sum_m {gAm[1]} \cdot {Am[1]} (\delta_{{m{j + 1}}} - {Aj[1]})")
            numbers = (" + ".join(f"{fmt.p_(gA[i, m])}×{fmt.p_(A[i, m])}×({int(m == j)} − {fmt.p_(A[i, j])})"
                                  for m in seen) if nr.written(len(seen), full) else
                       _("({n} terms)").format(n=len(seen)))
        else:
            gAj = ga(Aj)
            definition = (f"{Aj[0]}({gAj[0]} − Σ_m {gAm[0]}·{Am[0]})",
                          rf"{Aj[1]} \left({gAj[1]} - \sum_m {gAm[1]} \cdot {Am[1]}\right)")
            inner = nr.products([(gA[i, m], A[i, m]) for m in seen], fmt)
            numbers = f"{fmt.p_(A[i, j])} × ({fmt.p_(gA[i, j])} − ({inner}))"
        out.rows.append(nr.row(dS, definition, numbers, gS[i, j]))
    for r in qkrows:  # ∂E/∂Q = ∂E/∂S·K/√d_k, ∂E/∂K = ∂E/∂Sᵀ·Q/√d_k
        m, rest = divmod(r, nt_ * dk)
        t, c = ts[rest // dk], rest % dk
        if m == 0:
            terms = [(ga(names.short("S", (t, j))), names.short("K", (j, c))) for j in range(T)]
            gen = (ga(names.short("S", (t, "j"))), names.short("K", ("j", c)))
            pairs = [(gS[t, j], rec["k"][s, j, c]) for j in range(T)]
            name, value = names.at("Q", (t, c)), rec["grad_q"][s, t, c]
        else:
            terms = [(ga(names.short("S", (i, t))), names.short("Q", (i, c))) for i in range(T)]
            gen = (ga(names.short("S", ("i", t))), names.short("Q", ("i", c)))
            pairs = [(gS[i, t], rec["q"][s, i, c]) for i in range(T)]
            name, value = names.at("K", (t, c)), rec["grad_k"][s, t, c]
        definition = _scaled(_sum(names, "j" if m == 0 else "i", terms, gen), dk)
        numbers = f"({nr.products(pairs, fmt)}) / √{dk}" if nr.written(T, full) else _("({n} terms)").format(n=T)
        out.rows.append(nr.row(ga(name), definition, numbers, value))
    for r in xrows:  # ∂E/∂x = ∂E/∂Q·W_q + ∂E/∂K·W_k + ∂E/∂V·W_v
        t, k = ts[r // d], r % d
        definition = nr.plus(nr.sigma("c", nr.times(ga(names.short(m.upper(), (t, "c"))),
                                                    names.short(f"w_{m}", ("c", k))), dk) if dk > 1 else
                             nr.times(ga(names.short(m.upper(), (t, 0))), names.short(f"w_{m}", (0, k))) for m in "qkv")
        numbers = nr.products([(rec[f"grad_{m}"][s, t, c], P[f"weights_{m}"][c, k]) for m in "qkv"
                               for c in range(dk)], fmt) if nr.written(3 * dk, full) else \
            _("({n} terms)").format(n=3 * dk)
        out.rows.append(nr.row(ga(names.at("in", (t, k))), definition, numbers, grad_in[s, t, k]))
    out.notes.append(_("∂E/∂S row by row through the softmax's Jacobian ∂A_im/∂S_ij = A_im(δ_mj − A_ij) "
                       "(δ_mj = 1 if m = j, else 0), then the compact A_ij(∂E/∂A_ij − Σ_m ∂E/∂A_im·A_im): the same "
                       "number; the shortcut a − t belongs to cross-entropy, not here"))
    return out


def narrate_grads(L, fmt, names, full: bool = False) -> Narration:
    """∂E/∂w_q[c,k] = Σ over samples and steps of ∂E/∂Q[t,c]·x[t,k] (k, v alike); ∂E/∂b_q[c] = Σ ∂E/∂Q[t,c];
    W_o and b_o from ∂E/∂a and H."""
    P, G, rec, x = L.params, L.grads, L.record, L.a_prev
    n, T = x.shape[:2]
    out = Narration()
    entries = [(key, tuple(int(i) for i in ix)) for key, p in P.items() for ix in np.ndindex(p.shape)]
    out.total = len(entries)
    if not full and len(entries) > nr.LARGE:
        mags = np.asarray([abs(G[key][ix]) for key, ix in entries])
        entries = [entries[i] for i in sorted(np.argsort(-mags, kind="stable")[:nr.TOP].tolist())]
    write = nr.written(n * T, full, 2 * nr.TERMS)
    ga = names.grad
    for key, ix in entries:
        kind, m = key.split("_")
        row = ix[0]
        if m == "o":
            g_arr, g_name = L.grad_a, ga(out_sym("t", (row,)))
            src, src_sym = rec["context"], C_SYM
        else:
            g_arr, g_name = rec[f"grad_{m}"], ga(names.short(m.upper(), ("t", row)))
            src, src_sym = x, "in"
        letter = "t" if n == 1 else "n,t"
        if kind == "weights":
            col = ix[1]
            gen = nr.times(g_name, names.short(src_sym, ("t", col)))
            definition = (f"Σ_{letter} {gen[0]}", rf"\sum_{{{letter}}} {gen[1]}")
            numbers = nr.products([(g_arr[q, t, row], src[q, t, col]) for q in range(n) for t in range(T)], fmt) \
                if write else _("({n} terms)").format(n=n * T)
            name = param_sym(key, ix)
        else:
            definition = (f"Σ_{letter} {g_name[0]}", rf"\sum_{{{letter}}} {g_name[1]}")
            numbers = nr.total(g_arr[:, :, row].reshape(-1), fmt) if write else _("({n} terms)").format(n=n * T)
            name = param_sym(key, ix)
        out.rows.append(nr.row(ga(name), definition, numbers, G[key][ix]))
    out.notes.append(_("each sum runs over the steps of every sequence"))
    if "biases_k" in P:
        out.notes.append(_("∂E/∂b_k is 0 up to rounding: b_k adds Q_i·b_k to every score of row i, and a row's "
                           "softmax does not change when the same number is added to all its entries"))
    return out

