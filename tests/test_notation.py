"""Notation profiles (layer, mazur, ng): the names shown change, the numbers and the JSON never do.

The bundled `mazur` example must reproduce the published figures of the most-cited English worked example; they
are recomputed here with plain floats (math.exp), written out step by step, never taken from bpcalc."""

from __future__ import annotations

import json
import math

import pytest
from conftest import NETWORKS


def _sig(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _mazur_by_hand() -> dict[str, float]:
    """The worked example by hand: forward, E_total, every gradient and updated weight (old weights in the
    hidden layer's backward pass, as the example does)."""
    i1, i2, t1, t2, lr = 0.05, 0.10, 0.01, 0.99, 0.5
    w = [None, 0.15, 0.20, 0.25, 0.30, 0.40, 0.45, 0.50, 0.55]
    b1, b2 = 0.35, 0.60
    net_h1 = w[1] * i1 + w[2] * i2 + b1
    net_h2 = w[3] * i1 + w[4] * i2 + b1
    out_h1, out_h2 = _sig(net_h1), _sig(net_h2)
    net_o1 = w[5] * out_h1 + w[6] * out_h2 + b2
    net_o2 = w[7] * out_h1 + w[8] * out_h2 + b2
    out_o1, out_o2 = _sig(net_o1), _sig(net_o2)
    E_o1, E_o2 = 0.5 * (t1 - out_o1) ** 2, 0.5 * (t2 - out_o2) ** 2
    d_o1 = (out_o1 - t1) * out_o1 * (1 - out_o1)
    d_o2 = (out_o2 - t2) * out_o2 * (1 - out_o2)
    g = {5: d_o1 * out_h1, 6: d_o1 * out_h2, 7: d_o2 * out_h1, 8: d_o2 * out_h2}
    d_h1 = (d_o1 * w[5] + d_o2 * w[7]) * out_h1 * (1 - out_h1)
    d_h2 = (d_o1 * w[6] + d_o2 * w[8]) * out_h2 * (1 - out_h2)
    g.update({1: d_h1 * i1, 2: d_h1 * i2, 3: d_h2 * i1, 4: d_h2 * i2})
    out = {"out_h1": out_h1, "out_h2": out_h2, "out_o1": out_o1, "out_o2": out_o2, "E_o1": E_o1, "E_o2": E_o2,
           "E_total": E_o1 + E_o2}
    for k in range(1, 9):
        out[f"dw{k}"] = g[k]
        out[f"w{k}+"] = w[k] - lr * g[k]
    return out


def test_the_hand_computation_gives_the_published_figures():
    h = _mazur_by_hand()
    # as printed in the example (8 or 9 decimals)
    assert round(h["out_o1"], 8) == 0.75136507
    assert round(h["out_o2"], 9) == 0.772928465
    assert round(h["E_total"], 9) == 0.298371109
    assert round(h["w5+"], 8) == 0.35891648
    assert round(h["w6+"], 9) == 0.408666186
    assert round(h["w1+"], 9) == 0.149780716


def test_mazur_example_reproduces_the_published_figures(cli):
    h = _mazur_by_hand()
    r = cli("run", "mazur", "--format", "json")
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)
    out = d["layers"][1]
    assert out["a"] == pytest.approx([h["out_o1"], h["out_o2"]], rel=1e-13)
    assert d["layers"][0]["a"] == pytest.approx([h["out_h1"], h["out_h2"]], rel=1e-13)
    assert d["loss_terms"] == pytest.approx([h["E_o1"], h["E_o2"]], rel=1e-13)
    assert d["loss"] == pytest.approx(h["E_total"], rel=1e-13)
    flat_g = [x for L in d["layers"] for row in L["grad_weights"] for x in row]
    flat_w = [x for L in d["layers"] for row in L["new_weights"] for x in row]
    assert flat_g == pytest.approx([h[f"dw{k}"] for k in range(1, 9)], rel=1e-12)
    assert flat_w == pytest.approx([h[f"w{k}+"] for k in range(1, 9)], rel=1e-13)


def test_mazur_example_speaks_in_its_names(cli):
    text = cli("run", "mazur", "--format", "text").stdout
    for line in ("net_h1    i1·w1 + i2·w2 + b1", "out_o1    σ(net_o1)", "E_total   E_o1 + E_o2",
                 "∂E_total/∂w5", "δ_o1·w5 + δ_o2·w7", "b1 (h1)", "b2 (o2)"):
        assert line in text, line
    assert "0.7514" in text and "0.2984" in text and "0.3589" in text
    for layer_name in ("a_1^(3)", "w_11^(2)", "z_1^(2)"):
        assert layer_name not in text


def test_ng_names(cli):
    text = cli("run", "two_layer", "--notation", "ng", "--format", "text").stdout
    for name in ("x_1", "z_1^[1]", "a_2^[2]", "w_12^[1]", "dz_1^[2]", "0 (input)", "Layer 2 (output)"):
        assert name in text, name
    assert "_1^(" not in text and "_2^(" not in text


def test_weights_numbered_input_side_first_row_by_row():
    from bpcalc.engine.network import run_network
    from bpcalc.explain.notation import Notation
    from bpcalc.spec.bundled import open_spec

    spec = open_spec("mazur")
    nt = Notation.of(run_network(spec))
    assert [nt.w(0, j, k).text for j in range(2) for k in range(2)] == ["w1", "w2", "w3", "w4"]
    assert [nt.w(1, j, k).text for j in range(2) for k in range(2)] == ["w5", "w6", "w7", "w8"]
    assert (nt.b(0, 1).text, nt.b(1, 0).text) == ("b1", "b2")  # one per layer: its biases are equal
    spec.layers[0].biases[1] = 0.4  # unequal: one per neuron, numbered on
    nt = Notation.of(spec)
    assert [nt.b(0, 0).text, nt.b(0, 1).text, nt.b(1, 0).text, nt.b_param(1, 1).text] == ["b1", "b2", "b3", "b3 (o2)"]


def test_several_hidden_layers_number_their_neurons_on():
    from bpcalc.explain.notation import Notation

    nt = Notation([{}, {}, {}], ["sigmoid"] * 3, profile="mazur", biases=[None] * 3, sizes=[(3, 2), (2, 3), (1, 2)])
    assert [nt.a(0, 2).text, nt.a(1, 0).text, nt.a(2, 0).text] == ["out_h3", "out_h4", "out_o1"]
    assert nt.w(1, 0, 0).text == "w7" and nt.w(2, 0, 1).text == "w14"


# ---------------------------------------------------------------- JSON never changes
@pytest.mark.parametrize("command", [["run"], ["explain"], ["check"], ["step", "--epochs", "3"],
                                     ["run", "--round", "2"], ["explain", "--param", "W^(3)"]])
@pytest.mark.parametrize("notation", ["mazur", "ng"])
def test_json_is_the_same_in_every_notation(cli, command, notation):
    def data(*extra):
        r = cli(command[0], "two_layer", *command[1:], "--format", "json", *extra)
        assert r.exit_code == 0, r.stderr
        d = json.loads(r.stdout)
        if command[0] == "check":
            d.pop("timing")
        if command[0] == "step":
            d.pop("seconds")
        return d

    assert data("--notation", notation) == data() == data("--notation", "layer")


def test_json_of_the_mazur_spec_is_the_layer_notations(cli, tmp_path):
    plain = tmp_path / "plain.yaml"
    plain.write_text((NETWORKS / "mazur.yaml").read_text(encoding="utf-8").replace("notation: mazur\n", "")
                     .replace("name: 2-2-2", "name: x"), encoding="utf-8")
    for cmd in ("run", "explain"):
        a = json.loads(cli(cmd, "mazur", "-f", "json").stdout)
        b = json.loads(cli(cmd, plain, "-f", "json").stdout)
        a.pop("name"), b.pop("name")
        assert a == b


# ---------------------------------------------------------------- names in, errors
def test_param_takes_the_profiles_names(cli):
    r = cli("explain", "mazur", "--param", "w5", "--format", "text")
    assert r.exit_code == 0, r.stderr
    assert "∂E_total/∂w5 = ∂E_total/∂out_o1 · ∂out_o1/∂net_o1 · ∂net_o1/∂w5" in r.stdout
    assert "w5 ← w5 − α·∂E_total/∂w5 = 0.4 − 0.5 × 0.08217 = 0.3589" in r.stdout
    both = cli("explain", "mazur", "--param", "b1", "-f", "json")
    assert [p["path"] for p in json.loads(both.stdout)["params"]] == ["layers.0.biases.0", "layers.0.biases.1"]
    layer = cli("explain", "mazur", "--param", "w_11^(3)", "-f", "json")  # the layer notation's names too
    assert [p["path"] for p in json.loads(layer.stdout)["params"]] == ["layers.1.weights.0.0"]
    ng = cli("explain", "two_layer", "--notation", "ng", "--param", "w_12^[2]", "-f", "json")
    assert [p["path"] for p in json.loads(ng.stdout)["params"]] == ["layers.1.weights.0.1"]


def test_expected_takes_the_profiles_names(cli, tmp_path):
    spec = tmp_path / "m.yaml"
    spec.write_text((NETWORKS / "mazur.yaml").read_text(encoding="utf-8")
                    + "expected:\n  out_o1: 0.7514\n  E_total: 0.2984\n  w5: 0.3589\n  ∂E_total/∂w1: 0.0004\n"
                      "  b1 (h1): 0.3456\n  a_1^(3): 0.75\n", encoding="utf-8")
    r = cli("run", spec, "--format", "text")
    assert r.exit_code == 0, r.stdout + r.stderr
    assert "all 6 values right" in r.stdout and "w5 (w5)" not in r.stdout
    d = json.loads(cli("run", spec, "--format", "json").stdout)
    names = {e["key"]: e["name"] for e in d["expected"]}
    assert names["out_o1"] == "a_1^(3)" and names["w5"] == "w_11^(3) new"  # JSON: the layer notation's names


@pytest.mark.parametrize(("example", "key", "profile"), [("mazur", "w5", "mazur"), ("mazur", "E_total", "mazur"),
                                                        ("two_layer", "w_12^[2]", "ng")])
def test_expected_in_another_notations_names_suggests_that_notation(cli, tmp_path, example, key, profile):
    text = (NETWORKS / f"{example}.yaml").read_text(encoding="utf-8").replace("notation: mazur\n", "")
    spec = tmp_path / "s.yaml"
    spec.write_text(text + f"expected:\n  {key}: 0.5\n", encoding="utf-8")
    r = cli("run", spec)
    assert r.exit_code == 2 and r.stdout == ""
    assert f"unknown quantity `{key}`: it is a name of the `{profile}` notation" in r.stderr, r.stderr
    assert f"add `notation: {profile}` to the spec (or run with `--notation {profile}`)" in r.stderr
    assert cli("run", spec, "--notation", profile).exit_code in (0, 1)  # then it is found (✓ or ✗)


@pytest.mark.parametrize("command", ["run", "explain", "step", "check", "graph"])
def test_unknown_notation_on_the_command_line(cli, command):
    r = cli(command, "two_layer", "--notation", "greek")
    assert r.exit_code == 2
    assert "unknown notation 'greek'" in r.stderr and "layer, mazur, ng" in r.stderr


def test_unknown_notation_in_a_spec(cli, tmp_path):
    spec = tmp_path / "bad.yaml"
    spec.write_text((NETWORKS / "two_layer.yaml").read_text(encoding="utf-8") + "notation: mazurr\n",
                    encoding="utf-8")
    r = cli("run", spec)
    assert r.exit_code == 2
    assert "notation" in r.stderr and "mazur" in r.stderr and "bad.yaml:17" in r.stderr


def test_command_line_overrides_the_spec(cli):
    text = cli("run", "mazur", "--notation", "layer", "--format", "text").stdout
    assert "a_1^(3)" in text and "out_o1" not in text


def test_labels_still_override_single_names(cli, tmp_path):
    spec = tmp_path / "l.yaml"
    spec.write_text((NETWORKS / "mazur.yaml").read_text(encoding="utf-8").replace(
        "    biases: [0.35, 0.35]", "    labels: {weights: [[A, B], [C, D]]}\n    biases: [0.35, 0.35]"),
        encoding="utf-8")
    text = cli("run", spec, "--format", "text").stdout
    assert "i1·A + i2·B + b1" in text and "w5" in text


def test_step_check_and_graph_show_the_profile(cli):
    assert "w5" in cli("step", "mazur", "--epochs", "2", "-f", "text").stdout
    assert "b2 (o1)" in cli("check", "mazur", "-f", "text").stdout
    assert "net_o1" in cli("graph", "mazur").stdout
    saved = cli("run", "mazur", "--format", "json")
    assert saved.exit_code == 0


def test_the_lists_of_notations_agree():
    from bpcalc.cli.common import NOTATIONS as cli_names
    from bpcalc.explain.notation import PROFILES
    from bpcalc.spec.loader import NOTATIONS
    from bpcalc.spec.schema import build_schema

    assert tuple(NOTATIONS) == PROFILES == cli_names
    assert build_schema()["$defs"]["network"]["properties"]["notation"]["enum"] == list(PROFILES)


def test_save_keeps_the_notation(cli, tmp_path):
    import yaml

    out = tmp_path / "next.yaml"
    assert cli("run", "mazur", "--save", out, "--quiet").exit_code == 0
    assert yaml.safe_load(out.read_text(encoding="utf-8"))["notation"] == "mazur"
