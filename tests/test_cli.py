"""Every command through typer's CliRunner (`run` in depth: SPEC forms, formats, options, piped text), the
format table, delivering results, and start-up (no pydantic; the program registers only the command it runs)."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import BUNDLED, NETWORKS, NUMBER, modules_loaded, sigmoid

from bpcalc import __version__
from bpcalc.cli import COMMAND_MODULES

SIMPLE_W = (0.5, 0.2)


def simple_gradients() -> tuple[float, float, float]:
    """Seed 000's gradients, by hand: δ = (a − t)·a(1 − a), ∂E/∂w_k = δ·x_k."""
    a = sigmoid(0.1 * 0.5 + 0.3 * 0.2 + 1.83)
    delta = (a - 0.03) * a * (1 - a)
    return delta * 0.1, delta * 0.3, delta


def as_json(result) -> dict:
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


# ------------------------------------------------------------------ SPEC: default, names, paths, stdin
def test_run_without_spec_is_the_bundled_simple(cli):
    default = cli("run", "--format", "json")
    assert as_json(default) == as_json(cli("run", "simple", "--format", "json"))
    assert as_json(default)["layers"][0]["weights"] == [list(SIMPLE_W)]


@pytest.mark.parametrize("name", BUNDLED)
def test_run_each_bundled_name_in_every_format(cli, name):
    d = as_json(cli("run", name, "--format", "json"))
    assert d["kind"] in ("network", "graph")
    for fmt in ("text", "markdown", "rich"):
        r = cli("run", name, "--format", fmt)
        assert r.exit_code == 0, r.stderr
        assert r.stdout.strip() and r.stderr == ""
        assert "\x1b" not in r.stdout and "…" not in r.stdout
    md = cli("run", name, "--format", "markdown").stdout
    assert "|" in md and "---" in md


@pytest.mark.parametrize("name", BUNDLED)
def test_run_by_path_equals_by_name(cli, name):
    assert as_json(cli("run", NETWORKS / f"{name}.yaml", "-f", "json")) == as_json(cli("run", name, "-f", "json"))


def test_run_from_stdin(cli):
    text = (NETWORKS / "graph_chain.yaml").read_text(encoding="utf-8")
    d = as_json(cli("run", "-", "--format", "json", input=text))
    assert d["variables"]["x"]["grad"] == 16.0
    assert d["variables"]["x"]["new_value"] == pytest.approx(-2.16, abs=1e-12)


def test_bad_stdin_is_exit_2(cli):
    r = cli("run", "-", input="layers: [")
    assert r.exit_code == 2 and "<stdin>" in r.stderr and "Traceback" not in r.stderr + r.stdout


def test_unknown_name_suggests_bundled_ones(cli):
    r = cli("run", "hiden")
    assert r.exit_code == 2 and "hidden" in r.stderr and r.stdout == ""


# ------------------------------------------------------------------ options
def test_default_piped_output_is_text(cli):
    assert cli("run", "two_layer").stdout == cli("run", "two_layer", "--format", "text").stdout


def test_learning_rate_option_changes_the_update(cli):
    g1, g2, gb = simple_gradients()
    d = as_json(cli("run", "--learning-rate", "0.1", "--format", "json"))
    assert d["learning_rate"] == 0.1
    assert d["layers"][0]["new_weights"][0] == pytest.approx([0.5 - 0.1 * g1, 0.2 - 0.1 * g2], rel=1e-15)
    assert d["layers"][0]["new_biases"] == pytest.approx([1.83 - 0.1 * gb], rel=1e-15)
    text = cli("run", "--lr", "0.1", "--format", "text").stdout
    assert "0.5 − 0.1 × 0.009276" in text
    assert f"{0.5 - 0.1 * g1:.4f}" in text  # 0.4991


def test_precision_option(cli):
    a = sigmoid(1.94)
    for p in (2, 4, 6, 9):
        tokens = set(NUMBER.findall(cli("run", "--precision", p, "--format", "text").stdout))
        assert f"{a:.{p}f}".rstrip("0") in tokens, p
    assert cli("run", "--precision", "0").exit_code == 2
    assert cli("run", "--precision", "18").exit_code == 2


def test_json_has_full_precision_whatever_the_precision(cli):
    assert as_json(cli("run", "-p", "2", "-f", "json")) == as_json(cli("run", "-p", "9", "-f", "json"))
    assert as_json(cli("run", "-f", "json"))["layers"][0]["a"][0] == sigmoid(0.1 * 0.5 + 0.3 * 0.2 + 1.83)


def test_unknown_format_is_exit_2(cli):
    r = cli("run", "--format", "pdf")
    assert r.exit_code == 2 and "pdf" in r.stderr and r.stdout == ""


def test_output_file(cli, tmp_path):
    out = tmp_path / "step.json"
    r = cli("run", "hidden", "--output", out)
    assert r.exit_code == 0 and r.stdout == ""
    assert json.loads(out.read_text(encoding="utf-8")) == as_json(cli("run", "hidden", "-f", "json"))
    txt = tmp_path / "step.txt"
    assert cli("run", "hidden", "-o", txt).stdout == ""
    assert txt.read_text(encoding="utf-8") == cli("run", "hidden", "-f", "text").stdout
    assert [p.name for p in sorted(tmp_path.iterdir())] == ["step.json", "step.txt"]  # no temp files left


def test_output_into_missing_folder_is_exit_2(cli, tmp_path):
    r = cli("run", "-o", tmp_path / "nope" / "x.txt")
    assert r.exit_code == 2 and "does not exist" in r.stderr and r.stdout == ""


def test_output_never_overwrites_the_spec(cli, tmp_path):
    spec = tmp_path / "simple.yaml"
    shutil.copy(NETWORKS / "simple.yaml", spec)
    before = spec.read_bytes()
    r = cli("run", spec, "--output", spec)
    assert r.exit_code == 2 and "Traceback" not in r.stderr
    assert spec.read_bytes() == before


@pytest.mark.parametrize("name", BUNDLED)
def test_save_writes_a_spec_that_continues_from_the_new_parameters(cli, tmp_path, name):
    saved = tmp_path / "next.yaml"
    first = as_json(cli("run", name, "-f", "json", "--save", saved))
    assert saved.exists()
    second = as_json(cli("run", saved, "-f", "json"))
    if first["kind"] == "network":
        for a, b in zip(first["layers"], second["layers"]):
            assert b["type"] == a["type"]
            if "weights" in a:  # (pools and flatten have no parameters)
                assert b["weights"] == a["new_weights"]  # bit for bit
                assert b["biases"] == a["new_biases"]
        assert second["loss"] == first["loss_after"]
    else:
        assert {k: v["value"] for k, v in second["variables"].items()} == {
            k: v["new_value"] for k, v in first["variables"].items()}
        if first["target"] is not None:
            assert second["loss"] == first["loss_after"]
        else:
            assert second["loss"] == first["output_after"]
    assert second["learning_rate"] == first["learning_rate"]


def test_save_refuses_to_overwrite_the_spec(cli, tmp_path):
    spec = tmp_path / "mine.yaml"
    shutil.copy(NETWORKS / "two_layer.yaml", spec)
    before = spec.read_bytes()
    for target in (spec, tmp_path / "." / "mine.yaml"):
        r = cli("run", spec, "--save", target)
        assert r.exit_code == 2, r.stdout
        assert "overwrite" in r.stderr and "Traceback" not in r.stderr + r.stdout
        assert r.stdout == ""  # refused before anything is written
        assert spec.read_bytes() == before


def test_save_from_stdin(cli, tmp_path):
    saved = tmp_path / "next.yaml"
    r = cli("run", "-", "--save", saved, "-f", "json", input=(NETWORKS / "simple.yaml").read_text(encoding="utf-8"))
    first = as_json(r)
    assert yaml.safe_load(saved.read_text(encoding="utf-8"))["layers"][0]["weights"] == first["layers"][0][
        "new_weights"]


def test_examples_lists_every_bundled_spec(cli):
    r = cli("examples")
    assert r.exit_code == 0
    lines = r.stdout.strip().splitlines()
    assert [line.split()[0] for line in lines] == sorted(BUNDLED)
    assert all(len(line.split(None, 1)) == 2 for line in lines)  # each with a description


def test_version(cli):
    r = cli("--version")
    assert r.exit_code == 0 and r.stdout.strip() == f"bpcalc {__version__}"


def test_python_dash_m_version():
    r = subprocess.run([sys.executable, "-m", "bpcalc", "--version"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == f"bpcalc {__version__}"


def test_help_shows_examples(cli):
    r = cli("run", "--help")
    assert r.exit_code == 0
    assert "Examples" in r.stdout and "bpcalc run hidden" in r.stdout and "--learning-rate" in r.stdout
    top = cli("--help")
    assert top.exit_code == 0 and "run" in top.stdout and "examples" in top.stdout


# ------------------------------------------------------------------ bad input
WRONG_SHAPE = """\
name: wrong shape
inputs: [0.1, 0.3]
targets: [0.03]
layers:
  - weights: [[0.5, 0.2, 0.7]]
    activation: sigmoid
"""


def test_wrong_shape_spec(cli, tmp_path):
    spec = tmp_path / "bad.yaml"
    spec.write_text(WRONG_SHAPE, encoding="utf-8")
    r = cli("run", spec)
    assert r.exit_code == 2
    assert r.stdout == ""
    assert "layers[0].weights" in r.stderr
    assert f"{spec}:5" in r.stderr  # the file and the line of `weights:`
    assert "2" in r.stderr and "3" in r.stderr  # expected vs found
    assert "Traceback" not in r.stderr
    assert r.stderr.startswith("error: ")


def test_wrong_shape_deeper_layer_names_it(cli):
    text = WRONG_SHAPE.replace("[[0.5, 0.2, 0.7]]", "[[0.5, 0.2], [0.1, 0.1]]") + (
        "  - weights: [[0.1, 0.2, 0.3]]\n    activation: linear\n")
    r = cli("run", "-", input=text)
    assert r.exit_code == 2 and "layers[1].weights" in r.stderr and "<stdin>:7" in r.stderr


def test_missing_file_is_exit_2(cli, tmp_path):
    r = cli("run", tmp_path / "nothing.yaml")
    assert r.exit_code == 2 and "nothing.yaml" in r.stderr and "Traceback" not in r.stderr


# ------------------------------------------------------------------ piped text: plain, whole numbers
def shown_values(d: dict) -> list[float]:
    """The numbers of the JSON that the text tables show."""
    vals: list[float] = []

    def flat(x):
        if isinstance(x, list):
            for v in x:
                flat(v)
        elif x is not None:
            vals.append(float(x))

    if d["kind"] == "network":
        flat([d["loss"], d["loss_after"]])
        for L in d["layers"]:
            for key in ("z", "a", "delta", "grad_weights", "grad_biases", "new_weights", "new_biases", "weights",
                        "biases"):
                flat(L.get(key))  # (pools and flatten have a and grad_a only)
    else:
        for nd in d["nodes"].values():
            flat([nd["value"]])
        for v in d["variables"].values():
            flat([v["value"], v["grad"], v["new_value"]])
        flat([d["loss"], d["loss_after"], d["output_after"]])
    return vals


def shows(tokens: list[float], v: float, precision: int) -> bool:
    """Some whole number in the text is v to the digits shown: `precision` decimals, or significant digits."""
    tol = max(0.5 * 10.0**-precision, abs(v) * 10.0 ** (1 - precision)) * 1.000001
    return any(abs(t - v) <= tol for t in tokens)


@pytest.mark.parametrize("precision", [4, 17])
@pytest.mark.parametrize("name", BUNDLED)
def test_piped_text_is_plain_and_never_cuts_a_number(cli, name, precision):
    env = {"COLUMNS": "40", "LINES": "20", "TERM": "xterm-256color"}
    r = cli("run", name, "--precision", precision, env=env)
    assert r.exit_code == 0, r.stderr
    text = r.stdout
    assert "\x1b" not in text and "…" not in text and "\r" not in text
    tokens = [float(t) for t in NUMBER.findall(text)]
    d = as_json(cli("run", name, "--format", "json"))
    missing = [v for v in shown_values(d) if not shows(tokens, v, precision)]
    assert not missing, f"numbers not shown whole at precision {precision}: {missing[:5]}"
    # the width does not change piped text: nothing is wrapped to fit 40 columns
    assert text == cli("run", name, "--precision", precision, env={"COLUMNS": "200"}).stdout


def test_number_check_detects_a_cut_number():
    """The check above fails on a number split across lines (so it can fail)."""
    v = sigmoid(1.94)
    assert shows([float(t) for t in NUMBER.findall("a  0.8744\n")], v, 4)
    assert not shows([float(t) for t in NUMBER.findall("a  0.87\n44\n")], v, 4)
    assert not shows([float(t) for t in NUMBER.findall("a  0.87…\n")], v, 4)


def test_rich_format_on_a_pipe_has_no_escape_codes(cli):
    r = cli("run", "--format", "rich", env={"COLUMNS": "40"})
    assert r.exit_code == 0 and "\x1b" not in r.stdout
    assert "0.8744" in r.stdout and "1.94" in r.stdout


def test_simple_text_shows_the_worked_sum(cli):
    text = cli("run").stdout
    assert "0.1×0.5 + 0.3×0.2 + 1.83" in text and "σ(1.94)" in text
    assert "0.8744" in text and "0.3565" in text
    assert math.isclose(float(NUMBER.findall(text.split("E after")[1])[0]), 0.3517, abs_tol=5e-5)


def test_loss_after_shown_for_graphs(cli):
    text = cli("run", "graph_chain").stdout
    assert "-2.16" in text and "4.84" in text and "-3.88" in text
    assert "L after" in text


@pytest.fixture(autouse=True)
def _in_tmp_cwd(tmp_path, monkeypatch):
    """Run every CLI test from an empty folder, so nothing lands in the repository."""
    monkeypatch.chdir(tmp_path)
    yield
    assert Path.cwd() == tmp_path


def test_output_file_gets_the_usual_permissions(cli, tmp_path):
    import stat

    out = tmp_path / "out.txt"
    umask = os.umask(0o022)
    try:
        assert cli("run", "--output", out).exit_code == 0
    finally:
        os.umask(umask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o644


def test_missing_path_to_a_bundled_file_points_at_its_name(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = cli("run", "networks/two_layer.yaml")
    assert res.exit_code == 2
    assert "bpcalc run two_layer" in res.stderr


# ------------------------------------------------------------------ every command's main path
def test_step_trains_and_the_loss_falls(cli):
    d = as_json(cli("step", "simple", "--epochs", "3", "--format", "json"))
    assert [e["epoch"] for e in d["epochs"]] == [1, 2, 3] and d["epochs_completed"] == 3
    assert d["epochs"][0]["loss"] == pytest.approx(as_json(cli("run", "simple", "-f", "json"))["loss"])
    assert d["loss_final"] < d["epochs"][-1]["loss"] < d["epochs"][0]["loss"]
    text = cli("step", "simple", "--epochs", "3")
    assert text.exit_code == 0 and "final loss" in text.stdout


def test_explain_derives_each_gradient(cli):
    d = as_json(cli("explain", "simple", "--format", "json"))
    got = {p["name"]: p["product"] for p in d["params"]}
    assert got == pytest.approx(dict(zip(("W1", "W2", "b"), simple_gradients())))
    r = cli("explain", "sigmoid")
    assert r.exit_code == 0 and "σ(z)(1 − σ(z))" in r.stdout


def test_check_passes_on_a_bundled_network(cli):
    d = as_json(cli("check", "hidden", "--format", "json"))
    assert d["kind"] == "gradcheck" and d["ok"] and d["failed"] == 0 and d["parameters_count"] == 9
    r = cli("check", "hidden")
    assert r.exit_code == 0 and "all 9 gradients agree" in r.stdout


def test_graph_as_dot_and_mermaid(cli, tmp_path):
    dot = cli("graph", "graph_chain")
    assert dot.exit_code == 0 and dot.stdout.startswith("digraph bpcalc {") and "grad 16" in dot.stdout
    cli("graph", "graph_chain", "-o", tmp_path / "g.mmd")
    assert "flowchart LR" in (tmp_path / "g.mmd").read_text(encoding="utf-8")
    assert cli("graph", "graph_chain", "-f", "mermaid").stdout == (tmp_path / "g.mmd").read_text(encoding="utf-8")
    bad = cli("graph", "graph_chain", "-f", "png")
    assert bad.exit_code == 2 and "unknown graph format 'png'" in bad.stderr and "dot, mermaid, svg" in bad.stderr


def test_export_writes_a_pytorch_script(cli, tmp_path):
    r = cli("export", "two_layer")
    assert r.exit_code == 0 and "import torch" in r.stdout
    compile(r.stdout, "two_layer.py", "exec")
    assert cli("export", "two_layer", "--to", "pytorch", "-o", tmp_path / "t.py").stdout == ""
    assert "torch.nn.Linear(2, 2, bias=True)" in (tmp_path / "t.py").read_text(encoding="utf-8")
    bad = cli("export", "two_layer", "--to", "jax")
    assert bad.exit_code == 2 and "pytorch" in bad.stderr


def test_init_writes_a_spec_that_runs(cli, tmp_path):
    spec = tmp_path / "my.yaml"
    r = cli("init", spec)
    assert r.exit_code == 0 and r.stdout == f"wrote {spec}: try `bpcalc run {spec}`\n"
    assert as_json(cli("run", spec, "-f", "json"))["kind"] == "network"
    assert cli("init", spec).exit_code == 2 and cli("init", spec, "--force", "--quiet").stdout == ""
    printed = cli("init", "--graph")
    assert printed.exit_code == 0 and "nodes:" in printed.stdout
    assert as_json(cli("run", "-", "-f", "json", input=printed.stdout))["kind"] == "graph"


def test_validate_names_each_spec(cli, tmp_path):
    r = cli("validate", "simple", "graph_chain")
    assert r.exit_code == 0
    assert r.stdout.splitlines() == [
        "ok: simple: network 2-1 (sigmoid), 1 sample, 3 parameters, loss half_sse, sgd lr 0.5",
        "ok: graph_chain: graph, 3 variables (x, y, z), 2 nodes, output f, loss sse against target -10"]
    bad = tmp_path / "bad.yaml"
    bad.write_text(WRONG_SHAPE, encoding="utf-8")
    r = cli("validate", "simple", bad, "--quiet")
    assert r.exit_code == 2 and r.stdout == "" and "layers[0].weights" in r.stderr


def test_schema_prints_and_writes_the_json_schema(cli, tmp_path):
    r = cli("schema")
    assert r.exit_code == 0 and json.loads(r.stdout)["title"] == "bpcalc spec"
    assert cli("schema", "-o", tmp_path / "s.json").stdout == ""
    assert (tmp_path / "s.json").read_text(encoding="utf-8") == r.stdout


def test_worksheet_blanks_what_run_shows(cli):
    """A worksheet has run's tables: the givens as run writes them, the computed values blank (tests/test_worksheet.py
    has the rest)."""
    r = cli("worksheet", "simple", "--format", "text")
    assert r.exit_code == 0 and "____" in r.stdout and "0.1×0.5 + 0.3×0.2 + 1.83" in r.stdout
    assert "0.8744" not in r.stdout and "0.8744" in cli("worksheet", "simple", "--answers").stdout


def test_new_writes_a_spec_run_accepts(cli, tmp_path):
    """(tests/test_new.py checks the rules on many seeds.)"""
    r = cli("new", "--shape", "2-2-1", "--seed", "3", "-o", tmp_path / "p.yaml")
    assert r.exit_code == 0 and r.stdout == ""
    assert cli("run", tmp_path / "p.yaml", "--format", "json").exit_code == 0


def test_grade_scores_a_template(cli, tmp_path):
    """(tests/test_lms.py has the rest.) An empty template scores 0, and grading still exits 0."""
    template = tmp_path / "t.yaml"
    assert cli("worksheet", "simple", "--template", template, "-o", tmp_path / "s.txt").exit_code == 0
    r = cli("grade", template, "--format", "json")
    assert r.exit_code == 0 and '"score": 0' in r.stdout and "not filled" not in r.stdout  # JSON: "filled": false
    assert "not filled" in cli("grade", template).stdout


def test_every_command_has_a_test_here():
    source = Path(__file__).read_text(encoding="utf-8")
    assert [n for n in COMMAND_MODULES if f'cli("{n}"' not in source] == []


# ------------------------------------------------------------------ the format table
def test_output_suffix_picks_the_format(cli, tmp_path):
    from bpcalc.cli import formats

    for f in formats.FORMATS:
        for suffix in f.suffixes:
            out = tmp_path / f"out{suffix.upper()}"
            if f.family == "lms":  # the quiz formats: worksheets (QTI is a .zip, written to files only)
                again = tmp_path / f"again{suffix}"
                assert cli("worksheet", "simple", "-o", out).exit_code == 0
                assert cli("worksheet", "simple", "-f", f.name, "-o", again).exit_code == 0
                assert out.read_bytes() == again.read_bytes(), (f.name, suffix)
                continue
            cmd = ("graph", "simple") if f.family == "graph" else ("run", "simple")
            assert cli(*cmd, "-o", out).exit_code == 0
            assert out.read_text(encoding="utf-8") == cli(*cmd, "-f", f.name).stdout, (f.name, suffix)
    cli("run", "simple", "-o", tmp_path / "out.unknown")
    assert (tmp_path / "out.unknown").read_text(encoding="utf-8") == cli("run", "simple", "-f", "text").stdout


@pytest.mark.parametrize(("cmd", "name", "says"), [
    (("run", "two_layer"), "handout.pdf", "pdflatex handout.tex"),
    (("run", "two_layer", "-f", "text"), "handout.PDF", "print it to PDF"),
    (("worksheet", "hidden"), "sheet.docx", "such as sheet.html"),
    (("step", "xor", "--epochs", "2"), "curve.png", "such as curve.html"),
    (("graph", "simple"), "figure.png", "such as figure.svg"),
])
def test_an_output_suffix_bpcalc_does_not_write_is_refused(cli, tmp_path, cmd, name, says):
    r = cli(*cmd, "-o", tmp_path / name)
    assert r.exit_code == 2 and r.stdout == ""
    family = "graph" if cmd[0] == "graph" else "report"
    from bpcalc.cli import formats

    assert f"--output {name}: bpcalc does not write {name[name.index('.'):]} files; it writes" in r.stderr
    assert all(f"{f.name} ({', '.join(f.suffixes)})" in r.stderr for f in formats.FORMATS
               if f.family == family and f.suffixes)
    assert says in r.stderr and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("cmd", "name", "writes"), [
    (("new",), "problem.pdf", "this command writes a spec (.yaml)"),
    (("export", "two_layer"), "script.docx", "this command writes a Python script (.py)"),
])
def test_a_command_of_one_kind_of_file_refuses_a_foreign_suffix(cli, tmp_path, cmd, name, writes):
    r = cli(*cmd, "-o", tmp_path / name)
    assert r.exit_code == 2 and writes in r.stderr and list(tmp_path.iterdir()) == []


def test_format_help_and_errors_list_the_table(cli):
    from bpcalc.cli import formats

    names = formats.names()
    assert names == ["rich", "text", "json", "markdown", "latex", "html", "svg"]
    assert " | ".join(names) in " ".join(cli("run", "--help").stdout.split())
    r = cli("run", "simple", "--format", "xml")
    assert r.exit_code == 2 and f"choose one of: {', '.join(names)}" in r.stderr
    assert formats.complete()("m") == ["markdown"] and formats.complete("graph")("") == ["dot", "mermaid", "svg"]


def test_rich_to_a_file_is_text(cli, tmp_path):
    cli("run", "simple", "-f", "rich", "-o", tmp_path / "out.txt")
    assert (tmp_path / "out.txt").read_text(encoding="utf-8") == cli("run", "simple", "-f", "text").stdout


def test_step_json_to_stdout_and_file_agree(cli, tmp_path):
    printed = cli("step", "xor", "-e", "3", "-f", "json", "--trace").stdout
    cli("step", "xor", "-e", "3", "-o", tmp_path / "s.json", "--trace", "--quiet")
    a, b = json.loads(printed), json.loads((tmp_path / "s.json").read_text(encoding="utf-8"))
    for d in (a, b):
        d.pop("seconds", None)  # wall time
    assert a == b and len(a["steps"]) == 3


# ------------------------------------------------------------------ --plot
def test_plot_hint_is_an_install_that_works(cli, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    r = cli("step", "--epochs", "3", "--plot", tmp_path / "loss.png")
    assert r.exit_code == 2 and "hint: pip install matplotlib\n" in r.stderr and "bpcalc[plot]" not in r.stderr
    assert "pip install matplotlib" in cli("step", "--help").stdout
    assert not (tmp_path / "loss.png").exists()


def test_plot_bad_suffix_is_exit_2(cli, tmp_path):
    r = cli("step", "--epochs", "3", "--plot", tmp_path / "loss.gif")
    assert r.exit_code == 2 and ".png, .svg or .pdf" in r.stderr


@pytest.mark.parametrize("fmt,magic", [("png", b"\x89PNG"), ("svg", b"<?xml"), ("pdf", b"%PDF")])
def test_plot_loss_curve_bytes(cli, tmp_path, fmt, magic):
    pytest.importorskip("matplotlib")
    from bpcalc.engine.training import train
    from bpcalc.render.plot import loss_curve
    from bpcalc.spec.bundled import open_spec

    assert loss_curve(train(open_spec("xor"), 20), fmt).startswith(magic)
    out = tmp_path / f"loss.{fmt}"
    assert cli("step", "xor", "-e", "20", "--quiet", "--plot", out).exit_code == 0
    assert out.read_bytes().startswith(magic)


# ------------------------------------------------------------------ start-up
def test_run_does_not_import_pydantic():
    """cli/fastparams.py keeps typer's pydantic coercion (about 150 ms) out of a plain run; fails if typer moves."""
    loaded = modules_loaded(["run", "simple"], ("pydantic",))
    assert loaded == [], "`bpcalc run` imported pydantic: see cli/fastparams.py"


# The program (bpcalc.main, what the `bpcalc` script runs; MODULE: `python -m bpcalc`) in a child process; then,
# on stderr, the command modules it imported. CLI_MAIN: bpcalc.cli.main() by itself, which registers every command.
PROGRAM = "from bpcalc import main"
MODULE = "import runpy; main = lambda: runpy.run_module('bpcalc', run_name='__main__')"
CLI_MAIN = "from bpcalc.cli import main"
PROBE = ("import sys\n"
         "sys.argv[0] = 'bpcalc'\n"
         "try:\n"
         "    {entry}\n"
         "    main()\n"
         "finally:\n"
         "    from bpcalc.cli import COMMAND_MODULES\n"
         "    loaded = [n for n in COMMAND_MODULES if 'bpcalc.cli.' + n in sys.modules]\n"
         "    sys.stderr.write('\\nLOADED ' + ' '.join(loaded))\n")


def program(*args: str, entry: str = PROGRAM, env: dict | None = None) -> tuple[int, str, str, list[str]]:
    """Exit code, stdout, stderr (without the probe's line) and the command modules imported."""
    base = {k: v for k, v in os.environ.items() if not k.endswith("_COMPLETE")}
    r = subprocess.run([sys.executable, "-c", PROBE.format(entry=entry), *map(str, args)], capture_output=True,
                       text=True, timeout=120, env={**base, "COLUMNS": "100", **(env or {})})
    err, _, loaded = r.stderr.rpartition("\nLOADED ")
    return r.returncode, r.stdout, err, loaded.split()


@pytest.mark.parametrize("args, entry", [
    (("step", "{spec}", "--epochs", "1", "--format", "json"), "program"),
    (("step", "{spec}", "--epochs", "1", "--format", "json"), "module"),
    (("--lang", "ko", "run", "{spec}", "--format", "json"), "program"),
    (("--lang=en", "check", "{spec}", "--format", "json"), "module"),
    (("--lang", "ko", "--lang=en", "step", "--help"), "program"),
    (("examples",), "program"),
])
def test_the_program_registers_only_the_command_it_runs(args, entry, tmp_path):
    """Typer builds one command, not all twelve: the program imports only the module of the command argv names
    (past the root's --lang), and prints exactly what it prints with every command registered."""
    spec = tmp_path / "s.yaml"
    spec.write_text("inputs: [0.1]\ntargets: [0.2]\nlayers: [{weights: [[0.3]], biases: [0.1], activation: sigmoid}]\n"
                    "learning_rate: 0.5\n", encoding="utf-8")
    args = [a.format(spec=spec) for a in args]
    code, out, err, loaded = program(*args, entry={"program": PROGRAM, "module": MODULE}[entry])
    command = next(a for a in args if a in ("step", "run", "check", "examples"))
    assert (code, loaded) == (0, [command]), err
    every = program(*args, entry=CLI_MAIN)
    assert every[3] == COMMAND_MODULES

    def untimed(text: str):  # the JSON without the run's own seconds
        return {k: v for k, v in json.loads(text).items() if k not in ("seconds", "timing")} if "json" in args else text

    assert (code, untimed(out), err) == (every[0], untimed(every[1]), every[2])


@pytest.mark.parametrize("args, code", [
    (("--help",), 0), (("-h", "step"), 0), (("--lang", "ko", "--help"), 0), (("stpe",), 2), (("--lang=ko", "stpe"), 2),
    (("-V", "step"), 0), ((), 2),
])
def test_help_typos_and_no_command_still_see_every_command(args, code):
    got, out, err, loaded = program(*args)
    assert (got, loaded) == (code, COMMAND_MODULES), err
    assert program(*args, entry=CLI_MAIN)[:3] == (got, out, err)
    if "--help" in args:
        assert all(f"  {n} " in out for n in COMMAND_MODULES)
    if "stpe" in args:
        assert "'step'" in err  # the suggestion


def test_completion_still_sees_every_command():
    env = {"_BPCALC_COMPLETE": "complete_bash", "COMP_WORDS": "bpcalc ", "COMP_CWORD": "1"}
    code, out, err, loaded = program(env=env)
    assert (code, out.split(), loaded) == (0, COMMAND_MODULES, COMMAND_MODULES), err
    env = {"_BPCALC_COMPLETE": "complete_bash", "COMP_WORDS": "bpcalc step --plot-scale ", "COMP_CWORD": "3"}
    assert program("step", env=env)[1].split() == ["auto", "linear", "log"]


@pytest.mark.parametrize("first", ["bpcalc.cli", "bpcalc.cli.explain", "bpcalc.cli.schema"])
def test_importing_the_cli_gives_every_command(first):
    """A library user of `app` (CliRunner, these tests) gets every command, whatever argv says, in their order
    even when a command's module was imported first."""
    code = ("import importlib, sys, typer\n"
            "sys.argv = ['bpcalc', 'step']\n"
            f"importlib.import_module({first!r})\n"
            "from bpcalc.cli import app\n"
            "print(' '.join(typer.main.get_command(app).commands))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.stdout.split() == COMMAND_MODULES, r.stderr


@pytest.mark.parametrize("args, named", [
    (["step", "x.yaml"], "step"), (["--lang", "ko", "run"], "run"), (["--lang=ko", "--lang", "en", "new"], "new"),
    (["--lang", "step"], None), (["--lang"], None), (["--help", "step"], None), (["-V", "run"], None),
    (["--install-completion"], None), (["--show-completion"], None), (["stpe"], None), ([], None),
    (["--", "run"], None), (["x.yaml", "step"], None),
])
def test_named_command(args, named):
    from bpcalc.cli import named_command

    assert named_command(args, {}) == named
    assert named_command(args, {"_BPCALC_COMPLETE": "complete_zsh"}) is None


def test_explain_help_lists_the_registrys_functions():
    from bpcalc.cli.explain import FUNCTIONS_HELP
    from bpcalc.explain.functions import FUNCTION_NAMES

    assert FUNCTIONS_HELP.split(", ") == list(FUNCTION_NAMES)
