"""`bpcalc export --to pytorch`: the generated script, run by PyTorch (the independent source), gives the numbers
`bpcalc run --format json` gives: loss, every gradient, the updated parameters and the loss after."""

from __future__ import annotations

import io
import json
import runpy
import subprocess
import sys
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np
import pytest
from conftest import BUNDLED

RTOL, ATOL = 1e-12, 1e-14

# outputs near 1 where the standard torch form (F.cross_entropy, F.binary_cross_entropy_with_logits) takes a − t
# by subtraction: the script says so in its comments, and its numbers differ there (test_saturated_*)
SATURATED_STANDARD = {
    "softmax_ce": "inputs: [1.0]\ntargets: [0.0, 1.0]\nlayers:\n  - weights: [[0.0], [29.0]]\n"
                  "    activation: softmax\nloss: cross_entropy\nlearning_rate: 0.1\n",
    "sigmoid_bce": "inputs: [1.0]\ntargets: [1.0, 0.3]\nlayers:\n  - weights: [[29.0], [-31.0]]\n"
                   "    activation: sigmoid\nloss: binary_cross_entropy\nlearning_rate: 0.1\n",
}

NETWORK_CASES = {
    # outputs near 1 with torch forms that keep every digit (log_softmax, log1m_softmax, logaddexp): equal to bpcalc
    "saturated_softmax_bce": "inputs: [1.0]\ntargets: [0.4, 0.0]\nlayers:\n  - weights: [[0.0], [29.0]]\n"
                             "    activation: softmax\nloss: binary_cross_entropy\nlearning_rate: 0.1\n",
    "saturated_sigmoid_ce": "inputs: [1.0]\ntargets: [1.0]\nlayers:\n  - weights: [[29.0]]\n"
                            "    activation: sigmoid\nloss: cross_entropy\nlearning_rate: 0.1\n",
    # the registry's newer entries, each through the export
    "gelu_elu_huber_adamw": """
inputs: [[0.5, -1.0], [1.5, 0.2]]
targets: [[0.3], [2.9]]
layers:
  - weights: [[0.4, -0.6], [0.9, 0.3], [-0.5, 0.8]]
    biases: [0.1, -0.2, 0.05]
    activation: gelu
  - weights: [[0.7, -0.4, 0.6]]
    activation: elu
loss: huber
optimizer: {type: adamw, weight_decay: 0.1}
learning_rate: 0.05
""",
    "silu_softplus_nesterov": """
inputs: [[0.5, -1.0], [1.5, 0.2]]
targets: [[0.3, 0.1], [0.9, 0.5]]
layers:
  - weights: [[0.4, -0.6], [0.9, 0.3]]
    biases: [0.1, -0.2]
    activation: silu
  - weights: [[0.7, -0.4], [0.2, 0.5]]
    activation: softplus
loss: mse
optimizer: {type: nesterov, momentum: 0.8}
weight_decay: 0.01
""",
    "rmsprop_sigmoid": "inputs: [0.3, 0.7]\ntargets: [0.2]\nlayers:\n  - weights: [[0.5, -0.4]]\n    biases: [0.1]\n"
                       "    activation: sigmoid\nloss: half_sse\noptimizer: {type: rmsprop, alpha: 0.9}\n",
    "adagrad_tanh": "inputs: [0.3, 0.7]\ntargets: [0.2]\nlayers:\n  - weights: [[0.5, -0.4]]\n    biases: [0.1]\n"
                    "    activation: tanh\nloss: sse\noptimizer: adagrad\n",
    "momentum_freeze": """
inputs: [[0.05, 0.1], [0.3, -0.2]]
targets: [[0.01, 0.99], [0.5, 0.5]]
layers:
  - weights: [[0.15, 0.2], [0.25, 0.3]]
    biases: [0.35, 0.35]
    activation: tanh
  - weights: [[0.4, 0.45], [0.5, 0.55]]
    biases: [0.6, 0.6]
    activation: sigmoid
loss: mse
learning_rate: 0.5
freeze: [biases]
optimizer: {type: momentum, momentum: 0.9}
""",
    "adam_softmax_ce": """
inputs: [[0.5, -0.2], [0.1, 0.9], [-1, 2]]
targets: [[0, 1, 0], [1, 0, 0], [0.2, 0.3, 0.5]]
layers:
  - weights: [[0.1, 0.2], [0.3, -0.1]]
    biases: [0.0, 0.1]
    activation: leaky_relu
  - weights: [[0.2, -0.3], [0.4, 0.1], [-0.5, 0.2]]
    biases: [0.1, 0.0, -0.1]
    activation: softmax
loss: cross_entropy
learning_rate: 0.01
optimizer: {type: adam, beta1: 0.8, beta2: 0.99, epsilon: 1e-6}
weight_decay: 0.01
""",
    "relu_bce_sgd_wd": """
inputs: [0.3, 0.8, -0.4]
targets: [1, 0]
layers:
  - weights: [[0.1, 0.2, -0.3], [0.3, -0.1, 0.5], [0.2, 0.2, 0.2]]
    biases: [0.0, 0.1, -0.1]
    activation: relu
  - weights: [[0.2, -0.3, 0.1], [0.4, 0.1, 0.3]]
    activation: sigmoid
loss: binary_cross_entropy
learning_rate: 0.1
weight_decay: 0.001
""",
    "sigmoid_ce_sse_linear": """
inputs: [[1, 2], [3, 4]]
targets: [[0.2, 0.9], [1, 0]]
layers:
  - weights: [[0.1, -0.2], [0.3, 0.05]]
    activation: linear
  - weights: [[0.5, -0.5], [0.25, 0.75]]
    biases: [0.1, -0.1]
    activation: sigmoid
loss: cross_entropy
learning_rate: 0.3
""",
    "softmax_bce_sse": """
inputs: [0.5, 1.5]
targets: [1, 0, 0]
layers:
  - weights: [[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]]
    biases: [0.1, 0.2, 0.3]
    activation: softmax
loss: binary_cross_entropy
learning_rate: 0.2
""",
    "units_seeded": """
inputs: [[0.1, 0.2, 0.3, 0.4], [0.5, 0.6, 0.7, 0.8]]
targets: [[1, 0, 0], [0, 0, 1]]
seed: 7
init: he
layers:
  - units: 5
    activation: relu
  - units: 3
    init: uniform
    activation: softmax
loss: cross_entropy
learning_rate: 0.05
""",
}

GRAPH_CASES = {
    "every_function": """
variables: {x: 0.7, y: -1.3, t: 2.0}
constants: {c: 3}
nodes:
  a: exp(x) + log(t) + sqrt(t) * sin(y) - cos(x * y)
  b: tanh(a) * sigmoid(y) + relu(x) - abs(y) + square(c * x)
  out: a / b + x ** 2 - (-y) ** 3
target: 1.5
loss: half_sse
learning_rate: 0.05
optimizer: {type: adam}
""",
    "clashing_names": """
variables: {torch: 1.5, opt: -0.5}
nodes:
  loss: torch * opt
  forward: loss + 2 * torch
output: forward
learning_rate: 0.1
optimizer: {type: momentum, momentum: 0.5}
""",
    # variables the output does not use: gradient 0, yet weight decay moves them (torch skips a parameter whose
    # .grad is None, so the script gives them a zero gradient)
    "unused_variable_weight_decay_sgd": """
variables: {x: 2, y: 3}
nodes:
  q: x * 4
output: q
target: 1
loss: sse
learning_rate: 0.1
weight_decay: 0.5
""",
    "unused_variable_weight_decay_adamw_momentum": """
variables: {x: 2, y: 3, z: -1.5}
nodes:
  q: x * z
  r: y + 1
output: q
learning_rate: 0.1
optimizer: {type: adamw, weight_decay: 0.3}
""",
    "unused_variable_weight_decay_momentum": """
variables: {x: 2, y: 3}
nodes:
  q: x * 4
output: q
learning_rate: 0.1
optimizer: {type: momentum, momentum: 0.9, weight_decay: 0.2}
""",
    "unused_variable_and_later_nodes": """
variables: {x: 2, y: 3}
nodes:
  q: x * 4
  r: q + 1
output: q
target: 1
loss: sse
""",
}


def torch_result(script: str, monkeypatch) -> dict:
    """Run a generated script in this process (torch imported once) with --json; its printed JSON."""
    pytest.importorskip("torch")
    path = Path(script)
    monkeypatch.setattr(sys, "argv", [str(path), "--json"])
    buf = io.StringIO()
    with redirect_stdout(buf):
        runpy.run_path(str(path), run_name="__main__")
    return json.loads(buf.getvalue())


def close(a, b, what: str) -> None:
    if a is None or b is None:
        assert a is None and b is None, what
        return
    np.testing.assert_allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float), rtol=RTOL, atol=ATOL,
                               err_msg=what)


def compare(ours: dict, theirs: dict) -> None:
    assert ours["kind"] == theirs["kind"]
    close(ours["loss"], theirs["loss"], "loss")
    close(ours["loss_after"], theirs["loss_after"], "loss_after")
    if ours["kind"] == "network":
        assert len(ours["layers"]) == len(theirs["layers"])
        for i, (L, M) in enumerate(zip(ours["layers"], theirs["layers"])):
            for key in ("grad_weights", "grad_biases", "new_weights", "new_biases"):
                if key in L:  # pools and flatten have no parameters (bpcalc's JSON: a and grad_a); a sequence
                    close(L[key], M.get(key), f"layers[{i}].{key}")  # script leaves out a layer's absent biases
            for key in ("z", "a"):  # bpcalc drops the sample axis for a single sample; a sequence script has no z
                if key in L and key in M:
                    close(np.reshape(L[key], np.shape(M[key])), M[key], f"layers[{i}].{key}")
        return
    close(ours["output_after"], theirs["output_after"], "output_after")
    for name, v in ours["variables"].items():
        for key in ("value", "grad", "new_value"):
            close(v[key], theirs["variables"][name][key], f"variables.{name}.{key}")
    shared = set(ours["nodes"]) & set(theirs["nodes"])
    assert shared >= {n for n in theirs["nodes"]}  # every torch node is one of bpcalc's (bpcalc adds the loss)
    for name in shared:
        for key in ("value", "grad"):
            close(ours["nodes"][name][key], theirs["nodes"][name][key], f"nodes.{name}.{key}")


def export_and_compare(cli, tmp_path: Path, spec_arg, monkeypatch) -> dict:
    script = tmp_path / "step.py"
    r = cli("export", spec_arg, "--to", "pytorch", "--output", script)
    assert r.exit_code == 0, r.stderr
    ours = json.loads(cli("run", spec_arg, "--format", "json").stdout)
    theirs = torch_result(str(script), monkeypatch)
    compare(ours, theirs)
    return theirs


@pytest.mark.torch
@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_examples_match_pytorch(cli, tmp_path, monkeypatch, name):
    export_and_compare(cli, tmp_path, name, monkeypatch)


@pytest.mark.torch
@pytest.mark.parametrize("case", sorted(NETWORK_CASES) + sorted(GRAPH_CASES))
def test_specs_match_pytorch(cli, tmp_path, monkeypatch, case):
    if case.startswith("saturated"):  # gradients of 1e-13: relative accuracy only, no absolute slack
        monkeypatch.setattr(sys.modules[__name__], "ATOL", 1e-300)
    spec = tmp_path / f"{case}.yaml"
    spec.write_text({**NETWORK_CASES, **GRAPH_CASES}[case], encoding="utf-8")
    export_and_compare(cli, tmp_path, spec, monkeypatch)


@pytest.mark.torch
@pytest.mark.parametrize("first", ["{type: dropout, p: 0.5, mask: [[1, 0, 1], [0, 1, 1]]}",
                                   "{type: layernorm}"])
def test_a_first_layer_without_a_learned_input_exports(cli, tmp_path, monkeypatch, first):
    """Dropout (or a normalisation) straight over the inputs: its output needs no gradient in PyTorch, and the
    script kept asking it for one (retain_grad on a tensor that does not require grad)."""
    spec = tmp_path / "first.yaml"
    spec.write_text("inputs: [[1.0, 2.0, 3.0], [0.5, -1.0, 2.0]]\ntargets: [[1], [0]]\nloss: half_sse\n"
                    f"layers:\n  - {first}\n  - {{weights: [[0.1, 0.2, 0.3]], biases: [0.1], activation: sigmoid}}\n",
                    encoding="utf-8")
    theirs = export_and_compare(cli, tmp_path, spec, monkeypatch)
    assert theirs["layers"][1]["grad_weights"]


@pytest.mark.torch
def test_classic_worked_example_in_pytorch(cli, tmp_path, monkeypatch):
    """The textbook numbers, from PyTorch itself: the loss 0.298371109, w5 becomes 0.35891648."""
    theirs = export_and_compare(cli, tmp_path, "two_layer", monkeypatch)
    assert theirs["loss"] == pytest.approx(0.298371109, abs=1e-9)
    assert theirs["layers"][1]["new_weights"][0][0] == pytest.approx(0.35891648, abs=1e-8)


@pytest.mark.torch
def test_data_files_are_loaded_by_the_script(cli, tmp_path, monkeypatch):
    np.save(tmp_path / "x.npy", np.array([[0.1, 0.2], [0.3, -0.4], [1.0, 0.5]]))
    (tmp_path / "t.csv").write_text("0.5\n0.1\n0.9\n", encoding="utf-8")
    spec = tmp_path / "data.yaml"
    spec.write_text("inputs: x.npy\ntargets: t.csv\nlayers:\n  - weights: [[0.3, -0.2]]\n    biases: [0.1]\n"
                    "loss: half_sse\nlearning_rate: 0.5\n", encoding="utf-8")
    out = tmp_path / "sub"
    out.mkdir()
    script = out / "step.py"
    assert cli("export", spec, "-o", script).exit_code == 0
    assert "../x.npy" in script.read_text(encoding="utf-8")  # relative to the script, as --save writes them
    monkeypatch.chdir(out)
    compare(json.loads(cli("run", spec, "-f", "json").stdout), torch_result(str(script), monkeypatch))


@pytest.mark.torch
@pytest.mark.parametrize("optimizer", ["{type: momentum, momentum: 0.9}", "{type: adam}"])
def test_resumed_training_state_matches_pytorch(cli, tmp_path, monkeypatch, optimizer):
    """A spec saved by `bpcalc step` carries the optimizer's buffers; the script loads them into torch's."""
    spec = tmp_path / "s.yaml"
    spec.write_text(NETWORK_CASES["relu_bce_sgd_wd"].replace("weight_decay: 0.001", f"optimizer: {optimizer}"),
                    encoding="utf-8")
    saved = tmp_path / "saved.yaml"
    assert cli("step", spec, "--epochs", "3", "--save", saved).exit_code == 0
    assert "training_state" in saved.read_text(encoding="utf-8")
    export_and_compare(cli, tmp_path, saved, monkeypatch)


@pytest.mark.torch
def test_script_runs_standalone(cli, tmp_path, networks_dir):
    """In a fresh interpreter, from another folder, printing text by default. With biases frozen this is the
    well-known worked example whose error falls from 0.298371109 to 0.2910279 after the first update (the
    article rounds intermediates and prints 0.291027924; exact float64 arithmetic gives 0.2910277737)."""
    pytest.importorskip("torch")
    spec = tmp_path / "classic.yaml"
    spec.write_text((networks_dir / "two_layer.yaml").read_text(encoding="utf-8") + "freeze: [biases]\n",
                    encoding="utf-8")
    script = tmp_path / "classic.py"
    assert cli("export", spec, "-o", script).exit_code == 0
    p = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd="/", timeout=300)
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("loss        0.29837110876")
    assert "loss after  0.291027" in p.stdout


# ---------------------------------------------------------------- without torch: the command itself
def test_export_prints_to_stdout(cli):
    r = cli("export", "simple", "--to", "pytorch")
    assert r.exit_code == 0
    compile(r.stdout, "step.py", "exec")  # valid Python
    assert "torch.nn.Linear(2, 1, bias=True)" in r.stdout
    assert "torch.tensor([[0.5, 0.2]], dtype=torch.float64)" in r.stdout


def test_export_writes_exact_floats(cli):
    """Parameters are written with their shortest exact repr, so the script holds bpcalc's numbers bit for bit."""
    spec = "inputs: [0.1]\ntargets: [0.3]\nlayers:\n  - weights: [[0.1234567890123456789]]\n    biases: [1e-300]\n"
    r = cli("export", "-", input=spec)
    assert r.exit_code == 0
    assert repr(0.1234567890123456789) in r.stdout and "1e-300" in r.stdout


def test_export_unknown_framework(cli, tmp_path):
    r = cli("export", "simple", "--to", "tensorflow", "--output", tmp_path / "x.py")
    assert r.exit_code == 2 and "cannot export to 'tensorflow'" in r.stderr and "pytorch" in r.stderr
    assert list(tmp_path.iterdir()) == []


def test_export_never_overwrites_the_spec(cli, tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text("inputs: [1]\ntargets: [1]\nlayers:\n  - weights: [[1]]\n", encoding="utf-8")
    r = cli("export", spec, "--output", spec)
    assert r.exit_code == 2 and "refusing to overwrite" in r.stderr


def test_export_bad_spec(cli, tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text("inputs: [1]\ntargets: [1]\nlayers:\n  - weights: [[1, 2]]\n", encoding="utf-8")
    r = cli("export", spec, "--output", tmp_path / "x.py")
    assert r.exit_code == 2 and "layers[0].weights" in r.stderr and not (tmp_path / "x.py").exists()


def test_unused_variable_decays_in_run_and_in_the_script(cli, tmp_path):
    """y does not reach the output: its gradient is 0, and weight decay moves it, y' = y − α(0 + λy) = 3 − 0.1·0.5·3
    = 2.85 (by hand); the script gives torch's skipped parameter a zero gradient so it moves the same way."""
    spec = tmp_path / "decay.yaml"
    spec.write_text(GRAPH_CASES["unused_variable_weight_decay_sgd"], encoding="utf-8")
    y = json.loads(cli("run", spec, "--format", "json").stdout)["variables"]["y"]
    assert (y["grad"], y["new_value"]) == (0.0, pytest.approx(2.85, rel=1e-15))
    script = cli("export", spec, "--to", "pytorch").stdout
    assert "v.grad = torch.zeros_like(v)" in script


# ---------------------------------------------------------------- saturation: the standard form, and what it says
def _standard_script(cli, tmp_path: Path, case: str) -> tuple[Path, Path, str]:
    spec = tmp_path / f"{case}.yaml"
    spec.write_text(SATURATED_STANDARD[case], encoding="utf-8")
    script = tmp_path / f"{case}.py"
    assert cli("export", spec, "-o", script).exit_code == 0
    return spec, script, script.read_text(encoding="utf-8")


def _said(text: str) -> list[float]:
    """The two δ the script's comment names: bpcalc's, then the standard form's."""
    import re

    comment = " ".join(line.strip().lstrip("# ") for line in text.splitlines() if line.strip().startswith("#"))
    m = re.search(r"bpcalc's δ is (\S+), the standard form's (\S+) \(relative difference", comment)
    assert m, comment
    return [float(m.group(1)), float(m.group(2))]


@pytest.mark.torch
def test_saturated_softmax_ce_differs_where_the_comment_says(cli, tmp_path, monkeypatch):
    """z = (0, 29), t = (0, 1), x = 1. By hand: a_1 = 1/(1 + e^29), δ = (a_1, −a_1), ∂E/∂W = δ, E = log(1 + e^−29).
    bpcalc keeps every digit; F.cross_entropy forms a_2 − 1 by subtraction, off by about 1e-16 absolute (a relative
    4e-4 here), which the script's comment states with both numbers."""
    import math

    spec, script, text = _standard_script(cli, tmp_path, "softmax_ce")
    assert "F.cross_entropy(z, t)" in text and "autograd.Function" not in text
    assert "F.cross_entropy takes log Σ e^z" in text
    a1 = 1.0 / (1.0 + math.exp(29.0))
    loss = math.log1p(math.exp(-29.0))
    ours = json.loads(cli("run", spec, "-f", "json").stdout)
    theirs = torch_result(str(script), monkeypatch)
    np.testing.assert_allclose(ours["layers"][0]["grad_weights"], [[a1], [-a1]], rtol=1e-14, atol=0)
    assert ours["loss"] == pytest.approx(loss, rel=1e-14)
    g = theirs["layers"][0]["grad_weights"][1][0]
    assert 1e-6 < abs(g + a1) / a1 and abs(g + a1) < 1e-15  # digits lost, an absolute error of round-off
    assert abs(theirs["loss"] - loss) < 29 * 2.3e-16 and abs(theirs["loss"] - loss) / loss > 1e-6
    exact, standard = _said(text)
    assert exact == pytest.approx(-a1, rel=1e-14) and standard == pytest.approx(g, rel=1e-12)


@pytest.mark.torch
def test_saturated_sigmoid_bce_differs_where_the_comment_says(cli, tmp_path, monkeypatch):
    """z = (29, −31), t = (1, 0.3), K = 2. By hand: δ_1 = −σ(−29)/2 = −1/(2(1 + e^29)), δ_2 = (σ(−31) − 0.3)/2;
    F.binary_cross_entropy_with_logits takes σ(29) − 1 by subtraction, which the comment states."""
    import math

    spec, script, text = _standard_script(cli, tmp_path, "sigmoid_bce")
    assert "F.binary_cross_entropy_with_logits(z, t)" in text
    assert "F.binary_cross_entropy_with_logits takes its gradient as (σ(z) − t)/K" in text
    d1 = -0.5 / (1.0 + math.exp(29.0))
    d2 = (1.0 / (1.0 + math.exp(31.0)) - 0.3) / 2
    ours = json.loads(cli("run", spec, "-f", "json").stdout)
    theirs = torch_result(str(script), monkeypatch)
    np.testing.assert_allclose(ours["layers"][0]["grad_weights"], [[d1], [d2]], rtol=1e-14, atol=0)
    g1, g2 = (row[0] for row in theirs["layers"][0]["grad_weights"])
    assert 1e-6 < abs(g1 - d1) / abs(d1) and abs(g1 - d1) < 1e-16
    assert g2 == pytest.approx(d2, rel=1e-14)  # away from saturation the two agree
    exact, standard = _said(text)
    assert exact == pytest.approx(d1, rel=1e-14) and standard == pytest.approx(g1, rel=1e-12)


def test_unsaturated_spec_says_it_agrees(cli):
    text = cli("export", "-", input=NETWORK_CASES["adam_softmax_ce"]).stdout
    assert "not that far out: the script and bpcalc agree to round-off" in text


# ---------------------------------------------------------------- --epochs: the script trains as `step` does
TRAIN_BASES = {
    "softmax_ce": """
inputs: [[0.5, -0.2], [0.1, 0.9], [-1, 2], [0.3, 0.3]]
targets: [[0, 1, 0], [1, 0, 0], [0.2, 0.3, 0.5], [0, 0, 1]]
layers:
  - weights: [[0.1, 0.2], [0.3, -0.1], [-0.4, 0.5]]
    biases: [0.0, 0.1, -0.2]
    activation: tanh
  - weights: [[0.2, -0.3, 0.1], [0.4, 0.1, -0.2], [-0.5, 0.2, 0.3]]
    biases: [0.1, 0.0, -0.1]
    activation: softmax
loss: cross_entropy
""",
    "sigmoid_bce": """
inputs: [[0.3, 0.8, -0.4], [1.0, -0.5, 0.2], [0.0, 0.4, 0.9], [-0.7, 0.1, 0.5], [0.2, 0.2, -0.9]]
targets: [[1, 0], [0, 1], [1, 1], [0, 0], [0.3, 0.6]]
layers:
  - weights: [[0.1, 0.2, -0.3], [0.3, -0.1, 0.5]]
    biases: [0.0, 0.1]
    activation: relu
  - weights: [[0.2, -0.3], [0.4, 0.1]]
    biases: [0.05, -0.05]
    activation: sigmoid
loss: binary_cross_entropy
""",
    "mse": """
inputs: [[0.5, -1.0], [1.5, 0.2], [-0.3, 0.4]]
targets: [[0.3, 0.1], [0.9, 0.5], [-0.2, 0.0]]
layers:
  - weights: [[0.4, -0.6], [0.9, 0.3]]
    biases: [0.1, -0.2]
    activation: sigmoid
  - weights: [[0.7, -0.4], [0.2, 0.5]]
    activation: linear
loss: mse
""",
}
TRAIN_OPTIMIZERS = ["sgd", "momentum", "nesterov", "rmsprop", "adagrad", "adam", "adamw"]
TRAIN_RTOL, TRAIN_ATOL = 1e-11, 1e-13


def _train_close(a, b, what: str) -> None:
    np.testing.assert_allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float), rtol=TRAIN_RTOL,
                               atol=TRAIN_ATOL, err_msg=what)


def export_and_train(cli, tmp_path: Path, spec: Path, epochs: int, monkeypatch) -> dict:
    """Export with --epochs, run the script: its one step equals `run`'s JSON, its training `step`'s."""
    script = tmp_path / "train.py"
    r = cli("export", spec, "--epochs", str(epochs), "-o", script)
    assert r.exit_code == 0, r.stderr
    theirs = torch_result(str(script), monkeypatch)
    compare(json.loads(cli("run", spec, "-f", "json").stdout), theirs)
    ours = json.loads(cli("step", spec, "--epochs", str(epochs), "-f", "json").stdout)
    trained = theirs["step"]
    assert [e["epoch"] for e in ours["epochs"]] == [e["epoch"] for e in trained["epochs"]]
    _train_close([e["loss"] for e in ours["epochs"]], [e["loss"] for e in trained["epochs"]], "epoch losses")
    _train_close(ours["loss_final"], trained["loss_final"], "loss_final")
    if ours["kind"] == "graph":
        for k, v in ours["variables"].items():
            _train_close(v, trained["variables"][k], f"variables.{k}")
        return theirs
    for i, (L, M) in enumerate(zip(ours["layers"], trained["layers"], strict=True)):
        for key in ("weights", "biases"):
            if L[key] is None:
                assert M[key] is None, f"layers[{i}].{key}"
            else:
                _train_close(L[key], M[key], f"layers[{i}].{key}")
    return theirs


@pytest.mark.torch
@pytest.mark.parametrize("optimizer", TRAIN_OPTIMIZERS)
@pytest.mark.parametrize("base", sorted(TRAIN_BASES))
def test_training_matches_step(cli, tmp_path, monkeypatch, base, optimizer):
    """Shuffled minibatches of 2 (the last one short), weight decay, 4 epochs: every epoch's loss, the final loss
    and parameters equal `bpcalc step`'s."""
    spec = tmp_path / "s.yaml"
    wd = "" if optimizer == "adamw" else "weight_decay: 0.01\n"
    spec.write_text(TRAIN_BASES[base] + f"optimizer: {{type: {optimizer}}}\n{wd}learning_rate: 0.05\n"
                    "batch_size: 2\nshuffle: true\nseed: 11\n", encoding="utf-8")
    export_and_train(cli, tmp_path, spec, 4, monkeypatch)


@pytest.mark.torch
@pytest.mark.parametrize("batching", ["", "batch_size: 2\nshuffle: true\n", "batch_size: 2\n"])
def test_training_in_order_and_full_batch_matches_step(cli, tmp_path, monkeypatch, batching):
    spec = tmp_path / "s.yaml"
    spec.write_text(TRAIN_BASES["sigmoid_bce"] + "optimizer: {type: momentum, momentum: 0.9}\nlearning_rate: 0.3\n"
                    + batching, encoding="utf-8")
    theirs = export_and_train(cli, tmp_path, spec, 6, monkeypatch)
    assert len(theirs["step"]["epochs"]) == 6


CONV_SAMPLES = """
inputs:
  - [[[0.1, 0.2, 0.3, 0.4], [0.5, 0.6, 0.7, 0.8], [0.9, 1.0, 1.1, 1.2], [1.3, 1.4, 1.5, 1.6]]]
  - [[[0.4, -0.2, 0.0, 0.3], [0.1, 0.9, -0.7, 0.2], [0.5, 0.5, -0.1, 0.8], [-0.3, 0.6, 0.2, 0.1]]]
  - [[[1.0, 0.0, -1.0, 0.5], [0.2, 0.3, 0.4, -0.5], [0.7, -0.6, 0.1, 0.0], [0.9, 0.8, -0.2, 0.3]]]
targets: [[1, 0], [0, 1], [0.5, 0.5]]
"""


@pytest.mark.torch
@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam", "rmsprop"])
def test_conv_training_matches_step(cli, tmp_path, monkeypatch, networks_dir, optimizer):
    """tests/specs/conv_pool_dense.yaml (conv2d, max pool, flatten, softmax + cross-entropy) on three samples."""
    base = (Path(__file__).parent / "specs" / "conv_pool_dense.yaml").read_text(encoding="utf-8")
    lines = [line for line in base.splitlines() if not line.startswith(("inputs:", "targets:"))]
    spec = tmp_path / "conv.yaml"
    spec.write_text("\n".join(lines) + CONV_SAMPLES + f"optimizer: {{type: {optimizer}}}\nbatch_size: 2\n"
                    "shuffle: true\nseed: 4\n", encoding="utf-8")
    text = export_and_train(cli, tmp_path, spec, 3, monkeypatch)
    assert text["step"]["layers"][1] == {"weights": None, "biases": None}  # the pool: nothing to train


@pytest.mark.torch
@pytest.mark.parametrize("case", ["every_function", "unused_variable_weight_decay_adamw_momentum",
                                  "unused_variable_weight_decay_momentum"])
def test_graph_training_matches_step(cli, tmp_path, monkeypatch, case):
    spec = tmp_path / "g.yaml"
    spec.write_text(GRAPH_CASES[case], encoding="utf-8")
    export_and_train(cli, tmp_path, spec, 5, monkeypatch)


@pytest.mark.torch
@pytest.mark.parametrize("optimizer", ["{type: adam}", "{type: nesterov, momentum: 0.8}"])
def test_resumed_training_matches_step(cli, tmp_path, monkeypatch, optimizer):
    """From a spec `step --save` wrote: the epochs go on from training_state (so does the shuffle's order)."""
    spec = tmp_path / "s.yaml"
    spec.write_text(TRAIN_BASES["softmax_ce"] + f"optimizer: {optimizer}\nbatch_size: 3\nshuffle: true\n",
                    encoding="utf-8")
    saved = tmp_path / "saved.yaml"
    assert cli("step", spec, "--epochs", "3", "--save", saved).exit_code == 0
    theirs = export_and_train(cli, tmp_path, saved, 3, monkeypatch)
    assert [e["epoch"] for e in theirs["step"]["epochs"]] == [4, 5, 6]


@pytest.mark.torch
def test_training_script_runs_standalone(cli, tmp_path, networks_dir):
    """In a fresh interpreter: the step, then each epoch's loss, the final loss and parameters, as text."""
    pytest.importorskip("torch")
    script = tmp_path / "xor.py"
    assert cli("export", "xor", "--epochs", "3", "-o", script).exit_code == 0
    p = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd="/", timeout=300)
    assert p.returncode == 0, p.stderr
    ours = json.loads(cli("step", "xor", "--epochs", "3", "-f", "json").stdout)
    assert "loss after" in p.stdout and "epoch      3  loss " in p.stdout and "loss final" in p.stdout
    shown = float(p.stdout.split("epoch      3  loss ")[1].split()[0])
    assert shown == pytest.approx(ours["epochs"][2]["loss"], rel=1e-12)


# ---------------------------------------------------------------- without torch: the script's text
@pytest.mark.parametrize(("spec", "form", "kept_out"), [
    (NETWORK_CASES["adam_softmax_ce"], "F.cross_entropy(z, t)", "softmax_cross_entropy"),
    (NETWORK_CASES["relu_bce_sgd_wd"], "F.binary_cross_entropy_with_logits(z, t)", "torch.logaddexp"),
    (NETWORK_CASES["silu_softplus_nesterov"], "F.mse_loss(a, t)", "F.cross_entropy"),
])
def test_standard_torch_forms(cli, spec, form, kept_out):
    """The standard torch form of each loss, no custom autograd Function re-deriving bpcalc's δ."""
    text = cli("export", "-", input=spec).stdout
    compile(text, "step.py", "exec")
    assert form in text and kept_out not in text and "autograd.Function" not in text


def test_epochs_script_text(cli):
    spec = TRAIN_BASES["softmax_ce"] + "optimizer: adam\nbatch_size: 3\nshuffle: true\nseed: 9\n"
    text = cli("export", "-", "--epochs", "7", input=spec).stdout
    compile(text, "train.py", "exec")
    assert "EPOCHS, FIRST_EPOCH = 7, 1" in text and "BATCH_SIZE, SHUFFLE, SEED = 3, True, 9" in text
    assert "np.random.default_rng((SEED, epoch - 1)).permutation(n)" in text and "import numpy as np" in text
    in_order = cli("export", "-", "--epochs", "2", input=TRAIN_BASES["mse"]).stdout
    assert "default_rng" not in in_order and "numpy" not in in_order
    assert "EPOCHS" not in cli("export", "-", input=TRAIN_BASES["mse"]).stdout  # without --epochs: the step only


def test_epochs_must_be_positive(cli, tmp_path):
    r = cli("export", "simple", "--epochs", "0", "-o", tmp_path / "x.py")
    assert r.exit_code == 2 and "--epochs" in r.stderr and not (tmp_path / "x.py").exists()
