"""dropout: each value kept (mask 1) or dropped (mask 0), the kept ones scaled by 1/(1 − p) (inverted dropout, as
PyTorch), so nothing changes in expectation; `mode: eval` passes the input through. The mask is given (`mask`,
shaped like the layer's input: one for every sample, or one per sample), the same at every step, or drawn from
`seed` afresh each training step, as nn.Dropout draws one each forward pass in training (see `draw`). Backward: the
gradient passes through kept units only, scaled the same way."""

from __future__ import annotations

import numpy as np

from bpcalc.i18n import N_, _
from bpcalc.registry.kinds import Generator, LayerKind, LayerMistake, Narration
from bpcalc.registry.layers import keys
from bpcalc.registry.layers import narrate as nr
from bpcalc.registry.layers.batchnorm import SCHEMA as NORM_SCHEMA
from bpcalc.registry.layers.batchnorm import fraction, read_word

KEYS = frozenset({"p", "mask", "seed", "mode"})


def mask_for(hp: dict, shape: tuple) -> np.ndarray | None:
    """The mask over a batch shaped `shape` (None: eval mode or p = 0, everything passes): the given one, or the
    one `seed` draws for training step hp["step"] (see `draw`)."""
    if hp.get("mode", "train") == "eval" or hp["p"] == 0:
        return None
    m = hp.get("mask")
    if m is None:
        return (draw(hp.get("seed", 0), hp.get("step", 0), shape) >= hp["p"]).astype(np.float64)
    if m.shape == tuple(shape):
        return m
    if m.shape == tuple(shape[1:]):
        return np.broadcast_to(m, shape)
    raise ValueError(_("the dropout mask is shaped {m}, but the batch is {n} sample(s) of {s}").format(
        m="×".join(map(str, m.shape)), n=shape[0], s="×".join(map(str, shape[1:]))))


def draw(seed: int, step: int, shape: tuple) -> np.ndarray:
    """The uniform numbers in [0, 1) behind a seeded mask at a training step (0: the first; the steps counted as
    `training_state.step` counts them, so `step --save` then `step` goes on with the same sequence): numpy's PCG64
    seeded with `seed` (np.random.default_rng(seed)'s generator), jumped ahead `step` times (PCG64.jumped: a stream
    of its own per step), `shape` numbers drawn in C order; a value is kept where its number is ≥ p. Step 0 is
    np.random.default_rng(seed).random(shape)."""
    bits = np.random.PCG64(seed)
    return np.random.Generator(bits.jumped(step) if step else bits).random(shape)


def forward(P: dict, hp: dict, x: np.ndarray, scale: bool = True):
    mask = mask_for(hp, x.shape)
    if mask is None:
        return x.copy(), {"mask": None}
    rnd = hp.get("round")
    if rnd is not None and scale:  # by hand: 1/(1 − p) read off a calculator, rounded; x·m·(that) exact
        s = rnd(1.0 / (1.0 - hp["p"]))
        return x * (mask * s), {"mask": mask, "scale": s}
    return x * (mask / (1.0 - hp["p"]) if scale else mask), {"mask": mask}


def back(P: dict, hp: dict, delta: np.ndarray, c: dict, scale: bool = True) -> np.ndarray:
    if c["mask"] is None:
        return delta.copy()
    if "scale" in c and scale:
        return delta * (c["mask"] * c["scale"])
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
    out = {"mask": None if c["mask"] is None else np.asarray(c["mask"]),  # (eval mode: no mask)
           "per_sample": ("mask",)}
    if "scale" in c:  # (--round N: the rounded 1/(1 − p) the step multiplied by)
        out["scale"] = c["scale"]
    return out


def _scale_note(L) -> str:
    p = L.hyper["p"]
    return _("dropout p = {p}: a kept value (mask 1) is scaled by 1/(1 − p) = {s}, a dropped one (mask 0) is "
             "0").format(p=f"{p:g}", s=f"{L.record.get('scale', 1 / (1 - p)):.6g}")


def narrate_forward(L, s: int, fmt, names, full: bool = False) -> Narration:
    """a = x·m/(1 − p), per value, with its mask."""
    out = Narration()
    idx, out.total = nr.cells(L.a.shape[1:], full)
    mask = L.record.get("mask")
    p = L.hyper["p"]
    for cell in idx:
        xin = names.at("in", cell)
        x = L.a_prev[(s, *cell)]
        if mask is None:
            out.rows.append(nr.row(names.at("a", cell), xin, fmt(x), L.a[(s, *cell)]))
            continue
        m = mask[(s, *cell)]
        ms = names.short("m", cell)
        out.rows.append(nr.row(names.at("a", cell), (f"{xin[0]}·{ms[0]}/(1 − p)", rf"{xin[1]} {ms[1]}/(1 - p)"),
                               f"{fmt.p_(x)}×{m:g}/(1 − {p:g})" if "scale" not in L.record else
                               f"{fmt.p_(x)}×{m:g}×{fmt(L.record['scale'])}", L.a[(s, *cell)]))
    out.notes.append(_scale_note(L) if mask is not None else _("eval mode: dropout passes its input through"))
    return out


def narrate_backward(L, s: int, fmt, names, full: bool = False, grad_in=None, own_delta: bool = True) -> Narration:
    """∂E/∂x = ∂E/∂a·m/(1 − p): through kept values only."""
    out = Narration()
    if grad_in is None:
        return out
    idx, out.total = nr.cells(L.a.shape[1:], full)
    mask = L.record.get("mask")
    p = L.hyper["p"]
    for cell in idx:
        dEa = names.grad(names.at("a", cell))
        dx = names.grad(names.at("in", cell))
        g = L.grad_a[(s, *cell)]
        if mask is None:
            out.rows.append(nr.row(dx, dEa, fmt(g), grad_in[(s, *cell)]))
        elif mask[(s, *cell)] == 0:
            words = _("dropped")
            out.rows.append(nr.row(dx, (f"0 ({words})", rf"0 \quad \text{{({words})}}"), "0", grad_in[(s, *cell)]))
        else:
            out.rows.append(nr.row(dx, (f"{dEa[0]}/(1 − p)", rf"{dEa[1]}/(1 - p)"), f"{fmt.p_(g)}/(1 − {p:g})"
                                   if "scale" not in L.record else f"{fmt.p_(g)}×{fmt(L.record['scale'])}",
                                   grad_in[(s, *cell)]))
    if mask is not None:
        out.notes.append(_("the gradient passes through the kept values only, scaled by 1/(1 − p) as they were"))
    return out


MISTAKES = (
    LayerMistake("dropout_not_rescaled", N_("dropout without the 1/(1 − p) scaling: the kept values (and their "
                                            "gradients) passed on as they are"),
                 forward=lambda m, P, hp, x: forward(P, hp, x, scale=False),
                 back=lambda m, P, hp, delta, c: back(P, hp, delta, c, scale=False)),
)


def _draw(rng, st: dict, in_shape: tuple, values, decimals: int) -> dict:
    """p = 0.5 and one mask per sample (SAMPLES of them): the first keeps about half the values, the second the
    others, the third a fresh half, so every value is kept in some sample and every weight after it learns."""
    size = int(np.prod(in_shape))
    first = np.zeros(size)
    first[rng.permutation(size)[:max(1, size // 2)]] = 1.0
    third = np.zeros(size)
    third[rng.permutation(size)[:max(1, size // 2)]] = 1.0
    return {"type": "dropout", "p": 0.5, "mask": np.stack([first, 1.0 - first, third]).reshape((3, *in_shape))}


SAMPLES = 3  # (the problems `new` draws with a dropout layer have this many samples: one mask each)


DROPOUT = LayerKind(
    rank=7, required={"required": ["p"]},
    schema={"p": {"type": "number", "minimum": 0, "maximum": 1,
                  "description": "dropout: the probability that a value is dropped (below 1)."},
            "mask": keys.arrays("dropout: 1 kept, 0 dropped, shaped like the layer's input (one for every sample) "
                                "or one per sample; used at every step."),
            "seed": {"type": "integer", "minimum": 0,
                     "description": "dropout, instead of `mask`: draw a fresh mask each training step from this "
                                    "seed (the first step's: np.random.default_rng(seed))."},
            "mode": NORM_SCHEMA["mode"]},
    name="dropout", help=N_("dropout: values dropped where the mask is 0, the kept ones scaled by 1/(1 − p) "
                            "(inverted dropout, as nn.Dropout); eval mode passes them through"),
    params=(), keys=KEYS, activation=False, parse=parse, out_shape=lambda layer, in_shape: tuple(in_shape),
    forward=forward, grads=lambda *args: None, back=back, torch=_torch,
    json=("mask", "a", "grad_a"), describe=lambda layer: f"dropout {layer.hyper['p']:g}", record=record,
    hand_rounds=True, draws=True,
    narrate_forward=narrate_forward, narrate_backward=narrate_backward, mistakes=MISTAKES, elementwise=True,
    new=Generator(word="dropout", syntax="dropout", read=read_word, out_shape=lambda st, in_shape: in_shape,
                  draw=_draw, samples=SAMPLES),
)
