"""Expression graphs with every function and operator: values, backprop gradients vs central differences of an
independent forward written here with `math`, the update, and the loss after it."""

from __future__ import annotations

import math

import pytest
import yaml

import bpcalc
from bpcalc import SpecError
from bpcalc.engine.trace import trace_to_dict

H = 1e-6


def sig(v: float) -> float:
    return 1.0 / (1.0 + math.exp(-v))


# (expression, the same function written with math, variables)
CASES = [
    ("exp(x) * y", lambda x, y: math.exp(x) * y, {"x": 0.3, "y": -1.2}),
    ("log(x) + y", lambda x, y: math.log(x) + y, {"x": 2.5, "y": 0.7}),
    ("sqrt(x * y)", lambda x, y: math.sqrt(x * y), {"x": 1.7, "y": 0.4}),
    ("sin(x) * cos(y)", lambda x, y: math.sin(x) * math.cos(y), {"x": 0.9, "y": -2.1}),
    ("tanh(x - y)", lambda x, y: math.tanh(x - y), {"x": 0.2, "y": -0.6}),
    ("sigmoid(x * y + 1)", lambda x, y: sig(x * y + 1), {"x": -0.8, "y": 1.3}),
    ("relu(x) + relu(y)", lambda x, y: max(x, 0.0) + max(y, 0.0), {"x": 1.1, "y": -0.4}),
    ("square(x) - square(y)", lambda x, y: x * x - y * y, {"x": 1.5, "y": -0.5}),
    ("abs(x) * abs(y)", lambda x, y: abs(x) * abs(y), {"x": -1.5, "y": 2.5}),
    ("x + y", lambda x, y: x + y, {"x": 1.0, "y": 2.0}),
    ("x - y", lambda x, y: x - y, {"x": 1.0, "y": 2.0}),
    ("x * y", lambda x, y: x * y, {"x": 1.5, "y": -2.0}),
    ("x / y", lambda x, y: x / y, {"x": 1.5, "y": -2.5}),
    ("x ** y", lambda x, y: x**y, {"x": 1.7, "y": 2.3}),
    ("x ** 3", lambda x, y: x**3 + 0 * y, {"x": -1.3, "y": 0.0}),
    ("-(x * y)", lambda x, y: -(x * y), {"x": 0.5, "y": 3.0}),
    ("-x + -2 * y", lambda x, y: -x + -2 * y, {"x": 0.5, "y": 3.0}),
    ("2.5 * x - 1e-1 / y + 3", lambda x, y: 2.5 * x - 0.1 / y + 3, {"x": 0.5, "y": 0.8}),
    ("x * x * x + x * y", lambda x, y: x * x * x + x * y, {"x": 0.7, "y": -1.1}),  # x on several paths
    ("exp(sin(x) ** 2) / (1 + square(y))", lambda x, y: math.exp(math.sin(x) ** 2) / (1 + y * y),
     {"x": 0.4, "y": 0.9}),
    ("log(sigmoid(x)) + sqrt(abs(y)) * tanh(x * y)",
     lambda x, y: math.log(sig(x)) + math.sqrt(abs(y)) * math.tanh(x * y), {"x": 0.4, "y": -0.9}),
]


def run(spec: dict, **kw) -> dict:
    return trace_to_dict(bpcalc.run(yaml.safe_dump(spec, sort_keys=False), **kw))


def central(fn, values: dict[str, float]) -> dict[str, float]:
    out = {}
    for k in values:
        up, down = dict(values), dict(values)
        up[k] += H
        down[k] -= H
        out[k] = (fn(**up) - fn(**down)) / (2 * H)
    return out


@pytest.mark.parametrize(("text", "fn", "values"), CASES, ids=[c[0] for c in CASES])
def test_output_differentiated_without_target(text, fn, values):
    lr = 0.05
    d = run({"variables": values, "nodes": {"f": text}, "output": "f", "learning_rate": lr})
    assert d["nodes"]["f"]["value"] == pytest.approx(fn(**values), rel=1e-14, abs=1e-15)
    assert d["loss"] == d["nodes"]["f"]["value"]  # no target: "loss" is the output's value
    assert d["target"] is None
    num = central(fn, values)
    for k, v in values.items():
        g = d["variables"][k]["grad"]
        assert g == pytest.approx(num[k], rel=1e-6, abs=1e-8), k
        assert d["variables"][k]["value"] == v
        assert d["variables"][k]["new_value"] == pytest.approx(v - lr * g, rel=1e-15, abs=1e-16)
    new = {k: d["variables"][k]["new_value"] for k in values}
    assert d["output_after"] == pytest.approx(fn(**new), rel=1e-14, abs=1e-15)


LOSS_REF = {
    "half_sse": lambda t, a: 0.5 * (t - a) ** 2,
    "sse": lambda t, a: (t - a) ** 2,
    "mse": lambda t, a: (t - a) ** 2,  # one output: K = 1
    "cross_entropy": lambda t, a: -t * math.log(a),
    "binary_cross_entropy": lambda t, a: -(t * math.log(a) + (1 - t) * math.log(1 - a)),
}


@pytest.mark.parametrize("loss", sorted(LOSS_REF))
@pytest.mark.parametrize(("text", "fn", "values"), [CASES[5], CASES[19]], ids=["sigmoid", "nested"])
def test_loss_of_a_target(loss, text, fn, values):
    if loss in ("cross_entropy", "binary_cross_entropy") and "sigmoid" not in text:
        text, inner = f"sigmoid({text})", fn
        fn = lambda **v: sig(inner(**v))  # noqa: E731
    t, lr = 0.3, 0.1
    ref = lambda **v: LOSS_REF[loss](t, fn(**v))  # noqa: E731
    d = run({"variables": values, "nodes": {"f": text}, "output": "f", "target": t, "loss": loss,
             "learning_rate": lr})
    assert d["target"] == t and d["loss_function"] == loss
    assert d["loss"] == pytest.approx(ref(**values), rel=1e-13)
    assert d["nodes"]["L"]["op"] == loss and d["nodes"]["L"]["grad"] == 1.0
    num = central(ref, values)
    for k in values:
        assert d["variables"][k]["grad"] == pytest.approx(num[k], rel=1e-6, abs=1e-9), k
    new = {k: d["variables"][k]["new_value"] for k in values}
    assert d["loss_after"] == pytest.approx(ref(**new), rel=1e-12)
    assert d["output_after"] == pytest.approx(fn(**new), rel=1e-13)


def test_fan_out_node_gradients_add_up():
    """q feeds two nodes; its gradient is the sum of what flows back along both edges."""
    d = run({"variables": {"x": 0.5, "y": 2.0}, "nodes": {"q": "x * y", "a": "exp(q)", "b": "square(q)",
                                                          "f": "a + b"}})
    q = 0.5 * 2.0
    assert d["nodes"]["q"]["grad"] == pytest.approx(math.exp(q) + 2 * q, rel=1e-15)
    assert d["variables"]["x"]["grad"] == pytest.approx((math.exp(q) + 2 * q) * 2.0, rel=1e-15)
    assert d["variables"]["y"]["grad"] == pytest.approx((math.exp(q) + 2 * q) * 0.5, rel=1e-15)
    assert d["nodes"]["a"]["products"] == [pytest.approx(math.exp(q))]
    assert d["nodes"]["b"]["products"] == [pytest.approx(2 * q)]


def test_multiply_node_swaps_add_node_passes_through():
    d = run({"variables": {"x": 3.0, "y": -7.0}, "nodes": {"s": "x + y", "m": "s * x"}})
    assert d["nodes"]["m"]["local"] == [3.0, -4.0]  # ∂m/∂s = x, ∂m/∂x = s
    assert d["nodes"]["s"]["local"] == [1.0, 1.0]
    assert d["nodes"]["s"]["grad"] == 3.0 and d["nodes"]["s"]["products"] == [3.0, 3.0]
    assert d["variables"]["x"]["grad"] == 3.0 + -4.0


def test_constants_are_leaves_that_are_not_updated():
    d = run({"variables": {"x": 2.0}, "constants": {"c": 3.0}, "nodes": {"f": "c * x ** 2"}, "learning_rate": 0.1})
    assert set(d["variables"]) == {"x"}
    assert d["constants"]["c"] == 3.0
    assert d["variables"]["x"]["grad"] == 12.0
    assert d["variables"]["x"]["new_value"] == pytest.approx(2.0 - 1.2, rel=1e-15)


def test_variable_not_in_the_output_has_zero_gradient():
    d = run({"variables": {"x": 2.0, "unused": 5.0}, "nodes": {"f": "square(x)"}})
    assert d["variables"]["unused"]["grad"] == 0.0 and d["variables"]["unused"]["new_value"] == 5.0


def test_output_may_be_an_earlier_node():
    d = run({"variables": {"x": 2.0}, "nodes": {"a": "square(x)", "b": "exp(a)"}, "output": "a"})
    assert d["output"] == "a" and d["loss"] == 4.0 and d["variables"]["x"]["grad"] == 4.0


def test_learning_rate_override_and_default():
    spec = {"variables": {"x": 2.0}, "nodes": {"f": "square(x)"}}
    assert run(spec)["learning_rate"] == 0.01  # the graph default
    d = run(spec, learning_rate=0.5)
    assert d["learning_rate"] == 0.5 and d["variables"]["x"]["new_value"] == 0.0


def test_value_outside_an_operations_domain_is_a_spec_error():
    with pytest.raises(SpecError) as info:
        run({"variables": {"x": -1.0}, "nodes": {"f": "log(x)"}})
    assert info.value.path == "nodes.f" and "log(x)" in info.value.message
    with pytest.raises(SpecError):
        run({"variables": {"x": 0.0, "y": 1.0}, "nodes": {"f": "y / x"}})


def test_update_leaving_the_domain_gives_no_after_values():
    d = run({"variables": {"x": 0.01}, "nodes": {"f": "sqrt(x)"}, "learning_rate": 1.0})
    assert d["variables"]["x"]["new_value"] == pytest.approx(0.01 - 0.5 / 0.1)
    assert d["output_after"] is None and d["loss_after"] is None
