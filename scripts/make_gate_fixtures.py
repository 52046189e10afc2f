"""Make tests/fixtures/gates/run_*.json and train_*.json (LSTM and GRU networks) with PyTorch (float64).

Independent of bpcalc: each case's network is built here from its spec's numbers with torch tensors. A recurrent
layer is unrolled step by step in torch from PyTorch's own equations (gate order LSTM i, f, g, o; GRU r, z, n with
n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))), so every intermediate has a tensor to retain the gradient of; the
self-check asserts that the unrolled layer equals torch.nn.LSTM / torch.nn.GRU (batch_first) run on the same
weights, forward and backward (a truncated layer: nn.LSTM / nn.GRU run k steps at a time with the state detached
between the chunks), and that every parameter's gradient agrees with central differences of the loss. A dense layer
after a recurrent one is nn.Linear on (N, T, H): it applies at every step.

The spec follows issue 18: `type: lstm | gru` with weights_ih (G·H × F), weights_hh (G·H × H), biases_ih,
biases_hh (G·H) in PyTorch's layouts, or the per-gate form `gates: {i: {weights_ih, weights_hh, biases}, …}` (one
bias per gate: it is biases_ih, and the layer has no biases_hh); `h0`, `c0` (a vector of H: every sequence's
start; or N × H, one row per sequence, a mini-batch taking its sequences' rows), `truncate: k` (the state is
detached every k steps: the gradient from a loss term at step t reaches back to the first step of its chunk of k,
so at most k steps). Inputs T × F for one sequence (a flat list: T steps of one
feature), N × T × F for several; `targets_at: all` (targets T × outputs, N × T × outputs) or `last` (outputs,
N × outputs). The loss is the mean over the (sequence, step) terms that enter it of the per-step loss (the sum of
the per-output terms).

run_*: one full-batch step: per recurrent layer h, c (LSTM), each gate's value and sum (pre-activation) per step,
the GRU's W_hn h + b_hn (`hn`), each gate's δ = ∂E/∂sum, grad_h (the total ∂E/∂h_t: the path from this step's output
and the path from step t+1 added), grad_h_out (the first path alone), grad_h_norm, grad_c (LSTM), the layer's
∂E/∂input, every parameter's gradient, the optimizer state and the new parameters after one torch.optim step; per
dense layer z, a, δ, the gradients, new parameters; the loss before and after. Arrays keep the sequence axis N (1
for one sequence; `one: true` says the spec wrote one). train_*: per-epoch losses and final parameters.
Run: python scripts/make_gate_fixtures.py   (needs torch; not a runtime or test dependency)
"""

from __future__ import annotations

import numpy as np
import torch
from fixturelib import (
    ACT,
    FIXTURES,
    OPTIMIZERS,
    F,
    check_central_differences,
    epoch_losses,
    loss_terms,
    make_optimizer,
    onehot,
    optimizer_state,
    uniform,
    write_fixtures,
)

OUT = FIXTURES / "gates"
GATES = {"lstm": ("i", "f", "g", "o"), "gru": ("r", "z", "n")}
PARAMS = ("weights_ih", "weights_hh", "biases_ih", "biases_hh")


# ------------------------------------------------------------------ hand-sized numbers
def cell(kind: str, F_: int, H: int, seed: int, scale: float = 0.6, biases: bool = True, **extra) -> dict:
    """A recurrent layer in PyTorch's layout, G·H rows (G = 4 for LSTM, 3 for GRU)."""
    G = len(GATES[kind])
    d = {"type": kind, "weights_ih": uniform((G * H, F_), seed, scale),
         "weights_hh": uniform((G * H, H), seed + 1, scale)}
    if biases:
        d.update(biases_ih=uniform((G * H,), seed + 2, 0.3), biases_hh=uniform((G * H,), seed + 3, 0.3))
    return {**d, **extra}


def dense(O: int, H: int, seed: int, act: str) -> dict:
    return {"type": "dense", "weights": uniform((O, H), seed, 0.8), "biases": uniform((O,), seed + 1, 0.2),
            "activation": act}


# The widely copied numerical LSTM walkthrough: one unit, two features, two steps, the cell's h compared with the
# targets directly; its numbers, written per gate (g is the walkthrough's "a").
WALK_GATES = {"i": {"weights_ih": [0.95, 0.8], "weights_hh": 0.8, "biases": 0.65},
              "f": {"weights_ih": [0.7, 0.45], "weights_hh": 0.1, "biases": 0.15},
              "g": {"weights_ih": [0.45, 0.25], "weights_hh": 0.15, "biases": 0.2},
              "o": {"weights_ih": [0.6, 0.4], "weights_hh": 0.25, "biases": 0.1}}


def gru_gates(F_: int, H: int, seed: int) -> dict:
    """The per-gate form with nested matrices (H × F, H × H, H)."""
    return {g: {"weights_ih": uniform((H, F_), seed + 3 * k, 0.7), "weights_hh": uniform((H, H), seed + 3 * k + 1, 0.7),
                "biases": uniform((H,), seed + 3 * k + 2, 0.3)} for k, g in enumerate(GATES["gru"])}


def optimizer_net(kind: str, seed: int) -> dict:
    """3 sequences of 4 steps × 2 features -> lstm/gru 2 units -> dense 2 softmax at every step, cross-entropy."""
    return dict(inputs=uniform((3, 4, 2), seed), targets=onehot((3, 4), 2, seed + 1), targets_at="all",
                layers=[cell(kind, 2, 2, seed + 2), dense(2, 2, seed + 6, "softmax")], loss="cross_entropy")


def run_cases() -> dict[str, dict]:
    out: dict[str, dict] = {}
    for kind, s in (("lstm", 1000), ("gru", 2000)):
        out.update({
            # T = 1, one sequence T × F, targets T × outputs (targets_at all, the default: not written)
            f"{kind}_T1_one_all_linear_half_sse": dict(
                inputs=uniform((1, 2), s + 1), targets=uniform((1, 1), s + 2),
                layers=[cell(kind, 2, 2, s + 3), dense(1, 2, s + 7, "linear")], loss="half_sse", learning_rate=0.1),
            # T = 2, one sequence of one feature written as a flat list, h0 (and c0) given, targets_at last
            f"{kind}_T2_flat_h0_last_sigmoid_mse": dict(
                inputs=[0.5, -1.0], targets=[0.8], targets_at="last",
                layers=[cell(kind, 1, 2, s + 10, h0=[0.1, -0.2], **({"c0": [0.3, 0.05]} if kind == "lstm" else {})),
                        dense(1, 2, s + 14, "sigmoid")], loss="mse", learning_rate=0.5),
            # T = 5, several sequences, targets at every step, softmax + cross-entropy
            f"{kind}_T5_several_all_softmax_ce": dict(
                inputs=uniform((3, 5, 2), s + 20), targets=onehot((3, 5), 3, s + 21), targets_at="all",
                layers=[cell(kind, 2, 3, s + 22), dense(3, 3, s + 26, "softmax")], loss="cross_entropy",
                learning_rate=0.5),
            # T = 5, several sequences, only the last step's output enters the loss; h0 (and c0) given
            f"{kind}_T5_several_last_h0_tanh_half_sse": dict(
                inputs=uniform((2, 5, 3), s + 30), targets=uniform((2, 2), s + 31, 0.9), targets_at="last",
                layers=[cell(kind, 3, 2, s + 32, h0=uniform((2,), s + 36, 0.5),
                             **({"c0": uniform((2,), s + 37, 0.5)} if kind == "lstm" else {})),
                        dense(2, 2, s + 38, "tanh")], loss="half_sse", learning_rate=0.3),
            # truncated BPTT: the state detached every 2 steps
            f"{kind}_T5_truncate2_all_linear_mse": dict(
                inputs=uniform((2, 5, 2), s + 40), targets=uniform((2, 5, 1), s + 41), targets_at="all",
                layers=[cell(kind, 2, 2, s + 42, scale=0.9, truncate=2), dense(1, 2, s + 46, "linear")],
                loss="mse", learning_rate=0.2),
            f"{kind}_T5_truncate3_last_linear_half_sse": dict(
                inputs=uniform((1, 5, 1), s + 50), targets=[[0.4]], targets_at="last",
                layers=[cell(kind, 1, 2, s + 52, scale=0.9, truncate=3), dense(1, 2, s + 56, "linear")],
                loss="half_sse", learning_rate=0.2),
            # no biases at all
            f"{kind}_T2_no_biases_all_linear_half_sse": dict(
                inputs=uniform((2, 1), s + 60), targets=uniform((2, 1), s + 61),
                layers=[cell(kind, 1, 2, s + 62, biases=False), dense(1, 2, s + 66, "linear")], loss="half_sse",
                learning_rate=0.1),
            # a recurrent layer on a recurrent layer
            f"{kind}_stacked_T5_all_linear_half_sse": dict(
                inputs=uniform((2, 5, 2), s + 70), targets=uniform((2, 5, 1), s + 71), targets_at="all",
                layers=[cell(kind, 2, 3, s + 72), cell(kind, 3, 2, s + 76), dense(1, 2, s + 80, "linear")],
                loss="half_sse", learning_rate=0.1),
        })
        out.update({f"{kind}_opt_{name}": dict(optimizer_net(kind, s + 100), **o)
                    for name, o in OPTIMIZERS.items() if name != "sgd"})
    out["lstm_walkthrough_gates_last_layer_half_sse"] = dict(
        inputs=[[1.0, 2.0], [0.5, 3.0]], targets=[[0.5], [1.25]],
        layers=[{"type": "lstm", "gates": WALK_GATES}], loss="half_sse", learning_rate=0.1)
    out["gru_gates_T3_last_sigmoid_half_sse"] = dict(
        inputs=uniform((3, 2), 2900), targets=[1.0], targets_at="last",
        layers=[{"type": "gru", "gates": gru_gates(2, 2, 2901), "h0": [0.5, -0.5]}, dense(1, 2, 2920, "sigmoid")],
        loss="half_sse", learning_rate=0.5)
    return out


def train_cases() -> dict[str, dict]:
    out = {}
    for kind, s in (("lstm", 3000), ("gru", 4000)):
        out.update({f"{kind}_opt_{name}": dict(optimizer_net(kind, s + 10 * i), epochs=3, **o)
                    for i, (name, o) in enumerate(OPTIMIZERS.items())})
        out[f"{kind}_minibatch_adam_last"] = dict(
            inputs=uniform((4, 3, 2), s + 200), targets=uniform((4, 1), s + 201), targets_at="last",
            layers=[cell(kind, 2, 2, s + 202), dense(1, 2, s + 206, "linear")], loss="half_sse",
            learning_rate=0.05, batch_size=2, shuffle=False, optimizer={"type": "adam"}, epochs=3)
        # one initial state per sequence (h0, c0 N × H) with mini-batches: each batch starts from its sequences' rows
        out[f"{kind}_minibatch_h0_rows_sgd"] = dict(
            inputs=uniform((4, 3, 2), s + 400), targets=uniform((4, 3, 1), s + 401), targets_at="all",
            layers=[cell(kind, 2, 2, s + 402, h0=uniform((4, 2), s + 406, 0.8),
                         **({"c0": uniform((4, 2), s + 407, 0.8)} if kind == "lstm" else {})),
                    dense(1, 2, s + 408, "linear")], loss="half_sse", learning_rate=0.5, batch_size=2, epochs=2)
        out[f"{kind}_truncate2_sgd"] = dict(
            inputs=uniform((2, 5, 1), s + 300), targets=uniform((2, 5, 1), s + 301), targets_at="all",
            layers=[cell(kind, 1, 2, s + 302, truncate=2), dense(1, 2, s + 306, "linear")], loss="mse",
            learning_rate=0.3, epochs=4)
    out["lstm_gates_sgd"] = dict(
        inputs=[[1.0, 2.0], [0.5, 3.0]], targets=[[0.5], [1.25]],
        layers=[{"type": "lstm", "gates": WALK_GATES}], loss="half_sse", learning_rate=0.5, epochs=3)
    return out


# ------------------------------------------------------------------ the spec's numbers as tensors
def _t(v) -> torch.Tensor:
    return torch.tensor(v, dtype=torch.float64)


def _data(c: dict) -> tuple[torch.Tensor, torch.Tensor, bool]:
    """Inputs N × T × F, targets N × T × K (all) or N × K (last), and whether the spec wrote one sequence."""
    x = _t(c["inputs"])
    one = x.dim() <= 2
    x = x.reshape(1, -1, 1) if x.dim() == 1 else x.unsqueeze(0) if x.dim() == 2 else x
    t = _t(c["targets"])
    if c.get("targets_at", "all") == "last":
        t = t.reshape(1, -1) if one else t
    else:
        t = t.unsqueeze(0) if one else t
    return x, t, one


def _per_gate(kind: str, gates: dict) -> dict[str, torch.Tensor]:
    """The per-gate form stacked into PyTorch's layout: rows gate by gate in PyTorch's order; one bias per gate."""
    wi, wh, b = [], [], []
    for g in GATES[kind]:
        wi_g, wh_g, b_g = _t(gates[g]["weights_ih"]), _t(gates[g]["weights_hh"]), _t(gates[g]["biases"])
        H = b_g.numel()
        wi.append(wi_g.reshape(H, -1))
        wh.append(wh_g.reshape(H, H))
        b.append(b_g.reshape(H))
    return {"weights_ih": torch.cat(wi), "weights_hh": torch.cat(wh), "biases_ih": torch.cat(b)}


class Recurrent:
    """An LSTM or GRU layer: its parameters (leaf tensors), h0/c0, and the unrolled forward pass with every
    intermediate kept."""

    def __init__(self, lay: dict, n: int):
        self.kind, self.truncate = lay["type"], lay.get("truncate")
        raw = _per_gate(self.kind, lay["gates"]) if "gates" in lay else {k: _t(lay[k]) for k in PARAMS if k in lay}
        self.P = {k: v.clone().requires_grad_(True) for k, v in raw.items()}
        self.H = self.P["weights_hh"].shape[1]
        self.h0 = self._state(lay.get("h0"), n)
        self.c0 = self._state(lay.get("c0"), n)

    def _state(self, v, n: int) -> torch.Tensor:
        if v is None:
            return torch.zeros(n, self.H)
        s = _t(v)
        return s.expand(n, self.H).clone() if s.dim() == 1 else s

    def leaves(self) -> list[torch.Tensor]:
        return list(self.P.values())

    def _bias(self, name: str) -> torch.Tensor:
        return self.P[name] if name in self.P else torch.zeros(self.P["weights_hh"].shape[0])

    def forward(self, x: torch.Tensor, keep: bool = False) -> torch.Tensor:
        """(N, T, F) -> (N, T, H); with `keep`, every intermediate in self.rec (gradients retained)."""
        P, H = self.P, self.H
        bi, bh = self._bias("biases_ih"), self._bias("biases_hh")
        h, c = self.h0, self.c0
        rec: dict[str, list] = {k: [] for k in ("h", "c", "hn", "x_part", "h_part")}
        rec.update({f"gate_{g}": [] for g in GATES[self.kind]})
        rec.update({f"sum_{g}": [] for g in GATES[self.kind]})
        outs = []
        for step in range(x.shape[1]):
            if self.truncate and step and step % self.truncate == 0:
                h, c = h.detach(), c.detach()
            xp = x[:, step] @ P["weights_ih"].T + bi
            hp = h @ P["weights_hh"].T + bh
            if self.kind == "lstm":
                s = xp + hp
                sums = dict(zip("ifgo", s.split(H, dim=1)))
                i, f, g, o = (torch.sigmoid(sums["i"]), torch.sigmoid(sums["f"]), torch.tanh(sums["g"]),
                              torch.sigmoid(sums["o"]))
                c = f * c + i * g
                h = o * torch.tanh(c)
                vals = {"i": i, "f": f, "g": g, "o": o}
                rec["c"].append(c)
            else:
                xr, xz, xn = xp.split(H, dim=1)
                hr, hz, hn = hp.split(H, dim=1)
                sums = {"r": xr + hr, "z": xz + hz}
                r, z = torch.sigmoid(sums["r"]), torch.sigmoid(sums["z"])
                sums["n"] = xn + r * hn
                nn_ = torch.tanh(sums["n"])
                h = (1 - z) * nn_ + z * h
                vals = {"r": r, "z": z, "n": nn_}
                rec["hn"].append(hn)
            if keep:
                for v in [*sums.values(), h, *([c] if self.kind == "lstm" else [])]:
                    if v.requires_grad:
                        v.retain_grad()
            for g in GATES[self.kind]:
                rec[f"gate_{g}"].append(vals[g])
                rec[f"sum_{g}"].append(sums[g])
            rec["h"].append(h)
            outs.append(h)
        out = torch.stack(outs, dim=1)
        if keep:
            out.retain_grad()
            self.rec, self.out = rec, out
        return out

    def torch_module(self) -> torch.nn.Module:
        """nn.LSTM / nn.GRU (batch_first) with this layer's current numbers (zeros for a bias the layer lacks)."""
        F_ = self.P["weights_ih"].shape[1]
        m = (torch.nn.LSTM if self.kind == "lstm" else torch.nn.GRU)(F_, self.H, batch_first=True, bias=True)
        with torch.no_grad():
            m.weight_ih_l0.copy_(self.P["weights_ih"])
            m.weight_hh_l0.copy_(self.P["weights_hh"])
            m.bias_ih_l0.copy_(self._bias("biases_ih"))
            m.bias_hh_l0.copy_(self._bias("biases_hh"))
        return m


class Net:
    def __init__(self, c: dict, n: int):
        self.layers: list = []
        for lay in c["layers"]:
            if lay["type"] in GATES:
                self.layers.append(Recurrent(lay, n))
            else:
                w = _t(lay["weights"]).requires_grad_(True)
                b = _t(lay["biases"]).requires_grad_(True) if lay.get("biases") is not None else None
                self.layers.append({"W": w, "b": b, "act": lay.get("activation", "sigmoid")})

    def leaves(self) -> list[torch.Tensor]:
        out = []
        for lay in self.layers:
            out += lay.leaves() if isinstance(lay, Recurrent) else [p for p in (lay["W"], lay["b"]) if p is not None]
        return out

    def forward(self, x: torch.Tensor, keep: bool = False) -> tuple[list, list]:
        zs, as_ = [], []
        a = x
        for lay in self.layers:
            if isinstance(lay, Recurrent):
                a, z = lay.forward(a, keep), None
            else:
                z = F.linear(a, lay["W"], lay["b"])
                a = ACT[lay["act"]](z)
            if keep:
                for v in (z, a):
                    if v is not None and v.requires_grad:
                        v.retain_grad()
            zs.append(z)
            as_.append(a)
        return zs, as_

    def torch_forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list]:
        """The same network with nn.LSTM / nn.GRU (chunks of `truncate` steps, state detached between)."""
        a, mods = x, []
        for lay in self.layers:
            if isinstance(lay, Recurrent):
                m = lay.torch_module()
                mods.append(m)
                k = lay.truncate or a.shape[1]
                state = (lay.h0[None], lay.c0[None]) if lay.kind == "lstm" else lay.h0[None]
                chunks = []
                for s0 in range(0, a.shape[1], k):
                    y, state = m(a[:, s0:s0 + k], state)
                    state = tuple(v.detach() for v in state) if lay.kind == "lstm" else state.detach()
                    chunks.append(y)
                a = torch.cat(chunks, dim=1)
            else:
                a = ACT[lay["act"]](F.linear(a, lay["W"], lay["b"]))
        return a, mods


def mean_loss(c: dict, a: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """The mean over the (sequence, step) terms that enter the loss of the per-step loss."""
    if c.get("targets_at", "all") == "last":
        a = a[:, -1]
    return loss_terms(c["loss"], a, t).sum(-1).mean()


# ------------------------------------------------------------------ self-check
def self_check(c: dict, net: Net, x: torch.Tensor, t: torch.Tensor) -> None:
    """The unrolled layers equal nn.LSTM / nn.GRU forward and backward; gradients equal central differences."""
    with torch.no_grad():
        mine = net.forward(x)[1][-1]
    xx = x.clone().requires_grad_(True)
    theirs, mods = net.torch_forward(xx)
    np.testing.assert_allclose(mine.numpy(), theirs.detach().numpy(), rtol=1e-12, atol=1e-14)
    mean_loss(c, theirs, t).backward()
    xm = x.clone().requires_grad_(True)
    for p in net.leaves():
        p.grad = None
    mean_loss(c, net.forward(xm)[1][-1], t).backward()
    np.testing.assert_allclose(xm.grad.numpy(), xx.grad.numpy(), rtol=1e-10, atol=1e-14)
    recs = [lay for lay in net.layers if isinstance(lay, Recurrent)]
    for lay, m in zip(recs, mods):
        pairs = [("weights_ih", m.weight_ih_l0), ("weights_hh", m.weight_hh_l0), ("biases_ih", m.bias_ih_l0),
                 ("biases_hh", m.bias_hh_l0)]
        for name, tp in pairs:
            if name in lay.P:
                np.testing.assert_allclose(lay.P[name].grad.numpy(), tp.grad.numpy(), rtol=1e-10, atol=1e-14)
    if any(lay.truncate for lay in recs):  # a truncated gradient is not the loss's derivative
        return
    check_central_differences(net.leaves(), lambda: mean_loss(c, net.forward(x)[1][-1], t), c["_name"])


# ------------------------------------------------------------------ run_*: one step, every intermediate
def _l(v: torch.Tensor) -> list:
    return v.detach().tolist()


def _stack(vs: list) -> torch.Tensor:
    return torch.stack([v.detach() for v in vs], dim=1)


def _grads(vs: list) -> torch.Tensor:
    return torch.stack([torch.zeros_like(v) if v.grad is None else v.grad for v in vs], dim=1)


def one_step(c: dict) -> dict:
    x, t, one = _data(c)
    net = Net(c, x.shape[0])
    self_check(c, net, x, t)
    for p in net.leaves():
        p.grad = None
    opt = make_optimizer(c, net.leaves())
    xg = x.clone().requires_grad_(True)
    zs, as_ = net.forward(xg, keep=True)
    a_last = as_[-1][:, -1] if c.get("targets_at", "all") == "last" else as_[-1]
    terms = loss_terms(c["loss"], a_last, t)
    loss = terms.sum(-1).mean()
    loss.backward()
    layers = []
    for i, lay in enumerate(net.layers):
        if isinstance(lay, Recurrent):
            r = lay.rec
            d: dict = {"type": lay.kind, "h": _l(lay.out), "grad_h_out": _l(lay.out.grad)}
            gh = _grads(r["h"])
            d["grad_h"] = _l(gh)
            d["grad_h_norm"] = _l(gh.norm(dim=-1))
            if lay.kind == "lstm":
                d["c"] = _l(_stack(r["c"]))
                d["grad_c"] = _l(_grads(r["c"]))
            else:
                d["hn"] = _l(_stack(r["hn"]))
            d["gates"] = {g: _l(_stack(r[f"gate_{g}"])) for g in GATES[lay.kind]}
            d["sums"] = {g: _l(_stack(r[f"sum_{g}"])) for g in GATES[lay.kind]}
            d["delta"] = {g: _l(_grads(r[f"sum_{g}"])) for g in GATES[lay.kind]}
            d.update({f"grad_{k}": _l(p.grad) for k, p in lay.P.items()})
        else:
            d = {"type": "dense", "z": _l(zs[i]), "a": _l(as_[i]), "grad_a": _l(as_[i].grad),
                 "delta": _l(zs[i].grad), "grad_weights": _l(lay["W"].grad),
                 "grad_biases": None if lay["b"] is None else _l(lay["b"].grad)}
        d["grad_input"] = _l(xg.grad if i == 0 else as_[i - 1].grad)
        layers.append(d)
    opt.step()
    for lay, d in zip(net.layers, layers):
        named = lay.P if isinstance(lay, Recurrent) else {k: p for k, p in (("weights", lay["W"]),
                                                                             ("biases", lay["b"])) if p is not None}
        d.update({f"new_{k}": _l(p) for k, p in named.items()})
        if state := optimizer_state(opt, named):
            d["optimizer_state"] = state
    with torch.no_grad():
        out_after = net.forward(x)[1][-1]
        loss_after = mean_loss(c, out_after, t).item()
    return {"one": one, "loss": loss.item(), "loss_terms": _l(terms), "loss_after": loss_after,
            "outputs_after": _l(out_after), "layers": layers}


# ------------------------------------------------------------------ train_*: N epochs
def train(c: dict) -> dict:
    x, t, _ = _data(c)
    n, bsz = x.shape[0], c.get("batch_size", x.shape[0])
    net = Net(c, n)
    opt = make_optimizer(c, net.leaves())
    losses = epoch_losses(opt, n, bsz, c["epochs"],
                          lambda rows: mean_loss(c, _forward_batch(net, x[rows], rows.start), t[rows]))
    with torch.no_grad():
        final = mean_loss(c, net.forward(x)[1][-1], t).item()
    layers = []
    for lay in net.layers:
        if isinstance(lay, Recurrent):
            layers.append({"type": lay.kind, **{k: _l(p) for k, p in lay.P.items()}})
        else:
            layers.append({"type": "dense", "weights": _l(lay["W"]),
                           "biases": None if lay["b"] is None else _l(lay["b"])})
    return {"epochs": c["epochs"], "losses": losses, "loss_final": final, "layers": layers}


def _forward_batch(net: Net, xb: torch.Tensor, start: int) -> torch.Tensor:
    """The network on sequences start … start + len(xb) − 1 (their rows of h0 and c0)."""
    saved = [(lay.h0, lay.c0) for lay in net.layers if isinstance(lay, Recurrent)]
    for lay in net.layers:
        if isinstance(lay, Recurrent):
            lay.h0, lay.c0 = lay.h0[start:start + xb.shape[0]], lay.c0[start:start + xb.shape[0]]
    try:
        return net.forward(xb)[1][-1]
    finally:
        for lay, (h0, c0) in zip([la for la in net.layers if isinstance(la, Recurrent)], saved):
            lay.h0, lay.c0 = h0, c0


def check_train(c: dict) -> None:
    """The self-check on a train case's network as it starts."""
    x, t, _ = _data(c)
    self_check(c, Net(c, x.shape[0]), x, t)


def main() -> None:
    write_fixtures(OUT, __file__, run_cases(), one_step, train_cases(), train, check_train)


if __name__ == "__main__":
    main()
