"""flatten: C × H × W feature maps -> one vector per sample, in PyTorch's order (channel, row, column)."""

from __future__ import annotations

from bpcalc.i18n import N_, _
from bpcalc.registry.kinds import Generator, LayerKind


def forward(W, b, hp, x):
    return x.reshape(x.shape[0], -1), x.shape


def back(W, hp, delta, shape):
    return delta.reshape(shape)


def _read(text: str) -> dict:
    if text:
        raise ValueError(_("`flatten` takes no number"))
    return {}


FLATTEN = LayerKind(
    name="flatten", help=N_("feature maps C×H×W laid out as one vector per sample (channel, row, column)"),
    params=(), keys=frozenset(), activation=False, parse=lambda rd, raw, path, in_shape: rd.layer(None, None),
    out_shape=lambda layer, in_shape: (in_shape[0] * in_shape[1] * in_shape[2],),
    forward=forward, grads=lambda *args: None, back=back, torch=lambda layer: "nn.Flatten()",
    json=("a", "grad_a"), describe=lambda layer: "flatten",
    new=Generator(word="flatten", syntax="flatten", read=_read,
                  out_shape=lambda st, in_shape: (in_shape[0] * in_shape[1] * in_shape[2],),
                  draw=lambda rng, st, in_shape, values, decimals: {"type": "flatten"}),
)
