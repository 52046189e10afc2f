"""Attention networks in bpcalc's other commands: `export --to pytorch` (the SelfAttention module in the script gives
PyTorch's fixture numbers), `check` (backprop against central differences), `step --save` resuming exactly."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

FIX = Path(__file__).parent / "fixtures" / "attention"
EXPORTED = ["run_t1_batch_causal_wo_sigmoid_mse", "run_t3_causal_softmax_ce", "run_t3_wo_biases_linear_half_sse",
            "run_t5_batch_causal_wo_linear_mse", "run_opt_adam", "run_opt_nesterov"]


def _spec(case: str, tmp_path: Path) -> tuple[dict, Path]:
    fx = json.loads((FIX / f"{case}.json").read_text())
    path = tmp_path / f"{case}.yaml"
    path.write_text(yaml.safe_dump(fx["spec"], sort_keys=False, default_flow_style=None))
    return fx, path


def _close(a, e, what: str) -> None:
    np.testing.assert_allclose(np.asarray(a, dtype=float), np.asarray(e, dtype=float), rtol=1e-10, atol=1e-13,
                               err_msg=what)


@pytest.mark.torch
@pytest.mark.parametrize("case", EXPORTED)
def test_export_gives_torchs_numbers(tmp_path, case):
    """The exported script (SelfAttention module, nn.Linear over every step, torch.optim) against the fixture."""
    pytest.importorskip("torch")
    fx, spec = _spec(case, tmp_path)
    script = tmp_path / "s.py"
    r = subprocess.run([sys.executable, "-m", "bpcalc", "export", str(spec), "--to", "pytorch", "-o", str(script)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "class SelfAttention(torch.nn.Module)" in script.read_text()
    r = subprocess.run([sys.executable, str(script), "--json"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    _close(got["loss"], fx["loss"], "loss")
    _close(got["loss_after"], fx["loss_after"], "loss_after")
    for i, (g, w) in enumerate(zip(got["layers"], fx["layers"])):
        keys = [k for k in w if k.startswith(("grad_weights", "grad_biases", "new_weights", "new_biases"))]
        assert keys and set(keys) <= set(g), (i, keys, list(g))
        for key in keys:
            _close(g[key], w[key], f"layers.{i}.{key}")


def test_check_passes(cli, tmp_path):
    _fx, spec = _spec("run_t3_wo_biases_linear_half_sse", tmp_path)
    r = cli("check", spec, "--all", "--format", "json")
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)
    names = json.dumps(d)
    for p in ("weights_q", "weights_k", "weights_v", "weights_o", "biases_q", "biases_o"):
        assert p in names, p


def test_check_flags_a_wrong_softmax_backward(cli, tmp_path, monkeypatch):
    """check is not vacuous here: with the Jacobian's diagonal only (a hand mistake), W_q and W_k fail."""
    from bpcalc.registry.layers import attention as att

    _fx, spec = _spec("run_t3_plain_tanh_half_sse", tmp_path)
    monkeypatch.setattr(att, "softmax_back", att._diagonal_only)
    r = cli("check", spec, "--all")
    assert r.exit_code == 1
    assert "weights_q" in r.stdout and "✗" in r.stdout


def test_step_save_resumes_exactly(cli, tmp_path):
    """Two epochs, --save, two more from the saved spec == four epochs (Adam's state and causal: true kept)."""
    fx, spec = _spec("run_opt_adam", tmp_path)
    four = json.loads(cli("step", spec, "--epochs", "4", "--format", "json").stdout)
    saved = tmp_path / "saved.yaml"
    assert cli("step", spec, "--epochs", "2", "--save", saved).exit_code == 0
    assert "causal: true" in saved.read_text()
    more = json.loads(cli("step", saved, "--epochs", "2", "--format", "json").stdout)
    assert [e["epoch"] for e in more["epochs"]] == [3, 4]
    _close([e["loss"] for e in more["epochs"]], [e["loss"] for e in four["epochs"][2:]], "losses")


# ------------------------------------------------------------------ diagnosis (expected:)
def _diagonal_only(fx: dict) -> dict:
    """∂E/∂S and ∂E/∂W_q as the mistake makes them, from PyTorch's A, ∂E/∂A, K and x (the fixture's numbers):
    each score through its own softmax entry only, g·a(1 − a)."""
    L = fx["layers"][0]
    A, gA, k = (np.asarray(L[key], dtype=float) for key in ("attention", "grad_attention", "k"))
    x = np.asarray(fx["spec"]["inputs"], dtype=float)
    gS = gA * A * (1 - A)
    gQ = gS @ k / np.sqrt(k.shape[-1])
    return {"grad_scores": gS, "grad_weights_q": gQ.T @ x}


@pytest.mark.parametrize("path, field", [("layers.0.grad_scores.1.0", "grad_scores"),
                                         ("layers.0.grad_weights_q.0.1", "grad_weights_q")])
def test_diagnosis_names_the_diagonal_only_jacobian(cli, tmp_path, path, field):
    fx, spec = _spec("run_t3_plain_tanh_half_sse", tmp_path)
    wrong = _diagonal_only(fx)[field][tuple(int(i) for i in path.split(".")[3:])]
    right = np.asarray(fx["layers"][0][field], dtype=float)[tuple(int(i) for i in path.split(".")[3:])]
    assert abs(wrong - right) > 1e-3
    spec.write_text(spec.read_text() + f"expected:\n  {path}: {wrong:.6f}\n  layers.0.attention.1.0: "
                    f"{fx['layers'][0]['attention'][1][0]:.6f}\n")
    r = cli("run", spec, "--format", "json")
    found = {e["key"]: e for e in json.loads(r.stdout)["expected"]}
    assert found["layers.0.attention.1.0"]["ok"] is True
    assert found[path]["ok"] is False
    assert found[path]["diagnosis"]["cause"] == "softmax_jacobian_diagonal_only"


def test_a_value_off_by_something_else_is_not_that_mistake(cli, tmp_path):
    fx, spec = _spec("run_t3_plain_tanh_half_sse", tmp_path)
    right = fx["layers"][0]["grad_scores"][1][0]
    spec.write_text(spec.read_text() + f"expected:\n  layers.0.grad_scores.1.0: {right + 0.05:.6f}\n")
    e = json.loads(cli("run", spec, "--format", "json").stdout)["expected"][0]
    assert e["ok"] is False and (e["diagnosis"] or {}).get("cause") != "softmax_jacobian_diagonal_only"


# ------------------------------------------------------------------ new --shape seqTxF:attention…
@pytest.mark.parametrize("shape, causal, wo", [("seq3x2:attention2:2", False, False),
                                               ("seq3x2:attention2c:2", True, False),
                                               ("seq4x3:attention2co:1", True, True)])
def test_new_draws_an_attention_problem(cli, tmp_path, shape, causal, wo):
    r = cli("new", "--shape", shape, "--seed", "5")
    assert r.exit_code == 0, r.stderr
    d = yaml.safe_load(r.stdout)
    att = d["layers"][0]
    assert att["type"] == "attention" and bool(att.get("causal")) is causal and ("weights_o" in att) is wo
    T, F = map(int, shape.split(":")[0][3:].split("x"))
    assert np.shape(d["inputs"]) == (T, F) and np.shape(att["weights_q"]) == (int(shape.split(":")[1][9]), F)
    path = tmp_path / "p.yaml"
    path.write_text(r.stdout)
    out = json.loads(cli("run", path, "--format", "json").stdout)["layers"][0]
    for key in ("grad_weights_q", "grad_weights_k", "grad_weights_v"):  # the rule: no gradient lost to rounding
        assert np.all(np.abs(np.asarray(out[key])) >= 1e-4), key
    assert cli("new", "--shape", shape, "--seed", "5").stdout == r.stdout  # the seed decides


def test_new_rejects_a_malformed_attention_word(cli):
    r = cli("new", "--shape", "seq3x2:attention9:2")
    assert r.exit_code == 2 and "attentionN" in r.stderr and "Traceback" not in r.stderr


# ------------------------------------------------------------------ bad input and stacked layers
BASE = """inputs: [[0.5, -0.2], [0.1, 0.4], [-0.3, 0.8]]
targets: [[0.1], [0.3], [0.0]]
loss: half_sse
learning_rate: 0.1
layers:
  - {att}
  - {{weights: [[0.6, -0.4]], biases: [0.05], activation: linear}}
"""
Q = "weights_q: [[0.3, -0.5]], weights_k: [[0.1, 0.4]], weights_v: [[0.7, -0.1]]"


@pytest.mark.parametrize("att, where, words", [
    ("{type: attention, weights_q: [[0.3, -0.5]], weights_v: [[0.7, -0.1]]}", "layers[0]", "add `weights_k`"),
    ("{type: attention, weights_q: [[0.3, -0.5, 1]], weights_k: [[0.3, -0.5, 1]], weights_v: [[0.3, -0.5, 1]]}",
     "layers[0].weights_q", "needs 2 weights"),
    (f"{{type: attention, {Q}, causal: 'yes'}}", "layers[0].causal", "true or false"),
    (f"{{type: attention, {Q}, biases_o: [1]}}", "layers[0].biases_o", "goes with `weights_o`"),
    (f"{{type: attention, {Q}, biases_q: [1, 2]}}", "layers[0].biases_q", "needs 1 values"),
    (f"{{type: attention, {Q}, weights_o: [[1, 2]]}}", "layers[0].weights_o", "needs 1 weights"),
    ("{type: attention}", "layers[0]", "or `units: d_k`"),
])
def test_bad_attention_specs(cli, tmp_path, att, where, words):
    path = tmp_path / "bad.yaml"
    path.write_text(BASE.format(att=att))
    r = cli("run", path)
    assert r.exit_code == 2 and where in r.stderr and words in r.stderr and "Traceback" not in r.stderr, r.stderr


TWO = """inputs: [[[0.5, -0.2], [0.1, 0.4], [-0.3, 0.8]], [[0.2, 0.1], [-0.4, 0.3], [0.6, -0.7]]]
targets: [[[0.1], [0.3], [0.0]], [[0.2], [-0.1], [0.5]]]
seed: 3
loss: mse
learning_rate: 0.1
layers:
  - {type: attention, weights_q: [[0.3, -0.5], [0.2, 0.9]], weights_k: [[0.1, 0.4], [-0.6, 0.3]],
     weights_v: [[0.7, -0.1], [0.2, 0.5]], biases_v: [0.1, -0.2], causal: true}
  - {type: attention, units: 3}
  - {weights: [[0.6, -0.4, 0.3]], biases: [0.05], activation: tanh}
"""


def test_two_attention_layers_check(cli, tmp_path):
    """Attention on attention (the second's weights drawn from `seed` by `units`): backprop = central differences."""
    path = tmp_path / "two.yaml"
    path.write_text(TWO)
    r = cli("check", path, "--all")
    assert r.exit_code == 0 and "✓ all 36 gradients agree" in r.stdout, r.stdout


@pytest.mark.torch
def test_two_attention_layers_export(cli, tmp_path):
    pytest.importorskip("torch")
    path, script = tmp_path / "two.yaml", tmp_path / "two.py"
    path.write_text(TWO)
    assert cli("export", path, "-o", script).exit_code == 0
    r = subprocess.run([sys.executable, str(script), "--json"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    got, ours = json.loads(r.stdout), json.loads(cli("run", path, "--format", "json").stdout)
    _close(got["loss"], ours["loss"], "loss")
    _close(got["loss_after"], ours["loss_after"], "loss_after")
    _close(got["layers"][1]["new_weights_q"], ours["layers"][1]["new_weights_q"], "layers.1.new_weights_q")


# ------------------------------------------------------------------ the JSON Schema editors read
def test_schema_takes_attention_specs_and_refuses_a_misspelt_key(cli, tmp_path):
    jsonschema = pytest.importorskip("jsonschema")
    from bpcalc.spec.schema import build_schema

    schema = build_schema()
    fx, spec = _spec("run_opt_adam", tmp_path)
    jsonschema.validate(fx["spec"], schema)
    saved = tmp_path / "saved.yaml"
    assert cli("step", spec, "--epochs", "1", "--save", saved).exit_code == 0
    jsonschema.validate(yaml.safe_load(saved.read_text()), schema)  # training_state by parameter name
    bad = json.loads(json.dumps(fx["spec"]))
    bad["layers"][0]["wieghts_o"] = [[1.0, 0.0]]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)
    del bad["layers"][0]["wieghts_o"], bad["layers"][0]["weights_q"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)


# ------------------------------------------------------------------ explain --param
@pytest.mark.parametrize("param, inner, factor", [
    ("w_q[1,2]", ("grad_q", 0), ("x", 1)), ("w_k[2,1]", ("grad_k", 1), ("x", 0)),
    ("layers.0.weights_v.0.0", ("grad_v", 0), ("x", 0)), ("w_o[2,1]", ("grad_a", 1), ("context", 0)),
    ("b_o[1]", ("grad_a", 0), None)])
def test_explain_param_sums_the_steps_terms(cli, tmp_path, param, inner, factor):
    """Each (sequence, step) term is PyTorch's inner gradient times the factor, and they add up to its gradient."""
    fx, spec = _spec("run_t5_causal_wo_softmax_ce", tmp_path)
    r = cli("explain", spec, "--param", param, "--format", "json")
    assert r.exit_code == 0, r.stderr
    (d,) = json.loads(r.stdout)["attention_params"]
    L = fx["layers"][0]
    g = np.asarray(L[inner[0]], dtype=float)[:, inner[1]]
    x = np.asarray(fx["spec"]["inputs"], dtype=float) if factor and factor[0] == "x" else \
        np.asarray(L[factor[0]], dtype=float) if factor else np.ones((len(g), 1))
    f = x[:, factor[1]] if factor else x[:, 0]
    _close([t["inner"] for t in d["terms"]], g, "inner")
    _close([t["factor"] for t in d["terms"]], f, "factor")
    _close([t["product"] for t in d["terms"]], g * f, "product")
    _close(d["gradient"], L["grad_" + d["key"]][d["index"][0]][d["index"][1]] if len(d["index"]) == 2 else
           L["grad_" + d["key"]][d["index"][0]], "gradient")
    _close(sum(g * f), d["gradient"], "sum")


def test_explain_text_names_the_softmax_jacobian(cli, tmp_path):
    _fx, spec = _spec("run_t3_causal_softmax_ce", tmp_path)
    out = cli("explain", spec, "--param", "w_k[1,1]").stdout
    assert "Layer 2: attention" in out and "∂E/∂S_tj = A_tj(∂E/∂A_tj − Σ_m ∂E/∂A_tm·A_tm)" in out


def test_matrix_views_show_attention_networks(cli, tmp_path):
    """(once refused; tests/test_attention_matrix.py checks the numbers)"""
    _fx, spec = _spec("run_t3_causal_softmax_ce", tmp_path)
    for cmd in ("run", "explain"):
        r = cli(cmd, spec, "--view", "matrix")
        assert r.exit_code == 0 and "rowsoftmax" in r.stdout and "−∞" in r.stdout, (cmd, r.stderr)
