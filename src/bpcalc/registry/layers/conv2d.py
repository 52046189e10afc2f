"""conv2d: z[c,i,j] = Σ_{c',p,q} x[c', s·i+p, s·j+q] · w[c,c',p,q] + b[c] (cross-correlation, as PyTorch computes
it), over zero-padded input; then a = f(z). Vectorised as im2col: one matrix product per layer and direction."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from bpcalc.i18n import N_, _
from bpcalc.registry.kinds import Generator, LayerKind, LayerMistake

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


def forward(W, b, hp, x):
    O, C, kh, kw = W.shape
    win = windows(x, kh, kw, hp["stride"], hp["padding"])
    n, _c, Ho, Wo = win.shape[:4]
    cols = win.transpose(0, 2, 3, 1, 4, 5).reshape(n * Ho * Wo, C * kh * kw)  # im2col: one patch per row
    z = cols @ W.reshape(O, -1).T
    if b is not None:
        z += b
    return np.ascontiguousarray(z.reshape(n, Ho, Wo, O).transpose(0, 3, 1, 2)), {"cols": cols, "x": x.shape}


def _rows(delta: np.ndarray) -> np.ndarray:
    """δ as rows, one per (sample, position): (n·Ho·Wo, O)."""
    return delta.transpose(0, 2, 3, 1).reshape(-1, delta.shape[1])


def grads(W, b, hp, x, delta, cache, gW, gb):
    d = cache["d"] = _rows(delta)
    if gW is not None:
        np.matmul(d.T, cache["cols"], out=gW.reshape(W.shape[0], -1))  # ∂E/∂w: Σ over positions of δ × input
    if gb is not None:
        np.add.reduce(delta, axis=(0, 2, 3), out=gb)  # ∂E/∂b: Σ of δ over positions


def back(W, hp, delta, cache):
    """∂E/∂x: each window's δ·w added where the windows read (col2im: overlaps add up)."""
    O, C, kh, kw = W.shape
    n, _o, Ho, Wo = delta.shape
    (sh, sw), (ph, pw) = hp["stride"], hp["padding"]
    d = cache.pop("d", None)
    d = _rows(delta) if d is None else d
    dcols = (d @ W.reshape(O, -1)).reshape(n, Ho, Wo, C, kh, kw).transpose(0, 3, 4, 5, 1, 2)
    _n, _c, H, Wd = cache["x"]
    dx = np.zeros((n, C, H + 2 * ph, Wd + 2 * pw))
    for p in range(kh):
        for q in range(kw):
            dx[:, :, p:p + sh * (Ho - 1) + 1:sh, q:q + sw * (Wo - 1) + 1:sw] += dcols[:, :, p, q]
    return dx[:, :, ph:ph + H, pw:pw + Wd] if (ph or pw) else dx


# ---------------------------------------------------------------- known hand mistakes (explain/diagnosis.py)
def _flip(W: np.ndarray) -> np.ndarray:
    """Each kernel rotated 180°."""
    return np.ascontiguousarray(W[:, :, ::-1, ::-1])


def _flipped_forward(m, W, b, hp, x):
    """A convolution: the cross-correlation with each kernel rotated 180°."""
    return forward(_flip(W), b, hp, x)


def _flipped_grads(m, W, b, hp, x, delta, cache, gW, gb):
    """∂E/∂w of the convolution: the rotated kernel's gradient rotated back."""
    grads(W, b, hp, x, delta, cache, gW, gb)
    if gW is not None:
        gW[...] = _flip(gW)


def _flipped_back(m, W, hp, delta, cache):
    return back(_flip(W), hp, delta, cache)


def _one_window_back(m, W, hp, delta, cache):
    """∂E/∂x with each input cell given one window's δ·w only (m.where: the first window over it in row-major
    order, or the last), the other windows' not added."""
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


def _bias_one_position(m, W, b, hp, x, delta, cache, gW, gb):
    """∂E/∂b as δ at one position (m.where: the top-left, or the bottom-right), still added over samples."""
    grads(W, b, hp, x, delta, cache, gW, None)
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


CONV2D = LayerKind(
    name="conv2d", help=N_("a 2-D convolution (cross-correlation, as PyTorch): kernels slide over the input "
                           "channels; stride, zero padding; then the activation"),
    params=("weights", "biases"), keys=KEYS, activation=True, parse=parse, out_shape=out_shape,
    forward=forward, grads=grads, back=back, torch=_torch,
    json=("activation", "weights", "biases", "z", "a", "grad_a", "delta", "grad_weights", "grad_biases",
          "new_weights", "new_biases", "optimizer_state"),
    describe=_describe, mistakes=MISTAKES,
    new=Generator(word="conv", syntax="convKxK, convNxKxK", read=_read, out_shape=_out, draw=_draw),
)


# ---------------------------------------------------------------- the matrix view (im2col), for `--view matrix`
def matrices(W, b, hp, x, grad_a, delta, record) -> dict:
    """The step in im2col form, every matrix the matrix view writes: X_col (C·kh·kw × n·Ho·Wo: one column per
    output position, sample by sample, rows in the kernel's order c', p, q), W_row (O × C·kh·kw), Z_row =
    W_row·X_col + b, δ_row (O × n·Ho·Wo), ∂E/∂W_row = δ_row·X_colᵀ, ∂E/∂X_col = W_rowᵀ·δ_row, then col2im: ∂E/∂x
    (the columns' entries added where the windows overlap) and `overlaps`, how many windows read each input cell."""
    O, C, kh, kw = W.shape
    cols = forward(W, None, hp, x)[1]["cols"]  # (n·Ho·Wo, C·kh·kw)
    W_row = W.reshape(O, -1)
    d_row = _rows(delta).T
    X_col = cols.T
    Z_row = W_row @ X_col + (0.0 if b is None else b[:, None])
    dX_col = W_row.T @ d_row
    dx = back(W, hp, delta, {"x": x.shape})
    ones = back(np.ones((1, 1, kh, kw)), hp, np.ones((1, 1) + delta.shape[2:]), {"x": (1, 1) + x.shape[2:]})
    return {"X_col": X_col, "W_row": W_row, "Z_row": Z_row, "delta_row": d_row, "grad_W_row": d_row @ X_col.T,
            "grad_b": d_row.sum(axis=1), "grad_X_col": dX_col, "grad_x": dx, "overlaps": ones[0, 0]}


CONV2D = replace(CONV2D, matrices=matrices)
