"""Make tests/fixtures/norm/run_*.json and train_*.json (batchnorm, layernorm, dropout) with PyTorch (float64).

Independent of bpcalc: each case's network is built here from its spec's numbers with torch tensors and
F.linear / F.conv2d / F.batch_norm / F.layer_norm / flatten, differentiated by autograd and updated by torch.optim.
The spec follows issue 19: `{type: batchnorm, gamma, beta, epsilon, momentum, running_mean, running_var, mode,
activation}` (nn.BatchNorm1d after a dense layer, nn.BatchNorm2d per channel after conv2d), `{type: layernorm,
gamma, beta, epsilon, activation}` (nn.LayerNorm over each sample's features: all of a sample's values),
`{type: dropout, p, mask, mode}`. Dropout takes the given mask: torch's F.dropout draws its own, so the layer is
written as x · mask / (1 − p); the self-check below shows F.dropout's output is exactly that form for the mask it drew.

run_*: one full-batch step (what `bpcalc run` shows): per layer a and ∂E/∂a; for layers with parameters z (the
affine output, before the activation), δ = ∂E/∂z, ∂E/∂X and the new X after one torch.optim step for every
parameter X; for batchnorm/layernorm the mean and the (biased) variance normalised with, x̂; batchnorm also
new_running_mean and new_running_var (momentum update, unbiased variance) as F.batch_norm leaves them; dropout its
mask; every layer grad_input, ∂E/∂(its input). Arrays keep the leading sample axis. The loss (per sample, mean).
train_*: per-epoch losses (`running += loss.item() * batch_size`, then `/ n`, batches in order) and the final
parameters and running estimates after N epochs: the running estimates move once per step, never when a loss
is only evaluated.

Before writing, a self-check: the intermediates equal the textbook formulas (μ = mean, σ² = biased variance,
x̂ = (x − μ)/√(σ² + ε)), ∂E/∂x equals the compact formula (1/(nσ))(n·g − Σg − x̂·Σ(g·x̂)) with g = ∂E/∂x̂ and
equals the sum of the three paths, every gradient agrees with central differences of the loss.
Run: python scripts/make_norm_fixtures.py   (needs torch; not a runtime or test dependency)
"""

from __future__ import annotations

import numpy as np
import torch
from fixturelib import (
    ACT,
    FIXTURES,
    F,
    check_central_differences,
    make_optimizer,
    onehot,
    sample_mean_loss,
    uniform,
    write_json,
)
from fixturelib import loss_terms as _loss_terms

OUT = FIXTURES / "norm"
PARAMS = {"dense": ("weights", "biases"), "conv2d": ("weights", "biases"), "batchnorm": ("gamma", "beta"),
          "layernorm": ("gamma", "beta"), "dropout": (), "flatten": ()}


def dense(w, b, act: str = "linear") -> dict:
    """A dense layer (b None: without biases, as before a batchnorm, where a bias's gradient is 0)."""
    return {"type": "dense", "weights": w, **({"biases": b} if b is not None else {}), "activation": act}


def conv(w, b, act: str = "linear") -> dict:
    return {"type": "conv2d", "weights": w, **({"biases": b} if b is not None else {}), "activation": act}


def bn(c: int, seed: int, act: str = "linear", defaults: bool = False, mode: str | None = None,
       running: bool = False, momentum: float | None = None, epsilon: float | None = None) -> dict:
    """A batchnorm layer over c features (channels); defaults: gamma, beta left out (1 and 0)."""
    d: dict = {"type": "batchnorm", "activation": act}
    if not defaults:
        d["gamma"] = uniform((c,), seed, 1.5, low=0.5)
        d["beta"] = uniform((c,), seed + 1, 0.5)
    if running:
        d["running_mean"] = uniform((c,), seed + 2, 0.5)
        d["running_var"] = uniform((c,), seed + 3, 2.0, low=0.5)
    for key, v in (("mode", mode), ("momentum", momentum), ("epsilon", epsilon)):
        if v is not None:
            d[key] = v
    return d


def ln(shape: tuple, seed: int, act: str = "linear", defaults: bool = False) -> dict:
    d: dict = {"type": "layernorm", "activation": act}
    if not defaults:
        d["gamma"] = uniform(shape, seed, 1.5, low=0.5)
        d["beta"] = uniform(shape, seed + 1, 0.5)
    return d


def dropout(p: float, mask=None, mode: str | None = None) -> dict:
    d: dict = {"type": "dropout", "p": p}
    if mask is not None:
        d["mask"] = mask
    if mode is not None:
        d["mode"] = mode
    return d


def _mask(shape: tuple, p: float, seed: int) -> list:
    g = torch.Generator().manual_seed(seed)
    m = (torch.rand(*shape, generator=g) >= p).to(torch.float64)
    m.view(-1)[0] = 0.0  # at least one dropped
    m.view(-1)[-1] = 1.0  # and one kept
    return m.tolist()


FLATTEN = {"type": "flatten"}


def run_cases() -> dict[str, dict]:
    return {
        # batches of 2, 3 and 8 after a dense layer; default gamma/beta; activation after the affine step
        "bn_dense_n2": dict(inputs=uniform((2, 2), 1), targets=uniform((2, 2), 2, 0.9, low=0.1),
                            layers=[dense(uniform((3, 2), 3, 0.8), uniform((3,), 4, 0.2)), bn(3, 5, "tanh", True),
                                    dense(uniform((2, 3), 6, 0.8), uniform((2,), 7, 0.2), "sigmoid")],
                            loss="half_sse", learning_rate=0.5),
        "bn_dense_n3_relu_softmax": dict(
            inputs=uniform((3, 2), 11), targets=onehot(3, 2, 12),
            layers=[dense(uniform((2, 2), 13, 0.8), uniform((2,), 14, 0.2)), bn(2, 15, "relu"),
                    dense(uniform((2, 2), 16, 0.8), uniform((2,), 17, 0.2), "softmax")],
            loss="cross_entropy", learning_rate=0.5),
        "bn_dense_n8_running": dict(
            inputs=uniform((8, 3), 21), targets=uniform((8, 1), 22, 0.9, low=0.1),
            layers=[dense(uniform((4, 3), 23, 0.8), uniform((4,), 24, 0.2)),
                    bn(4, 25, "sigmoid", running=True, momentum=0.2, epsilon=0.001),
                    dense(uniform((1, 4), 26, 0.8), uniform((1,), 27, 0.2), "linear")],
            loss="mse", learning_rate=0.1),
        # the output layer itself a batchnorm (no activation after it)
        "bn_output_n3": dict(
            inputs=uniform((3, 2), 31), targets=uniform((3, 2), 32),
            layers=[dense(uniform((2, 2), 33, 0.8), uniform((2,), 34, 0.2), "tanh"), bn(2, 35)],
            loss="half_sse", learning_rate=0.5),
        # eval mode: normalised with the running estimates, which stay
        "bn_dense_eval_n3": dict(
            inputs=uniform((3, 2), 41), targets=uniform((3, 1), 42, 0.9, low=0.1),
            layers=[dense(uniform((3, 2), 43, 0.8), uniform((3,), 44, 0.2)),
                    bn(3, 45, "relu", running=True, mode="eval"),
                    dense(uniform((1, 3), 46, 0.8), uniform((1,), 47, 0.2), "sigmoid")],
            loss="half_sse", learning_rate=0.5),
        # after conv2d: per channel over samples and positions (BatchNorm2d)
        "bn_conv_n2": dict(
            inputs=uniform((2, 1, 3, 3), 51), targets=onehot(2, 2, 52),
            layers=[conv(uniform((2, 1, 2, 2), 53, 0.8), uniform((2,), 54, 0.2)), bn(2, 55, "relu", running=True),
                    FLATTEN, dense(uniform((2, 8), 56, 0.5), uniform((2,), 57, 0.1), "softmax")],
            loss="cross_entropy", learning_rate=0.5),
        "bn_conv_n3": dict(
            inputs=uniform((3, 2, 3, 3), 61), targets=uniform((3, 2), 62, 0.9, low=0.1),
            layers=[conv(uniform((2, 2, 2, 2), 63, 0.6), uniform((2,), 64, 0.2)), bn(2, 65, "tanh"),
                    FLATTEN, dense(uniform((2, 8), 66, 0.5), uniform((2,), 67, 0.1), "sigmoid")],
            loss="mse", learning_rate=0.5),
        "bn_conv_eval_n2": dict(
            inputs=uniform((2, 1, 3, 3), 71), targets=uniform((2, 2), 72, 0.9, low=0.1),
            layers=[conv(uniform((2, 1, 2, 2), 73, 0.8), uniform((2,), 74, 0.2)),
                    bn(2, 75, "sigmoid", running=True, mode="eval"),
                    FLATTEN, dense(uniform((2, 8), 76, 0.5), uniform((2,), 77, 0.1), "linear")],
            loss="half_sse", learning_rate=0.5),
        # batchnorm with adam (gamma and beta are parameters like any other); the dense layer before it without
        # biases: their gradient is 0 in exact arithmetic, and Adam would scale its rounding noise up to 1e-10
        "bn_dense_n3_adam": dict(
            inputs=uniform((3, 2), 81), targets=uniform((3, 1), 82, 0.9, low=0.1),
            layers=[dense(uniform((2, 2), 83, 0.8), None), bn(2, 85, "tanh"),
                    dense(uniform((1, 2), 86, 0.8), uniform((1,), 87, 0.2), "sigmoid")],
            loss="half_sse", learning_rate=0.05, optimizer={"type": "adam"}),
        # layernorm: over each sample's features
        "ln_dense_n3": dict(
            inputs=uniform((3, 2), 91), targets=uniform((3, 2), 92, 0.9, low=0.1),
            layers=[dense(uniform((3, 2), 93, 0.8), uniform((3,), 94, 0.2)), ln((3,), 95, "tanh"),
                    dense(uniform((2, 3), 96, 0.8), uniform((2,), 97, 0.2), "sigmoid")],
            loss="half_sse", learning_rate=0.5),
        "ln_dense_n1_defaults": dict(
            inputs=uniform((1, 3), 101), targets=onehot(1, 2, 102),
            layers=[dense(uniform((4, 3), 103, 0.8), uniform((4,), 104, 0.2)), ln((4,), 105, "relu", True),
                    dense(uniform((2, 4), 106, 0.8), uniform((2,), 107, 0.2), "softmax")],
            loss="cross_entropy", learning_rate=0.5),
        "ln_conv_n2": dict(
            inputs=uniform((2, 1, 3, 3), 111), targets=uniform((2, 2), 112, 0.9, low=0.1),
            layers=[conv(uniform((2, 1, 2, 2), 113, 0.8), uniform((2,), 114, 0.2)), ln((2, 2, 2), 115, "tanh"),
                    FLATTEN, dense(uniform((2, 8), 116, 0.5), uniform((2,), 117, 0.1), "sigmoid")],
            loss="half_sse", learning_rate=0.5),
        # dropout with a given mask (per sample), inverted scaling 1/(1 − p)
        "dropout_dense_n3": dict(
            inputs=uniform((3, 2), 121), targets=uniform((3, 1), 122, 0.9, low=0.1),
            layers=[dense(uniform((4, 2), 123, 0.8), uniform((4,), 124, 0.2), "relu"),
                    dropout(0.5, _mask((3, 4), 0.5, 125)),
                    dense(uniform((1, 4), 126, 0.8), uniform((1,), 127, 0.2), "sigmoid")],
            loss="half_sse", learning_rate=0.5),
        "dropout_p03_n2": dict(
            inputs=uniform((2, 3), 131), targets=onehot(2, 2, 132),
            layers=[dense(uniform((3, 3), 133, 0.8), uniform((3,), 134, 0.2), "tanh"),
                    dropout(0.3, _mask((2, 3), 0.3, 135)),
                    dense(uniform((2, 3), 136, 0.8), uniform((2,), 137, 0.2), "softmax")],
            loss="cross_entropy", learning_rate=0.5),
        "dropout_eval": dict(
            inputs=uniform((2, 2), 141), targets=uniform((2, 1), 142, 0.9, low=0.1),
            layers=[dense(uniform((3, 2), 143, 0.8), uniform((3,), 144, 0.2), "tanh"), dropout(0.5, mode="eval"),
                    dense(uniform((1, 3), 146, 0.8), uniform((1,), 147, 0.2), "sigmoid")],
            loss="half_sse", learning_rate=0.5),
        "dropout_conv_n2": dict(
            inputs=uniform((2, 1, 3, 3), 151), targets=uniform((2, 2), 152, 0.9, low=0.1),
            layers=[conv(uniform((2, 1, 2, 2), 153, 0.8), uniform((2,), 154, 0.2), "relu"),
                    dropout(0.25, _mask((2, 2, 2, 2), 0.25, 155)),
                    FLATTEN, dense(uniform((2, 8), 156, 0.5), uniform((2,), 157, 0.1), "sigmoid")],
            loss="half_sse", learning_rate=0.5),
        # all three: dense → batchnorm(relu) → dropout → dense → layernorm
        "bn_dropout_ln_n3": dict(
            inputs=uniform((3, 2), 161), targets=uniform((3, 2), 162),
            layers=[dense(uniform((3, 2), 163, 0.8), uniform((3,), 164, 0.2)), bn(3, 165, "relu", running=True),
                    dropout(0.5, _mask((3, 3), 0.5, 166)), dense(uniform((2, 3), 167, 0.8), uniform((2,), 168, 0.2)),
                    ln((2,), 169)],
            loss="half_sse", learning_rate=0.5),
    }


def train_cases() -> dict[str, dict]:
    """Running estimates over epochs: mini-batches, several optimizers."""
    return {
        "bn_dense_minibatch_sgd": dict(
            inputs=uniform((8, 2), 201), targets=uniform((8, 1), 202, 0.9, low=0.1),
            layers=[dense(uniform((3, 2), 203, 0.8), uniform((3,), 204, 0.2)), bn(3, 205, "tanh", running=True),
                    dense(uniform((1, 3), 206, 0.8), uniform((1,), 207, 0.2), "sigmoid")],
            loss="half_sse", learning_rate=0.5, batch_size=4, epochs=3),
        "bn_dense_momentum": dict(
            inputs=uniform((6, 2), 211), targets=onehot(6, 2, 212),
            layers=[dense(uniform((3, 2), 213, 0.8), uniform((3,), 214, 0.2)), bn(3, 215, "relu", momentum=0.3),
                    dense(uniform((2, 3), 216, 0.8), uniform((2,), 217, 0.2), "softmax")],
            loss="cross_entropy", learning_rate=0.3, batch_size=3, epochs=4,
            optimizer={"type": "momentum", "momentum": 0.9}),
        "bn_conv_adam": dict(
            inputs=uniform((4, 1, 3, 3), 221), targets=uniform((4, 2), 222, 0.9, low=0.1),
            layers=[conv(uniform((2, 1, 2, 2), 223, 0.8), None), bn(2, 225, "relu"),  # (no biases before it: adam)
                    FLATTEN, dense(uniform((2, 8), 226, 0.5), uniform((2,), 227, 0.1), "sigmoid")],
            loss="mse", learning_rate=0.05, batch_size=2, epochs=3, optimizer={"type": "adam"}),
        "ln_dropout_rmsprop": dict(
            inputs=uniform((4, 2), 231), targets=uniform((4, 1), 232, 0.9, low=0.1),
            layers=[dense(uniform((3, 2), 233, 0.8), uniform((3,), 234, 0.2)), ln((3,), 235, "tanh"),
                    dropout(0.5, _mask((3,), 0.5, 236)),
                    dense(uniform((1, 3), 237, 0.8), uniform((1,), 238, 0.2), "sigmoid")],
            loss="half_sse", learning_rate=0.01, batch_size=2, epochs=3, optimizer={"type": "rmsprop"}),
    }


# ------------------------------------------------------------------ the network in torch
class Net:
    """The case's parameters as leaf tensors, its running estimates, and its forward pass."""

    def __init__(self, c: dict):
        self.layers = [{"type": "dense", "activation": "sigmoid", **lay} for lay in c["layers"]]
        self.params: list[dict[str, torch.Tensor]] = []
        self.running: list[dict[str, torch.Tensor]] = []
        shape = tuple(np.shape(c["inputs"])[1:])
        for lay in self.layers:
            kind = lay["type"]
            P, R = {}, {}
            if kind in ("dense", "conv2d"):
                P["weights"] = torch.tensor(lay["weights"])
                if "biases" in lay:
                    P["biases"] = torch.tensor(lay["biases"])
                shape = (len(lay["weights"]),) if kind == "dense" else self._conv_shape(shape, P["weights"])
            elif kind in ("batchnorm", "layernorm"):
                ps = (shape[0],) if kind == "batchnorm" else shape
                P["gamma"] = torch.tensor(lay["gamma"]) if "gamma" in lay else torch.ones(ps)
                P["beta"] = torch.tensor(lay["beta"]) if "beta" in lay else torch.zeros(ps)
                if kind == "batchnorm":
                    R["running_mean"] = torch.tensor(lay["running_mean"]) if "running_mean" in lay else torch.zeros(ps)
                    R["running_var"] = torch.tensor(lay["running_var"]) if "running_var" in lay else torch.ones(ps)
            elif kind == "flatten":
                shape = (int(np.prod(shape)),)
            for v in P.values():
                v.requires_grad_(True)
            self.params.append(P)
            self.running.append(R)

    @staticmethod
    def _conv_shape(shape: tuple, w: torch.Tensor) -> tuple:
        return (w.shape[0], shape[1] - w.shape[2] + 1, shape[2] - w.shape[3] + 1)

    def flat_params(self) -> list[torch.Tensor]:
        return [v for P in self.params for v in P.values()]

    def forward(self, x: torch.Tensor, update: bool = True) -> tuple[list, list, list]:
        """Per layer z (None where there is none), a, and what the layer normalised with (mean, var, x̂, mask).
        `update`: batchnorm in training mode moves its running estimates (F.batch_norm, in place)."""
        zs, as_, extra = [], [], []
        a = x
        for lay, P, R in zip(self.layers, self.params, self.running):
            kind, z, ex = lay["type"], None, {}
            if kind == "dense":
                z = F.linear(a, P["weights"], P.get("biases"))
            elif kind == "conv2d":
                z = F.conv2d(a, P["weights"], P.get("biases"))
            elif kind == "batchnorm":
                train = lay.get("mode", "train") == "train"
                axes = [0] + list(range(2, a.dim()))
                if train:
                    mean, var = a.mean(axes), a.var(axes, unbiased=False)
                else:
                    mean, var = R["running_mean"], R["running_var"]
                shp = [1, -1] + [1] * (a.dim() - 2)
                eps = lay.get("epsilon", 1e-5)
                x_hat = (a - mean.reshape(shp)) / torch.sqrt(var.reshape(shp) + eps)
                rm, rv = (R["running_mean"], R["running_var"]) if update else \
                    (R["running_mean"].clone(), R["running_var"].clone())
                z = F.batch_norm(a, rm, rv, P["gamma"], P["beta"], training=train,
                                 momentum=lay.get("momentum", 0.1), eps=eps)
                ex = {"mean": mean, "var": var, "x_hat": x_hat,
                      "new_running_mean": rm.clone(), "new_running_var": rv.clone()}
                _same(z, P["gamma"].reshape(shp) * x_hat + P["beta"].reshape(shp), "batchnorm's affine step")
            elif kind == "layernorm":
                axes = list(range(1, a.dim()))
                eps = lay.get("epsilon", 1e-5)
                mean, var = a.mean(axes), a.var(axes, unbiased=False)
                shp = [-1] + [1] * (a.dim() - 1)
                x_hat = (a - mean.reshape(shp)) / torch.sqrt(var.reshape(shp) + eps)
                z = F.layer_norm(a, tuple(a.shape[1:]), P["gamma"], P["beta"], eps)
                ex = {"mean": mean, "var": var, "x_hat": x_hat}
                _same(z, P["gamma"] * x_hat + P["beta"], "layernorm's affine step")
            if kind == "dropout":
                p = lay["p"]
                if lay.get("mode", "train") == "eval":
                    a = F.dropout(a, p, training=False)
                else:
                    mask = torch.tensor(lay["mask"]).expand_as(a)
                    a = a * mask / (1 - p)
                    ex = {"mask": mask}
            elif kind == "flatten":
                a = torch.flatten(a, 1)
            else:
                a = ACT[lay.get("activation", "linear")](z)
            zs.append(z)
            as_.append(a)
            extra.append(ex)
        return zs, as_, extra


def _same(a: torch.Tensor, b: torch.Tensor, what: str, tol: float = 1e-12) -> None:
    err = float((a - b).detach().abs().max())
    assert err < tol, f"{what}: {err}"


# ------------------------------------------------------------------ run_*: one step, every intermediate
def one_step(c: dict) -> dict:
    x, t = torch.tensor(c["inputs"]).requires_grad_(True), torch.tensor(c["targets"])
    net = Net(c)
    opt = make_optimizer(c, net.flat_params())
    zs, as_, extra = net.forward(x)
    for v in zs + as_:
        if v is not None:
            v.retain_grad()
    terms = _loss_terms(c["loss"], as_[-1], t, as_[-1][0].numel())
    sample = terms.flatten(1).sum(1)
    loss = sample.mean()
    loss.backward()
    self_check(c, net, x, t, zs, as_, extra)
    grads = [{k: v.grad.clone() for k, v in P.items()} for P in net.params]
    old = [{k: v.detach().clone() for k, v in P.items()} for P in net.params]
    opt.step()
    with torch.no_grad():
        _, as2, _ = net.forward(x, update=False)
        loss_after = sample_mean_loss(c["loss"], as2[-1], t).item()
    layers = []
    for i, (lay, P) in enumerate(zip(net.layers, net.params)):
        grad_in = (as_[i - 1] if i else x).grad
        d: dict = {"type": lay["type"], "a": as_[i].tolist(), "grad_a": as_[i].grad.tolist(),
                   "grad_input": grad_in.tolist()}
        if zs[i] is not None:
            d.update(z=zs[i].tolist(), delta=zs[i].grad.tolist())
        for k, v in P.items():
            d[k], d[f"grad_{k}"], d[f"new_{k}"] = old[i][k].tolist(), grads[i][k].tolist(), v.detach().tolist()
        d.update({k: v.detach().tolist() for k, v in extra[i].items()})
        layers.append({k: v for k, v in d.items() if v is not None})
    return {"loss": loss.item(), "sample_loss": sample.tolist(), "loss_after": loss_after,
            "outputs_after": as2[-1].tolist(), "layers": layers}


def train(c: dict) -> dict:
    x, t = torch.tensor(c["inputs"]), torch.tensor(c["targets"])
    net = Net(c)
    opt = make_optimizer(c, net.flat_params())
    n, bsz = x.shape[0], c.get("batch_size", x.shape[0])
    losses = []
    for _ in range(c["epochs"]):
        running = 0.0
        for i in range(0, n, bsz):
            xb, tb = x[i:i + bsz], t[i:i + bsz]
            opt.zero_grad()
            loss = sample_mean_loss(c["loss"], net.forward(xb)[1][-1], tb)
            loss.backward()
            opt.step()
            running += loss.item() * xb.shape[0]
        losses.append(running / n)
    with torch.no_grad():
        final = sample_mean_loss(c["loss"], net.forward(x, update=False)[1][-1], t).item()
    return {"epochs": c["epochs"], "losses": losses, "loss_final": final,
            "layers": [{"type": lay["type"], **{k: v.detach().tolist() for k, v in P.items()},
                        **{k: v.tolist() for k, v in R.items()}}
                       for lay, P, R in zip(net.layers, net.params, net.running)]}


# ------------------------------------------------------------------ self-check
def _g_hat(z: torch.Tensor, P: dict, channel_axis: int | None) -> np.ndarray:
    """∂E/∂x̂ = ∂E/∂z · γ (γ per channel, or shaped like a sample)."""
    g = P["gamma"].detach()
    if channel_axis is not None:
        g = g.reshape([1, -1] + [1] * (z.dim() - 2))
    return (z.grad * g).numpy()


def self_check(c: dict, net: Net, x, t, zs, as_, extra) -> None:
    """Textbook formulas for every intermediate; ∂E/∂x by the compact formula and by the three paths; gradients
    against central differences of the loss."""
    for i, (lay, P) in enumerate(zip(net.layers, net.params)):
        kind, ex = lay["type"], extra[i]
        xin = (as_[i - 1] if i else x).detach()
        gin = (as_[i - 1] if i else x).grad
        if kind in ("batchnorm", "layernorm") and lay.get("mode", "train") == "train":
            xv = xin.numpy()
            if kind == "batchnorm":  # features as columns: (m, C), m = n·H·W
                cols = np.moveaxis(xv, 1, -1).reshape(-1, xv.shape[1])
                g_hat = np.moveaxis(_g_hat(zs[i], P, 1), 1, -1).reshape(cols.shape)
                back = lambda v, xv=xv: np.moveaxis(v.reshape(np.moveaxis(xv, 1, -1).shape), -1, 1)  # noqa: E731
            else:  # samples as columns: (features, n)
                cols = xv.reshape(xv.shape[0], -1).T
                g_hat = _g_hat(zs[i], P, None).reshape(xv.shape[0], -1).T
                back = lambda v, xv=xv: v.T.reshape(xv.shape)  # noqa: E731
            m = cols.shape[0]
            mu, var = cols.mean(0), ((cols - cols.mean(0)) ** 2).mean(0)
            assert np.allclose(mu, ex["mean"].detach().numpy().reshape(-1), atol=1e-14)
            assert np.allclose(var, ex["var"].detach().numpy().reshape(-1), atol=1e-14)
            sig = np.sqrt(var + lay.get("epsilon", 1e-5))
            xh = (cols - mu) / sig
            compact = (m * g_hat - g_hat.sum(0) - xh * (g_hat * xh).sum(0)) / (m * sig)
            d_var = (g_hat * (cols - mu)).sum(0) * -0.5 * sig ** -3
            d_mu = -(g_hat / sig).sum(0) + d_var * (-2 * (cols - mu)).mean(0)
            paths = g_hat / sig + d_var * 2 * (cols - mu) / m + d_mu / m
            assert np.allclose(back(compact), gin.numpy(), atol=1e-12), "compact formula"
            assert np.allclose(back(paths), gin.numpy(), atol=1e-12), "three paths"
            if kind == "batchnorm":
                mom = lay.get("momentum", 0.1)
                rm0 = torch.tensor(lay["running_mean"]).numpy() if "running_mean" in lay else np.zeros(len(mu))
                rv0 = torch.tensor(lay["running_var"]).numpy() if "running_var" in lay else np.ones(len(mu))
                assert np.allclose(ex["new_running_mean"].numpy(), (1 - mom) * rm0 + mom * mu, atol=1e-14)
                assert np.allclose(ex["new_running_var"].numpy(), (1 - mom) * rv0 + mom * var * m / (m - 1),
                                   atol=1e-14)
        if kind == "dropout" and "mask" in ex:
            assert torch.allclose(gin, as_[i].grad * ex["mask"] / (1 - lay["p"]), atol=1e-14)
    # F.dropout's own output is x · m / (1 − p) for the mask m it drew: the form the fixtures write out
    y = F.dropout(torch.linspace(1, 2, 1000), 0.3, training=True)
    kept = (y != 0).to(torch.float64)
    _same(y, torch.linspace(1, 2, 1000) * kept / 0.7, "F.dropout's inverted scaling")
    # central differences of the loss (running estimates not moved)
    check_central_differences([v for P in net.params for v in P.values()],
                              lambda: sample_mean_loss(c["loss"], net.forward(x.detach(), update=False)[1][-1], t), c,
                              first=4, atol=1e-7)


def main() -> None:
    for name, c in run_cases().items():
        write_json(OUT / f"run_{name}.json", {"spec": c, "expected": one_step(c)})
    for name, c in train_cases().items():
        c = dict(c)
        epochs = c.pop("epochs")
        write_json(OUT / f"train_{name}.json",
                   {"spec": c, "epochs": epochs, "expected": train({**c, "epochs": epochs})})
    print(f"wrote {len(run_cases())} run and {len(train_cases())} train fixtures to {OUT}")


if __name__ == "__main__":
    main()
