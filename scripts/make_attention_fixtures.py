"""Make tests/fixtures/attention/run_*.json and train_*.json (self-attention over sequences) with PyTorch (float64).

Independent of bpcalc: each case's network is built here from its spec's numbers with torch tensors and autograd.
The spec follows issue 19's contract for `attention` (single-head scaled dot-product self-attention over a
sequence T x d: `weights_q`, `weights_k`, `weights_v` d_k x d each in nn.Linear layout, optional `weights_o`,
optional `biases_q`, `biases_k`, `biases_v`, `biases_o`, `causal`) and issue 18's sequence plumbing (inputs T x d
for one sequence, N x T x d for several; a dense layer after it applies to every step; targets per step, T x K or
N x T x K; the loss is the mean over the (sequence, step) terms of the per-step loss).

    Q = X W_qᵀ + b_q,  K = X W_kᵀ + b_k,  V = X W_vᵀ + b_v            (T x d_k per sequence)
    S = Q Kᵀ / √d_k   (causal: S[i, j] = −∞ for j > i)                (T x T)
    A = softmax(S) row by row;  H = A V;  out = H W_oᵀ + b_o (or H)

run_*: one full-batch step: for the attention layer q, k, v, scores (masked entries null), attention, h (A·V, before
W_o), a (its output) and every gradient (grad_q, grad_k, grad_v, grad_scores, grad_attention, grad_context, grad_a,
grad_inputs, grad_X for every parameter X) via retain_grad, the optimizer's state and new_X after one torch.optim
step; for the dense layer z, a, grad_a, delta and its parameters' gradients and new values; the loss (per step
term, per sequence, mean) before and after, and the outputs after. One sequence (inputs written T x d) drops the
sequence axis.
train_*: per-epoch losses (`running += loss.item() * batch_size`, then `/ n`, batches of sequences in order) and
the final parameters after N epochs.

Before writing, a self-check: the attention forward pass equals explicit numpy loops over i, j (softmax row by row,
masked entries skipped), the backward pass equals loops written from the softmax Jacobian a_i(δ_ij − a_j) (not
the fused shortcut), and every parameter's gradient agrees with central differences of the loss.
Run: python scripts/make_attention_fixtures.py   (needs torch; not a runtime or test dependency)
"""

from __future__ import annotations

import math
from functools import partial

import numpy as np
import torch
from fixturelib import (
    ACT,
    FIXTURES,
    F,
    as_lists,
    check_central_differences,
    epoch_losses,
    loss_terms,
    make_optimizer,
    onehot,
    optimizer_state,
    uniform,
    write_fixtures,
)
from fixturelib import OPTIMIZERS as SHARED_OPTIMIZERS

OUT = FIXTURES / "attention"
ATT_PARAMS = ("weights_q", "biases_q", "weights_k", "biases_k", "weights_v", "biases_v", "weights_o", "biases_o")


def attention(d: int, dk: int, seed: int, causal: bool | None = None, wo: int | None = None,
              biases: str = "") -> dict:
    """An attention layer over d features with d_k = dk; wo: W_o's rows (None: no output projection); biases:
    which of q, k, v, o get a bias ("qkvo": all)."""
    lay: dict = {"type": "attention"}
    for i, m in enumerate("qkv"):
        lay[f"weights_{m}"] = uniform((dk, d), seed + i, 0.9)
        if m in biases:
            lay[f"biases_{m}"] = uniform((dk,), seed + 10 + i, 0.2)
    if wo is not None:
        lay["weights_o"] = uniform((wo, dk), seed + 3, 0.9)
        if "o" in biases:
            lay["biases_o"] = uniform((wo,), seed + 13, 0.2)
    if causal is not None:
        lay["causal"] = causal
    return lay


def dense(w, b, act: str) -> dict:
    return {"type": "dense", "weights": w, "biases": b, "activation": act}


def optimizer_net(seed: int) -> dict:
    """3 sequences of 3 steps x 2 features -> causal attention d_k 2 with W_o and biases -> dense 2 softmax, CE.

    No b_k here: adding b_k to every key adds q_i·b_k to every score of row i, which the row's softmax ignores, so
    ∂E/∂b_k is 0 up to rounding, and an adaptive optimizer (Adagrad, Adam, RMSprop) scales that rounding noise up
    to a step of about ±α, different in every implementation."""
    return dict(inputs=uniform((3, 3, 2), seed), targets=onehot((3, 3), 2, seed + 1),
                layers=[attention(2, 2, seed + 2, causal=True, wo=2, biases="qvo"),
                        dense(uniform((2, 2), seed + 20, 0.8), uniform((2,), seed + 21, 0.1), "softmax")],
                loss="cross_entropy")


OPTIMIZERS = {**SHARED_OPTIMIZERS,
              "sgd_weight_decay": dict(learning_rate=0.5, optimizer={"type": "sgd", "weight_decay": 0.05})}


def run_cases() -> dict[str, dict]:
    return {
        # T = 1: the softmax of one score is 1, so the output is V itself and ∂E/∂scores is 0
        "t1_plain_linear_half_sse": dict(
            inputs=[[0.5, -0.25]], targets=[[0.3, -0.1]],
            layers=[attention(2, 2, 1), dense(uniform((2, 2), 5, 0.8), [0.1, -0.1], "linear")],
            loss="half_sse", learning_rate=0.1),
        "t1_batch_causal_wo_sigmoid_mse": dict(
            inputs=uniform((2, 1, 3), 6), targets=uniform((2, 1, 2), 7, 1.0),
            layers=[attention(3, 2, 8, causal=True, wo=3, biases="qkvo"),
                    dense(uniform((2, 3), 9, 0.8), uniform((2,), 10, 0.1), "sigmoid")],
            loss="mse", learning_rate=0.5),
        # T = 3, one sequence: without and with the mask, without and with W_o
        "t3_plain_tanh_half_sse": dict(
            inputs=uniform((3, 2), 21), targets=uniform((3, 2), 22, 0.5),
            layers=[attention(2, 2, 23, causal=False), dense(uniform((2, 2), 24, 0.8), uniform((2,), 25, 0.1), "tanh")],
            loss="half_sse", learning_rate=0.2),
        "t3_causal_softmax_ce": dict(
            inputs=uniform((3, 2), 31), targets=onehot((3,), 2, 32),
            layers=[attention(2, 2, 33, causal=True, biases="qkv"),
                    dense(uniform((2, 2), 34, 0.8), uniform((2,), 35, 0.1), "softmax")],
            loss="cross_entropy", learning_rate=0.5),
        "t3_wo_biases_linear_half_sse": dict(
            inputs=uniform((3, 2), 41), targets=uniform((3, 1), 42, 0.5),
            layers=[attention(2, 2, 43, wo=2, biases="qkvo"),
                    dense(uniform((1, 2), 44, 0.8), [0.05], "linear")],
            loss="half_sse", learning_rate=0.1),
        "t3_causal_wo_batch_sigmoid_mse": dict(
            inputs=uniform((2, 3, 2), 51), targets=uniform((2, 3, 2), 52, 1.0),
            layers=[attention(2, 3, 53, causal=True, wo=2),
                    dense(uniform((2, 2), 54, 0.8), uniform((2,), 55, 0.1), "sigmoid")],
            loss="mse", learning_rate=0.5),
        # T = 5: several sequences, d = 3, d_k = 2
        "t5_batch_plain_tanh_half_sse": dict(
            inputs=uniform((3, 5, 3), 61), targets=uniform((3, 5, 2), 62, 0.5),
            layers=[attention(3, 2, 63, biases="qk"), dense(uniform((2, 2), 64, 0.8), uniform((2,), 65, 0.1), "tanh")],
            loss="half_sse", learning_rate=0.2),
        "t5_causal_wo_softmax_ce": dict(
            inputs=uniform((5, 2), 71), targets=onehot((5,), 3, 72),
            layers=[attention(2, 3, 73, causal=True, wo=2, biases="qkvo"),
                    dense(uniform((3, 2), 74, 0.8), uniform((3,), 75, 0.1), "softmax")],
            loss="cross_entropy", learning_rate=0.5),
        "t5_batch_causal_wo_linear_mse": dict(
            inputs=uniform((2, 5, 2), 81), targets=uniform((2, 5, 2), 82, 1.0),
            layers=[attention(2, 2, 83, causal=True, wo=2, biases="v"),
                    dense(uniform((2, 2), 84, 0.8), uniform((2,), 85, 0.1), "linear")],
            loss="mse", learning_rate=0.1),
        **{f"opt_{name}": dict(optimizer_net(200), **o) for name, o in OPTIMIZERS.items()},
    }


def train_cases() -> dict[str, dict]:
    out = {f"opt_{name}": dict(optimizer_net(300 + 10 * i), epochs=3, **o)
           for i, (name, o) in enumerate(OPTIMIZERS.items())}
    out["minibatch_sgd"] = dict(optimizer_net(400), learning_rate=0.5, batch_size=2, shuffle=False, epochs=3)
    out["minibatch_adam_plain_mse"] = dict(
        inputs=uniform((4, 3, 2), 410), targets=uniform((4, 3, 2), 411, 1.0),
        layers=[attention(2, 2, 412), dense(uniform((2, 2), 413, 0.8), uniform((2,), 414, 0.1), "linear")],
        loss="mse", learning_rate=0.05, batch_size=2, shuffle=False, epochs=3, optimizer={"type": "adam"})
    return out


# ------------------------------------------------------------------ the network in torch
def _data(c: dict) -> tuple[torch.Tensor, torch.Tensor, bool]:
    """Inputs N x T x d, targets N x T x K, and whether the spec wrote one sequence."""
    x = torch.tensor(c["inputs"], dtype=torch.float64)
    one = x.dim() == 2
    t = torch.tensor(c["targets"], dtype=torch.float64)
    return (x.unsqueeze(0), t.unsqueeze(0), True) if one else (x, t, False)


class Net:
    """The case's parameters as leaf tensors (a dict by name per layer) and its forward pass."""

    def __init__(self, c: dict):
        self.layers = c["layers"]
        self.params: list[dict[str, torch.Tensor]] = []
        for lay in self.layers:
            names = ATT_PARAMS if lay["type"] == "attention" else ("weights", "biases")
            self.params.append({k: torch.tensor(lay[k], dtype=torch.float64).requires_grad_(True)
                                for k in names if lay.get(k) is not None})
        self.inner: dict[str, torch.Tensor] = {}

    def flat_params(self) -> list[torch.Tensor]:
        return [p for ps in self.params for p in ps.values()]

    def forward(self, x: torch.Tensor) -> tuple[list, list]:
        """Per layer (z or None, a); the attention layer's intermediates in self.inner."""
        zs, as_ = [], []
        a = x
        for lay, P in zip(self.layers, self.params):
            if lay["type"] == "attention":
                q = F.linear(a, P["weights_q"], P.get("biases_q"))
                k = F.linear(a, P["weights_k"], P.get("biases_k"))
                v = F.linear(a, P["weights_v"], P.get("biases_v"))
                s = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
                T = s.shape[-1]
                mask = torch.ones(T, T, dtype=torch.bool).triu(1) if lay.get("causal", False) else None
                sm = s.masked_fill(mask, float("-inf")) if mask is not None else s
                att = torch.softmax(sm, -1)
                h = att @ v
                out = F.linear(h, P["weights_o"], P.get("biases_o")) if "weights_o" in P else h
                self.inner = {"q": q, "k": k, "v": v, "scores": s, "attention": att, "context": h}
                self.mask = mask
                zs.append(None)
                a = out
            else:
                z = F.linear(a, P["weights"], P.get("biases"))
                zs.append(z)
                a = ACT[lay["activation"]](z)
            as_.append(a)
        return zs, as_


def mean_loss(name: str, a: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """The mean over (sequence, step) of the per-step loss."""
    return loss_terms(name, a, t).sum(-1).mean()


# ------------------------------------------------------------------ run_*: one step, every intermediate
def one_step(c: dict) -> dict:
    x, t, one = _data(c)
    x.requires_grad_(True)
    net = Net(c)
    opt = make_optimizer(c, net.flat_params())
    zs, as_ = net.forward(x)
    inner = net.inner
    for v in [z for z in zs if z is not None] + as_ + list(inner.values()):
        v.retain_grad()
    terms = loss_terms(c["loss"], as_[-1], t)
    seq_loss = terms.sum(-1).mean(-1)
    loss = terms.sum(-1).mean()
    loss.backward()
    self_check(c, net, x, t, as_)
    grads = [{k: p.grad.clone() for k, p in P.items()} for P in net.params]
    opt.step()
    with torch.no_grad():
        _, as2 = net.forward(x)
        loss_after = mean_loss(c["loss"], as2[-1], t).item()

    out = partial(as_lists, one=one)

    layers = []
    for i, (lay, P) in enumerate(zip(net.layers, net.params)):
        d: dict = {"type": lay["type"]}
        if lay["type"] == "attention":
            s = inner["scores"].detach().clone()
            scores = (s[0] if one else s).tolist()
            if net.mask is not None:  # masked entries: −∞ before the softmax, written null
                m = net.mask.tolist()
                for seq in ([scores] if one else scores):
                    for r, row in enumerate(seq):
                        for col in range(len(row)):
                            if m[r][col]:
                                row[col] = None
            d.update(q=out(inner["q"]), k=out(inner["k"]), v=out(inner["v"]), scores=scores,
                     attention=out(inner["attention"]), context=out(inner["context"]),
                     grad_q=out(inner["q"].grad), grad_k=out(inner["k"].grad), grad_v=out(inner["v"].grad),
                     grad_scores=out(inner["scores"].grad), grad_attention=out(inner["attention"].grad),
                     grad_context=out(inner["context"].grad), grad_inputs=out(x.grad))
        else:
            d.update(activation=lay["activation"], z=out(zs[i]), delta=out(zs[i].grad))
        d.update(a=out(as_[i]), grad_a=out(as_[i].grad))
        for k, p in P.items():
            d[k] = lay[k]
            d[f"grad_{k}"] = grads[i][k].tolist()
            d[f"new_{k}"] = p.detach().tolist()
        if state := optimizer_state(opt, P):
            d["optimizer_state"] = state
        layers.append(d)
    return {"loss": loss.item(), "sequence_loss": seq_loss.tolist(), "loss_terms": out(terms),
            "loss_after": loss_after, "outputs_after": out(as2[-1]), "layers": layers}


# ------------------------------------------------------------------ train_*: N epochs
def train(c: dict) -> dict:
    x, t, _ = _data(c)
    net = Net(c)
    opt = make_optimizer(c, net.flat_params())
    n, bsz = x.shape[0], c.get("batch_size", x.shape[0])
    losses = epoch_losses(opt, n, bsz, c["epochs"],
                          lambda rows: mean_loss(c["loss"], net.forward(x[rows])[1][-1], t[rows]))
    with torch.no_grad():
        final = mean_loss(c["loss"], net.forward(x)[1][-1], t).item()
    return {"epochs": c["epochs"], "losses": losses, "loss_final": final,
            "layers": [{"type": lay["type"], **{k: p.detach().tolist() for k, p in P.items()}}
                       for lay, P in zip(net.layers, net.params)]}


# ------------------------------------------------------------------ self-check: loops and finite differences
def _np_attention(x: np.ndarray, P: dict, causal: bool) -> dict:
    """The forward pass by loops over sequences, steps and features."""
    n, T, d = x.shape

    def lin(w, b, m):
        y = np.zeros((n, T, w.shape[0]))
        for s in range(n):
            for i in range(T):
                for r in range(w.shape[0]):
                    y[s, i, r] = sum(w[r, c] * m[s, i, c] for c in range(m.shape[2])) + (0.0 if b is None else b[r])
        return y

    q, k, v = (lin(P[f"weights_{m}"], P.get(f"biases_{m}"), x) for m in "qkv")
    dk = q.shape[2]
    att, h = np.zeros((n, T, T)), np.zeros((n, T, v.shape[2]))
    for s in range(n):
        for i in range(T):
            seen = range(i + 1) if causal else range(T)
            sc = [sum(q[s, i, c] * k[s, j, c] for c in range(dk)) / math.sqrt(dk) for j in seen]
            top = max(sc)
            e = [math.exp(v_ - top) for v_ in sc]
            for j, ej in zip(seen, e):
                att[s, i, j] = ej / sum(e)
            for c in range(v.shape[2]):
                h[s, i, c] = sum(att[s, i, j] * v[s, j, c] for j in range(T))
    out = lin(P["weights_o"], P.get("biases_o"), h) if "weights_o" in P else h
    return {"q": q, "k": k, "v": v, "attention": att, "context": h, "out": out}


def _np_attention_back(f: dict, P: dict, g_h: np.ndarray) -> dict:
    """From ∂E/∂h: ∂E/∂A = g_h Vᵀ, ∂E/∂S through each row's softmax Jacobian a_i(δ_ij − a_j) as a full sum,
    then the scaling and the three projections, by loops."""
    att, q, k, v = f["attention"], f["q"], f["k"], f["v"]
    n, T, dk = q.shape
    gA = np.einsum("nic,njc->nij", g_h, v)
    gV = np.einsum("nij,nic->njc", att, g_h)
    gS = np.zeros_like(att)
    for s in range(n):
        for i in range(T):
            for j in range(T):
                gS[s, i, j] = sum(gA[s, i, m] * att[s, i, m] * ((m == j) - att[s, i, j]) for m in range(T))
    gQ = np.einsum("nij,njc->nic", gS, k) / math.sqrt(dk)
    gK = np.einsum("nij,nic->njc", gS, q) / math.sqrt(dk)
    return {"attention": gA, "scores": gS, "q": gQ, "k": gK, "v": gV}


def self_check(c: dict, net: Net, x, t, as_) -> None:
    lay, P = c["layers"][0], {k: p.detach().numpy() for k, p in net.params[0].items()}
    f = _np_attention(x.detach().numpy(), P, lay.get("causal", False))
    inner = net.inner
    for key in ("q", "k", "v", "attention", "context"):
        np.testing.assert_allclose(f[key], inner[key].detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(f["out"], as_[0].detach().numpy(), rtol=1e-12, atol=1e-14)
    g = _np_attention_back(f, P, inner["context"].grad.numpy())
    for key in ("attention", "scores", "q", "k", "v"):
        np.testing.assert_allclose(g[key], inner[key].grad.numpy(), rtol=1e-10, atol=1e-14, err_msg=key)
    if x.shape[1] == 1:
        assert not np.any(g["scores"]), "T = 1: ∂E/∂scores must be 0"
    check_central_differences(net.flat_params() + [x], lambda: mean_loss(c["loss"], net.forward(x)[1][-1], t),
                              c["_name"])


def check_train(c: dict) -> None:
    """The self-check on a train case's network as it starts."""
    x, t, _ = _data(c)
    x.requires_grad_(True)
    net = Net(c)
    _, as_ = net.forward(x)
    for v in list(net.inner.values()):
        v.retain_grad()
    mean_loss(c["loss"], as_[-1], t).backward()
    self_check(c, net, x, t, as_)


def main() -> None:
    write_fixtures(OUT, __file__, run_cases(), one_step, train_cases(), train, check_train)


if __name__ == "__main__":
    main()
