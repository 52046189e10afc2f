"""layernorm: each sample's values normalised over its own features (all of them: C×H×W after conv2d), as
PyTorch's nn.LayerNorm: μ and the biased σ² per sample, x̂ = (x − μ)/√(σ² + ε), z = γ·x̂ + β (γ, β shaped like one
sample), then a = f(z). Backward: batchnorm's three paths, over a sample's features instead of the batch."""

from __future__ import annotations

import numpy as np

from bpcalc.i18n import N_, _
from bpcalc.registry.kinds import Generator, LayerKind
from bpcalc.registry.layers.batchnorm import (
    MISTAKES,
    SCHEMA,
    back_normalised,
    narrate_norm_backward,
    narrate_norm_forward,
    narrate_norm_grads,
    normalise,
    param_name,
    positive,
    read_word,
)

KEYS = frozenset({"gamma", "beta", "epsilon", "activation"})


def _axes(x: np.ndarray) -> tuple[int, ...]:
    return tuple(range(1, x.ndim))


def forward(P: dict, hp: dict, x: np.ndarray):
    c = normalise(x, _axes(x), hp["epsilon"], rnd=hp.get("round"))
    gamma, beta = P.get("gamma"), P.get("beta")
    z = c["x_hat"] * gamma if gamma is not None else c["x_hat"].copy()
    if beta is not None:
        z += beta
    return z, c


def grads(P: dict, hp: dict, x: np.ndarray, delta: np.ndarray, c: dict, G: dict) -> None:
    if G.get("gamma") is not None:
        G["gamma"][...] = (delta * c["x_hat"]).sum(axis=0)
    if G.get("beta") is not None:
        G["beta"][...] = delta.sum(axis=0)


def back(P: dict, hp: dict, delta: np.ndarray, c: dict, paths: str = "all") -> np.ndarray:
    g = delta * P["gamma"] if P.get("gamma") is not None else delta
    return back_normalised(g, c, paths)


def record(c: dict) -> dict:
    out = {"mean": c["mean"].reshape(-1), "var": c["var"].reshape(-1), "x_hat": c["x_hat"],
           "std": c["std"].reshape(-1),
           "per_sample": ("mean", "var", "x_hat")}  # (μ and σ² are each sample's own)
    if c.get("rnd") is not None:  # (--round N: the tables' backward rows rounded as the step rounded)
        out["round"] = c["rnd"]
    return out


def parse(rd, raw: dict, path: tuple, in_shape: tuple):
    act = rd.activation({"activation": "linear", **raw}, path)
    P = {}
    for key, default in (("gamma", 1.0), ("beta", 0.0)):
        if key in raw:
            v = rd.parameter(raw[key], path + (key,), len(in_shape))
            if v.shape != tuple(in_shape):
                raise rd.error(path + (key,), _("`{key}` is shaped like one sample, {shape}; found {found}").format(
                    key=key, shape="×".join(map(str, in_shape)), found="×".join(map(str, v.shape))))
            P[key] = v
        else:
            P[key] = np.full(tuple(in_shape), default)
    return rd.layer_params(P, act, hyper={"epsilon": positive(rd, raw, "epsilon", path, 1e-5)})


def _torch(layer) -> str:
    return f"nn.LayerNorm({tuple(layer.in_shape) if len(layer.in_shape) > 1 else layer.in_shape[0]}, " \
           f"eps={layer.hyper['epsilon']!r})"


def narrate_forward(L, s, fmt, names, full=False):
    return narrate_norm_forward(L, s, fmt, names, full, batch=False)


def narrate_backward(L, s, fmt, names, full=False, grad_in=None, own_delta=True):
    return narrate_norm_backward(L, s, fmt, names, full, grad_in, own_delta, batch=False)


def narrate_grads(L, fmt, names, full=False):
    return narrate_norm_grads(L, fmt, names, full, batch=False)


def _draw(rng, st: dict, in_shape: tuple, values, decimals: int) -> dict:
    """γ in [0.5, 1.5], β in [−0.5, 0.5], shaped like one sample."""
    return {"type": "layernorm", "gamma": values(rng, 0.5, 1.5, decimals, tuple(in_shape), nonzero=True),
            "beta": values(rng, -0.5, 0.5, decimals, tuple(in_shape))}


LAYERNORM = LayerKind(
    rank=6, schema={k: v for k, v in SCHEMA.items() if k in KEYS},
    name="layernorm", help=N_("layer normalisation: each sample's features normalised over themselves, then scaled "
                              "by γ and shifted by β (nn.LayerNorm); then the activation"),
    params=("gamma", "beta"), keys=KEYS, activation=True, parse=parse,
    out_shape=lambda layer, in_shape: tuple(in_shape),
    forward=forward, grads=grads, back=back, torch=_torch,
    json=("activation", "gamma", "beta", "mean", "var", "x_hat", "z", "a", "grad_a", "delta", "grad_gamma",
          "grad_beta", "new_gamma", "new_beta", "optimizer_state"),
    describe=lambda layer: "layernorm", record=record, param_name=param_name, mistakes=MISTAKES, elementwise=True,
    normalises="sample", hand_rounds=True,
    new=Generator(word="layernorm", syntax="layernorm", read=read_word, out_shape=lambda st, in_shape: in_shape,
                  draw=_draw),
    narrate_forward=narrate_forward, narrate_backward=narrate_backward, narrate_grads=narrate_grads,
)
