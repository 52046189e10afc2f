"""The norm kinds' leftovers: a batchnorm that would see one value per feature refused (train mode only), γ/β of
a batchnorm after conv2d and of a layernorm over maps in `explain --param`, γ/β named with their layer."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

FIXTURES = Path(__file__).parent / "fixtures" / "norm"


def _bpcalc(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bpcalc", *args], capture_output=True, text=True, timeout=300)


def _write(tmp_path: Path, spec: dict, name: str = "s") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False, default_flow_style=None))
    return path


def _fixture_spec(tmp_path: Path, name: str) -> Path:
    return _write(tmp_path, json.loads((FIXTURES / f"{name}.json").read_text())["spec"], name)


ONE = {"inputs": [[0.5, -0.2]], "targets": [[1.0, 0.0]],
       "layers": [{"type": "dense", "weights": [[0.1, 0.2], [0.3, -0.4]], "biases": [0.0, 0.1]},
                  {"type": "batchnorm"}]}


@pytest.mark.parametrize("change", [{}, {"batch_size": 2, "extra": 2}], ids=["one_sample", "last_minibatch"])
def test_batchnorm_of_one_value_per_feature_is_refused(change, tmp_path):
    """One sample per feature in a training batch: exit 2, the layer's path, a hint, no traceback."""
    spec = json.loads(json.dumps(ONE))
    if change:
        spec["inputs"] += [[0.1, 0.3], [0.2, 0.2]]
        spec["targets"] += [[0.0, 1.0], [1.0, 0.0]]
        spec["batch_size"] = change["batch_size"]
    r = _bpcalc("step" if change else "run", str(_write(tmp_path, spec)))
    assert r.returncode == 2
    assert "layers[1]" in r.stderr and "more than one value per feature" in r.stderr
    assert "hint:" in r.stderr and "mode: eval" in r.stderr and "Traceback" not in r.stderr


def test_batchnorm_of_one_sample_is_refused_by_pytorch_too():
    """The independent source: PyTorch's BatchNorm1d in training mode refuses one value per channel."""
    torch = pytest.importorskip("torch")
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        torch.nn.BatchNorm1d(2).train()(torch.tensor([[0.5, -0.2]], dtype=torch.float64))


def test_batchnorm_of_one_sample_runs_in_eval_mode_and_over_positions(tmp_path):
    """Eval mode normalises with the running estimates (no batch statistics); after conv2d one sample still has
    several positions per channel."""
    spec = json.loads(json.dumps(ONE))
    spec["layers"][1]["mode"] = "eval"
    r = _bpcalc("run", str(_write(tmp_path, spec)), "--format", "json")
    assert r.returncode == 0, r.stderr
    conv = json.loads((FIXTURES / "run_bn_conv_n2.json").read_text())["spec"]
    conv["inputs"], conv["targets"] = conv["inputs"][:1], conv["targets"][:1]
    r = _bpcalc("run", str(_write(tmp_path, conv, "c")), "--format", "json")
    assert r.returncode == 0, r.stderr


# ---------------------------------------------------------------- explain --param: γ/β over feature maps
def _explain(tmp_path: Path, name: str, param: str, *more: str) -> subprocess.CompletedProcess:
    return _bpcalc("explain", str(_fixture_spec(tmp_path, name)), "--param", param, *more)


@pytest.mark.parametrize("param", ["gamma", "beta"])
def test_explain_channel_gamma_beta_of_a_batchnorm_after_conv2d(param, tmp_path):
    """∂E/∂γ_c = Σ_s Σ_(i,j) δ[c,i,j]·x̂[c,i,j], ∂E/∂β_c = Σ_s Σ_(i,j) δ[c,i,j]: each term's δ and x̂ are
    PyTorch's (the fixture), their sum PyTorch's gradient, the update its new value."""
    name, c = "run_bn_conv_n2", 1
    fx = json.loads((FIXTURES / f"{name}.json").read_text())["expected"]["layers"][1]
    r = _explain(tmp_path, name, f"layers.1.{param}.{c}", "--format", "json")
    assert r.returncode == 0, r.stderr
    (p,) = json.loads(r.stdout)["params"]
    assert p["name"] == ("γ" if param == "gamma" else "β") + "_2^(3)"
    delta = np.array(fx["delta"])[:, c]
    other = np.array(fx["x_hat"])[:, c] if param == "gamma" else np.ones_like(delta)
    assert len(p["terms"]) == delta.size
    np.testing.assert_allclose([t["delta"] for t in p["terms"]], delta.reshape(-1), rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose([t["x_hat" if param == "gamma" else "one"] for t in p["terms"]], other.reshape(-1),
                               rtol=1e-10, atol=1e-13)
    assert [t["cell"][0] for t in p["terms"]] == [c + 1] * delta.size
    assert p["product"] == pytest.approx(float((delta * other).sum()), rel=1e-9)
    assert p["update"]["gradient"] == pytest.approx(fx[f"grad_{param}"][c], rel=1e-9)
    assert p["update"]["new"] == pytest.approx(fx[f"new_{param}"][c], rel=1e-9)
    assert "Σ_s Σ_(i,j)" in p["equation"][0]


def test_explain_gamma_of_a_layernorm_over_maps(tmp_path):
    """γ[c,i,j] of a layernorm over C×H×W maps scales one cell in each sample: Σ_s δ[c,i,j]·x̂[c,i,j]."""
    name, ix = "run_ln_conv_n2", (1, 0, 1)
    fx = json.loads((FIXTURES / f"{name}.json").read_text())["expected"]["layers"][1]
    r = _explain(tmp_path, name, "layers.1.gamma." + ".".join(map(str, ix)), "--format", "json")
    assert r.returncode == 0, r.stderr
    (p,) = json.loads(r.stdout)["params"]
    at = (slice(None), *ix)
    delta, xh = np.array(fx["delta"])[at], np.array(fx["x_hat"])[at]
    np.testing.assert_allclose(p["factors"][0]["value"], delta, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(p["factors"][1]["value"], xh, rtol=1e-10, atol=1e-13)
    assert p["update"]["gradient"] == pytest.approx(float(delta @ xh), rel=1e-9)
    assert p["update"]["gradient"] == pytest.approx(np.array(fx["grad_gamma"])[ix], rel=1e-9)
    assert p["update"]["new"] == pytest.approx(np.array(fx["new_gamma"])[ix], rel=1e-9)


@pytest.mark.parametrize("fmt", ["text", "markdown", "latex", "html", "svg"])
def test_explain_channel_gamma_in_every_format_and_korean(fmt, tmp_path):
    r = _explain(tmp_path, "run_bn_conv_n2", "γ_2^(3)", "--format", fmt, "--lang", "ko")
    assert r.returncode == 0, r.stderr
    if fmt == "text":
        assert "Σ_s Σ_(i,j)" in r.stdout and "(2,2,2)" in r.stdout and "모든 위치" in r.stdout


def test_two_norm_layers_have_their_own_names(tmp_path):
    """γ_1 of the batchnorm (layer 3) and of the layernorm (layer 6) carry their layer numbers in the update
    table, in `check` and in explain --param, in every notation profile."""
    spec = _fixture_spec(tmp_path, "run_bn_dropout_ln_n3")
    r = _bpcalc("run", str(spec))
    update = r.stdout.split("Update:")[1]
    assert "γ_1^(3)" in update and "γ_1^(6)" in update and "β_2^(6)" in update
    r = _bpcalc("check", str(spec))
    assert r.returncode == 0 and "γ_1^(3)" in r.stdout and "γ_1^(6)" in r.stdout
    r = _bpcalc("check", str(spec), "--all", "--format", "json")
    by_key = {p["key"]: p["name"] for p in json.loads(r.stdout)["parameters"]}  # (the JSON keys as before)
    assert by_key["layers.1.grad_gamma.0"] == "γ_1^(3)" and by_key["layers.4.grad_gamma.0"] == "γ_1^(6)"
    r = _bpcalc("run", str(spec), "--notation", "ng")
    assert "γ_1^[2]" in r.stdout.split("Update:")[1] and "γ_1^[5]" in r.stdout.split("Update:")[1]
    r = _bpcalc("explain", str(spec), "--param", "γ_1^(6)", "--format", "json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["params"][0]["path"] == "layers.4.gamma.0"


# ---------------------------------------------------------------- --round N: the hand-rounded track
def _rounded(tmp_path: Path, spec: dict, n: int) -> dict:
    r = _bpcalc("run", str(_write(tmp_path, spec, "r")), "--round", str(n), "--format", "json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_round_batchnorm_by_hand(tmp_path):
    """x = 0.3, 0.8 of one feature, γ = 1, β = 0, half_sse over 2 samples, α = 0.5, 3 decimals, worked by hand:
    μ = 1.1/2 = 0.55; σ² = (0.0625 + 0.0625)/2 = 0.0625 → 0.063 (half away from zero, as docs/rounding.md; half
    to even would give 0.062); σ = √0.06301 = 0.25102 → 0.251; x̂ = ∓0.25/0.251 = ∓0.99602 → ∓0.996 = a.
    ∂E/∂a = (a − t)/2: −0.498, −0.002 = δ; ∂E/∂γ = 0.498·0.996 − 0.002·0.996 = 0.494016 (products and sums
    exact); ∂E/∂β = −0.5; γ ← 1 − 0.5·0.494016 = 0.752992, β ← 0.25. ∂E/∂x = (2g − Σg − x̂·Σgx̂)/(2σ):
    (−0.996 + 0.5 + 0.492039936)/0.502 = −0.0078886 → −0.008, and +0.008. E = (0.496008 + 0.000008)/2 =
    0.248008 → 0.248. Running variance 0.9·1 + 0.1·(0.063·2/1) = 0.9126."""
    spec = {"inputs": [[0.3], [0.8]], "targets": [[0.0], [1.0]], "learning_rate": 0.5,
            "layers": [{"type": "batchnorm"}]}
    d = _rounded(tmp_path, spec, 3)
    L = d["layers"][0]
    assert L["mean"] == pytest.approx([0.55]) and L["var"] == pytest.approx([0.063])
    assert np.ravel(L["x_hat"]) == pytest.approx([-0.996, 0.996], abs=1e-12)
    assert np.ravel(L["delta"]) == pytest.approx([-0.498, -0.002], abs=1e-12)
    assert L["grad_gamma"] == pytest.approx([0.494016], abs=1e-12)
    assert L["grad_beta"] == pytest.approx([-0.5], abs=1e-12)
    assert L["new_gamma"] == pytest.approx([0.752992], abs=1e-12)
    assert L["new_running_var"] == pytest.approx([0.9126], abs=1e-12)
    assert np.ravel(d["grad_inputs"]) == pytest.approx([-0.008, 0.008], abs=1e-12)
    assert d["loss"] == pytest.approx(0.248, abs=1e-12)
    r = _bpcalc("run", str(_write(tmp_path, spec, "r")), "--round", "3")
    assert "√(0.063 + 0.00001)" in r.stdout and "(0.3 − 0.55) / 0.251" in r.stdout


def test_round_dropout_by_hand(tmp_path):
    """p = 0.2, 1 decimal: 1/(1 − p) = 1.25 → 1.3 (half away from zero; half to even: 1.2); a = 0.5×1×1.3 =
    0.65 (a product: exact), the dropped value 0; z = 0.65, δ = 0.65 − 1 = −0.35, ∂E/∂w_11 = −0.35·0.65 =
    −0.2275, w_11 ← 1 + 0.5·0.2275 = 1.11375; ∂E/∂x_1 = −0.35·1·1.3 = −0.455, ∂E/∂x_2 = 0 (dropped)."""
    spec = {"inputs": [[0.5, -0.4]], "targets": [[1.0]], "learning_rate": 0.5,
            "layers": [{"type": "dropout", "p": 0.2, "mask": [1, 0]},
                       {"type": "dense", "weights": [[1.0, 1.0]], "biases": [0.0], "activation": "linear"}]}
    d = _rounded(tmp_path, spec, 1)
    assert np.ravel(d["layers"][0]["a"]) == pytest.approx([0.65, 0.0], abs=1e-12)
    assert np.ravel(d["layers"][1]["grad_weights"]) == pytest.approx([-0.2275, 0.0], abs=1e-12)
    assert np.ravel(d["layers"][1]["new_weights"]) == pytest.approx([1.11375, 1.0], abs=1e-12)
    assert np.ravel(d["grad_inputs"]) == pytest.approx([-0.455, 0.0], abs=1e-12)
    r = _bpcalc("run", str(_write(tmp_path, spec, "r")), "--round", "1")
    assert "0.5×1×1.3" in r.stdout and "1/(1 − p) = 1.3" in r.stdout


def test_round_layernorm_reads_sigma_off_a_calculator(tmp_path):
    """Layernorm over one sample's 3 features, 2 decimals: μ = 0.6/3 = 0.2, σ² = (0.01 + 0.04 + 0.01)/3 = 0.02,
    σ = √0.02001 = 0.14146 → 0.14; x̂ = (0.1 − 0.2)/0.14 = −0.714 → −0.71 and (0.4 − 0.2)/0.14 = 1.4286 → 1.43
    (with σ unrounded: −0.71, 1.41)."""
    spec = {"inputs": [[0.1, 0.4, 0.1]], "targets": [[0.0, 1.0, 0.0]], "layers": [{"type": "layernorm"}]}
    L = _rounded(tmp_path, spec, 2)["layers"][0]
    assert np.ravel(L["mean"]) == pytest.approx([0.2]) and np.ravel(L["var"]) == pytest.approx([0.02])
    assert np.ravel(L["x_hat"]) == pytest.approx([-0.71, 1.43, -0.71], abs=1e-12)
