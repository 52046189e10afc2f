"""batchnorm: each feature (each channel, after conv2d) normalised over the samples of the batch, as PyTorch's
nn.BatchNorm1d/2d: μ = mean, σ² = the biased variance, x̂ = (x − μ)/√(σ² + ε), z = γ·x̂ + β, then a = f(z).

In training mode the running estimates move once per training step (the `advance` face): running_mean ←
(1 − momentum)·running_mean + momentum·μ, running_var likewise with the unbiased variance σ²·m/(m − 1) (m values
per feature). In eval mode the layer normalises with the running estimates, which stay.

Backward (train mode), per feature over its m values, g = ∂E/∂x̂ = δ·γ: the three paths
    ∂E/∂x_i = g_i/σ  +  ∂E/∂σ²·2(x_i − μ)/m  +  ∂E/∂μ/m,
    ∂E/∂σ² = Σ g_i (x_i − μ)·(−½)(σ² + ε)^(−3/2),   ∂E/∂μ = −Σ g_i/σ + ∂E/∂σ²·Σ(−2(x_i − μ))/m,
add up to the compact ∂E/∂x = (1/(mσ))(m·g − Σg − x̂·Σ(g·x̂)), σ = √(σ² + ε).
"""

from __future__ import annotations

import numpy as np

from bpcalc.i18n import N_, _
from bpcalc.registry.kinds import LayerKind

KEYS = frozenset({"gamma", "beta", "epsilon", "momentum", "running_mean", "running_var", "mode", "activation"})
STATE = ("running_mean", "running_var")


# ---------------------------------------------------------------- the arithmetic (shared with layernorm)
def normalise(x: np.ndarray, axes: tuple[int, ...], eps: float, mean=None, var=None) -> dict:
    """μ and σ² over `axes` (kept as size-1 axes; given: used as they are), σ = √(σ² + ε), x̂, and m, the count."""
    m = int(np.prod([x.shape[a] for a in axes]))
    if mean is None:
        mean = x.mean(axis=axes, keepdims=True)
        var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
    std = np.sqrt(var + eps)
    return {"mean": mean, "var": var, "std": std, "x_hat": (x - mean) / std, "m": m, "axes": axes}


def back_normalised(g: np.ndarray, c: dict, paths: str = "all") -> np.ndarray:
    """∂E/∂x from g = ∂E/∂x̂ through x̂ = (x − μ)/σ with μ, σ² of the same values: the compact formula
    (1/(mσ))(m·g − Σg − x̂·Σ(g·x̂)). `paths` leaves paths out (the hand mistakes): "no_var" drops the path through σ²
    (−x̂·Σ(g·x̂)), "no_mean" the path through μ (−Σg; through σ² the mean's own term is 0 anyway)."""
    axes, m, x_hat, std = c["axes"], c["m"], c["x_hat"], c["std"]
    out = m * g
    if paths != "no_mean":
        out = out - g.sum(axis=axes, keepdims=True)
    if paths != "no_var":
        out = out - x_hat * (g * x_hat).sum(axis=axes, keepdims=True)
    return out / (m * std)


def three_paths(g: np.ndarray, x: np.ndarray, c: dict) -> dict:
    """The three paths of ∂E/∂x written apart (what the narration shows): through x̂ directly g/σ, through σ²
    (∂E/∂σ² · 2(x − μ)/m) and through μ (∂E/∂μ / m), with ∂E/∂σ² and ∂E/∂μ."""
    axes, m, mu, var, std = c["axes"], c["m"], c["mean"], c["var"], c["std"]
    d_var = (g * (x - mu)).sum(axis=axes, keepdims=True) * -0.5 / (std ** 3)
    d_mu = -(g / std).sum(axis=axes, keepdims=True) + d_var * (-2.0 * (x - mu)).sum(axis=axes, keepdims=True) / m
    del var
    return {"direct": g / std, "via_var": d_var * 2.0 * (x - mu) / m, "via_mean": np.broadcast_to(d_mu / m, x.shape),
            "grad_var": d_var, "grad_mean": d_mu}


# ---------------------------------------------------------------- faces
def _axes(x: np.ndarray) -> tuple[int, ...]:
    """Every axis but the features' (axis 1): the samples, and the positions of a feature map."""
    return (0, *range(2, x.ndim))


def _per_feature(v: np.ndarray, ndim: int) -> np.ndarray:
    """A per-feature vector shaped to broadcast over (n, C, …)."""
    return v.reshape((1, -1) + (1,) * (ndim - 2))


def forward(P: dict, hp: dict, x: np.ndarray):
    """z = γ·x̂ + β; P holds gamma, beta (learnable) and running_mean, running_var (the state)."""
    if hp.get("mode", "train") == "eval":
        c = normalise(x, _axes(x), hp["epsilon"], _per_feature(P["running_mean"], x.ndim),
                      _per_feature(P["running_var"], x.ndim))
        c["eval"] = True
    else:
        c = normalise(x, _axes(x), hp["epsilon"])
    gamma, beta = P.get("gamma"), P.get("beta")
    z = c["x_hat"] * _per_feature(gamma, x.ndim) if gamma is not None else c["x_hat"].copy()
    if beta is not None:
        z += _per_feature(beta, x.ndim)
    return z, c


def grads(P: dict, hp: dict, x: np.ndarray, delta: np.ndarray, c: dict, G: dict) -> None:
    axes = _axes(delta)
    if G.get("gamma") is not None:
        G["gamma"][...] = (delta * c["x_hat"]).sum(axis=axes)
    if G.get("beta") is not None:
        G["beta"][...] = delta.sum(axis=axes)


def _g(P: dict, delta: np.ndarray) -> np.ndarray:
    """∂E/∂x̂ = δ·γ."""
    return delta * _per_feature(P["gamma"], delta.ndim) if P.get("gamma") is not None else delta


def back(P: dict, hp: dict, delta: np.ndarray, c: dict, paths: str = "all") -> np.ndarray:
    g = _g(P, delta)
    if c.get("eval"):  # μ and σ² are constants (the running estimates): only the direct path
        return g / c["std"]
    return back_normalised(g, c, paths)


def advance(state: dict, hp: dict, c: dict) -> dict:
    """The running estimates after a training step: momentum towards this batch's μ and unbiased σ²."""
    if c.get("eval"):
        return state
    mom, m = hp["momentum"], c["m"]
    mean, var = c["mean"].reshape(-1), c["var"].reshape(-1)
    unbiased = var * m / (m - 1) if m > 1 else var
    return {"running_mean": (1 - mom) * state["running_mean"] + mom * mean,
            "running_var": (1 - mom) * state["running_var"] + mom * unbiased}


def record(c: dict) -> dict:
    """What the trace keeps: μ and σ² per feature (per sample for layernorm), x̂."""
    return {"mean": c["mean"].reshape(-1), "var": c["var"].reshape(-1), "x_hat": c["x_hat"]}


# ---------------------------------------------------------------- spec
def parse(rd, raw: dict, path: tuple, in_shape: tuple):
    C = in_shape[0]
    act = rd.activation({"activation": "linear", **raw}, path)
    P = vectors(rd, raw, path, C, ("gamma", "beta"), (1.0, 0.0), _("{n} feature(s)").format(n=C))
    state = vectors(rd, raw, path, C, STATE, (0.0, 1.0), _("{n} feature(s)").format(n=C))
    if np.any(state["running_var"] < 0):
        raise rd.error(path + ("running_var",), _("a variance is never negative"))
    hp = {"epsilon": positive(rd, raw, "epsilon", path, 1e-5),
          "momentum": fraction(rd, raw, "momentum", path, 0.1),
          "mode": rd.choice(raw.get("mode", "train"), path + ("mode",), ("train", "eval"), "mode")}
    layer = rd.layer_params(P, act, hyper=hp)
    layer.state = state
    return layer


def vectors(rd, raw: dict, path: tuple, n: int, keys, defaults, what: str) -> dict:
    """Per-feature vectors by key (1-D, n long; default: filled with the default)."""
    out = {}
    for key, default in zip(keys, defaults):
        if key in raw:
            v = rd.parameter(raw[key], path + (key,), 1)
            if v.shape != (n,):
                raise rd.error(path + (key,), _("`{key}` needs one value per feature: {what}, found {m}").format(
                    key=key, what=what, m=v.size))
            out[key] = v
        else:
            out[key] = np.full(n, default)
    return out


def positive(rd, raw: dict, key: str, path: tuple, default: float) -> float:
    if key not in raw:
        return default
    v = rd.number(raw[key], path + (key,))
    if v <= 0:
        raise rd.error(path + (key,), _("`{key}` must be greater than 0").format(key=key))
    return v


def fraction(rd, raw: dict, key: str, path: tuple, default: float, closed: bool = True) -> float:
    """A number in [0, 1] ([0, 1) unless closed)."""
    if key not in raw:
        return default
    v = rd.number(raw[key], path + (key,))
    if v < 0 or v > 1 or (v == 1 and not closed):
        raise rd.error(path + (key,), (_("`{key}` lies from 0 to 1") if closed else
                                       _("`{key}` lies from 0 up to (not including) 1")).format(key=key))
    return v


def _describe(layer) -> str:
    return "batchnorm" + (" eval" if layer.hyper.get("mode") == "eval" else "")


def _torch(layer) -> str:
    C = layer.params["gamma"].shape[0]
    module = "BatchNorm2d" if len(layer.in_shape) == 3 else "BatchNorm1d"
    return f"nn.{module}({C}, eps={layer.hyper['epsilon']!r}, momentum={layer.hyper['momentum']!r})"


BATCHNORM = LayerKind(
    name="batchnorm", help=N_("batch normalisation: each feature (channel) normalised over the batch's samples, "
                              "then scaled by γ and shifted by β (nn.BatchNorm1d/2d); then the activation"),
    params=("gamma", "beta"), keys=KEYS, activation=True, parse=parse,
    out_shape=lambda layer, in_shape: tuple(in_shape),
    forward=forward, grads=grads, back=back, torch=_torch,
    json=("activation", "gamma", "beta", "mean", "var", "x_hat", "z", "a", "grad_a", "delta", "grad_gamma",
          "grad_beta", "new_gamma", "new_beta", "new_running_mean", "new_running_var", "optimizer_state"),
    describe=_describe, record=record, state=STATE, advance=advance,
)
