"""LSTM and GRU networks (issue 18): `bpcalc run` and `bpcalc step` through the CLI's JSON against PyTorch float64
fixtures (tests/fixtures/gates/, written by scripts/make_gate_fixtures.py: each cell unrolled in torch from
PyTorch's equations, checked against nn.LSTM / nn.GRU forward and backward, differentiated by autograd, updated by
torch.optim). torch is not needed here.

run_*: per recurrent layer h, c (LSTM), each gate's values per step, grad_h (∂E/∂h_t, both paths), its norm per
step, every parameter with its gradient and new value, the optimizer's state; per dense layer z, a, ∂E/∂a, δ,
gradients and new parameters; the loss per term and mean, before and after; the outputs after. The fixtures keep
the sequence axis N (1 for one sequence); bpcalc's JSON drops it for a spec that writes one sequence.
train_*: per-epoch losses and final parameters of `bpcalc step --epochs N` with every optimizer, truncation, a
mini-batch case and the per-gate form."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

FIXTURES = Path(__file__).parent / "fixtures" / "gates"
RUNS = sorted(FIXTURES.glob("run_*.json"))
TRAINS = sorted(FIXTURES.glob("train_*.json"))
RTOL = 1e-10
PARAMS = ("weights_ih", "weights_hh", "biases_ih", "biases_hh")


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


def _per_gate_params(lay: dict) -> dict:
    """A per-gate layer's parameters in PyTorch's layout, stacked here (one bias per gate: biases_ih)."""
    order = "ifgo" if lay["type"] == "lstm" else "rzn"
    gs = [lay["gates"][g] for g in order]

    def rows(v):
        a = np.asarray(v, dtype=float)
        return a.reshape(1, -1) if a.ndim < 2 else a

    return {"weights_ih": np.concatenate([rows(g["weights_ih"]) for g in gs]),
            "weights_hh": np.concatenate([rows(g["weights_hh"]) for g in gs]),
            "biases_ih": np.concatenate([np.atleast_1d(g["biases"]) for g in gs])}


@pytest.mark.parametrize("path", RUNS, ids=lambda p: p.stem)
def test_run_matches_torch(tmp_path, path):
    fx = json.loads(path.read_text())
    d = _cli(tmp_path, fx["case"], fx["spec"], "run")
    one = (lambda v: np.asarray(v)[0]) if fx["one"] else np.asarray
    _close(d["loss"], fx["loss"], "loss")
    _close(d["loss_after"], fx["loss_after"], "loss_after")
    _close(d["loss_terms"], one(fx["loss_terms"]), "loss_terms")
    _close(d["outputs_after"], one(fx["outputs_after"]), "outputs_after")
    for i, (got, want) in enumerate(zip(d["layers"], fx["layers"])):
        lay = fx["spec"]["layers"][i]
        where = f"layers.{i}"
        assert got["type"] == want["type"], where
        if want["type"] == "dense":
            for key in ("z", "a", "grad_a", "delta"):
                _close(got[key], one(want[key]), f"{where}.{key}")
            for key in ("grad_weights", "grad_biases", "new_weights", "new_biases"):
                _close(got[key], want[key], f"{where}.{key}")
            continue
        for key in ("h", "grad_h", "grad_h_norm", *(("c",) if want["type"] == "lstm" else ())):
            _close(got[key], one(want[key]), f"{where}.{key}")
        assert set(got["gates"]) == set(want["gates"]), where
        for g, v in want["gates"].items():
            _close(got["gates"][g], one(v), f"{where}.gates.{g}")
        given = _per_gate_params(lay) if "gates" in lay else {k: lay[k] for k in PARAMS if k in lay}
        for key in PARAMS:
            if key not in given:
                assert got[key] is None and got[f"grad_{key}"] is None, f"{where}.{key}: the layer has none"
                continue
            _close(got[key], given[key], f"{where}.{key}")
            _close(got[f"grad_{key}"], want[f"grad_{key}"], f"{where}.grad_{key}")
            _close(got[f"new_{key}"], want[f"new_{key}"], f"{where}.new_{key}")
        for name, state in want.get("optimizer_state", {}).items():
            for buf, v in state.items():
                _close(got["optimizer_state"][name][buf], v, f"{where}.optimizer_state.{name}.{buf}")


@pytest.mark.parametrize("path", TRAINS, ids=lambda p: p.stem)
def test_step_matches_torch(tmp_path, path):
    fx = json.loads(path.read_text())
    d = _cli(tmp_path, fx["case"], fx["spec"], "step", "--epochs", str(fx["epochs"]))
    assert d["epochs_completed"] == fx["epochs"] and d["diverged"] is None
    _close([row["loss"] for row in d["epochs"]], fx["losses"], "epochs[].loss")
    _close(d["loss_final"], fx["loss_final"], "loss_final")
    for i, want in enumerate(fx["layers"]):
        for key, value in want.items():
            if key != "type":
                _close(d["layers"][i][key], value, f"layers.{i}.{key}", 1e-9)


def test_fixtures_cover_the_contract():
    """Every optimizer trains an LSTM and a GRU; truncation, mini-batches and the per-gate form train too."""
    trains = [json.loads(p.read_text())["spec"] for p in TRAINS]
    for kind in ("lstm", "gru"):
        mine = [s for s in trains if s["layers"][0]["type"] == kind]
        opts = {(s.get("optimizer") or {"type": "sgd"})["type"] for s in mine}
        assert opts >= {"sgd", "momentum", "nesterov", "rmsprop", "adagrad", "adam", "adamw"}, kind
        assert any("truncate" in s["layers"][0] for s in mine) and any("batch_size" in s for s in mine), kind
    assert any("gates" in s["layers"][0] for s in trains)


# a script imports torch (seconds each): the cases that cover what export must get right
EXPORTED = ["lstm_walkthrough_gates_last_layer_half_sse", "gru_gates_T3_last_sigmoid_half_sse",
            "lstm_T2_flat_h0_last_sigmoid_mse", "lstm_T5_truncate2_all_linear_mse",
            "gru_stacked_T5_all_linear_half_sse", "lstm_opt_adam"]


@pytest.mark.parametrize("path", [FIXTURES / f"run_{c}.json" for c in EXPORTED], ids=lambda p: p.stem)
def test_export_gives_the_fixtures_numbers(tmp_path, path):
    """`export --to pytorch`: nn.LSTM / nn.GRU (batch_first; h0 and c0 as the initial state; the state detached
    every k steps under truncate; a per-gate layer's bias_hh zero and not trained) and nn.Linear over every step
    give the fixture's loss, gradients and new parameters (needs torch)."""
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
    got = json.loads(r.stdout)
    _close(got["loss"], fx["loss"], "loss")
    _close(got["loss_after"], fx["loss_after"], "loss_after")
    checked = 0
    for i, (g, w) in enumerate(zip(got["layers"], fx["layers"])):
        for key in g:
            if key.startswith(("grad_weights", "grad_biases", "new_")) and key in w:
                _close(g[key], w[key], f"layers.{i}.{key}")
                checked += 1
    assert checked >= 4
