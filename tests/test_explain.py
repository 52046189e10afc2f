"""`bpcalc explain`: derivations checked against numbers derived independently here.

Network numbers come from Mazur's worked 2-2-2 example (the bundled two_layer) and from small numpy forward
passes written in this file, differentiated by central differences; function derivations are checked line by
line against central differences of forwards written here; graph paths against hand-derived closed forms."""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess

import numpy as np
import pytest
from conftest import NETWORKS, NUMBER

import bpcalc
from bpcalc.explain.chain import explain
from bpcalc.explain.functions import FUNCTION_NAMES, RESULT_PY, Part, derivation
from bpcalc.registry import ACTIVATIONS as OPS_ACTIVATIONS
from bpcalc.registry import LOSSES as OPS_LOSSES
from bpcalc.spec.bundled import open_spec

# ------------------------------------------------------------------ independent forwards
LEAKY = 0.01


def np_sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def np_tanh(z):
    return (np.exp(z) - np.exp(-z)) / (np.exp(z) + np.exp(-z))


def np_softmax(z):
    e = np.exp(z - np.max(z))
    return e / e.sum()


np_erf = np.vectorize(math.erf)


def np_Phi(z):
    return 0.5 * (1 + np_erf(z / math.sqrt(2)))


def np_phi(z):
    return np.exp(-z * z / 2) / math.sqrt(2 * math.pi)


ACTS = {
    "sigmoid": np_sigmoid, "tanh": np_tanh, "relu": lambda z: np.where(z > 0, z, 0.0),
    "leaky_relu": lambda z: np.where(z > 0, z, LEAKY * z), "linear": lambda z: z * 1.0, "softmax": np_softmax,
    "gelu": lambda z: z * np_Phi(z), "silu": lambda z: z / (1 + np.exp(-z)), "softplus": lambda z: np.log1p(np.exp(z)),
    "elu": lambda z: np.where(z > 0, z, np.exp(z) - 1),
}
LOSSES = {
    "half_sse": lambda a, t: 0.5 * np.sum((t - a) ** 2),
    "sse": lambda a, t: np.sum((t - a) ** 2),
    "mse": lambda a, t: np.mean((t - a) ** 2),
    "cross_entropy": lambda a, t: -np.sum(t * np.log(a)),
    "binary_cross_entropy": lambda a, t: -np.mean(t * np.log(a) + (1 - t) * np.log(1 - a)),
    "huber": lambda a, t: np.mean(np.where(np.abs(a - t) <= 1, 0.5 * (a - t) ** 2, np.abs(a - t) - 0.5)),
    "none": lambda a, t: np.sum(a),  # no loss: E is the output (one unit; summed here over the test's K)
}
H = 1e-6


def central(fun, x: np.ndarray) -> np.ndarray:
    """∂fun/∂x_i by central differences (fun scalar-valued), or the elementwise derivative when fun maps arrays
    elementwise (checked by the caller)."""
    g = np.zeros_like(x)
    for i in range(x.size):
        xp, xm = x.copy(), x.copy()
        xp.flat[i] += H
        xm.flat[i] -= H
        g.flat[i] = (fun(xp) - fun(xm)) / (2 * H)
    return g


def jacobian(fun, z: np.ndarray) -> np.ndarray:
    J = np.zeros((z.size, z.size))
    for i in range(z.size):
        zp, zm = z.copy(), z.copy()
        zp[i] += H
        zm[i] -= H
        J[:, i] = (fun(zp) - fun(zm)) / (2 * H)
    return J


# ------------------------------------------------------------------ seed 002 / Mazur's 2-2-2, by hand
MAZUR = dict(i=(0.05, 0.10), t=(0.01, 0.99), w=(0.15, 0.20, 0.25, 0.30, 0.40, 0.45, 0.50, 0.55), b=(0.35, 0.60))


def mazur_by_hand() -> dict[str, float]:
    """Mazur's forward and backward pass written out with math.exp."""
    i1, i2 = MAZUR["i"]
    t1, t2 = MAZUR["t"]
    w1, w2, w3, w4, w5, w6, w7, w8 = MAZUR["w"]
    b1, b2 = MAZUR["b"]

    def s(x):
        return 1 / (1 + math.exp(-x))

    h1, h2 = s(w1 * i1 + w2 * i2 + b1), s(w3 * i1 + w4 * i2 + b1)
    o1, o2 = s(w5 * h1 + w6 * h2 + b2), s(w7 * h1 + w8 * h2 + b2)
    d_o1 = (o1 - t1) * o1 * (1 - o1)
    d_o2 = (o2 - t2) * o2 * (1 - o2)
    dE_dh1 = d_o1 * w5 + d_o2 * w7
    return dict(h1=h1, o1=o1, dE_do1=o1 - t1, do1_dnet=o1 * (1 - o1), dE_dw5=d_o1 * h1, d_o1=d_o1, d_o2=d_o2,
                dE_dh1=dE_dh1, dh1_dnet=h1 * (1 - h1), dE_dw1=dE_dh1 * h1 * (1 - h1) * i1)


def test_by_hand_matches_mazurs_printed_figures():
    m = mazur_by_hand()
    assert m["dE_dw5"] == pytest.approx(0.082167041, abs=1e-9)
    assert m["dE_dw1"] == pytest.approx(0.000438568, abs=1e-9)
    assert m["dE_do1"] == pytest.approx(0.74136507, abs=1e-8)
    assert m["do1_dnet"] == pytest.approx(0.186815602, abs=1e-9)
    assert m["h1"] == pytest.approx(0.593269992, abs=1e-9)


def _param(ex, name):
    (p,) = [p for p in ex.params if p.name.text == name]
    return p


def test_output_weight_chain_seed_002():
    m = mazur_by_hand()
    p = _param(explain(bpcalc.run("two_layer"), 4, ["w_11^(3)"]), "w_11^(3)")
    assert [f.symbol.text for f in p.factors] == ["∂E/∂a_1^(3)", "∂a_1^(3)/∂z_1^(3)", "∂z_1^(3)/∂w_11^(3)"]
    assert [f.formula.text for f in p.factors] == ["a_1^(3) − t_1", "a_1^(3)(1 − a_1^(3))", "a_1^(2)"]
    assert [float(f.value[0]) for f in p.factors] == pytest.approx([m["dE_do1"], m["do1_dnet"], m["h1"]], abs=1e-12)
    assert p.product == pytest.approx(0.082167041, abs=1e-9)
    assert [ln.text for ln in p.lines] == [
        "∂E/∂w_11^(3) = ∂E/∂a_1^(3) · ∂a_1^(3)/∂z_1^(3) · ∂z_1^(3)/∂w_11^(3)",
        "= (a_1^(3) − t_1) · a_1^(3)(1 − a_1^(3)) · a_1^(2)",
        "= 0.7414 · 0.1868 · 0.5933",
        "= 0.08217",
    ]
    assert p.update.new == pytest.approx(0.40 - 0.5 * 0.082167041, abs=1e-9)


def test_hidden_weight_sums_over_the_paths_through_the_next_layer():
    m = mazur_by_hand()
    p = _param(explain(bpcalc.run("two_layer"), 4, ["w_11^(2)"]), "w_11^(2)")
    assert p.product == pytest.approx(0.000438568, abs=1e-9)
    first = p.factors[0]
    assert first.symbol.text == "∂E/∂a_1^(2)"
    assert float(first.value[0]) == pytest.approx(m["dE_dh1"], abs=1e-12)
    assert [pt.via.text for pt in first.paths] == ["z_1^(3)", "z_2^(3)"]
    assert [float(pt.product[0]) for pt in first.paths] == pytest.approx([m["d_o1"] * 0.40, m["d_o2"] * 0.50],
                                                                        abs=1e-12)
    assert float(p.factors[1].value[0]) == pytest.approx(m["dh1_dnet"], abs=1e-12)
    assert any("Σ_i ∂E/∂z_i^(3)" in ln.text for ln in p.lines)
    assert "= (0.1385×0.4 + (-0.0381)×0.5) · 0.2413 · 0.05" in [ln.text for ln in p.lines]


# ------------------------------------------------------------------ every parameter vs central differences
TWO_LAYER = np.array([[0.15, 0.20], [0.25, 0.30]]), np.array([0.35, 0.35]), \
    np.array([[0.40, 0.45], [0.50, 0.55]]), np.array([0.60, 0.60])


def _net_loss(theta, shapes, X, T, acts, loss):
    """A forward pass of a layered network written here; theta is every parameter flattened."""
    params, i = [], 0
    for shape in shapes:
        size = int(np.prod(shape))
        params.append(theta[i:i + size].reshape(shape))
        i += size
    total = 0.0
    for x, t in zip(X, T):
        a = x
        for li, act in enumerate(acts):
            W, b = params[2 * li], params[2 * li + 1]
            a = ACTS[act](W @ a + b)
        total += LOSSES[loss](a, t)
    return total / len(X)


NET_CASES = {
    "two_layer": "two_layer",
    "xor": "xor",
    "softmax_ce": """
inputs: [[0.5, -0.2], [0.1, 0.9]]
targets: [[0, 1, 0], [1, 0, 0]]
layers:
  - weights: [[0.1, 0.2], [0.3, -0.1]]
    biases: [0.0, 0.1]
    activation: tanh
  - weights: [[0.2, -0.3], [0.4, 0.1], [-0.5, 0.2]]
    biases: [0.1, 0.0, -0.1]
    activation: softmax
loss: cross_entropy
learning_rate: 0.1
""",
    "softmax_mse": """
inputs: [0.5, -0.2]
targets: [0.2, 0.7, 0.1]
layers:
  - weights: [[0.1, 0.2], [0.3, -0.1]]
    biases: [0.0, 0.1]
    activation: leaky_relu
  - weights: [[0.2, -0.3], [0.4, 0.1], [-0.5, 0.2]]
    biases: [0.1, 0.0, -0.1]
    activation: softmax
loss: mse
learning_rate: 0.1
""",
    "bce": """
inputs: [0.3, 0.8, -0.4]
targets: [1, 0]
layers:
  - weights: [[0.1, 0.2, -0.3], [0.3, -0.1, 0.5], [0.2, 0.2, 0.2]]
    biases: [0.0, 0.1, -0.1]
    activation: relu
  - weights: [[0.2, -0.3, 0.1], [0.4, 0.1, 0.3]]
    biases: [0.1, 0.0]
    activation: sigmoid
loss: binary_cross_entropy
learning_rate: 0.1
""",
}


@pytest.mark.parametrize("case", sorted(NET_CASES))
def test_every_network_parameter_against_central_differences(case):
    source = NET_CASES[case]
    spec = bpcalc.parse_spec(source) if "\n" in source else open_spec(source)
    tr = bpcalc.run(spec)
    shapes, theta = [], []
    for L in spec.layers:
        shapes += [L.weights.shape, (L.weights.shape[0],)]
        theta += [L.weights.ravel(), np.zeros(L.weights.shape[0]) if L.biases is None else L.biases]
    theta = np.concatenate(theta)
    X, T = np.atleast_2d(spec.inputs), np.atleast_2d(spec.targets)
    acts = [L.activation for L in spec.layers]
    numeric = central(lambda th: _net_loss(th, shapes, X, T, acts, spec.loss), theta)
    ex = explain(tr, 4)
    assert len(ex.params) == theta.size
    expected = {}
    i = 0
    for li, L in enumerate(spec.layers):
        J, K = L.weights.shape
        for j in range(J):
            for k in range(K):
                expected[f"layers.{li}.weights.{j}.{k}"] = numeric[i]
                i += 1
        for j in range(J):
            expected[f"layers.{li}.biases.{j}"] = numeric[i]
            i += 1
    for p in ex.params:
        assert p.product == pytest.approx(expected[p.path], abs=1e-7), p.path
        # the factors shown multiply to the product shown (summed over samples)
        per_sample = np.prod([np.asarray(f.value, dtype=float) for f in p.factors], axis=0)
        assert float(np.sum(per_sample)) == pytest.approx(p.product, rel=1e-9, abs=1e-15), p.path
        if p.factors[0].paths:
            sums = np.sum([np.asarray(pt.product) for pt in p.factors[0].paths], axis=0)
            assert sums == pytest.approx(np.asarray(p.factors[0].value), abs=1e-15)


def test_softmax_cross_entropy_factor_is_a_minus_t():
    tr = bpcalc.run(bpcalc.parse_spec(NET_CASES["softmax_ce"]))
    p = _param(explain(tr, 4, ["w_21^(3)"]), "w_21^(3)")
    assert p.factors[0].symbol.text == "∂E/∂z_2^(3)"
    assert p.factors[0].formula.text == "(a_2^(3) − t_2)/2"
    # a − t of each sample, /2 for the mean, from a softmax written here
    x = np.array([[0.5, -0.2], [0.1, 0.9]])
    W1, b1 = np.array([[0.1, 0.2], [0.3, -0.1]]), np.array([0.0, 0.1])
    W2, b2 = np.array([[0.2, -0.3], [0.4, 0.1], [-0.5, 0.2]]), np.array([0.1, 0.0, -0.1])
    a2 = [np_softmax(W2 @ np_tanh(W1 @ xi + b1) + b2) for xi in x]
    assert np.asarray(p.factors[0].value) == pytest.approx([(a2[0][1] - 1) / 2, (a2[1][1] - 0) / 2], abs=1e-12)


def test_round_2_uses_the_rounded_sigmas_of_seed_001():
    p = _param(explain(bpcalc.run("hidden", round_to=2), 4, ["w_11^(2)"]), "w_11^(2)")
    local = p.factors[1]
    assert local.formula.text == "σ(h1)(1 − σ(h1))"
    assert float(local.value[0]) == pytest.approx(0.73 * (1 - 0.73), abs=1e-12)  # σ(1.0) = 0.7311 -> 0.73
    assert float(p.factors[0].paths[0].delta[0]) == pytest.approx(1.235, abs=1e-12)  # ŷ − 0 with ŷ = 1.235


# ------------------------------------------------------------------ function derivations, line by line
def _namespace(part, rng) -> tuple[dict, object]:
    """The check's variables at random points, and the numerical derivative the lines must equal."""
    f = part.function
    if part.check == "dz":
        z = np.array([-2.1, -0.7, 0.3, 1.4, 2.6]) + rng.uniform(-0.05, 0.05, 5)
        fun = ACTS[f]
        numeric = (fun(z + H) - fun(z - H)) / (2 * H)
        return {"z": z, "a": fun(z), "sigmoid": np_sigmoid, "tanh": np_tanh, "erf": np_erf, "Phi": np_Phi,
                "phi": np_phi}, numeric
    if part.check == "da":
        K = 4
        a = rng.uniform(0.1, 0.9, K)
        t = rng.uniform(0, 1, K) if f != "cross_entropy" else rng.dirichlet(np.ones(K))
        return {"a": a, "t": t, "K": K}, central(lambda v: LOSSES[f](v, t), a)
    if part.check.startswith("jacobian"):
        z = rng.normal(size=4)
        a = np_softmax(z)
        return {"z": z, "a": a, "S": np.sum(np.exp(z))}, jacobian(np_softmax, z)
    if part.check == "vjp":  # softmax inside a layer: any ∂E/∂a = g, E = g·a locally
        z, g = rng.normal(size=4), rng.normal(size=4)
        return {"z": z, "a": np_softmax(z), "g": g}, central(lambda v: g @ np_softmax(v), z)
    if part.check == "dz_loss":
        act, loss = f.split("+")
        K = 3
        z = rng.normal(size=K)
        t = rng.dirichlet(np.ones(K)) if act == "softmax" else rng.uniform(0, 1, K)
        return ({"z": z, "a": ACTS[act](z), "t": t, "K": K, "S": np.sum(np.exp(z))},
                central(lambda v: LOSSES[loss](ACTS[act](v), t), z))
    if part.check == "dx":
        x = np.array([-0.8, 0.2, 0.5, 1.1])
        fun = {"composite": lambda v: np.exp(v**2) ** 2, "x_exp_x": lambda v: v * np.exp(v)}[f]
        numeric = (fun(x + H) - fun(x - H)) / (2 * H)
        return {"x": x, "a": x**2, "b": np.exp(x**2)}, numeric
    raise AssertionError(part.check)


def _compare(check: str, got, numeric):
    got = np.broadcast_to(np.asarray(got, dtype=float), np.shape(numeric))
    if check == "jacobian_diag":
        got, numeric = np.diag(got) if got.ndim == 2 else got, np.diag(numeric)
    elif check == "jacobian_off":
        mask = ~np.eye(len(numeric), dtype=bool)
        got, numeric = got[mask], numeric[mask]
    assert got == pytest.approx(numeric, rel=1e-5, abs=1e-7)


@pytest.mark.parametrize("name", FUNCTION_NAMES)
def test_every_line_of_every_function_derivation_equals_the_numerical_derivative(name):
    rng = np.random.default_rng(7)
    fd = derivation(name)
    checked = 0
    for part in fd.parts:
        if not part.check:
            continue
        for _ in range(3):
            ns, numeric = _namespace(part, rng)
            for step in part.steps:
                if step.py is None:
                    continue
                got = eval(step.py, {"np": np}, dict(ns))  # the test's own expressions, not user input
                if part.check == "jacobian_diag" and np.ndim(got) == 1:
                    got = np.diag(got)
                _compare(part.check, got, numeric)
                checked += 1
    assert checked >= 2, "a derivation with nothing checked"


@pytest.mark.parametrize("name", [n for n in FUNCTION_NAMES if n != "chain-rule"])
def test_the_closed_form_of_ops_equals_the_numerical_derivative(name):
    fd = derivation(name)
    op = OPS_ACTIVATIONS.get(name) or OPS_LOSSES[name]
    assert fd.result == op.derivative  # the derivation ends where the tables start
    check, py = RESULT_PY[name]
    rng = np.random.default_rng(3)
    ns, numeric = _namespace(Part("", "", "", (), check, name), rng)
    _compare(check, eval(py, {"np": np}, dict(ns)), numeric)


def test_sigmoid_derivation_reads_like_seed_002():
    fd = derivation("sigmoid")
    steps = [s.text for s in fd.parts[0].steps]
    assert steps[0] == "d/dz (1 / (1 + e^(−z)))"
    assert steps[-1] == "σ(z)(1 − σ(z))"
    assert len(steps) >= 6
    assert fd.result == "a(1 − a)"


def test_softmax_and_cross_entropy_end_in_a_minus_t():
    for name in ("softmax", "cross_entropy"):
        assert derivation(name).parts[-1].steps[-1].text == "a_j − t_j"
    assert derivation("binary_cross_entropy").parts[-1].steps[-1].text == "(1/K)(a_k − t_k)"


# ------------------------------------------------------------------ graphs
def test_composite_seed_004_path_node_by_node():
    x = 0.5
    a, b = x * x, math.exp(x * x)
    dydx = 4 * x * math.exp(2 * x * x)
    assert dydx == pytest.approx(3.2974425, abs=1e-7)
    (p,) = explain(bpcalc.run("composite"), 4).params
    assert p.lhs.text == "dy/dx"
    assert p.lines[0].text == "dy/dx = dy/db · db/da · da/dx"
    (path,) = p.graph_paths
    assert path.nodes == ["y", "b", "a", "x"]
    assert [f.formula.text for f in path.factors] == ["2·b", "exp(a)", "2·x"]
    assert [f.value for f in path.factors] == pytest.approx([2 * b, math.exp(a), 2 * x], abs=1e-12)
    assert p.product == pytest.approx(dydx, abs=1e-12)
    assert [w.symbol.text for w in p.walk] == ["dy/dy", "dy/db", "dy/da", "dy/dx"]
    assert [w.value for w in p.walk] == pytest.approx([1, 2 * b, 2 * b * math.exp(a), dydx], abs=1e-12)


def test_graph_chain_seed_003():
    ex = explain(bpcalc.run("graph_chain"), 4)
    got = {p.name.text: p.product for p in ex.params}
    assert got == pytest.approx({"x": 16.0, "y": 16.0, "z": -12.0})
    z = _param(ex, "z")
    assert [f.formula.text for f in z.graph_paths[0].factors] == ["2(f − t)", "q"]
    assert z.update.new == pytest.approx(-4 + 0.01 * 12)


def test_several_paths_add():
    spec = "variables: {x: 0.5}\nnodes:\n  y: x * exp(x)\noutput: y\n"
    (p,) = explain(bpcalc.run(spec), 4).params
    x = 0.5
    assert len(p.graph_paths) == 2
    assert sorted(gp.product for gp in p.graph_paths) == pytest.approx(sorted([math.exp(x), x * math.exp(x)]))
    assert p.product == pytest.approx((1 + x) * math.exp(x))
    assert "(direct)" in p.lines[0].text
    assert p.walk[-1].value == pytest.approx((1 + x) * math.exp(x))
    assert len(p.walk[-1].terms) == 2


# ------------------------------------------------------------------ --param names
@pytest.mark.parametrize("name", ["w_11^(3)", "w_{11}^{(3)}", "w11^(3)", "∂E/∂w_11^(3)", "layers.1.weights.0.0",
                                  "layers[1].weights[0][0]", "layers.1.grad_weights.0.0"])
def test_param_names_accepted(name):
    (p,) = explain(bpcalc.run("two_layer"), 4, [name]).params
    assert p.path == "layers.1.weights.0.0"


def test_param_labels_and_whole_layers():
    assert [p.name.text for p in explain(bpcalc.run("simple"), 4, ["W1"]).params] == ["W1"]
    assert [p.name.text for p in explain(bpcalc.run("simple"), 4, ["b"]).params] == ["b"]
    whole = explain(bpcalc.run("two_layer"), 4, ["W^(3)"]).params
    assert [p.name.text for p in whole] == ["w_11^(3)", "w_12^(3)", "w_21^(3)", "w_22^(3)"]
    assert [p.name.text for p in explain(bpcalc.run("graph_chain"), 4, ["variables.y"]).params] == ["y"]


def test_unknown_param_is_an_error_with_close_matches():
    with pytest.raises(bpcalc.SpecError) as info:
        explain(bpcalc.run("two_layer"), 4, ["w_11^(4)"])
    assert "w_11^(3)" in str(info.value)


# ------------------------------------------------------------------ CLI
def test_cli_default_is_the_bundled_simple(cli):
    r = cli("explain", "--format", "json")
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["kind"] == "explain" and d["subject"] == "network"
    names = [p["name"] for p in d["params"]]
    assert names == ["W1", "W2", "b"]
    x1, x2, w1, w2, b, t = 0.1, 0.3, 0.5, 0.2, 1.83, 0.03
    a = 1 / (1 + math.exp(-(x1 * w1 + x2 * w2 + b)))
    assert d["params"][0]["product"] == pytest.approx((a - t) * a * (1 - a) * x1, abs=1e-12)
    assert [f["value"] for f in d["params"][0]["factors"]] == pytest.approx([a - t, a * (1 - a), x1], abs=1e-12)


def test_cli_unknown_param_exits_2_with_close_matches(cli):
    r = cli("explain", "two_layer", "--param", "w_11^(4)")
    assert r.exit_code == 2
    assert "close matches" in r.stderr and "w_11^(3)" in r.stderr
    assert "Traceback" not in r.stderr and r.stdout == ""


def test_cli_function_name_and_param_together_is_an_error(cli):
    r = cli("explain", "sigmoid", "--param", "w1")
    assert r.exit_code == 2 and "--param" in r.stderr


@pytest.mark.parametrize("topic", ["two_layer", "xor", "hidden", "composite", "graph_chain", "snack", *FUNCTION_NAMES])
def test_cli_piped_text_is_plain_and_every_number_is_in_json(cli, topic):
    text = cli("explain", topic)
    assert text.exit_code == 0, text.stderr
    assert "\x1b" not in text.stdout and text.stdout.strip()
    data = json.loads(cli("explain", topic, "--format", "json").stdout)
    dumped = json.dumps(data, ensure_ascii=False)
    numbers = np.array(list(_json_numbers(data)))
    for token in NUMBER.findall(text.stdout):
        if token in dumped:  # as written in an equation or a with-numbers string
            continue
        decimals = len(token.split(".")[1].split("e")[0]) if "." in token else 0
        half = 0.5 * 10.0 ** -decimals * (10.0 ** int(token.split("e")[1]) if "e" in token else 1)
        assert np.any(np.abs(numbers - float(token)) <= half * 1.0001), token


def _json_numbers(node):
    if isinstance(node, dict):
        for v in node.values():
            yield from _json_numbers(v)
    elif isinstance(node, list):
        for v in node:
            yield from _json_numbers(v)
    elif isinstance(node, (int, float)) and not isinstance(node, bool):
        yield float(node)


def test_cli_function_wins_only_when_no_such_file(cli, tmp_path, monkeypatch):
    spec = "inputs: [1.0]\ntargets: [0.5]\nlayers:\n  - weights: [[0.3]]\n    activation: linear\nloss: half_sse\n"
    monkeypatch.chdir(tmp_path)
    assert json.loads(cli("explain", "sigmoid", "-f", "json").stdout)["subject"] == "function"
    (tmp_path / "sigmoid").write_text(spec, encoding="utf-8")
    d = json.loads(cli("explain", "sigmoid", "-f", "json").stdout)
    assert d["subject"] == "network"
    assert d["params"][0]["product"] == pytest.approx((0.3 - 0.5) * 1.0, abs=1e-12)


def test_cli_chain_rule_carries_the_worked_example(cli):
    d = json.loads(cli("explain", "chain-rule", "-f", "json").stdout)
    assert d["function"] == "chain-rule"
    assert d["example"]["params"][0]["product"] == pytest.approx(4 * 0.5 * math.exp(0.5), abs=1e-12)


def test_cli_markdown_and_latex_carry_math(cli):
    md = cli("explain", "two_layer", "--param", "w_11^(2)", "-f", "markdown").stdout
    assert r"$$\begin{aligned}" in md and r"\frac{\partial E}{\partial w_{11}^{(2)}}" in md
    tex = cli("explain", "sigmoid", "-f", "latex").stdout
    assert r"\sigma(z)\,(1 - \sigma(z))" in tex


def test_cli_learning_rate_round_quiet_and_output(cli, tmp_path):
    d = json.loads(cli("explain", "two_layer", "-P", "w_11^(3)", "--learning-rate", "0.1", "-f", "json").stdout)
    assert d["params"][0]["update"]["new"] == pytest.approx(0.40 - 0.1 * 0.082167041, abs=1e-9)
    d = json.loads(cli("explain", "hidden", "--round", "2", "-P", "w_11^(2)", "-f", "json").stdout)
    assert d["round"] == 2 and d["params"][0]["factors"][1]["value"] == pytest.approx(0.1971, abs=1e-12)
    r = cli("explain", "two_layer", "--quiet")
    assert r.exit_code == 0 and r.stdout == ""
    out = tmp_path / "e.md"
    r = cli("explain", "two_layer", "-o", out)
    assert r.exit_code == 0 and r.stdout == ""
    assert out.read_text(encoding="utf-8").startswith("## ")


def test_cli_help_names_the_functions_and_examples(cli):
    r = cli("explain", "--help")
    assert r.exit_code == 0
    flat = re.sub(r"\s+", " ", r.stdout)
    assert "chain-rule" in flat and "unless a file of that name exists" in flat and "bpcalc explain sigmoid" in flat


def test_cli_expected_values_are_checked_too(cli, tmp_path):
    m = mazur_by_hand()
    base = (NETWORKS / "two_layer.yaml").read_text(encoding="utf-8")
    good = tmp_path / "good.yaml"
    good.write_text(base + f"expected:\n  \"∂E/∂w_11^(3)\": {m['dE_dw5']:.4f}\n", encoding="utf-8")
    r = cli("explain", good, "-P", "w_11^(3)", "-f", "json")
    assert r.exit_code == 0, r.stderr
    assert [e["ok"] for e in json.loads(r.stdout)["expected"]] == [True]
    bad = tmp_path / "bad.yaml"
    bad.write_text(base + f"expected:\n  layers.0.grad_weights.0.0: {m['dE_dw1'] + 1e-3:.4f}\n", encoding="utf-8")
    r = cli("explain", bad)
    assert r.exit_code == 1 and "✗" in r.stdout


TEX_ENGINES = [e for e in ("pdflatex", "lualatex", "xelatex") if shutil.which(e)]


@pytest.mark.skipif(not TEX_ENGINES, reason="no TeX engine (pdflatex, lualatex, xelatex) installed")
@pytest.mark.parametrize("topic", ["two_layer", "softmax", "chain-rule"])
def test_latex_standalone_explain_compiles(cli, tmp_path, topic):
    r = cli("explain", topic, "--format", "latex", "--standalone", "-o", tmp_path / "doc.tex")
    assert r.exit_code == 0, r.stderr
    res = subprocess.run([TEX_ENGINES[0], "-interaction=nonstopmode", "-halt-on-error", "doc.tex"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL)
    assert res.returncode == 0, res.stdout[-2000:]
