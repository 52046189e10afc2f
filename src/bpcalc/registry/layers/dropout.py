"""dropout: each value kept (mask 1) or dropped (mask 0), the kept ones scaled by 1/(1 − p) (inverted dropout, as
PyTorch), so nothing changes in expectation; `mode: eval` passes the input through. The mask is given (`mask`,
shaped like the layer's input: one for every sample, or one per sample) or drawn from `seed` (each value kept with
probability 1 − p), the same mask every time the layer runs. Backward: the gradient passes through kept units only,
scaled the same way."""

from __future__ import annotations

import numpy as np

from bpcalc.i18n import N_, _
from bpcalc.registry.kinds import LayerKind
from bpcalc.registry.layers.batchnorm import fraction

KEYS = frozenset({"p", "mask", "seed", "mode"})


def mask_for(hp: dict, shape: tuple) -> np.ndarray | None:
    """The mask over a batch shaped `shape` (None: eval mode or p = 0, everything passes)."""
    if hp.get("mode", "train") == "eval" or hp["p"] == 0:
        return None
    m = hp.get("mask")
    if m is None:
        return (np.random.default_rng(hp.get("seed", 0)).random(shape) >= hp["p"]).astype(np.float64)
    if m.shape == tuple(shape):
        return m
    if m.shape == tuple(shape[1:]):
        return np.broadcast_to(m, shape)
    raise ValueError(_("the dropout mask is shaped {m}, but the batch is {n} sample(s) of {s}").format(
        m="×".join(map(str, m.shape)), n=shape[0], s="×".join(map(str, shape[1:]))))


def forward(P: dict, hp: dict, x: np.ndarray, scale: bool = True):
    mask = mask_for(hp, x.shape)
    if mask is None:
        return x.copy(), {"mask": None}
    return x * (mask / (1.0 - hp["p"]) if scale else mask), {"mask": mask}


def back(P: dict, hp: dict, delta: np.ndarray, c: dict, scale: bool = True) -> np.ndarray:
    if c["mask"] is None:
        return delta.copy()
    return delta * (c["mask"] / (1.0 - hp["p"]) if scale else c["mask"])


def parse(rd, raw: dict, path: tuple, in_shape: tuple):
    if "p" not in raw:
        raise rd.error(path, _("a dropout layer needs `p`, the probability that a value is dropped (0 ≤ p < 1)"))
    hp: dict = {"p": fraction(rd, raw, "p", path, 0.5, closed=False),
                "mode": rd.choice(raw.get("mode", "train"), path + ("mode",), ("train", "eval"), "mode")}
    if "mask" in raw and "seed" in raw:
        raise rd.error(path + ("seed",), _("give either `mask` or `seed`, not both"))
    if "mask" in raw:
        m = np.asarray(rd.parameter(raw["mask"], path + ("mask",), 3), dtype=np.float64)  # any nesting
        if m.shape[-len(in_shape):] != tuple(in_shape) or m.ndim not in (len(in_shape), len(in_shape) + 1):
            raise rd.error(path + ("mask",), _("the mask is shaped like the layer's input, {shape} (one for "
                                               "every sample) or one per sample; found {found}").format(
                shape="×".join(map(str, in_shape)), found="×".join(map(str, m.shape))))
        if not np.all((m == 0) | (m == 1)):
            raise rd.error(path + ("mask",), _("a mask holds 1 (kept) and 0 (dropped) only"))
        hp["mask"] = m
    elif "seed" in raw:
        hp["seed"] = rd.positive_int(raw["seed"], path + ("seed",), 0)
    elif hp["mode"] == "train" and hp["p"] > 0:
        raise rd.error(path, _("a dropout layer in training mode needs `mask` (1 kept, 0 dropped, shaped like its "
                               "input) or `seed` (to draw one)"))
    return rd.layer_params({}, hyper=hp)


def _torch(layer) -> str:
    return f"nn.Dropout(p={layer.hyper['p']!r})"


def record(c: dict) -> dict:
    return {} if c["mask"] is None else {"mask": np.asarray(c["mask"])}


DROPOUT = LayerKind(
    name="dropout", help=N_("dropout: values dropped where the mask is 0, the kept ones scaled by 1/(1 − p) "
                            "(inverted dropout, as nn.Dropout); eval mode passes them through"),
    params=(), keys=KEYS, activation=False, parse=parse, out_shape=lambda layer, in_shape: tuple(in_shape),
    forward=forward, grads=lambda *args: None, back=back, torch=_torch,
    json=("mask", "a", "grad_a"), describe=lambda layer: f"dropout {layer.hyper['p']:g}", record=record,
)
