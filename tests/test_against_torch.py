"""`bpcalc run` and `bpcalc step`, through the CLI's JSON, against PyTorch float64 fixtures.

tests/fixtures/run_*.json (scripts/make_fixtures.py): one full-batch step with every intermediate torch computes
(autograd with retain_grad): per layer z, a, ∂E/∂a, ∂a/∂z, δ = ∂E/∂z, the gradients, the optimizer's state and
the new parameters, and the loss per output term, per sample, before and after. Every z, a, ∂E/∂a and δ is of
the mean loss over the samples (as bpcalc's), with a leading sample axis unless the spec has one flat sample.
tests/fixtures/train_*.json: per-epoch losses and final parameters of `bpcalc step --epochs N`.
torch is not needed here: the fixtures hold the numbers.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

FIXTURES = Path(__file__).parent / "fixtures"
RUNS = sorted(FIXTURES.glob("run_*.json"))
TRAINS = sorted(FIXTURES.glob("train_*.json"))
LAYER_KEYS = ["z", "a", "grad_a", "local", "delta", "grad_weights", "grad_biases", "new_weights", "new_biases"]
TOP_KEYS = ["loss", "sample_loss", "loss_terms", "loss_after", "outputs_after"]


def _close(actual, expected, what: str) -> None:
    a, e = np.asarray(actual, dtype=float), np.asarray(expected, dtype=float)
    assert a.shape == e.shape, f"{what}: shape {a.shape}, torch {e.shape}"
    np.testing.assert_allclose(a, e, rtol=1e-9, atol=1e-12, err_msg=what)


def _bpcalc(tmp_path: Path, fx: dict, *args: str) -> dict:
    spec = tmp_path / f"{fx['case']}.yaml"
    spec.write_text(fx["spec"])
    r = subprocess.run([sys.executable, "-m", "bpcalc", *args[:1], str(spec), *args[1:], "--format", "json"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_fixtures_cover_the_functions():
    runs = {json.loads(p.read_text())["case"] for p in RUNS}
    trains = {json.loads(p.read_text())["case"] for p in TRAINS}
    for name in ("gelu", "silu", "softplus", "elu", "huber", "nesterov", "rmsprop", "adagrad", "adamw"):
        assert any(name in c for c in runs) and any(name in c for c in trains), name
    assert {"tanh_sigmoid_mse", "relu_linear_sse", "momentum", "adam", "classic_sigmoid_half_sse"} <= runs


@pytest.mark.parametrize("path", RUNS, ids=lambda p: p.stem[4:])
def test_run_one_step(path, tmp_path):
    fx = json.loads(path.read_text())
    d = _bpcalc(tmp_path, fx, "run")
    for key in TOP_KEYS:
        _close(d[key], fx[key], key)
    assert len(d["layers"]) == len(fx["layers"])
    for i, (got, want) in enumerate(zip(d["layers"], fx["layers"])):
        for key in LAYER_KEYS:
            if want[key] is not None:  # softmax's ∂a/∂z is a Jacobian: not recorded
                _close(got[key], want[key], f"layers[{i}].{key}")


@pytest.mark.parametrize("path", [p for p in RUNS if "optimizer_state" in json.loads(p.read_text())["layers"][0]],
                         ids=lambda p: p.stem[4:])
def test_run_optimizer_state(path, tmp_path):
    """The buffers after the step: v (momentum, nesterov, rmsprop), G (adagrad), m and v (adam, adamw)."""
    fx = json.loads(path.read_text())
    d = _bpcalc(tmp_path, fx, "run")
    for i, (got, want) in enumerate(zip(d["layers"], fx["layers"])):
        for kind, bufs in want["optimizer_state"].items():
            for name, value in bufs.items():
                _close(got["optimizer_state"][kind][name], value, f"layers[{i}].optimizer_state.{kind}.{name}")


@pytest.mark.parametrize("path", TRAINS, ids=lambda p: p.stem[6:])
def test_step_epochs(path, tmp_path):
    fx = json.loads(path.read_text())
    d = _bpcalc(tmp_path, fx, "step", "--epochs", str(fx["epochs"]))
    assert d["epochs_completed"] == fx["epochs"] and d["diverged"] is None
    assert [e["epoch"] for e in d["epochs"]] == list(range(1, fx["epochs"] + 1))
    _close([e["loss"] for e in d["epochs"]], fx["losses"], "epochs[].loss")
    _close(d["loss_final"], fx["loss_final"], "loss_final")
    assert len(d["layers"]) == len(fx["weights"])
    for i, (got, w, b) in enumerate(zip(d["layers"], fx["weights"], fx["biases"])):
        _close(got["weights"], w, f"layers[{i}].weights")
        if b is None:
            assert got.get("biases") is None, f"layers[{i}].biases"
        else:
            _close(got["biases"], b, f"layers[{i}].biases")
