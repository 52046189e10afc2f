"""Convolutional networks (conv2d, maxpool, avgpool, flatten): `bpcalc run` and `bpcalc step` through the CLI's
JSON, against PyTorch float64 fixtures and against small cases worked by hand.

tests/fixtures/conv/run_*.json (scripts/make_conv_fixtures.py): one full-batch step, every intermediate torch
computes with autograd (retain_grad) of the mean loss over the samples: per layer a and ∂E/∂a; for conv2d and dense
layers also z, δ = ∂E/∂z, the gradients, the optimizer's state and the new parameters (dense: also ∂a/∂z); the
loss per sample, per output term, before and after. Arrays of one sample (inputs written C x H x W or H x W) have
no sample axis; several samples a leading N axis. tests/fixtures/conv/train_*.json: per-epoch losses and the final
parameters of `bpcalc step --epochs N`. Each fixture holds its spec as a mapping; bpcalc is given its YAML dump.
torch is not needed here: the fixtures hold the numbers.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

FIXTURES = Path(__file__).parent / "fixtures" / "conv"
RUNS = sorted(FIXTURES.glob("run_*.json"))
TRAINS = sorted(FIXTURES.glob("train_*.json"))
LAYER_KEYS = ["z", "a", "grad_a", "local", "delta", "grad_weights", "grad_biases", "new_weights", "new_biases"]
TOP_KEYS = ["loss", "sample_loss", "loss_after", "outputs_after"]
RTOL = 1e-10


def _close(actual, expected, what: str, rtol: float = RTOL) -> None:
    a, e = np.asarray(actual, dtype=float), np.asarray(expected, dtype=float)
    assert a.shape == e.shape, f"{what}: shape {a.shape}, expected {e.shape}"
    np.testing.assert_allclose(a, e, rtol=rtol, atol=1e-13, err_msg=what)


def _cli(tmp_path: Path, name: str, spec: dict, *args: str) -> dict:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False, default_flow_style=None))
    r = subprocess.run([sys.executable, "-m", "bpcalc", args[0], str(path), *args[1:], "--format", "json"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def _load(path: Path) -> dict:
    return json.loads(path.read_text())


def _weights4(layer: dict) -> np.ndarray:
    """A conv2d layer's weights out x in x kh x kw (a kh x kw matrix is one in and one out channel)."""
    w = np.asarray(layer["weights"], dtype=float)
    return w.reshape(1, 1, *w.shape) if w.ndim == 2 else w


# ------------------------------------------------------------------ the fixtures themselves
def test_fixtures_cover_the_contract():
    """The cases the fixtures must hold: each feature of the contract is in at least one."""
    runs = [_load(p) for p in RUNS]
    trains = [_load(p) for p in TRAINS]
    layers = [(lay, fx["spec"]) for fx in runs for lay in fx["spec"]["layers"]]
    convs = [lay for lay, _ in layers if lay.get("type", "dense") == "conv2d"]
    assert {str(lay.get("stride", 1)) for lay in convs} >= {"1", "2"}
    assert {str(lay.get("padding", 0)) for lay in convs} >= {"0", "1"}
    assert any(np.ndim(lay["weights"]) == 2 for lay in convs)  # kh x kw
    assert any(_weights4(lay).shape[0] > 1 and _weights4(lay).shape[1] > 1 for lay in convs)
    assert {lay.get("activation", "sigmoid") for lay in convs} >= {"relu", "tanh", "linear", "sigmoid"}
    assert any("activation" not in lay for lay in convs)  # sigmoid by default
    assert any("type" not in lay for lay, _ in layers)  # dense by default
    assert {np.ndim(fx["spec"]["inputs"]) for fx in runs} == {2, 3, 4}  # H x W, C x H x W, N x C x H x W
    pools = [lay for lay, _ in layers if lay.get("type") in ("maxpool", "avgpool")]
    for kind in ("maxpool", "avgpool"):
        assert any(lay["type"] == kind and lay.get("stride", lay["size"]) < lay["size"] for lay in pools), kind
        assert any(lay["type"] == kind and lay.get("padding", 0) for lay in pools), kind
    assert any("tie" in fx["case"] for fx in runs)
    assert any(fx["spec"]["layers"][-1].get("type") == "conv2d" and fx["spec"]["loss"] == "half_sse" for fx in runs)
    tails = {(fx["spec"]["loss"], *(x.get("type", "dense") for x in fx["spec"]["layers"][-2:])) for fx in runs}
    assert ("cross_entropy", "flatten", "dense") in tails
    opts = {(fx["spec"].get("optimizer") or {"type": "sgd"})["type"] for fx in trains}
    assert opts >= {"sgd", "momentum", "nesterov", "rmsprop", "adagrad", "adam", "adamw"}
    assert any(fx["spec"].get("optimizer", {}).get("weight_decay") and fx["spec"]["optimizer"]["type"] == "sgd"
               for fx in trains)
    assert any(fx["spec"].get("batch_size") == 2 and len(fx["spec"]["inputs"]) == 4 for fx in trains)


# ------------------------------------------------------------------ bpcalc against the fixtures
@pytest.mark.parametrize("path", RUNS, ids=lambda p: p.stem[4:])
def test_run_one_step(path, tmp_path):
    fx = _load(path)
    d = _cli(tmp_path, fx["case"], fx["spec"], "run")
    for key in TOP_KEYS:
        _close(d[key], fx[key], key)
    assert len(d["layers"]) == len(fx["layers"])
    for i, (got, want, lay) in enumerate(zip(d["layers"], fx["layers"], fx["spec"]["layers"])):
        assert got["type"] == want["type"], f"layers[{i}].type"
        if want["type"] == "conv2d":  # always out x in x kh x kw, whatever the spec wrote
            _close(got["weights"], _weights4(lay), f"layers[{i}].weights", rtol=0)
        for key in LAYER_KEYS:
            if key not in want:
                continue
            if want[key] is None:
                assert got.get(key) is None, f"layers[{i}].{key}"
            else:
                _close(got[key], want[key], f"layers[{i}].{key}")


@pytest.mark.parametrize("path", RUNS, ids=lambda p: p.stem[4:])
def test_run_loss_terms(path, tmp_path):
    """Each output's term of each sample's loss, shaped like the outputs (C x H x W for a network ending in conv)."""
    fx = _load(path)
    d = _cli(tmp_path, fx["case"], fx["spec"], "run")
    _close(d["loss_terms"], fx["loss_terms"], "loss_terms")


@pytest.mark.parametrize("path", [p for p in RUNS if any("optimizer_state" in x for x in _load(p)["layers"])],
                         ids=lambda p: p.stem[4:])
def test_run_optimizer_state(path, tmp_path):
    """The buffers after the step: v (momentum, nesterov, rmsprop), G (adagrad), m and v (adam, adamw)."""
    fx = _load(path)
    d = _cli(tmp_path, fx["case"], fx["spec"], "run")
    for i, (got, want) in enumerate(zip(d["layers"], fx["layers"])):
        for kind, bufs in want.get("optimizer_state", {}).items():
            for name, value in bufs.items():
                _close(got["optimizer_state"][kind][name], value, f"layers[{i}].optimizer_state.{kind}.{name}")


@pytest.mark.parametrize("path", TRAINS, ids=lambda p: p.stem[6:])
def test_step_epochs(path, tmp_path):
    fx = _load(path)
    d = _cli(tmp_path, fx["case"], fx["spec"], "step", "--epochs", str(fx["epochs"]))
    assert d["epochs_completed"] == fx["epochs"] and d["diverged"] is None
    assert [e["epoch"] for e in d["epochs"]] == list(range(1, fx["epochs"] + 1))
    _close([e["loss"] for e in d["epochs"]], fx["losses"], "epochs[].loss")
    _close(d["loss_final"], fx["loss_final"], "loss_final")
    assert len(d["layers"]) == len(fx["layers"])  # one entry per layer of the spec, pooling and flatten included
    for i, (got, want) in enumerate(zip(d["layers"], fx["layers"])):
        for key in ("weights", "biases"):
            if want[key] is None:
                assert got.get(key) is None, f"layers[{i}].{key}"
            else:
                _close(got[key], want[key], f"layers[{i}].{key}")


# ------------------------------------------------------------------ worked by hand (no fixture)
def _conv(weights, biases, act: str = "linear", **kw) -> dict:
    return {"type": "conv2d", "weights": weights, "biases": biases, "activation": act, **kw}


def test_hand_conv_2x2_on_3x3(tmp_path):
    """x (1 x 3 x 3) = [[1, 2, 0], [0, 1, −1], [2, 0, 1]], w = [[0.5, −1], [1, 0.5]], b = 0.1, linear, half_sse.

    z[r, c] = Σ_pq w[p, q]·x[r + p, c + q] + b:  z00 = 0.5 − 2 + 0 + 0.5 + 0.1 = −0.9,  z01 = 1 − 0 + 1 − 0.5 + 0.1
    = 1.6,  z10 = 0 − 1 + 2 + 0 + 0.1 = 1.1,  z11 = 0.5 + 1 + 0 + 0.5 + 0.1 = 2.1.  t = [[0, 1], [1, 2]]:
    δ = z − t = [[−0.9, 0.6], [0.1, 0.1]],  E = ½(0.81 + 0.36 + 0.01 + 0.01) = 0.595,
    ∂E/∂w[p, q] = Σ_rc δ[r, c]·x[r + p, c + q] = [[0.4, −1.8], [0.8, −1.4]],  ∂E/∂b = Σ δ = −0.1;
    with α = 0.1: w' = [[0.46, −0.82], [0.92, 0.64]], b' = 0.11.
    """
    spec = {"inputs": [[[1, 2, 0], [0, 1, -1], [2, 0, 1]]], "targets": [[[0, 1], [1, 2]]],
            "layers": [_conv([[0.5, -1], [1, 0.5]], [0.1])], "loss": "half_sse", "learning_rate": 0.1}
    d = _cli(tmp_path, "hand", spec, "run")
    lay = d["layers"][0]
    assert lay["type"] == "conv2d"
    _close(d["loss"], 0.595, "loss")
    _close(lay["weights"], [[[[0.5, -1], [1, 0.5]]]], "weights")  # out x in x kh x kw
    _close(lay["z"], [[[-0.9, 1.6], [1.1, 2.1]]], "z")
    _close(lay["a"], [[[-0.9, 1.6], [1.1, 2.1]]], "a")
    _close(lay["grad_a"], [[[-0.9, 0.6], [0.1, 0.1]]], "grad_a")
    _close(lay["delta"], [[[-0.9, 0.6], [0.1, 0.1]]], "delta")
    _close(lay["grad_weights"], [[[[0.4, -1.8], [0.8, -1.4]]]], "grad_weights")
    _close(lay["grad_biases"], [-0.1], "grad_biases")
    _close(lay["new_weights"], [[[[0.46, -0.82], [0.92, 0.64]]]], "new_weights")
    _close(lay["new_biases"], [0.11], "new_biases")


def test_hand_stride2_padding1(tmp_path):
    """x = [[1, 2], [3, 4]] padded by 1 to 4 x 4, w = [[1, 2], [3, 4]], stride 2: each window sees one x.

    z00 = w11·x00 = 4, z01 = w10·x01 = 6, z10 = w01·x10 = 6, z11 = w00·x11 = 4.  t = [[4, 6], [6, 3]]:
    δ = [[0, 0], [0, 1]], E = ½, ∂E/∂w = δ11 · (padded x rows 2..3, columns 2..3) = [[4, 0], [0, 0]], ∂E/∂b = 1.
    """
    spec = {"inputs": [[1, 2], [3, 4]], "targets": [[[4, 6], [6, 3]]],
            "layers": [_conv([[1, 2], [3, 4]], [0], stride=2, padding=1)], "loss": "half_sse", "learning_rate": 0.1}
    lay = (d := _cli(tmp_path, "hand", spec, "run"))["layers"][0]
    _close(d["loss"], 0.5, "loss")
    _close(lay["z"], [[[4, 6], [6, 4]]], "z")
    _close(lay["delta"], [[[0, 0], [0, 1]]], "delta")
    _close(lay["grad_weights"], [[[[4, 0], [0, 0]]]], "grad_weights")
    _close(lay["grad_biases"], [1], "grad_biases")


def test_hand_maxpool_tie_goes_to_the_first_maximum(tmp_path):
    """1x1 kernel [[1]] (a = x), then maxpool 2 on x = [[3, 3], [1, 2]]: the max 3 is at (0, 0) and (0, 1).

    Output 3, t = 1: E = ½·2² = 2, ∂E/∂(pool) = 2, sent to the first maximum in row-major order, (0, 0) only:
    ∂E/∂a = [[2, 0], [0, 0]], ∂E/∂w = Σ δ·x = 2·3 = 6, ∂E/∂b = 2.
    """
    spec = {"inputs": [[[3, 3], [1, 2]]], "targets": [[[1]]],
            "layers": [_conv([[1]], [0]), {"type": "maxpool", "size": 2}], "loss": "half_sse", "learning_rate": 0.1}
    d = _cli(tmp_path, "hand", spec, "run")
    conv, pool = d["layers"]
    assert pool["type"] == "maxpool"
    _close(d["loss"], 2.0, "loss")
    _close(pool["a"], [[[3]]], "pool a")
    _close(pool["grad_a"], [[[2]]], "pool grad_a")
    _close(conv["grad_a"], [[[2, 0], [0, 0]]], "conv grad_a")
    _close(conv["grad_weights"], [[[[6]]]], "grad_weights")
    _close(conv["grad_biases"], [2], "grad_biases")


def test_hand_avgpool_padding_counts_the_zeros(tmp_path):
    """a = x = [[1, 2], [3, 4]], avgpool size 2, stride 2, padding 1: each window holds one x and three padded
    zeros, counted (count_include_pad): out = x/4 = [[0.25, 0.5], [0.75, 1]].  t = 0: E = ½·1.875 = 0.9375,
    ∂E/∂a = out/4 = [[1, 2], [3, 4]]/16, ∂E/∂w = Σ x·x/16 = 30/16, ∂E/∂b = 10/16.
    """
    spec = {"inputs": [[[1, 2], [3, 4]]], "targets": [[[0, 0], [0, 0]]],
            "layers": [_conv([[1]], [0]), {"type": "avgpool", "size": 2, "padding": 1}], "loss": "half_sse",
            "learning_rate": 0.1}
    d = _cli(tmp_path, "hand", spec, "run")
    conv, pool = d["layers"]
    _close(d["loss"], 0.9375, "loss")
    _close(pool["a"], [[[0.25, 0.5], [0.75, 1]]], "pool a")
    _close(conv["grad_a"], [[[1 / 16, 2 / 16], [3 / 16, 4 / 16]]], "conv grad_a")
    _close(conv["grad_weights"], [[[[30 / 16]]]], "grad_weights")
    _close(conv["grad_biases"], [10 / 16], "grad_biases")


def test_hand_flatten_order_channel_row_column(tmp_path):
    """x: channel 0 = [[1, 2]], channel 1 = [[3, 4]]; an identity 1x1 conv (2 -> 2 channels); flatten gives
    [1, 2, 3, 4] (channel, row, column); dense w = [[1, 10, 100, 1000]], linear: z = 4321, t = 4320, δ = 1.

    dense ∂E/∂w = [1, 2, 3, 4]; flatten's ∂E/∂a = [1, 10, 100, 1000]; back to the conv layer's shape: channel 0
    [[1, 10]], channel 1 [[100, 1000]]; conv ∂E/∂w[o, i] = Σ δ_o·x_i = [[21, 43], [2100, 4300]], ∂E/∂b = [11, 1100].
    """
    spec = {"inputs": [[[1, 2]], [[3, 4]]], "targets": [4320],
            "layers": [_conv([[[[1]], [[0]]], [[[0]], [[1]]]], [0, 0]), {"type": "flatten"},
                       {"type": "dense", "weights": [[1, 10, 100, 1000]], "biases": [0], "activation": "linear"}],
            "loss": "half_sse", "learning_rate": 0.001}
    d = _cli(tmp_path, "hand", spec, "run")
    conv, flat, dense = d["layers"]
    assert [x["type"] for x in d["layers"]] == ["conv2d", "flatten", "dense"]
    _close(flat["a"], [1, 2, 3, 4], "flatten a")
    _close(dense["z"], [4321], "dense z")
    _close(dense["grad_weights"], [[1, 2, 3, 4]], "dense grad_weights")
    _close(flat["grad_a"], [1, 10, 100, 1000], "flatten grad_a")
    _close(conv["grad_a"], [[[1, 10]], [[100, 1000]]], "conv grad_a")
    _close(conv["grad_weights"], [[[[21]], [[43]]], [[[2100]], [[4300]]]], "conv grad_weights")
    _close(conv["grad_biases"], [11, 1100], "conv grad_biases")
