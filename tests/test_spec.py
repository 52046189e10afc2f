"""Spec parsing details: numbers written as text, labels, one sample vs a list, data files, defaults, errors."""

from __future__ import annotations

import json
import textwrap

import numpy as np
import pytest
from conftest import run_dict

from bpcalc import SpecError, load_spec, parse_spec

SIMPLE = """\
inputs: [0.1, 0.3]
targets: [0.03]
layers:
  - weights: [[0.5, 0.2]]
    biases: [1.83]
    activation: sigmoid
loss: half_sse
learning_rate: 0.5
"""


def spec_error(text: str, **kw) -> SpecError:
    with pytest.raises(SpecError) as info:
        parse_spec(textwrap.dedent(text), **kw)
    return info.value


# ------------------------------------------------------------------ numbers
def test_exponent_numbers_that_yaml_reads_as_text_are_numbers():
    text = """\
    inputs: [1e-1, 3e-1]
    targets: [3e-2]
    layers:
      - weights: [[5e-1, 2e-1]]
        biases: [183e-2]
    learning_rate: 5e-1
    """
    s = parse_spec(textwrap.dedent(text))
    assert s.inputs.tolist() == [[0.1, 0.3]]
    assert s.targets.tolist() == [[0.03]]
    assert s.layers[0].weights.tolist() == [[0.5, 0.2]]
    assert s.layers[0].biases.tolist() == [1.83]
    assert s.learning_rate == 0.5
    assert run_dict(textwrap.dedent(text)) == run_dict(SIMPLE)


def test_graph_numbers_as_text():
    s = parse_spec("variables: {x: 1e-8, y: '2.5'}\nconstants: {c: 1E+2}\nnodes: {f: x * y * c}\nlearning_rate: 1e-3\n")
    assert s.variables == {"x": 1e-8, "y": 2.5} and s.constants == {"c": 100.0} and s.learning_rate == 0.001


@pytest.mark.parametrize("value", ["abc", "true", "null", ".nan", ".inf", "-.inf", "[1]", "1e999"])
def test_non_numbers_are_refused_with_the_path(value):
    err = spec_error(SIMPLE.replace("learning_rate: 0.5", f"learning_rate: {value}"))
    assert err.path == "learning_rate" and err.line == 8


def test_weight_that_is_not_a_number_names_its_place():
    err = spec_error(SIMPLE.replace("[[0.5, 0.2]]", "[[0.5, zero]]"))
    assert err.path == "layers[0].weights[0][1]" and err.line == 4 and "'zero'" in err.message


# ------------------------------------------------------------------ samples
def test_one_sample_has_no_sample_axis_in_json():
    d = run_dict(SIMPLE)
    assert d["inputs"] == [0.1, 0.3] and d["layers"][0]["z"] == [pytest.approx(1.94)]


def test_a_list_of_one_sample_keeps_the_sample_axis():
    d = run_dict(SIMPLE.replace("[0.1, 0.3]", "[[0.1, 0.3]]").replace("[0.03]", "[[0.03]]"))
    assert d["inputs"] == [[0.1, 0.3]] and d["layers"][0]["z"] == [[pytest.approx(1.94)]]
    assert d["loss"] == run_dict(SIMPLE)["loss"]


def test_sample_counts_must_agree():
    err = spec_error(SIMPLE.replace("[0.1, 0.3]", "[[0.1, 0.3], [0.2, 0.2]]").replace("[0.03]", "[[0.03]]"))
    assert err.path == "targets" and "2 input sample(s) but 1 target" in err.message


def test_targets_must_fit_the_output_layer():
    err = spec_error(SIMPLE.replace("targets: [0.03]", "targets: [0.03, 0.5]"))
    assert err.path == "targets" and "1 neuron" in err.message


def test_ragged_samples():
    err = spec_error(SIMPLE.replace("[0.1, 0.3]", "[[0.1, 0.3], [0.2]]").replace("[0.03]", "[[0.03], [0.1]]"))
    assert err.path == "inputs[1]" and "ragged" in err.message


def test_biases_count_must_match_neurons():
    err = spec_error(SIMPLE.replace("biases: [1.83]", "biases: [1.83, 0.1]"))
    assert err.path == "layers[0].biases" and err.line == 5


# ------------------------------------------------------------------ data files
@pytest.mark.parametrize("kind", ["csv", "npy"])
def test_inputs_and_targets_from_data_files(tmp_path, kind):
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    T = np.array([[0], [1], [1], [0]], dtype=float)
    data = tmp_path / "data"
    data.mkdir()
    if kind == "csv":
        np.savetxt(data / "x.csv", X, delimiter=",")
        np.savetxt(data / "t.csv", T, delimiter=",")
    else:
        np.save(data / "x.npy", X)
        np.save(data / "t.npy", T)
    inline = (tmp_path / "inline.yaml")
    body = """\
layers:
  - weights: [[0.5, -0.4], [0.3, 0.8]]
    biases: [0.1, -0.2]
  - weights: [[0.7, -0.6]]
    biases: [0.05]
"""
    inline.write_text("inputs: [[0, 0], [0, 1], [1, 0], [1, 1]]\ntargets: [[0], [1], [1], [0]]\n" + body)
    spec = tmp_path / "files.yaml"
    spec.write_text(f"inputs: data/x.{kind}\ntargets: data/t.{kind}\n" + body)  # relative to the spec file
    assert load_spec(spec).inputs.tolist() == X.tolist()
    assert run_dict(str(spec)) == run_dict(str(inline))


def test_a_one_column_csv_is_a_column_of_samples(tmp_path):
    (tmp_path / "t.csv").write_text("0.03\n0.5\n")
    (tmp_path / "x.csv").write_text("0.1,0.3\n0.2,0.2\n")
    spec = tmp_path / "s.yaml"
    spec.write_text(SIMPLE.replace("[0.1, 0.3]", "x.csv").replace("[0.03]", "t.csv"))
    s = load_spec(spec)
    assert s.inputs.shape == (2, 2) and s.targets.tolist() == [[0.03], [0.5]]


@pytest.mark.parametrize(("content", "says"), [(None, "not found"), ("1,2\n3,x\n", "cannot read"),
                                                ("1,2\nnan,1\n", "NaN")])
def test_bad_data_files(tmp_path, content, says):
    if content is not None:
        (tmp_path / "x.csv").write_text(content)
    spec = tmp_path / "s.yaml"
    spec.write_text(SIMPLE.replace("[0.1, 0.3]", "x.csv"))
    with pytest.raises(SpecError) as info:
        load_spec(spec)
    assert info.value.path == "inputs" and says in info.value.message


def test_data_file_of_the_wrong_width(tmp_path):
    (tmp_path / "x.csv").write_text("0.1,0.3,0.5\n")
    spec = tmp_path / "s.yaml"
    spec.write_text(SIMPLE.replace("[0.1, 0.3]", "x.csv").replace("[0.03]", "[[0.03]]"))
    with pytest.raises(SpecError) as info:
        load_spec(spec)
    assert info.value.path == "layers[0].weights" and "3" in info.value.message


def test_saved_spec_keeps_pointing_at_the_data_file(cli, tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "out").mkdir()
    np.save(tmp_path / "in" / "x.npy", np.array([[0.1, 0.3], [0.5, 0.5]]))
    spec = tmp_path / "in" / "s.yaml"
    spec.write_text(SIMPLE.replace("[0.1, 0.3]", "x.npy").replace("[0.03]", "[[0.03], [0.9]]"))
    saved = tmp_path / "out" / "next.yaml"
    first = json.loads(cli("run", spec, "-f", "json", "--save", saved).stdout)
    second = json.loads(cli("run", saved, "-f", "json").stdout)
    assert second["inputs"] == [[0.1, 0.3], [0.5, 0.5]]
    assert second["layers"][0]["weights"] == first["layers"][0]["new_weights"]


# ------------------------------------------------------------------ labels and defaults
def test_labels_name_the_quantities_in_the_text(cli):
    text = SIMPLE.replace("    activation: sigmoid\n", "    activation: sigmoid\n    labels: {weights: [[w1, w2]], "
                          "biases: [bias], z: [net_o1], a: [out_o1]}\n") + "input_labels: [i1, i2]\n"
    s = parse_spec(text)
    assert s.layers[0].labels == {"weights": [["w1", "w2"]], "biases": ["bias"], "z": ["net_o1"], "a": ["out_o1"]}
    assert s.input_labels == ["i1", "i2"]
    out = cli("run", "-", "-f", "text", input=text).stdout
    for label in ("w1", "w2", "bias", "net_o1", "out_o1", "i1", "i2", "∂E/∂w1"):
        assert label in out, label
    assert "i1·w1 + i2·w2 + bias" in out


@pytest.mark.parametrize(("labels", "path"), [
    ("{z: [a, b]}", "layers[0].labels.z"),
    ("{weights: [[w1]]}", "layers[0].labels.weights"),
    ("{zz: [a]}", "layers[0].labels.zz"),
    ("[a]", "layers[0].labels"),
])
def test_bad_labels(labels, path):
    err = spec_error(SIMPLE.replace("    activation: sigmoid\n", f"    activation: sigmoid\n    labels: {labels}\n"))
    assert err.path == path


def test_input_labels_count():
    err = spec_error(SIMPLE + "input_labels: [only_one]\n")
    assert err.path == "input_labels" and "2 labels" in err.message


def test_network_defaults():
    s = parse_spec("inputs: [1, 2]\ntargets: [0]\nlayers:\n  - weights: [[0.1, 0.2]]\n")
    assert s.loss == "half_sse" and s.learning_rate == 0.5 and s.layers[0].activation == "sigmoid"
    assert s.layers[0].biases is None and s.freeze == frozenset() and s.single


def test_freeze_accepts_a_single_word():
    assert parse_spec(SIMPLE + "freeze: biases\n").freeze == frozenset({"biases"})
    err = spec_error(SIMPLE + "freeze: [bias]\n")
    assert err.path == "freeze[0]" and "biases" in (err.hint or "")


@pytest.mark.parametrize(("old", "new", "path", "hint"), [
    ("loss: half_sse", "loss: half_sse\nlearnig_rate: 1", "learnig_rate", "learning_rate"),
    ("activation: sigmoid", "activation: sigmoidd", "layers[0].activation", "sigmoid"),
    ("loss: half_sse", "loss: cross_entropyy", "loss", "cross_entropy"),
    ("    activation: sigmoid", "    activaton: sigmoid", "layers[0].activaton", "activation"),
])
def test_unknown_names_suggest_the_close_one(old, new, path, hint):
    err = spec_error(SIMPLE.replace(old, new))
    assert err.path == path and hint in err.hint


def test_structure_errors():
    assert spec_error("- 1\n- 2\n").path == "(top level)"
    assert "layers" in spec_error("name: nothing\n").message
    assert spec_error(SIMPLE.replace("layers:\n", "layers: []\nx_layers:\n")).path in ("layers", "x_layers")
    err = spec_error("inputs: [1]\ntargets: [1]\nlayers:\n  - biases: [1]\n")
    assert err.path == "layers[0]" and "weights" in err.message


def test_error_message_names_the_source_and_line(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text(SIMPLE.replace("[[0.5, 0.2]]", "[[0.5]]"))
    with pytest.raises(SpecError) as info:
        load_spec(p)
    assert str(info.value).startswith(f"{p}:4, layers[0].weights: each row needs 2 weights")
    assert info.value.hint


# ------------------------------------------------------------------ graphs
def test_graph_defaults():
    s = parse_spec("variables: {x: 1}\nnodes: {a: x * 2, b: a + 1}\n")
    assert s.output == "b" and s.target is None and s.loss is None and s.learning_rate == 0.01


def test_graph_target_default_loss_is_sse():
    s = parse_spec("variables: {x: 1}\nnodes: {a: x * 2}\ntarget: 3\n")
    assert s.loss == "sse" and s.target == 3.0


@pytest.mark.parametrize(("text", "path"), [
    ("variables: {x: 1}\nnodes: {a: x}\nloss: sse\n", "loss"),
    ("variables: {x: 1}\nnodes: {a: x}\noutput: b\n", "output"),
    ("variables: {x: 1}\nconstants: {x: 2}\nnodes: {a: x}\n", "constants.x"),
    ("variables: {}\nnodes: {a: 1}\n", "variables"),
    ("variables: {x: 1}\nnodes: []\n", "nodes"),
    ("variables: {x: 1, 2y: 3}\nnodes: {a: x}\n", "variables.2y"),
    ("variables: {x: 1}\nnodes: {a: [1, 2]}\n", "nodes.a"),
])
def test_graph_spec_errors(text, path):
    assert spec_error(text).path == path
