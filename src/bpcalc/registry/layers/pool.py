"""maxpool and avgpool: each output cell the maximum (the mean) of its window of the input, per channel. Max-pool
sends the gradient to its window's maximum (the first in row-major order at a tie, as PyTorch); avg-pool spreads
it evenly, 1/(window size) to each cell (padding counts in the window, as PyTorch's count_include_pad)."""

from __future__ import annotations

import numpy as np

from bpcalc.i18n import N_, _
from bpcalc.registry.kinds import Generator, LayerKind, LayerMistake, Narration
from bpcalc.registry.layers import keys
from bpcalc.registry.layers import narrate as nr
from bpcalc.registry.layers.conv2d import OVERLAPS_HOWS, OVERLAPS_TEXT
from bpcalc.registry.layers.conv2d import _at as at
from bpcalc.registry.layers.conv2d import _span as span

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


def _scatter(grad: np.ndarray, hp: dict, shape: tuple, weight, only: str | None = None) -> np.ndarray:
    """∂E/∂x: each output cell's gradient times `weight(p, q)` added to the input cell (p, q) of its window.
    `only` (the mistake overlaps_not_summed): each input cell given one window's share, the first window over it
    in row-major order or the last, instead of the sum."""
    (kh, kw), (sh, sw), (ph, pw) = hp["size"], hp["stride"], hp["padding"]
    n, C, H, Wd = shape
    Ho, Wo = grad.shape[2:]
    dx = np.zeros((n, C, H + 2 * ph, Wd + 2 * pw))
    if only is None:
        for p in range(kh):
            for q in range(kw):
                dx[:, :, p:p + sh * (Ho - 1) + 1:sh, q:q + sw * (Wo - 1) + 1:sw] += weight(p, q, grad)
    else:  # the first window over a cell reads it at the largest offset that reaches it, the last at the smallest
        taken = np.zeros(dx.shape[2:], dtype=bool)
        offsets = [(p, q) for p in range(kh) for q in range(kw)]
        for p, q in (offsets if only == "last" else offsets[::-1]):
            rows, cols = slice(p, p + sh * (Ho - 1) + 1, sh), slice(q, q + sw * (Wo - 1) + 1, sw)
            dx[:, :, rows, cols] = np.where(taken[rows, cols], dx[:, :, rows, cols], weight(p, q, grad))
            taken[rows, cols] = True
    return dx[:, :, ph:ph + H, pw:pw + Wd] if (ph or pw) else dx


def _slices(x: np.ndarray, hp: dict, fill: float):
    """The padded input and, for each window cell (p, q) in row-major order, the strided view of the input cells
    that cell reads across all windows: (p, q, view (n, C, Ho, Wo)). No copies."""
    (kh, kw), (sh, sw), (ph, pw) = hp["size"], hp["stride"], hp["padding"]
    if ph or pw:
        x = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=fill)
    Ho, Wo = (x.shape[2] - kh) // sh + 1, (x.shape[3] - kw) // sw + 1
    return [(p, q, x[:, :, p:p + sh * (Ho - 1) + 1:sh, q:q + sw * (Wo - 1) + 1:sw])
            for p in range(kh) for q in range(kw)]


def max_forward(P, hp, x):
    cells = _slices(x, hp, -np.inf)
    z = cells[0][2].copy()
    for _p, _q, v in cells[1:]:
        np.maximum(z, v, out=z)
    return z, {"x": x.shape, "input": x, "z": z, "hp": hp}


def _argmax(cache) -> np.ndarray:
    """Each window's first maximum in row-major order (PyTorch's choice at a tie), as the index p·kw + q; and
    `ties`, where more than one cell holds the maximum. Computed when first asked (training never asks)."""
    if "argmax" not in cache:
        z = cache["z"]
        arg = np.full(z.shape, -1, dtype=np.int64)
        count = np.zeros(z.shape, dtype=np.int64)
        kw = cache["hp"]["size"][1]
        for p, q, v in _slices(cache["input"], cache["hp"], -np.inf):
            hit = v == z
            count += hit
            arg[hit & (arg < 0)] = p * kw + q
        cache["argmax"], cache["ties"] = arg, count > 1
    return cache["argmax"]


def max_back(P, hp, delta, cache, only: str | None = None):
    if only is not None or "argmax" in cache:
        kw = hp["size"][1]
        arg = _argmax(cache)
        return _scatter(delta, hp, cache["x"], lambda p, q, g: g * (arg == p * kw + q), only)
    (_kh, kw), (sh, sw), (ph, pw) = hp["size"], hp["stride"], hp["padding"]
    n, C, H, Wd = cache["x"]
    Ho, Wo = delta.shape[2:]
    # (unpadded: laid out in memory as the input is, so a channel-major conv output gets a channel-major gradient)
    dx = np.zeros((n, C, H + 2 * ph, Wd + 2 * pw)) if (ph or pw) else np.zeros_like(cache["input"])
    z = cache["z"]
    free = np.ones(z.shape, dtype=bool)  # windows whose maximum has not been met yet (row-major order)
    for p, q, v in _slices(cache["input"], hp, -np.inf):
        hit = (v == z) & free
        free &= ~hit
        dx[:, :, p:p + sh * (Ho - 1) + 1:sh, q:q + sw * (Wo - 1) + 1:sw] += delta * hit
    return dx[:, :, ph:ph + H, pw:pw + Wd] if (ph or pw) else dx


def avg_forward(P, hp, x):
    kh, kw = hp["size"]
    cells = _slices(x, hp, 0.0)
    z = cells[0][2].copy()
    for _p, _q, v in cells[1:]:
        z += v
    z /= kh * kw
    return z, {"x": x.shape}


def avg_back(P, hp, delta, cache, only: str | None = None):
    kh, kw = hp["size"]
    return _scatter(delta / (kh * kw), hp, cache["x"], lambda p, q, g: g, only)


def _no_grads(P, hp, a_prev, delta, cache, G):
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
    _argmax(cache)
    return {"argmax": cache["argmax"], "ties": cache["ties"]}


def _spread_back(m, P, hp, delta, cache):
    """Max-pool's gradient spread evenly over each window (as avg-pool's) instead of sent to the maximum."""
    return avg_back(P, hp, delta, cache)


def _one_window(back):
    """overlaps_not_summed: `back` with each input cell given one window's share (Mistake.where: first or last)."""
    def wrong(m, P, hp, delta, cache):
        return back(P, hp, delta, cache, only="last" if m.where == "last" else "first")
    return wrong


MAX_MISTAKES = (
    LayerMistake("overlaps_not_summed", OVERLAPS_TEXT, back=_one_window(max_back), hows=OVERLAPS_HOWS),
    LayerMistake("pool_gradient_spread", N_("max-pool's gradient spread evenly over the window (δ/(window size) to "
                                            "each cell) instead of sent to the window's maximum"), back=_spread_back),
)
AVG_MISTAKES = (LayerMistake("overlaps_not_summed", OVERLAPS_TEXT, back=_one_window(avg_back), hows=OVERLAPS_HOWS),)


def _read(text: str) -> dict:
    """'2' -> a 2×2 window, stride 2."""
    if not text.isdigit() or not 1 <= int(text) <= 8:
        raise ValueError(_("give the window's size after the word, 1 to 8: `maxpool2` pools 2×2 windows"))
    return {"size": int(text)}


def _out(st: dict, in_shape: tuple) -> tuple:
    C, H, Wd = in_shape
    S = st["size"]
    if S > H or S > Wd:
        raise ValueError(_("a {s}×{s} window does not fit the {h}×{w} maps it pools").format(s=S, h=H, w=Wd))
    return (C, H // S, Wd // S)


def _max_faults(layer, sheet: int) -> list[str]:
    """A tie in a window, or a maximum that rounding to the sheet's decimals would tie with the runner-up."""
    win = np.sort(_windows(layer.a_prev, layer.hyper, -np.inf), axis=-1)
    if win.shape[-1] > 1 and np.any(win[..., -1] - win[..., -2] < 10.0 ** -sheet):
        return ["max-pool tie"]
    return []


def _generator(word: str) -> Generator:
    return Generator(word=word, syntax=f"{word}S", read=_read, out_shape=_out,
                     draw=lambda rng, st, in_shape, values, decimals: {"type": word, "size": st["size"]},
                     faults=_max_faults if word == "maxpool" else lambda layer, sheet: [])


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
    """x[c,h0–h1,w0–w1]: a window by its rows and columns (1-based, as the tables write cells)."""
    inside = [hw for hw in win if hw is not None]
    rows = span(min(h for h, _w in inside), max(h for h, _w in inside))
    cols = span(min(w for _h, w in inside), max(w for _h, w in inside))
    return at(names.short("in", ()), (c + 1, rows, cols))


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




# ---------------------------------------------------------------- the matrix view, for `--view matrix`
def _max_matrices(P, hp, x, grad_a, delta, record) -> dict:
    """Max-pool in the matrix view: `route` (1 where an input cell is its window's maximum, the cell the gradient
    goes to; a count where windows overlap) and ∂E/∂x."""
    cache = {"argmax": record["argmax"], "x": x.shape}
    return {"route": max_back(P, hp, np.ones_like(grad_a), cache), "grad_x": max_back(P, hp, grad_a, cache),
            "ties": record["ties"]}


def _avg_matrices(P, hp, x, grad_a, delta, record) -> dict:
    """Avg-pool in the matrix view: ∂E/∂x, each window's gradient shared 1/(kh·kw) to each of its cells."""
    return {"grad_x": avg_back(P, hp, grad_a, {"x": x.shape})}




SCHEMA = {"size": keys.pair("The pooling window, n or [rows, columns].")}

MAXPOOL = LayerKind(
    name="maxpool", rank=2, schema=SCHEMA, required={"required": ["size"]},
    help=N_("max pooling: each cell the maximum of its window; the gradient goes to that maximum"),
    params=(), keys=KEYS, activation=False, parse=parse, out_shape=out_shape,
    forward=max_forward, grads=_no_grads, back=max_back, torch=_torch("MaxPool2d"),
    json=("a", "grad_a"), describe=_describe("maxpool"), record=_record_max, mistakes=MAX_MISTAKES,
    new=_generator("maxpool"),
    narrate_forward=_narrate_forward("max"), narrate_backward=_narrate_backward("max"),
    matrices=_max_matrices, window="max",
)


AVGPOOL = LayerKind(
    name="avgpool", rank=3, schema=SCHEMA, required={"required": ["size"]},
    help=N_("average pooling: each cell the mean of its window; the gradient is shared evenly"),
    params=(), keys=KEYS, activation=False, parse=parse, out_shape=out_shape,
    forward=avg_forward, grads=_no_grads, back=avg_back, torch=_torch("AvgPool2d"),
    json=("a", "grad_a"), describe=_describe("avgpool"), mistakes=AVG_MISTAKES,
    new=_generator("avgpool"),
    narrate_forward=_narrate_forward("avg"), narrate_backward=_narrate_backward("avg"),
    matrices=_avg_matrices, window="mean",
)
