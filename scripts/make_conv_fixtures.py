"""Make tests/fixtures/conv/run_*.json and train_*.json (convolutional networks) with PyTorch (float64).

Independent of bpcalc: each case's network is built here from its spec's numbers with torch tensors and
F.conv2d / F.max_pool2d / F.avg_pool2d (count_include_pad=True) / flatten / linear, differentiated by autograd and
updated by torch.optim. The spec follows docs/CONV_CONTRACT (issue 22): layers with `type:`, conv2d weights
out x in x kh x kw (or kh x kw for one channel in and out), inputs C x H x W or H x W (one sample) or N x C x H x W.

run_*: one full-batch step (what `bpcalc run` shows): per layer z, a, ∂E/∂a, δ = ∂E/∂z (of the mean loss over the
samples, via retain_grad; dense layers also ∂a/∂z), the gradients, the optimizer's state and the new parameters
after one torch.optim step, the loss (per output term, per sample, mean) before and after, and the outputs after.
Arrays of one sample (inputs written without a sample axis) drop the sample axis.
train_*: per-epoch losses (`running += loss.item() * batch_size`, then `/ n`, batches in order) and the final
parameters after N epochs, as tests/fixtures/train_*.json for dense networks.

Before writing, a self-check: every conv / pool layer's forward pass equals explicit numpy loops, every conv
layer's weight, bias and input gradients equal loops over torch's δ, pooling's backward routes as loops do (a max
window's gradient to its first maximum in row-major order: one case has a tie, asserted), and every gradient
agrees with central differences of the loss. The spec is stored as a dict; the tests give bpcalc its YAML dump.
Run: python scripts/make_conv_fixtures.py   (needs torch; not a runtime or test dependency)
"""

from __future__ import annotations

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
    sample_mean_loss,
    uniform,
    write_fixtures,
)
from fixturelib import OPTIMIZERS as SHARED_OPTIMIZERS

OUT = FIXTURES / "conv"


# ------------------------------------------------------------------ hand-sized numbers
_rand = partial(uniform, digits=4)  # the conv cases' numbers keep four decimals


def conv(w, b, act: str, stride=1, padding=0) -> dict:
    d = {"type": "conv2d", "weights": w, "biases": b, "activation": act}
    if stride != 1:
        d["stride"] = stride
    if padding != 0:
        d["padding"] = padding
    return d


def pool(kind: str, size, stride=None, padding=0) -> dict:
    d = {"type": kind, "size": size}
    if stride is not None:
        d["stride"] = stride
    if padding != 0:
        d["padding"] = padding
    return d


def dense(w, b, act: str, typed: bool = True) -> dict:
    """A dense layer; typed=False leaves `type` out (dense is the default)."""
    return {**({"type": "dense"} if typed else {}), "weights": w, "biases": b, "activation": act}


FLATTEN = {"type": "flatten"}

# A tie for max-pooling, exact in any order of summation (every number a small multiple of 1/8): the input's
# columns 0, 1 and 2 are equal in rows 0 and 1, so with a 2x2 kernel z[0, 0] == z[0, 1], the largest value of the
# first pooling window (asserted by the self-check).
TIE_X = [[[1.0, 1.0, 1.0, -0.5],
          [0.75, 0.75, 0.75, -0.25],
          [0.5, 0.5, -0.75, 0.125],
          [-0.25, 0.375, 0.0, -1.0]]]
TIE_X5 = [[[1.0, 1.0, 1.0, -0.5, 0.25],
           [0.75, 0.75, 0.75, -0.25, 0.5],
           [0.5, 0.5, -0.75, 0.125, -0.375],
           [-0.25, 0.375, 0.0, -1.0, 0.625],
           [0.125, -0.5, 0.25, 0.75, -0.125]]]
TIE_W = [[[[0.5, 0.25], [0.25, 0.5]]]]


def optimizer_net(seed: int) -> dict:
    """4 samples 1 x 5 x 5 -> conv 2 @ 2x2 tanh -> maxpool 2 -> flatten 8 -> dense 2 softmax, cross-entropy."""
    return dict(inputs=_rand((4, 1, 5, 5), seed, digits=2), targets=onehot(4, 2, seed + 1),
                layers=[conv(_rand((2, 1, 2, 2), seed + 2, 0.8), _rand((2,), seed + 3, 0.1), "tanh"),
                        pool("maxpool", 2), FLATTEN,
                        dense(_rand((2, 8), seed + 4, 0.5), _rand((2,), seed + 5, 0.1), "softmax")],
                loss="cross_entropy")


OPTIMIZERS = {**SHARED_OPTIMIZERS,
              "sgd_weight_decay": dict(learning_rate=0.5, optimizer={"type": "sgd", "weight_decay": 0.05})}


def run_cases() -> dict[str, dict]:
    x2 = _rand((2, 5, 5), 101, digits=2)
    return {
        # one sample written H x W, a kh x kw kernel, a network that is one conv layer: half_sse, targets 1 x 3 x 3
        "hw_conv_linear_half_sse": dict(
            inputs=_rand((4, 4), 1, digits=2), targets=_rand((1, 3, 3), 2, 0.5, digits=2),
            layers=[conv(_rand((2, 2), 3, 0.8), [0.1], "linear")], loss="half_sse", learning_rate=0.1),
        # one sample C x H x W, 2 in / 3 out channels, 3x3 kernel, stride 2, padding 1, relu -> flatten -> softmax
        "chw_stride2_pad1_relu_flatten_softmax_ce": dict(
            inputs=x2, targets=[0.0, 1.0, 0.0],
            layers=[conv(_rand((3, 2, 3, 3), 102, 0.5), _rand((3,), 103, 0.1), "relu", stride=2, padding=1),
                    FLATTEN, dense(_rand((3, 27), 104, 0.3), _rand((3,), 105, 0.1), "softmax")],
            loss="cross_entropy", learning_rate=0.5),
        # several samples; conv stride 1 padding 0 sigmoid; a max-pool window holding a tie; overlapping windows
        "maxpool_tie_overlap_linear_sigmoid_mse": dict(
            inputs=[TIE_X, [[[-v for v in row] for row in TIE_X[0]]]], targets=[[0.25, 0.75], [0.5, 0.125]],
            layers=[conv(TIE_W, [0.125], "linear"), pool("maxpool", 2, stride=1), FLATTEN,
                    dense(_rand((2, 4), 111, 0.8), _rand((2,), 112, 0.1), "sigmoid")],
            loss="mse", learning_rate=0.5),
        "maxpool_tie_stride2_tanh_half_sse": dict(
            inputs=TIE_X5, targets=[0.3, -0.2],
            layers=[conv([[[[0.5, 0.25], [0.25, 0.5]]], [[[-0.25, 0.5], [0.5, -0.25]]]], [0.125, -0.25], "tanh"),
                    pool("maxpool", 2), FLATTEN, dense(_rand((2, 8), 113, 0.4), _rand((2,), 114, 0.1), "linear")],
            loss="half_sse", learning_rate=0.2),
        # max-pool with padding (−inf) after tanh (negative values: zero padding would win, −inf must not)
        "maxpool_pad1_tanh_softmax_ce": dict(
            inputs=_rand((2, 1, 4, 4), 121, digits=2), targets=onehot(2, 3, 122),
            layers=[conv(_rand((2, 1, 2, 2), 123, 0.8), [-0.3, -0.2], "tanh"),
                    pool("maxpool", 2, stride=2, padding=1), FLATTEN,
                    dense(_rand((3, 8), 124, 0.5), _rand((3,), 125, 0.1), "softmax")],
            loss="cross_entropy", learning_rate=0.5),
        # avg-pool, overlapping (size 3, stride 2) with zero padding counted in the window; 2 in / 2 out channels
        "avgpool_overlap_pad_sigmoid_mse": dict(
            inputs=_rand((3, 2, 5, 5), 131, digits=2), targets=_rand((3, 2), 132, 1.0, digits=2),
            layers=[conv(_rand((2, 2, 3, 3), 133, 0.4), _rand((2,), 134, 0.1), "sigmoid", padding=1),
                    pool("avgpool", 3, stride=2, padding=1), FLATTEN,
                    dense(_rand((2, 18), 135, 0.4), _rand((2,), 136, 0.1), "linear")],
            loss="mse", learning_rate=0.5),
        "avgpool_2x2_tanh_flatten_sigmoid": dict(
            inputs=_rand((2, 1, 4, 4), 141, digits=2), targets=[[1.0, 0.0], [0.0, 1.0]],
            layers=[conv(_rand((3, 1, 3, 3), 142, 0.5), _rand((3,), 143, 0.1), "tanh", padding=1),
                    pool("avgpool", 2), FLATTEN,
                    dense(_rand((2, 12), 144, 0.4), _rand((2,), 145, 0.1), "sigmoid", typed=False)],
            loss="half_sse", learning_rate=0.5),
        # conv only, ending in conv: two layers, rectangular stride and padding, targets N x C x H x W
        "conv_conv_half_sse": dict(
            inputs=_rand((2, 2, 5, 5), 151, digits=2), targets=_rand((2, 1, 3, 2), 152, 0.5, digits=2),
            layers=[conv(_rand((3, 2, 2, 2), 153, 0.5), _rand((3,), 154, 0.1), "relu", stride=[1, 2], padding=[0, 1]),
                    conv(_rand((1, 3, 2, 2), 155, 0.5), [0.05], "linear")],
            loss="half_sse", learning_rate=0.1),
        # conv only, one sample C x H x W, stride 2 without padding, sigmoid (the default: no `activation`)
        "chw_conv_stride2_sigmoid_half_sse": dict(
            inputs=_rand((1, 5, 5), 161, digits=2), targets=_rand((2, 2, 2), 162, 1.0, digits=2),
            layers=[{k: v for k, v in conv(_rand((2, 1, 3, 3), 163, 0.6), _rand((2,), 164, 0.1), "sigmoid",
                                           stride=2).items() if k != "activation"}],  # sigmoid by default
            loss="half_sse", learning_rate=0.5),
        **{f"opt_{name}": dict(optimizer_net(200), **o) for name, o in OPTIMIZERS.items() if name != "sgd"},
    }


def train_cases() -> dict[str, dict]:
    out = {f"opt_{name}": dict(optimizer_net(300 + 10 * i), epochs=3, **o)
           for i, (name, o) in enumerate(OPTIMIZERS.items())}
    out["minibatch_sgd"] = dict(optimizer_net(400), learning_rate=0.5, batch_size=2, shuffle=False, epochs=3)
    out["minibatch_adam"] = dict(optimizer_net(410), learning_rate=0.05, batch_size=2, shuffle=False, epochs=3,
                                 optimizer={"type": "adam"})
    out["minibatch_momentum_avgpool_mse"] = dict(
        inputs=_rand((4, 2, 4, 4), 420, digits=2), targets=_rand((4, 2), 421, 1.0, digits=2),
        layers=[conv(_rand((2, 2, 2, 2), 422, 0.5), _rand((2,), 423, 0.1), "sigmoid"),
                pool("avgpool", 2, stride=1), FLATTEN, dense(_rand((2, 8), 424, 0.5), _rand((2,), 425, 0.1), "linear")],
        loss="mse", learning_rate=0.3, batch_size=2, optimizer={"type": "momentum", "momentum": 0.9}, epochs=3)
    out["minibatch_conv_only_half_sse"] = dict(
        inputs=_rand((4, 1, 4, 4), 430, digits=2), targets=_rand((4, 2, 3, 3), 431, 0.5, digits=2),
        layers=[conv(_rand((2, 1, 2, 2), 432, 0.5), _rand((2,), 433, 0.1), "tanh", stride=1, padding=1),
                pool("maxpool", 2), conv(_rand((2, 2, 2, 2), 434, 0.5), [0.0, 0.1], "linear", padding=1)],
        loss="half_sse", learning_rate=0.2, batch_size=2, epochs=3)
    return out


# ------------------------------------------------------------------ the network in torch
def _pair(v) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else (v[0], v[1])


def _data(c: dict) -> tuple[torch.Tensor, torch.Tensor, bool]:
    """Inputs N x C x H x W, targets N x (output shape), and whether the spec wrote one sample."""
    x = torch.tensor(c["inputs"], dtype=torch.float64)
    one = x.dim() <= 3
    x = x.reshape(1, 1, *x.shape) if x.dim() == 2 else x.unsqueeze(0) if x.dim() == 3 else x
    t = torch.tensor(c["targets"], dtype=torch.float64)
    return x, (t.unsqueeze(0) if one else t), one


class Net:
    """The case's parameters as leaf tensors and its forward pass."""

    def __init__(self, c: dict):
        self.layers = [{"type": "dense", "activation": "sigmoid", **lay} for lay in c["layers"]]  # the defaults
        self.params: list[tuple[torch.Tensor, torch.Tensor | None] | None] = []
        for lay in self.layers:
            if lay["type"] in ("conv2d", "dense"):
                w = torch.tensor(lay["weights"], dtype=torch.float64)
                if lay["type"] == "conv2d" and w.dim() == 2:
                    w = w.reshape(1, 1, *w.shape)
                b = torch.tensor(lay["biases"], dtype=torch.float64) if lay.get("biases") is not None else None
                self.params.append((w.requires_grad_(True), None if b is None else b.requires_grad_(True)))
            else:
                self.params.append(None)

    def flat_params(self) -> list[torch.Tensor]:
        return [p for pair in self.params if pair for p in pair if p is not None]

    def forward(self, x: torch.Tensor) -> tuple[list, list]:
        """Per layer (z or None, a)."""
        zs, as_ = [], []
        a = x
        for lay, pr in zip(self.layers, self.params):
            kind, z = lay["type"], None
            if kind == "conv2d":
                z = F.conv2d(a, pr[0], pr[1], stride=_pair(lay.get("stride", 1)), padding=_pair(lay.get("padding", 0)))
                a = ACT[lay["activation"]](z)
            elif kind == "dense":
                z = F.linear(a, pr[0], pr[1])
                a = ACT[lay["activation"]](z)
            elif kind == "maxpool":
                a = F.max_pool2d(a, _pair(lay["size"]), _pair(lay.get("stride", lay["size"])),
                                 _pair(lay.get("padding", 0)))
            elif kind == "avgpool":
                a = F.avg_pool2d(a, _pair(lay["size"]), _pair(lay.get("stride", lay["size"])),
                                 _pair(lay.get("padding", 0)), count_include_pad=True)
            else:
                a = torch.flatten(a, 1)
            zs.append(z)
            as_.append(a)
        return zs, as_


# ------------------------------------------------------------------ run_*: one step, every intermediate
def one_step(c: dict) -> dict:
    x, t, one = _data(c)
    net = Net(c)
    opt = make_optimizer(c, net.flat_params())
    zs, as_ = net.forward(x)
    for v in zs + as_:
        if v is not None:
            v.retain_grad()
    terms = loss_terms(c["loss"], as_[-1], t, as_[-1][0].numel())
    sample = terms.flatten(1).sum(1)
    loss = sample.mean()
    loss.backward()
    self_check(c, net, x, t, zs, as_)
    grads = [None if pr is None else (pr[0].grad.clone(), None if pr[1] is None else pr[1].grad.clone())
             for pr in net.params]
    opt.step()
    with torch.no_grad():
        _, as2 = net.forward(x)
        loss_after = sample_mean_loss(c["loss"], as2[-1], t).item()

    out = partial(as_lists, one=one)

    layers = []
    for i, (lay, pr) in enumerate(zip(net.layers, net.params)):
        d: dict = {"type": lay["type"], "a": out(as_[i]), "grad_a": out(as_[i].grad)}
        if pr is not None:
            w, b = pr
            d.update(z=out(zs[i]), delta=out(zs[i].grad), grad_weights=grads[i][0].tolist(),
                     grad_biases=None if b is None else grads[i][1].tolist(),
                     new_weights=w.detach().tolist(), new_biases=None if b is None else b.detach().tolist())
            if lay["type"] == "dense" and lay["activation"] != "softmax":  # ∂a/∂z, elementwise
                zz = zs[i].detach().clone().requires_grad_(True)
                d["local"] = out(torch.autograd.grad(ACT[lay["activation"]](zz).sum(), zz)[0])
            if state := optimizer_state(opt, {k: p for k, p in (("weights", w), ("biases", b)) if p is not None}):
                d["optimizer_state"] = state
        layers.append(d)
    return {"loss": loss.item(), "sample_loss": sample.tolist(), "loss_terms": out(terms), "loss_after": loss_after,
            "outputs_after": out(as2[-1]), "layers": layers}


# ------------------------------------------------------------------ train_*: N epochs
def train(c: dict) -> dict:
    x, t, _ = _data(c)
    net = Net(c)
    opt = make_optimizer(c, net.flat_params())
    n, bsz = x.shape[0], c.get("batch_size", x.shape[0])
    losses = epoch_losses(opt, n, bsz, c["epochs"],
                          lambda rows: sample_mean_loss(c["loss"], net.forward(x[rows])[1][-1], t[rows]))
    with torch.no_grad():
        final = sample_mean_loss(c["loss"], net.forward(x)[1][-1], t).item()
    return {"epochs": c["epochs"], "losses": losses, "loss_final": final,
            "layers": [{"type": lay["type"],
                        "weights": None if pr is None else pr[0].detach().tolist(),
                        "biases": None if pr is None or pr[1] is None else pr[1].detach().tolist()}
                       for lay, pr in zip(net.layers, net.params)]}


# ------------------------------------------------------------------ self-check: loops and finite differences
def _np_conv(x: np.ndarray, w: np.ndarray, b, s: tuple, p: tuple) -> np.ndarray:
    n, _, h, wd = x.shape
    o, ci, kh, kw = w.shape
    xp = np.zeros((n, ci, h + 2 * p[0], wd + 2 * p[1]))
    xp[:, :, p[0]:p[0] + h, p[1]:p[1] + wd] = x
    ho, wo = (h + 2 * p[0] - kh) // s[0] + 1, (wd + 2 * p[1] - kw) // s[1] + 1
    z = np.zeros((n, o, ho, wo))
    for k in range(n):
        for q in range(o):
            for r in range(ho):
                for col in range(wo):
                    z[k, q, r, col] = (xp[k, :, r * s[0]:r * s[0] + kh, col * s[1]:col * s[1] + kw] * w[q]).sum() + (
                        0.0 if b is None else b[q])
    return z


def _np_conv_back(x, w, s, p, delta) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """∂E/∂w, ∂E/∂b, ∂E/∂x from δ by loops."""
    n, ci, h, wd = x.shape
    o, _, kh, kw = w.shape
    xp = np.zeros((n, ci, h + 2 * p[0], wd + 2 * p[1]))
    xp[:, :, p[0]:p[0] + h, p[1]:p[1] + wd] = x
    gw, gxp = np.zeros_like(w), np.zeros_like(xp)
    for k in range(n):
        for q in range(o):
            for r in range(delta.shape[2]):
                for col in range(delta.shape[3]):
                    sl = (k, slice(None), slice(r * s[0], r * s[0] + kh), slice(col * s[1], col * s[1] + kw))
                    gw[q] += delta[k, q, r, col] * xp[sl]
                    gxp[sl] += delta[k, q, r, col] * w[q]
    return gw, delta.sum(axis=(0, 2, 3)), gxp[:, :, p[0]:p[0] + h, p[1]:p[1] + wd]


def _np_pool(kind: str, x: np.ndarray, size: tuple, s: tuple, p: tuple, g_out: np.ndarray):
    """Pooling forward and backward by loops; max: the gradient to the first maximum in row-major order."""
    n, ch, h, wd = x.shape
    xp = np.full((n, ch, h + 2 * p[0], wd + 2 * p[1]), -np.inf if kind == "maxpool" else 0.0)
    xp[:, :, p[0]:p[0] + h, p[1]:p[1] + wd] = x
    ho, wo = (h + 2 * p[0] - size[0]) // s[0] + 1, (wd + 2 * p[1] - size[1]) // s[1] + 1
    y, gxp, ties = np.zeros((n, ch, ho, wo)), np.zeros_like(xp), 0
    for k in range(n):
        for q in range(ch):
            for r in range(ho):
                for col in range(wo):
                    r0, c0 = r * s[0], col * s[1]
                    win = xp[k, q, r0:r0 + size[0], c0:c0 + size[1]]
                    if kind == "maxpool":
                        i = int(np.argmax(win))  # numpy: the first maximum in row-major order
                        ties += int((win == win.max()).sum() > 1)
                        y[k, q, r, col] = win.max()
                        gxp[k, q, r0 + i // size[1], c0 + i % size[1]] += g_out[k, q, r, col]
                    else:
                        y[k, q, r, col] = win.sum() / win.size
                        gxp[k, q, r0:r0 + size[0], c0:c0 + size[1]] += g_out[k, q, r, col] / win.size
    return y, gxp[:, :, p[0]:p[0] + h, p[1]:p[1] + wd], ties


def self_check(c: dict, net: Net, x, t, zs, as_) -> None:
    ties = 0
    for i, (lay, pr) in enumerate(zip(net.layers, net.params)):
        a_in = (x if i == 0 else as_[i - 1]).detach().numpy()
        g_in = None if i == 0 else as_[i - 1].grad.numpy()
        if lay["type"] == "conv2d":
            w, b = pr[0].detach().numpy(), None if pr[1] is None else pr[1].detach().numpy()
            s, p = _pair(lay.get("stride", 1)), _pair(lay.get("padding", 0))
            np.testing.assert_allclose(_np_conv(a_in, w, b, s, p), zs[i].detach().numpy(), rtol=1e-12, atol=1e-14)
            gw, gb, gx = _np_conv_back(a_in, w, s, p, zs[i].grad.numpy())
            np.testing.assert_allclose(gw, pr[0].grad.numpy(), rtol=1e-11, atol=1e-14)
            if pr[1] is not None:
                np.testing.assert_allclose(gb, pr[1].grad.numpy(), rtol=1e-11, atol=1e-14)
            if g_in is not None:
                np.testing.assert_allclose(gx, g_in, rtol=1e-11, atol=1e-14)
        elif lay["type"] in ("maxpool", "avgpool"):
            size = _pair(lay["size"])
            y, gx, k = _np_pool(lay["type"], a_in, size, _pair(lay.get("stride", lay["size"])),
                                _pair(lay.get("padding", 0)), as_[i].grad.numpy())
            ties += k
            np.testing.assert_allclose(y, as_[i].detach().numpy(), rtol=1e-13, atol=1e-15)
            np.testing.assert_allclose(gx, g_in, rtol=1e-11, atol=1e-14)
    if "tie" in c.get("_name", ""):
        assert ties > 0, "no tie in a max-pool window"
    # central differences of the loss for every parameter
    check_central_differences(net.flat_params(), lambda: sample_mean_loss(c["loss"], net.forward(x)[1][-1], t),
                              c["_name"])


def check_train(c: dict) -> None:
    """The self-check on a train case's network as it starts."""
    x, t, _ = _data(c)
    net = Net(c)
    zs, as_ = net.forward(x)
    for v in zs + as_:
        if v is not None:
            v.retain_grad()
    sample_mean_loss(c["loss"], as_[-1], t).backward()
    self_check(c, net, x, t, zs, as_)


def main() -> None:
    write_fixtures(OUT, __file__, run_cases(), one_step, train_cases(), train, check_train)


if __name__ == "__main__":
    main()
