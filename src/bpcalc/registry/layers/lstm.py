"""lstm: a long short-term memory cell unrolled over the sequence, as PyTorch's nn.LSTM (gate order i, f, g, o):

    i_t = σ(W_ii x_t + b_ii + W_hi h_{t−1} + b_hi)      f_t = σ(W_if x_t + b_if + W_hf h_{t−1} + b_hf)
    g_t = tanh(W_ig x_t + b_ig + W_hg h_{t−1} + b_hg)   o_t = σ(W_io x_t + b_io + W_ho h_{t−1} + b_ho)
    c_t = f_t ⊙ c_{t−1} + i_t ⊙ g_t                     h_t = o_t ⊙ tanh(c_t)

The layer's output is h_t at every step (n, T, H). Backward through time, vectorised over the sequences, a loop
over the steps from the last: ∂E/∂h_t = the path from step t's output + the path from step t+1 (W_hhᵀ·δ_{t+1});
∂E/∂c_t = ∂E/∂h_t ⊙ o_t ⊙ (1 − tanh²c_t) + ∂E/∂c_{t+1} ⊙ f_{t+1}; each gate's δ from them."""

from __future__ import annotations

import numpy as np

from bpcalc.i18n import N_
from bpcalc.registry.activations import sigmoid
from bpcalc.registry.kinds import Explains, LayerKind
from bpcalc.registry.layers import gated
from bpcalc.registry.layers import gated_narrate as gn
from bpcalc.registry.layers import recurrent as rc

GATES = ("i", "f", "g", "o")
STATES = ("h0", "c0")


def parse(rd, raw: dict, path: tuple, in_shape: tuple):
    return gated.parse(rd, raw, path, in_shape, "lstm", GATES, STATES)


def forward(P: dict, hp: dict, x: np.ndarray):
    """h for every sequence and step, and the cache: each step's gate sums and values, c, tanh(c), the states
    read. Under hand rounding (hp["round"]) σ and tanh are read off a calculator (rounded), sums and products are
    exact unless every result is rounded, and step t+1 goes on from what step t wrote."""
    n, T, _f = x.shape
    H = gated.units(P)
    written, read = rc.rounding(hp.get("round"), True)
    xs = gated.x_part(P, x)
    W_hh, b_hh = P["weights_hh"], P.get("biases_hh")
    h, c = rc.initial(hp, "h0", n, H), rc.initial(hp, "c0", n, H)
    sums, acts = np.empty((n, T, 4 * H)), np.empty((n, T, 4 * H))
    hs, cs, tcs, h_prev, c_prev = (np.empty((n, T, H)) for _k in range(5))
    for t in range(T):
        h_prev[:, t], c_prev[:, t] = h, c
        s = xs[:, t] + h @ W_hh.T
        if b_hh is not None:
            s += b_hh
        s = sums[:, t] = written(s)
        a = acts[:, t]
        a[:, :2 * H] = read(sigmoid(s[:, :2 * H]))
        a[:, 2 * H:3 * H] = read(np.tanh(s[:, 2 * H:3 * H]))
        a[:, 3 * H:] = read(sigmoid(s[:, 3 * H:]))
        i, f, g, o = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
        c = cs[:, t] = written(written(f * c) + written(i * g))
        tc = tcs[:, t] = read(np.tanh(c))
        h = hs[:, t] = written(o * tc)
    cache = {"gates": GATES, "sums": sums, "acts": acts, "h": hs, "c": cs, "tanh_c": tcs, "h_prev": h_prev,
             "c_prev": c_prev, "round": written}
    return hs, cache


def run_bptt(P: dict, hp: dict, delta: np.ndarray, cache: dict) -> dict:
    """From δ = ∂E/∂h_t of the layer's output (the path from each step's output): every step's total ∂E/∂h_t
    and ∂E/∂c_t and the gates' δ (∂E/∂ each gate's sum), from the last step back (each written result rounded
    where every result is)."""
    n, T, H = delta.shape
    acts, tcs, c_prev, w = cache["acts"], cache["tanh_c"], cache["c_prev"], cache["round"]
    W_hh = P["weights_hh"]
    d = np.empty((n, T, 4 * H))
    grad_h, grad_c, grad_next = np.empty((n, T, H)), np.empty((n, T, H)), np.empty((n, T, H))
    dh_next, dc_next = np.zeros((n, H)), np.zeros((n, H))
    for t in range(T - 1, -1, -1):
        grad_next[:, t] = dh_next
        a = acts[:, t]
        i, f, g, o = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
        dh = grad_h[:, t] = w(delta[:, t] + dh_next)
        tc = tcs[:, t]
        dc = grad_c[:, t] = w(dh * o * (1.0 - tc * tc) + dc_next)
        dt = d[:, t]
        dt[:, :H] = w(dc * g * i * (1.0 - i))
        dt[:, H:2 * H] = w(dc * c_prev[:, t] * f * (1.0 - f))
        dt[:, 2 * H:3 * H] = w(dc * i * (1.0 - g * g))
        dt[:, 3 * H:] = w(dh * tc * o * (1.0 - o))
        if gated.cut(hp, t):
            dh_next, dc_next = np.zeros((n, H)), np.zeros((n, H))
        else:  # (the mistake one_path_only: ∂E/∂h_t without the path from step t+1; c's path kept)
            dh_next, dc_next = (np.zeros((n, H)) if hp.get("one_path") else w(dt @ W_hh)), dc * f
    return {"d_ih": d, "d_hh": d, "grad_h": grad_h, "grad_h_out": delta, "grad_h_next": grad_next, "grad_c": grad_c}


def grads(P: dict, hp: dict, x: np.ndarray, delta: np.ndarray, cache: dict, G: dict) -> None:
    gated.grads(run_bptt, P, hp, x, delta, cache, G)


def back(P: dict, hp: dict, delta: np.ndarray, cache: dict) -> np.ndarray:
    return gated.back(run_bptt, P, hp, delta, cache)


def _derivation():
    """explain's derivation of a parameter, through its gate's δ, unrolled over the steps: derive/recurrent.py."""
    from bpcalc.registry.layers.derive import recurrent

    return recurrent.LSTM


LSTM = LayerKind(
    name="lstm", rank=101, schema=gated.SCHEMA, required=gated.REQUIRED,
    help=N_("a long short-term memory cell over the sequence (gates i, f, g, o as PyTorch's nn.LSTM): "
            "h and c carried from step to step, h at every step out"),
    params=gated.PARAMS, keys=gated.KEYS | {"c0"}, activation=False, parse=parse, sequence=True,
    sample_rows=STATES,
    out_shape=lambda layer, in_shape: (*in_shape[:-1], layer.params["weights_hh"].shape[1]),
    forward=forward, grads=grads, back=back,
    torch=lambda layer: gated.torch_module("LSTM", layer),
    json=("h", "c", "gates", "grad_h", "grad_h_norm", *gated.PARAM_JSON, "optimizer_state"),
    describe=lambda layer: gated.describe("lstm", layer), record=gated.record,
    param_name=gn.param_name, mistakes=gated.mistakes(run_bptt), new=gated.generator("lstm", GATES),
    narrate_forward=gn.narrate_forward, narrate_backward=gn.narrate_backward, narrate_grads=gn.narrate_grads,
    explain=Explains(group="rnn", load=_derivation, what=N_("recurrent parameter")),
)
