"""batchnorm, layernorm and dropout networks: `bpcalc run` and `bpcalc step` through the CLI's JSON against PyTorch
float64 fixtures (tests/fixtures/norm, scripts/make_norm_fixtures.py): every intermediate of one step (a, ∂E/∂a,
z, δ, mean, var, x̂, the gradients and new values of every parameter, the new running estimates, the mask, the
gradient reaching each layer's input), the loss before and after; and N epochs of mini-batch training with the
running estimates moved once per step."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

FIXTURES = Path(__file__).parent / "fixtures" / "norm"
RUNS = sorted(FIXTURES.glob("run_*.json"))
TRAINS = sorted(FIXTURES.glob("train_*.json"))
SKIP = {"type", "grad_input"}


def _close(actual, expected, what: str) -> None:
    a, e = np.asarray(actual, dtype=float), np.asarray(expected, dtype=float)
    assert a.shape == e.shape, f"{what}: shape {a.shape}, expected {e.shape}"
    np.testing.assert_allclose(a, e, rtol=1e-10, atol=1e-13, err_msg=what)


def _cli(tmp_path: Path, spec: dict, *args: str) -> dict:
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False, default_flow_style=None))
    r = subprocess.run([sys.executable, "-m", "bpcalc", args[0], str(path), *args[1:], "--format", "json"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


@pytest.mark.parametrize("path", RUNS, ids=lambda p: p.stem[4:])
def test_run_one_step(path, tmp_path):
    fx = json.loads(path.read_text())
    want = fx["expected"]
    d = _cli(tmp_path, fx["spec"], "run")
    for key in ("loss", "sample_loss", "loss_after", "outputs_after"):
        _close(d[key], want[key], key)
    assert len(d["layers"]) == len(want["layers"])
    for i, (got, exp) in enumerate(zip(d["layers"], want["layers"])):
        assert got["type"] == exp["type"]
        for key, value in exp.items():
            if key not in SKIP:
                assert key in got, f"layers[{i}].{key} missing from the JSON"
                _close(got[key], value, f"layers[{i}].{key}")
        if i > 0:
            _close(d["layers"][i - 1]["grad_a"], exp["grad_input"], f"layers[{i}]: ∂E/∂(its input)")


@pytest.mark.parametrize("path", TRAINS, ids=lambda p: p.stem[6:])
def test_step_epochs_moves_the_running_estimates(path, tmp_path):
    fx = json.loads(path.read_text())
    want = fx["expected"]
    d = _cli(tmp_path, fx["spec"], "step", "--epochs", str(fx["epochs"]))
    assert d["epochs_completed"] == fx["epochs"] and d["diverged"] is None
    _close([e["loss"] for e in d["epochs"]], want["losses"], "epochs[].loss")
    _close(d["loss_final"], want["loss_final"], "loss_final")
    for i, (got, exp) in enumerate(zip(d["layers"], want["layers"])):
        for key, value in exp.items():
            if key != "type":
                _close(got[key], value, f"layers[{i}].{key}")


@pytest.mark.parametrize("name", ["train_bn_dense_minibatch_sgd", "train_bn_conv_adam"])
def test_step_save_carries_the_running_estimates(name, tmp_path):
    """--save writes the trained γ, β, the moved running estimates (and Adam's buffers for γ and β in
    training_state); two epochs then one more from the saved spec end where three epochs in a row do."""
    fx = json.loads((FIXTURES / f"{name}.json").read_text())
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(fx["spec"], sort_keys=False, default_flow_style=None))
    saved = tmp_path / "saved.yaml"
    r = subprocess.run([sys.executable, "-m", "bpcalc", "step", str(spec), "--epochs", "2", "--save", str(saved)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    layer = yaml.safe_load(saved.read_text())["layers"][1]
    assert {"gamma", "beta", "running_mean", "running_var", "momentum", "epsilon"} <= set(layer)
    r = subprocess.run([sys.executable, "-m", "bpcalc", "step", str(saved), "--epochs", "1", "--format", "json"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    for key in ("gamma", "beta", "running_mean", "running_var"):
        _close(d["layers"][1][key], fx["expected"]["layers"][1][key], key)
    _close(d["layers"][0]["weights"], fx["expected"]["layers"][0]["weights"], "weights")
