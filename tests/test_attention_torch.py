"""Self-attention networks: `bpcalc run` and `bpcalc step` through the CLI's JSON, against PyTorch float64 fixtures.

tests/fixtures/attention/run_*.json (scripts/make_attention_fixtures.py): one full-batch step of an attention layer
followed by a dense layer per step, every intermediate torch computes with autograd (retain_grad) of the mean loss
over the (sequence, step) terms: q, k, v, the scores (masked entries null), the attention matrix, the output a and
∂E/∂a, every parameter X with grad_X and new_X, the optimizer's state; the dense layer's z, a, δ and parameters;
the loss and the outputs after. tests/fixtures/attention/train_*.json: per-epoch losses and final parameters of
`bpcalc step --epochs N`. Each fixture holds its spec as a mapping; bpcalc is given its YAML dump.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

FIXTURES = Path(__file__).parent / "fixtures" / "attention"
RUNS = sorted(FIXTURES.glob("run_*.json"))
TRAINS = sorted(FIXTURES.glob("train_*.json"))
ATT_KEYS = ["q", "k", "v", "scores", "attention", "a", "grad_a"]
DENSE_KEYS = ["z", "a", "grad_a", "delta"]
RTOL = 1e-10


def _close(actual, expected, what: str, rtol: float = RTOL) -> None:
    a, e = np.asarray(actual, dtype=float), np.asarray(expected, dtype=float)  # null -> nan on both sides
    assert a.shape == e.shape, f"{what}: shape {a.shape}, expected {e.shape}"
    np.testing.assert_allclose(a, e, rtol=rtol, atol=1e-13, err_msg=what, equal_nan=True)


def _cli(tmp_path: Path, name: str, spec: dict, *args: str, fmt: str = "json") -> str:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False, default_flow_style=None))
    r = subprocess.run([sys.executable, "-m", "bpcalc", args[0], str(path), *args[1:], "--format", fmt],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout


def _load(path: Path) -> dict:
    return json.loads(path.read_text())


def test_fixtures_cover_the_contract():
    runs = [_load(p) for p in RUNS]
    atts = [fx["spec"]["layers"][0] for fx in runs]
    assert {np.shape(fx["spec"]["inputs"])[-2] for fx in runs} >= {1, 3, 5}  # T
    assert {np.ndim(fx["spec"]["inputs"]) for fx in runs} == {2, 3}  # one sequence, several
    assert any(a.get("causal") for a in atts) and any(not a.get("causal") for a in atts)
    assert any("weights_o" in a for a in atts) and any("weights_o" not in a for a in atts)
    assert all(any(f"biases_{m}" in a for a in atts) for m in "qkvo")
    opts = {(fx["spec"].get("optimizer") or {"type": "sgd"})["type"] for fx in runs}
    assert opts >= {"sgd", "momentum", "nesterov", "rmsprop", "adagrad", "adam", "adamw"}


@pytest.mark.parametrize("path", RUNS, ids=lambda p: p.stem[4:])
def test_run_one_step(path, tmp_path):
    fx = _load(path)
    d = json.loads(_cli(tmp_path, fx["case"], fx["spec"], "run"))
    for key in ("loss", "loss_after", "outputs_after"):
        _close(d[key], fx[key], key)
    _close(d["loss_terms"], fx["loss_terms"], "loss_terms")
    got, want = d["layers"][0], fx["layers"][0]
    assert got["type"] == "attention"
    for key in ATT_KEYS:
        _close(got[key], want[key], f"attention.{key}")
    params = [k for k in want if k.startswith(("weights_", "biases_"))]
    for p in params:
        for key in (p, f"grad_{p}", f"new_{p}"):
            _close(got[key], want[key], f"attention.{key}")
    for absent in {"weights_o", "biases_q", "biases_k", "biases_v", "biases_o"} - set(params):
        assert got.get(absent) is None, absent
    dense, dwant = d["layers"][1], fx["layers"][1]
    for key in DENSE_KEYS + ["grad_weights", "grad_biases", "new_weights", "new_biases"]:
        _close(dense[key], dwant[key], f"dense.{key}")
    _close(d["grad_inputs"], want["grad_inputs"], "grad_inputs")


@pytest.mark.parametrize("path", [p for p in RUNS if "optimizer_state" in _load(p)["layers"][0]],
                         ids=lambda p: p.stem[4:])
def test_run_optimizer_state(path, tmp_path):
    fx = _load(path)
    d = json.loads(_cli(tmp_path, fx["case"], fx["spec"], "run"))
    st = d["layers"][0]["optimizer_state"]
    for p, buffers in fx["layers"][0]["optimizer_state"].items():
        for b, v in buffers.items():
            _close(st[p][b], v, f"optimizer_state.{p}.{b}")


@pytest.mark.parametrize("path", TRAINS, ids=lambda p: p.stem[6:])
def test_step_epochs(path, tmp_path):
    fx = _load(path)
    d = json.loads(_cli(tmp_path, fx["case"], fx["spec"], "step", "--epochs", str(fx["epochs"])))
    _close([e["loss"] for e in d["epochs"]], fx["losses"], "losses")
    for i, (got, want) in enumerate(zip(d["layers"], fx["layers"])):
        for key, v in want.items():
            if key != "type":
                _close(got[key], v, f"layers[{i}].{key}")
