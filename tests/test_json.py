"""The JSON contract of `bpcalc run --format json` (issue 2): keys, types, shapes, nulls."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
from conftest import BUNDLED, run_dict

NETWORK_KEYS = {"kind", "loss", "loss_after", "layers"}
LAYER_KEYS = {"z", "a", "delta", "grad_weights", "grad_biases", "new_weights", "new_biases"}
GRAPH_KEYS = {"kind", "loss", "loss_after", "nodes", "variables"}
NODE_KEYS = {"op", "value", "grad"}
VARIABLE_KEYS = {"value", "grad", "new_value"}


def is_float(x) -> bool:
    return isinstance(x, float)


def cli_json(cli, *args, **kw) -> dict:
    r = cli("run", *args, "--format", "json", **kw)
    assert r.exit_code == 0, r.stderr
    return json.loads(r.stdout)


@pytest.mark.parametrize("name", BUNDLED)
def test_cli_json_is_the_trace_dict_and_strict_json(cli, name):
    r = cli("run", name, "--format", "json")
    assert r.exit_code == 0
    d = json.loads(r.stdout, parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}"))
    assert d == run_dict(name)  # floats survive the round trip bit for bit


@pytest.mark.parametrize("name", ["simple", "hidden", "two_layer", "xor"])
def test_network_contract(name):
    d = run_dict(name)
    assert NETWORK_KEYS <= set(d)
    assert d["kind"] == "network"
    assert is_float(d["loss"]) and is_float(d["loss_after"])
    n = len(d["inputs"]) if name == "xor" else None
    for L in d["layers"]:
        assert LAYER_KEYS <= set(L)
        W = np.array(L["weights"])
        J, K = W.shape
        assert np.shape(L["grad_weights"]) == (J, K) == np.shape(L["new_weights"])
        if L["biases"] is None:
            assert L["grad_biases"] is None and L["new_biases"] is None
        else:
            assert np.shape(L["grad_biases"]) == (J,) == np.shape(L["new_biases"])
        for key in ("z", "a", "delta"):
            assert np.shape(L[key]) == ((n, J) if n else (J,)), key
            assert all(is_float(v) for v in np.ravel(L[key]))


def test_no_bias_layer_has_null_bias_fields():
    d = run_dict("hidden")
    for L in d["layers"]:
        assert L["biases"] is None and L["grad_biases"] is None and L["new_biases"] is None


def test_several_samples_lead_with_the_sample_axis():
    d = run_dict("xor")
    assert np.shape(d["layers"][0]["z"]) == (4, 2)
    assert np.shape(d["layers"][1]["delta"]) == (4, 1)
    assert np.shape(d["layers"][0]["grad_weights"]) == (2, 2)  # parameters have no sample axis
    assert len(d["sample_loss"]) == 4
    assert d["loss"] == pytest.approx(float(np.mean(d["sample_loss"])), rel=1e-15)


@pytest.mark.parametrize("name", ["graph_chain", "snack", "composite"])
def test_graph_contract(name):
    d = run_dict(name)
    assert GRAPH_KEYS <= set(d)
    assert d["kind"] == "graph"
    assert is_float(d["loss"])
    for nd in d["nodes"].values():
        assert NODE_KEYS <= set(nd)
        assert isinstance(nd["op"], str) and is_float(nd["value"]) and is_float(nd["grad"])
    for v in d["variables"].values():
        assert VARIABLE_KEYS <= set(v) and all(is_float(v[k]) for k in VARIABLE_KEYS)


def test_graph_with_target_loss_is_the_loss_node():
    d = run_dict("graph_chain")
    assert d["nodes"]["q"]["op"] == "add"
    assert d["nodes"]["f"]["op"] == "mul"
    assert d["nodes"]["L"]["op"] == "sse" and d["nodes"]["L"]["value"] == d["loss"] == 4.0
    assert is_float(d["loss_after"])


def test_graph_without_target_loss_is_the_output_value():
    d = run_dict("composite")
    assert d["target"] is None
    assert d["loss"] == d["nodes"]["y"]["value"]
    assert d["nodes"]["y"]["grad"] == 1.0
    # "loss_after": float or null — null without a target; the output after the update is "output_after"
    assert d["loss_after"] is None
    x = d["variables"]["x"]["new_value"]
    assert d["output_after"] == pytest.approx(np.exp(2 * x * x), rel=1e-14)


def test_graph_op_names():
    spec = {"variables": {"x": 0.7, "y": 1.3},
            "nodes": {"a": "x + y", "s": "x - y", "m": "x * y", "d": "x / y", "p": "x ** y", "n": "-x",
                      "e": "exp(x)", "l": "log(x)", "r": "sqrt(x)", "si": "sin(x)", "co": "cos(x)", "t": "tanh(x)",
                      "g": "sigmoid(x)", "u": "relu(x)", "q": "square(x)", "b": "abs(x)"},
            "output": "b", "target": 1, "loss": "half_sse"}
    d = run_dict(yaml.safe_dump(spec, sort_keys=False))
    ops = {k: v["op"] for k, v in d["nodes"].items()}
    assert ops == {"a": "add", "s": "sub", "m": "mul", "d": "div", "p": "pow", "n": "neg", "e": "exp", "l": "log",
                   "r": "sqrt", "si": "sin", "co": "cos", "t": "tanh", "g": "sigmoid", "u": "relu", "q": "square",
                   "b": "abs", "L": "half_sse"}


def test_non_finite_numbers_become_null_not_nan(cli):
    """A graph whose update leaves the domain: the JSON stays valid (null), never NaN."""
    spec = "variables: {x: 0.01}\nnodes: {f: sqrt(x)}\nlearning_rate: 1\n"
    r = cli("run", "-", "--format", "json", input=spec)
    assert r.exit_code == 0 and "NaN" not in r.stdout and "Infinity" not in r.stdout
    d = json.loads(r.stdout)
    assert d["output_after"] is None and d["loss_after"] is None
