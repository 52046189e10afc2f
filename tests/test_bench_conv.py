"""The conv benchmark's baselines (benchmarks/baselines/numpy_conv.py, torch_conv.py) on tiny cases: the NumPy
loop's gradients against central differences of its own loss, and its training against PyTorch float64.
No timing here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

BASELINES = Path(__file__).resolve().parents[1] / "benchmarks" / "baselines"
sys.path.insert(0, str(BASELINES))

import numpy_conv  # noqa: E402


def tiny(n: int = 8, c: int = 2, seed: int = 3):
    """n samples c × 8 × 8, 3 kernels 3 × 3 (-> 6 × 6, pooled 3 × 3), dense 27 -> 4 softmax; one-hot targets."""
    rng = np.random.default_rng(seed)
    X = rng.random((n, c, 8, 8))
    T = np.eye(4)[rng.integers(0, 4, n)]
    init = [rng.uniform(-0.4, 0.4, (3, c, 3, 3)), rng.uniform(-0.2, 0.2, 3), rng.uniform(-0.3, 0.3, (4, 27)),
            rng.uniform(-0.1, 0.1, 4)]
    return X, T, init


def test_gradients_match_central_differences():
    X, T, init = tiny()
    net = numpy_conv.ConvNet(*init, X.shape[1:])
    grads = np.concatenate([g.ravel() for g in net.gradients(X, T)])
    h = 1e-6
    num = np.empty_like(net.P)
    for i in range(net.P.size):
        keep = net.P[i]
        net.P[i] = keep + h
        up = net.mean_loss(X, T)
        net.P[i] = keep - h
        down = net.mean_loss(X, T)
        net.P[i] = keep
        num[i] = (up - down) / (2 * h)
    assert np.abs(grads).max() > 1e-3  # not a vacuous comparison
    np.testing.assert_allclose(grads, num, rtol=1e-6, atol=1e-9)


def test_loss_is_softmax_cross_entropy():
    """mean_loss against the closed form written out here, sample by sample, with loops."""
    X, T, init = tiny(n=3, c=1)
    wc, bc, wd, bd = init
    total = 0.0
    for x, t in zip(X, T):
        z = np.array([[[np.sum(x[:, i:i + 3, j:j + 3] * wc[o]) + bc[o] for j in range(6)] for i in range(6)]
                      for o in range(3)])
        a = np.maximum(z, 0.0)
        p = np.array([[[a[o, 2 * i:2 * i + 2, 2 * j:2 * j + 2].max() for j in range(3)] for i in range(3)]
                      for o in range(3)])
        s = wd @ p.ravel() + bd
        total += -np.sum(t * (s - np.log(np.sum(np.exp(s)))))
    net = numpy_conv.ConvNet(*init, X.shape[1:])
    assert net.mean_loss(X, T) == pytest.approx(total / 3, rel=1e-13)


def test_training_matches_pytorch():
    torch = pytest.importorskip("torch")
    import torch_conv

    X, T, init = tiny()
    net = numpy_conv.ConvNet(*init, X.shape[1:])
    losses = net.train(X, T, 0.3, 3, 2)  # batches of 3, 3 and 2, two epochs
    final = net.mean_loss(X, T)
    tnet = torch_conv.network(*init)
    t_losses, t_final = torch_conv.train(tnet, torch.from_numpy(X), torch.from_numpy(T), 0.3, 3, 2)
    np.testing.assert_allclose(losses, t_losses, rtol=1e-12)
    assert final == pytest.approx(t_final, rel=1e-12)
    assert abs(losses[1] - losses[0]) > 1e-4  # training moved the loss
    for mine, theirs in zip(net.params(), (tnet[0].weight, tnet[0].bias, tnet[4].weight, tnet[4].bias)):
        np.testing.assert_allclose(mine, theirs.detach().numpy(), rtol=1e-11, atol=1e-14)


def test_max_pool_ties_go_to_the_first_maximum_as_in_pytorch():
    """Constant inputs make every pooling window a four-way tie; the gradients must equal PyTorch's."""
    torch = pytest.importorskip("torch")
    import torch_conv

    X, T, init = tiny(n=4, c=1)
    X[:] = 0.5
    X[1] = 0.25
    init[1][:] = 0.3  # positive after the bias: the tie's winner passes its gradient
    net = numpy_conv.ConvNet(*init, X.shape[1:])
    grads = net.gradients(X, T)
    tnet = torch_conv.network(*init)
    torch_conv.loss_fn(tnet, torch.from_numpy(X), torch.from_numpy(T)).backward()
    for mine, p in zip(grads, (tnet[0].weight, tnet[0].bias, tnet[4].weight, tnet[4].bias)):
        np.testing.assert_allclose(mine, p.grad.numpy(), rtol=1e-12, atol=1e-15)


def test_spec_front_reads_the_spec_as_the_positional_loop(tmp_path):
    """numpy_conv_spec.py (argparse + PyYAML) trains what numpy_conv.py trains from the same numbers."""
    X, T, init = tiny(n=5, c=1)
    for name, a in zip(("x", "t", "init_wc", "init_bc", "init_wd", "init_bd"), (X, T, *init)):
        np.save(tmp_path / f"{name}.npy", a)
    wc, bc, wd, bd = init
    (tmp_path / "s.yaml").write_text(
        f"inputs: x.npy\ntargets: t.npy\nbatch_size: 2\nlearning_rate: 0.2\nloss: cross_entropy\nlayers:\n"
        f"  - {{type: conv2d, weights: {json.dumps(wc.tolist())}, biases: {json.dumps(bc.tolist())}, "
        f"activation: relu}}\n  - {{type: maxpool, size: 2}}\n  - {{type: flatten}}\n"
        f"  - {{type: dense, weights: init_wd.npy, biases: {json.dumps(bd.tolist())}, activation: softmax}}\n")
    a = subprocess.run([sys.executable, str(BASELINES / "numpy_conv_spec.py"), str(tmp_path / "s.yaml"), "--epochs",
                        "2", "--format", "json"], capture_output=True, text=True, check=True)
    b = subprocess.run([sys.executable, str(BASELINES / "numpy_conv.py"), str(tmp_path / "x.npy"),
                        str(tmp_path / "t.npy"), str(tmp_path / "init_"), "0.2", "2", "2"],
                       capture_output=True, text=True, check=True)
    da, db = json.loads(a.stdout), json.loads(b.stdout)
    assert da["epochs"] == db["epochs"] and da["loss_final"] == db["loss_final"] and da["layers"] == db["layers"]
    assert len(da["epochs"]) == 2
