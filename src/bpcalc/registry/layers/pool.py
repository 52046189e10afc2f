"""maxpool and avgpool: each output cell the maximum (the mean) of its window of the input, per channel. Max-pool
sends the gradient to its window's maximum (the first in row-major order at a tie, as PyTorch); avg-pool spreads
it evenly, 1/(window size) to each cell (padding counts in the window, as PyTorch's count_include_pad)."""

from __future__ import annotations

import numpy as np

from bpcalc.i18n import N_, _
from bpcalc.registry.kinds import LayerKind, Narration
from bpcalc.registry.layers import narrate as nr

KEYS = frozenset({"size", "stride", "padding"})


def parse(rd, raw: dict, path: tuple, in_shape: tuple):
    _c, H, Wd = in_shape
    if "size" not in raw:
        raise rd.error(path, _("a pooling layer needs `size: N` (or [rows, columns]), the window it pools"))
    size = rd.pair(raw, "size", path, None)
    stride = rd.pair(raw, "stride", path, size)
    padding = rd.pair(raw, "padding", path, (0, 0), minimum=0)
    if padding[0] > size[0] // 2 or padding[1] > size[1] // 2:
        raise rd.error(path + ("padding",), _("padding may be at most half the window ({h}, {w}), as in "
                                              "PyTorch").format(h=size[0] // 2, w=size[1] // 2))
    if H + 2 * padding[0] < size[0] or Wd + 2 * padding[1] < size[1]:
        raise rd.error(path + ("size",), _("a {kh}×{kw} window does not fit the {h}×{w} input").format(
            kh=size[0], kw=size[1], h=H, w=Wd), hint=_("use a smaller `size`"))
    return rd.layer(None, None, "linear", hyper={"size": size, "stride": stride, "padding": padding})


def out_shape(layer, in_shape: tuple) -> tuple:
    (kh, kw), (sh, sw), (ph, pw) = layer.hyper["size"], layer.hyper["stride"], layer.hyper["padding"]
    return (in_shape[0], (in_shape[1] + 2 * ph - kh) // sh + 1, (in_shape[2] + 2 * pw - kw) // sw + 1)


def _windows(x: np.ndarray, hp: dict, fill: float) -> np.ndarray:
    """(n, C, Ho, Wo, kh·kw): each output cell's window, cells in row-major order."""
    (kh, kw), (sh, sw), (ph, pw) = hp["size"], hp["stride"], hp["padding"]
    if ph or pw:
        x = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=fill)
    win = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]
    return win.reshape(*win.shape[:4], kh * kw)


def _scatter(grad: np.ndarray, hp: dict, shape: tuple, weight) -> np.ndarray:
    """∂E/∂x: each output cell's gradient times `weight(p, q)` added to the input cell (p, q) of its window."""
    (kh, kw), (sh, sw), (ph, pw) = hp["size"], hp["stride"], hp["padding"]
    n, C, H, Wd = shape
    Ho, Wo = grad.shape[2:]
    dx = np.zeros((n, C, H + 2 * ph, Wd + 2 * pw))
    for p in range(kh):
        for q in range(kw):
            dx[:, :, p:p + sh * (Ho - 1) + 1:sh, q:q + sw * (Wo - 1) + 1:sw] += weight(p, q, grad)
    return dx[:, :, ph:ph + H, pw:pw + Wd] if (ph or pw) else dx


def max_forward(W, b, hp, x):
    win = _windows(x, hp, -np.inf)
    arg = win.argmax(axis=-1)  # the first maximum in row-major order, as PyTorch
    z = np.take_along_axis(win, arg[..., None], axis=-1)[..., 0]
    return z, {"argmax": arg, "ties": (win == z[..., None]).sum(axis=-1) > 1, "x": x.shape}


def max_back(W, hp, delta, cache):
    kw = hp["size"][1]
    arg = cache["argmax"]
    return _scatter(delta, hp, cache["x"], lambda p, q, g: g * (arg == p * kw + q))


def avg_forward(W, b, hp, x):
    return _windows(x, hp, 0.0).mean(axis=-1), {"x": x.shape}


def avg_back(W, hp, delta, cache):
    kh, kw = hp["size"]
    return _scatter(delta / (kh * kw), hp, cache["x"], lambda p, q, g: g)


def _no_grads(W, b, hp, a_prev, delta, cache, gW, gb):
    """(no parameters)"""


def _describe(name: str):
    def describe(layer) -> str:
        (kh, kw), (sh, sw) = layer.hyper["size"], layer.hyper["stride"]
        size = f"{kh}" if kh == kw else f"{kh}×{kw}"
        return f"{name}{size}" + ("" if (sh, sw) == (kh, kw) else f" s{sh}" if sh == sw else f" s{sh}×{sw}")
    return describe


def _torch(module: str):
    def torch(layer) -> str:
        hp = layer.hyper
        return f"nn.{module}({tuple(hp['size'])}, stride={tuple(hp['stride'])}, padding={tuple(hp['padding'])})"
    return torch


def _record_max(cache) -> dict:
    return {"argmax": cache["argmax"], "ties": cache["ties"]}




# ---------------------------------------------------------------- narration (read by the tables)
def _window(hp: dict, shape_in: tuple, i: int, j: int) -> list[tuple[int, int] | None]:
    """The input cells (h, w) of output cell (i, j)'s window, row-major; None where the window is on padding."""
    (kh, kw), (sh, sw), (ph, pw) = hp["size"], hp["stride"], hp["padding"]
    H, Wd = shape_in
    cells = []
    for p in range(kh):
        for q in range(kw):
            h, w = sh * i + p - ph, sw * j + q - pw
            cells.append((h, w) if 0 <= h < H and 0 <= w < Wd else None)
    return cells


def _span(names, c, win) -> tuple[str, str]:
    """x[c,h0,w0]…x[c,h1,w1]: a window by its first and last cells."""
    inside = [hw for hw in win if hw is not None]
    first, last = names.short("in", (c, *inside[0])), names.short("in", (c, *inside[-1]))
    return f"{first[0]}…{last[0]}", rf"{first[1]} \ldots {last[1]}"


def _narrate_forward(kind: str):
    def narrate_forward(L, s: int, fmt, names, full: bool = False) -> Narration:
        x = L.a_prev[s]
        kh, kw = L.hyper["size"]
        idx, count = nr.cells(L.a.shape[1:], full)
        out = Narration(total=count)
        ties: list[str] = []
        for c, i, j in idx:
            win = _window(L.hyper, x.shape[1:], i, j)
            span = _span(names, c, win)
            if kind == "max":
                values = ", ".join(fmt(x[c, h, w]) if hw else "−∞" for hw in win for h, w in [hw or (0, 0)])
                p, q = divmod(int(L.record["argmax"][s, c, i, j]), kw)
                h, w = win[p * kw + q] or (-1, -1)
                winner = names.short("in", (c, h, w))[0]
                tie = bool(L.record["ties"][s, c, i, j])
                numbers = f"max({values}) → {winner}" + (" " + _("(tie: the first)") if tie else "")
                definition = (f"max({span[0]})", rf"\max({span[1]})")
                if tie:
                    ties.append(names.at("a", (c, i, j))[0])
            else:
                values = " + ".join(fmt.p_(x[c, h, w]) if hw else "0" for hw in win for h, w in [hw or (0, 0)])
                numbers = f"(1/{kh * kw})×({values})"
                definition = (f"(1/{kh * kw}) Σ {span[0]}", rf"\frac{{1}}{{{kh * kw}}} \sum {span[1]}")
            out.rows.append(nr.row(names.at("a", (c, i, j)), definition, numbers, L.a[s, c, i, j]))
        if ties:
            out.notes.append(_("a tie in the window of {cells}: the gradient goes to the first maximum in row-major "
                               "order, as PyTorch does").format(cells=", ".join(ties)))
        return out
    return narrate_forward


def _narrate_backward(kind: str):
    def narrate_backward(L, s: int, fmt, names, full: bool = False, grad_in=None, own_delta: bool = True):
        out = Narration()
        if grad_in is None:
            return out
        kh, kw = L.hyper["size"]
        x_shape = L.a_prev.shape[1:]
        C, Ho, Wo = L.a.shape[1:]
        gets: dict[tuple[int, int, int], list[tuple[int, int]]] = {}  # input cell -> the windows (i, j) it feeds
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    win = _window(L.hyper, x_shape[1:], i, j)
                    if kind == "max":
                        win = [win[int(L.record["argmax"][s, c, i, j])]]
                    for hw in win:
                        if hw is not None:
                            gets.setdefault((c, *hw), []).append((i, j))
        if kind == "max":  # the cells that got a gradient; the others get 0
            idx = sorted(gets)
            out.total = len(idx)
            idx = idx if full or len(idx) <= nr.LARGE else idx[:nr.TOP]
        else:
            idx, out.total = nr.cells(x_shape, full)
        overlap = False
        for cell in idx:
            c = cell[0]
            src = gets.get(cell, [])
            up = [names.grad(names.at("a", (c, i, j))) for i, j in src]
            g = [L.grad_a[s, c, i, j] for i, j in src]
            if not src:
                words = _("in no window")
                definition, numbers = (f"0 ({words})", rf"0 \quad \text{{({words})}}"), "0"
            elif kind == "max":
                definition = nr.plus(up)
                numbers = nr.total(g, fmt)
                tied = any(L.record["ties"][s, c, i, j] for i, j in src)
                words = (_("the first maximum of its window, a tie") if tied else _("the maximum of its window")) \
                    if len(src) == 1 else _("the maximum of {n} windows, added").format(n=len(src))
                definition = (f"{definition[0]}  ({words})", rf"{definition[1]} \quad \text{{({words})}}")
            else:
                k = kh * kw
                definition = nr.plus((f"{u[0]}/{k}", rf"{u[1]}/{k}") for u in up)
                numbers = " + ".join(f"{fmt.p_(v)}/{k}" for v in g)
                if len(src) > 1:  # the terms are in the numbers; the definition names the overlap
                    overlap = True
                    words = _("{n} overlapping windows added").format(n=len(src))
                    definition = (f"Σ ∂E/∂a/{k}: {words}", rf"\sum \partial E/\partial a/{k}\text{{: {words}}}")
            out.rows.append(nr.row(names.grad(names.at("in", cell)), definition, numbers, grad_in[(s, *cell)]))
        if kind == "max":
            rest = int(np.prod(x_shape)) - len(gets)
            out.notes.append(_("max pooling sends each window's gradient to its maximum alone; the other {k} "
                               "cells of the input get 0").format(k=rest))
        else:
            out.notes.append(_("average pooling gives each cell of a window 1/{k} of the window's gradient").format(
                k=kh * kw))
        if overlap:
            out.notes.append(_("where windows overlap, an input cell gets the sum of every window's contribution"))
        return out
    return narrate_backward


MAXPOOL = LayerKind(
    name="maxpool", help=N_("max pooling: each cell the maximum of its window; the gradient goes to that maximum"),
    params=(), keys=KEYS, activation=False, parse=parse, out_shape=out_shape,
    forward=max_forward, grads=_no_grads, back=max_back, torch=_torch("MaxPool2d"),
    json=("a", "grad_a"), describe=_describe("maxpool"), record=_record_max,
    narrate_forward=_narrate_forward("max"), narrate_backward=_narrate_backward("max"),
)
AVGPOOL = LayerKind(
    name="avgpool", help=N_("average pooling: each cell the mean of its window; the gradient is shared evenly"),
    params=(), keys=KEYS, activation=False, parse=parse, out_shape=out_shape,
    forward=avg_forward, grads=_no_grads, back=avg_back, torch=_torch("AvgPool2d"),
    json=("a", "grad_a"), describe=_describe("avgpool"),
    narrate_forward=_narrate_forward("avg"), narrate_backward=_narrate_backward("avg"),
)
