"""A step that overflows is named at its first non-finite quantity, in the order a person computes them."""

from __future__ import annotations

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
