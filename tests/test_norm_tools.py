"""batchnorm, layernorm and dropout in the other commands: schema, check, export --to pytorch, diagnosis, new, the
tables of run in every format."""

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


def _spec(tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name}.yaml"
    spec = json.loads((FIXTURES / f"{name}.json").read_text())["spec"]
    path.write_text(yaml.safe_dump(spec, sort_keys=False, default_flow_style=None))
    return path


def _bpcalc(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bpcalc", *args], capture_output=True, text=True, timeout=300)


def test_schema_accepts_every_fixture_spec():
    jsonschema = pytest.importorskip("jsonschema")
    from bpcalc.spec.schema import build_schema

    v = jsonschema.Draft202012Validator(build_schema())
    for path in sorted(FIXTURES.glob("*.json")):
        errors = list(v.iter_errors(json.loads(path.read_text())["spec"]))
        assert not errors, (path.stem, errors[0].message[:300])
    bad = {"inputs": [[1, 2]], "targets": [[1]], "layers": [{"type": "batchnorm", "gamma": [1, 1], "p": 0.5}]}
    assert list(v.iter_errors(bad))


@pytest.mark.parametrize("path", RUNS, ids=lambda p: p.stem[4:])
def test_check_passes(path, tmp_path):
    """Every gradient (γ, β included; dropout with its fixed mask) agrees with central differences."""
    r = _bpcalc("check", str(_spec(tmp_path, path.stem)), "--format", "json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["ok"] and d["failed"] == 0
    names = {p["key"].split(".")[2] for p in d["parameters"]}
    lay = [x["type"] for x in json.loads(path.read_text())["spec"]["layers"]]
    if "batchnorm" in lay or "layernorm" in lay:
        assert {"grad_gamma", "grad_beta"} <= names


EXPORTED = ["run_bn_dense_n3_relu_softmax", "run_bn_conv_eval_n2", "run_bn_dropout_ln_n3", "run_dropout_conv_n2",
            "run_ln_conv_n2", "run_bn_dense_n3_adam", "run_dropout_eval"]  # (each script imports torch: seconds)


@pytest.mark.torch
@pytest.mark.parametrize("path", [FIXTURES / f"{n}.json" for n in EXPORTED], ids=lambda p: p.stem[4:])
def test_exported_script_takes_bpcalcs_step(path, tmp_path):
    """The exported script (nn.BatchNorm1d/2d, nn.LayerNorm, nn.Dropout with bpcalc's mask) prints bpcalc's numbers:
    the loss before and after, each layer's a, ∂E/∂a, z, the gradients and new values of γ, β, weights, biases and
    the new running estimates."""
    pytest.importorskip("torch")
    spec = _spec(tmp_path, path.stem)
    script = tmp_path / "step.py"
    r = _bpcalc("export", str(spec), "--to", "pytorch", "-o", str(script))
    assert r.returncode == 0, r.stderr
    text = script.read_text()
    lay = [x["type"] for x in json.loads(path.read_text())["spec"]["layers"]]
    for kind, module in (("batchnorm", "nn.BatchNorm"), ("layernorm", "nn.LayerNorm("), ("dropout", "nn.Dropout(")):
        assert (kind in lay) == (module in text), kind
    r = subprocess.run([sys.executable, str(script), "--json"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    theirs = json.loads(r.stdout)
    ours = json.loads(_bpcalc("run", str(spec), "--format", "json").stdout)
    assert theirs["loss"] == pytest.approx(ours["loss"], rel=1e-12)
    assert theirs["loss_after"] == pytest.approx(ours["loss_after"], rel=1e-12)
    checked = 0
    for i, (T, B) in enumerate(zip(theirs["layers"], ours["layers"])):
        for key, value in T.items():
            if key == "type" or value is None or (key == "z" and "z" not in B):
                continue  # (flatten and dropout have no z in bpcalc's JSON)
            a, e = np.asarray(B[key], dtype=float), np.asarray(value, dtype=float)
            np.testing.assert_allclose(a.reshape(e.shape), e, rtol=1e-10, atol=1e-13, err_msg=f"layers[{i}].{key}")
            checked += 1
    assert checked >= 3 * len(lay)


# ---------------------------------------------------------------- diagnosis: the wrong values worked out here
def _cause(tmp_path: Path, name: str, key: str, value: float) -> dict:
    spec = json.loads((FIXTURES / f"{name}.json").read_text())["spec"]
    spec["expected"] = {key: round(float(value), 4)}
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False, default_flow_style=None))
    r = _bpcalc("run", str(path), "--format", "json")
    assert r.returncode == 1, r.stderr  # (1: a value does not match)
    return json.loads(r.stdout)["expected"][0]


def _bn_paths(name: str):
    """The batchnorm layer's input x, g = δ·γ, and ∂E/∂x with the σ² path or the μ path left out (by hand)."""
    layers = json.loads((FIXTURES / f"{name}.json").read_text())["expected"]["layers"]
    x, d, gamma = np.array(layers[0]["a"]), np.array(layers[1]["delta"]), np.array(layers[1]["gamma"])
    g, m = d * gamma, x.shape[0]
    sd = np.sqrt(x.var(axis=0) + 1e-5)
    xh = (x - x.mean(axis=0)) / sd
    return {"variance_path_missing": (m * g - g.sum(axis=0)) / (m * sd),
            "mean_path_missing": (m * g - xh * (g * xh).sum(axis=0)) / (m * sd)}


@pytest.mark.parametrize("cause", ["variance_path_missing", "mean_path_missing"])
def test_diagnosis_names_a_missing_path(cause, tmp_path):
    name = "run_bn_dense_n3_relu_softmax"
    wrong = _bn_paths(name)[cause][0, 1]
    found = _cause(tmp_path, name, "layers.0.grad_a.0.1", wrong)
    assert found["ok"] is False and found["diagnosis"]["cause"] == cause, found


def test_diagnosis_names_dropout_not_rescaled(tmp_path):
    """a = x·m, the 1/(1 − p) left out: half the right value where the mask keeps the unit (p = 0.5)."""
    name = "run_dropout_dense_n3"
    c = json.loads((FIXTURES / f"{name}.json").read_text())
    x, mask = np.array(c["expected"]["layers"][0]["a"]), np.array(c["spec"]["layers"][1]["mask"])
    s, k = next((s, k) for s, k in np.ndindex(x.shape) if mask[s, k] == 1 and abs(x[s, k]) > 0.05)
    found = _cause(tmp_path, name, f"layers.1.a.{s}.{k}", x[s, k] * mask[s, k])
    assert found["ok"] is False and found["diagnosis"]["cause"] == "dropout_not_rescaled", found


# ---------------------------------------------------------------- new, worksheet
@pytest.mark.parametrize("shape", ["3:batchnorm:2", "2:layernorm:2", "2:3:dropout:2", "1x3x3:conv2x2:batchnorm:2"])
def test_new_draws_a_problem_that_runs(shape, tmp_path):
    out = tmp_path / "p.yaml"
    r = _bpcalc("new", "--shape", shape, "-o", str(out))
    assert r.returncode == 0, r.stderr
    spec = yaml.safe_load(out.read_text())
    kinds = [x.get("type", "dense") for x in spec["layers"]]
    assert shape.split(":")[-2] in kinds
    if "batchnorm" in kinds or "dropout" in kinds:  # several samples: the batch a batchnorm normalises over
        assert len(spec["inputs"]) == 3
    r = _bpcalc("run", str(out), "--format", "json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["loss_after"] < json.loads(r.stdout)["loss"]


def test_worksheet_gives_gamma_beta_and_running_estimates(tmp_path):
    spec = _spec(tmp_path, "run_bn_dense_n8_running")
    r = _bpcalc("worksheet", str(spec))
    assert r.returncode == 0, r.stderr
    for text in ("γ_1^(3) = 0.51", "β_4^(3) = -0.18", "running_mean_1 = 0.38", "running_var_3 = 1.9"):
        assert text in r.stdout
    assert "____" in r.stdout
    r = _bpcalc("worksheet", str(spec), "--answers", "--format", "latex")
    assert r.returncode == 0, r.stderr


# ---------------------------------------------------------------- bad input: one message naming the path, exit 2
@pytest.mark.parametrize("change,where,words", [
    (lambda c: c["layers"][1].update(mask=[[1, 0, 2, 1]] * 3), "layers[1].mask", "1 (kept) and 0 (dropped)"),
    (lambda c: c["layers"][1].update(mask=[[1, 0, 1, 1]] * 2), "layers[1].mask", "2 masks for 3 samples"),
    (lambda c: c.update(batch_size=2), "layers[1].mask", "one batch, in order"),
    (lambda c: c["layers"][1].update(p=1.0), "layers[1].p", "up to (not including) 1"),
    (lambda c: c["layers"].__setitem__(1, {"type": "batchnorm", "gamma": [1, 1]}), "layers[1].gamma",
     "one value per feature"),
    (lambda c: c["layers"].__setitem__(1, {"type": "batchnorm", "mode": "test"}), "layers[1].mode", "mode"),
    (lambda c: c["layers"].__setitem__(1, {"type": "layernorm", "gamma": [1, 1, 1]}), "layers[1].gamma",
     "shaped like one sample"),
    (lambda c: c["layers"].__setitem__(1, {"type": "dropout", "p": 0.5}), "layers[1]", "needs `mask`"),
])
def test_bad_input_names_the_path(change, where, words, tmp_path):
    spec = json.loads((FIXTURES / "run_dropout_dense_n3.json").read_text())["spec"]
    change(spec)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False, default_flow_style=None))
    r = _bpcalc("step", str(path))
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert where in r.stderr and words in r.stderr, r.stderr


@pytest.mark.torch
def test_exported_training_takes_bpcalcs_epochs(tmp_path):
    """export --epochs: the script's per-epoch losses and final loss are bpcalc step's (mini-batches, running
    estimates moved each step)."""
    pytest.importorskip("torch")
    spec = _spec(tmp_path, "train_bn_conv_adam")
    script = tmp_path / "train.py"
    assert _bpcalc("export", str(spec), "--to", "pytorch", "--epochs", "3", "-o", str(script)).returncode == 0
    r = subprocess.run([sys.executable, str(script), "--json"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    theirs = json.loads(r.stdout)["step"]
    ours = json.loads(_bpcalc("step", str(spec), "--epochs", "3", "--format", "json").stdout)
    np.testing.assert_allclose([e["loss"] for e in theirs["epochs"]] + [theirs["loss_final"]],
                               [e["loss"] for e in ours["epochs"]] + [ours["loss_final"]], rtol=1e-12)


def test_explain_a_dense_weight_below_a_batchnorm(tmp_path):
    """∂E/∂w of the dense layer under the batchnorm: ∂E/∂a from the layer above (PyTorch's, the fixture), times
    the inputs, added over the samples."""
    name = "run_bn_dense_n2"
    fx = json.loads((FIXTURES / f"{name}.json").read_text())
    r = _bpcalc("explain", str(_spec(tmp_path, name)), "--param", "layers.0.weights.0.0", "--format", "json")
    assert r.returncode == 0, r.stderr
    assert "from layer 3, above" in r.stdout
    g = np.array(fx["expected"]["layers"][1]["grad_input"])[:, 0] @ np.array(fx["spec"]["inputs"])[:, 0]
    assert json.loads(r.stdout)["params"][0]["update"]["gradient"] == pytest.approx(g, rel=1e-9)


# ---------------------------------------------------------------- run's tables, every format
@pytest.mark.parametrize("fmt", ["text", "markdown", "latex", "html", "svg"])
def test_run_renders_every_format(fmt, tmp_path):
    spec = _spec(tmp_path, "run_bn_dropout_ln_n3")
    r = _bpcalc("run", str(spec), "--format", fmt)
    assert r.returncode == 0, r.stderr
    if fmt in ("text", "markdown", "html"):  # (markdown and html write the formulas in TeX)
        for words in ("through σ²", "through μ", "the three paths added", "dropped"):
            assert words in r.stdout, words
    if fmt == "text":
        for words in ("(1/(mσ))(m·g − Σg − x̂·Σ(g·x̂))", "running_mean_1", "γ_1"):
            assert words in r.stdout, words


def test_run_tables_in_korean_and_the_matrix_view(tmp_path):
    spec = _spec(tmp_path, "run_bn_conv_n2")
    r = _bpcalc("run", str(spec), "--lang", "ko")
    assert r.returncode == 0, r.stderr
    assert "σ²를 거쳐" in r.stdout and "세 경로의 합" in r.stdout
    r = _bpcalc("run", str(spec), "--view", "matrix")
    assert r.returncode == 0, r.stderr
    assert "∂E/∂γ" in r.stdout and "(1/(mσ))" in r.stdout


def test_update_table_names_gamma_and_beta(tmp_path):
    """The update rows of γ and β: old − α·gradient, with the fixture's (PyTorch's) new values."""
    name = "run_bn_dense_n2"
    fx = json.loads((FIXTURES / f"{name}.json").read_text())
    r = _bpcalc("run", str(_spec(tmp_path, name)), "--precision", "8")
    assert r.returncode == 0, r.stderr
    update = r.stdout.split("Update:")[1]
    new_gamma = fx["expected"]["layers"][1]["new_gamma"][0]
    row = next(line for line in update.splitlines() if line.startswith("γ_1"))
    assert float(row.split()[-1]) == pytest.approx(new_gamma, rel=1e-7)


@pytest.mark.parametrize("view", [[], ["--view", "matrix"]], ids=["tables", "matrix"])
def test_latex_compiles(view, tmp_path):
    """The standalone LaTeX of a batchnorm/dropout/layernorm step compiles (σ² and x̂ in names and words)."""
    import shutil

    if shutil.which("pdflatex") is None:
        pytest.skip("pdflatex not installed")
    tex = tmp_path / "step.tex"
    r = _bpcalc("run", str(_spec(tmp_path, "run_bn_dropout_ln_n3")), "--format", "latex", "--standalone", *view,
                "-o", str(tex))
    assert r.returncode == 0, r.stderr
    r = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", tex.name], cwd=tmp_path,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-2000:]


@pytest.mark.parametrize("opt", ["nesterov", "adagrad", "adamw", "rmsprop"])
def test_step_with_every_optimizer_resumes_exactly(opt, tmp_path):
    """Two epochs, --save, one more from the saved spec (its training_state holding the buffers of γ and β and
    its running estimates moved) ends bit for bit where three epochs in a row do."""
    spec = json.loads((FIXTURES / "train_bn_dense_momentum.json").read_text())["spec"]
    spec["optimizer"] = {"type": opt}
    spec["learning_rate"] = 0.05
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False, default_flow_style=None))
    saved = tmp_path / "saved.yaml"
    assert _bpcalc("step", str(path), "--epochs", "2", "--save", str(saved)).returncode == 0
    state = yaml.safe_load(saved.read_text())["training_state"]
    assert {"gamma", "beta"} <= set(state["layers"][1])
    once = json.loads(_bpcalc("step", str(path), "--epochs", "3", "--format", "json").stdout)
    resumed = json.loads(_bpcalc("step", str(saved), "--epochs", "1", "--format", "json").stdout)
    for key in ("gamma", "beta", "running_mean", "running_var"):
        assert resumed["layers"][1][key] == once["layers"][1][key], key
    assert resumed["layers"][2]["weights"] == once["layers"][2]["weights"]


@pytest.mark.parametrize("name,layer,param", [("run_bn_dense_n2", 1, "gamma"), ("run_ln_dense_n3", 1, "beta"),
                                              ("run_bn_dense_n8_running", 1, "gamma")])
def test_explain_gamma_and_beta(name, layer, param, tmp_path):
    """∂E/∂γ_c = Σ_s δ_c·x̂_c and ∂E/∂β_c = Σ_s δ_c: the factors are PyTorch's δ and x̂ (the fixture), their
    products add up to PyTorch's gradient, and the update gives its new value."""
    fx = json.loads((FIXTURES / f"{name}.json").read_text())["expected"]["layers"][layer]
    r = _bpcalc("explain", str(_spec(tmp_path, name)), "--param", f"layers.{layer}.{param}.1", "--format", "json")
    assert r.returncode == 0, r.stderr
    (p,) = json.loads(r.stdout)["params"]
    delta = np.array(fx["delta"])[:, 1]
    second = np.array(fx["x_hat"])[:, 1] if param == "gamma" else np.ones_like(delta)
    np.testing.assert_allclose(p["factors"][0]["value"], delta, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(p["factors"][1]["value"], second, rtol=1e-10, atol=1e-13)
    assert p["update"]["gradient"] == pytest.approx(float(delta @ second), rel=1e-9)
    assert p["update"]["gradient"] == pytest.approx(fx[f"grad_{param}"][1], rel=1e-9)
    assert p["update"]["new"] == pytest.approx(fx[f"new_{param}"][1], rel=1e-9)
