"""Issue 20's conventions: the spec key round_style, classic momentum, input-major weights, a shared bias.

Expected values are derived by hand in the comments (closed forms) or come from PyTorch float64 fixtures written
by scripts/make_conventions_fixtures.py (tests/fixtures/conventions_layout.json)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.test_rounding import STYLE_SPEC


# ------------------------------------------------------------------ round_style (spec key)
@pytest.mark.parametrize("style, z, b_new", [
    ("calculator", 0.0769, -0.0521 - 0.1 * 0.0769),  # sums exact: z = 0.129 − 0.0521; b − α·δ with δ = z − 0
    ("every", 0.08, -0.06),  # z written 0.08; b − 0.1×0.08 = −0.0601, written −0.06
    ("truncate", 0.07, -0.05),  # z cut to 0.07; b − 0.1×0.07 = −0.0591, cut toward zero to −0.05
])
def test_round_style_key_rounds_as_the_option_does(cli, tmp_path, style, z, b_new):
    f = tmp_path / "s.yaml"
    f.write_text(STYLE_SPEC + f"round_style: {style}\n", encoding="utf-8")
    d = json.loads(cli("run", f, "--round", "2", "-f", "json").stdout)
    assert d["layers"][0]["z"][0] == pytest.approx(z, abs=1e-12)
    assert d["layers"][0]["new_biases"][0] == pytest.approx(b_new, abs=1e-12)


def test_round_style_option_overrides_the_key(cli, tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text(STYLE_SPEC + "round_style: truncate\n", encoding="utf-8")
    d = json.loads(cli("run", f, "--round", "2", "--round-style", "every", "-f", "json").stdout)
    assert d["layers"][0]["z"][0] == pytest.approx(0.08, abs=1e-12)  # every's 0.08, not truncate's 0.07


def test_round_style_key_without_round_is_exact_and_saved(cli, tmp_path):
    f, out = tmp_path / "s.yaml", tmp_path / "next.yaml"
    f.write_text(STYLE_SPEC + "round_style: every\n", encoding="utf-8")
    d = json.loads(cli("run", f, "-f", "json", "--save", out).stdout)
    assert d["layers"][0]["z"][0] == pytest.approx(0.129 - 0.0521, abs=1e-15)
    assert "round_style: every" in out.read_text(encoding="utf-8")


def test_round_style_key_unknown_is_one_clear_error(cli, tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text(STYLE_SPEC + "round_style: sometimes\n", encoding="utf-8")
    r = cli("run", f, "--round", "2")
    assert r.exit_code == 2 and "round_style" in r.stderr and "truncate" in r.stderr
    assert "Traceback" not in r.stderr


# ------------------------------------------------------------------ classic momentum (item 4)
# y = w·x, x = 1, t = 0, E = ½y², so g = w (with weight decay λ: g = w + λw). α = 0.1, μ = 0.9, w0 = 1.
# Classic: v ← μv − αg, w ← w + v, by hand:
#   step 1: g = 1,    v = −0.1,                       w = 0.9
#   step 2: g = 0.9,  v = 0.9·(−0.1) − 0.09 = −0.18,  w = 0.72
#   step 3: g = 0.72, v = 0.9·(−0.18) − 0.072 = −0.234, w = 0.486
# With λ = 0.5 (g = 1.5w):
#   step 1: g = 1.5,     v = −0.15,                            w = 0.85
#   step 2: g = 1.275,   v = −0.135 − 0.1275 = −0.2625,        w = 0.5875
#   step 3: g = 0.88125, v = −0.23625 − 0.088125 = −0.324375,  w = 0.263125
CLASSIC = """
name: classic momentum
inputs: [1.0]
targets: [0.0]
layers:
  - weights: [[1.0]]
    activation: linear
learning_rate: 0.1
optimizer: {{type: momentum, momentum: 0.9, form: classic{wd}}}
"""
CLASSIC_STEPS = {"": [(0.9, -0.1), (0.72, -0.18), (0.486, -0.234)],
                 ", weight_decay: 0.5": [(0.85, -0.15), (0.5875, -0.2625), (0.263125, -0.324375)]}


def _saved(path) -> tuple[float, float]:
    import yaml

    d = yaml.safe_load(path.read_text(encoding="utf-8"))
    return d["layers"][0]["weights"][0][0], d["training_state"]["layers"][0]["weights"]["v"][0][0]


@pytest.mark.parametrize("wd", list(CLASSIC_STEPS))
def test_classic_momentum_three_steps_by_hand(cli, tmp_path, wd):
    f = tmp_path / "s.yaml"
    f.write_text(CLASSIC.format(wd=wd), encoding="utf-8")
    for epochs, (w, v) in enumerate(CLASSIC_STEPS[wd], 1):
        out = tmp_path / f"after{epochs}.yaml"
        assert cli("step", f, "--epochs", epochs, "--save", out, "-q").exit_code == 0
        assert _saved(out) == pytest.approx((w, v), abs=1e-15)  # v held in the classic form: the step itself


def test_classic_momentum_save_then_step_continues_exactly(cli, tmp_path):
    f, one, three, resumed = (tmp_path / n for n in ("s.yaml", "one.yaml", "three.yaml", "resumed.yaml"))
    f.write_text(CLASSIC.format(wd=""), encoding="utf-8")
    cli("step", f, "--epochs", 1, "--save", one, "-q")
    cli("step", one, "--epochs", 2, "--save", resumed, "-q")
    cli("step", f, "--epochs", 3, "--save", three, "-q")
    assert _saved(resumed) == _saved(three)  # bit for bit
    assert "form: classic" in resumed.read_text(encoding="utf-8")


def test_classic_momentum_run_shows_v_in_its_form(cli, tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text(CLASSIC.format(wd=""), encoding="utf-8")
    d = json.loads(cli("run", f, "-f", "json").stdout)
    assert d["optimizer"] == "momentum" and d["optimizer_settings"] == {"form": "classic"}
    assert d["layers"][0]["optimizer_state"]["weights"]["v"] == [[pytest.approx(-0.1, abs=1e-15)]]
    assert d["layers"][0]["new_weights"] == [[pytest.approx(0.9, abs=1e-15)]]
    text = cli("run", f, "-f", "text").stdout
    assert "optimizer momentum (classic)" in text and "v = μ·v − α·g;  θ + v" in text
    assert "1 + (-0.1)" in text  # θ + v with the numbers
    ko = cli("run", f, "-f", "text", "--lang", "ko").stdout
    assert "1 + (-0.1)" in ko and "v = μ·v − α·g" in ko
    matrix = cli("run", f, "-f", "text", "--view", "matrix").stdout
    assert "v = [-0.1]" in matrix and "W^(2) ← [1] + v = [0.9]" in matrix
    explain = cli("explain", f, "-f", "text").stdout
    assert "= 1 + (-0.1) = 0.9" in explain


def test_momentum_default_form_is_unchanged(cli, tmp_path):
    f, out = tmp_path / "s.yaml", tmp_path / "next.yaml"
    f.write_text(CLASSIC.format(wd="").replace(", form: classic", ""), encoding="utf-8")
    d = json.loads(cli("run", f, "-f", "json", "--save", out).stdout)
    assert "optimizer_settings" not in d
    assert d["layers"][0]["optimizer_state"]["weights"]["v"] == [[1.0]]  # PyTorch's buffer: g itself
    assert "form:" not in out.read_text(encoding="utf-8")


def test_momentum_form_unknown_is_one_clear_error(cli, tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text(CLASSIC.format(wd="").replace("form: classic", "form: lecture"), encoding="utf-8")
    r = cli("run", f)
    assert r.exit_code == 2 and "optimizer.form" in r.stderr and "pytorch, classic" in r.stderr
    assert "Traceback" not in r.stderr


def test_classic_momentum_export_converts_the_buffer(cli, tmp_path):
    f, one = tmp_path / "s.yaml", tmp_path / "one.yaml"
    f.write_text(CLASSIC.format(wd=""), encoding="utf-8")
    cli("step", f, "--epochs", 1, "--save", one, "-q")
    script = cli("export", one, "--to", "pytorch").stdout
    assert "momentum_buffer is −v/α" in script
    assert "['momentum_buffer'] = torch.tensor([[1.0]]" in script  # −(−0.1)/0.1
    zero = tmp_path / "zero.yaml"
    zero.write_text(one.read_text(encoding="utf-8").replace("learning_rate: 0.1", "learning_rate: 0.0"),
                    encoding="utf-8")
    r = cli("export", zero, "--to", "pytorch")
    assert r.exit_code == 2 and "classic momentum" in r.stderr and "Traceback" not in r.stderr


def test_classic_momentum_export_runs_in_torch(cli, tmp_path):
    torch = pytest.importorskip("torch")
    assert torch
    import subprocess
    import sys

    f, one = tmp_path / "s.yaml", tmp_path / "one.yaml"
    f.write_text(CLASSIC.format(wd=", weight_decay: 0.5"), encoding="utf-8")
    cli("step", f, "--epochs", 1, "--save", one, "-q")
    script = tmp_path / "one.py"
    script.write_text(cli("export", one, "--to", "pytorch").stdout, encoding="utf-8")
    out = json.loads(subprocess.run([sys.executable, str(script), "--json"], capture_output=True, text=True,
                                    check=True).stdout)
    assert out["layers"][0]["new_weights"][0][0] == pytest.approx(0.5875, abs=1e-15)  # step 2 by hand


# ------------------------------------------------------------------ input-major weights (item 5)
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "conventions_layout.json"


def _fixture(name: str) -> dict:
    return json.loads(FIXTURES.read_text(encoding="utf-8"))[name]


# By hand: x = [1, 2], W written input-major [[0.1, 0.2], [0.3, 0.4]] (row k = input k), linear, no biases, t = 0,
# half_sse, α = 0.1: z = a·W = [1·0.1 + 2·0.3, 1·0.2 + 2·0.4] = [0.7, 1.0]; δ = z − t = [0.7, 1.0];
# ∂E/∂W (input-major) = aᵀδ = [[0.7, 1.0], [1.4, 2.0]]; W − α·∂E/∂W = [[0.03, 0.1], [0.16, 0.2]].
HAND_IM = """
name: input-major by hand
inputs: [1.0, 2.0]
targets: [0.0, 0.0]
weights_layout: input_major
layers:
  - weights: [[0.1, 0.2], [0.3, 0.4]]
    activation: linear
learning_rate: 0.1
"""


def test_input_major_by_hand(cli, tmp_path):
    import yaml

    f, out = tmp_path / "s.yaml", tmp_path / "next.yaml"
    f.write_text(HAND_IM, encoding="utf-8")
    d = json.loads(cli("run", f, "-f", "json", "--save", out).stdout)
    L = d["layers"][0]
    assert L["z"] == pytest.approx([0.7, 1.0], abs=1e-15)
    assert L["weights"] == [[0.1, 0.3], [0.2, 0.4]]  # JSON: one layout, output-major (row j = neuron j)
    assert np.allclose(L["grad_weights"], [[0.7, 1.4], [1.0, 2.0]], atol=1e-15, rtol=0)
    saved = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert saved["weights_layout"] == "input_major"
    assert np.allclose(saved["layers"][0]["weights"], [[0.03, 0.1], [0.16, 0.2]], atol=1e-15, rtol=0)
    matrix = cli("run", f, "-f", "text", "--view", "matrix").stdout
    assert "z^(2) = a^(1) W^(2)" in matrix and "∂E/∂W^(2) = (a^(1))ᵀ δ^(2)" in matrix
    assert "[1  2] · ⎡0.1  0.2⎤" in matrix  # W written as the spec wrote it, inputs × neurons
    assert "W^(2) ← ⎡0.1  0.2⎤ − 0.1 · ⎡0.7  1⎤ = ⎡0.03  0.1⎤" in matrix


def test_input_major_is_the_same_network_as_output_major(cli, tmp_path):
    spec = _fixture("input_major")["spec"]
    im, om = tmp_path / "im.yaml", tmp_path / "om.yaml"
    im.write_text(spec, encoding="utf-8")
    om.write_text(spec.replace("weights_layout: input_major\n", "")
                  .replace("[[0.1, -0.3, 0.5], [0.2, 0.4, -0.6]]", "[[0.1, 0.2], [-0.3, 0.4], [0.5, -0.6]]")
                  .replace("[[0.7, 0.15], [-0.8, 0.25], [0.9, -0.35]]", "[[0.7, -0.8, 0.9], [0.15, 0.25, -0.35]]"),
                  encoding="utf-8")
    assert cli("run", im, "-f", "json").stdout == cli("run", om, "-f", "json").stdout


def test_input_major_against_torch(cli, tmp_path):
    import yaml

    fx = _fixture("input_major")
    f = tmp_path / "s.yaml"
    f.write_text(fx["spec"], encoding="utf-8")
    d = json.loads(cli("run", f, "-f", "json").stdout)
    first = fx["steps"][0]
    assert d["loss"] == pytest.approx(first["loss"], rel=1e-12)
    for li, (gw, gb) in enumerate([(0, 1), (2, 3)]):
        L = d["layers"][li]
        assert np.allclose(np.array(L["grad_weights"]).T, first["grads"][gw], atol=1e-14, rtol=0)
        assert np.allclose(L["grad_biases"], first["grads"][gb], atol=1e-14, rtol=0)
    # three steps, saved input-major, the buffers too; one step then two more gives the same
    for epochs in (1, 3):
        out = tmp_path / f"e{epochs}.yaml"
        assert cli("step", f, "--epochs", epochs, "--save", out, "-q").exit_code == 0
        saved = yaml.safe_load(out.read_text(encoding="utf-8"))
        want = fx["steps"][epochs - 1]
        for li, pw in enumerate((0, 2)):
            assert np.allclose(saved["layers"][li]["weights"], want["params"][pw], atol=1e-14, rtol=0)
            assert np.allclose(saved["training_state"]["layers"][li]["weights"]["v"], want["momentum_buffers"][pw],
                               atol=1e-14, rtol=0)
    resumed = tmp_path / "resumed.yaml"
    cli("step", tmp_path / "e1.yaml", "--epochs", 2, "--save", resumed, "-q")
    body = resumed.read_text(encoding="utf-8").split("\n", 1)[1]
    assert body == (tmp_path / "e3.yaml").read_text(encoding="utf-8").split("\n", 1)[1]


@pytest.mark.parametrize("weights, words", [
    ("[[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]]", "write it transposed"),  # 3×2 = output-major of 2 inputs, 3 neurons
    ("[[0.1, 0.2, 0.3]]", "one per input"),  # fits neither way
])
def test_input_major_shape_that_does_not_fit_is_one_clear_error(cli, tmp_path, weights, words):
    f = tmp_path / "s.yaml"
    f.write_text(HAND_IM.replace("[[0.1, 0.2], [0.3, 0.4]]", weights), encoding="utf-8")
    r = cli("run", f)
    assert r.exit_code == 2 and "layers[0].weights" in r.stderr and "need 2 row(s)" in r.stderr
    assert words in r.stderr and "Traceback" not in r.stderr


def test_output_major_default_writes_no_layout_key(cli, tmp_path):
    f, out = tmp_path / "s.yaml", tmp_path / "next.yaml"
    f.write_text(HAND_IM.replace("weights_layout: input_major\n", ""), encoding="utf-8")
    cli("run", f, "--save", out, "-q")
    assert "weights_layout" not in out.read_text(encoding="utf-8")


# ------------------------------------------------------------------ one bias shared by a layer (item 9)
# By hand: x = (1, 2), two linear units, W = [[0.1, 0.2], [0.3, 0.4]], one bias b = 0.5 for both, t = (0, 0),
# half_sse, α = 0.1: z_1 = 0.1 + 0.4 + 0.5 = 1.0, z_2 = 0.3 + 0.8 + 0.5 = 1.6; δ = z − t = (1.0, 1.6);
# ∂E/∂b = δ_1 + δ_2 = 2.6, b' = 0.5 − 0.1×2.6 = 0.24; ∂E/∂w_jk = δ_j·a_k = [[1, 2], [1.6, 3.2]].
HAND_SHARED = """
name: shared bias by hand
inputs: [1.0, 2.0]
targets: [0.0, 0.0]
layers:
  - weights: [[0.1, 0.2], [0.3, 0.4]]
    biases: 0.5
    shared_bias: true
    activation: linear
learning_rate: 0.1
"""


def test_shared_bias_by_hand(cli, tmp_path):
    import yaml

    f, out = tmp_path / "s.yaml", tmp_path / "next.yaml"
    f.write_text(HAND_SHARED, encoding="utf-8")
    d = json.loads(cli("run", f, "-f", "json", "--save", out).stdout)
    L = d["layers"][0]
    assert L["shared_bias"] is True and L["biases"] == [0.5]  # JSON keeps the array form, [b]
    assert L["z"] == pytest.approx([1.0, 1.6], abs=1e-15)
    assert L["grad_biases"] == [pytest.approx(2.6, abs=1e-15)]
    assert L["new_biases"] == [pytest.approx(0.24, abs=1e-15)]
    assert np.allclose(L["grad_weights"], [[1.0, 2.0], [1.6, 3.2]], atol=1e-15, rtol=0)
    saved = yaml.safe_load(out.read_text(encoding="utf-8"))["layers"][0]
    assert saved["shared_bias"] is True and saved["biases"] == pytest.approx(0.24, abs=1e-15)  # a single number
    text = cli("run", f, "-f", "text").stdout
    assert "a_1^(1)·w_11^(2) + a_2^(1)·w_12^(2) + b^(2)" in text
    assert "∂E/∂b^(2)" in text and "δ_1^(2) + δ_2^(2)" in text and "1 + 1.6" in text
    update = text.split("Update")[1]
    assert update.count("b^(2)") == 1 and "0.5 − 0.1 × 2.6" in update  # one b row
    explain = cli("explain", f, "--param", "b^(2)", "-f", "text").stdout
    assert "Σ_j δ_j^(2) · 1" in explain and "= 1 + 1.6" in explain and "= 2.6" in explain
    matrix = cli("run", f, "-f", "text", "--view", "matrix").stdout
    assert "∂E/∂b^(2) = Σ_j δ_j" in matrix and "∂E/∂b^(2) = [2.6]" in matrix
    ko = cli("run", f, "-f", "text", "--lang", "ko").stdout
    assert "1 + 1.6" in ko


def test_shared_bias_against_torch(cli, tmp_path):
    import yaml

    fx = _fixture("shared_bias")
    f = tmp_path / "s.yaml"
    f.write_text(fx["spec"], encoding="utf-8")
    d = json.loads(cli("run", f, "-f", "json").stdout)
    first = fx["steps"][0]
    assert d["loss"] == pytest.approx(first["loss"], rel=1e-12)
    assert d["layers"][0]["grad_biases"] == [pytest.approx(first["grads"][1], rel=1e-12)]  # torch's scalar bias
    assert np.allclose(d["layers"][0]["grad_weights"], first["grads"][0], atol=1e-15, rtol=0)
    assert np.allclose(d["layers"][1]["grad_weights"], first["grads"][2], atol=1e-15, rtol=0)
    out = tmp_path / "three.yaml"
    assert cli("step", f, "--epochs", 3, "--save", out, "-q").exit_code == 0
    saved = yaml.safe_load(out.read_text(encoding="utf-8"))
    last = fx["steps"][2]["params"]
    assert saved["layers"][0]["biases"] == pytest.approx(last[1], rel=1e-12)
    assert np.allclose(saved["layers"][0]["weights"], last[0], atol=1e-14, rtol=0)
    assert np.allclose(saved["layers"][1]["biases"], last[3], atol=1e-14, rtol=0)
    again = tmp_path / "again.yaml"  # the saved spec loads and runs: a round trip
    assert cli("run", out, "--save", again, "-q").exit_code == 0
    assert yaml.safe_load(again.read_text(encoding="utf-8"))["layers"][0]["shared_bias"] is True


def test_shared_bias_check_and_graph(cli, tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text(_fixture("shared_bias")["spec"], encoding="utf-8")
    r = cli("check", f, "-f", "text")
    assert r.exit_code == 0 and "all 11 gradients agree" in r.stdout and "b^(2)" in r.stdout
    dot = cli("graph", f, "-f", "dot").stdout
    assert dot.count("{ b^(2) | data 0.35 |") == 1 and "b_2^(2)" not in dot  # one bias node, edges to every z


def test_shared_bias_export_has_a_scalar_bias(cli, tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text(_fixture("shared_bias")["spec"], encoding="utf-8")
    script = cli("export", f, "--to", "pytorch").stdout
    assert "SharedBiasLinear(2, 3)" in script and "self.bias = torch.nn.Parameter(torch.tensor(0.0))" in script
    assert "layers[0].bias.copy_(torch.tensor(0.35, dtype=torch.float64))" in script


def test_shared_bias_export_runs_in_torch(cli, tmp_path):
    pytest.importorskip("torch")
    import subprocess
    import sys

    fx = _fixture("shared_bias")
    f, script = tmp_path / "s.yaml", tmp_path / "s.py"
    f.write_text(fx["spec"], encoding="utf-8")
    script.write_text(cli("export", f, "--to", "pytorch").stdout, encoding="utf-8")
    out = json.loads(subprocess.run([sys.executable, str(script), "--json"], capture_output=True, text=True,
                                    check=True).stdout)
    assert out["layers"][0]["grad_biases"] == [pytest.approx(fx["steps"][0]["grads"][1], rel=1e-12)]
    assert out["layers"][0]["new_biases"] == [pytest.approx(fx["steps"][0]["params"][1], rel=1e-12)]


@pytest.mark.parametrize("change, words", [
    (("biases: 0.5", "biases: [0.5, 0.6]"), "one bias for the whole layer, found 2"),
    (("    biases: 0.5\n", ""), "needs the layer's one bias"),
    (("shared_bias: true", "shared_bias: yes please"), "shared_bias is true or false"),
])
def test_shared_bias_bad_input_is_one_clear_error(cli, tmp_path, change, words):
    f = tmp_path / "s.yaml"
    f.write_text(HAND_SHARED.replace(*change), encoding="utf-8")
    r = cli("run", f)
    assert r.exit_code == 2 and words in r.stderr and "layers[0]" in r.stderr and "Traceback" not in r.stderr


# ------------------------------------------------------------------ docs/conventions.md
SECTIONS = ("Rounding every written number, or cutting digits off", "Momentum written the classic way",
            "Input-major weights", "One bias shared by a layer")


@pytest.mark.parametrize("title", SECTIONS)
def test_conventions_doc_examples_run(cli, tmp_path, title):
    import re

    doc = (Path(__file__).resolve().parent.parent / "docs" / "conventions.md").read_text(encoding="utf-8")
    section = doc.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```yaml\n(.*?)```", section, re.S)
    assert blocks
    for i, text in enumerate(blocks):
        f = tmp_path / f"b{i}.yaml"
        f.write_text(text, encoding="utf-8")
        r = cli("run", f, "--round", "2", "-f", "json")
        assert r.exit_code == 0, r.stderr


@pytest.mark.parametrize("view", ["neurons", "layers"])
def test_shared_bias_rows_give_their_values(view, tmp_path):
    """Each narration row's arithmetic (the ∂E/∂b row's sum over units and samples too), evaluated as text."""
    import bpcalc
    from bpcalc.explain.names import Names
    from bpcalc.explain.notation import Notation
    from bpcalc.explain.numfmt import Fmt
    from bpcalc.registry import LAYERS
    from tests.test_dense_narration import _value

    path = tmp_path / "s.yaml"
    path.write_text(_fixture("shared_bias")["spec"], encoding="utf-8")
    tr = bpcalc.run(str(path))
    f, nt = Fmt(15), Notation.of(tr)
    L, names = tr.layers[0], Names(tr, nt, 0)
    rows = [r for s in range(tr.n) for r in LAYERS["dense"].narrate_forward(L, s, f, names, True, view=view).rows]
    rows += LAYERS["dense"].narrate_grads(L, f, names, True, view=view).rows
    bias = [r for r in rows if r.quantity[0] == "∂E/∂b^(2)"]
    assert len(bias) == 1 and _value(bias[0].numbers) == pytest.approx(bias[0].value, rel=1e-12)
    assert bias[0].value == pytest.approx(_fixture("shared_bias")["steps"][0]["grads"][1], rel=1e-12)
    checked = 0
    for row in rows:
        got = None if row.words or not isinstance(row.numbers, str) else _value(row.numbers)
        if got is not None:
            assert got == pytest.approx(row.value, rel=1e-9, abs=1e-12), (row.quantity, row.numbers)
            checked += 1
    assert checked >= 10


def test_input_major_export_matches_torch(cli, tmp_path):
    pytest.importorskip("torch")
    import subprocess
    import sys

    fx = _fixture("input_major")
    f, script = tmp_path / "s.yaml", tmp_path / "s.py"
    f.write_text(fx["spec"], encoding="utf-8")
    text = cli("export", f, "--to", "pytorch").stdout
    assert "input-major" in text
    script.write_text(text, encoding="utf-8")
    out = json.loads(subprocess.run([sys.executable, str(script), "--json"], capture_output=True, text=True,
                                    check=True).stdout)
    first = fx["steps"][0]
    assert np.allclose(np.array(out["layers"][0]["new_weights"]).T, first["params"][0], atol=1e-14, rtol=0)


def test_round_style_key_reaches_step_explain_and_graph(cli, tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text(STYLE_SPEC + "round_style: truncate\n", encoding="utf-8")
    d = json.loads(cli("step", f, "--epochs", 2, "--round", 2, "-f", "json").stdout)
    assert d["epochs"][0]["run"]["layers"][0]["z"] == [pytest.approx(0.07, abs=1e-12)]  # truncated, not 0.08
    assert "data 0.07" in cli("graph", f, "--round", 2, "-f", "dot").stdout
    assert "z_1^(2)" in cli("explain", f, "--round", 2, "-f", "text").stdout
