"""Make tests/fixtures/seq/run_*.json and train_*.json (recurrent networks, issue 18) with PyTorch (float64).

Independent of bpcalc: each case's network is built here from its spec's numbers. The rnn layer is unrolled by
hand in torch (h_t = f(x_t W_ihᵀ + b_ih + h_{t−1} W_hhᵀ + b_hh), every h_t and pre-activation kept with
retain_grad, the state detached before steps k, 2k, … under `truncate: k`), differentiated by autograd and
updated by torch.optim; a self-check first asserts the unrolled forward equals torch.nn.RNN (batch_first) with the
same weights, and that without truncation the gradients equal nn.RNN's. Dense layers after it are F.linear over
every step. The loss is the mean over the (sequence, step) terms that enter it (`targets_at: all`: every step;
`last`: the last step's output only).

run_*: one full-batch step: for the rnn layer h, its pre-activation, grad_a (∂E/∂h_t through this step's output
only: the grad of nn.RNN's output), grad_h (∂E/∂h_t, both paths: the unrolled h_t's grad), grad_h_next (the path
from step t+1: their difference), grad_preactivation, grad_h_norm, the gradients and new parameters; for dense
layers z, a, grad_a, delta, gradients, new parameters; the loss per term and mean, before and after.
Arrays of one sequence (inputs written T × features) drop the sample axis, except sample_loss (per sequence
and step, (n, T); (n,) for `targets_at: last`), which keeps it as for every network.
train_*: per-epoch losses (`running += loss.item() · terms in batch`, then / all terms) and final parameters.
`h0` is H values (every sequence's start) or N × H (one row per sequence): a mini-batch takes its sequences' rows.
Run: python scripts/make_seq_fixtures.py   (needs torch; not a runtime or test dependency)
"""

from __future__ import annotations

from functools import partial

import numpy as np
import torch
from fixturelib import ACT, FIXTURES, F, as_lists, epoch_losses, make_optimizer, uniform, write_json
from fixturelib import loss_terms as _loss_terms

OUT = FIXTURES / "seq"
RNN_PARAMS = ("weights_ih", "weights_hh", "biases_ih", "biases_hh")


def rnn(F_: int, H: int, seed: int, scale: float = 0.6, **extra) -> dict:
    return {"type": "rnn", "weights_ih": uniform((H, F_), seed, scale), "weights_hh": uniform((H, H), seed + 1, scale),
            "biases_ih": uniform((H,), seed + 2, 0.2), "biases_hh": uniform((H,), seed + 3, 0.2), **extra}


def dense(K: int, H: int, seed: int, act: str = "linear") -> dict:
    return {"weights": uniform((K, H), seed, 0.8), "biases": uniform((K,), seed + 1, 0.2), "activation": act}


OPTIMIZERS = {
    "sgd": dict(learning_rate=0.3),
    "momentum": dict(learning_rate=0.2, optimizer={"type": "momentum", "momentum": 0.9}),
    "nesterov": dict(learning_rate=0.2, optimizer={"type": "nesterov", "momentum": 0.8}),
    "rmsprop": dict(learning_rate=0.01, optimizer={"type": "rmsprop", "alpha": 0.9, "epsilon": 1e-6}),
    "adagrad": dict(learning_rate=0.1, optimizer={"type": "adagrad", "epsilon": 1e-8}),
    "adam": dict(learning_rate=0.05, optimizer={"type": "adam", "beta1": 0.9, "beta2": 0.99, "epsilon": 1e-8}),
    "adamw": dict(learning_rate=0.05, optimizer={"type": "adamw", "beta1": 0.8, "beta2": 0.99, "epsilon": 1e-6,
                                                 "weight_decay": 0.1}),
}


def run_cases() -> dict[str, dict]:
    return {
        # one sequence, a flat list: T = 5 steps of one feature; rnn 2 -> dense 1, every step a target
        "one_flat_T5": dict(inputs=[0.5, -0.3, 0.8, 0.1, -0.6], targets=[0.2, -0.1, 0.4, 0.0, -0.3],
                            layers=[rnn(1, 2, 10), dense(1, 2, 14)], loss="half_sse", learning_rate=0.3),
        # one step (T = 1): no path from a later step
        "one_T1": dict(inputs=[[0.4, -0.7]], targets=[[0.3]], layers=[rnn(2, 3, 20), dense(1, 3, 24)],
                       loss="half_sse", learning_rate=0.5),
        # several sequences, T = 2, 2 features, h0 given, mse
        "several_T2_h0": dict(inputs=uniform((3, 2, 2), 30), targets=uniform((3, 2, 2), 31, 0.5),
                              layers=[rnn(2, 2, 32, h0=[0.1, -0.2]), dense(2, 2, 36, "tanh")],
                              loss="mse", learning_rate=0.5),
        # several sequences, T = 5, targets at the last step only
        "several_T5_last": dict(inputs=uniform((2, 5, 2), 40), targets=uniform((2, 1), 41, 0.5), targets_at="last",
                                layers=[rnn(2, 3, 42), dense(1, 3, 46)], loss="half_sse", learning_rate=0.3),
        # truncation: T = 5, truncate 2 (the state detached before steps 3 and 5)
        "several_T5_truncate2": dict(inputs=uniform((2, 5, 1), 50), targets=uniform((2, 5, 1), 51, 0.5),
                                     layers=[rnn(1, 2, 52, 1.2, truncate=2), dense(1, 2, 56)], loss="half_sse",
                                     learning_rate=0.3),
        # truncation with targets at the last step: the gradient reaches back to step 4 only
        "one_T5_truncate3_last": dict(inputs=uniform((5, 2), 60), targets=[0.5], targets_at="last",
                                      layers=[rnn(2, 2, 62, truncate=3), dense(1, 2, 66)], loss="half_sse",
                                      learning_rate=0.3),
        # relu RNN (PyTorch's nonlinearity='relu'), sigmoid outputs, binary cross-entropy per step
        "relu_T5": dict(inputs=uniform((2, 5, 2), 70), targets=[[[1.0], [0.0], [1.0], [1.0], [0.0]],
                                                              [[0.0], [0.0], [1.0], [0.0], [1.0]]],
                        layers=[rnn(2, 3, 72, activation="relu"), dense(1, 3, 76, "sigmoid")],
                        loss="binary_cross_entropy", learning_rate=0.5),
        # the rnn layer is the output: its h at every step compared with the targets (no dense layer)
        "several_T3_rnn_output": dict(inputs=uniform((2, 3, 1), 90), targets=uniform((2, 3, 2), 91, 0.5),
                                      layers=[rnn(1, 2, 92, 0.9)], loss="half_sse", learning_rate=0.5),
        # softmax over classes per step, cross-entropy; adam
        "softmax_ce_adam": dict(inputs=uniform((2, 3, 2), 80), targets=[[[1, 0, 0], [0, 1, 0], [0, 0, 1]],
                                                                     [[0, 0, 1], [1, 0, 0], [0, 1, 0]]],
                                layers=[rnn(2, 2, 82), dense(3, 2, 86, "softmax")], loss="cross_entropy",
                                learning_rate=0.05, optimizer={"type": "adam"}),
    }


def train_cases() -> dict[str, dict]:
    out = {}
    for i, (name, o) in enumerate(OPTIMIZERS.items()):
        out[f"opt_{name}"] = dict(inputs=uniform((3, 4, 2), 300 + 10 * i),
                                  targets=uniform((3, 4, 1), 301 + 10 * i, 0.5),
                                  layers=[rnn(2, 3, 302 + 10 * i), dense(1, 3, 306 + 10 * i)], loss="half_sse",
                                  epochs=3, **o)
    # one initial state per sequence (h0 N × H) with mini-batches: each batch starts from its own sequences' rows
    out["minibatch_h0_rows_sgd"] = dict(
        inputs=uniform((4, 3, 2), 500), targets=uniform((4, 3, 1), 501, 0.5),
        layers=[rnn(2, 2, 502, 0.8, h0=uniform((4, 2), 506, 0.8)), dense(1, 2, 507)], loss="half_sse",
        learning_rate=0.3, batch_size=2, epochs=2)
    # … shuffled: a batch is the sequences of numpy's default_rng((seed, epoch − 1)).permutation(n), as bpcalc
    # draws them, each with its own row of h0
    out["minibatch_h0_rows_shuffle"] = dict(
        inputs=uniform((5, 2, 1), 510), targets=uniform((5, 2, 1), 511, 0.5),
        layers=[rnn(1, 2, 512, 0.8, h0=uniform((5, 2), 516, 0.8)), dense(1, 2, 517)], loss="half_sse",
        learning_rate=0.3, batch_size=2, shuffle=True, seed=7, epochs=2, optimizer={"type": "momentum"})
    # `freeze: [weights_hh]`: W_hh stays (requires_grad False, left out of the optimizer), the others train
    out["freeze_weights_hh_adam"] = dict(
        inputs=uniform((3, 4, 2), 520), targets=uniform((3, 4, 1), 521, 0.5),
        layers=[rnn(2, 3, 522), dense(1, 3, 526)], loss="half_sse", freeze=["weights_hh"], epochs=3,
        **OPTIMIZERS["adam"])
    out["minibatch_last_truncate"] = dict(
        inputs=uniform((4, 5, 1), 400), targets=uniform((4, 1), 401, 0.5), targets_at="last",
        layers=[rnn(1, 2, 402, truncate=2), dense(1, 2, 406)], loss="half_sse", learning_rate=0.3, batch_size=2,
        epochs=3)
    return out


# ------------------------------------------------------------------ the network in torch
def _data(c: dict) -> tuple[torch.Tensor, torch.Tensor, bool]:
    x = torch.tensor(c["inputs"], dtype=torch.float64)
    one = x.dim() <= 2
    x = x.reshape(1, -1, 1) if x.dim() == 1 else x.unsqueeze(0) if x.dim() == 2 else x
    n, T = x.shape[:2]
    last = c["layers"][-1]
    K = len(last["weights_hh"]) if last.get("type") == "rnn" else len(last["biases"])
    t = torch.tensor(c["targets"], dtype=torch.float64)
    t = t.reshape(n, T, K) if c.get("targets_at", "all") == "all" else t.reshape(n, K)
    return x, t, one


class Net:
    def __init__(self, c: dict):
        self.layers = [lay if lay.get("type") == "rnn" else {"type": "dense", "activation": "sigmoid", **lay}
                       for lay in c["layers"]]
        self.params = []
        frozen = set(c.get("freeze", ()))  # not updated: requires_grad False, left out of the optimizer
        for lay in self.layers:
            keys = RNN_PARAMS if lay["type"] == "rnn" else ("weights", "biases")
            self.params.append({k: torch.tensor(lay[k], dtype=torch.float64).requires_grad_(k not in frozen)
                                for k in keys})

    def flat_params(self) -> list[torch.Tensor]:
        return [p for d in self.params for p in d.values() if p.requires_grad]

    def forward(self, x: torch.Tensor, keep: dict | None = None, rows=slice(None)) -> tuple[list, list]:
        """The network on x, the sequences `rows` of the case's (their rows of an N × H h0)."""
        zs, as_ = [], []
        a = x
        for li, (lay, P) in enumerate(zip(self.layers, self.params)):
            if lay["type"] == "rnn":
                n, T, _ = a.shape
                f = ACT[lay.get("activation", "tanh")]
                h = _h0(lay, rows, n, P["weights_hh"].shape[0])
                hs, pres = [], []
                k = lay.get("truncate")
                for t in range(T):
                    if k is not None and t > 0 and t % k == 0:
                        h = h.detach()
                    pre = F.linear(a[:, t], P["weights_ih"], P["biases_ih"]) + F.linear(h, P["weights_hh"],
                                                                                       P["biases_hh"])
                    h = f(pre)
                    if keep is not None:
                        pre.retain_grad()
                        h.retain_grad()
                    hs.append(h)
                    pres.append(pre)
                if keep is not None:
                    keep[li] = (hs, pres)
                # the layer's output as the layer above reads it: a copy of the steps' h through a leaf-like view,
                # so its grad is the path from each step's output only
                out = torch.stack(hs, 1)
                if keep is not None:
                    out.retain_grad()
                zs.append(None)
                as_.append(out)
                a = out
            else:
                z = F.linear(a, P["weights"], P["biases"])
                a = ACT[lay["activation"]](z)
                zs.append(z)
                as_.append(a)
        return zs, as_


def _h0(lay: dict, rows, n: int, H: int) -> torch.Tensor:
    """The initial state of n sequences: zeros, h0 (H values) for each, or the sequences' rows of h0 (N × H)."""
    if "h0" not in lay:
        return torch.zeros(n, H)
    h0 = torch.tensor(lay["h0"])
    return h0[rows] if h0.dim() == 2 else h0.expand(n, -1)


def rows(c: dict, y: torch.Tensor) -> torch.Tensor:
    return y[:, -1] if c.get("targets_at", "all") == "last" else y.reshape(-1, y.shape[-1])


def loss_terms(name: str, a: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Each output's term of each row's loss (shaped like a); binary cross-entropy's terms not divided by K."""
    if name == "binary_cross_entropy":
        return -(t * torch.log(a) + (1 - t) * torch.log(1 - a))
    return _loss_terms(name, a, t)


def mean_loss(c: dict, y: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    return loss_terms(c["loss"], rows(c, y), rows(c, t) if t.dim() == 3 else t).sum(-1).mean()


def self_check(c: dict, x: torch.Tensor, t: torch.Tensor) -> None:
    """The unrolled rnn equals torch.nn.RNN (batch_first) forward; without truncation, so do the gradients."""
    net = Net(c)
    lay, P = net.layers[0], net.params[0]
    H, Fin = P["weights_ih"].shape
    m = torch.nn.RNN(Fin, H, nonlinearity=lay.get("activation", "tanh"), batch_first=True)
    with torch.no_grad():
        for ours, theirs in zip(RNN_PARAMS, ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")):
            getattr(m, theirs).copy_(P[ours])
    h0 = _h0(lay, slice(None), x.shape[0], H)[None]
    ref, _ = m(x, h0.contiguous())
    _zs, as_ = net.forward(x)
    assert torch.allclose(as_[0], ref, rtol=0, atol=1e-14), "unrolled rnn != nn.RNN"
    if "truncate" in lay:
        return
    a = ref
    for lay2, P2 in zip(net.layers[1:], net.params[1:]):
        a = ACT[lay2["activation"]](F.linear(a, P2["weights"], P2["biases"]))
    mean_loss(c, a, t).backward()
    mean_loss(c, as_[-1], t).backward()
    for ours, theirs in zip(RNN_PARAMS, ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")):
        assert torch.allclose(P[ours].grad, getattr(m, theirs).grad, rtol=1e-12, atol=1e-15), ours


def one_step(c: dict) -> dict:
    x, t, one = _data(c)
    self_check(c, x, t)
    net = Net(c)
    opt = make_optimizer(c, net.flat_params())
    keep: dict = {}
    zs, as_ = net.forward(x, keep)
    for v in zs + as_:
        if v is not None and not v.is_leaf:
            v.retain_grad()
    y = as_[-1]
    terms = loss_terms(c["loss"], rows(c, y), rows(c, t) if t.dim() == 3 else t)
    per = terms.sum(-1)
    loss = per.mean()
    loss.backward()
    grads = [{k: p.grad.clone() for k, p in P.items()} for P in net.params]
    opt.step()
    with torch.no_grad():
        loss_after = mean_loss(c, net.forward(x)[1][-1], t).item()
        y_after = net.forward(x)[1][-1]

    out = partial(as_lists, one=one)

    n, T = x.shape[:2]
    shaped_terms = terms.reshape(n, T, -1) if c.get("targets_at", "all") == "all" else terms
    layers = []
    for i, (lay, P) in enumerate(zip(net.layers, net.params)):
        d: dict = {"type": lay["type"]}
        if lay["type"] == "rnn":
            hs, pres = keep[i]
            gh = torch.stack([h.grad for h in hs], 1)
            d.update(h=out(as_[i]), preactivation=out(torch.stack(pres, 1)), grad_a=out(as_[i].grad),
                     grad_h=out(gh), grad_h_next=out(gh - as_[i].grad),
                     grad_preactivation=out(torch.stack([p.grad for p in pres], 1)),
                     grad_h_norm=out(gh.norm(dim=-1)))
        else:
            d.update(z=out(zs[i]), a=out(as_[i]), grad_a=out(as_[i].grad), delta=out(zs[i].grad))
        for k, p in P.items():
            d[k] = torch.tensor(lay[k]).tolist()
            d[f"grad_{k}"] = grads[i][k].tolist()
            d[f"new_{k}"] = p.detach().tolist()
        layers.append(d)
    return {"loss": loss.item(), "loss_terms": out(shaped_terms),
            "sample_loss": (per.reshape(n, T) if c.get("targets_at", "all") == "all" else per).tolist(),
            "loss_after": loss_after, "outputs_after": out(y_after), "layers": layers}


def train(c: dict) -> dict:
    x, t, _ = _data(c)
    net = Net(c)
    opt = make_optimizer(c, net.flat_params())
    n, bsz = x.shape[0], c.get("batch_size", x.shape[0])
    per_seq = x.shape[1] if c.get("targets_at", "all") == "all" else 1
    order = (lambda e: np.random.default_rng((c.get("seed", 0), e)).permutation(n)) if c.get("shuffle") else None
    losses = epoch_losses(opt, n, bsz, c["epochs"],
                          lambda rows: mean_loss(c, net.forward(x[rows], rows=rows)[1][-1], t[rows]), per_seq, order)
    with torch.no_grad():
        final = mean_loss(c, net.forward(x)[1][-1], t).item()
    return {"epochs": c["epochs"], "losses": losses, "loss_final": final,
            "layers": [{k: p.detach().tolist() for k, p in P.items()} for P in net.params]}


def main() -> None:
    for name, c in run_cases().items():
        write_json(OUT / f"run_{name}.json", {"case": name, "spec": c, "expected": one_step(c)})
    for name, c in train_cases().items():
        spec = {k: v for k, v in c.items() if k != "epochs"}
        write_json(OUT / f"train_{name}.json", {"case": name, "spec": spec, "expected": train(c)})
    print(f"wrote {len(run_cases())} run and {len(train_cases())} train fixtures to {OUT}")


if __name__ == "__main__":
    main()
