"""`bpcalc check`: backprop vs central differences on every activation × loss and every graph function, and
failing when a gradient is deliberately corrupted (so the check can fail).

The numerical gradients are also compared with a forward pass written out here in numpy, and seed 000's and
seed 003's gradients with their closed forms; nothing expected is taken from bpcalc's output."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
import yaml
from conftest import sigmoid

import bpcalc
from bpcalc.engine.gradcheck import check
from bpcalc.explain.notation import param_names
from bpcalc.spec.bundled import open_spec

ACTS = ["sigmoid", "tanh", "relu", "leaky_relu", "linear", "softmax"]
LOSSES = ["half_sse", "sse", "mse", "cross_entropy", "binary_cross_entropy"]


# ------------------------------------------------------------------------------ an independent reference
def act_ref(name: str, z: np.ndarray) -> np.ndarray:
    return {
        "sigmoid": lambda: 1 / (1 + np.exp(-z)), "tanh": lambda: np.tanh(z), "relu": lambda: np.maximum(z, 0),
        "leaky_relu": lambda: np.where(z > 0, z, 0.01 * z), "linear": lambda: z,
        "softmax": lambda: np.exp(z) / np.exp(z).sum(1, keepdims=True),
    }[name]()


def loss_ref(name: str, a: np.ndarray, t: np.ndarray) -> float:
    K = a.shape[1]
    per = {
        "half_sse": lambda: 0.5 * ((t - a) ** 2).sum(1), "sse": lambda: ((t - a) ** 2).sum(1),
        "mse": lambda: ((t - a) ** 2).sum(1) / K, "cross_entropy": lambda: -(t * np.log(a)).sum(1),
        "binary_cross_entropy": lambda: -(t * np.log(a) + (1 - t) * np.log(1 - a)).sum(1) / K,
    }[name]()
    return float(per.mean())


def ref_loss(spec: dict, Ws, bs) -> float:
    a = np.array(spec["inputs"], float)
    for W, b, layer in zip(Ws, bs, spec["layers"]):
        a = act_ref(layer["activation"], a @ W.T + (0 if b is None else b))
    return loss_ref(spec["loss"], a, np.array(spec["targets"], float))


def ref_numerical(spec: dict, h: float = 1e-6) -> list[float]:
    """Central differences of the reference loss, in the order bpcalc lists parameters (W row-major, then b)."""
    Ws = [np.array(l["weights"], float) for l in spec["layers"]]
    bs = [np.array(l["biases"], float) if "biases" in l else None for l in spec["layers"]]
    out = []
    for li in range(len(Ws)):
        for p in (Ws[li], bs[li]):
            if p is None:
                continue
            for idx in np.ndindex(p.shape):
                old = p[idx]
                p[idx] = old + h
                up = ref_loss(spec, Ws, bs)
                p[idx] = old - h
                down = ref_loss(spec, Ws, bs)
                p[idx] = old
                out.append((up - down) / (2 * h))
    return out


def random_network(seed: int, hidden: str, output: str, loss: str, n: int = 3) -> dict:
    rng = np.random.default_rng(seed)
    sizes = [int(rng.integers(2, 4)), int(rng.integers(2, 5)), 3]
    layers = [{"weights": rng.normal(0, 0.8, (sizes[i + 1], sizes[i])).tolist(),
               "biases": rng.normal(0, 0.5, sizes[i + 1]).tolist(),
               "activation": act} for i, act in enumerate((hidden, output))]
    X = rng.normal(0, 1, (n, sizes[0]))
    if loss == "cross_entropy":
        T = rng.dirichlet(np.ones(3), n)
    elif loss == "binary_cross_entropy":
        T = rng.uniform(0, 1, (n, 3))
    else:
        T = rng.normal(0, 1, (n, 3))
    return {"inputs": X.tolist(), "targets": T.tolist(), "layers": layers, "loss": loss}


def valid_outputs(loss: str) -> list[str]:
    """Output activations the loss is defined for (cross-entropies need outputs in (0, 1))."""
    return ["sigmoid", "softmax"] if loss in ("cross_entropy", "binary_cross_entropy") else ACTS


COMBOS = [(h, o, loss) for loss in LOSSES for o in valid_outputs(loss) for h in ACTS]


def parse(spec: dict):
    return bpcalc.parse_spec(yaml.safe_dump(spec, sort_keys=False))


# ------------------------------------------------------------------------------ networks
@pytest.mark.parametrize("hidden,output,loss", COMBOS)
def test_every_activation_and_loss_passes(hidden, output, loss):
    spec = random_network(COMBOS.index((hidden, output, loss)), hidden, output, loss)
    gc = check(parse(spec))
    assert gc.ok, [p for p in gc.params if not p.ok]
    assert gc.n_params == sum(np.size(l["weights"]) + np.size(l["biases"]) for l in spec["layers"])
    assert gc.samples == 3 and gc.forward_passes == 2 * gc.n_params
    # the numerical column is what an independently written forward pass gives
    ref = ref_numerical(spec)
    np.testing.assert_allclose([p.numerical for p in gc.params], ref, rtol=1e-6, atol=1e-8)


def test_seed_000_against_its_closed_form():
    x1, x2, w1, w2, b, t = 0.1, 0.3, 0.5, 0.2, 1.83, 0.03
    a = sigmoid(x1 * w1 + x2 * w2 + b)
    delta = (a - t) * a * (1 - a)
    spec = open_spec("simple")
    assert [p.name for p in check(spec).params] == [p.key.replace("grad_", "") for p in check(spec).params]
    gc = check(spec, names=param_names(spec))  # display names come from explain, not from the engine
    by_name = {p.name: p for p in gc.params}
    assert list(by_name) == ["W1", "W2", "b"]
    for name, exact in (("W1", delta * x1), ("W2", delta * x2), ("b", delta)):
        assert by_name[name].backprop == pytest.approx(exact, rel=1e-13)
        assert by_name[name].numerical == pytest.approx(exact, rel=1e-7)
    assert [p.key for p in gc.params] == ["layers.0.grad_weights.0.0", "layers.0.grad_weights.0.1",
                                          "layers.0.grad_biases.0"]


def test_a_corrupted_backward_pass_fails(monkeypatch):
    """Backprop that gets one gradient 0.1% wrong: exactly that parameter fails."""
    from bpcalc.engine.network import Network

    original = Network.backward

    def corrupted(self, *args, **kw):
        g = original(self, *args, **kw)
        g["grads"][1]["weights"][0, 1] *= 1.001
        return g

    monkeypatch.setattr(Network, "backward", corrupted)
    gc = check(open_spec("two_layer"))
    assert not gc.ok
    assert [p.key for p in gc.failed] == ["layers.1.grad_weights.0.1"]
    assert gc.failed[0].relative_error == pytest.approx(0.001 / 1.001, rel=1e-3)


def test_a_wrong_derivative_fails(monkeypatch):
    """σ'(z) written as a(1 − a)·1.01: every gradient of a sigmoid layer goes wrong."""
    import bpcalc.registry as registry

    bad = dataclasses.replace(registry.ACTIVATIONS["sigmoid"], local=lambda z, a: 1.01 * a * (1 - a),
                              local_z=lambda z, a: 1.01 * a * (1 - a))
    monkeypatch.setitem(registry.ACTIVATIONS, "sigmoid", bad)
    gc = check(open_spec("simple"))
    assert len(gc.failed) == 3


def test_kinks_are_flagged():
    spec = {"inputs": [1.0, -1.0], "targets": [0.5], "loss": "half_sse",
            "layers": [{"weights": [[0.5, 0.5]], "activation": "relu"}, {"weights": [[2.0]], "activation": "linear"}]}
    gc = check(parse(spec))  # z = 0 exactly: relu's kink
    assert gc.notes and "kink" in gc.notes[0]
    # the layer before the kink is flagged; the output weight does not move z, so it is not
    assert [p.kink for p in gc.params] == [True, True, False]
    # at the kink, backprop takes relu'(0) = 0 while the central difference averages the slopes 0 and 1
    assert [p.ok for p in gc.params] == [False, False, True]
    # E = ½(0.5 − 2·relu(z))²: the slope in w_11 is (2·0 − 0.5)·2·x_1 = −1 on the right and 0 on the left
    assert gc.params[0].numerical == pytest.approx(0.5 * (-1.0 + 0.0), abs=1e-5)
    assert gc.params[1].numerical == pytest.approx(0.5 * (0.0 + 1.0), abs=1e-5)
    assert gc.params[0].backprop == 0.0 and gc.params[1].backprop == 0.0


# ------------------------------------------------------------------------------ graphs
EVERY_FUNCTION = """
variables: {x: 0.7, y: -1.3, z: 2.1}
constants: {c: 0.2}
nodes:
  a: exp(x) * sin(y) + cos(z)
  b: log(z + x ** 2) / sqrt(square(y) + 1)
  e: tanh(a) - sigmoid(b * y) + relu(x - c) + abs(y)
  f: -e ** 3 + x / z - y
"""


def every_function_ref(x: float, y: float, z: float) -> float:
    a = math.exp(x) * math.sin(y) + math.cos(z)
    b = math.log(z + x**2) / math.sqrt(y * y + 1)
    e = math.tanh(a) - sigmoid(b * y) + max(x - 0.2, 0) + abs(y)
    return -(e**3) + x / z - y


@pytest.mark.parametrize("loss", [None, "sse", "half_sse", "mse"])
def test_graph_with_every_function_passes(loss):
    text = EVERY_FUNCTION + (f"target: 1.5\nloss: {loss}\n" if loss else "")
    gc = check(bpcalc.parse_spec(text))
    assert gc.ok, gc.failed
    assert [p.name for p in gc.params] == ["x", "y", "z"]
    h = 1e-6
    point = {"x": 0.7, "y": -1.3, "z": 2.1}
    for p in gc.params:
        def f(v, name=p.name):
            out = every_function_ref(**{**point, name: v})
            if loss is None:
                return out
            return {"sse": 1.0, "half_sse": 0.5, "mse": 1.0}[loss] * (1.5 - out) ** 2
        ref = (f(point[p.name] + h) - f(point[p.name] - h)) / (2 * h)
        assert p.numerical == pytest.approx(ref, rel=1e-6)
        assert p.backprop == pytest.approx(ref, rel=1e-5)


def test_seed_003_graph_gradients():
    gc = check(open_spec("graph_chain"))
    assert {p.name: round(p.backprop, 9) for p in gc.params} == {"x": 16, "y": 16, "z": -12}
    assert gc.of == "L"


def test_a_wrong_graph_local_derivative_fails(monkeypatch):
    import bpcalc.registry as registry

    bad = dataclasses.replace(registry.GRAPH_OPS["exp"], locals=lambda x, o: (1.001 * o,))
    monkeypatch.setitem(registry.GRAPH_OPS, "exp", bad)
    gc = check(open_spec("composite"))
    assert [p.name for p in gc.failed] == ["x"]


# ------------------------------------------------------------------------------ the command
def test_cli_pass_text_and_json(cli):
    res = cli("check", "two_layer", "--format", "text")
    assert res.exit_code == 0, res.stderr
    out = res.stdout
    assert "✓ all 12 gradients agree" in out
    for name in ("w_11^(2)", "b_2^(3)"):
        assert name in out
    assert "Backprop took" in out and ("slower" in out or "faster" in out)
    assert "2·P = 24 forward passes" in out and "784-30-10" in out and "47,720" in out

    js = cli("check", "two_layer", "--format", "json")
    assert js.exit_code == 0
    d = json.loads(js.stdout)
    assert d["kind"] == "gradcheck" and d["ok"] is True and d["parameters_count"] == 12
    assert set(d["parameters"][0]) >= {"key", "name", "backprop", "numerical", "difference", "relative_error", "ok"}
    assert set(d["timing"]) >= {"backprop_seconds", "numerical_seconds", "ratio", "forward_passes"}
    assert d["timing"]["forward_passes"] == 24
    assert d["layer_notation_example"]["parameters"] == 784 * 30 + 30 + 30 * 10 + 10
    assert d["layer_notation_example"]["forward_passes"] == 2 * d["layer_notation_example"]["parameters"]


def test_cli_fail_exits_1(cli, monkeypatch):
    from bpcalc.engine.network import Network

    original = Network.backward

    def corrupted(self, *args, **kw):
        g = original(self, *args, **kw)
        g["grads"][0]["biases"][1] += 0.01
        return g

    monkeypatch.setattr(Network, "backward", corrupted)
    res = cli("check", "two_layer", "--format", "text")
    assert res.exit_code == 1
    assert "✗ 1 of 12 gradients disagree: b_2^(2)" in res.stdout
    row = next(ln.split() for ln in res.stdout.splitlines() if ln.startswith("b_2^(2) "))
    assert row[-1] == "✗"
    quiet = cli("check", "two_layer", "--quiet")
    assert quiet.exit_code == 1 and quiet.stdout == ""


@pytest.mark.parametrize("opt,value", [("--eps", "0"), ("--eps", "-1e-6"), ("--tolerance", "0"), ("--eps", "nan")])
def test_cli_bad_options_exit_2(cli, opt, value):
    res = cli("check", "simple", opt, value)
    assert res.exit_code == 2 and "Traceback" not in res.stderr


def test_cli_large_network_is_summarised_unless_full(cli, tmp_path):
    rng = np.random.default_rng(3)
    spec = {"inputs": rng.normal(size=(2, 12)).tolist(), "targets": [[0.1, 0.9], [0.8, 0.2]], "seed": 7,
            "layers": [{"units": 8, "activation": "tanh"}, {"units": 2, "activation": "sigmoid"}]}
    p = tmp_path / "big.yaml"
    p.write_text(yaml.safe_dump(spec), "utf-8")
    P = 12 * 8 + 8 + 8 * 2 + 2
    short = cli("check", p, "--format", "text")
    assert short.exit_code == 0
    assert f"the 10 largest relative errors of {P} parameters" in short.stdout
    full = cli("check", p, "--format", "text", "--full")
    rows = [ln for ln in full.stdout.splitlines() if ln.rstrip().endswith(("✓ relative", "✓ absolute"))]
    assert len(rows) == P


def test_cli_output_file(cli, tmp_path):
    out = tmp_path / "check.json"
    res = cli("check", "xor", "--output", out)
    assert res.exit_code == 0 and res.stdout == ""
    assert json.loads(out.read_text("utf-8"))["model"] == "network"


# ------------------------------------------------------------------------------ which test a row passed; --atol
# f = x³ at x = 1e-5: backprop 3x² = 3e-10; the central difference is exactly 3x² + ε², off by ε² = 1e-12, a
# relative error of 1e-12 / 3e-10 ≈ 3.3e-3 (fails --tol 1e-5) but an absolute one far below the round-off bound
CUBE = "variables: {x: 1.0e-5}\nnodes:\n  f: x ** 3\n"


@pytest.mark.parametrize("args, code, test", [
    ((), 0, "absolute"),  # within the default atol, the round-off bound 100·2.2e-16/1e-6 = 2.2e-8
    (("--atol", "0"), 1, None),  # the relative test alone: 3.3e-3 > 1e-5
    (("--atol", "0", "--tol", "1e-2"), 0, "relative"),
    (("--atol", "2e-12"), 0, "absolute"),
    (("--atol", "5e-13"), 1, None),
])
def test_atol_and_the_test_each_row_passed(cli, tmp_path, args, code, test):
    spec = tmp_path / "cube.yaml"
    spec.write_text(CUBE, encoding="utf-8")
    r = cli("check", spec, "--format", "json", *args)
    assert r.exit_code == code, r.stderr
    d = json.loads(r.stdout)
    row = d["parameters"][0]
    assert row["backprop"] == pytest.approx(3e-10, rel=1e-12)
    assert row["numerical"] - row["backprop"] == pytest.approx(1e-12, rel=1e-3)
    assert row["passed_by"] == test and row["ok"] is (test is not None)
    if "--atol" in args:
        assert d["atol"] == float(args[args.index("--atol") + 1])
    text = cli("check", spec, "--format", "text", *args).stdout
    row_text = next(ln for ln in text.splitlines() if ln.startswith("x "))
    assert row_text.rstrip().endswith(f"✓ {test}" if test else "✗")


@pytest.mark.parametrize("value", ["-1", "nan", "inf"])
def test_bad_atol_exit_2(cli, value):
    r = cli("check", "simple", "--atol", value)
    assert r.exit_code == 2 and "atol" in r.stderr and "Traceback" not in r.stderr


def test_infinite_loss_is_null_in_json_and_fails(cli, tmp_path):
    """E = ½(0 − 1e200·1e200)² overflows: JSON cannot hold inf, so null as in every JSON bpcalc writes; exit 1."""
    spec = tmp_path / "inf.yaml"
    spec.write_text("inputs: [1e200]\ntargets: [0]\nlayers:\n  - weights: [[1e200]]\n    activation: linear\n",
                    encoding="utf-8")
    r = cli("check", spec, "--format", "json")
    assert r.exit_code == 1, r.stderr
    assert "Warning" not in r.stderr and "Traceback" not in r.stderr
    d = json.loads(r.stdout, parse_constant=lambda c: pytest.fail(f"{c} in JSON"))
    assert d["loss"] is None and d["ok"] is False and d["parameters"][0]["ok"] is False
    assert any("E is inf" in n for n in d["notes"])
    text = cli("check", spec, "--format", "text")
    assert text.exit_code == 1 and "E is inf" in text.stdout and "Warning" not in text.stderr


@pytest.mark.parametrize("spec", ["simple", "graph_chain"])
def test_an_eps_below_the_parameters_resolution_fails_instead_of_passing(cli, spec):
    """ε = 1e-320: θ ± ε is θ itself (for θ = 0.5, say), so the central difference is 0/2ε whatever the gradient,
    and the round-off bound 100·2.2e-16/ε ≈ 2e306 let every row pass "absolutely". Now such rows are undefined."""
    r = cli("check", spec, "--eps", "1e-320", "--format", "json")
    assert r.exit_code == 1, r.stdout
    d = json.loads(r.stdout)
    assert d["ok"] is False and all(p["numerical"] is None for p in d["parameters"] if p["backprop"] != 0)
    assert any("below the resolution" in n for n in d["notes"])
    assert not any("domain ends within" in n for n in d["notes"])
