"""flatten: C × H × W feature maps -> one vector per sample, in PyTorch's order (channel, row, column)."""

from __future__ import annotations

import numpy as np

from bpcalc.i18n import N_, _
from bpcalc.registry.kinds import Generator, LayerKind, Narration
from bpcalc.registry.layers import narrate as nr


def forward(P, hp, x):
    return x.reshape(x.shape[0], -1), x.shape


def back(P, hp, delta, shape):
    return delta.reshape(shape)


def _read(text: str) -> dict:
    if text:
        raise ValueError(_("`flatten` takes no number"))
    return {}
def _note(L) -> str:
    C, H, Wd = L.a_prev.shape[1:]
    return _("the reshape: {c}×{h}×{w} maps laid out as {n} values, channel by channel, row by row (m = "
             "(c−1)·{hw} + (i−1)·{w} + j)").format(c=C, h=H, w=Wd, n=C * H * Wd, hw=H * Wd)


def narrate_forward(L, s: int, fmt, names, full: bool = False) -> Narration:
    """a_m = x[c,i,j], m counting channel, row, column."""
    shape = L.a_prev.shape[1:]
    out = Narration(total=L.a.shape[1], notes=[_note(L)])
    for m in nr.shown(out.total, full):
        cell = tuple(int(i) for i in np.unravel_index(m, shape))
        out.rows.append(nr.row(names.at("a", (m,)), names.at("in", cell), fmt(L.a[s, m]), L.a[s, m]))
    return out


def narrate_backward(L, s: int, fmt, names, full: bool = False, grad_in=None, own_delta: bool = True) -> Narration:
    """∂E/∂x[c,i,j] = ∂E/∂a_m: the gradient reshaped back."""
    out = Narration()
    if grad_in is None:
        return out
    shape = L.a_prev.shape[1:]
    out.total = L.a.shape[1]
    out.notes.append(_note(L))
    for m in nr.shown(out.total, full):
        cell = tuple(int(i) for i in np.unravel_index(m, shape))
        out.rows.append(nr.row(names.grad(names.at("in", cell)), names.grad(names.at("a", (m,))),
                               fmt(L.grad_a[s, m]), grad_in[(s, *cell)]))
    return out


FLATTEN = LayerKind(
    name="flatten", rank=4, help=N_("feature maps C×H×W laid out as one vector per sample (channel, row, column)"),
    params=(), keys=frozenset(), activation=False, parse=lambda rd, raw, path, in_shape: rd.layer(None, None),
    out_shape=lambda layer, in_shape: (in_shape[0] * in_shape[1] * in_shape[2],),
    forward=forward, grads=lambda *args: None, back=back, torch=lambda layer: "nn.Flatten()",
    json=("a", "grad_a"), describe=lambda layer: "flatten",
    new=Generator(word="flatten", syntax="flatten", read=_read,
                  out_shape=lambda st, in_shape: (in_shape[0] * in_shape[1] * in_shape[2],),
                  draw=lambda rng, st, in_shape, values, decimals: {"type": "flatten"}),
    narrate_forward=narrate_forward, narrate_backward=narrate_backward, reshape=True,
)
