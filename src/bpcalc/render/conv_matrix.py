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


def faces(L, layout: str | None = None) -> dict:
    """The kind's matrices of layer L (the registry computes them; nothing is computed here); `layout`:
    "input_major" asks a dense layer for its products as a spec with `weights_layout: input_major` writes them."""
    kind = LAYERS[L.type]
    if kind.matrices is None:
        return {}
    return kind.matrices(L.params, {**L.hyper, "layout": layout} if layout else L.hyper, L.a_prev, L.grad_a, L.delta,
                         L.record)


def shape_text(shape) -> str:
    return "×".join(str(int(s)) for s in shape)


def _tag(v, li: int) -> str:
    return str(v.nt.number(li)) if li >= 0 else "1"


TEX = {"X_col": r"X_{\mathrm{col}}", "W_row": r"W_{\mathrm{row}}", "Z_row": r"Z_{\mathrm{row}}",
       "δ_row": r"\delta_{\mathrm{row}}", "δ": r"\delta", "∂E/∂X_col": r"\partial E/\partial X_{\mathrm{col}}"}


# ng's names (the course's: a^[l], Z^[l] over the batch, dZ for ∂E/∂Z, dW, dA): z, a, δ, b as the notation names
# a dense layer's vectors; im2col's matrices by the same rule (dZ_row = ∂E/∂Z_row, dX_col = ∂E/∂X_col)
NG = {"X_col": ("X_col", r"X_{\mathrm{col}}"), "W_row": ("W_row", r"W_{\mathrm{row}}"),
      "Z_row": ("Z_row", r"Z_{\mathrm{row}}"), "δ_row": ("dZ_row", r"dZ_{\mathrm{row}}"),
      "∂E/∂X_col": ("dX_col", r"dX_{\mathrm{col}}")}


def named(base: str, v, li: int, tex: str | None = None) -> M:
    """`base^(l)` for layer li (li = -1: the inputs); ng: its names, `base^[l]` (mazur names neurons only: the
    layer notation's names here)."""
    if v.nt.profile == "ng":
        vec = {"a": v.A, "z": v.Z, "δ": v.D, "b": lambda i: v.nt.bvec(i)}.get(base)
        if vec is not None:
            return vec(li)
        text, tx = NG[base]
        return M(f"{text}^[{_tag(v, li)}]", f"{tx}^{{[{_tag(v, li)}]}}")
    l = _tag(v, li)
    return M(f"{base}^({l})", f"{tex or TEX.get(base, base)}^{{({l})}}")


def grad(base: str, v, li: int) -> M:
    """∂E/∂ of `named(base)` (ng: dA^[l], dW_row^[l])."""
    if v.nt.profile == "ng":
        if base == "a":
            return v.dA(li)
        m = named(base, v, li)
        return M("d" + m.text, "d" + m.tex)
    m = named(base, v, li)
    return M(f"∂E/∂{m.text}", rf"\frac{{\partial E}}{{\partial {m.tex}}}")


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
    elif kind.window:  # a pool: what its window becomes and its notes, in its entry's words
        m = faces(L)
        (kh, kw), (sh, sw) = L.hyper["size"], L.hyper["stride"]
        doc.para(_("{a}[c,i,j] = the {what} of the {kh}×{kw} window of {x} at rows {sh}·i …, columns {sw}·j … "
                   "(each channel on its own; {shape_in} → {shape_out})").format(
                       a=A.text, what=_(m["of_window"]), kh=kh, kw=kw, x=A0.text, sh=sh, sw=sw,
                       shape_in=shape_text(L.a_prev.shape[1:]), shape_out=shape_text(L.a.shape[1:])), "math")
        maps(doc, v, A0, L.a_prev)
        maps(doc, v, A, L.a)
        for note in m["forward_notes"]:
            doc.para(_(note), "note")
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
    dA = grad("a", v, li)
    last = len(tr.layers) - 1
    if li == last:
        doc.para(_("{dA}: the loss's gradient, each output cell on its own").format(dA=dA.text), "note")
    elif LAYERS[tr.layers[li + 1].type].neurons:  # Wᵀ δ, by the dense layer above's `matrices` face
        back, parts, _shapes = v.product(li + 1, faces(tr.layers[li + 1])["grad_in"])
        doc.para(M(f"{dA.text} = {back.text}", rf"{dA.tex} = {back.tex}"), "math")
        v.equation(doc, dA, sym("="), *parts, sym("="), v.vec(L.grad_a))
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
    dX, dA = grad("a", v, li - 1), grad("a", v, li)
    kind = LAYERS[L.type]
    if kind.reshape:
        doc.para(M(f"{dX.text} = " + _("reshape of {dA} to {shape}").format(dA=dA.text,
                                                                             shape=shape_text(L.a_prev.shape[1:])),
                   rf"{dX.tex} = \operatorname{{reshape}}\left({dA.tex}\right)"), "math")
        return
    m = faces(L)
    if kind.window:  # a pool: how its gradient goes back, in its entry's words, then where it went
        for note in m["backward_notes"]:
            doc.para(_(note), "note")
        if "route" in m:  # the cells its windows sent their gradient to
            maps(doc, v, M(_("winners"), r"\text{" + _("winners") + "}"), m["route"])
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
    gW = grad("W_row", v, li)
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
