"""Make tests/fixtures/train_*.json with PyTorch (float64): per-epoch losses and final parameters of training runs.

Independent of bpcalc: each case's network is built here from its numbers with torch tensors, trained with
torch.optim (SGD, SGD with momentum, Adam; weight_decay), batches taken in order, and the epoch loss logged
the usual way (`running += loss.item() * batch_size`, then `/ n`). The spec text stored with each case is what
the tests give bpcalc. Run: python scripts/make_fixtures.py   (needs torch; not a runtime or test dependency)
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

torch.set_default_dtype(torch.float64)
OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures"

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
    }


ACT = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu, "linear": lambda z: z,
       "leaky_relu": lambda z: torch.nn.functional.leaky_relu(z, 0.01), "softmax": lambda z: torch.softmax(z, -1)}


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
    opt_spec = c.get("optimizer", "sgd")
    opt_spec = {"type": opt_spec} if isinstance(opt_spec, str) else dict(opt_spec)
    wd = opt_spec.get("weight_decay", c.get("weight_decay", 0.0))
    lr = c["learning_rate"]
    if opt_spec["type"] == "adam":
        opt = torch.optim.Adam(params, lr=lr, betas=(opt_spec.get("beta1", 0.9), opt_spec.get("beta2", 0.999)),
                               eps=opt_spec.get("epsilon", 1e-8), weight_decay=wd)
    else:
        opt = torch.optim.SGD(params, lr=lr, momentum=opt_spec.get("momentum", 0.0) if opt_spec["type"] ==
                              "momentum" else 0.0, weight_decay=wd)

    def forward(x):
        a, z = x, x
        for W, b, act in zip(Ws, bs, acts):
            z = x_ = a @ W.T
            if b is not None:
                z = x_ + b
            a = ACT[act](z)
        return z, a

    bsz = c.get("batch_size", n)
    losses = []
    for _ in range(c["epochs"]):
        running = 0.0
        for i in range(0, n, bsz):
            x, t = X[i:i + bsz], T[i:i + bsz]
            opt.zero_grad()
            z, a = forward(x)
            loss = batch_loss(c["loss"], z, a, t, acts[-1])
            loss.backward()
            opt.step()
            running += loss.item() * x.shape[0]
        losses.append(running / n)
    with torch.no_grad():
        z, a = forward(X)
        final = batch_loss(c["loss"], z, a, T, acts[-1]).item()
    return {"epochs": c["epochs"], "losses": losses, "loss_final": final,
            "weights": [W.detach().tolist() for W in Ws],
            "biases": [None if b is None else b.detach().tolist() for b in bs]}


def spec_text(c: dict) -> str:
    import yaml

    d = {k: v for k, v in c.items() if k != "epochs"}
    return yaml.safe_dump(d, sort_keys=False, default_flow_style=None)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, c in cases().items():
        res = run_case(c)
        res = {"case": name, "made_by": f"scripts/make_fixtures.py with torch {torch.__version__} (float64)",
               "spec": spec_text(c), **res}
        (OUT / f"train_{name}.json").write_text(json.dumps(res, indent=1) + "\n")
        print(f"{name}: loss {res['losses'][0]:.6g} -> {res['loss_final']:.6g}")


if __name__ == "__main__":
    main()
