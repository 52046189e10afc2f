"""Every kind of bad input gets one clear message on stderr naming where and how to fix it, exit code 2, no
traceback, and nothing written: the cases listed in issue 5, each through the CLI."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

NET = "inputs: [0.1, 0.3]\ntargets: [0.03]\nlayers:\n  - weights: [[0.5, 0.2]]\n    biases: [1.83]\n"
GRAPH = "variables: {x: 1, y: 2}\nnodes:\n"


def refused(cli, tmp_path: Path, text: str | bytes, *fragments: str, name: str = "spec.yaml",
            args: tuple = (), command: str = "run") -> str:
    """Run `bpcalc run SPEC --output … --save …` on `text`: exit 2, one `error:` message holding every fragment,
    no traceback, nothing on stdout, no file written or left behind, the spec untouched. Returns stderr."""
    spec = tmp_path / name
    spec.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    before, files = spec.read_bytes(), sorted(p.name for p in tmp_path.iterdir())
    out, save = tmp_path / "out.txt", tmp_path / "next.yaml"
    extra = ("--output", out, "--save", save) if command == "run" else ()
    r = cli(command, spec, *extra, *args)
    assert r.exit_code == 2, r.output
    err = r.stderr
    assert err.startswith("error: ") and err.count("error:") == 1, err
    assert "Traceback" not in r.output
    for fragment in fragments:
        assert fragment in err, f"{fragment!r} not in {err!r}"
    assert r.stdout == ""
    assert spec.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == files  # no output, no save, no temp file
    return err


# ---------------------------------------------------------------- YAML itself
def test_yaml_syntax_error_gives_line_and_column(cli, tmp_path):
    err = refused(cli, tmp_path, "name: x\ninputs: [0.1, 0.3\ntargets: [1]\n", "spec.yaml:3", "column 8",
                  "YAML syntax error")
    assert "line 2, column 9" in err  # where the unclosed [ began
    assert "hint:" in err


def test_yaml_bad_indentation(cli, tmp_path):
    refused(cli, tmp_path, NET + "   activation: sigmoid\n", "spec.yaml:6", "YAML syntax error", "column")


def test_yaml_unclosed_quote(cli, tmp_path):
    refused(cli, tmp_path, NET + "    activation: \"sigmoid\n", "YAML syntax error", "quoted scalar at line 6")


@pytest.mark.parametrize("text, found", [("- 1\n- 2\n", "top level must be a mapping of keys (name:, layers:, "
                                         "...), not a list"), ("just words\n", "not a bpcalc spec (it is plain text"),
                                         ("42\n", "not a bpcalc spec (it is plain text")])
def test_top_level_not_a_mapping(cli, tmp_path, text, found):
    refused(cli, tmp_path, text, found)


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n", "---\n"])
def test_empty_file(cli, tmp_path, text):
    err = refused(cli, tmp_path, text, "spec.yaml", "empty")
    assert "bpcalc init" in err


def test_several_yaml_documents(cli, tmp_path):
    refused(cli, tmp_path, NET + "---\n" + NET, "spec.yaml:6", "more than one YAML document")


def test_duplicate_key(cli, tmp_path):
    refused(cli, tmp_path, NET + "    weights: [[1, 2]]\n", "spec.yaml:6", "layers[0].weights", "duplicate key",
            "first on line 4")


# ---------------------------------------------------------------- keys and names
@pytest.mark.parametrize("text, where, suggestion", [
    (NET + "learning_rat: 0.1\n", "learning_rat", "learning_rate"),
    (NET + "    activaton: sigmoid\n", "layers[0].activaton", "activation"),
    (NET + "optimizer: {type: adam, beta: 0.9}\n", "optimizer.beta", "beta"),
    (NET.replace("inputs", "input"), "input", "inputs"),
    (GRAPH + "  f: x * y\nouptut: f\n", "ouptut", "output"),
])
def test_unknown_key_suggests_the_closest(cli, tmp_path, text, where, suggestion):
    refused(cli, tmp_path, text, f"{where}: unknown key", f"did you mean `{suggestion}")


def test_unknown_key_without_a_close_match_lists_the_allowed(cli, tmp_path):
    refused(cli, tmp_path, NET + "    zzzz: 1\n", "layers[0].zzzz", "allowed keys:", "activation", "weights")


@pytest.mark.parametrize("text, where, valid", [
    (NET + "    activation: sigmod\n", "layers[0].activation", "sigmoid, tanh, relu, leaky_relu, linear, softmax"),
    (NET + "loss: hinge\n", "loss", "half_sse, sse, mse, cross_entropy, binary_cross_entropy"),
    (NET + "optimizer: lion\n", "optimizer", "sgd, momentum, nesterov, rmsprop, adagrad, adam, adamw"),
    (NET + "optimizer: {type: adadelta}\n", "optimizer.type",
     "sgd, momentum, nesterov, rmsprop, adagrad, adam, adamw"),
    ("inputs: [1]\ntargets: [1]\nseed: 1\nlayers:\n  - units: 1\n    init: glorot\n", "layers[0].init",
     "xavier, he, uniform, normal"),
    ("inputs: [1]\ntargets: [1]\ninit: kaiming\nlayers:\n  - units: 1\n", "init", "xavier, he, uniform, normal"),
    (NET + "freeze: [bias]\n", "freeze[0]", "weights, biases"),
    (GRAPH + "  f: x * y\ntarget: 1\nloss: l2\n", "loss", "half_sse, sse"),
])
def test_unknown_choice_lists_the_valid_ones(cli, tmp_path, text, where, valid):
    refused(cli, tmp_path, text, where, "unknown", valid)


def test_unknown_activation_suggests_the_closest(cli, tmp_path):
    refused(cli, tmp_path, NET + "    activation: Sigmoid\n", "did you mean `sigmoid`")


# ---------------------------------------------------------------- shapes
def test_weights_of_the_wrong_width_name_layer_expected_and_found(cli, tmp_path):
    text = ("inputs: [1, 2]\ntargets: [1]\nlayers:\n  - weights: [[1, 2], [3, 4], [5, 6]]\n"
            "  - weights: [[1, 2]]\n")
    err = refused(cli, tmp_path, text, "spec.yaml:5", "layers[1].weights", "needs 3 weights", "found 2")
    assert "layers[0] has 3 neurons" in err


def test_first_layer_width_must_match_the_inputs(cli, tmp_path):
    refused(cli, tmp_path, NET.replace("[[0.5, 0.2]]", "[[0.5, 0.2, 0.1]]"), "layers[0].weights",
            "needs 2 weights", "each input sample has 2 values", "found 3")


def test_ragged_weights_name_the_row(cli, tmp_path):
    refused(cli, tmp_path, NET.replace("[[0.5, 0.2]]", "[[0.5, 0.2], [0.1]]"), "layers[0].weights[1]",
            "ragged", "row 1 has 1 number but row 0 has 2")


def test_ragged_samples(cli, tmp_path):
    refused(cli, tmp_path, NET.replace("inputs: [0.1, 0.3]", "inputs: [[0.1, 0.3], [0.2]]"), "inputs[1]",
            "sample 1 has 1 number but sample 0 has 2")


def test_weights_not_a_matrix(cli, tmp_path):
    refused(cli, tmp_path, NET.replace("[[0.5, 0.2]]", "[0.5, 0.2]"), "layers[0].weights[0]", "expected a row",
            "[[...], [...]]")


def test_biases_count(cli, tmp_path):
    refused(cli, tmp_path, NET.replace("[1.83]", "[1.83, 1]"), "layers[0].biases", "1 neurons", "2 biases")


# ---------------------------------------------------------------- numbers
@pytest.mark.parametrize("value, what", [("abc", "the text 'abc'"), ("true", "boolean"), ("null", "null"),
                                         ("[1]", "list"), ("2021-01-01", "date")])
def test_non_numeric(cli, tmp_path, value, what):
    refused(cli, tmp_path, NET.replace("[0.5, 0.2]", f"[0.5, {value}]"), "spec.yaml:4", "layers[0].weights[0][1]",
            "expected a number", what)


@pytest.mark.parametrize("value, what", [(".nan", "NaN"), (".inf", "infinity"), ("-.inf", "infinity"),
                                         ("'nan'", "NaN"), ("'-inf'", "infinity"), ("1e999", "infinity")])
def test_nan_and_infinity(cli, tmp_path, value, what):
    refused(cli, tmp_path, NET.replace("[1.83]", f"[{value}]"), "spec.yaml:5", "layers[0].biases[0]", what,
            "finite number")


def test_learning_rate_not_a_number(cli, tmp_path):
    refused(cli, tmp_path, NET + "learning_rate: fast\n", "spec.yaml:6", "learning_rate", "'fast'")


def test_numbers_written_as_yaml_1_1_text_are_accepted(cli, tmp_path):
    spec = tmp_path / "ok.yaml"
    spec.write_text(NET + "learning_rate: 5e-1\n", encoding="utf-8")
    assert cli("run", spec, "-f", "json").exit_code == 0


# ---------------------------------------------------------------- samples and layers
def test_inputs_and_targets_of_different_sample_counts(cli, tmp_path):
    text = NET.replace("inputs: [0.1, 0.3]", "inputs: [[0.1, 0.3], [0.2, 0.4]]").replace(
        "targets: [0.03]", "targets: [[0.03]]")
    refused(cli, tmp_path, text, "spec.yaml:2", "targets", "2 input sample(s) but 1 target sample(s)")


def test_targets_not_matching_the_output_layer(cli, tmp_path):
    refused(cli, tmp_path, NET.replace("targets: [0.03]", "targets: [0.03, 0.5]"), "targets",
            "output layer has 1 neuron(s) but each target has 2 value(s)")


@pytest.mark.parametrize("text, fragment", [
    ("inputs: [1]\ntargets: [1]\n", "needs `layers` (a network) or `nodes` (an expression graph)"),
    ("name: nothing\n", "found keys: name"),
    ("inputs: [1]\ntargets: [1]\nlayers: []\n", "`layers` must be a non-empty list"),
    ("inputs: [1]\ntargets: [1]\nlayers:\n  - activation: relu\n", "a layer needs `weights"),
    ("variables: {x: 1}\n", "`nodes` must be a mapping"),
    ("variables: {x: 1}\nnodes: {}\n", "`nodes` must be a mapping"),
    ("nodes: {y: '2'}\n", "at least one variable"),
])
def test_no_layers_and_no_nodes(cli, tmp_path, text, fragment):
    err = refused(cli, tmp_path, text, fragment)
    assert "hint:" in err or "layers" in err


def test_missing_inputs(cli, tmp_path):
    refused(cli, tmp_path, "targets: [1]\nlayers:\n  - weights: [[1]]\n", "missing `inputs`")


def test_huge_units_refused_before_allocating(cli, tmp_path):
    refused(cli, tmp_path, "inputs: [1]\ntargets: [1]\nlayers:\n  - units: 100000000\n  - units: 100000000\n",
            "layers[0].units", "at most")


# ---------------------------------------------------------------- expressions
def _caret_column(err: str, expr: str) -> int:
    lines = err.splitlines()
    i = next(i for i, ln in enumerate(lines) if ln.strip() == expr)
    assert lines[i + 1].strip() == "^", err
    return lines[i + 1].index("^") - lines[i].index(expr[0])


def test_expression_syntax_error_has_a_caret_under_the_place(cli, tmp_path):
    err = refused(cli, tmp_path, GRAPH + "  f: x + * y\n", "spec.yaml:3", "nodes.f", "syntax error")
    assert _caret_column(err, "x + * y") == 4


def test_undefined_name_with_suggestion_and_caret(cli, tmp_path):
    err = refused(cli, tmp_path, GRAPH + "  f: x * yy\n", "spec.yaml:3", "nodes.f", "undefined name `yy`",
                  "did you mean `y`")
    assert _caret_column(err, "x * yy") == 4


def test_nodes_that_use_each_other_form_a_cycle(cli, tmp_path):
    refused(cli, tmp_path, GRAPH + "  f: q * y\n  q: f + 1\n", "nodes", "form a cycle")


@pytest.mark.parametrize("expr, fragment", [
    ("x.real", "attribute access"),
    ("x.__class__.__mro__", "attribute access"),
    ("eval('1')", "`eval` is not a function bpcalc knows"),
    ("exec('import os')", "`exec` is not a function"),
    ("open('/etc/passwd')", "`open` is not a function"),
    ("__import__('os').system('true')", "is not a function bpcalc knows"),
    ("import os", "syntax error"),
    ("x[0]", "subscripts"),
    ("(lambda: 1)()", "is not a function bpcalc knows"),
    ("lambda: 1", "lambdas"),
    ("[i for i in (1, 2)]", "comprehensions"),
    ("(z := 2)", "assignments"),
    ("x if y else 1", "if-expressions"),
    ("x < y", "comparisons"),
    ("'text'", "the literal 'text'"),
    ("f'{x}'", "f-strings"),
    ("x @ y", "the operator `@`"),
    ("exp(x, y)", "takes exactly one argument"),
    ("exp(x=1)", "takes exactly one argument"),
])
def test_anything_but_plain_arithmetic_is_refused(cli, tmp_path, expr, fragment):
    quoted = "'" + expr.replace("'", "''") + "'"
    err = refused(cli, tmp_path, GRAPH + f"  f: {quoted}\n", "spec.yaml:3", "nodes.f", fragment)
    if "function" in fragment or "syntax" not in fragment:
        assert "hint:" in err or "argument" in fragment


def test_refused_expressions_never_run(cli, tmp_path):
    marker = tmp_path / "pwned"
    text = GRAPH + f"  f: \"__import__('os').system('touch {marker}')\"\n"
    refused(cli, tmp_path, text, "nodes.f")
    assert not marker.exists()


def test_over_nested_expression(cli, tmp_path):
    refused(cli, tmp_path, GRAPH + "  f: " + "+".join(["x"] * 500) + "\n", "nodes.f", "nested",
            "split it into several nodes")


def test_values_outside_a_functions_domain(cli, tmp_path):
    refused(cli, tmp_path, "variables: {x: 0}\nnodes:\n  q: x * 2\n  y: log(q)\n", "spec.yaml:4", "nodes.y",
            "cannot compute log(q) at q = 0", "log needs a positive number")


def test_fractional_power_of_a_negative_number(cli, tmp_path):
    refused(cli, tmp_path, "variables: {x: -8}\nnodes:\n  y: x ** 0.5\n", "spec.yaml:3", "not a real number")


def test_infinite_derivative(cli, tmp_path):
    refused(cli, tmp_path, "variables: {x: 0}\nnodes:\n  y: sqrt(x)\n", "spec.yaml:3", "nodes.y",
            "derivative of sqrt(x) at x = 0 is infinite")


# ---------------------------------------------------------------- YAML tags
@pytest.mark.parametrize("value, tag", [
    ("!!python/object/apply:os.system ['true']", "!!python/object/apply:os.system"),
    ("!!python/object:builtins.dict {}", "!!python/object:builtins.dict"),
    ("!!python/name:os.system", "!!python/name:os.system"),
    ("!!python/tuple [1, 2]", "!!python/tuple"),
    ("!!set {a, b}", "!!set"),
    ("!custom 0.5", "!custom"),
])
def test_yaml_tags_that_construct_objects_are_refused(cli, tmp_path, value, tag):
    refused(cli, tmp_path, NET.replace("[1.83]", value), "spec.yaml:5", "layers[0].biases", f"YAML tag {tag}",
            "not allowed")


def test_tagged_value_is_never_constructed(cli, tmp_path):
    marker = tmp_path / "pwned"
    refused(cli, tmp_path, NET + f"name: !!python/object/apply:os.system ['touch {marker}']\n", "YAML tag")
    assert not marker.exists()


def test_merge_keys(cli, tmp_path):
    text = "base: &b {activation: sigmoid}\n" + NET + "    <<: *b\n"
    refused(cli, tmp_path, text, "merge keys")


def test_undefined_alias(cli, tmp_path):
    refused(cli, tmp_path, NET.replace("[1.83]", "*nothing"), "spec.yaml:5", "undefined alias", "anchor")


# ---------------------------------------------------------------- files
def test_missing_file(cli, tmp_path):
    r = cli("run", tmp_path / "nope.yaml")
    assert r.exit_code == 2 and "no such file" in r.stderr and "nope.yaml" in r.stderr
    assert "Traceback" not in r.output


def test_unknown_bundled_name_suggests(cli):
    r = cli("run", "hiden")
    assert r.exit_code == 2 and "did you mean hidden" in r.stderr and "bundled examples:" in r.stderr


def test_directory(cli, tmp_path):
    r = cli("run", tmp_path)
    assert r.exit_code == 2 and "is a directory" in r.stderr and "Traceback" not in r.output


def test_binary_file(cli, tmp_path):
    refused(cli, tmp_path, bytes(range(256)) * 8, "spec.yaml", "binary file", name="spec.yaml")


def test_binary_file_with_another_suffix(cli, tmp_path):
    refused(cli, tmp_path, b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "picture.png", "binary file", name="picture.png")


def test_not_utf8(cli, tmp_path):
    refused(cli, tmp_path, "name: caf\xe9\n".encode("latin-1") + NET.encode(), "not UTF-8")


def test_not_utf8_says_where_and_to_resave(cli, tmp_path):
    err = refused(cli, tmp_path, NET.encode() + "name: caf\xe9\n".encode("latin-1"), "not UTF-8", "re-save it as UTF-8")
    assert f"spec.yaml:{NET.count(chr(10)) + 1}" in err and "CP949" not in err


@pytest.mark.parametrize("encoding", ["cp949", "euc-kr"])
def test_korean_legacy_encoding_is_named(cli, tmp_path, encoding):
    text = "name: 은닉층이 하나인 신경망\ndescription: 역전파 연습 문제\n" + NET
    err = refused(cli, tmp_path, text.encode(encoding), "spec.yaml:1", "not UTF-8", "CP949 (EUC-KR)",
                  "re-save it as UTF-8", "iconv -f CP949 -t UTF-8")
    assert "Traceback" not in err


def test_binary_on_stdin(cli):
    r = cli("run", "-", input=b"\x00\x01\x02")
    assert r.exit_code == 2 and "<stdin>" in r.stderr and "binary" in r.stderr


# ---------------------------------------------------------------- data files
def _data_spec(tmp_path: Path, inputs: str, targets: str, weights: str = "[[1, 2]]") -> str:
    return f"inputs: {inputs}\ntargets: {targets}\nlayers:\n  - weights: {weights}\n"


def test_data_file_with_too_few_columns_for_the_weights(cli, tmp_path):
    np.save(tmp_path / "x.npy", np.ones((4, 3)))
    refused(cli, tmp_path, _data_spec(tmp_path, "x.npy", "[[1], [1], [1], [1]]"), "layers[0].weights",
            "needs 3 weights", "each input sample has 3 values", "found 2", name="s.yaml")


def test_data_files_of_different_sample_counts(cli, tmp_path):
    (tmp_path / "x.csv").write_text("1,2\n3,4\n", encoding="utf-8")
    (tmp_path / "t.csv").write_text("1\n2\n3\n", encoding="utf-8")
    refused(cli, tmp_path, _data_spec(tmp_path, "x.csv", "t.csv"), "s.yaml:2", "targets",
            "2 input sample(s) but 3 target sample(s)", name="s.yaml")


def test_target_file_wider_than_the_output_layer(cli, tmp_path):
    np.save(tmp_path / "t.npy", np.ones((1, 2)))
    refused(cli, tmp_path, _data_spec(tmp_path, "[[1, 2]]", "t.npy"), "targets",
            "output layer has 1 neuron(s) but each target has 2", name="s.yaml")


@pytest.mark.parametrize("content, fragment", [
    ("1,2\n3\n", "number of columns changed"),
    ("a,b\n1,2\n", "could not convert string 'a'"),
])
def test_malformed_csv(cli, tmp_path, content, fragment):
    (tmp_path / "x.csv").write_text(content, encoding="utf-8")
    err = refused(cli, tmp_path, _data_spec(tmp_path, "x.csv", "[[1], [1]]"), "s.yaml:1", "inputs",
                  "cannot read x.csv", fragment, name="s.yaml")
    assert "no header line" in err and "usecols" not in err


@pytest.mark.parametrize("array, fragment", [
    (np.ones((2, 2, 2)), "2-D table"),
    (np.array(["a", "b"]), "does not hold numbers"),
    (np.array([[1.0, np.nan]]), "NaN or infinite values (first at row 0, column 1)"),
    (np.zeros((0, 2)), "2-D table"),
])
def test_unusable_npy(cli, tmp_path, array, fragment):
    np.save(tmp_path / "x.npy", array)
    refused(cli, tmp_path, _data_spec(tmp_path, "x.npy", "[[1]]"), "inputs", fragment, name="s.yaml")


def test_pickled_npy_is_not_loaded(cli, tmp_path):
    np.save(tmp_path / "x.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    refused(cli, tmp_path, _data_spec(tmp_path, "x.npy", "[[1]]"), "inputs", "pickled", name="s.yaml")


def test_missing_data_file_and_wrong_suffix(cli, tmp_path):
    refused(cli, tmp_path, _data_spec(tmp_path, "gone.csv", "[[1]]"), "data file not found",
            "relative to the spec file", name="s.yaml")
    refused(cli, tmp_path, _data_spec(tmp_path, "data.txt", "[[1]]"), "neither inline numbers nor a .csv or .npy",
            name="s.yaml")


# ---------------------------------------------------------------- command-line values
def test_unknown_format(cli, tmp_path):
    r = cli("run", "simple", "--format", "xml")
    assert r.exit_code == 2 and "unknown format 'xml'" in r.stderr and "json" in r.stderr


def test_output_into_a_missing_folder(cli, tmp_path):
    r = cli("run", "simple", "--output", tmp_path / "no" / "out.txt")
    assert r.exit_code == 2 and "does not exist" in r.stderr and "Traceback" not in r.output
    assert not (tmp_path / "no").exists()


def test_save_into_a_missing_folder(cli, tmp_path):
    r = cli("run", "simple", "--save", tmp_path / "no" / "next.yaml")
    assert r.exit_code == 2 and "does not exist" in r.stderr
    assert list(tmp_path.iterdir()) == []


def test_output_is_a_directory(cli, tmp_path):
    r = cli("run", "simple", "--output", tmp_path)
    assert r.exit_code == 2 and "Traceback" not in r.output


def test_save_never_overwrites_the_input(cli, tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text(NET, encoding="utf-8")
    r = cli("run", spec, "--save", spec)
    assert r.exit_code == 2 and "refusing to overwrite the input spec" in r.stderr
    assert spec.read_text(encoding="utf-8") == NET


@pytest.mark.parametrize("args, fragment", [
    (("--learning-rate", "nan"), "not a finite number"),
    (("--lr", "inf"), "not a finite number"),
    (("--lr", "fast"), "--learning-rate"),
    (("--lr", "-1"), "the learning rate must be ≥ 0, not -1"),
    (("--learning-rate=-0.5",), "the learning rate must be ≥ 0, not -0.5"),
    (("--precision", "0"), "--precision"),
    (("--round", "-1"), "--round"),
    (("--no-such-option",), "No such option"),
])
def test_bad_option_values(cli, args, fragment):
    r = cli("run", "simple", *args)
    assert r.exit_code == 2 and fragment in r.stderr and "Traceback" not in r.output
    assert r.stdout == ""


@pytest.mark.parametrize("command", ["step", "explain", "graph"])
def test_negative_learning_rate_is_refused_by_every_command(cli, command):
    r = cli(command, "simple", "--lr=-0.1")
    assert r.exit_code == 2 and "the learning rate must be ≥ 0" in r.stderr and r.stdout == ""


def test_zero_learning_rate_on_the_command_line_is_accepted(cli):
    assert cli("run", "simple", "--lr", "0", "--quiet").exit_code == 0


def test_negative_epochs(cli):
    if importlib.util.find_spec("bpcalc.cli.step") is None:
        pytest.skip("`bpcalc step` is not there yet (issue 3)")
    r = cli("step", "simple", "--epochs", "-3")
    assert r.exit_code == 2 and "epochs" in r.stderr and "Traceback" not in r.output


# ---------------------------------------------------------------- hostile specs, in a real process
def _run_limited(path: Path, memory_mb: int = 1024) -> subprocess.CompletedProcess:
    """`python -m bpcalc run PATH` with its address space capped; the timeout only guards against a hang."""
    def limit():
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (memory_mb * 2**20, memory_mb * 2**20))

    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "NO_COLOR")}
    return subprocess.run([sys.executable, "-m", "bpcalc", "run", str(path)], capture_output=True, text=True,
                          timeout=120, preexec_fn=limit if sys.platform.startswith("linux") else None, env=env)


def _hostile(tmp_path: Path, name: str, text: str, *fragments: str) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    p = _run_limited(path)
    assert p.returncode == 2, p.stderr[-2000:]
    assert p.stdout == "" and "Traceback" not in p.stderr
    assert p.stderr.startswith("error: ") and p.stderr.count("\n") <= 3, p.stderr[:2000]
    for fragment in fragments:
        assert fragment in p.stderr, p.stderr


def test_deeply_nested_flow_lists(tmp_path):
    _hostile(tmp_path, "deep.yaml", "inputs: " + "[" * 100_000 + "]" * 100_000 + "\n", "deep.yaml:1",
             "nested deeper than 64 levels")


def test_deeply_nested_block_lists(tmp_path):
    _hostile(tmp_path, "deep.yaml", "inputs:\n" + "".join("  " * i + "-\n" for i in range(2000)), "nested deeper")


def test_deeply_nested_mappings(tmp_path):
    _hostile(tmp_path, "deep.yaml", "a: " + "{b: " * 5000 + "1" + "}" * 5000 + "\n", "nested deeper")


def test_billion_laughs(tmp_path):
    text = 'a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n'
    prev = "a"
    for name in "bcdefghi":
        text += f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]\n"
        prev = name
    _hostile(tmp_path, "bomb.yaml", text, "more than 200000 values", "aliases")


def test_file_far_larger_than_any_spec(tmp_path):
    _hostile(tmp_path, "big.yaml", "inputs: [" + ", ".join(["0.1"] * 1_500_000) + "]\n", "larger than 4 MiB",
             ".csv or .npy")


def test_too_many_values(tmp_path):
    _hostile(tmp_path, "many.yaml", "inputs: [" + ", ".join(["1"] * 300_000) + "]\n", "more than 200000 values")


def test_real_process_exit_code_and_stderr(tmp_path):
    """Outside CliRunner: the message really goes to stderr, stdout stays empty, the exit code is 2."""
    path = tmp_path / "s.yaml"
    path.write_text(NET.replace("[[0.5, 0.2]]", "[[0.5]]"), encoding="utf-8")
    p = _run_limited(path)
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr.startswith(f"error: {path}:4, layers[0].weights: each row needs 2 weights")
    assert "\n  hint: " in p.stderr


# ---------------------------------------------------------------- combinations with no sensible numbers
@pytest.mark.parametrize("loss", ["cross_entropy", "binary_cross_entropy"])
@pytest.mark.parametrize("act", ["linear", "relu", "tanh", "leaky_relu"])
def test_log_losses_need_probability_outputs(cli, tmp_path, loss, act):
    refused(cli, tmp_path, NET + f"    activation: {act}\nloss: {loss}\n", "spec.yaml:7", "loss",
            "must be probabilities", f"output layer is {act}", "softmax")


def test_softmax_over_one_neuron(cli, tmp_path):
    refused(cli, tmp_path, NET + "    activation: softmax\n", "spec.yaml:6", "layers[0].activation",
            "softmax over one neuron is always 1", "use sigmoid")


@pytest.mark.parametrize("loss", ["cross_entropy", "binary_cross_entropy"])
def test_graph_log_loss_of_an_output_that_is_no_probability(cli, tmp_path, loss):
    refused(cli, tmp_path, f"variables: {{x: 1}}\nnodes:\n  y: x * 2\ntarget: 1\nloss: {loss}\n", "spec.yaml",
            "loss", "a probability", "y = 2", "sigmoid(")


# ---------------------------------------------------------------- every command reports bad input the same way
COMMANDS = ["run", "step", "explain", "check", "graph", "export", "validate"]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_reports_a_bad_spec_alike(cli, tmp_path, command):
    if importlib.util.find_spec(f"bpcalc.cli.{command}") is None:
        pytest.skip(f"`bpcalc {command}` is not there")
    refused(cli, tmp_path, NET.replace("[[0.5, 0.2]]", "[[0.5, 0.2, 0.7]]"), "spec.yaml:4", "layers[0].weights",
            "needs 2 weights", "found 3", command=command)


@pytest.mark.parametrize("command", ["run", "step", "explain", "check", "graph", "export", "schema"])
def test_every_command_refuses_output_into_a_missing_folder(cli, tmp_path, command):
    if importlib.util.find_spec(f"bpcalc.cli.{command}") is None:
        pytest.skip(f"`bpcalc {command}` is not there")
    r = cli(command, "--output", tmp_path / "nope" / "out.txt")
    assert r.exit_code == 2 and "does not exist" in r.stderr and "Traceback" not in r.output
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", ["run", "step", "explain", "check", "graph"])
def test_every_command_refuses_an_unknown_format(cli, command):
    if importlib.util.find_spec(f"bpcalc.cli.{command}") is None:
        pytest.skip(f"`bpcalc {command}` is not there")
    r = cli(command, "simple", "--format", "bogus")
    assert r.exit_code == 2 and "format 'bogus'" in r.stderr and r.stdout == ""


@pytest.mark.parametrize("backend", ["libyaml", "pure"])
@pytest.mark.parametrize("text", ["inputs: " + "[" * 5000 + "]" * 5000 + "\n",
                                  "a: " + "{b: " * 3000 + "1" + "}" * 3000 + "\n",
                                  "inputs:\n" + "".join("  " * i + "-\n" for i in range(200))])
def test_nesting_limit_whichever_yaml_backend(monkeypatch, backend, text):
    """bpcalc's own depth message, whether PyYAML parses with libyaml (its own limit) or in pure Python."""
    import yaml

    from bpcalc.errors import SpecError
    from bpcalc.spec.yamlsrc import load_yaml

    if backend == "libyaml" and not hasattr(yaml, "CSafeLoader"):
        pytest.skip("PyYAML without libyaml")
    if backend == "pure":
        monkeypatch.delattr(yaml, "CSafeLoader", raising=False)
    with pytest.raises(SpecError) as info:
        load_yaml(text, "deep.yaml")
    assert "nested deeper than 64 levels" in info.value.message
    assert info.value.line == 1 or text.startswith("inputs:\n")
