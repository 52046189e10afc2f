"""gru: a gated recurrent unit unrolled over the sequence, as PyTorch's nn.GRU (gate order r, z, n):

    r_t = σ(W_ir x_t + b_ir + W_hr h_{t−1} + b_hr)      z_t = σ(W_iz x_t + b_iz + W_hz h_{t−1} + b_hz)
    n_t = tanh(W_in x_t + b_in + r_t ⊙ (W_hn h_{t−1} + b_hn))
    h_t = (1 − z_t) ⊙ n_t + z_t ⊙ h_{t−1}

The layer's output is h_t at every step (n, T, H). Backward through time, vectorised over the sequences, a loop
over the steps from the last: ∂E/∂h_t = the path from step t's output + the path from step t+1 (through
z_{t+1} ⊙ ∂E/∂h_{t+1} and W_hhᵀ·δ_{t+1}); the n gate's δ reaches W_hn and b_hn through r_t, so the recurrent side's
δ differs from the input side's there."""

from __future__ import annotations

import numpy as np

from bpcalc.i18n import N_
from bpcalc.registry.activations import sigmoid
from bpcalc.registry.kinds import Explains, LayerKind
from bpcalc.registry.layers import gated
from bpcalc.registry.layers import gated_narrate as gn
from bpcalc.registry.layers import recurrent as rc

GATES = ("r", "z", "n")
STATES = ("h0",)


def parse(rd, raw: dict, path: tuple, in_shape: tuple):
    return gated.parse(rd, raw, path, in_shape, "gru", GATES, STATES)


def forward(P: dict, hp: dict, x: np.ndarray):
    """h for every sequence and step, and the cache: each step's gate sums and values, W_hn h + b_hn, the states
    read. Under hand rounding (hp["round"]) σ and tanh are read off a calculator (rounded), sums and products are
    exact unless every result is rounded, and step t+1 goes on from what step t wrote."""
    n, T, _f = x.shape
    H = gated.units(P)
    written, read = rc.rounding(hp.get("round"), True)
    xs = gated.x_part(P, x)
    W_hh, b_hh = P["weights_hh"], P.get("biases_hh")
    h = rc.initial(hp, "h0", n, H)
    sums, acts = np.empty((n, T, 3 * H)), np.empty((n, T, 3 * H))
    hs, h_prev, hns = np.empty((n, T, H)), np.empty((n, T, H)), np.empty((n, T, H))
    for t in range(T):
        h_prev[:, t] = h
        hh = h @ W_hh.T
        if b_hh is not None:
            hh += b_hh
        s, a = sums[:, t], acts[:, t]
        s[:, :2 * H] = written(xs[:, t, :2 * H] + hh[:, :2 * H])
        a[:, :2 * H] = read(sigmoid(s[:, :2 * H]))
        r, z = a[:, :H], a[:, H:2 * H]
        hn = hns[:, t] = written(hh[:, 2 * H:])
        s[:, 2 * H:] = written(xs[:, t, 2 * H:] + written(r * hn))
        nn = a[:, 2 * H:]
        nn[...] = read(np.tanh(s[:, 2 * H:]))
        h = hs[:, t] = written(written((1.0 - z) * nn) + written(z * h))
    return hs, {"gates": GATES, "sums": sums, "acts": acts, "h": hs, "h_prev": h_prev, "hn": hns, "round": written}


def run_bptt(P: dict, hp: dict, delta: np.ndarray, cache: dict) -> dict:
    """From δ = ∂E/∂h_t of the layer's output: every step's total ∂E/∂h_t and the gates' δ, the input side's
    (d_ih: ∂E/∂ each gate's sum) and the recurrent side's (d_hh: the same, but δ_n ⊙ r for W_hn h + b_hn); each
    written result rounded where every result is."""
    n, T, H = delta.shape
    acts, hns, h_prev, w = cache["acts"], cache["hn"], cache["h_prev"], cache["round"]
    W_hh = P["weights_hh"]
    d_ih, d_hh = np.empty((n, T, 3 * H)), np.empty((n, T, 3 * H))
    grad_h, grad_next = np.empty((n, T, H)), np.empty((n, T, H))
    dh_next = np.zeros((n, H))
    for t in range(T - 1, -1, -1):
        grad_next[:, t] = dh_next
        a = acts[:, t]
        r, z, nn = a[:, :H], a[:, H:2 * H], a[:, 2 * H:]
        dh = grad_h[:, t] = w(delta[:, t] + dh_next)
        di, dr = d_ih[:, t], d_hh[:, t]
        dn = di[:, 2 * H:] = w(dh * (1.0 - z) * (1.0 - nn * nn))
        di[:, :H] = w(dn * hns[:, t] * r * (1.0 - r))
        di[:, H:2 * H] = w(dh * (h_prev[:, t] - nn) * z * (1.0 - z))
        dr[:, :2 * H] = di[:, :2 * H]
        dr[:, 2 * H:] = w(dn * r)
        # (the mistake one_path_only: ∂E/∂h_t without the path from step t+1)
        dh_next = np.zeros((n, H)) if gated.cut(hp, t) or hp.get("one_path") else w(dh * z + dr @ W_hh)
    return {"d_ih": d_ih, "d_hh": d_hh, "grad_h": grad_h, "grad_h_out": delta, "grad_h_next": grad_next}


def grads(P: dict, hp: dict, x: np.ndarray, delta: np.ndarray, cache: dict, G: dict) -> None:
    gated.grads(run_bptt, P, hp, x, delta, cache, G)


def back(P: dict, hp: dict, delta: np.ndarray, cache: dict) -> np.ndarray:
    return gated.back(run_bptt, P, hp, delta, cache)


def _derivation():
    """explain's derivation of a parameter, through its gate's δ, unrolled over the steps: derive/recurrent.py."""
    from bpcalc.registry.layers.derive import recurrent

    return recurrent.GRU


GRU = LayerKind(
    name="gru", rank=102, schema=gated.SCHEMA, required=gated.REQUIRED,
    help=N_("a gated recurrent unit over the sequence (gates r, z, n as PyTorch's nn.GRU): h carried "
            "from step to step, h at every step out"),
    params=gated.PARAMS, keys=gated.KEYS, activation=False, parse=parse, sequence=True, sample_rows=STATES,
    out_shape=lambda layer, in_shape: (*in_shape[:-1], layer.params["weights_hh"].shape[1]),
    forward=forward, grads=grads, back=back,
    torch=lambda layer: gated.torch_module("GRU", layer),
    json=("h", "gates", "grad_h", "grad_h_norm", *gated.PARAM_JSON, "optimizer_state"),
    describe=lambda layer: gated.describe("gru", layer), record=gated.record,
    param_name=gn.param_name, mistakes=gated.mistakes(run_bptt), new=gated.generator("gru", GATES),
    narrate_forward=gn.narrate_forward, narrate_backward=gn.narrate_backward, narrate_grads=gn.narrate_grads,
    explain=Explains(group="rnn", load=_derivation, what=N_("recurrent parameter")),
)
