"""Bad specs the loader used to crash on or silently accept: each is refused through the CLI with one message (YAML
path, line, a hint), exit 2, no traceback, nothing written. Plus graph nodes in any order, look-alike names, and
the student-friendly hints (transposed weights, tabs, scalars for one-element lists, misspelt names)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import run_dict

import bpcalc
from bpcalc.errors import SpecError
from bpcalc.spec import parse_spec
from bpcalc.spec.expr import parse_graph

NET = "inputs: [0.1, 0.3]\ntargets: [0.03]\nlayers:\n  - weights: [[0.5, 0.2]]\n    biases: [1.83]\n"
UNITS = "inputs: [1, 2]\ntargets: [1]\nseed: 1\nlayers:\n  - units: 1\n"
GRAPH = "variables: {x: 1, y: 2}\nnodes:\n"


def refused(cli, tmp_path: Path, text: str | bytes, *fragments: str, command: str = "run") -> str:
    """`bpcalc run SPEC --output … --save …`: exit 2, one `error:` message holding every fragment and a hint, no
    traceback, nothing on stdout, nothing written. Returns stderr."""
    spec = tmp_path / "spec.yaml"
    spec.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    files = sorted(p.name for p in tmp_path.iterdir())
    extra = ("--output", tmp_path / "out.txt", "--save", tmp_path / "next.yaml") if command == "run" else ()
    r = cli(command, spec, *extra)
    assert r.exit_code == 2, r.output
    err = r.stderr
    assert err.startswith("error: ") and err.count("error:") == 1, err
    assert "Traceback" not in r.output and r.stdout == ""
    assert "\n  hint: " in err, err
    for fragment in fragments:
        assert fragment in err, f"{fragment!r} not in {err!r}"
    assert sorted(p.name for p in tmp_path.iterdir()) == files
    return err


def accepted(text: str):
    return parse_spec(text, source="spec.yaml")


# ---------------------------------------------------------------- 1. scalars the loader cannot build
@pytest.mark.parametrize("value, fragment", [
    ("!!int 1.83", "'1.83' is tagged !!int but is not a whole number"),
    ("[!!float abc]", "'abc' is tagged !!float but is not a number"),
    ("[!!bool maybe]", "'maybe' is tagged !!bool but is not true or false"),
    ("[!!timestamp soon]", "'soon' is tagged !!timestamp"),
])
def test_tagged_scalar_that_cannot_be_built(cli, tmp_path, value, fragment):
    err = refused(cli, tmp_path, NET.replace("[1.83]", value), "spec.yaml:5", "layers[0].biases", fragment)
    assert "remove the `!!" in err


@pytest.mark.parametrize("digits", [350, 5000, 100_000])
def test_integer_of_hundreds_or_thousands_of_digits(cli, tmp_path, digits):
    refused(cli, tmp_path, NET.replace("[[0.5, 0.2]]", f"[[0.5, {'7' * digits}]]"), "spec.yaml:4",
            "layers[0].weights[0][1]", "far too large", "fit a float")


@pytest.mark.parametrize("seed", ["-1", str(2**63), str(2**70)])
def test_seed_out_of_range(cli, tmp_path, seed):
    refused(cli, tmp_path, UNITS.replace("seed: 1", f"seed: {seed}"), "spec.yaml:3", "seed",
            "from 0 to 9,223,372,036,854,775,807")


def test_largest_seed_is_accepted():
    assert accepted(UNITS.replace("seed: 1", f"seed: {2**63 - 1}")).seed == 2**63 - 1


@pytest.mark.parametrize("key", ["epoch", "step"])
def test_training_state_counter_beyond_int64(cli, tmp_path, key):
    refused(cli, tmp_path, NET + f"training_state: {{{key}: {2**63}}}\n", "spec.yaml:6", f"training_state.{key}",
            "from 0 to 9,223,372,036,854,775,807", command="validate")


@pytest.mark.parametrize("literal, fragment", [("9" * 400, "with 400 digits"), ("1e999", "the number is too large"),
                                               ("-1e999", "the number is too large")])
def test_number_in_an_expression_too_large_for_a_float(cli, tmp_path, literal, fragment):
    err = refused(cli, tmp_path, GRAPH + f"  f: x * {literal}\n", "spec.yaml:3", "nodes.f", fragment)
    assert "^" in err


# ---------------------------------------------------------------- 2. values ignored or accepted before
def test_units_layer_with_biases_of_another_length(cli, tmp_path):
    refused(cli, tmp_path, UNITS + "    biases: [1, 2, 3]\n", "spec.yaml:6", "layers[0].biases",
            "`units: 1` but 3 biases", "one bias per neuron")


def test_units_layer_biases_of_the_right_length_are_used():
    spec = accepted(UNITS.replace("units: 1", "units: 2") + "    biases: [0.5, -0.5]\n  - units: 1\n")
    assert spec.layers[0].biases.tolist() == [0.5, -0.5]


@pytest.mark.parametrize("value, found", [("'no'", "string 'no'"), ("'false'", "string 'false'"), ("0", "int 0")])
def test_bias_must_be_a_boolean(cli, tmp_path, value, found):
    refused(cli, tmp_path, UNITS + f"    bias: {value}\n", "spec.yaml:6", "layers[0].bias", "true or false", found,
            "bias: false")


@pytest.mark.parametrize("value", ["[0.35, 0.35]", "0.35"])
def test_bias_with_numbers_suggests_biases(cli, tmp_path, value):
    err = refused(cli, tmp_path, NET.replace("biases: [1.83]", f"bias: {value}"), "spec.yaml:5", "layers[0].bias",
                  "did you mean `biases:`?", f"write `biases: {value}`")
    assert "write `bias: false` (unquoted)" not in err


def test_bias_false_and_biases_contradict(cli, tmp_path):
    refused(cli, tmp_path, UNITS + "    bias: false\n    biases: [1]\n", "layers[0].bias", "`bias: false`",
            "delete one")


def test_training_state_with_more_layers_than_the_network(cli, tmp_path):
    text = NET + "training_state:\n  epoch: 1\n  step: 1\n  layers:\n    - {}\n    - {}\n"
    refused(cli, tmp_path, text, "spec.yaml:11", "training_state.layers[1]", "2 layer entries",
            "network has 1 layer", "start afresh")


@pytest.mark.parametrize("optimizer, where, fragment", [
    ("{type: adam, epsilon: -1e-8}", "optimizer.epsilon", "epsilon must be ≥ 0"),
    ("{type: adagrad, epsilon: -1}", "optimizer.epsilon", "epsilon must be ≥ 0"),
    ("{type: adam, beta1: 1}", "optimizer.beta1", "beta1 must be in [0, 1)"),
    ("{type: adamw, beta2: 1.5}", "optimizer.beta2", "beta2 must be in [0, 1)"),
    ("{type: adam, beta2: -0.1}", "optimizer.beta2", "beta2 must be in [0, 1)"),
    ("{type: momentum, momentum: -0.9}", "optimizer.momentum", "momentum must be ≥ 0"),
    ("{type: nesterov, momentum: -1}", "optimizer.momentum", "momentum must be ≥ 0"),
    ("{type: rmsprop, alpha: -0.5}", "optimizer.alpha", "alpha must be in [0, 1]"),
    ("{type: rmsprop, alpha: 1.5}", "optimizer.alpha", "alpha must be in [0, 1]"),
])
def test_optimizer_setting_out_of_range(cli, tmp_path, optimizer, where, fragment):
    refused(cli, tmp_path, NET + f"optimizer: {optimizer}\n", "spec.yaml:6", where, fragment, "the default is")


def test_optimizer_settings_at_their_limits_are_accepted():
    for opt in ("{type: adam, beta1: 0, beta2: 0, epsilon: 0}", "{type: momentum, momentum: 0}",
                "{type: rmsprop, alpha: 1}"):
        accepted(NET + f"optimizer: {opt}\n")


@pytest.mark.parametrize("targets, loss, where, found", [
    ("targets: [2]", "binary_cross_entropy", "targets[0]", "found 2"),
    ("targets: [-0.5]", "binary_cross_entropy", "targets[0]", "found -0.5"),
    ("targets: [1.5]", "cross_entropy", "targets[0]", "found 1.5"),
])
def test_probability_loss_targets_outside_0_1(cli, tmp_path, targets, loss, where, found):
    refused(cli, tmp_path, NET.replace("targets: [0.03]", targets) + f"loss: {loss}\n", "spec.yaml:2", where,
            f"{loss} needs targets in [0, 1]", found)


def test_probability_loss_target_outside_0_1_names_its_sample(cli, tmp_path):
    text = ("inputs: [[1], [2]]\ntargets:\n  - [0, 1]\n  - [1, 3]\nlayers:\n  - weights: [[1], [2]]\n"
            "    activation: softmax\nloss: cross_entropy\n")
    refused(cli, tmp_path, text, "spec.yaml:4", "targets[1][1]", "found 3")


def test_probability_loss_target_file_outside_0_1(cli, tmp_path):
    np.save(tmp_path / "t.npy", np.array([[0.0], [2.0]]))
    text = "inputs: [[1], [2]]\ntargets: t.npy\nlayers:\n  - weights: [[1]]\nloss: binary_cross_entropy\n"
    refused(cli, tmp_path, text, "spec.yaml:2", "targets", "found 2 (row 1, column 0 of t.npy)")


@pytest.mark.parametrize("loss", ["binary_cross_entropy", "cross_entropy"])
def test_graph_probability_loss_target_outside_0_1(cli, tmp_path, loss):
    refused(cli, tmp_path, "variables: {x: 1}\nnodes:\n  y: sigmoid(x)\ntarget: 2\n" + f"loss: {loss}\n",
            "spec.yaml:4", "target", f"{loss} needs a target in [0, 1]")


@pytest.mark.parametrize("text", [NET, GRAPH + "  f: x * y\n"])
def test_negative_learning_rate(cli, tmp_path, text):
    refused(cli, tmp_path, text + "learning_rate: -0.5\n", "learning_rate", "learning rate must be ≥ 0",
            "found -0.5")


def test_zero_learning_rate_is_accepted():
    assert accepted(NET + "learning_rate: 0\n").learning_rate == 0.0


@pytest.mark.parametrize("text", [NET, GRAPH + "  f: x * y\n"])
def test_weight_decay_at_top_level_and_in_the_optimizer(cli, tmp_path, text):
    refused(cli, tmp_path, text + "weight_decay: 0.1\noptimizer: {type: adam, weight_decay: 0.2}\n",
            "weight_decay", "given twice", "0.1", "0.2", "keep `optimizer.weight_decay`")


# ---------------------------------------------------------------- 3. look-alike names
@pytest.mark.parametrize("text, where, other", [
    ("variables: {x: 1, ｘ: 5}\nnodes:\n  f: ｘ * 2\n", "variables.ｘ", "`x` (variables.x, line 1)"),
    ("variables: {x: 1}\nconstants: {ｘ: 5}\nnodes:\n  f: x * 2\n", "constants.ｘ", "`x` (variables.x"),
    ("variables: {x: 1}\nnodes:\n  ｘ: x * 2\n  f: x + 1\n", "nodes.ｘ", "`x` (variables.x"),
    ("variables: {x: 1}\nnodes:\n  ﬁ: x * 2\n  fi: x + 1\n", "nodes.fi", "`ﬁ` (nodes.ﬁ, line 3)"),
])
def test_look_alike_names_are_refused_naming_both(cli, tmp_path, text, where, other):
    refused(cli, tmp_path, text, where, other, "NFKC", "rename one")


def test_a_look_alike_name_alone_means_what_python_reads():
    spec = accepted("variables: {ｘ: 3}\nnodes:\n  ｆ: ｘ * 2\n")
    assert list(spec.variables) == ["x"] and spec.output == "f"
    assert run_dict("variables: {ｘ: 3}\nnodes:\n  ｆ: ｘ * 2\n")["loss"] == 6.0  # no target: the output


# ---------------------------------------------------------------- 4. graph nodes in any order
ORDERED = "variables: {x: -2, y: 5, z: -4}\nnodes:\n  q: x + y\n  f: q * z\noutput: f\ntarget: -10\n"


def test_nodes_in_any_order_as_a_tool_writes_them():
    d = yaml.safe_load(ORDERED)
    shuffled = yaml.safe_dump(d)  # sort_keys: f before q
    assert shuffled.index("f: q * z") < shuffled.index("q: x + y")
    assert run_dict(shuffled) == run_dict(ORDERED)


def test_default_output_is_the_last_node_evaluated():
    spec = accepted("variables: {x: 1}\nnodes:\n  f: q * 3\n  q: x + 1\n")
    assert spec.output == "f" and [n for n, _ in spec.nodes] == ["f", "q"]  # the spec keeps its written order
    d = run_dict("variables: {x: 1}\nnodes:\n  f: q * 3\n  q: x + 1\n")
    assert d["output"] == "f" and d["loss"] == 6.0


def test_graph_nodes_come_in_dependency_order_keeping_a_valid_written_order():
    spec = accepted("variables: {x: 1}\nnodes:\n  a: x + 1\n  b: x * 2\n  c: a * b\n  d: c + 1\n")
    assert [n.owner for n in parse_graph(spec).nodes] == ["a", "b", "c", "d"]
    spec = accepted("variables: {x: 1}\nnodes:\n  d: c + 1\n  b: x * 2\n  c: a * b\n  a: x + 1\n")
    order = [n.name for n in parse_graph(spec).nodes]
    assert order == ["b", "a", "c", "d"]  # each right after what it needs; b stays ahead of a as written


@pytest.mark.parametrize("nodes, where, fragment", [
    ("  a: b + x\n  b: a * 2\n", "nodes.a", "nodes a → b → a form a cycle"),
    ("  a: x + 1\n  b: c * 2\n  c: d + a\n  d: b - 1\n", "nodes.b", "nodes b → c → d → b form a cycle"),
    ("  a: a + x\n", "nodes.a", "node `a` uses itself"),
])
def test_a_cycle_names_its_nodes(cli, tmp_path, nodes, where, fragment):
    refused(cli, tmp_path, GRAPH + nodes, where, fragment, "never itself")


def test_cycle_error_has_line_and_caret():
    with pytest.raises(SpecError) as info:
        parse_spec(GRAPH + "  a: x + 1\n  b: y * c\n  c: b + 1\n", source="s.yaml")
    assert str(info.value).startswith("s.yaml:4, nodes.b: nodes b → c → b form a cycle")
    lines = info.value.message.splitlines()
    assert lines[-1].index("^") - lines[-2].index("y") == 4


def test_spec_written_back_reloads_with_the_same_numbers(tmp_path):
    text = "variables: {x: 0.5}\nnodes:\n  y: square(b)\n  b: exp(a)\n  a: square(x)\n"
    first = bpcalc.run(text)
    from bpcalc.spec.save import trace_to_spec_text

    again = parse_spec(trace_to_spec_text(parse_spec(text), first))
    assert again.output == "y" and [n for n, _ in again.nodes] == ["y", "b", "a"]


# ---------------------------------------------------------------- 5. student-friendly hints
@pytest.mark.parametrize("text, where, hint", [
    ("inputs: [1, 2]\ntargets: [1]\nlayers:\n  - weights: [[1], [2]]\n", "layers[0].weights",
     "did you mean the transpose? write 1 row(s) of 2"),
    ("inputs: [1, 2]\ntargets: [1]\nlayers:\n  - weights: [[1, 2, 3], [4, 5, 6]]\n  - weights: [[1, 2, 3]]\n",
     "layers[0].weights", "did you mean the transpose? write 3 row(s) of 2"),
    ("inputs: [1, 2]\ntargets: [1]\nlayers:\n  - weights: [[1, 2], [3, 4], [5, 6]]\n  - weights: [[1], [2], [3]]\n",
     "layers[1].weights", "did you mean the transpose? write 1 row(s) of 3"),
])
def test_transposed_weights_get_a_transpose_hint(cli, tmp_path, text, where, hint):
    refused(cli, tmp_path, text, where, "each row needs", hint)


def test_weights_of_another_wrong_shape_get_no_transpose_hint(cli, tmp_path):
    err = refused(cli, tmp_path, NET.replace("[[0.5, 0.2]]", "[[0.5, 0.2, 0.1]]"), "write 1 row(s) of 2")
    assert "transpose" not in err


@pytest.mark.parametrize("text, line", [
    ("inputs: [1]\ntargets: [1]\nlayers:\n\t- weights: [[1]]\n", 4),
    ("inputs: [1]\ntargets: [1]\nlayers:\n  - weights: [[1]]\n\t  biases: [1]\n", 5),
    ("inputs: [1]\ntargets: [1]\nlayers:\n  - weights: [[1]]\n  \t biases: [1]\n", 5),
    ("inputs: [1]\ntargets: [1]\nlayers:\n  -\tweights: [[1]]\n", 4),
])
def test_tab_in_the_indentation(cli, tmp_path, text, line):
    refused(cli, tmp_path, text, f"spec.yaml:{line}", "tab character", "spaces")


@pytest.mark.parametrize("backend", ["libyaml", "pure"])
def test_tab_message_whichever_yaml_backend(monkeypatch, backend):
    from bpcalc.spec.yamlsrc import load_yaml

    if backend == "libyaml" and not hasattr(yaml, "CSafeLoader"):
        pytest.skip("PyYAML without libyaml")
    if backend == "pure":
        monkeypatch.delattr(yaml, "CSafeLoader", raising=False)
    for text in ("a:\n\tb: 1\n", "a:\n  b: 1\n\tc: 2\n", "a:\n    b: 1\n  \t  c: 2\n"):
        with pytest.raises(SpecError) as info:
            load_yaml(text, "t.yaml")
        assert "tab character" in info.value.message and "spaces" in info.value.hint


def test_scalars_for_one_target_and_one_bias_are_one_element_lists():
    text = "inputs: [0.1, 0.3]\ntargets: 0.03\nlayers:\n  - weights: [[0.5, 0.2]]\n    biases: 1.83\n"
    spec = accepted(text)
    assert spec.targets.tolist() == [[0.03]] and spec.layers[0].biases.tolist() == [1.83] and spec.single
    assert run_dict(text) == run_dict(NET)
    assert accepted(UNITS.replace("targets: [1]", "targets: 1") + "    biases: 0.5\n").layers[0].biases == [0.5]


def test_a_single_bias_for_several_neurons_gets_a_hint(cli, tmp_path):
    text = "inputs: [1]\ntargets: [1, 0]\nlayers:\n  - weights: [[1], [2]]\n    biases: 0.1\n"
    refused(cli, tmp_path, text, "spec.yaml:5", "layers[0].biases", "2 biases needed", "[0.1, 0.1]")


def test_a_scalar_where_a_list_of_numbers_is_needed_gets_a_hint(cli, tmp_path):
    text = NET + "optimizer: momentum\ntraining_state:\n  layers:\n    - biases: {v: 0.5}\n"
    refused(cli, tmp_path, text, "training_state.layers[0].biases.v", "expected a list of numbers", "[0.5]")


@pytest.mark.parametrize("text, where, suggestion", [
    (NET + "loss: MSE\n", "loss", "mse"),
    (NET + "loss: Half_SSE\n", "loss", "half_sse"),
    (NET + "loss: cross-entropy\n", "loss", "cross_entropy"),
    (NET + "loss: BCE\n", "loss", "binary_cross_entropy"),
    (NET + "loss: binary_crossentropy\n", "loss", "binary_cross_entropy"),
    (NET + "    activation: ReLU\n", "layers[0].activation", "relu"),
    (NET + "    activation: Leaky-ReLU\n", "layers[0].activation", "leaky_relu"),
    (NET + "    activation: tahn\n", "layers[0].activation", "tanh"),
    (NET + "optimizer: Adam\n", "optimizer", "adam"),
    (NET + "optimizer: {type: RMSProp}\n", "optimizer.type", "rmsprop"),
    (NET + "optimizer: SGD\n", "optimizer", "sgd"),
    (UNITS + "    init: Glorot\n", "layers[0].init", "xavier"),
    (UNITS + "    init: kaiming\n", "layers[0].init", "he"),
    (NET + "freeze: [Biases]\n", "freeze[0]", "biases"),
])
def test_case_and_spelling_mistakes_get_a_did_you_mean(cli, tmp_path, text, where, suggestion):
    refused(cli, tmp_path, text, f"{where}: unknown", f"did you mean `{suggestion}`?", "valid:")


# ---------------------------------------------------------------- terminal escapes (issue 13, security)
@pytest.mark.parametrize("text", [
    'name: "\\e[31mred\\e[0m"\ninputs: [0.1]\ntargets: [0.2]\nlayers:\n  - weights: [[0.5]]\n',
    'inputs: [0.1]\ntargets: [0.2]\n"\\e]0;title\\a": 1\nlayers:\n  - weights: [[0.5]]\n',
    'inputs: [0.1]\ntargets: [0.2]\nlayers:\n  - weights: [[0.5]]\n    labels: {a: ["\\x9b31m"]}\n',
    'variables: {x: 1}\nnodes:\n  "f\\u001b[2J": x * 2\n',
])
def test_control_characters_in_a_spec_are_refused_never_printed(cli, tmp_path, text):
    path = tmp_path / "spec.yaml"
    path.write_text(text, encoding="utf-8")
    r = cli("run", path, "--format", "text")
    assert r.exit_code == 2 and "control character" in r.stderr
    assert not any(ch in r.stderr + r.stdout for ch in "\x1b\x07\x9b"), repr(r.stderr)


def test_a_hostile_file_name_is_shown_escaped(cli, tmp_path):
    r = cli("run", str(tmp_path / "a\x1b[31mb.yaml"))
    assert r.exit_code == 2 and "\x1b" not in r.stderr and "\\x1b" in r.stderr


@pytest.mark.parametrize("text, path, line, written, fixed", [
    (NET.replace("[0.1, 0.3]", "[0,05, 0,10]"), "inputs", 1, "0,05", "inputs: [0.05, 0.10]"),
    (NET.replace("[[0.5, 0.2]]", "[[0,5, 0,2]]"), "layers[0].weights[0]", 4, "0,5", "weights: [[0.5, 0.2]]"),
    (NET.replace("[1.83]", "[0,83]"), "layers[0].biases", 5, "0,83", "biases: [0.83]"),
    (GRAPH + "  f: x * c\nconstants:\n  c: 0,5\n", "constants.c", 5, "0,5", "c: 0.5"),
    (NET + "learning_rate: 0,5\n", "learning_rate", 6, "0,5", "learning_rate: 0.5"),
    ("variables: {x: 0,5, y: 2}\nnodes:\n  f: x * y\n", "variables.x", 1, "0,5", "variables: {x: 0.5, y: 2}"),
])
def test_a_decimal_comma_is_named(cli, tmp_path, text, path, line, written, fixed):
    """Where the comma is (its YAML path and line), in the error it caused, and the value rewritten with points."""
    refused(cli, tmp_path, text, f"({path}, line {line}: `{written}` is written with a decimal comma",
            f"hint: write decimals with a point: {fixed}")


def test_a_decimal_comma_is_named_in_the_error_it_causes_at_another_key(cli, tmp_path):
    """`inputs: [0,05, 0,10]` reads as 4 inputs: the error is the weights' (4 per row needed), the cause inputs'."""
    refused(cli, tmp_path, NET.replace("[0.1, 0.3]", "[0,05, 0,10]"),
            "spec.yaml:4, layers[0].weights: each row needs 4 weights",
            "(inputs, line 1: `0,05` is written with a decimal comma", "hint: write decimals with a point: inputs")


@pytest.mark.parametrize("text", [
    # `[5,6]`: two numbers, correctly written, in a list whose other row has `, `
    NET.replace("inputs: [0.1, 0.3]\ntargets: [0.03]", "inputs: [[0.1, 0.3], [5,6]]\ntargets: [[0.03], [0.5]]"),
    # a real decimal comma, but in another key than the error's, which reading it with a point does not cure
    NET + "learning_rate: 0,5\n",
    NET + "expected: {loss: 0,5}\n",
])
def test_a_decimal_comma_is_not_named_in_an_error_about_another_key(cli, tmp_path, text):
    err = refused(cli, tmp_path, text.replace("[1.83]", "[1.83, 2]"), "spec.yaml:5, layers[0].biases: 1 neurons",
                  "hint: one bias per neuron")
    assert "decimal comma" not in err and "with a point" not in err, err


def test_a_comma_between_digits_in_a_name_is_no_decimal_comma(cli, tmp_path):
    err = refused(cli, tmp_path, "name: exercise 2,5\n" + NET.replace("[1.83]", "[1.83, 2]"), "2 biases")
    assert "decimal comma" not in err


def test_a_comma_that_may_separate_thousands_gets_both_readings(cli, tmp_path):
    """`1,000` is a thousand as often as 1.0: not called a decimal comma, and both fixes are offered."""
    err = refused(cli, tmp_path, NET + "batch_size: 1,000\n", "batch_size: expected a whole number",
                  "(batch_size, line 6: `1,000` has a comma between digits",
                  "hint: write it without the comma: 1000 if the comma separates thousands, 1.000 if it is a decimal")
    assert "is written with a decimal comma" not in err, err


def test_commas_of_a_list_written_without_spaces_are_no_decimal_comma(cli, tmp_path):
    err = refused(cli, tmp_path, "inputs: [[0,1],[1,0]]\ntargets: [[1],[1]]\nlayers:\n  - weights: [[1, 2, 3]]\n")
    assert "decimal comma" not in err
