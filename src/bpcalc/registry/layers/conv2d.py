"""conv2d: z[c,i,j] = Σ_{c',p,q} x[c', s·i+p, s·j+q] · w[c,c',p,q] + b[c] (cross-correlation, as PyTorch computes
it), over zero-padded input; then a = f(z). Vectorised as im2col: one matrix product per layer and direction."""

from __future__ import annotations

import numpy as np

from bpcalc.i18n import N_, _
from bpcalc.registry.kinds import Explains, Generator, LayerKind, LayerMistake, Narration
from bpcalc.registry.layers import keys
from bpcalc.registry.layers import narrate as nr

KEYS = frozenset({"weights", "biases", "bias", "activation", "stride", "padding", "channels", "kernel_size", "init"})


def parse(rd, raw: dict, path: tuple, in_shape: tuple):
    C, H, Wd = in_shape
    act = rd.activation(raw, path)
    stride = rd.pair(raw, "stride", path, (1, 1))
    padding = rd.pair(raw, "padding", path, (0, 0), minimum=0)
    if "weights" in raw:
        for key in ("channels", "kernel_size"):
            if key in raw:
                raise rd.error(path + (key,), _("give either `weights` or `channels` and `kernel_size`, not both"))
        W = rd.parameter(raw["weights"], path + ("weights",), 4)
        if W.ndim == 2:
            W = W[None, None]  # a plain kh × kw kernel: one channel in, one out
        if W.ndim != 4:
            raise rd.error(path + ("weights",), _("conv2d weights are out_channels × in_channels × kh × kw (or one "
                                                  "kh × kw kernel), found shape {shape}").format(
                                                      shape="×".join(map(str, W.shape))),
                           hint=_("for one output channel over {c} input channels write [[kernel], [kernel], …] "
                                  "inside one more pair of brackets").format(c=C))
        if W.shape[1] != C:
            raise rd.error(path + ("weights",), _("the kernels have {k} input channel(s) but the input has "
                                                  "{c}").format(k=W.shape[1], c=C),
                           hint=_("give each output channel one kh × kw kernel per input channel"))
    elif "channels" in raw or "kernel_size" in raw:
        if "channels" not in raw or "kernel_size" not in raw:
            missing = "kernel_size" if "channels" in raw else "channels"
            raise rd.error(path, _("`channels` and `kernel_size` go together: add `{key}`").format(key=missing))
        O = rd.positive_int(raw["channels"], path + ("channels",))
        kh, kw = rd.pair(raw, "kernel_size", path, None)
        if O * C * kh * kw > rd.MAX_PARAMETERS:
            raise rd.error(path + ("channels",), _("{n:,} weights; bpcalc takes at most {m:,} per layer").format(
                n=O * C * kh * kw, m=rd.MAX_PARAMETERS))
        W = rd.init(raw, path, (O, C, kh, kw), C * kh * kw, O * kh * kw)
    else:
        raise rd.error(path, _("a conv2d layer needs `weights:` (out × in × kh × kw, or one kh × kw kernel) or "
                               "`channels: N` with `kernel_size: K`"))
    O, _c, kh, kw = W.shape
    b = rd.biases(raw, path, O, _("{n} output channel(s)").format(n=O))
    if b is None and "weights" not in raw and raw.get("bias", True) is not False:
        b = np.zeros(O)
    ho = (H + 2 * padding[0] - kh) // stride[0] + 1
    wo = (Wd + 2 * padding[1] - kw) // stride[1] + 1
    if ho < 1 or wo < 1:
        raise rd.error(path + ("weights",), _("a {kh}×{kw} kernel does not fit the {h}×{w} input (padding "
                                              "{ph}, {pw})").format(kh=kh, kw=kw, h=H, w=Wd, ph=padding[0],
                                                                    pw=padding[1]),
                       hint=_("use a smaller kernel or more padding"))
    return rd.layer(W, b, act, hyper={"stride": stride, "padding": padding})


def out_shape(layer, in_shape: tuple) -> tuple:
    O, _c, kh, kw = layer.weights.shape
    (sh, sw), (ph, pw) = layer.hyper["stride"], layer.hyper["padding"]
    return (O, (in_shape[1] + 2 * ph - kh) // sh + 1, (in_shape[2] + 2 * pw - kw) // sw + 1)


def windows(x: np.ndarray, kh: int, kw: int, stride, padding) -> np.ndarray:
    """The kh × kw windows the layer reads, (n, C, Ho, Wo, kh, kw), a view of the zero-padded input."""
    (sh, sw), (ph, pw) = stride, padding
    if ph or pw:
        x = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    return np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]


def forward(P, hp, x):
    W, b = P["weights"], P.get("biases")
    O, C, kh, kw = W.shape
    win = windows(x, kh, kw, hp["stride"], hp["padding"])
    n, _c, Ho, Wo = win.shape[:4]
    # im2col, channel-major: X_col (C·kh·kw × n·Ho·Wo), one column per output position, so Z = W_row·X_col is one
    # wide matrix product (as the matrix view writes it)
    cols = np.ascontiguousarray(win.transpose(1, 4, 5, 0, 2, 3)).reshape(C * kh * kw, n * Ho * Wo)
    z = W.reshape(O, -1) @ cols
    if b is not None:
        z += b[:, None]
    # (n, O, Ho, Wo) as a view of the product, channel-major in memory: elementwise steps after it keep that
    # layout, so δ comes back channel-major and δ_row is a view, not a copy
    return z.reshape(O, n, Ho, Wo).transpose(1, 0, 2, 3), {"cols": cols, "x": x.shape}


def _rows(delta: np.ndarray) -> np.ndarray:
    """δ as rows, one per output channel, a column per (sample, position): δ_row (O × n·Ho·Wo)."""
    return np.ascontiguousarray(delta.transpose(1, 0, 2, 3)).reshape(delta.shape[1], -1)


def grads(P, hp, x, delta, cache, G):
    W, gW, gb = P["weights"], G.get("weights"), G.get("biases")
    d = cache["d"] = _rows(delta)
    if gW is not None:
        np.matmul(d, cache["cols"].T, out=gW.reshape(W.shape[0], -1))  # ∂E/∂w: Σ over positions of δ × input
    if gb is not None:
        np.add.reduce(d, axis=1, out=gb)  # ∂E/∂b: Σ of δ over positions


def back(P, hp, delta, cache):
    """∂E/∂x: each window's δ·w added where the windows read (col2im: overlaps add up)."""
    W = P["weights"]
    O, C, kh, kw = W.shape
    n, _o, Ho, Wo = delta.shape
    (sh, sw), (ph, pw) = hp["stride"], hp["padding"]
    d = cache.pop("d", None)
    d = _rows(delta) if d is None else d
    dcols = (W.reshape(O, -1).T @ d).reshape(C, kh, kw, n, Ho, Wo)
    _n, _c, H, Wd = cache["x"]
    dx = np.zeros((n, C, H + 2 * ph, Wd + 2 * pw))
    dxT = dx.transpose(1, 0, 2, 3)  # (C, n, …): a view, written through
    for p in range(kh):
        for q in range(kw):
            dxT[:, :, p:p + sh * (Ho - 1) + 1:sh, q:q + sw * (Wo - 1) + 1:sw] += dcols[:, p, q]
    return dx[:, :, ph:ph + H, pw:pw + Wd] if (ph or pw) else dx


# ---------------------------------------------------------------- known hand mistakes (explain/diagnosis.py)
def _flip(W: np.ndarray) -> np.ndarray:
    """Each kernel rotated 180°."""
    return np.ascontiguousarray(W[:, :, ::-1, ::-1])


def _flipped(P: dict) -> dict:
    """The parameters with each kernel rotated 180°."""
    return {**P, "weights": _flip(P["weights"])}


def _flipped_forward(m, P, hp, x):
    """A convolution: the cross-correlation with each kernel rotated 180°."""
    return forward(_flipped(P), hp, x)


def _flipped_grads(m, P, hp, x, delta, cache, G):
    """∂E/∂w of the convolution: the rotated kernel's gradient rotated back."""
    grads(P, hp, x, delta, cache, G)
    if G.get("weights") is not None:
        G["weights"][...] = _flip(G["weights"])


def _flipped_back(m, P, hp, delta, cache):
    return back(_flipped(P), hp, delta, cache)


def _one_window_back(m, P, hp, delta, cache):
    """∂E/∂x with each input cell given one window's δ·w only (m.where: the first window over it in row-major
    order, or the last), the other windows' not added."""
    W = P["weights"]
    O, C, kh, kw = W.shape
    n, _o, Ho, Wo = delta.shape
    (sh, sw), (ph, pw) = hp["stride"], hp["padding"]
    cache.pop("d", None)
    dcols = np.einsum("noij,ocpq->ncpqij", delta, W)
    _n, _c, H, Wd = cache["x"]
    dx = np.zeros((n, C, H + 2 * ph, Wd + 2 * pw))
    taken = np.zeros(dx.shape[2:], dtype=bool)
    # the first window over a cell (row-major) reads it at the largest offset (p, q) that reaches it; the last at
    # the smallest: the offsets in that order, each cell written once
    offsets = [(p, q) for p in range(kh) for q in range(kw)]
    for p, q in (offsets if m.where == "last" else offsets[::-1]):
        rows, cols = slice(p, p + sh * (Ho - 1) + 1, sh), slice(q, q + sw * (Wo - 1) + 1, sw)
        free = ~taken[rows, cols]
        dx[:, :, rows, cols] = np.where(free, dcols[:, :, p, q], dx[:, :, rows, cols])
        taken[rows, cols] = True
    return dx[:, :, ph:ph + H, pw:pw + Wd] if (ph or pw) else dx


def _bias_one_position(m, P, hp, x, delta, cache, G):
    """∂E/∂b as δ at one position (m.where: the top-left, or the bottom-right), still added over samples."""
    gb = G.get("biases")
    grads(P, hp, x, delta, cache, {**G, "biases": None})
    if gb is not None:
        i = -1 if m.where == "last" else 0
        gb[...] = delta[:, :, i, i].sum(axis=0)


# (the pools make this one too: the same words)
OVERLAPS_TEXT = N_("∂E/∂x given one window's contribution ({how}) where windows overlap, instead of the sum of all "
                   "of them")
OVERLAPS_HOWS = (("first", N_("the first window over the cell")), ("last", N_("the last window over the cell")))

MISTAKES = (
    LayerMistake("kernel_flipped", N_("the kernel rotated 180°: a convolution instead of the cross-correlation the "
                                      "layer computes"),
                 forward=_flipped_forward, grads=_flipped_grads, back=_flipped_back),
    LayerMistake("overlaps_not_summed", OVERLAPS_TEXT, back=_one_window_back, hows=OVERLAPS_HOWS),
    LayerMistake("bias_gradient_one_position", N_("∂E/∂b taken at one position ({how}) instead of summed over all "
                                                  "positions"),
                 grads=_bias_one_position,
                 hows=(("first", N_("the top-left one")), ("last", N_("the bottom-right one")))),
)


def _describe(layer) -> str:
    O, _c, kh, kw = layer.weights.shape
    (sh, sw), (ph, pw) = layer.hyper["stride"], layer.hyper["padding"]
    extra = (f" s{sh}" if sh == sw else f" s{sh}×{sw}") if (sh, sw) != (1, 1) else ""
    extra += (f" p{ph}" if ph == pw else f" p{ph}×{pw}") if (ph, pw) != (0, 0) else ""
    return f"conv{O}@{kh}×{kw}{extra}"


def _torch(layer) -> str:
    O, C, kh, kw = layer.weights.shape
    return (f"nn.Conv2d({C}, {O}, ({kh}, {kw}), stride={tuple(layer.hyper['stride'])}, "
            f"padding={tuple(layer.hyper['padding'])}, bias={layer.biases is not None})")


def _read(text: str) -> dict:
    """'2x2' -> one 2×2 kernel; '3x2x2' -> three of them."""
    parts = text.split("x")
    if len(parts) not in (2, 3) or not all(p.isdigit() and 1 <= int(p) <= 8 for p in parts):
        raise ValueError(_("write the kernel's size as convKxK (one kernel) or convNxKxK (N kernels), each "
                           "number 1 to 8: `conv2x2`, `conv2x3x3`"))
    n, kh, kw = map(int, parts if len(parts) == 3 else ["1", *parts])
    return {"channels": n, "kernel": (kh, kw)}


def _out(st: dict, in_shape: tuple) -> tuple:
    _c, H, Wd = in_shape
    kh, kw = st["kernel"]
    if kh > H or kw > Wd:
        raise ValueError(_("a {kh}×{kw} kernel does not fit the {h}×{w} maps it reads").format(
            kh=kh, kw=kw, h=H, w=Wd))
    return (st["channels"], H - kh + 1, Wd - kw + 1)


def _draw(rng, st: dict, in_shape: tuple, values, decimals: int) -> dict:
    """Kernels and biases in [−1, 1] (no zero weight); stride 1, no padding. One kernel over one channel is
    written as a plain kh × kw matrix."""
    n, (kh, kw), C = st["channels"], st["kernel"], in_shape[0]
    W = values(rng, -1, 1, decimals, (n, C, kh, kw), nonzero=True)
    return {"type": "conv2d", "weights": W[0, 0] if n == C == 1 else W, "biases": values(rng, -1, 1, decimals, n)}


# ---------------------------------------------------------------- narration (read by the tables)
def _taps(hp: dict, shape_in: tuple, i: int, j: int, kh: int, kw: int):
    """(p, q, h, w) of the kernel taps of output cell (i, j) that fall inside the input (padding reads 0)."""
    (sh, sw), (ph, pw) = hp["stride"], hp["padding"]
    H, Wd = shape_in
    for p in range(kh):
        for q in range(kw):
            h, w = sh * i + p - ph, sw * j + q - pw
            if 0 <= h < H and 0 <= w < Wd:
                yield p, q, h, w


def _span(lo: int, hi: int) -> str:
    """1-based rows or columns lo..hi (0-based, inclusive) as written: 2 or 1–3."""
    return str(lo + 1) if lo == hi else f"{lo + 1}–{hi + 1}"


def _at(base, idx: tuple) -> tuple[str, str]:
    """base[idx], with the index parts given as written (ranges, letters)."""
    ix = ",".join(map(str, idx))
    return f"{base[0]}[{ix}]", f"{base[1]}[{ix.replace('–', '..')}]"


def _offset(s: int, k: int, letter: str) -> str:
    """The 1-based input row (column) read by kernel row k (0-based) at output row `letter`: i+1, 2i−1, i."""
    const = k + 1 - s
    head = f"{s}{letter}" if s > 1 else letter
    return head if const == 0 else f"{head}{'+' if const > 0 else '−'}{abs(const)}"


def narrate_forward(L, s: int, fmt, names, full: bool = False) -> Narration:
    """z[o,i,j] = Σ over the window of x·w + b[o], each product written with its numbers; then a = f(z)."""
    from bpcalc.registry import ACTIVATIONS

    W, b, x = L.weights, L.biases, L.a_prev[s]
    O, C, kh, kw = W.shape
    act = ACTIVATIONS[L.activation]
    idx, count = nr.cells(L.z.shape[1:], full)
    out = Narration(total=count * (1 if L.activation == "linear" else 2))  # rows: z, then a = f(z)
    write = nr.written(C * kh * kw, full)  # the whole layer's sums written out, or none
    padded = False
    xs, ws = names.short("in", ()), names.short("w", ())
    for o, i, j in idx:
        taps = [(c, p, q, h, w) for c in range(C) for p, q, h, w in _taps(L.hyper, x.shape[1:], i, j, kh, kw)]
        padded |= len(taps) < C * kh * kw
        ps, qs, hs, wd = [t[1] for t in taps], [t[2] for t in taps], [t[3] for t in taps], [t[4] for t in taps]
        chans = _span(0, C - 1)
        definition = ("Σ " + _at(xs, (chans, _span(min(hs), max(hs)), _span(min(wd), max(wd))))[0] + "·"
                      + _at(ws, (o + 1, chans, _span(min(ps), max(ps)), _span(min(qs), max(qs))))[0],
                      r"\sum " + _at(xs, (chans, _span(min(hs), max(hs)), _span(min(wd), max(wd))))[1] + r" \cdot "
                      + _at(ws, (o + 1, chans, _span(min(ps), max(ps)), _span(min(qs), max(qs))))[1])
        if b is not None:
            definition = nr.plus([definition, names.short("b", (o,))])
        if write:
            numbers = nr.products([(x[c, h, w], W[o, c, p, q]) for c, p, q, h, w in taps], fmt)
            if b is not None:
                numbers += f" + {fmt.p_(b[o])}" if taps else fmt.p_(b[o])
        else:
            numbers = nr.terms(len(taps) + (b is not None))
        z = names.at("z", (o, i, j))
        out.rows.append(nr.row(z, definition, numbers, L.z[s, o, i, j]))
        if L.activation != "linear":
            out.rows.append(nr.row(names.at("a", (o, i, j)), (f"{act.symbol}({z[0]})", f"{act.tex_symbol}({z[1]})"),
                                   f"{act.symbol}({fmt(L.z[s, o, i, j])})", L.a[s, o, i, j]))
    if padded:
        out.notes.append(_("the terms on the zero padding are left out: they add 0"))
    return out


def narrate_backward(L, s: int, fmt, names, full: bool = False, grad_in=None, own_delta: bool = True) -> Narration:
    """δ = ∂E/∂a · f′(z) per cell; ∂E/∂x per input cell: the sum over the windows that read it of δ·w."""
    from bpcalc.registry import ACTIVATIONS

    W = L.weights
    O, C, kh, kw = W.shape
    act = ACTIVATIONS[L.activation]
    out = Narration()
    if own_delta:
        idx, count = nr.cells(L.z.shape[1:], full)
        out.total += count
        for cell in idx:
            dEa, z = names.grad(names.at("a", cell)), names.at("z", cell)
            g = L.grad_a[(s, *cell)]
            if L.activation == "linear":
                out.rows.append(nr.row(names.at("δ", cell), dEa, fmt(g), L.delta[(s, *cell)]))
                continue
            local = (f"{act.symbol}′({z[0]})", rf"{act.tex_symbol}'({z[1]})")
            out.rows.append(nr.row(names.at("δ", cell), nr.times(dEa, local),
                                   f"{fmt.p_(g)} × {fmt.p_(L.local[(s, *cell)])}", L.delta[(s, *cell)]))
    if grad_in is None:
        return out
    x_shape = L.a_prev.shape[1:]
    Ho, Wo = L.z.shape[2:]
    reads: dict[tuple[int, int], list[tuple[int, int, int, int]]] = {}  # input (h, w) -> (i, j, p, q) reading it
    for i in range(Ho):
        for j in range(Wo):
            for p, q, h, w in _taps(L.hyper, x_shape[1:], i, j, kh, kw):
                reads.setdefault((h, w), []).append((i, j, p, q))
    idx, count = nr.cells(x_shape, full)
    out.total += count
    write = nr.written(max((len(r) for r in reads.values()), default=0) * O, full)
    overlap = False
    for c, h, w in idx:
        rd = reads.get((h, w), [])
        windows = len(rd)
        overlap |= windows > 1
        terms = [(o, i, j, p, q) for i, j, p, q in rd for o in range(O)]
        if not terms:
            definition, numbers = ("0", "0"), _("(read by no window)")
        else:
            if len(terms) <= 4:
                definition = nr.plus(nr.times(names.short("δ", (o, i, j)), names.short("w", (o, c, p, q)))
                                     for o, i, j, p, q in terms)
            else:
                definition = nr.sigma("o,i,j", nr.times(names.short("δ", ("o", "i", "j")),
                                                        names.short("w", ("o", c, "p", "q"))), len(terms))
            numbers = (nr.products([(L.delta[s, o, i, j], W[o, c, p, q]) for o, i, j, p, q in terms], fmt)
                       if write else nr.terms(len(terms)))
        if windows > 1:  # the products are in the numbers; the definition names the overlap
            words = _("{n} overlapping windows added").format(n=windows)
            definition = (f"Σ δ·w: {words}", rf"\sum \delta \cdot w\text{{: {words}}}")
        out.rows.append(nr.row(names.grad(names.at("in", (c, h, w))), definition, numbers, grad_in[s, c, h, w]))
    if overlap:
        out.notes.append(_("where windows overlap, an input cell gets the sum of every window's contribution"))
    return out


def narrate_grads(L, fmt, names, full: bool = False) -> Narration:
    """∂E/∂w[o,c,p,q] = Σ over samples and positions of δ[o,i,j] × x[c, s·i+p, s·j+q]; ∂E/∂b[o] = Σ δ[o,i,j]."""
    W, x, delta = L.weights, L.a_prev, L.delta
    O, C, kh, kw = W.shape
    n, _o, Ho, Wo = delta.shape
    (sh, sw), (ph, pw) = L.hyper["stride"], L.hyper["padding"]
    out = Narration()
    count = W.size
    if full or count <= nr.LARGE:
        idx = [tuple(int(i) for i in ix) for ix in np.ndindex(W.shape)]
    else:  # the largest gradients, as the update table shows them
        top = np.sort(np.argsort(-np.abs(L.grad_weights).reshape(-1), kind="stable")[:nr.TOP])
        idx = [tuple(int(i) for i in np.unravel_index(m, W.shape)) for m in top]
    out.total = count + (0 if L.biases is None else O)
    write = nr.written(n * Ho * Wo, full, 2 * nr.TERMS)
    ds = names.short("δ", ())
    xs = names.short("in", ())
    H, Wd = x.shape[2:]
    for o, c, p, q in idx:
        rows = [(i, sh * i + p - ph) for i in range(Ho) if 0 <= sh * i + p - ph < H]  # positions off the padding
        cols = [(j, sw * j + q - pw) for j in range(Wo) if 0 <= sw * j + q - pw < Wd]
        terms = [(m, i, j, h, w) for m in range(n) for i, h in rows for j, w in cols] if write else \
            range(n * len(rows) * len(cols))
        xi = _at(xs, (c + 1, _offset(sh, p - ph, "i"), _offset(sw, q - pw, "j")))
        d_o = _at(ds, (o + 1, "i", "j"))
        definition = nr.times((f"Σ_i,j {d_o[0]}", rf"\sum_{{i,j}} {d_o[1]}"), xi)
        if write:
            numbers = nr.products([(delta[m, o, i, j], x[m, c, h, w]) for m, i, j, h, w in terms], fmt) or "0"
        else:
            numbers = nr.terms(len(terms))
        out.rows.append(nr.row(names.grad(names.at("w", (o, c, p, q))), definition, numbers,
                               L.grad_weights[o, c, p, q]))
    if L.biases is not None:
        for o in range(O) if full or count + O <= nr.LARGE else range(min(O, nr.TOP)):
            values = delta[:, o].reshape(-1)
            d_o = _at(ds, (o + 1, "i", "j"))
            definition = (f"Σ_i,j {d_o[0]}", rf"\sum_{{i,j}} {d_o[1]}")
            numbers = nr.total(values, fmt) if write else nr.terms(values.size)
            out.rows.append(nr.row(names.grad(names.at("b", (o,))), definition, numbers, L.grad_biases[o]))
    if n > 1:
        out.notes.append(_("each sum runs over the positions of every sample"))
    if ph or pw:
        out.notes.append(_("the terms on the zero padding are left out: they add 0"))
    return out




# ---------------------------------------------------------------- the matrix view (im2col), for `--view matrix`
def matrices(P, hp, x, grad_a, delta, record) -> dict:
    """The step in im2col form, every matrix the matrix view writes: X_col (C·kh·kw × n·Ho·Wo: one column per
    output position, sample by sample, rows in the kernel's order c', p, q), W_row (O × C·kh·kw), Z_row =
    W_row·X_col + b, δ_row (O × n·Ho·Wo), ∂E/∂W_row = δ_row·X_colᵀ, ∂E/∂X_col = W_rowᵀ·δ_row, then col2im: ∂E/∂x
    (the columns' entries added where the windows overlap) and `overlaps`, how many windows read each input cell."""
    W, b = P["weights"], P.get("biases")
    O, C, kh, kw = W.shape
    X_col = forward({"weights": W}, hp, x)[1]["cols"]  # (C·kh·kw, n·Ho·Wo)
    W_row = W.reshape(O, -1)
    d_row = _rows(delta)
    Z_row = W_row @ X_col + (0.0 if b is None else b[:, None])
    dX_col = W_row.T @ d_row
    dx = back(P, hp, delta, {"x": x.shape})
    ones = back({"weights": np.ones((1, 1, kh, kw))}, hp, np.ones((1, 1) + delta.shape[2:]),
                {"x": (1, 1) + x.shape[2:]})
    return {"X_col": X_col, "W_row": W_row, "Z_row": Z_row, "delta_row": d_row, "grad_W_row": d_row @ X_col.T,
            "grad_b": d_row.sum(axis=1), "grad_X_col": dX_col, "grad_x": dx, "overlaps": ones[0, 0]}


def _derivation():
    """explain's derivation of a kernel weight (or bias), summed over the positions: derive/conv2d.py."""
    from bpcalc.registry.layers.derive import conv2d

    return conv2d.FACE


CONV2D = LayerKind(
    name="conv2d", rank=1,
    schema={"channels": keys.count("conv2d, instead of `weights`: this many kernels (output channels), with "
                                   "`kernel_size`, initialised by `init` from `seed`."),
            "kernel_size": keys.pair("conv2d, with `channels`: the kernels' size, n or [rows, columns].")},
    required={"oneOf": [{"required": ["weights"]}, {"required": ["channels", "kernel_size"]}]},
    help=N_("a 2-D convolution (cross-correlation, as PyTorch): kernels slide over the input "
                           "channels; stride, zero padding; then the activation"),
    params=("weights", "biases"), keys=KEYS, activation=True, parse=parse, out_shape=out_shape,
    forward=forward, grads=grads, back=back, torch=_torch,
    json=("activation", "weights", "biases", "z", "a", "grad_a", "delta", "grad_weights", "grad_biases",
          "new_weights", "new_biases", "optimizer_state"),
    describe=_describe, mistakes=MISTAKES,
    new=Generator(word="conv", syntax="convKxK, convNxKxK", read=_read, out_shape=_out, draw=_draw),
    narrate_forward=narrate_forward, narrate_backward=narrate_backward, narrate_grads=narrate_grads,
    matrices=matrices, kernels=True,
    explain=Explains(group="conv", load=_derivation, what=N_("kernel weight or bias")),
)
