"""`reduction: mean|sum` and `loss: none` (issue 20, items 2 and 7). Expected values are derived by hand (closed
forms written here), taken from a published worked example (the sigmoid neuron of Stanford's CS231n notes), or
computed with PyTorch float64 by scripts/make_reduction_fixtures.py (tests/fixtures/reduction.json; the tests that
run torch itself are marked `torch` and skip without it)."""

from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

import bpcalc
from bpcalc.engine.trace import trace_to_dict

FIXTURES = json.loads((Path(__file__).parent / "fixtures" / "reduction.json").read_text())
RUNS = [k for k, v in FIXTURES.items() if v["epochs"] is None]
TRAINS = [k for k, v in FIXTURES.items() if v["epochs"] is not None]
torch_only = pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="needs torch")


def run(spec: dict, **kw) -> dict:
    return trace_to_dict(bpcalc.run(yaml.safe_dump(spec, sort_keys=False), **kw))


def cli(tmp_path: Path, spec: dict | str, *args: str, code: int = 0) -> subprocess.CompletedProcess:
    path = tmp_path / "spec.yaml"
    path.write_text(spec if isinstance(spec, str) else yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    env = {"COLUMNS": "200", "PATH": "", "PYTHONIOENCODING": "utf-8",
           **{k: v for k, v in __import__("os").environ.items() if k == "PYTHONPATH"}}
    out = subprocess.run([sys.executable, "-m", "bpcalc", args[0], str(path), *args[1:]], capture_output=True,
                         text=True, env=env, timeout=120)
    assert out.returncode == code, out.stderr
    return out


def _close(actual, expected, what: str) -> None:
    a, e = np.asarray(actual, dtype=float), np.asarray(expected, dtype=float)
    np.testing.assert_allclose(a.reshape(e.shape), e, rtol=1e-9, atol=1e-12, err_msg=what)


# ------------------------------------------------------------------ against PyTorch's reduction='sum' (fixtures)
@pytest.mark.parametrize("case", RUNS)
def test_one_step_matches_pytorch(case):
    fx = FIXTURES[case]
    got = trace_to_dict(bpcalc.run(fx["spec"]))
    want = fx["torch"]
    _close(got["loss"], want["loss"], "loss")
    _close(got["loss_after"], want["loss_after"], "loss_after")
    _close(got["grad_inputs"], want["grad_inputs"], "grad_inputs")
    out = got["layers"][-1]
    if want["grad_a"] is not None:
        _close(out["grad_a"], want["grad_a"], "∂E/∂a of the output")
    if out.get("delta") is not None:
        _close(out["delta"], want["delta"], "δ of the output")
    for i, (L, g, new) in enumerate(zip(got["layers"], want["grads"], want["new"])):
        for key in g:
            _close(L[f"grad_{key}"], g[key], f"layers.{i}.grad_{key}")
            _close(L[f"new_{key}"], new[key], f"layers.{i}.new_{key}")
    assert got.get("reduction") == yaml.safe_load(fx["spec"]).get("reduction")  # a key only where not the mean


@pytest.mark.parametrize("case", TRAINS)
def test_training_matches_pytorch(case):
    fx = FIXTURES[case]
    res = bpcalc.train(fx["spec"], epochs=fx["epochs"])
    _close(res.losses, fx["torch"]["losses"], "epoch losses (a summed loss: no division by n)")
    _close(res.loss_final, fx["torch"]["loss_final"], "loss after training")
    for i, new in enumerate(fx["torch"]["new"]):
        if new:
            _close(res.weights[i], new["weights"], f"layers.{i}.weights")
            _close(res.biases[i], new["biases"], f"layers.{i}.biases")


def test_step_json_says_the_reduction(tmp_path):
    fx = FIXTURES["train_mse_sum"]
    out = json.loads(cli(tmp_path, fx["spec"], "step", "--epochs", "2", "--format", "json").stdout)
    assert out["reduction"] == "sum"
    _close([e["loss"] for e in out["epochs"]], fx["torch"]["losses"][:2], "epoch losses")


# ------------------------------------------------------------------ hand-derived closed forms
# one linear layer without biases, x = 1 and x = 2 (two samples), w = (0.5, −1), t = (1, 0) and (0, 1)
# (docs/conventions.md's worked example): a = (0.5, −1) and (1, −2); mse summed over samples and outputs:
# E = 0.25 + 1 + 1 + 9 = 11.25 (half_sse: 5.625, gradients 1.5 and −7),
# ∂E/∂w_1 = Σ_s 2(a_s1 − t_s1)·x_s = 2(−0.5)(1) + 2(1)(2) = 3, ∂E/∂w_2 = 2(−1)(1) + 2(−3)(2) = −14;
# the mean divides both by n·K = 4: E = 2.8125, gradients 0.75 and −3.5.
LINEAR = {"name": "linear", "inputs": [[1.0], [2.0]], "targets": [[1.0, 0.0], [0.0, 1.0]],
          "layers": [{"weights": [[0.5], [-1.0]], "activation": "linear"}], "loss": "mse", "learning_rate": 0.1}


def test_mse_summed_over_samples_and_outputs_by_hand():
    got = run({**LINEAR, "reduction": "sum"})
    assert got["loss"] == pytest.approx(11.25, rel=1e-15)
    np.testing.assert_allclose(got["layers"][0]["grad_weights"], [[3.0], [-14.0]], rtol=1e-15)
    np.testing.assert_allclose(got["layers"][0]["grad_a"], [[-1.0, -2.0], [2.0, -6.0]], rtol=1e-15)  # 2(a − t)
    half = run({**LINEAR, "loss": "half_sse", "reduction": "sum"})  # a textbook's ½ Σ_d Σ_k (t − o)²
    assert half["loss"] == pytest.approx(5.625, rel=1e-15)
    np.testing.assert_allclose(half["layers"][0]["grad_weights"], [[1.5], [-7.0]], rtol=1e-15)
    mean = run(LINEAR)
    assert mean["loss"] == pytest.approx(2.8125, rel=1e-15)
    np.testing.assert_allclose(mean["layers"][0]["grad_weights"], [[0.75], [-3.5]], rtol=1e-15)


def test_bce_summed_delta_is_a_minus_t_by_hand():
    """Sigmoid with binary cross-entropy summed over samples and outputs: δ = a − t, no 1/(nK)."""
    spec = {"inputs": [[1.0], [2.0]], "targets": [[1.0, 0.0], [0.0, 1.0]],
            "layers": [{"weights": [[0.5], [-1.0]], "biases": [0.0, 0.0], "activation": "sigmoid"}],
            "loss": "binary_cross_entropy", "reduction": "sum"}
    got = run(spec)
    a = 1 / (1 + np.exp(-np.array([[0.5, -1.0], [1.0, -2.0]])))
    t = np.array(spec["targets"])
    assert np.allclose(got["layers"][0]["delta"], a - t, rtol=1e-14)
    assert got["loss"] == pytest.approx(float(-(t * np.log(a) + (1 - t) * np.log(1 - a)).sum()), rel=1e-14)
    np.testing.assert_allclose(run({**spec, "reduction": "mean"})["layers"][0]["delta"], (a - t) / 4, rtol=1e-14)


# The sigmoid neuron of Stanford's CS231n notes ("Backpropagation, Intuitions"): w = [2, −3, −3], x = [−1, −2],
# f = σ(w0·x0 + w1·x1 + w2) differentiated itself, no loss. The notes' circuit writes f = 0.73 and the gradients
# to two decimals: w0 −0.20, x0 0.39, w1 −0.39, x1 −0.59, w2 0.20. By hand: z = 1, f = σ(1), ∂f/∂z = σ(1)(1 − σ(1)).
NEURON = {"name": "a sigmoid neuron's output", "inputs": [-1.0, -2.0],
          "layers": [{"weights": [[2.0, -3.0]], "biases": [-3.0], "activation": "sigmoid"}], "loss": "none",
          "learning_rate": 0.1}


def test_loss_none_the_published_sigmoid_neuron():
    got = run(NEURON)
    s = 1 / (1 + math.exp(-1.0))
    ds = s * (1 - s)
    assert got["loss"] == pytest.approx(s, rel=1e-15) and round(got["loss"], 2) == 0.73
    L = got["layers"][0]
    assert L["grad_a"] == [1.0]  # ∂E/∂a = 1
    np.testing.assert_allclose(L["grad_weights"], [[-ds, -2 * ds]], rtol=1e-14)
    assert L["grad_biases"] == pytest.approx([ds], rel=1e-14)
    assert got["grad_inputs"] == pytest.approx([2 * ds, -3 * ds], rel=1e-14)
    published = {"w0": -0.20, "w1": -0.39, "w2": 0.20, "x0": 0.39, "x1": -0.59}
    mine = {"w0": L["grad_weights"][0][0], "w1": L["grad_weights"][0][1], "w2": L["grad_biases"][0],
            "x0": got["grad_inputs"][0], "x1": got["grad_inputs"][1]}
    assert {k: round(v, 2) for k, v in mine.items()} == published
    assert got["targets"] is None  # left out of the spec


def test_loss_none_tables_write_E_as_the_output(tmp_path):
    text = cli(tmp_path, NEURON, "run", "--format", "text").stdout
    assert "loss none: E = a;" in text
    assert "E         a_1^(2)     0.7311        0.7311" in text  # no E_1, no target
    assert "∂E/∂a_1^(2)        1                                1                        1" in text
    assert "t_1" not in text


def test_loss_none_mean_and_sum_over_samples_by_hand():
    spec = {"inputs": [[1.0], [3.0]], "layers": [{"weights": [[2.0]], "biases": [0.5], "activation": "linear"}],
            "loss": "none"}
    mean, total = run(spec), run({**spec, "reduction": "sum"})
    assert mean["loss"] == pytest.approx((2.5 + 6.5) / 2) and total["loss"] == pytest.approx(9.0)
    np.testing.assert_allclose(mean["layers"][0]["grad_weights"], [[(1 + 3) / 2]])  # Σ x_s / n
    np.testing.assert_allclose(total["layers"][0]["grad_weights"], [[4.0]])
    assert total["layers"][0]["grad_biases"] == [2.0]


# ------------------------------------------------------------------ every view
SUM2 = {"name": "summed", "inputs": [[0.1, 0.3], [0.5, -0.2]], "targets": [[0.2, 0.9], [0.7, 0.1]],
        "layers": [{"weights": [[0.5, 0.2], [-0.3, 0.4]], "biases": [0.1, -0.1], "activation": "sigmoid"}],
        "loss": "mse", "reduction": "sum", "learning_rate": 0.5}


def test_tables_write_the_sum_without_one_over_n(tmp_path):
    text = cli(tmp_path, SUM2, "run", "--format", "text").stdout
    assert "loss mse: E = Σ_k (t_k − a_k)², summed over 2 samples" in text
    assert "E         Σ_n E(sample n)  0.2861 + 0.1164  0.4026" in text
    assert "carries no factor 1/2." in text
    assert "2(0.5523 − 0.2) " in text and "2(0.5523 − 0.2)/2" not in text and ") / 2" not in text
    mean = cli(tmp_path, {**SUM2, "reduction": "mean"}, "run", "--format", "text").stdout
    assert "(2(0.5523 − 0.2)/2) / 2" in mean and "(1/2) Σ_n E(sample n)" in mean


def test_matrix_view_and_explain_have_no_one_over_n(tmp_path):
    matrix = cli(tmp_path, SUM2, "run", "--view", "matrix", "--format", "text").stdout
    assert "E = Σ_s E_s,  E_s = Σ_k (t_k − a_k)²" in matrix and "∂E/∂A^(2) = 2(A^(2) − T)" in matrix
    assert "(1/2)" not in matrix
    explain = cli(tmp_path, SUM2, "explain", "--format", "text").stdout
    assert "the sum over 2 samples (∂E/∂a carries no factor 1/2)" in explain
    assert "= Σ_s 2(a_1^(2) − t_1) · a_1^(2)(1 − a_1^(2)) · a_1^(1)" in explain


@pytest.mark.parametrize("fmt", ["markdown", "latex", "html", "rich"])
def test_every_format_writes_the_sum(tmp_path, fmt):
    text = cli(tmp_path, SUM2, "run", "--format", fmt).stdout
    assert "summed over 2 samples" in text and "averaged over" not in text
    assert "carries no factor 1/2." in text


def test_hand_rounding_keeps_products_exact_without_the_mean(tmp_path):
    """--round 2: a is rounded (read off a calculator); with the sum ∂E/∂a = 2(a − t) is a product of written
    numbers, exact; with the mean its /K and /n are quotients, rounded."""
    got = run(SUM2, round_to=2)
    a, t = np.array(got["layers"][0]["a"]), np.array(SUM2["targets"])
    assert np.array_equal(a, np.round(a, 2))
    assert np.allclose(got["layers"][0]["grad_a"], 2 * (a - t), rtol=0, atol=1e-15)
    assert got["loss"] == pytest.approx(float(((a - t) ** 2).sum()), abs=1e-15)  # sums and squares exact
    mean = run({**SUM2, "reduction": "mean"}, round_to=2)
    g = np.array(mean["layers"][0]["grad_a"])
    assert np.array_equal(g, np.round(g, 2))


def test_check_takes_central_differences_of_the_summed_loss():
    for spec in (SUM2, NEURON, {**NEURON, "inputs": [[-1.0, -2.0], [0.5, 1.0]], "reduction": "sum"}):
        res = bpcalc.check(yaml.safe_dump(spec))
        assert res.ok
    res = bpcalc.check(yaml.safe_dump(SUM2))
    assert res.loss == pytest.approx(run(SUM2)["loss"], rel=1e-15)


def test_explicit_mean_is_byte_identical_to_no_key(tmp_path):
    spec = yaml.safe_load((Path(bpcalc.__file__).parent / "networks" / "two_layer.yaml").read_text())
    for args in (("run", "--format", "text"), ("run", "--format", "json"), ("run", "--view", "matrix"),
                 ("explain", "--format", "text"), ("export", "--to", "pytorch")):
        plain = cli(tmp_path, spec, *args).stdout
        assert cli(tmp_path, {**spec, "reduction": "mean"}, *args).stdout == plain, args
    assert '"reduction"' not in cli(tmp_path, spec, "run", "--format", "json").stdout


def test_korean(tmp_path):
    text = cli(tmp_path, SUM2, "run", "--format", "text", "--lang", "ko").stdout
    assert "E is their sum" not in text and "summed over" not in text and "1/2" in text


# ------------------------------------------------------------------ save, export
def test_save_round_trip(tmp_path):
    for spec, key in ((SUM2, "reduction"), (NEURON, "loss")):
        out = tmp_path / "saved.yaml"
        cli(tmp_path, spec, "run", "--save", str(out), "--quiet")
        saved = yaml.safe_load(out.read_text())
        assert saved[key] == spec[key] and ("targets" in saved) == ("targets" in spec)
        again = run(saved)
        first = run(spec)
        assert again["loss"] == pytest.approx(first["loss_after"], rel=1e-14)


def test_export_writes_pytorch_reduction(tmp_path):
    script = cli(tmp_path, SUM2, "export", "--to", "pytorch").stdout
    assert "F.mse_loss(a, t, reduction='sum')" in script and "The sum (reduction: sum) over samples" in script
    assert "a.sum(dim=1).mean()" in cli(tmp_path, NEURON, "export", "--to", "pytorch").stdout
    bce = {**SUM2, "loss": "binary_cross_entropy"}
    assert "F.binary_cross_entropy_with_logits(z, t, reduction='sum')" in cli(
        tmp_path, bce, "export", "--to", "pytorch").stdout


@torch_only
@pytest.mark.torch
@pytest.mark.parametrize("case", ["mse_sum", "bce_sum", "ce_sum", "none_sum", "conv_bce_sum", "huber_sum"])
def test_exported_script_runs_the_same_step(tmp_path, case):
    fx = FIXTURES[case]
    script = cli(tmp_path, fx["spec"], "export", "--to", "pytorch").stdout
    (tmp_path / "step.py").write_text(script)
    out = subprocess.run([sys.executable, str(tmp_path / "step.py"), "--json"], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    _close(got["loss"], fx["torch"]["loss"], "the exported script's loss")
    _close(got["loss_after"], fx["torch"]["loss_after"], "the exported script's loss after the update")


@torch_only
@pytest.mark.torch
def test_exported_training_sums_the_epoch_loss(tmp_path):
    fx = FIXTURES["train_mse_sum"]
    script = cli(tmp_path, fx["spec"], "export", "--to", "pytorch", "--epochs", str(fx["epochs"])).stdout
    assert "running += loss.item()\n" in script and "losses.append(running)\n" in script
    (tmp_path / "train.py").write_text(script)
    out = subprocess.run([sys.executable, str(tmp_path / "train.py"), "--json"], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    trained = json.loads(out.stdout)["step"]
    _close([e["loss"] for e in trained["epochs"]], fx["torch"]["losses"], "epoch losses")
    _close(trained["loss_final"], fx["torch"]["loss_final"], "loss after training")


@torch_only
@pytest.mark.torch
def test_registry_summed_torch_forms_are_the_sum_of_the_terms():
    import torch
    import torch.nn.functional as F

    from bpcalc.export.pytorch import HELPERS
    from bpcalc.registry import ACTIVATIONS, LOSSES, PAIRS, loss_of, pair

    rng = np.random.default_rng(5)
    for name in LOSSES:
        loss = loss_of(name, "sum")
        a = rng.uniform(0.05, 0.95, (3, 4))
        t = rng.dirichlet(np.ones(4), 3) if loss.classes else rng.uniform(0, 1, (3, 4))
        got = eval(loss.torch, {"torch": torch, "F": F, "a": torch.tensor(a), "t": torch.tensor(t)})
        assert float(got) == pytest.approx(float(loss.terms(a, t).sum()), rel=1e-13), name
    ns = {"torch": torch, "F": F}
    for code in HELPERS.values():
        exec(code, ns)
    for act_name, loss_name in PAIRS:
        p, act, loss = pair(act_name, loss_name, "sum"), ACTIVATIONS[act_name], loss_of(loss_name, "sum")
        z = rng.normal(size=(3, 4))
        t = rng.dirichlet(np.ones(4), 3) if loss.classes else rng.uniform(0, 1, (3, 4))
        got = eval(p.torch.split("  #")[0], {**ns, "z": torch.tensor(z), "t": torch.tensor(t)})
        want = loss.terms(act.forward(z), t, act.log_forward(z), act.log1m_forward(z)).sum()
        assert float(got) == pytest.approx(float(want), rel=1e-12), (act_name, loss_name)


# ------------------------------------------------------------------ the registry's summed faces
def test_summed_faces_drop_one_over_K_only_for_per_output_losses():
    from bpcalc.registry import LOSSES, loss_of, pair

    rng = np.random.default_rng(3)
    a, t = rng.uniform(0.1, 0.9, (2, 3)), rng.uniform(0, 1, (2, 3))
    for name, mean in LOSSES.items():
        total = loss_of(name, "sum")
        K = 3 if mean.per_output else 1
        np.testing.assert_allclose(total.terms(a, t), K * mean.terms(a, t), rtol=1e-14, err_msg=name)
        np.testing.assert_allclose(total.grad(a, t), K * mean.grad(a, t), rtol=1e-14, err_msg=name)
        assert "1/K" not in total.formula + total.derivative and "{K}" not in total.term_t + total.grad_t, name
        assert not total.per_output and "reduction='sum'" in total.torch or name in ("cross_entropy", "none")
    p = pair("sigmoid", "binary_cross_entropy", "sum")
    z = rng.normal(size=(2, 3))
    np.testing.assert_allclose(p.delta(z, 1 / (1 + np.exp(-z)), t), 1 / (1 + np.exp(-z)) - t, rtol=1e-13)
    assert loss_of("mse") is LOSSES["mse"]


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize("spec, words", [
    ({**NEURON, "layers": [{"weights": [[2.0, -3.0], [1.0, 1.0]], "activation": "sigmoid"}]},
     ["(top level)" if False else "loss", "differentiates the network's one output", "2 values",
      "give the last layer one unit"]),
    ({**SUM2, "reduction": "average"}, ["reduction", "unknown reduction", "mean, sum"]),
    ({"variables": {"x": 1.0}, "nodes": {"y": "x * x"}, "loss": "none"},
     ["loss", "a loss needs a `target`", "remove `loss`"]),
    ({k: v for k, v in SUM2.items() if k != "targets"}, ["missing `targets`"]),
])
def test_bad_input_one_clear_message(tmp_path, spec, words):
    out = cli(tmp_path, spec, "run", code=2)
    assert "Traceback" not in out.stderr
    for w in words:
        assert w in out.stderr, (w, out.stderr)


def test_loss_none_refuses_targets_of_the_wrong_shape(tmp_path):
    out = cli(tmp_path, {**NEURON, "targets": [1.0, 2.0]}, "run", code=2)
    assert "targets" in out.stderr and "1 neuron(s) but each target has 2" in out.stderr


# ------------------------------------------------------------------ the summed derivations, line by line
# E summed over the outputs, written here independently of bpcalc (no 1/K)
SUMMED = {
    "half_sse": lambda a, t: 0.5 * np.sum((t - a) ** 2),
    "sse": lambda a, t: np.sum((t - a) ** 2),
    "mse": lambda a, t: np.sum((t - a) ** 2),
    "cross_entropy": lambda a, t: -np.sum(t * np.log(a)),
    "binary_cross_entropy": lambda a, t: -np.sum(t * np.log(a) + (1 - t) * np.log(1 - a)),
    "huber": lambda a, t: np.sum(np.where(np.abs(a - t) <= 1, 0.5 * (a - t) ** 2, np.abs(a - t) - 0.5)),
    "none": lambda a, t: np.sum(a),
}


def _central(fun, x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    g = np.zeros_like(x)
    for i in range(x.size):
        up, down = x.copy(), x.copy()
        up[i] += h
        down[i] -= h
        g[i] = (fun(up) - fun(down)) / (2 * h)
    return g


@pytest.mark.parametrize("name", list(SUMMED))
def test_every_line_of_the_summed_derivations_is_the_derivative_of_the_sum(name):
    from bpcalc.registry import ACTIVATIONS, PAIRS, loss_of, pair

    rng = np.random.default_rng(11)
    loss = loss_of(name, "sum")
    K = 4
    a = rng.uniform(0.1, 0.9, K)
    if name == "huber":
        a = np.array([0.2, 2.5, -1.7, 0.9])
    t = rng.dirichlet(np.ones(K)) if loss.classes else rng.uniform(0, 1, K)
    numeric = _central(lambda v: SUMMED[name](v, t), a)
    checked = 0
    for part in loss.derivation:
        for step in part.steps:
            if step.py is not None:
                got = np.broadcast_to(eval(step.py, {"np": np}, {"a": a, "t": t, "K": K}), numeric.shape)
                np.testing.assert_allclose(got, numeric, rtol=1e-5, atol=1e-7, err_msg=step.text)
                checked += 1
    assert checked >= 1
    assert eval(loss.result_py[1], {"np": np}, {"a": a, "t": t, "K": K}) == pytest.approx(numeric, rel=1e-5)
    for act_name, loss_name in PAIRS:  # the pairs' summed closed forms: δ = ∂E/∂z of the summed loss
        if loss_name != name:
            continue
        p, act = pair(act_name, loss_name, "sum"), ACTIVATIONS[act_name]
        z = rng.normal(size=3)
        tz = rng.dirichlet(np.ones(3)) if loss.classes else rng.uniform(0, 1, 3)
        num = _central(lambda v, act=act, tz=tz: SUMMED[name](act.forward(v[None, :])[0], tz), z)
        np.testing.assert_allclose(p.delta(z[None, :], act.forward(z[None, :]), tz[None, :])[0], num, rtol=1e-5,
                                   atol=1e-8)
        for part in p.derivation:
            for step in part.steps:
                if step.py is not None:
                    got = eval(step.py, {"np": np}, {"z": z, "a": act.forward(z[None, :])[0], "t": tz, "K": 3})
                    np.testing.assert_allclose(got, num, rtol=1e-5, atol=1e-8, err_msg=step.text)
