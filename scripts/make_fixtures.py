"""Make tests/fixtures/train_*.json and run_*.json with PyTorch (float64).

train_*: per-epoch losses and final parameters of training runs. Independent of bpcalc: each case's network is
built here from its numbers with torch tensors, trained with torch.optim (SGD, SGD with momentum or Nesterov
momentum, RMSprop, Adagrad, Adam, AdamW; weight_decay), batches taken in order, and the epoch loss logged the
usual way (`running += loss.item() * batch_size`, then `/ n`).

run_*: one full-batch step (what `bpcalc run` shows): every layer's z, a, ∂E/∂a, ∂a/∂z, δ = ∂E/∂z (all of the
mean loss over the samples, via retain_grad), the parameters' gradients, the optimizer's state and the new
parameters after one torch.optim step, and the loss (per sample and per output term) before and after.

The spec text stored with each case is what the tests give bpcalc. A fixture whose numbers are unchanged is not
rewritten. Run: python scripts/make_fixtures.py   (needs torch; not a runtime or test dependency)
"""

from __future__ import annotations

import torch
from fixturelib import ACT as BASE_ACT
from fixturelib import (
    FIXTURES,
    F,
    epoch_losses,
    loss_terms,
    made_by,
    make_optimizer,
    optimizer_state,
    spec_yaml,
    write_case,
)

OUT = FIXTURES

CLASSIC = dict(inputs=[[0.05, 0.10]], targets=[[0.01, 0.99]],
               layers=[dict(weights=[[0.15, 0.20], [0.25, 0.30]], biases=[0.35, 0.35], activation="sigmoid"),
                       dict(weights=[[0.40, 0.45], [0.50, 0.55]], biases=[0.60, 0.60], activation="sigmoid")],
               loss="half_sse", learning_rate=0.5)


def _data(n: int, k_in: int, k_out: int, seed: int, onehot: bool = False):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, k_in, generator=g) * 2 - 1
    if onehot:
        cls = torch.randint(0, k_out, (n,), generator=g)
        t = torch.nn.functional.one_hot(cls, k_out).to(torch.float64)
    else:
        t = torch.rand(n, k_out, generator=g)
    return [[round(float(v), 6) for v in row] for row in x], [[round(float(v), 6) for v in row] for row in t]


def _layers(sizes: list[int], acts: list[str], seed: int, biases: bool = True) -> list[dict]:
    g = torch.Generator().manual_seed(seed)
    out = []
    for (k, j), act in zip(zip(sizes[:-1], sizes[1:]), acts):
        w = (torch.rand(j, k, generator=g) - 0.5).tolist()
        d = {"weights": [[round(v, 6) for v in r] for r in w], "activation": act}
        if biases:
            d["biases"] = [round(v, 6) for v in ((torch.rand(j, generator=g) - 0.5) * 0.2).tolist()]
        out.append(d)
    return out


def cases() -> dict[str, dict]:
    xs, ts = _data(6, 3, 2, 1)
    xc, tc = _data(7, 4, 3, 2, onehot=True)
    xr, tr = _data(5, 2, 1, 3)
    return {
        "classic_sgd": dict(CLASSIC, epochs=100),
        "classic_momentum": dict(CLASSIC, optimizer={"type": "momentum", "momentum": 0.9}, epochs=60),
        "classic_adam": dict(CLASSIC, learning_rate=0.05, optimizer={"type": "adam", "beta1": 0.9, "beta2": 0.999,
                                                                     "epsilon": 1e-8}, epochs=60),
        "classic_adam_weight_decay": dict(CLASSIC, learning_rate=0.05, optimizer={
            "type": "adam", "beta1": 0.8, "beta2": 0.99, "epsilon": 1e-6, "weight_decay": 0.01}, epochs=60),
        "classic_sgd_weight_decay": dict(CLASSIC, weight_decay=0.05, epochs=40),
        "classic_frozen_biases": dict(CLASSIC, freeze=["biases"], epochs=50),
        "xor_samples": dict(inputs=[[0, 0], [0, 1], [1, 0], [1, 1]], targets=[[0], [1], [1], [0]],
                            layers=[dict(weights=[[0.5, -0.4], [0.3, 0.8]], biases=[0.1, -0.2], activation="sigmoid"),
                                    dict(weights=[[0.7, -0.6]], biases=[0.05], activation="sigmoid")],
                            loss="half_sse", learning_rate=0.5, epochs=100),
        "minibatch_momentum_mse": dict(inputs=xs, targets=ts, layers=_layers([3, 4, 2], ["tanh", "sigmoid"], 11),
                                       loss="mse", learning_rate=0.3, batch_size=4,
                                       optimizer={"type": "momentum", "momentum": 0.5}, epochs=30),
        "minibatch_adam_softmax_ce": dict(inputs=xc, targets=tc, layers=_layers([4, 5, 3], ["sigmoid", "softmax"], 12),
                                          loss="cross_entropy", learning_rate=0.02, batch_size=3,
                                          optimizer={"type": "adam"}, epochs=40),
        "minibatch_sgd_relu_linear_sse": dict(inputs=xr, targets=tr,
                                              layers=_layers([2, 3, 1], ["relu", "linear"], 13),
                                              loss="sse", learning_rate=0.05, batch_size=2, epochs=30),
        "bce_leaky_relu_no_biases": dict(inputs=xs, targets=[[round(v, 0) for v in r] for r in ts],
                                         layers=_layers([3, 3, 2], ["leaky_relu", "sigmoid"], 14, biases=False),
                                         loss="binary_cross_entropy", learning_rate=0.4, epochs=40),
        **new_train_cases(xs, ts),
    }


def new_train_cases(xs: list, ts: list) -> dict[str, dict]:
    """The optimizers, activations and loss added after the cases above (those stay as they were)."""
    th = [[round(4 * v - 2, 6) for v in r] for r in ts]  # targets in (−2, 2): residuals both sides of huber's 1
    mb = dict(inputs=xs, targets=ts, loss="mse", batch_size=4, epochs=30)
    out = {
        "classic_nesterov": dict(CLASSIC, optimizer={"type": "nesterov", "momentum": 0.9}, epochs=60),
        "classic_rmsprop": dict(CLASSIC, learning_rate=0.01, optimizer={"type": "rmsprop", "alpha": 0.9,
                                                                        "epsilon": 1e-6}, epochs=60),
        "classic_rmsprop_defaults": dict(CLASSIC, learning_rate=0.01, optimizer={"type": "rmsprop"}, epochs=60),
        "classic_adagrad": dict(CLASSIC, learning_rate=0.1, optimizer={"type": "adagrad", "epsilon": 1e-6},
                                epochs=60),
        "classic_adagrad_defaults": dict(CLASSIC, learning_rate=0.1, optimizer={"type": "adagrad"}, epochs=60),
        "classic_adamw": dict(CLASSIC, learning_rate=0.05, optimizer={
            "type": "adamw", "beta1": 0.8, "beta2": 0.99, "epsilon": 1e-6, "weight_decay": 0.1}, epochs=60),
        "classic_adamw_defaults": dict(CLASSIC, learning_rate=0.05, optimizer={"type": "adamw"}, epochs=60),
        "minibatch_nesterov_mse": dict(mb, layers=_layers([3, 4, 2], ["tanh", "sigmoid"], 21), learning_rate=0.3,
                                       optimizer={"type": "nesterov", "momentum": 0.5}),
        "minibatch_rmsprop_mse": dict(mb, layers=_layers([3, 4, 2], ["tanh", "sigmoid"], 22), learning_rate=0.01,
                                      optimizer={"type": "rmsprop", "alpha": 0.95, "epsilon": 1e-8}),
        "minibatch_adagrad_mse": dict(mb, layers=_layers([3, 4, 2], ["tanh", "sigmoid"], 23), learning_rate=0.05,
                                      optimizer={"type": "adagrad", "epsilon": 1e-10}),
        "minibatch_adamw_mse": dict(mb, layers=_layers([3, 4, 2], ["tanh", "sigmoid"], 24), learning_rate=0.02,
                                    optimizer={"type": "adamw", "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8,
                                               "weight_decay": 0.05}),
        "minibatch_huber_tanh_linear": dict(mb, targets=th, layers=_layers([3, 4, 2], ["tanh", "linear"], 25),
                                            loss="huber", learning_rate=0.2),
        "classic_huber": dict(CLASSIC, targets=[[1.6, -0.3]], loss="huber", epochs=50),
    }
    for i, act in enumerate(["gelu", "silu", "softplus", "elu"]):
        out[f"minibatch_{act}_{act}_mse"] = dict(mb, layers=_layers([3, 4, 2], [act, act], 31 + i), batch_size=3,
                                                 learning_rate=0.3)
        out[f"classic_{act}_sigmoid"] = dict(CLASSIC, layers=[dict(lay) for lay in CLASSIC["layers"]], epochs=40)
        out[f"classic_{act}_sigmoid"]["layers"][0]["activation"] = act
    for name in ("nesterov", "rmsprop", "adagrad", "adamw"):  # `step --epochs 2` on run_<name>'s network
        rc = run_cases()[name]
        out[f"two_steps_{name}"] = dict(rc, epochs=2)
    return out


# ------------------------------------------------------------------ run_*: one step, every intermediate
X3 = [[0.5, -0.2], [0.1, 0.4], [-0.3, 0.8]]  # 3 samples, 2 inputs
T3 = [[0.2, 0.9], [0.7, 0.1], [0.4, 0.6]]    # 2 outputs
W3 = [[0.8, -0.6], [0.3, 1.2], [-1.0, 0.5]]  # 2-3-2: hidden z spans about −0.6 … 1.0, both signs in every neuron
B3 = [0.1, -0.2, 0.3]
V3 = [[0.7, -0.4, 0.9], [-0.5, 0.6, 0.2]]
C3 = [0.05, -0.1]
TH = [[2.0, -0.1], [0.3, -1.6], [-0.2, 1.9]]  # huber targets: |a − t| > 1 for three terms, < 1 for the others


def net3(hidden: str, out: str, loss: str, targets=T3, lr: float = 0.5, **kw) -> dict:
    return dict(inputs=X3, targets=targets,
                layers=[dict(weights=W3, biases=B3, activation=hidden), dict(weights=V3, biases=C3, activation=out)],
                loss=loss, learning_rate=lr, **kw)


def run_cases() -> dict[str, dict]:
    out = {
        # controls: functions bpcalc has had all along (these must pass already)
        "classic_sigmoid_half_sse": dict({k: v for k, v in CLASSIC.items() if k not in ("inputs", "targets")},
                                         inputs=[0.05, 0.10], targets=[0.01, 0.99]),  # one flat sample
        "sigmoid_sigmoid_half_sse": net3("sigmoid", "sigmoid", "half_sse"),
        "tanh_sigmoid_mse": net3("tanh", "sigmoid", "mse"),
        "relu_linear_sse": net3("relu", "linear", "sse", lr=0.1),
        "leaky_relu_sigmoid_bce": net3("leaky_relu", "sigmoid", "binary_cross_entropy",
                                       targets=[[0, 1], [1, 0], [1, 1]]),
        "tanh_softmax_ce": net3("tanh", "softmax", "cross_entropy", targets=[[0, 1], [1, 0], [0.3, 0.7]]),
        "momentum": net3("tanh", "sigmoid", "mse", optimizer={"type": "momentum", "momentum": 0.9}),
        "adam": net3("tanh", "sigmoid", "mse", lr=0.05, optimizer={"type": "adam", "beta1": 0.9, "beta2": 0.999,
                                                                   "epsilon": 1e-8}),
        "adam_weight_decay": net3("tanh", "sigmoid", "mse", lr=0.05, optimizer={
            "type": "adam", "beta1": 0.8, "beta2": 0.99, "epsilon": 1e-6, "weight_decay": 0.1}),
        # the new functions
        "nesterov": net3("tanh", "sigmoid", "mse", optimizer={"type": "nesterov", "momentum": 0.9}),
        "rmsprop": net3("tanh", "sigmoid", "mse", lr=0.01, optimizer={"type": "rmsprop", "alpha": 0.9,
                                                                      "epsilon": 1e-6}),
        "rmsprop_defaults": net3("tanh", "sigmoid", "mse", lr=0.01, optimizer={"type": "rmsprop"}),
        "adagrad": net3("tanh", "sigmoid", "mse", lr=0.1, optimizer={"type": "adagrad", "epsilon": 1e-6}),
        "adagrad_defaults": net3("tanh", "sigmoid", "mse", lr=0.1, optimizer={"type": "adagrad"}),
        "adamw": net3("tanh", "sigmoid", "mse", lr=0.05, optimizer={
            "type": "adamw", "beta1": 0.8, "beta2": 0.99, "epsilon": 1e-6, "weight_decay": 0.1}),
        "adamw_defaults": net3("tanh", "sigmoid", "mse", lr=0.05, optimizer={"type": "adamw"}),
        "huber_tanh_linear": net3("tanh", "linear", "huber", targets=TH),
        "huber_relu_linear": net3("relu", "linear", "huber", targets=TH, lr=0.3),
    }
    for act in ("gelu", "silu", "softplus", "elu"):
        out[f"{act}_sigmoid_mse"] = net3(act, "sigmoid", "mse")      # in the hidden layer
        out[f"tanh_{act}_half_sse"] = net3("tanh", act, "half_sse")  # in the output layer
        out[f"{act}_{act}_sse"] = net3(act, act, "sse", lr=0.2)     # in both
    out["elu_linear_huber"] = net3("elu", "linear", "huber", targets=TH)
    return out


def step_loss(name: str, a: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Each output's term of each sample's loss (samples × outputs), from a, written from the definitions; the
    sample's loss is the row sum, the loss the mean of those."""
    k = a.shape[1]
    if name == "huber":
        return F.huber_loss(a, t, reduction="none", delta=1.0) / k
    if name == "binary_cross_entropy":
        return F.binary_cross_entropy(a, t, reduction="none") / k
    return loss_terms(name, a, t)


def one_step(c: dict) -> dict:
    flat = not isinstance(c["inputs"][0], list)
    X = torch.tensor([c["inputs"]] if flat else c["inputs"])
    T = torch.tensor([c["targets"]] if flat else c["targets"], dtype=torch.float64)
    Ws = [torch.tensor(layer["weights"], requires_grad=True) for layer in c["layers"]]
    bs = [torch.tensor(layer["biases"], requires_grad=True) for layer in c["layers"]]
    acts = [layer["activation"] for layer in c["layers"]]
    opt = make_optimizer(c, [p for pair in zip(Ws, bs) for p in pair])

    def forward():
        zs, as_, a = [], [], X
        for W, b, act in zip(Ws, bs, acts):
            z = a @ W.T + b
            a = ACT[act](z)
            zs.append(z)
            as_.append(a)
        return zs, as_

    zs, as_ = forward()
    for t in zs + as_:
        t.retain_grad()
    terms = step_loss(c["loss"], as_[-1], T)
    sample = terms.sum(1)
    loss = sample.mean()
    loss.backward()
    locals_ = []
    for z, act in zip(zs, acts):  # ∂a/∂z of an elementwise activation (softmax's is a full Jacobian: not kept)
        zz = z.detach().clone().requires_grad_(True)
        locals_.append(None if act == "softmax" else torch.autograd.grad(ACT[act](zz).sum(), zz)[0])
    opt.step()
    with torch.no_grad():
        zs2, as2 = forward()
        terms2 = step_loss(c["loss"], as2[-1], T)

    def out(t):
        t = t.detach()
        return (t[0] if flat and t.dim() == 2 and t.shape[0] == 1 else t).tolist()

    layers = []
    for i, (W, b) in enumerate(zip(Ws, bs)):
        d = {"z": out(zs[i]), "a": out(as_[i]), "grad_a": out(as_[i].grad),
             "local": None if locals_[i] is None else out(locals_[i]), "delta": out(zs[i].grad),
             "grad_weights": W.grad.tolist(), "grad_biases": b.grad.tolist(),
             "new_weights": W.detach().tolist(), "new_biases": b.detach().tolist()}
        if state := optimizer_state(opt, {"weights": W, "biases": b}):
            d["optimizer_state"] = state
        layers.append(d)
    return {"loss": loss.item(), "sample_loss": sample.tolist(), "loss_terms": out(terms),
            "loss_after": terms2.sum(1).mean().item(), "outputs_after": out(as2[-1]), "layers": layers}


def uses_new(c: dict) -> list[str]:
    opt = c.get("optimizer", "sgd")
    names = {c.get("loss"), opt if isinstance(opt, str) else opt["type"]} | {x["activation"] for x in c["layers"]}
    return sorted(names & NEW_FUNCTIONS)


ACT = {**BASE_ACT, "leaky_relu": lambda z: torch.nn.functional.leaky_relu(z, 0.01),
       "gelu": lambda z: F.gelu(z, approximate="none"), "silu": F.silu,
       "softplus": lambda z: F.softplus(z, beta=1.0, threshold=20.0), "elu": lambda z: F.elu(z, alpha=1.0)}
NEW_FUNCTIONS = {"gelu", "silu", "softplus", "elu", "huber", "nesterov", "rmsprop", "adagrad", "adamw"}


def batch_loss(name: str, z: torch.Tensor, a: torch.Tensor, t: torch.Tensor, act: str) -> torch.Tensor:
    """Mean over the batch of each sample's loss, written from the definitions."""
    if name == "half_sse":
        per = 0.5 * ((t - a) ** 2).sum(1)
    elif name == "sse":
        per = ((t - a) ** 2).sum(1)
    elif name == "mse":
        per = ((t - a) ** 2).mean(1)
    elif name == "cross_entropy":
        per = -(t * (torch.log_softmax(z, -1) if act == "softmax" else torch.log(a))).sum(1)
    elif name == "huber":  # delta 1, mean over outputs (so over samples × outputs, as torch.nn.HuberLoss)
        per = F.huber_loss(a, t, reduction="none", delta=1.0).mean(1)
    else:  # binary_cross_entropy, mean over outputs
        per = torch.nn.functional.binary_cross_entropy_with_logits(z, t, reduction="none").mean(1)
    return per.mean()


def run_case(c: dict) -> dict:
    X = torch.tensor(c["inputs"], dtype=torch.float64)
    T = torch.tensor(c["targets"], dtype=torch.float64)
    n = X.shape[0]
    Ws = [torch.tensor(layer["weights"], requires_grad=True) for layer in c["layers"]]
    bs = [torch.tensor(layer["biases"], requires_grad=True) if "biases" in layer else None for layer in c["layers"]]
    acts = [layer["activation"] for layer in c["layers"]]
    freeze = set(c.get("freeze", []))
    params = ([] if "weights" in freeze else Ws) + ([] if "biases" in freeze else [b for b in bs if b is not None])
    opt = make_optimizer(c, params)

    def forward(x):
        a, z = x, x
        for W, b, act in zip(Ws, bs, acts):
            z = x_ = a @ W.T
            if b is not None:
                z = x_ + b
            a = ACT[act](z)
        return z, a

    bsz = c.get("batch_size", n)
    losses = epoch_losses(opt, n, bsz, c["epochs"],
                          lambda rows: batch_loss(c["loss"], *forward(X[rows]), T[rows], acts[-1]))
    with torch.no_grad():
        z, a = forward(X)
        final = batch_loss(c["loss"], z, a, T, acts[-1]).item()
    return {"epochs": c["epochs"], "losses": losses, "loss_final": final,
            "weights": [W.detach().tolist() for W in Ws],
            "biases": [None if b is None else b.detach().tolist() for b in bs]}


def spec_text(c: dict) -> str:
    return spec_yaml({k: v for k, v in c.items() if k != "epochs"})


def main() -> None:
    made = made_by(__file__)
    for name, c in cases().items():
        res = run_case(c)
        write_case(OUT, "train", name, made, spec_text(c), res, f" {uses_new(c)}")
    for name, c in run_cases().items():
        write_case(OUT, "run", name, made, spec_text(c), one_step(c), f" {uses_new(c)}")


if __name__ == "__main__":
    main()
