"""Sequence plumbing (issue 18): inputs T × features, dense layers over every step, `targets_at: all | last`, the
loss as the mean over the (sequence, step) terms that enter it, run's JSON with the time axis, and training.

The network here starts with a parameter-free sequence kind registered for the test only (a = its input), so what
is checked is the plumbing alone; the expected numbers come from loops over sequences and steps written out here
(one step's dense layer as z_t = W x_t + b, the loss term by term), not from bpcalc's vectorised engine.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from bpcalc.engine.network import run_network
from bpcalc.engine.trace import trace_to_dict
from bpcalc.errors import SpecError
from bpcalc.registry import LAYERS
from bpcalc.registry.kinds import LayerKind
from bpcalc.spec.loader import parse_spec

PASS = LayerKind(
    name="seqpass", help="a sequence passed on as it is (tests)", params=(), keys=frozenset(), activation=False,
    parse=lambda rd, raw, path, shape: rd.layer(None, None), out_shape=lambda layer, shape: shape,
    forward=lambda *args: (args[-1].copy(), None), grads=lambda *args: None, back=lambda *args: args[-2].copy(),
    torch=lambda layer: "nn.Identity()", json=("a", "grad_a"), sequence=True)


@pytest.fixture(autouse=True)
def seqpass(monkeypatch):
    monkeypatch.setitem(LAYERS, "seqpass", PASS)


X = [[[0.5, -0.2], [0.1, 0.4], [-0.3, 0.8]],
     [[0.2, 0.2], [-0.6, 0.1], [0.7, -0.5]]]  # 2 sequences, 3 steps, 2 features
W1, B1 = [[0.3, -0.5], [0.8, 0.2]], [0.1, -0.2]
W2, B2 = [[0.6, -0.4]], [0.05]
T_ALL = [[[0.1], [0.2], [0.3]], [[-0.1], [0.0], [0.4]]]
T_LAST = [[0.3], [0.4]]


def _spec(inputs, targets, at: str | None = None, extra: str = ""):
    import json
    text = (f"inputs: {json.dumps(inputs)}\ntargets: {json.dumps(targets)}\nlearning_rate: 0.5\nloss: half_sse\n"
            + (f"targets_at: {at}\n" if at else "") + extra
            + f"layers:\n  - type: seqpass\n  - weights: {W1}\n    biases: {B1}\n    activation: tanh\n"
            + f"  - weights: {W2}\n    biases: {B2}\n    activation: linear\n")
    return parse_spec(text)


def _by_hand(X, T, last: bool):
    """Loss, ∂E/∂W1, ∂E/∂W2 by loops: E = mean over the terms of ½ Σ_k (y − t)²."""
    X, T = np.asarray(X, float), np.asarray(T, float)
    w1, b1, w2, b2 = (np.asarray(v, float) for v in (W1, B1, W2, B2))
    n, steps = X.shape[:2]
    terms = [(s, t) for s in range(n) for t in ([steps - 1] if last else range(steps))]
    E, g1, g2 = 0.0, np.zeros_like(w1), np.zeros_like(w2)
    for s, t in terms:
        h = np.tanh(w1 @ X[s, t] + b1)
        y = w2 @ h + b2
        tgt = T[s] if last else T[s, t]
        E += 0.5 * float(((y - tgt) ** 2).sum())
        dy = (y - tgt) / len(terms)
        g2 += np.outer(dy, h)
        dz = (w2.T @ dy) * (1 - h ** 2)
        g1 += np.outer(dz, X[s, t])
    return E / len(terms), g1, g2


@pytest.mark.parametrize("last", [False, True])
def test_run_against_loops(last):
    spec = _spec(X, T_LAST if last else T_ALL, "last" if last else None)
    assert spec.inputs.shape == (2, 3, 2)
    assert spec.targets.shape == ((2, 1) if last else (2, 3, 1))
    assert spec.layers[1].out_shape == (3, 2)
    tr = run_network(spec)
    E, g1, g2 = _by_hand(X, T_LAST if last else T_ALL, last)
    assert tr.loss == pytest.approx(E, rel=1e-13)
    np.testing.assert_allclose(tr.layers[1].grad_weights, g1, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(tr.layers[2].grad_weights, g2, rtol=1e-12, atol=1e-15)
    d = trace_to_dict(tr)
    assert np.asarray(d["layers"][1]["z"]).shape == (2, 3, 2)
    assert np.asarray(d["outputs_after"]).shape == (2, 3, 1)
    assert np.asarray(d["loss_terms"]).shape == ((2, 1) if last else (2, 3, 1))
    if last:  # only the last step's output enters: ∂E/∂a is zero at the others
        ga = np.asarray(d["layers"][2]["grad_a"])
        assert np.all(ga[:, :-1] == 0) and np.all(ga[:, -1] != 0)


def test_one_sequence_flat_list_and_time_major_json():
    """A flat list is T steps of one feature; one sequence's JSON drops the sample axis, keeping time first."""
    xs = [0.5, -0.25, 1.0]
    text = ("inputs: [0.5, -0.25, 1.0]\ntargets: [0.1, 0.2, 0.3]\nloss: half_sse\nlayers:\n  - type: seqpass\n"
            "  - weights: [[0.4]]\n    biases: [0.1]\n    activation: linear\n")
    spec = parse_spec(text)
    assert spec.inputs.shape == (1, 3, 1) and spec.single
    d = trace_to_dict(run_network(spec))
    assert np.asarray(d["layers"][1]["a"]).shape == (3, 1)
    y = 0.4 * np.asarray(xs) + 0.1
    assert d["loss"] == pytest.approx(np.mean(0.5 * (y - [0.1, 0.2, 0.3]) ** 2), rel=1e-14)


def test_training_loss_is_mean_over_terms():
    """`step`: each epoch's loss is the mean over sequences and steps; the first equals run's loss."""
    from bpcalc.engine.training import train

    spec = _spec(X, T_ALL)
    res = train(spec, epochs=3)
    E, _g1, _g2 = _by_hand(X, T_ALL, False)
    assert res.losses[0] == pytest.approx(E, rel=1e-13)
    assert res.losses[1] < res.losses[0]


@pytest.mark.parametrize("targets, words", [
    ([[0.1], [0.2]], "do not fit"),
    ("T_LAST_BAD", "do not fit"),
])
def test_bad_targets(targets, words):
    with pytest.raises(SpecError) as e:
        _spec(X, [[1, 2, 3]] if targets == "T_LAST_BAD" else targets, "last" if targets == "T_LAST_BAD" else None)
    assert words in str(e.value)


def test_targets_at_only_for_sequences():
    with pytest.raises(SpecError) as e:
        parse_spec("inputs: [0.5]\ntargets: [0.1]\ntargets_at: last\nlayers:\n  - weights: [[0.4]]\n")
    assert "targets_at" in str(e.value)


def test_dense_outputs_unchanged():
    """A dense network's arrays keep their shapes (no time axis)."""
    spec = parse_spec("inputs: [0.5, 0.1]\ntargets: [0.1]\nlayers:\n  - weights: [[0.4, 0.2]]\n")
    assert spec.targets_at is None
    tr = run_network(replace(spec))
    assert tr.loss_terms.shape == (1, 1) and tr.sample_loss.shape == (1,)
