"""Check my work (`expected:`): pass, fail and unknown keys, through the CLI and the library.

The correct values are worked out here by hand (math.exp), never taken from bpcalc's output."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import pytest
from conftest import run_dict, sigmoid

# seed 000 by hand
X1, X2, W1, W2, B, T, LR = 0.1, 0.3, 0.5, 0.2, 1.83, 0.03, 0.5
S = X1 * W1 + X2 * W2 + B
A = sigmoid(S)
E = 0.5 * (T - A) ** 2
DELTA = (A - T) * A * (1 - A)
G1 = DELTA * X1
NEW_W1 = W1 - LR * G1

SEED_000 = """
name: Single sigmoid neuron
inputs: [0.1, 0.3]
targets: [0.03]
input_labels: [X1, X2]
layers:
  - weights: [[0.5, 0.2]]
    biases: [1.83]
    activation: sigmoid
    labels: {weights: [[W1, W2]], biases: [b], z: [S]}
loss: half_sse
learning_rate: 0.5
"""

SEED_003 = """
variables: {x: -2, y: 5, z: -4}
nodes:
  q: x + y
  f: q * z
output: f
target: -10
loss: sse
learning_rate: 0.01
"""


def with_expected(spec: str, lines: dict[str, str]) -> str:
    return spec + "expected:\n" + "".join(f"  {k}: {v}\n" for k, v in lines.items())


def check(spec_text: str, **kw):
    import bpcalc
    from bpcalc.engine.trace import trace_to_dict
    from bpcalc.explain.expected import check_expected

    spec = bpcalc.parse_spec(spec_text)
    return check_expected(spec, trace_to_dict(bpcalc.run(spec, **kw)))


# ------------------------------------------------------------------------------ the tolerance rule
@pytest.mark.parametrize("text,value,decimals", [
    ("0.50", 0.5, 2), ("16", 16.0, 0), ("-0.125", -0.125, 3), ("1.5e-3", 0.0015, 4), ("2e3", 2000.0, -3),
    ("1.20E+1", 12.0, 1), (None, 0.25, 2), (None, 16.0, 1),
])
def test_decimals_as_written(text, value, decimals):
    from bpcalc.explain.expected import decimals_written

    assert decimals_written(text, value) == decimals


@pytest.mark.parametrize("yours,correct,decimals,ok", [
    (0.8744, A, 4, True),  # σ(1.94) = 0.874352… rounds to 0.8744
    (0.8743, A, 4, False),  # cut off, not rounded (the article's figure)
    (0.87, A, 2, True),
    (0.874, A, 3, True),
    (0.8745, A, 4, False),
    (0.50, 0.4954, 2, True),  # "0.50" allows ±0.005
    (0.50, 0.5051, 2, False),
    (0.5, 0.5451, 1, True),  # "0.5" allows ±0.05
    (16.0, 16.4, 0, True),
    (16.0, 16.6, 0, False),
    (-2.16, -2.16, 2, True),
    (-1.84, -2.16, 2, False),
    (0.123456789, 0.1234567891234, 9, True),
    (0.12345679, 0.1234567, 8, True),  # agrees to a relative 1e-6 (a float32 copy)
    (0.1235, 0.12345, 4, True),  # a tie rounds either way
    (1.235, 1.2349999999999999, 3, True),  # float noise of an exact sum
])
def test_agrees(yours, correct, decimals, ok):
    from bpcalc.explain.expected import agrees

    assert agrees(yours, correct, decimals) is ok


def test_trailing_zeros_count_as_written():
    from bpcalc.explain.expected import check_expected

    data = {"v": 0.4954, "w": 0.4954}
    spec = SimpleNamespace(expected={"v": 0.5, "w": 0.5}, expected_written={"v": (3, "0.50"), "w": (4, "0.500")})
    res = {r.key: r for r in check_expected(spec, data)}
    assert res["v"].ok and not res["w"].ok
    assert res["w"].difference == pytest.approx(0.5 - 0.4954)


# ------------------------------------------------------------------------------ keys: paths and display names
def test_display_names_and_paths_resolve_to_the_right_numbers():
    names = {
        "S": S, "z_1^(2)": S, "layers.0.z.0": S,
        "σ(S)": A, "a_1^(2)": A, "layers.0.a.0": A,
        "E": E, "loss": E,
        "δ_S": DELTA, "delta_1^(2)": DELTA, "∂E/∂S": DELTA,
        "dE/dW1": G1, "∂E/∂W1": G1, "∂E/∂w_11^(2)": G1, "layers.0.grad_weights.0.0": G1,
        "W1": NEW_W1, "w_11^(2)": NEW_W1, "W1 new": NEW_W1, "layers.0.new_weights.0.0": NEW_W1,
        "b": B - LR * DELTA,
    }
    spec = with_expected(SEED_000, {f'"{k}"': repr(v) for k, v in names.items()})
    res = check(spec)
    assert len(res) == len(names)
    for r in res:
        assert r.ok, r
        assert r.correct == pytest.approx(names[r.key], rel=1e-14)


def test_graph_keys_seed_003():
    res = {r.key: r for r in check(with_expected(SEED_003, {
        "x": "-1.84", "variables.x.new_value": "-2.16", "dL/dx": "16", "∂L/∂y": "16", "∂L/∂z": "-12",
        "nodes.q.value": "3", "f": "-12", "loss": "4"}))}
    # L = (t − f)² with f = (x + y)z = −12, t = −10: L = 4, ∂L/∂f = 2(f − t) = −4
    # ∂L/∂x = ∂L/∂f · z = 16, ∂L/∂z = ∂L/∂f · q = −12, x ← −2 − 0.01·16 = −2.16
    assert not res["x"].ok and res["x"].correct == pytest.approx(-2.16) and res["x"].difference == pytest.approx(
        0.32)
    for k in ("variables.x.new_value", "dL/dx", "∂L/∂y", "∂L/∂z", "nodes.q.value", "f", "loss"):
        assert res[k].ok, res[k]


def test_several_samples_put_the_sample_axis_first():
    spec = """
inputs: [[0, 0], [1, 2]]
targets: [[0], [1]]
layers:
  - weights: [[0.5, -0.4]]
    biases: [0.1]
    activation: sigmoid
"""
    a2 = sigmoid(0.5 * 1 - 0.4 * 2 + 0.1)
    res = check(with_expected(spec, {"layers.0.a.1.0": f"{a2:.6f}", '"a_1^(2) (sample 2)"': f"{a2:.3f}",
                                     "layers.0.a": f"[[{sigmoid(0.1):.4f}], [{a2:.4f}]]"}))
    assert [r.key for r in res] == ["layers.0.a.1.0", "a_1^(2) (sample 2)", "layers.0.a.0.0", "layers.0.a.1.0"]
    assert all(r.ok for r in res)
    assert res[-1].correct == pytest.approx(a2, rel=1e-14)


# ------------------------------------------------------------------------------ the CLI: exit codes 0, 1, 2
def test_all_right_exit_0(cli, tmp_path):
    p = tmp_path / "mine.yaml"
    p.write_text(with_expected(SEED_000, {"S": "1.94", "a_1^(2)": f"{A:.4f}", "W1": f"{NEW_W1:.4f}"}), "utf-8")
    res = cli("run", p, "--format", "text")
    assert res.exit_code == 0, res.stderr
    section = res.stdout[res.stdout.index("Check my work"):]
    assert "✓ all 3 values right" in section and "✗" not in section


def test_a_wrong_value_exits_1_after_printing_everything(cli, tmp_path):
    p = tmp_path / "mine.yaml"
    p.write_text(with_expected(SEED_000, {"S": "1.94", "a_1^(2)": "0.8743", "loss": f"{E:.5f}"}), "utf-8")
    res = cli("run", p, "--format", "text")
    assert res.exit_code == 1
    out = res.stdout
    assert "Forward pass" in out and "After the update" in out and "Check my work" in out
    row = next(ln.split() for ln in out[out.index("Check my work"):].splitlines() if ln.startswith("a_1^(2)"))
    assert row[-1] == "✗" and row[-4] == "0.8743" and row[-3] == f"{A:.5f}"
    assert "1 of 3 values wrong: a_1^(2)" in out

    js = cli("run", p, "--format", "json")
    assert js.exit_code == 1
    exp = {e["key"]: e for e in json.loads(js.stdout)["expected"]}
    assert set(exp["a_1^(2)"]) >= {"key", "yours", "correct", "difference", "ok"}
    assert exp["a_1^(2)"]["ok"] is False and exp["S"]["ok"] is True and exp["loss"]["ok"] is True
    assert exp["a_1^(2)"]["correct"] == pytest.approx(A, rel=1e-14)
    assert exp["a_1^(2)"]["difference"] == pytest.approx(0.8743 - A, rel=1e-9)
    assert exp["a_1^(2)"]["path"] == "layers.0.a.0"

    quiet = cli("run", p, "--quiet")
    assert quiet.exit_code == 1 and quiet.stdout == ""


def test_unknown_key_exits_2_with_close_matches(cli, tmp_path):
    p = tmp_path / "mine.yaml"
    p.write_text(with_expected(SEED_000, {"a_1^(3)": "0.87", "S": "1.94"}), "utf-8")
    res = cli("run", p)
    assert res.exit_code == 2
    assert res.stdout == ""
    assert "Traceback" not in res.stderr
    err = res.stderr
    assert "unknown quantity `a_1^(3)`" in err and "expected.a_1^(3)" in err
    assert "did you mean" in err and "`a_1^(2)`" in err
    assert f"{p}:" in err  # the file and line of the key


def test_unknown_dotted_path_suggests_paths(cli, tmp_path):
    p = tmp_path / "mine.yaml"
    p.write_text(with_expected(SEED_000, {"layers.0.new_weight.0.0": "0.5"}), "utf-8")
    res = cli("run", p)
    assert res.exit_code == 2
    assert "layers.0.new_weights.0.0" in res.stderr


@pytest.mark.parametrize("key,value,words", [
    ("layers", "3", "group of quantities"),
    ("layers.0.a", "[0.5, 0.6]", "a list of 1 number"),
])
def test_groups_and_wrong_shapes_exit_2(cli, tmp_path, key, value, words):
    p = tmp_path / "mine.yaml"
    p.write_text(with_expected(SEED_000, {key: value}), "utf-8")
    res = cli("run", p)
    assert res.exit_code == 2 and words in res.stderr and "Traceback" not in res.stderr


def test_expected_against_the_hand_rounded_step(cli, tmp_path):
    """Seed 001's ŷ = 1.235 is right for --round 2 and wrong against the exact 1.2332."""
    from bpcalc.spec.bundled import bundled_text

    p = tmp_path / "hidden.yaml"
    p.write_text(with_expected(bundled_text("hidden"), {"y_hat": "1.235", '"σ(h1)"': "0.73"}), "utf-8")
    rounded = cli("run", p, "--round", "2")
    assert rounded.exit_code == 0, rounded.stdout
    exact = cli("run", p)
    assert exact.exit_code == 1
    assert "1 of 2 values wrong: y_hat" in exact.stdout  # σ(1) = 0.7311 does round to 0.73


def test_runs_without_expected_carry_no_expected_key():
    assert "expected" not in run_dict("simple")


def test_check_and_attach_adds_table_and_json():
    import bpcalc
    from bpcalc.engine.trace import trace_to_dict
    from bpcalc.explain.expected import exit_code
    from bpcalc.render.doc import Doc
    from bpcalc.render.expected_report import check_and_attach

    spec = bpcalc.parse_spec(with_expected(SEED_000, {"S": "1.95"}))
    data = trace_to_dict(bpcalc.run(spec))
    doc = Doc()
    results = check_and_attach(spec, data, doc)
    assert exit_code(results) == 1
    assert data["expected"][0]["ok"] is False and data["expected"][0]["correct"] == pytest.approx(S)
    assert any(getattr(b, "text", None) == "Check my work" for b in doc.blocks)
    assert math.isclose(results[0].difference, 1.95 - S, rel_tol=1e-9)
