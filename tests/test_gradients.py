"""Backprop gradients of every activation × every loss against central differences of an independent forward.

The forward pass and the losses below are written out here in numpy (not taken from bpcalc); the gradient
under test comes from bpcalc's backward pass, so the numerical difference is an independent check."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import yaml

import bpcalc
from bpcalc.engine.trace import trace_to_dict

ACTIVATIONS = ["sigmoid", "tanh", "relu", "leaky_relu", "linear", "softmax"]
LOSSES = ["half_sse", "sse", "mse", "cross_entropy", "binary_cross_entropy"]
PROBABILITY_LOSSES = {"cross_entropy", "binary_cross_entropy"}
H = 1e-6


# ------------------------------------------------------------------ the independent reference
def act_ref(name: str, z: np.ndarray) -> np.ndarray:
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-z))
    if name == "tanh":
        return (np.exp(z) - np.exp(-z)) / (np.exp(z) + np.exp(-z))
    if name == "relu":
        return np.where(z > 0, z, 0.0)
    if name == "leaky_relu":
        return np.where(z > 0, z, 0.01 * z)
    if name == "linear":
        return z.copy()
    if name == "softmax":
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)
    raise AssertionError(name)


def loss_ref(name: str, a: np.ndarray, t: np.ndarray) -> float:
    """The mean over samples of each sample's loss, as the issue defines them."""
    K = a.shape[1]
    if name == "half_sse":
        per = 0.5 * ((t - a) ** 2).sum(1)
    elif name == "sse":
        per = ((t - a) ** 2).sum(1)
    elif name == "mse":
        per = ((t - a) ** 2).sum(1) / K
    elif name == "cross_entropy":
        per = -(t * np.log(a)).sum(1)
    elif name == "binary_cross_entropy":
        per = -(t * np.log(a) + (1 - t) * np.log(1 - a)).sum(1) / K
    else:
        raise AssertionError(name)
    return float(per.mean())


def forward_loss(spec: dict, Ws: list[np.ndarray], bs: list[np.ndarray | None]) -> float:
    a = np.array(spec["inputs"], dtype=float)
    if a.ndim == 1:
        a = a[None, :]
    for W, b, layer in zip(Ws, bs, spec["layers"]):
        z = a @ W.T + (0.0 if b is None else b)
        a = act_ref(layer["activation"], z)
    t = np.array(spec["targets"], dtype=float)
    return loss_ref(spec["loss"], a, t if t.ndim == 2 else t[None, :])


def numerical_grads(spec: dict) -> tuple[list[np.ndarray], list[np.ndarray | None]]:
    """Central differences of the reference loss, perturbing one parameter at a time."""
    Ws = [np.array(l["weights"], dtype=float) for l in spec["layers"]]
    bs = [np.array(l["biases"], dtype=float) if "biases" in l else None for l in spec["layers"]]
    gW = [np.zeros_like(W) for W in Ws]
    gb = [None if b is None else np.zeros_like(b) for b in bs]
    for params, grads in ((Ws, gW), (bs, gb)):
        for p, g in zip(params, grads):
            if p is None:
                continue
            for idx in np.ndindex(p.shape):
                old = p[idx]
                p[idx] = old + H
                up = forward_loss(spec, Ws, bs)
                p[idx] = old - H
                down = forward_loss(spec, Ws, bs)
                p[idx] = old
                g[idx] = (up - down) / (2 * H)
    return gW, gb


# ------------------------------------------------------------------ random specs
def output_activation(act: str, loss: str) -> str:
    """The activation itself at the output, unless the loss needs probabilities it cannot give."""
    if loss in PROBABILITY_LOSSES and act not in ("sigmoid", "softmax"):
        return "softmax" if loss == "cross_entropy" else "sigmoid"
    return act


def random_spec(rng: np.random.Generator, act: str, loss: str, biases: bool, n: int = 4) -> dict:
    sizes = [int(rng.integers(2, 5)) for _ in range(int(rng.integers(2, 4)))] + [3]
    sizes = [int(rng.integers(2, 4))] + sizes[1:]
    layers = []
    for i in range(1, len(sizes)):
        layer = {"weights": rng.normal(0, 0.8, (sizes[i], sizes[i - 1])).tolist(),
                 "activation": act if i < len(sizes) - 1 else output_activation(act, loss)}
        if biases:
            layer["biases"] = rng.normal(0, 0.5, sizes[i]).tolist()
        layers.append(layer)
    X = rng.normal(0, 1.0, (n, sizes[0]))
    K = sizes[-1]
    if loss == "cross_entropy":
        T = rng.dirichlet(np.ones(K), n)
    elif loss == "binary_cross_entropy":
        T = rng.uniform(0, 1, (n, K))
        T[0, 0], T[-1, -1] = 0.0, 1.0  # hard labels too
    else:
        T = rng.normal(0, 1.0, (n, K))
    return {"inputs": X.tolist(), "targets": T.tolist(), "layers": layers, "loss": loss, "learning_rate": 0.1}


def run(spec: dict, **kw) -> dict:
    return trace_to_dict(bpcalc.run(yaml.safe_dump(spec, sort_keys=False), **kw))


def assert_grads_match(spec: dict, d: dict) -> None:
    gW, gb = numerical_grads(spec)
    for l, L in enumerate(d["layers"]):
        np.testing.assert_allclose(L["grad_weights"], gW[l], rtol=1e-5, atol=1e-8, err_msg=f"layers[{l}].weights")
        if gb[l] is None:
            assert L["grad_biases"] is None
        else:
            np.testing.assert_allclose(L["grad_biases"], gb[l], rtol=1e-5, atol=1e-8, err_msg=f"layers[{l}].biases")


def lively_spec(case: int, act: str, loss: str, biases: bool) -> dict:
    """A random spec in which most gradients of every layer are non-zero (no dead relu layer hides a bug)."""
    for attempt in range(100):
        spec = random_spec(np.random.default_rng(1000 * case + attempt), act, loss, biases)
        gW, _ = numerical_grads(spec)
        if all(np.mean(np.abs(g) > 1e-6) >= 0.5 for g in gW):
            return spec
    raise AssertionError("no lively random network found")


CASES = list(itertools.product(ACTIVATIONS, LOSSES, [True, False]))


@pytest.mark.parametrize(("act", "loss", "biases"), CASES, ids=[f"{a}-{l}-{'b' if b else 'nob'}" for a, l, b in CASES])
def test_backprop_matches_central_differences(act, loss, biases):
    spec = lively_spec(CASES.index((act, loss, biases)), act, loss, biases)
    d = run(spec)
    Ws = [np.array(l["weights"]) for l in spec["layers"]]
    bs = [np.array(l["biases"]) if biases else None for l in spec["layers"]]
    assert d["loss"] == pytest.approx(forward_loss(spec, Ws, bs), rel=1e-12)
    assert_grads_match(spec, d)
    # the update is θ − α·g with the spec's learning rate
    for l, L in enumerate(d["layers"]):
        np.testing.assert_allclose(L["new_weights"], Ws[l] - 0.1 * np.array(L["grad_weights"]), rtol=1e-15)
    new_Ws = [np.array(L["new_weights"]) for L in d["layers"]]
    new_bs = [np.array(L["new_biases"]) if biases else None for L in d["layers"]]
    assert d["loss_after"] == pytest.approx(forward_loss(spec, new_Ws, new_bs), rel=1e-12)


def test_softmax_cross_entropy_with_unnormalised_targets():
    """The closed form δ = a·Σt − t must hold when the targets do not sum to one."""
    rng = np.random.default_rng(7)
    spec = random_spec(rng, "tanh", "cross_entropy", True)
    spec["targets"] = rng.uniform(0, 1, (4, 3)).tolist()  # in [0, 1], not summing to one
    assert_grads_match(spec, run(spec))


def test_sigmoid_bce_saturated_outputs_stay_finite():
    """Outputs that round to 0 or 1 still give a finite loss and the closed-form gradient (a − t)/K."""
    spec = {"inputs": [1.0], "targets": [1.0, 0.0],
            "layers": [{"weights": [[-800.0], [800.0]], "biases": [0.0, 0.0], "activation": "sigmoid"}],
            "loss": "binary_cross_entropy", "learning_rate": 0.1}
    d = run(spec)
    assert d["loss"] == pytest.approx(800.0, rel=1e-12)  # −(log σ(−800) + log(1 − σ(800)))/2 = (800 + 800)/2
    assert d["layers"][0]["grad_weights"] == [[pytest.approx(-0.5)], [pytest.approx(0.5)]]


@pytest.mark.parametrize("loss", LOSSES)
def test_several_samples_loss_and_gradient_are_the_means(loss):
    rng = np.random.default_rng(42)
    spec = random_spec(rng, "sigmoid", loss, True, n=5)
    batch = run(spec)
    singles = [run({**spec, "inputs": [x], "targets": [t]}) for x, t in zip(spec["inputs"], spec["targets"])]
    assert batch["loss"] == pytest.approx(np.mean([s["loss"] for s in singles]), rel=1e-13)
    assert batch["sample_loss"] == pytest.approx([s["loss"] for s in singles], rel=1e-13)
    for l in range(len(spec["layers"])):
        mean_gW = np.mean([s["layers"][l]["grad_weights"] for s in singles], axis=0)
        np.testing.assert_allclose(batch["layers"][l]["grad_weights"], mean_gW, rtol=1e-12, atol=1e-15)
        mean_gb = np.mean([s["layers"][l]["grad_biases"] for s in singles], axis=0)
        np.testing.assert_allclose(batch["layers"][l]["grad_biases"], mean_gb, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("frozen", [["biases"], ["weights"], ["weights", "biases"]])
def test_freeze_keeps_parameters(frozen):
    rng = np.random.default_rng(3)
    spec = random_spec(rng, "tanh", "half_sse", True)
    spec["freeze"] = frozen
    d = run(spec)
    for l, L in enumerate(d["layers"]):
        W, b = spec["layers"][l]["weights"], spec["layers"][l]["biases"]
        gW, gb = np.array(L["grad_weights"]), np.array(L["grad_biases"])
        assert np.all(gW != 0) and np.all(gb != 0)  # gradients are still computed and shown
        if "weights" in frozen:
            assert L["new_weights"] == W
        else:
            np.testing.assert_allclose(L["new_weights"], np.array(W) - 0.1 * gW, rtol=1e-15)
        if "biases" in frozen:
            assert L["new_biases"] == b
        else:
            np.testing.assert_allclose(L["new_biases"], np.array(b) - 0.1 * gb, rtol=1e-15)
    new_Ws = [np.array(L["new_weights"]) for L in d["layers"]]
    new_bs = [np.array(L["new_biases"]) for L in d["layers"]]
    assert d["loss_after"] == pytest.approx(forward_loss(spec, new_Ws, new_bs), rel=1e-12)


def test_layer_without_biases_has_null_bias_fields():
    rng = np.random.default_rng(5)
    spec = random_spec(rng, "sigmoid", "half_sse", True)
    del spec["layers"][0]["biases"]
    d = run(spec)
    first, rest = d["layers"][0], d["layers"][1:]
    assert first["biases"] is None and first["grad_biases"] is None and first["new_biases"] is None
    assert all(L["grad_biases"] is not None and L["new_biases"] is not None for L in rest)
    assert_grads_match(spec, d)


def test_learning_rate_override():
    rng = np.random.default_rng(9)
    spec = random_spec(rng, "sigmoid", "mse", True)
    d = trace_to_dict(bpcalc.run(yaml.safe_dump(spec), learning_rate=0.25))
    assert d["learning_rate"] == 0.25
    for l, L in enumerate(d["layers"]):
        np.testing.assert_allclose(L["new_weights"], np.array(spec["layers"][l]["weights"])
                                   - 0.25 * np.array(L["grad_weights"]), rtol=1e-15)
