"""Recurrent networks (rnn, issue 18): `bpcalc run` and `bpcalc step` through the CLI's JSON against PyTorch
float64 fixtures (tests/fixtures/seq/, written by scripts/make_seq_fixtures.py: the rnn unrolled in torch, checked
against nn.RNN, differentiated by autograd, updated by torch.optim). torch is not needed here.

run_*: every intermediate: the rnn layer's h, pre-activations, ∂E/∂h_t through this step's output (grad_a), from
step t+1 (grad_h_next) and both (grad_h), its norm per step, ∂E/∂pre_t, the gradients and new parameters; the
dense layers' z, a, ∂E/∂a, δ, gradients and new parameters; the loss per term and mean, before and after.
train_*: per-epoch losses and final parameters of `bpcalc step --epochs N`, every optimizer, a mini-batch case.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

FIXTURES = Path(__file__).parent / "fixtures" / "seq"
RUNS = sorted(FIXTURES.glob("run_*.json"))
TRAINS = sorted(FIXTURES.glob("train_*.json"))
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


def test_fixtures_cover_the_contract():
    runs = [json.loads(p.read_text()) for p in RUNS]
    specs = [fx["spec"] for fx in runs]
    cells = [s["layers"][0] for s in specs]
    steps = {np.shape(s["inputs"])[-2] if np.ndim(s["inputs"]) > 1 else len(s["inputs"]) for s in specs}
    assert {1, 2, 5} <= steps
    assert any(np.ndim(s["inputs"]) == 1 for s in specs)  # a flat list: T steps of one feature
    assert any(np.ndim(s["inputs"]) == 3 for s in specs)  # several sequences
    assert any(s.get("targets_at") == "last" for s in specs)
    assert any("truncate" in c for c in cells) and any(c.get("activation") == "relu" for c in cells)
    assert any("h0" in c for c in cells)
    trains = [json.loads(p.read_text())["spec"] for p in TRAINS]
    opts = {(s.get("optimizer") or {"type": "sgd"})["type"] for s in trains}
    assert opts >= {"sgd", "momentum", "nesterov", "rmsprop", "adagrad", "adam", "adamw"}


@pytest.mark.parametrize("path", RUNS, ids=lambda p: p.stem)
def test_run_matches_torch(tmp_path, path):
    fx = json.loads(path.read_text())
    d = _cli(tmp_path, fx["case"], fx["spec"], "run")
    e = fx["expected"]
    for key in ("loss", "loss_after", "sample_loss", "loss_terms", "outputs_after"):
        _close(d[key], e[key], key)
    for i, (got, want) in enumerate(zip(d["layers"], e["layers"])):
        assert got["type"] == want["type"]
        for key, value in want.items():
            if key != "type":
                _close(got[key], value, f"layers.{i}.{key}")


@pytest.mark.parametrize("path", TRAINS, ids=lambda p: p.stem)
def test_step_matches_torch(tmp_path, path):
    fx = json.loads(path.read_text())
    e = fx["expected"]
    d = _cli(tmp_path, fx["case"], fx["spec"], "step", "--epochs", str(e["epochs"]))
    assert d["epochs_completed"] == e["epochs"] and d["diverged"] is None
    _close([row["loss"] for row in d["epochs"]], e["losses"], "epochs[].loss")
    _close(d["loss_final"], e["loss_final"], "loss_final")
    for i, want in enumerate(e["layers"]):
        for key, value in want.items():
            _close(d["layers"][i][key], value, f"layers.{i}.{key}", 1e-9)


@pytest.mark.parametrize("path", RUNS, ids=lambda p: p.stem)
def test_export_gives_bpcalcs_numbers(tmp_path, path):
    """`export --to pytorch`: nn.RNN (batch_first, the state detached every k steps under truncate) and nn.Linear
    over every step give run's loss, gradients and new parameters (needs torch)."""
    pytest.importorskip("torch")
    fx = json.loads(path.read_text())
    spec = tmp_path / "s.yaml"
    spec.write_text(yaml.safe_dump(fx["spec"], sort_keys=False, default_flow_style=None))
    script = tmp_path / "s.py"
    r = subprocess.run([sys.executable, "-m", "bpcalc", "export", str(spec), "--to", "pytorch", "-o", str(script)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([sys.executable, str(script), "--json"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    got, e = json.loads(r.stdout), fx["expected"]
    _close(got["loss"], e["loss"], "loss")
    _close(got["loss_after"], e["loss_after"], "loss_after")
    for i, (g, w) in enumerate(zip(got["layers"], e["layers"])):
        for key in g:
            if key.startswith(("grad_weights", "grad_biases", "new_")):
                _close(g[key], w[key], f"layers.{i}.{key}")


def test_step_save_resumes_exactly(tmp_path):
    """`step --save` writes the rnn's parameters, settings and Adam's state; 1 epoch, then 2 more from the saved
    spec, give torch's epochs 2 and 3."""
    fx = json.loads((FIXTURES / "train_opt_adam.json").read_text())
    spec = tmp_path / "s.yaml"
    spec.write_text(yaml.safe_dump(fx["spec"], sort_keys=False, default_flow_style=None))
    saved = tmp_path / "saved.yaml"
    r = subprocess.run([sys.executable, "-m", "bpcalc", "step", str(spec), "--epochs", "1", "--save", str(saved)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert yaml.safe_load(saved.read_text())["layers"][0]["type"] == "rnn"
    d = _cli(tmp_path, "resumed", yaml.safe_load(saved.read_text()), "step", "--epochs", "2")
    _close([row["loss"] for row in d["epochs"]], fx["expected"]["losses"][1:], "epochs[].loss")
    for key, value in fx["expected"]["layers"][0].items():
        _close(d["layers"][0][key], value, f"layers.0.{key}", 1e-9)


@pytest.mark.parametrize("name", ["run_one_T5_truncate3_last.json", "run_several_T2_h0.json",
                                  "run_relu_T5.json"])
def test_run_save_round_trip(tmp_path, name):
    """`run --save`: the saved spec (truncate, h0, relu, targets_at kept) runs to the fixture's parameters after."""
    fx = json.loads((FIXTURES / name).read_text())
    spec = tmp_path / "s.yaml"
    spec.write_text(yaml.safe_dump(fx["spec"], sort_keys=False, default_flow_style=None))
    saved = tmp_path / "saved.yaml"
    r = subprocess.run([sys.executable, "-m", "bpcalc", "run", str(spec), "--save", str(saved), "--format", "json"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    again = yaml.safe_load(saved.read_text())
    lay, src = again["layers"][0], fx["spec"]["layers"][0]
    for key in ("truncate", "h0"):
        assert lay.get(key) == src.get(key)
    assert lay["activation"] == src.get("activation", "tanh")
    assert again.get("targets_at", "all") == fx["spec"].get("targets_at", "all")
    for key in ("weights_ih", "weights_hh", "biases_ih", "biases_hh"):
        _close(lay[key], fx["expected"]["layers"][0][f"new_{key}"], key)
