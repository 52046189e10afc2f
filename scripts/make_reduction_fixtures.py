"""Make tests/fixtures/reduction.json with PyTorch (float64): `reduction: sum` and `loss: none` (issue 20).

Independent of bpcalc: each case's network is built here from its numbers with torch modules (nn.Linear,
nn.Conv2d, nn.AvgPool2d, nn.Flatten), the loss written with PyTorch's own `reduction='sum'` (F.mse_loss,
F.binary_cross_entropy, F.huber_loss, F.cross_entropy on the logits) or, for loss none, the output itself (its sum
over samples, or its mean), differentiated by autograd (retain_grad on the output's a and z), and one torch.optim
step taken. Training cases run `epochs` epochs in batches taken in order, the epoch's loss logged as a summed loss
is (`running += loss.item()`, no division; `running += loss.item() * len(batch)` then `/ n` for the mean).

The spec text stored with each case is what the tests give bpcalc.
Run: python scripts/make_reduction_fixtures.py   (needs torch; not a runtime or test dependency)
"""

from __future__ import annotations

import torch
from fixturelib import ACT, FIXTURES, F, make_optimizer, spec_yaml, write_json

OUT = FIXTURES / "reduction.json"

X3 = [[0.1, 0.3], [0.5, -0.2], [-0.4, 0.8]]
HIDDEN = dict(weights=[[0.5, 0.2], [-0.3, 0.4], [0.1, -0.6]], biases=[0.1, -0.1, 0.05], activation="tanh")
IMAGES = [[[[0.1, 0.5, 0.2], [0.4, 0.9, 0.1], [0.0, 0.3, 0.8]]],
          [[[0.7, 0.2, 0.4], [0.5, 0.1, 0.3], [0.2, 0.6, 0.9]]]]
CONV = dict(type="conv2d", weights=[[[[0.5, -0.2], [0.3, 0.1]]]], biases=[0.1])


def _out(act: str, weights: list, biases: list) -> dict:
    return dict(weights=weights, biases=biases, activation=act)


def cases() -> dict[str, dict]:
    w2 = [[0.3, -0.2, 0.4], [-0.5, 0.1, 0.2]]
    t2 = [[0.2, 0.9], [0.7, 0.1], [0.4, 0.6]]
    return {
        "mse_sum": dict(inputs=X3, targets=t2, layers=[HIDDEN, _out("sigmoid", w2, [0.05, -0.05])], loss="mse",
                        reduction="sum", learning_rate=0.5),
        "half_sse_sum": dict(inputs=X3, targets=t2, layers=[HIDDEN, _out("sigmoid", w2, [0.05, -0.05])],
                             loss="half_sse", reduction="sum", learning_rate=0.5),
        "sse_sum": dict(inputs=X3, targets=t2, layers=[HIDDEN, _out("linear", w2, [0.05, -0.05])], loss="sse",
                        reduction="sum", learning_rate=0.1),
        "bce_sum": dict(inputs=X3, targets=[[1, 0], [0, 1], [1, 1]],
                        layers=[HIDDEN, _out("sigmoid", w2, [0.05, -0.05])], loss="binary_cross_entropy",
                        reduction="sum", learning_rate=0.5),
        "softmax_bce_sum": dict(inputs=X3, targets=[[1, 0], [0, 1], [1, 0]],
                                layers=[HIDDEN, _out("softmax", w2, [0.05, -0.05])], loss="binary_cross_entropy",
                                reduction="sum", learning_rate=0.5),
        "ce_sum": dict(inputs=X3, targets=[[1, 0], [0, 1], [0.3, 0.7]],
                       layers=[HIDDEN, _out("softmax", w2, [0.05, -0.05])], loss="cross_entropy", reduction="sum",
                       learning_rate=0.5),
        "huber_sum": dict(inputs=X3, targets=[[2.5, -1.0], [0.1, 0.2], [-1.5, 0.4]],
                          layers=[HIDDEN, _out("linear", w2, [0.05, -0.05])], loss="huber", reduction="sum",
                          learning_rate=0.1),
        "none_mean": dict(inputs=X3, layers=[HIDDEN, _out("sigmoid", [[0.3, -0.2, 0.4]], [0.05])], loss="none",
                          learning_rate=0.5),
        "none_sum": dict(inputs=X3, layers=[HIDDEN, _out("sigmoid", [[0.3, -0.2, 0.4]], [0.05])], loss="none",
                         reduction="sum", learning_rate=0.5),
        "none_targets_ignored": dict(inputs=X3, targets=[[5.0], [6.0], [7.0]],
                                     layers=[HIDDEN, _out("tanh", [[0.3, -0.2, 0.4]], [0.05])], loss="none",
                                     learning_rate=0.5),
        "conv_bce_sum": dict(inputs=IMAGES, targets=[[0.3, 0.8], [0.6, 0.1]],
                             layers=[dict(CONV, activation="tanh"), dict(type="flatten"),
                                     _out("sigmoid", [[0.2, -0.1, 0.3, 0.1], [-0.1, 0.3, 0.2, -0.2]], [0.05, -0.05])],
                             loss="binary_cross_entropy", reduction="sum", learning_rate=0.1),
        "conv_none_sum": dict(inputs=IMAGES, layers=[dict(CONV, activation="relu"), dict(type="avgpool", size=2),
                                                     dict(type="flatten")], loss="none", reduction="sum",
                              learning_rate=0.1),
        "train_mse_sum": dict(inputs=X3, targets=t2, layers=[HIDDEN, _out("sigmoid", w2, [0.05, -0.05])],
                              loss="mse", reduction="sum", learning_rate=0.2, batch_size=2,
                              optimizer=dict(type="momentum", momentum=0.9), epochs=5),
        "train_none_sum": dict(inputs=X3, layers=[HIDDEN, _out("sigmoid", [[0.3, -0.2, 0.4]], [0.05])],
                               loss="none", reduction="sum", learning_rate=0.1, batch_size=2, epochs=4),
    }


# ---------------------------------------------------------------- torch
def _modules(layers: list[dict]) -> list:
    mods = []
    for L in layers:
        kind = L.get("type", "dense")
        if kind == "dense":
            w = torch.tensor(L["weights"])
            m = torch.nn.Linear(w.shape[1], w.shape[0])
            with torch.no_grad():
                m.weight.copy_(w)
                m.bias.copy_(torch.tensor(L["biases"]))
        elif kind == "conv2d":
            w = torch.tensor(L["weights"])
            m = torch.nn.Conv2d(w.shape[1], w.shape[0], tuple(w.shape[2:]))
            with torch.no_grad():
                m.weight.copy_(w)
                m.bias.copy_(torch.tensor(L["biases"]))
        elif kind == "avgpool":
            m = torch.nn.AvgPool2d(L["size"])
        else:
            m = torch.nn.Flatten()
        mods.append((m, L.get("activation", "linear")))
    return mods


def _forward(mods, x):
    zs, as_ = [], []
    for m, act in mods:
        z = m(x)
        x = ACT[act](z)
        zs.append(z)
        as_.append(x)
    return zs, as_


def _loss(case: dict, z, a, t):
    """The loss with PyTorch's own reduction (not bpcalc's formulas)."""
    red, name = case.get("reduction", "mean"), case["loss"]
    if name == "none":
        return a.sum() if red == "sum" else a.mean()
    if name == "mse":
        return F.mse_loss(a, t, reduction=red)
    if name == "half_sse":
        return 0.5 * F.mse_loss(a, t, reduction="sum")
    if name == "sse":
        return F.mse_loss(a, t, reduction="sum")
    if name == "binary_cross_entropy":
        return F.binary_cross_entropy(a, t, reduction=red)
    if name == "cross_entropy":
        return F.cross_entropy(z, t, reduction=red)  # probability targets, on the logits
    if name == "huber":
        return F.huber_loss(a, t, delta=1.0, reduction=red)
    raise ValueError(name)


def _params(mods) -> list[dict]:
    return [{"weights": m.weight.detach().tolist(), "biases": m.bias.detach().tolist()} if hasattr(m, "weight")
            else {} for m, _a in mods]


def run(case: dict) -> dict:
    mods = _modules(case["layers"])
    x = torch.tensor(case["inputs"], requires_grad=True)
    n = x.shape[0]
    t = torch.tensor(case["targets"], dtype=torch.float64) if "targets" in case else torch.zeros(n, 1)
    params = [p for m, _a in mods for p in m.parameters()]
    if "epochs" in case:
        return train(case, mods, x.detach(), t, params)
    zs, as_ = _forward(mods, x)
    z, a = zs[-1].flatten(1), as_[-1].flatten(1)
    z.retain_grad()
    a.retain_grad()
    E = _loss(case, z, a, t)
    opt = make_optimizer(case, params)
    opt.zero_grad()
    E.backward()
    out = {"loss": E.item(), "grad_a": None if a.grad is None else a.grad.tolist(), "delta": z.grad.tolist(),
           "grad_inputs": x.grad.tolist(),
           "grads": [{"weights": m.weight.grad.tolist(), "biases": m.bias.grad.tolist()}
                     if hasattr(m, "weight") else {} for m, _a in mods]}
    opt.step()
    with torch.no_grad():
        zs, as_ = _forward(mods, x)
        out["loss_after"] = _loss(case, zs[-1].flatten(1), as_[-1].flatten(1), t).item()
    out["new"] = _params(mods)
    return out


def train(case: dict, mods, x, t, params) -> dict:
    opt = make_optimizer(case, params)
    n, bs, losses = x.shape[0], case["batch_size"], []
    summed = case.get("reduction", "mean") == "sum"
    for _epoch in range(case["epochs"]):
        running = 0.0
        for i in range(0, n, bs):
            zs, as_ = _forward(mods, x[i:i + bs])
            loss = _loss(case, zs[-1].flatten(1), as_[-1].flatten(1), t[i:i + bs])
            opt.zero_grad()
            loss.backward()
            opt.step()
            running += loss.item() if summed else loss.item() * len(x[i:i + bs])
        losses.append(running if summed else running / n)
    with torch.no_grad():
        zs, as_ = _forward(mods, x)
        final = _loss(case, zs[-1].flatten(1), as_[-1].flatten(1), t).item()
    return {"losses": losses, "loss_final": final, "new": _params(mods)}


def main() -> None:
    out = {}
    for name, case in cases().items():
        spec = {k: v for k, v in case.items() if k != "epochs"}
        out[name] = {"spec": spec_yaml(dict(spec, name=name)), "epochs": case.get("epochs"), "torch": run(case)}
    print(f"{len(out)} cases -> {OUT} ({write_json(OUT, out)})")


if __name__ == "__main__":
    main()
