"""rnn: h_t = f(W_ih x_t + b_ih + W_hh h_{t−1} + b_hh), f = tanh (or relu), as PyTorch's nn.RNN computes it
(batch_first); h_0 given or zeros. The layer's output is h (n, T, H). Backward is backpropagation through time:
∂E/∂h_t = (from this step's output) + W_hhᵀ·(δ_{t+1}), vectorised over sequences, a loop over steps."""

from __future__ import annotations

import numpy as np

from bpcalc.i18n import N_
from bpcalc.registry.kinds import LayerKind
from bpcalc.registry.layers import recurrent as rc

KEYS = rc.KEYS | {"activation"}


def parse(rd, raw: dict, path: tuple, in_shape: tuple):
    _T, F = in_shape
    P = rc.read_params(rd, raw, path, F, 1, "rnn")
    H = P["weights_hh"].shape[1]
    nonlin = rd.choice(raw.get("activation", "tanh"), path + ("activation",), rc.NONLINEARITIES,
                       "rnn activation (PyTorch's nonlinearity)")
    hp = {"nonlinearity": nonlin, **rc.read_hyper(rd, raw, path, H)}
    return rd.layer_params(P, hyper=hp)


def _f(kind: str, s: np.ndarray) -> np.ndarray:
    return np.tanh(s) if kind == "tanh" else np.maximum(s, 0.0)


def _df(kind: str, s: np.ndarray, h: np.ndarray) -> np.ndarray:
    """f′ at the pre-activation: 1 − h² for tanh, 1 where s > 0 for relu (0 at 0, as PyTorch)."""
    return 1.0 - h * h if kind == "tanh" else (s > 0).astype(np.float64)


def forward(P, hp, x):
    Wih, Whh = P["weights_ih"], P["weights_hh"]
    n, T, _F = x.shape
    H = Whh.shape[0]
    pre = x @ Wih.T  # every step's input part at once: (n, T, H)
    for key in ("biases_ih", "biases_hh"):
        if P.get(key) is not None:
            pre += P[key]
    h = np.empty((n, T, H))
    h0 = rc.initial(hp, "h0", n, H)
    prev = h0
    for t in range(T):
        pre[:, t] += prev @ Whh.T
        h[:, t] = prev = _f(hp["nonlinearity"], pre[:, t])
    rec = {"h": h, "preactivation": pre, "h0": h0, "nonlinearity": hp["nonlinearity"],
           "truncate": hp["truncate"], "per_sample": ("h", "preactivation", "grad_h", "grad_h_norm",
                                                       "grad_h_next", "grad_preactivation", "h0")}
    return h, {"x": x, "rec": rec}


def bptt(P, hp, delta, cache, one_path: bool = False, flip: bool = False) -> dict:
    """∂E/∂h_t (both paths), ∂E/∂pre_t and ∂E/∂x_t from ∂E/∂h_t of the layer above (`delta`, (n, T, H)), once
    per backward (kept in the cache). `one_path`: the path from step t+1 left out (a hand mistake)."""
    rec = cache["rec"]
    if "grad_h" in rec:
        return rec
    Whh, k = P["weights_hh"], hp["truncate"]
    h, pre = rec["h"], rec["preactivation"]
    n, T, H = h.shape
    gh, gnext, dpre = np.empty_like(h), np.zeros_like(h), np.empty_like(h)
    carry = np.zeros((n, H))
    for t in range(T - 1, -1, -1):
        if rc.cut(t, k) or one_path:
            carry = np.zeros((n, H))
        gnext[:, t] = carry
        gh[:, t] = delta[:, t] + carry
        dpre[:, t] = gh[:, t] * _df(hp["nonlinearity"], pre[:, t], h[:, t])
        carry = dpre[:, t] @ Whh
    rec.update(grad_h=gh, grad_h_next=gnext, grad_preactivation=dpre, grad_h_norm=rc.norms(gh))
    return rec


def grads(P, hp, x, delta, cache, G):
    rec = bptt(P, hp, delta, cache)
    d, h = rec["grad_preactivation"], rec["h"]
    n, T, H = h.shape
    hprev = np.concatenate([rec["h0"][:, None], h[:, :-1]], axis=1)  # h_{t−1}: h0 first
    d2 = d.reshape(-1, H)
    if G.get("weights_ih") is not None:
        np.matmul(d2.T, x.reshape(-1, x.shape[-1]), out=G["weights_ih"])
    if G.get("weights_hh") is not None:
        np.matmul(d2.T, hprev.reshape(-1, H), out=G["weights_hh"])
    for key in ("biases_ih", "biases_hh"):
        if G.get(key) is not None:
            np.add.reduce(d2, axis=0, out=G[key])


def back(P, hp, delta, cache):
    return bptt(P, hp, delta, cache)["grad_preactivation"] @ P["weights_ih"]


def record(cache) -> dict:
    """h, the pre-activations and h0; backward adds ∂E/∂h_t (both paths), the path from t+1, ∂E/∂pre_t and the
    norms into the same record."""
    return cache["rec"]


def _describe(layer) -> str:
    H = layer.params["weights_hh"].shape[1]
    hp = layer.hyper
    extra = (" relu" if hp["nonlinearity"] == "relu" else "") + (f" k{hp['truncate']}" if hp["truncate"] else "")
    return f"rnn{H}{extra}"


def _torch(layer) -> str:
    H, F = layer.params["weights_ih"].shape
    bias = "biases_ih" in layer.params or "biases_hh" in layer.params
    return f"nn.RNN({F}, {H}, nonlinearity={layer.hyper['nonlinearity']!r}, bias={bias}, batch_first=True)"


JSON = ("nonlinearity", "truncate", "h0", "weights_ih", "weights_hh", "biases_ih", "biases_hh", "h", "preactivation",
        "grad_a", "grad_h_next", "grad_h", "grad_h_norm", "grad_preactivation", "grad_weights_ih", "grad_weights_hh",
        "grad_biases_ih", "grad_biases_hh", "new_weights_ih", "new_weights_hh", "new_biases_ih", "new_biases_hh",
        "optimizer_state")

RNN = LayerKind(
    name="rnn", help=N_("a recurrent layer: h_t = tanh(W_ih x_t + b_ih + W_hh h_{t−1} + b_hh) at every step (PyTorch's "
                        "nn.RNN; `activation: relu` allowed)"),
    params=rc.PARAMS, keys=KEYS, activation=False, parse=parse,
    out_shape=lambda layer, in_shape: (in_shape[0], layer.params["weights_hh"].shape[1]),
    forward=forward, grads=grads, back=back, torch=_torch, json=JSON, describe=_describe, record=record,
    sequence=True,
)
