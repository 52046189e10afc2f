"""A step that overflows is named at its first non-finite quantity, in the order a person computes them."""

from __future__ import annotations

import json

import pytest

import bpcalc
from bpcalc.engine.trace import first_non_finite

NET = "inputs: [1.0, 2.0]\ntargets: [{t}]\nlayers:\n  - weights: {w}\n    activation: {act}\nloss: {loss}\n"


@pytest.mark.parametrize("spec, where", [
    (NET.format(t="0.5", w="[[1.0e308, 1.0e308]]", act="linear", loss="half_sse"), "layers.0.z.0.0"),
    (NET.format(t="0.5", w="[[1.0e300, 0.0]]", act="linear", loss="half_sse"), "loss"),  # z fine, (t − a)² not
    (NET.format(t="1, 0", w="[[1.0e308, 1.0e308], [1, 1]]", act="softmax", loss="cross_entropy"), "layers.0.z.0.0"),
    (NET.format(t="0.5", w="[[1.0, 1.0]]", act="linear", loss="half_sse") + "learning_rate: 1.0e308\n",
     "layers.0.new_weights.0.0"),
    ("variables: {x: 3.0}\nnodes:\n  f: x * x\noutput: f\nlearning_rate: 1.0e308\n", "variables.x.new_value"),
])
def test_the_first_non_finite_quantity_is_named(spec, where):
    bad = first_non_finite(bpcalc.run(spec))
    assert bad is not None and bad[0] == where


@pytest.mark.parametrize("name", ["simple", "hidden", "two_layer", "xor", "graph_chain", "snack", "composite"])
def test_bundled_examples_are_finite(name):
    assert first_non_finite(bpcalc.run(name)) is None


@pytest.mark.parametrize("command", ["run", "explain", "graph"])
@pytest.mark.parametrize("spec, where", [
    (NET.format(t="0.5", w="[[1.0, 1.0]]", act="linear", loss="half_sse") + "learning_rate: 1.0e308\n",
     "layers.0.new_weights.0.0"),
    (NET.format(t="1, 0", w="[[1.0e308, 1.0e308], [1, 1]]", act="softmax", loss="cross_entropy"), "layers.0.z.0.0"),
    (NET.format(t="0.5", w="[[1.0, 1.0]]", act="linear", loss="half_sse")
     + "optimizer: {type: adam, beta1: 0.9, beta2: 0.999}\nlearning_rate: 1.0e308\n", "layers.0.new_weights.0.0"),
])
def test_commands_refuse_a_step_that_overflows(cli, tmp_path, command, spec, where):
    path = tmp_path / "spec.yaml"
    path.write_text(spec, encoding="utf-8")
    r = cli(command, path, "--format", "dot" if command == "graph" else "text")
    assert r.exit_code == 1, r.stderr
    assert r.stdout == "" and where in r.stderr and "Traceback" not in r.stderr and "Warning" not in r.stderr


UNDERFLOW = """inputs: [1]
targets: [1]
layers:
  - {weights: [[-800]], activation: sigmoid}
loss: binary_cross_entropy
learning_rate: 0.1
"""


@pytest.mark.parametrize("command", ["run", "explain", "worksheet"])
def test_an_output_that_underflows_under_a_log_loss_is_still_a_step(cli, tmp_path, command):
    """σ(−800) is 0 in float64, so ∂E/∂a = −t/a is −∞; but δ = a − t = −1 in closed form from z, ∂E/∂w = δ·x = −1
    and w ← −800 − 0.1·(−1) = −799.9: the step `step` takes. Every command shows it, the one factor named as what
    it is."""
    f = tmp_path / "u.yaml"
    f.write_text(UNDERFLOW, encoding="utf-8")
    r = cli(command, f, "-f", "text")
    assert r.exit_code == 0, r.stderr
    if command == "run":
        assert "−∞" in r.stdout and "closed form from z" in r.stdout
        d = json.loads(cli("run", f, "-f", "json").stdout)
        assert d["layers"][0]["delta"] == [-1.0] and d["layers"][0]["grad_a"] == [None]
        assert d["layers"][0]["new_weights"] == [[pytest.approx(-799.9, abs=1e-12)]]
        assert d["loss"] == pytest.approx(800.0)
