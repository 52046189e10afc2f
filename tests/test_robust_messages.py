"""Messages for files that are no spec, data paths that are no data file, and specs saved as UTF-16 (issue 13):
each says what the file is, never echoes its contents, and names the way out."""

from __future__ import annotations

import json
import os

import pytest
from test_robust_spec import refused

import bpcalc

NET = "inputs: [0.1, 0.3]\ntargets: [0.03]\nlayers:\n  - weights: [[0.5, 0.2]]\n    biases: [1.83]\n"
PASSWD = ("root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
          "s3cr3tUser:x:1000:1000:S3cr3t User,,,:/home/s3cr3t:/bin/bash\n")


@pytest.mark.parametrize("text, why", [
    (PASSWD, "it is plain text"),
    ("Just some notes: nothing here is YAML for bpcalc\n", "none of its keys is a spec's"),
    ("s3cr3tUser: x\nhome: /home/s3cr3t\n", "none of its keys is a spec's"),
    ("42\n", "it is plain text"),
])
def test_a_file_that_is_no_spec_says_so_without_echoing_it(cli, tmp_path, text, why):
    err = refused(cli, tmp_path, text, "this is not a bpcalc spec", why, "`bpcalc init spec.yaml`", "layers:",
                  "nodes:")
    assert "s3cr3t" not in err and "nologin" not in err and "found keys" not in err


def test_a_spec_missing_its_layers_still_lists_the_spec_keys_it_has(cli, tmp_path):
    err = refused(cli, tmp_path, "name: half a spec\ninputs: [1]\nunrelated: x\n", "found keys: inputs, name")
    assert "unrelated" not in err


def test_a_misspelt_top_level_key_gets_its_did_you_mean(cli, tmp_path):
    refused(cli, tmp_path, "inputs: [1]\ntargets: [1]\nlayer:\n  - weights: [[1]]\n", "unknown key `layer`",
            "did you mean `layers`?")


def _data_spec(tmp_path, ref: str) -> str:
    return f"inputs: {ref}\ntargets: [[1]]\nlayers:\n  - weights: [[1]]\n"


def test_a_data_path_naming_a_folder_without_a_suffix(cli, tmp_path):
    (tmp_path / "ddir").mkdir()
    err = refused(cli, tmp_path, _data_spec(tmp_path, "ddir"), "spec.yaml:1", "inputs",
                  "ddir is a directory, not a data file", "name a .csv or .npy file in it, such as ddir/inputs.csv")
    assert "neither inline numbers" not in err


def test_a_typo_without_a_suffix_is_still_neither_numbers_nor_a_file(cli, tmp_path):
    refused(cli, tmp_path, _data_spec(tmp_path, "ddir"), "'ddir' is neither inline numbers nor a .csv or .npy file")


@pytest.mark.parametrize("content", ["", "\n\n", "# no data yet\n"])
def test_an_empty_csv_gets_bpcalcs_message_only(tmp_path, content):
    """numpy warns "input contained no data" on stderr (with bpcalc's source line) before bpcalc's own message:
    run as a program, so no test harness catches the warning first."""
    import subprocess
    import sys

    (tmp_path / "x.csv").write_text(content, encoding="utf-8")
    (tmp_path / "spec.yaml").write_text(_data_spec(tmp_path, "x.csv"), encoding="utf-8")
    r = subprocess.run([sys.executable, "-m", "bpcalc", "run", "spec.yaml"], cwd=tmp_path, capture_output=True,
                       text=True, timeout=60, env={**os.environ, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"})
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.startswith("error: spec.yaml:1, inputs: x.csv holds no numbers"), r.stderr
    assert "Warning" not in r.stderr and "loader.py" not in r.stderr and r.stderr.count("\n") == 2


def test_a_data_path_that_is_a_directory(cli, tmp_path):
    (tmp_path / "x.csv").mkdir()
    refused(cli, tmp_path, _data_spec(tmp_path, "x.csv"), "spec.yaml:1", "inputs", "x.csv is a directory, not a "
            "data file", "name a .csv or .npy file")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_data_path_that_is_a_fifo_is_named_and_not_read(cli, tmp_path):
    os.mkfifo(tmp_path / "x.csv")  # reading it would block: the test ending at all shows it is not opened
    refused(cli, tmp_path, _data_spec(tmp_path, "x.csv"), "x.csv is a named pipe (FIFO), not a data file")


@pytest.mark.skipif(not os.path.exists("/dev/null"), reason="no /dev/null")
def test_a_data_path_that_is_a_device(cli, tmp_path):
    (tmp_path / "x.npy").symlink_to("/dev/null")
    refused(cli, tmp_path, _data_spec(tmp_path, "x.npy"), "x.npy is a character device, not a data file")


def test_a_missing_data_file_is_still_not_found(cli, tmp_path):
    refused(cli, tmp_path, _data_spec(tmp_path, "gone.csv"), "data file not found")


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-8-sig"])
def test_a_spec_saved_as_utf16_or_utf32_is_read(cli, tmp_path, encoding):
    """Windows editors save "Unicode" as UTF-16 (with a BOM, or LE without): the same numbers as the UTF-8 spec."""
    text = "name: Réseau σ — 한\n" + NET
    spec = tmp_path / "spec.yaml"
    spec.write_bytes(text.encode(encoding))
    r = cli("run", spec, "--format", "json")
    assert r.exit_code == 0, r.stderr
    assert r.stdout == cli("run", "-", "--format", "json", input=text.encode()).stdout.replace("<stdin>", "")
    assert bpcalc.load_spec(spec).name == "Réseau σ — 한"


def test_a_spec_that_starts_as_utf16_but_is_broken_says_utf16(cli, tmp_path):
    err = refused(cli, tmp_path, b"\xff\xfe" + "inputs: [1]\n".encode("utf-16-le") + b"\x00\xd8",
                  "UTF-16", "iconv -f UTF-16 -t UTF-8")
    assert "binary" not in err


def test_utf16_on_stdin_is_read_too(cli):
    r = cli("run", "-", "--format", "json", input=NET.encode("utf-16"))
    assert r.exit_code == 0, r.stderr


# ---------------------------------------------------------------- the rest of the list
@pytest.mark.parametrize("typed, meant", [("sigmoidd", "sigmoid"), ("chainrule", "chain-rule"), ("softmx", "softmax"),
                                          ("binary_cross_entropi", "binary_cross_entropy")])
def test_explain_a_misspelt_function_gets_a_did_you_mean(cli, tmp_path, monkeypatch, typed, meant):
    monkeypatch.chdir(tmp_path)
    r = cli("explain", typed)
    assert r.exit_code == 2 and f"did you mean `bpcalc explain {meant}`" in r.stderr, r.stderr


@pytest.mark.parametrize("key", ["ŷ", "output", "y_hat", "prediction"])
def test_expected_names_the_output_as_people_write_it(cli, tmp_path, key):
    """σ(0.1·1 + 0.2·2) = σ(0.5) = 0.6225 (by hand: 1/(1 + e^−0.5)); ŷ, output, y_hat all name it."""
    spec = tmp_path / "spec.yaml"
    spec.write_text(f"inputs: [1, 2]\ntargets: [1]\nlayers:\n  - weights: [[0.1, 0.2]]\nexpected:\n  {key}: 0.6225\n",
                    encoding="utf-8")
    r = cli("run", spec, "--format", "text")
    assert r.exit_code == 0, r.stderr
    assert f"{key} (a_1^(2))" in r.stdout
    spec.write_text(spec.read_text(encoding="utf-8").replace("0.6225", "0.7"), encoding="utf-8")
    assert cli("run", spec, "--quiet").exit_code == 1


def test_expected_names_each_output_of_several(cli, tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text("inputs: [1, 2]\ntargets: [1, 0]\nlayers:\n  - weights: [[0.1, 0.2], [0, 0]]\nexpected:\n"
                    "  ŷ_1: 0.6225\n  output_2: 0.5\n", encoding="utf-8")
    assert cli("run", spec, "--quiet").exit_code == 0
    spec.write_text(spec.read_text(encoding="utf-8").replace("output_2: 0.5", "output_2: 0.6"), encoding="utf-8")
    assert cli("run", spec, "--quiet").exit_code == 1  # σ(0) = 0.5, not 0.6: the alias really checks


def test_expected_output_of_a_graph(cli, tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text("variables: {x: 2}\nnodes: {f: x * 3}\nexpected:\n  output: 6\n  ŷ: 6.0\n", encoding="utf-8")
    assert cli("run", spec, "--quiet").exit_code == 0


@pytest.mark.parametrize("names", [("inf", "nan"), ("Infinity", "NaN")])
def test_constants_named_like_float_words_are_saved_and_reload(cli, tmp_path, names):
    """`inf` and `nan` are names here (Python's float() reads them as numbers, the literals test must not)."""
    a, b = names
    spec = tmp_path / "spec.yaml"
    spec.write_text(f"variables: {{x: 1}}\nconstants: {{{a}: 2, {b}: 3}}\nnodes: {{f: x * {a} + {b}}}\n",
                    encoding="utf-8")
    save = tmp_path / "next.yaml"
    r = cli("run", spec, "--save", save, "--format", "json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["variables"]["x"]["grad"] == 2.0
    assert bpcalc.load_spec(save).constants == {a: 2.0, b: 3.0}
    assert cli("validate", save).exit_code == 0
    text = cli("run", spec, "--format", "text").stdout
    assert f"∂f_1/∂{a}" in text or f"/∂{a} " in text  # a constant's row, not hidden as a written number


def test_epochs_beyond_int64_is_a_message(cli):
    r = cli("step", "--epochs", str(2**64), "--quiet")
    assert r.exit_code == 2 and "at most" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("args", [("examples",), ("explain", "sigmoid"), ("explain", "chain-rule"),
                                  *[(cmd, name) for name in ("simple", "hidden", "two_layer", "snack", "composite",
                                                             "graph_chain") for cmd in ("run", "explain", "check")]])
def test_no_internal_document_numbers_in_what_users_read(cli, args):
    """Users know the source articles by what they show ("the layer-notation example"), not as "seed 002"."""
    import re

    r = cli(*args, "--format", "text") if args[0] != "examples" else cli(*args)
    assert r.exit_code == 0, r.stderr
    assert not re.search(r"seed[ _]?0\d\d", r.stdout, flags=re.I), r.stdout


def test_an_escape_in_an_expression_string_warns_nothing(tmp_path):
    """`"\\e[31m"` in an expression: refused as a literal, and Python's own warning about the escape (a
    SyntaxWarning on 3.12+, shown by default) never reaches stderr, even with warnings made errors."""
    import subprocess
    import sys
    from pathlib import Path

    spec = tmp_path / "spec.yaml"
    spec.write_text('variables: {x: 1}\nnodes:\n  f: x + "\\\\e[31m"\n', encoding="utf-8")
    r = subprocess.run([sys.executable, "-W", "error", "-m", "bpcalc", "run", str(spec)], capture_output=True,
                       text=True, env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent / "src")})
    assert r.returncode == 2 and "not allowed in an expression" in r.stderr
    assert "Warning" not in r.stderr and r.stderr.count("error:") == 1
