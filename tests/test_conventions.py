"""Conventions of published worked examples (issue [conventions]): max/min in expressions, the forward pass after
the update, gradients with respect to the inputs. Expected values are derived by hand (closed forms written here)
or computed with PyTorch float64 (tests marked `torch`)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import yaml

import bpcalc
from bpcalc import SpecError
from bpcalc.engine.trace import trace_to_dict


def run(spec: dict, **kw) -> dict:
    return trace_to_dict(bpcalc.run(yaml.safe_dump(spec, sort_keys=False), **kw))


def report(spec: dict, tmp_path, *args: str) -> str:
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    out = subprocess.run([sys.executable, "-m", "bpcalc", "run", str(path), *args], capture_output=True, text=True,
                         env={"COLUMNS": "200", "PATH": "", "PYTHONIOENCODING": "utf-8",
                              **{k: v for k, v in __import__("os").environ.items() if k == "PYTHONPATH"}})
    assert out.returncode == 0, out.stderr
    return out.stdout


# ------------------------------------------------------------------ (3) max and min
# o = max(x, y)·w + min(x, w)·y, L = ½(t − o)²
MAXMIN = {"name": "max and min", "variables": {"x": 2.0, "y": 1.5, "w": 3.0},
          "nodes": {"o": "max(x, y) * w + min(x, w) * y"}, "output": "o", "target": 5.0, "loss": "half_sse",
          "learning_rate": 0.1}


def test_max_min_route_the_gradient_to_the_larger_and_the_smaller():
    # by hand: x = 2 > y = 1.5, so max = x, ∂max/∂x = 1, ∂max/∂y = 0; x = 2 < w = 3, so min = x, ∂min/∂x = 1
    # o = 2·3 + 2·1.5 = 9; ∂L/∂o = o − t = 4
    # ∂L/∂x = 4·(w·1 + y·1) = 4·4.5 = 18; ∂L/∂y = 4·(w·0 + min) = 4·2 = 8; ∂L/∂w = 4·(max + y·0) = 4·2 = 8
    out = run(MAXMIN)
    assert out["nodes"]["o"]["value"] == pytest.approx(9.0)
    assert out["loss"] == pytest.approx(8.0)
    grads = {k: v["grad"] for k, v in out["variables"].items()}
    assert grads == pytest.approx({"x": 18.0, "y": 8.0, "w": 8.0})


def test_a_tie_splits_the_gradient_half_to_each(tmp_path):
    spec = {**MAXMIN, "variables": {"x": 2.0, "y": 2.0, "w": 2.0}}
    # by hand: max(2, 2) = 2 with ½ to each; min(2, 2) = 2 with ½ to each; o = 2·2 + 2·2 = 8, ∂L/∂o = 3
    # ∂L/∂x = 3·(w·½ + y·½) = 3·2 = 6; ∂L/∂y = 3·(w·½ + min) = 3·3 = 9; ∂L/∂w = 3·(max + y·½) = 3·3 = 9
    out = run(spec)
    grads = {k: v["grad"] for k, v in out["variables"].items()}
    assert grads == pytest.approx({"x": 6.0, "y": 9.0, "w": 9.0})
    assert [name for name, nd in out["nodes"].items() if nd.get("tie")] == ["o_1", "o_3"]
    assert "tie" not in run(MAXMIN)["nodes"]["o_1"]
    text = report(spec, tmp_path)
    assert "a tie at o_1, o_3" in text
    assert "a tie" not in report(MAXMIN, tmp_path)


def test_check_calls_a_tie_a_kink(tmp_path):
    import json

    spec = {**MAXMIN, "variables": {"x": 2.0, "y": 2.0, "w": 3.0}}  # max(x, y) ties; min(x, w) does not
    path = tmp_path / "tie.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    out = subprocess.run([sys.executable, "-m", "bpcalc", "check", str(path), "--format", "json"],
                         capture_output=True, text=True)
    data = json.loads(out.stdout)
    assert all(p["kink"] for p in data["parameters"])
    assert any(n.startswith("o_1:") and "kink" in n for n in data["notes"])


def test_max_takes_two_arguments():
    spec = {**MAXMIN, "nodes": {"o": "max(x) * w"}}
    with pytest.raises(SpecError, match=r"max\(\) takes exactly 2 arguments"):
        run(spec)
    with pytest.raises(SpecError, match=r"exp\(\) takes exactly one argument"):
        run({**MAXMIN, "nodes": {"o": "exp(x, y)"}})


@pytest.mark.torch
@pytest.mark.parametrize("values", [{"x": 2.0, "y": 1.5, "w": 3.0}, {"x": 2.0, "y": 2.0, "w": 2.0},
                                    {"x": -0.7, "y": 0.4, "w": -0.7}])
def test_max_min_against_torch(values):
    torch = pytest.importorskip("torch")
    v = {k: torch.tensor(x, dtype=torch.float64, requires_grad=True) for k, x in values.items()}
    o = torch.maximum(v["x"], v["y"]) * v["w"] + torch.minimum(v["x"], v["w"]) * v["y"]
    loss = 0.5 * (5.0 - o) ** 2
    loss.backward()
    out = run({**MAXMIN, "variables": values})
    assert out["loss"] == pytest.approx(loss.item(), rel=1e-12)
    for k in values:
        assert out["variables"][k]["grad"] == pytest.approx(v[k].grad.item(), rel=1e-12, abs=1e-15), k


# ------------------------------------------------------------------ (8) the forward pass after the update
# a 1-1-1 linear chain without biases: h = w1·x, y = w2·h, E = ½(t − y)², x = 1, w1 = 2, w2 = 3, t = 0, α = 0.1
CHAIN = {"name": "chain", "inputs": [1.0], "targets": [0.0], "loss": "half_sse", "learning_rate": 0.1,
         "layers": [{"weights": [[2.0]], "activation": "linear"}, {"weights": [[3.0]], "activation": "linear"}]}

# the 2-2-2 most-cited worked example (sigmoid, half_sse, α = 0.5)
MAZUR = {"name": "2-2-2", "inputs": [0.05, 0.10], "targets": [0.01, 0.99], "loss": "half_sse", "learning_rate": 0.5,
         "layers": [{"weights": [[0.15, 0.20], [0.25, 0.30]], "biases": [0.35, 0.35], "activation": "sigmoid"},
                    {"weights": [[0.40, 0.45], [0.50, 0.55]], "biases": [0.60, 0.60], "activation": "sigmoid"}]}


def test_after_update_hidden_values_by_hand():
    # by hand: h = 2, y = 6, ∂E/∂y = y − t = 6, ∂E/∂w2 = 6·h = 12, ∂E/∂h = 6·w2 = 18, ∂E/∂w1 = 18·x = 18
    # w1' = 2 − 0.1·18 = 0.2, w2' = 3 − 0.1·12 = 1.8; after: h' = 0.2·1 = 0.2, y' = 1.8·0.2 = 0.36
    out = run(CHAIN)
    assert out["layers"][0]["z_after"] == pytest.approx([0.2])
    assert out["layers"][0]["a_after"] == pytest.approx([0.2])
    assert out["layers"][1]["z_after"] == pytest.approx([0.36])
    assert out["layers"][1]["a_after"] == pytest.approx([0.36]) == out["outputs_after"]


def test_after_update_table_shows_hidden_values_when_asked(tmp_path):
    plain = report(CHAIN, tmp_path)
    assert "z_1^(2) after" not in plain  # today's table unchanged by default
    shown = report(CHAIN, tmp_path, "--hidden-after")
    after = shown[shown.index("After the update"):]
    assert [line.split()[-1] for line in after.splitlines() if "^(2) after" in line] == ["0.2", "0.2"]
    assert shown.replace(after, "") == plain.replace(plain[plain.index("After the update"):], "")


@pytest.mark.torch
def test_after_update_against_torch():
    torch = pytest.importorskip("torch")
    t64 = torch.float64
    x, t = torch.tensor([MAZUR["inputs"]], dtype=t64), torch.tensor([MAZUR["targets"]], dtype=t64)
    ps = [torch.tensor(L[k], dtype=t64, requires_grad=True) for L in MAZUR["layers"] for k in ("weights", "biases")]

    def forward(ps):
        z1 = x @ ps[0].T + ps[1]
        a1 = torch.sigmoid(z1)
        z2 = a1 @ ps[2].T + ps[3]
        return z1, a1, z2, torch.sigmoid(z2)

    *_, a2 = forward(ps)
    (0.5 * ((t - a2) ** 2).sum()).backward()
    with torch.no_grad():
        new = [p - 0.5 * p.grad for p in ps]
        z1, a1, z2, a2 = (v[0].tolist() for v in forward(new))
    out = run(MAZUR)
    for key, want in (("z_after", z1), ("a_after", a1)):
        assert out["layers"][0][key] == pytest.approx(want, rel=1e-12), key
    for key, want in (("z_after", z2), ("a_after", a2)):
        assert out["layers"][1][key] == pytest.approx(want, rel=1e-12), key


def test_after_update_in_a_conv_network():
    # a 1×2×2 image, a 1×1 kernel w = 2 (no bias), linear, flatten, then a dense 4→1 with weights 1: y = 2·Σx
    spec = {"inputs": [[[1.0, 2.0], [0.0, -1.0]]], "targets": [0.0], "loss": "half_sse", "learning_rate": 0.01,
            "layers": [{"type": "conv2d", "weights": [[2.0]], "activation": "linear"}, {"type": "flatten"},
                       {"weights": [[1.0, 1.0, 1.0, 1.0]], "activation": "linear"}]}
    # by hand: y = 2·(1 + 2 + 0 − 1) = 4, ∂E/∂y = 4; ∂E/∂w_conv = Σ_cells 4·1·x = 4·2 = 8 → w' = 2 − 0.08 = 1.92
    # ∂E/∂v_k = 4·a_k = 4·(2, 4, 0, −2) → v' = 1 − 0.04·(2, 4, 0, −2) = (0.92, 0.84, 1, 1.08)
    # after: conv z = a = 1.92·x = (1.92, 3.84, 0, −1.92); y' = 0.92·1.92 + 0.84·3.84 + 0 + 1.08·(−1.92)
    out = run(spec)
    np.testing.assert_allclose(out["layers"][0]["z_after"], [[[1.92, 3.84], [0.0, -1.92]]], rtol=1e-12)
    assert out["layers"][1]["a_after"] == pytest.approx([1.92, 3.84, 0.0, -1.92])
    assert "z_after" not in out["layers"][1]
    assert out["layers"][2]["a_after"] == pytest.approx([0.92 * 1.92 + 0.84 * 3.84 - 1.08 * 1.92])


def test_after_update_published_error_with_biases_frozen():
    # the walkthrough updates the weights only and reports E_total = 0.291027924 after the first round, computed
    # from its rounded intermediates: float64 agrees to 6 decimals (0.2910278)
    out = run({**MAZUR, "freeze": ["biases"]})
    assert out["loss_after"] == pytest.approx(0.291027924, abs=2e-7)
    assert out["layers"][1]["a_after"] == out["outputs_after"]


# ------------------------------------------------------------------ (6) gradients with respect to the inputs
def test_input_gradients_by_hand():
    # the chain above: ∂E/∂y = 6, δ of the first layer = ∂E/∂h = 18 (linear), ∂E/∂x = δ·w1 = 18·2 = 36
    assert run(CHAIN)["grad_inputs"] == pytest.approx([36.0])
    # two samples x = 1 and x = −1, targets 0: E is the mean, so each ∂E/∂x carries ½:
    # sample 1 as above, 36/2 = 18; sample 2: y = −6, ∂E/∂y = −6/2 = −3, ∂E/∂x = −3·3·2 = −18
    two = run({**CHAIN, "inputs": [[1.0], [-1.0]], "targets": [[0.0], [0.0]]})
    assert two["grad_inputs"] == [pytest.approx([18.0]), pytest.approx([-18.0])]


def test_input_gradient_rows_when_asked(tmp_path):
    plain = report(MAZUR, tmp_path)
    assert "∂E/∂a_1^(1)" not in plain
    shown = report(MAZUR, tmp_path, "--input-grads")
    rows = [line.split() for line in shown.splitlines() if line.startswith("∂E/∂a_") and "^(1)" in line]
    # by hand from the example's published δ_h1 = 0.008771, δ_h2 = 0.009954 (4 digits):
    # ∂E/∂x1 = 0.008771·0.15 + 0.009954·0.25 = 0.003804, ∂E/∂x2 = 0.008771·0.20 + 0.009954·0.30 = 0.004741
    assert [r[-1] for r in rows] == ["0.003804", "0.004741"]
    assert len(shown.splitlines()) == len(plain.splitlines()) + 2


@pytest.mark.torch
@pytest.mark.parametrize("samples", [1, 3])
def test_input_gradients_against_torch(samples):
    torch = pytest.importorskip("torch")
    t64 = torch.float64
    xs = [[0.05, 0.10], [0.7, -0.3], [-1.2, 0.4]][:samples]
    ts = [[0.01, 0.99], [0.5, 0.2], [0.9, 0.1]][:samples]
    x = torch.tensor(xs, dtype=t64, requires_grad=True)
    L1, L2 = MAZUR["layers"]
    a1 = torch.tanh(x @ torch.tensor(L1["weights"], dtype=t64).T + torch.tensor(L1["biases"], dtype=t64))
    a2 = torch.sigmoid(a1 @ torch.tensor(L2["weights"], dtype=t64).T + torch.tensor(L2["biases"], dtype=t64))
    torch.nn.functional.mse_loss(a2, torch.tensor(ts, dtype=t64)).backward()  # mean over samples and outputs
    spec = {**MAZUR, "inputs": xs if samples > 1 else xs[0], "targets": ts if samples > 1 else ts[0], "loss": "mse",
            "layers": [{**L1, "activation": "tanh"}, L2]}
    got = run(spec)["grad_inputs"]
    want = x.grad.tolist() if samples > 1 else x.grad[0].tolist()
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-18)


@pytest.mark.torch
def test_input_gradients_of_a_conv_network_against_torch():
    torch = pytest.importorskip("torch")
    t64 = torch.float64
    image = [[[0.5, -1.0, 2.0], [1.5, 0.0, -0.5], [0.25, 1.0, -2.0]]]
    kernel = [[[[0.3, -0.2], [0.1, 0.4]]], [[[-0.5, 0.2], [0.6, -0.1]]]]
    dense = [[0.4, -0.3]]  # 2 channels, each pooled 2×2 → 1×1
    spec = {"inputs": image, "targets": [0.7], "loss": "half_sse", "learning_rate": 0.1,
            "layers": [{"type": "conv2d", "weights": kernel, "biases": [0.1, -0.2], "activation": "tanh"},
                       {"type": "maxpool", "size": 2, "stride": 1}, {"type": "flatten"},
                       {"weights": dense, "biases": [0.05], "activation": "sigmoid"}]}
    x = torch.tensor([image], dtype=t64, requires_grad=True)
    w, b = torch.tensor(kernel, dtype=t64), torch.tensor([0.1, -0.2], dtype=t64)
    h = torch.tanh(torch.nn.functional.conv2d(x, w, b))
    h = torch.nn.functional.max_pool2d(h, 2, 1).flatten(1)
    y = torch.sigmoid(h @ torch.tensor(dense, dtype=t64).T + 0.05)
    (0.5 * (0.7 - y) ** 2).sum().backward()
    np.testing.assert_allclose(run(spec)["grad_inputs"], x.grad[0].tolist(), rtol=1e-12, atol=1e-18)
