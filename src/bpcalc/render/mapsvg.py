"""The figure of one step of a network with feature maps (conv2d, pools, flatten): each layer a column, left to
right; a map or a kernel is a grid of cells with its values, its gradient ∂E/∂· in red below it; vectors (flatten,
dense) are one column of cells. Every number is read from the trace (one sample's values)."""

from __future__ import annotations

import numpy as np

from bpcalc.engine.trace import NetworkTrace
from bpcalc.explain.numfmt import Fmt
from bpcalc.i18n import _
from bpcalc.registry import ACTIVATIONS, LAYERS
from bpcalc.render import svg as S

FONT = 10
PAD = 16  # around the figure and between blocks
GAP = 56  # between columns (the arrow runs here)
CELL_H = 18
TITLE = 15


class _Block:
    """A titled grid of numbers (rows × columns), drawn at (x, y)."""

    def __init__(self, title: str, values: np.ndarray, f: Fmt, colour: str = S.VALUE, mark: np.ndarray | None = None):
        self.title, self.colour = title, colour
        v = np.asarray(values, dtype=float)
        self.cells = [[f(x) for x in row] for row in (v if v.ndim == 2 else v.reshape(-1, 1))]
        self.mark = mark  # cells drawn on a tinted ground (max-pool winners)
        self.cw = max(30.0, max(S.text_width(t, FONT) for row in self.cells for t in row) + 8)
        self.w = max(self.cw * len(self.cells[0]), S.text_width(title, FONT) + 4)
        self.h = TITLE + CELL_H * len(self.cells)

    def draw(self, x: float, y: float) -> list[str]:
        out = [S.text(x, y + 11, self.title, FONT, fill=S.MUTED)]
        y0 = y + TITLE
        for i, row in enumerate(self.cells):
            for j, t in enumerate(row):
                cx, cy = x + j * self.cw, y0 + i * CELL_H
                won = self.mark is not None and self.mark.reshape(len(self.cells), -1)[i, j]
                ground = "#fff3c4" if won else "#ffffff"
                out.append(f'<rect x="{cx:.1f}" y="{cy:.1f}" width="{self.cw:.1f}" height="{CELL_H}" fill="{ground}" '
                           f'stroke="{S.LINE}" stroke-width="0.8"/>')
                out.append(S.text(cx + self.cw / 2, cy + 13, t, FONT, anchor="middle", fill=self.colour,
                                  family=S.MONO, scripts=False))
        return out


def _maps(name: str, values: np.ndarray, grads: np.ndarray | None, f: Fmt, marks=None) -> list[_Block]:
    """One grid per channel (a vector: one column), each followed by its gradient."""
    v = np.asarray(values)
    chans = [v[c] for c in range(v.shape[0])] if v.ndim == 3 else [v]
    out = []
    for c, m in enumerate(chans):
        suffix = f" [{c + 1}]" if len(chans) > 1 else ""
        out.append(_Block(name + suffix, m, f, mark=None if marks is None else marks[c]))
        if grads is not None:
            g = np.asarray(grads)
            out.append(_Block("∂E/∂" + name + suffix, g[c] if v.ndim == 3 else g, f, S.GRAD))
    return out


def _winners(layer, s: int, in_shape: tuple) -> np.ndarray | None:
    """Max-pool: the input cells that won their window (where the gradient goes), as a mask over the input maps."""
    rec = layer.record
    if "argmax" not in rec:
        return None
    (_kh, kw), (sh, sw), (ph, pw) = layer.hyper["size"], layer.hyper["stride"], layer.hyper["padding"]
    C, H, W = in_shape
    mask = np.zeros((C, H, W), dtype=bool)
    arg = rec["argmax"][s]
    for c, i, j in np.ndindex(arg.shape):
        p, q = divmod(int(arg[c, i, j]), kw)
        r, k = i * sh + p - ph, j * sw + q - pw
        if 0 <= r < H and 0 <= k < W:
            mask[c, r, k] = True
    return mask


def maps_svg(tr: NetworkTrace, f: Fmt, s: int = 0) -> str:
    """The figure as an SVG file's text."""
    title = tr.name or _("Network")
    if tr.n > 1:
        title += " " + _("(values of sample {s} of {n}; parameter gradients over all samples)").format(s=s + 1, n=tr.n)
    layers = tr.layers
    marks = [None] * (len(layers) + 1)  # per column: the winners of the max-pool that reads it
    for li, L in enumerate(layers):
        prev = tr.inputs[s] if li == 0 else layers[li - 1].a[s]
        if np.ndim(prev) == 3:
            marks[li] = _winners(L, s, prev.shape)
    cols: list[tuple[str, list[_Block]]] = [(_("inputs"), _maps("x", tr.inputs[s], None, f, marks[0]))]
    for li, L in enumerate(layers):
        kind = LAYERS[L.type]
        head = f"{L.l}: {kind.name + ' ' + kind.describe(L) if kind.neurons else kind.describe(L)}"
        if not ACTIVATIONS[L.activation].identity or kind.activation:
            head += f", {L.activation}"
        blocks: list[_Block] = []
        if L.weights is not None and L.weights.ndim == 4:  # kernels: one grid per (output, input) channel
            O, C = L.weights.shape[:2]
            for o in range(O):
                for c in range(C):
                    sub = f"{o + 1},{c + 1}" if C > 1 else f"{o + 1}"
                    blocks.append(_Block(f"w[{sub}]", L.weights[o, c], f))
                    blocks.append(_Block(f"∂E/∂w[{sub}]", L.grad_weights[o, c], f, S.GRAD))
            if L.biases is not None:
                blocks.append(_Block("b", L.biases[None, :], f))
                blocks.append(_Block("∂E/∂b", L.grad_biases[None, :], f, S.GRAD))
        blocks += _maps("a", L.a[s], L.grad_a[s] if L.grad_a is not None else None, f, marks[li + 1])
        cols.append((head, blocks))

    x, body, heights, xs = PAD, [], [], []
    for head, blocks in cols:
        w = max([b.w for b in blocks] + [S.text_width(head, FONT + 1)])
        xs.append((x, w))
        y = PAD + 44
        body.append(S.text(x, PAD + 30, head, FONT + 1, weight="bold"))
        for b in blocks:
            body += b.draw(x, y)
            y += b.h + 8
        heights.append(y)
        x += w + GAP
    for (x0, w0), (x1, _w) in zip(xs, xs[1:]):
        ya = PAD + 26
        body.append(f'<line x1="{x0 + w0 + 8:.1f}" y1="{ya}" x2="{x1 - 10:.1f}" y2="{ya}" stroke="{S.LINE}" '
                    f'stroke-width="1.2"/>')
        body.append(f'<path d="M{x1 - 10:.1f},{ya - 4} L{x1 - 4:.1f},{ya} L{x1 - 10:.1f},{ya + 4} Z" fill="{S.LINE}"/>')
    body.insert(0, S.text(PAD, PAD + 8, title, FONT + 3, weight="bold", scripts=False))
    foot = max(heights) + 6
    pooled = any("argmax" in L.record for L in tr.layers)  # (cells tinted: a max-pool recorded its winners)
    legend = (_("values in blue, gradients ∂E/∂· in red; tinted cells: each max-pool window's maximum, where its "
                "gradient goes. Loss E = {loss}") if pooled else
              _("values in blue, gradients ∂E/∂· in red. Loss E = {loss}")).format(loss=f(tr.loss))
    body.append(S.text(PAD, foot + 10, legend, FONT, fill=S.MUTED, scripts=False))
    width = max(x - GAP + PAD, S.text_width(title, FONT + 3) + 2 * PAD, S.text_width(legend, FONT) + 2 * PAD)
    return S.document(width, foot + 24, body, title)
