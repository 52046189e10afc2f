"""The matrix view of conv2d, pooling and flatten layers: feature maps channel by channel, conv2d in im2col form
(X_col, Z = W_row·X_col + b, ∂E/∂W = δ_row·X_colᵀ, ∂E/∂X_col = W_rowᵀ·δ_row, col2im adding the overlaps), pools
by their windows, flatten as a reshape.

Only arranges numbers the trace holds or the layer kind's `matrices` face gives (a reshape or transpose is the
same numbers written another way)."""

from __future__ import annotations

import numpy as np

from bpcalc.explain.mathtext import M
from bpcalc.i18n import _
from bpcalc.registry import ACTIVATIONS, LAYERS
from bpcalc.render.doc import Doc
from bpcalc.render.equation import sym

MAX_MAPS = 4  # samples, and channels per sample, whose maps are written out (--full: all)


def faces(L) -> dict:
    """The kind's matrices of layer L (the registry computes them; nothing is computed here)."""
    kind = LAYERS[L.type]
    if kind.matrices is None:
        return {}
    return kind.matrices(L.params, L.hyper, L.a_prev, L.grad_a, L.delta, L.record)


def shape_text(shape) -> str:
    return "×".join(str(int(s)) for s in shape)


def _tag(v, li: int) -> str:
    return str(v.nt.number(li)) if li >= 0 else "1"


TEX = {"X_col": r"X_{\mathrm{col}}", "W_row": r"W_{\mathrm{row}}", "Z_row": r"Z_{\mathrm{row}}",
       "δ_row": r"\delta_{\mathrm{row}}", "δ": r"\delta", "∂E/∂X_col": r"\partial E/\partial X_{\mathrm{col}}"}


def named(base: str, v, li: int, tex: str | None = None) -> M:
    """`base^(l)` for layer li (li = -1: the inputs)."""
    l = _tag(v, li)
    return M(f"{base}^({l})", f"{tex or TEX.get(base, base)}^{{({l})}}")


def tr(m: M) -> M:
    """mᵀ."""
    return M(f"{m.text}ᵀ", rf"\left({m.tex}\right)^{{\mathsf{{T}}}}")


def maps(doc: Doc, v, name: M, x: np.ndarray) -> None:
    """Feature maps (n, C, H, W): one line per sample, its channels side by side (C × H × W)."""
    n, C = x.shape[:2]
    ns, cs = (n, C) if v.full else (min(n, MAX_MAPS), min(C, MAX_MAPS))
    for s in range(ns):
        lhs = M(f"{name.text}[{_('sample')} {s + 1}]", rf"{name.tex}_{{[{s + 1}]}}") if n > 1 else name
        parts: list = [lhs, sym("=")]
        for c in range(cs):
            if c:
                parts.append(sym(","))
            parts.append(v.mat(x[s, c]))
        if cs < C:
            parts += [sym(","), M("…", r"\ldots")]
        v.equation(doc, *parts)
    if ns < n or cs < C:
        doc.para(_("{shown} of {n} sample(s) and {c} of {C} channel(s) written out; --full writes all").format(
            shown=ns, n=n, c=cs, C=C), "note")


# ---------------------------------------------------------------- forward
def forward(doc: Doc, v, li: int) -> None:
    L = v.tr.layers[li]
    A0, Z, A = named("a", v, li - 1), named("z", v, li), named("a", v, li)
    kind = LAYERS[L.type]
    if kind.kernels:
        _conv_forward(doc, v, li, L, A0, Z, A)
    elif kind.window:
        (kh, kw), (sh, sw) = L.hyper["size"], L.hyper["stride"]
        what = _("maximum") if kind.window == "max" else _("mean")
        doc.para(_("{a}[c,i,j] = the {what} of the {kh}×{kw} window of {x} at rows {sh}·i …, columns {sw}·j … "
                   "(each channel on its own; {shape_in} → {shape_out})").format(
                       a=A.text, what=what, kh=kh, kw=kw, x=A0.text, sh=sh, sw=sw,
                       shape_in=shape_text(L.a_prev.shape[1:]), shape_out=shape_text(L.a.shape[1:])), "math")
        maps(doc, v, A0, L.a_prev)
        maps(doc, v, A, L.a)
        if kind.window == "max" and L.record.get("ties") is not None and np.any(L.record["ties"]):
            doc.para(_("a tie: some windows hold their maximum twice; the first in row-major order wins, as in "
                       "PyTorch"), "note")
    elif kind.reshape:
        doc.para(M(f"{A.text} = vec({A0.text})  " + _("(channel, row, column)"),
                   rf"{A.tex} = \operatorname{{vec}}\left({A0.tex}\right)"), "math")
        doc.para(_("shapes: {a} → {b}").format(a=shape_text(L.a_prev.shape[1:]), b=shape_text(L.a.shape[1:])),
                 "note")
        v.equation(doc, A, sym("="), v.vec(L.a))


def _conv_forward(doc: Doc, v, li: int, L, A0: M, Z: M, A: M) -> None:
    m = faces(L)
    O, C, kh, kw = L.weights.shape
    (sh, sw), (ph, pw) = L.hyper["stride"], L.hyper["padding"]
    n, _o, Ho, Wo = L.z.shape
    Xc, Wr, Zr = named("X_col", v, li), named("W_row", v, li), named("Z_row", v, li)
    doc.para(_("conv2d: {O} kernel(s) {C}×{kh}×{kw}, stride ({sh}, {sw}), zero padding ({ph}, {pw}); "
               "{a} is {shape_in}, {z} is {shape_out}").format(
                   O=O, C=C, kh=kh, kw=kw, sh=sh, sw=sw, ph=ph, pw=pw, a=A0.text, z=Z.text,
                   shape_in=shape_text(L.a_prev.shape[1:]), shape_out=shape_text(L.z.shape[1:])), "note")
    maps(doc, v, A0, L.a_prev)
    doc.para(_("im2col: each column of {X} is one window of the zero-padded {a} read as a column (rows in the "
               "order c', p, q), one column per output position (i, j){samples}; {X} is {rows}×{cols}").format(
                   X=Xc.text, a=A0.text, rows=C * kh * kw, cols=n * Ho * Wo,
                   samples=_(", sample after sample") if n > 1 else ""), "note")
    v.equation(doc, Xc, sym("="), v.mat(m["X_col"]))
    doc.para(_("each kernel as one row: {W} is {O}×{k}").format(W=Wr.text, O=O, k=C * kh * kw), "note")
    v.equation(doc, Wr, sym("="), v.mat(m["W_row"]))
    rhs = M(f"{Wr.text} · {Xc.text}", rf"{Wr.tex} {Xc.tex}")
    parts = [Zr, sym("="), v.mat(m["W_row"]), sym("·"), v.mat(m["X_col"])]
    shapes = f"{O}×{n * Ho * Wo} = {O}×{C * kh * kw} · {C * kh * kw}×{n * Ho * Wo}"
    if L.biases is not None:
        b = named("b", v, li)
        rhs = M(f"{rhs.text} + {b.text}", rf"{rhs.tex} + {b.tex}")
        parts += [sym("+"), v.param(L.biases)]
        shapes += f" + {O}×1"
    doc.para(M(f"{Zr.text} = {rhs.text}", f"{Zr.tex} = {rhs.tex}"), "math")
    doc.para(_("shapes: {shapes}").format(shapes=shapes)
             + (_("; b is added to every column") if L.biases is not None else ""), "note")
    v.equation(doc, *parts, sym("="), v.mat(m["Z_row"]))
    doc.para(_("row c of {Zr} laid out as an {h}×{w} map is channel c of {z}").format(
        Zr=Zr.text, h=Ho, w=Wo, z=Z.text), "note")
    maps(doc, v, Z, L.z)
    act = ACTIVATIONS[L.activation]
    if not act.identity:
        doc.para(M(f"{A.text} = {act.symbol}({Z.text})", rf"{A.tex} = {act.tex_symbol}\left({Z.tex}\right)"),
                 "math")
        maps(doc, v, A, L.a)


# ---------------------------------------------------------------- backward
def received(doc: Doc, v, li: int) -> None:
    """∂E/∂a^(l) of a conv, pool or flatten layer as it arrives: from the loss, from the dense layer above
    (Wᵀ δ), or from the layer above's ∂E/∂x (shown in that layer's section)."""
    tr = v.tr
    L = tr.layers[li]
    dA = M(f"∂E/∂{named('a', v, li).text}", rf"\frac{{\partial E}}{{\partial {named('a', v, li).tex}}}")
    last = len(tr.layers) - 1
    if li == last:
        doc.para(_("{dA}: the loss's gradient, each output cell on its own").format(dA=dA.text), "note")
    elif LAYERS[tr.layers[li + 1].type].neurons:
        N = tr.layers[li + 1]
        Wn, Dn = v.nt.W(li + 1), v.D(li + 1)
        if v.batch:
            doc.para(M(f"{dA.text} = {Dn.text} {Wn.text}", rf"{dA.tex} = {Dn.tex} {Wn.tex}"), "math")
            v.equation(doc, dA, sym("="), v.vec(N.delta), sym("·"), v.mat(N.weights), sym("="), v.vec(L.grad_a))
        else:
            doc.para(M(f"{dA.text} = {v.nt.Wt(li + 1).text} {Dn.text}", rf"{dA.tex} = {v.nt.Wt(li + 1).tex} {Dn.tex}"),
                     "math")
            v.equation(doc, dA, sym("="), v.mat(N.weights.T), sym("·"), v.vec(N.delta), sym("="), v.vec(L.grad_a))
        return
    else:
        doc.para(_("{dA}: from layer {l}, above").format(dA=dA.text, l=v.nt.number(li + 1)), "note")
    if L.grad_a.ndim == 4:
        maps(doc, v, dA, L.grad_a)
    else:
        v.equation(doc, dA, sym("="), v.vec(L.grad_a))


def backward(doc: Doc, v, li: int) -> None:
    """A conv, pool or flatten layer's backward step: δ, then ∂E/∂x of its input."""
    L = v.tr.layers[li]
    received(doc, v, li)
    dX = M(f"∂E/∂{named('a', v, li - 1).text}", rf"\frac{{\partial E}}{{\partial {named('a', v, li - 1).tex}}}")
    dA = M(f"∂E/∂{named('a', v, li).text}", rf"\frac{{\partial E}}{{\partial {named('a', v, li).tex}}}")
    kind = LAYERS[L.type]
    if kind.reshape:
        doc.para(M(f"{dX.text} = " + _("reshape of {dA} to {shape}").format(dA=dA.text,
                                                                             shape=shape_text(L.a_prev.shape[1:])),
                   rf"{dX.tex} = \operatorname{{reshape}}\left({dA.tex}\right)"), "math")
        return
    m = faces(L)
    if kind.window == "max":
        doc.para(_("max-pool: each window's gradient goes whole to the cell that was its maximum; the others get "
                   "0 (where windows overlap, a cell adds what it gets)"), "note")
        doc.para(_("the cells that receive (how many windows sent them their gradient):"), "note")
        maps(doc, v, M(_("winners"), r"\text{" + _("winners") + "}"), m["route"])
        maps(doc, v, dX, m["grad_x"])
        return
    if kind.window == "mean":
        kh, kw = L.hyper["size"]
        doc.para(_("avg-pool: each window's gradient shared evenly, 1/{k} to each of its {k} cells; where windows "
                   "overlap, a cell adds the shares it gets").format(k=kh * kw), "note")
        maps(doc, v, dX, m["grad_x"])
        return
    _conv_backward(doc, v, li, L, m, dA, dX)


def _conv_backward(doc: Doc, v, li: int, L, m: dict, dA: M, dX: M) -> None:
    D, Z = named("δ", v, li), named("z", v, li)
    act = ACTIVATIONS[L.activation]
    if not act.identity and L.local is not None:
        doc.para(M(f"{D.text} = {dA.text} ⊙ {act.symbol}′({Z.text}),  {act.symbol}′(z) = {act.derivative}",
                   rf"{D.tex} = {dA.tex} \odot {act.tex_symbol}'\left({Z.tex}\right)"), "math")
        maps(doc, v, M(f"{act.symbol}′({Z.text})", rf"{act.tex_symbol}'\left({Z.tex}\right)"), L.local)
    else:
        doc.para(M(f"{D.text} = {dA.text}", f"{D.tex} = {dA.tex}"), "math")
    maps(doc, v, D, L.delta)
    O, C, kh, kw = L.weights.shape
    cols = m["X_col"].shape[1]
    Dr, Wr, dXc = named("δ_row", v, li), named("W_row", v, li), named("∂E/∂X_col", v, li)
    doc.para(_("{D} as rows: channel c's map read row by row{samples}; {Dr} is {O}×{cols}").format(
        D=D.text, Dr=Dr.text, O=O, cols=cols, samples=_(", sample after sample") if L.delta.shape[0] > 1 else ""),
        "note")
    v.equation(doc, Dr, sym("="), v.mat(m["delta_row"]))
    doc.para(M(f"{dXc.text} = {tr(Wr).text} · {Dr.text}", rf"{dXc.tex} = {tr(Wr).tex} {Dr.tex}"), "math")
    doc.para(_("shapes: {shapes}").format(shapes=f"{C * kh * kw}×{cols} = {C * kh * kw}×{O} · {O}×{cols}"), "note")
    v.equation(doc, dXc, sym("="), v.mat(m["W_row"].T), sym("·"), v.mat(m["delta_row"]), sym("="),
               v.mat(m["grad_X_col"]))
    doc.para(_("col2im: each entry of {dXc} is added back to the input cell its window read; where windows "
               "overlap, a cell adds every window's contribution (padding cells are dropped)").format(dXc=dXc.text),
             "note")
    doc.para(_("how many windows read each input cell (the overlaps):"), "note")
    v.equation(doc, M(_("overlaps"), r"\text{" + _("overlaps") + "}"), sym("="), v.mat(m["overlaps"]))
    maps(doc, v, dX, m["grad_x"])


# ---------------------------------------------------------------- gradients
def gradients(doc: Doc, v, li: int) -> None:
    """conv2d: ∂E/∂W = δ_row · X_colᵀ (each kernel as a row) and ∂E/∂b the row sums of δ_row."""
    L = v.tr.layers[li]
    m = faces(L)
    O, C, kh, kw = L.weights.shape
    cols = m["X_col"].shape[1]
    Dr, Xc = named("δ_row", v, li), named("X_col", v, li)
    gW = M(f"∂E/∂{named('W_row', v, li).text}", rf"\frac{{\partial E}}{{\partial {named('W_row', v, li).tex}}}")
    doc.para(M(f"{gW.text} = {Dr.text} · {tr(Xc).text}  " + _("(a sum over the positions of δ × input)"),
               rf"{gW.tex} = {Dr.tex} {tr(Xc).tex}"), "math")
    doc.para(_("shapes: {shapes}").format(shapes=f"{O}×{C * kh * kw} = {O}×{cols} · {cols}×{C * kh * kw}"), "note")
    v.equation(doc, gW, sym("="), v.mat(m["delta_row"]), sym("·"), v.mat(m["X_col"].T), sym("="),
               v.mat(m["grad_W_row"]))
    doc.para(_("row c is kernel c's gradient, its entries in the order c', p, q"), "note")
    if L.biases is None:
        return
    gb = v.nt.grad_b(li)
    doc.para(M(f"{gb.text} = Σ_" + _("positions") + f" {Dr.text}  " + _("(the sum of each row)"),
               rf"{gb.tex} = \sum {Dr.tex}"), "math")
    v.equation(doc, gb, sym("="), v.param(m["grad_b"]))
