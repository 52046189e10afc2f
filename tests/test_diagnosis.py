"""Diagnosis of a wrong hand value: each known mistake, made by hand here (closed forms with math.exp, never
bpcalc's output), is named as that mistake; a value no mistake gives is named as nothing."""

from __future__ import annotations

import json
import math

import pytest
from conftest import NETWORKS, sigmoid

TWO_LAYER = (NETWORKS / "two_layer.yaml").read_text(encoding="utf-8")
HIDDEN = (NETWORKS / "hidden.yaml").read_text(encoding="utf-8")
SIMPLE = (NETWORKS / "simple.yaml").read_text(encoding="utf-8")
XOR = (NETWORKS / "xor.yaml").read_text(encoding="utf-8")
GRAPH = (NETWORKS / "graph_chain.yaml").read_text(encoding="utf-8")

# ---- the single sigmoid neuron (simple) by hand
S = 0.1 * 0.5 + 0.3 * 0.2 + 1.83
A = sigmoid(S)
DELTA = (A - 0.03) * A * (1 - A)
G1 = DELTA * 0.1

# ---- the 2-2-2 network (two_layer) by hand
X, T = (0.05, 0.10), (0.01, 0.99)
W2, B2 = ((0.15, 0.20), (0.25, 0.30)), 0.35
W3, B3 = ((0.40, 0.45), (0.50, 0.55)), 0.60
Z2 = [W2[j][0] * X[0] + W2[j][1] * X[1] + B2 for j in range(2)]
A2 = [sigmoid(z) for z in Z2]
Z3 = [W3[j][0] * A2[0] + W3[j][1] * A2[1] + B3 for j in range(2)]
A3 = [sigmoid(z) for z in Z3]
D3 = [(A3[j] - T[j]) * A3[j] * (1 - A3[j]) for j in range(2)]


def fmt(x: float, d: int = 4) -> str:
    return f"{x:.{d}f}"


def diagnosed(spec: str, expected: dict[str, str], *args: str) -> dict[str, dict | None]:
    """Each expected key's diagnosis, as `run --format json` gives it."""
    from typer.testing import CliRunner

    from bpcalc.cli import app

    text = spec + "\nexpected:\n" + "".join(f"  {k}: {v}\n" for k, v in expected.items())
    r = CliRunner().invoke(app, ["run", "-", "--format", "json", *args], input=text, catch_exceptions=False)
    assert r.exit_code in (0, 1), r.output
    return {item["key"]: item["diagnosis"] for item in json.loads(r.stdout)["expected"]}


def cause(spec: str, key: str, value: float | str, *args: str, **right: str) -> str | None:
    d = diagnosed(spec, {**right, key: value if isinstance(value, str) else fmt(value)}, *args)
    assert all(d[k] is None for k in right)
    return d[key]["cause"] if d[key] else None


def test_missing_activation_derivative():
    assert cause(TWO_LAYER, "δ_1^(3)", A3[0] - T[0]) == "missing_activation_derivative"


def test_derivative_of_wrong_quantity():
    assert cause(SIMPLE, "δ_1^(2)", (A - 0.03) * A) == "derivative_of_wrong_quantity"


def test_used_updated_weights():
    new = [[W3[j][k] - 0.5 * D3[j] * A2[k] for k in range(2)] for j in range(2)]
    grad_a = D3[0] * new[0][0] + D3[1] * new[1][0]
    delta = grad_a * A2[0] * (1 - A2[0])
    assert cause(TWO_LAYER, "δ_1^(2)", fmt(delta, 6), **{"δ_1^(3)": fmt(D3[0])}) == "used_updated_weights"


def test_update_sign_flipped():
    assert cause(SIMPLE, "W1", 0.5 + 0.5 * G1, **{"dE/dW1": fmt(G1)}) == "update_sign_flipped"


def test_update_sign_flipped_on_a_graph():
    """The computational-graph article's own slip: x ← −2 + 0.01·16 = −1.84 instead of −2.16."""
    assert cause(GRAPH, "x", "-1.84", **{"∂L/∂x": "16"}) == "update_sign_flipped"


def test_z_instead_of_a():
    # the hidden z's (1.0, 1.3, 0.8) fed to the output instead of their sigmoids
    assert cause(HIDDEN, "y_hat", 1.0 * 0.3 + 1.3 * 0.5 + 0.8 * 0.9, **{"h1": "1.0"}) == "z_instead_of_a"


def test_factor_of_two_in_the_loss():
    assert cause(SIMPLE, "E", (0.03 - A) ** 2) == "factor_of_two"


def test_factor_of_two_in_the_derivative():
    assert cause(SIMPLE, "δ_1^(2)", 2 * DELTA, **{"E": fmt(0.5 * (0.03 - A) ** 2)}) == "factor_of_two"


def xor_losses() -> list[float]:
    out = []
    for (x1, x2), t in zip([(0, 0), (0, 1), (1, 0), (1, 1)], [0, 1, 1, 0]):
        h1 = sigmoid(0.5 * x1 - 0.4 * x2 + 0.1)
        h2 = sigmoid(0.3 * x1 + 0.8 * x2 - 0.2)
        y = sigmoid(0.7 * h1 - 0.6 * h2 + 0.05)
        out.append(0.5 * (t - y) ** 2)
    return out


def test_sum_instead_of_mean():
    losses = xor_losses()
    assert cause(XOR, "E", sum(losses), **{"E(sample 1)": fmt(losses[0])}) == "sum_instead_of_mean"


def test_missing_bias():
    assert cause(SIMPLE, "σ(S)", sigmoid(0.1 * 0.5 + 0.3 * 0.2)) == "missing_bias"


def test_rounding():
    # σ(1.0), σ(1.3), σ(0.8) rounded to 2 places, then the exact sum of products: 1.235 (1.2332 exact)
    y = round(sigmoid(1.0), 2) * 0.3 + round(sigmoid(1.3), 2) * 0.5 + round(sigmoid(0.8), 2) * 0.9
    assert fmt(y, 3) == "1.235"
    assert cause(HIDDEN, "y_hat", "1.235") == "rounding"


def test_exact_values_under_round_are_rounding():
    assert cause(HIDDEN, "y_hat", "1.2332", "--round", "2") == "rounding"


def test_learning_rate():
    assert cause(SIMPLE, "W1", 0.5 - 0.1 * G1, **{"dE/dW1": fmt(G1)}) == "learning_rate"


@pytest.mark.parametrize("key,value", [("a_1^(3)", "0.1234"), ("δ_2^(2)", "-3.5"), ("w_11^(3)", "0.3333"),
                                       ("E", "0.777")])
def test_a_random_wrong_value_is_not_explained(key, value):
    assert cause(TWO_LAYER, key, value) is None


def test_a_right_value_has_no_diagnosis():
    assert diagnosed(TWO_LAYER, {"a_1^(3)": fmt(A3[0])}) == {"a_1^(3)": None}


def test_later_values_follow_from_the_first(cli):
    wrong = A3[0] - T[0]  # δ without f'(z), then ∂E/∂w = that δ × a_1^(2)
    d = diagnosed(TWO_LAYER, {"δ_1^(3)": fmt(wrong), "∂E/∂w_11^(3)": fmt(wrong * A2[0])})
    assert d["δ_1^(3)"]["cause"] == d["∂E/∂w_11^(3)"]["cause"] == "missing_activation_derivative"
    assert "δ_1^(3)" in d["∂E/∂w_11^(3)"]["explanation"] and "already off" in d["∂E/∂w_11^(3)"]["explanation"]
    text = TWO_LAYER + f"\nexpected:\n  δ_1^(3): {fmt(wrong)}\n  ∂E/∂w_11^(3): {fmt(wrong * A2[0])}\n"
    r = cli("run", "-", "--format", "text", input=text)
    assert r.exit_code == 1
    assert "Your δ_1^(3) is already off; the values after it follow from it." in r.stdout
    check = r.stdout[r.stdout.index("Check my work"):]
    row = next(line for line in check.splitlines() if line.startswith("δ_1^(3)"))
    assert "✗" in row and "derivative f′(z) left out" in row


def test_a_mistake_that_changes_a_right_earlier_value_is_not_offered():
    """σ(S) without the bias, but S written right: the bias was not left out, so nothing explains σ(S)."""
    d = diagnosed(SIMPLE, {"S": "1.94", "σ(S)": fmt(sigmoid(0.11))})
    assert d["σ(S)"] is None


def test_empty_entries_are_not_filled_not_errors(cli):
    r = cli("run", "-", "--format", "json", input=SIMPLE + "\nexpected:\n  S:\n  σ(S): 0.8744\n")
    assert r.exit_code == 0, r.stderr
    items = {i["key"]: i for i in json.loads(r.stdout)["expected"]}
    assert items["S"]["yours"] is None and items["S"]["ok"] is None
    assert items["S"]["correct"] == pytest.approx(1.94)
    assert items["σ(S)"]["ok"] is True
    text = cli("run", "-", "--format", "text", input=SIMPLE + "\nexpected:\n  S:\n").stdout
    assert "not filled" in text and "✗" not in text


def test_unfilled_and_wrong_exit_1(cli):
    r = cli("run", "-", input=SIMPLE + "\nexpected:\n  S:\n  σ(S): 0.5\n")
    assert r.exit_code == 1 and math.isfinite(1.0)


def test_factor_of_two_on_a_graph():
    """L = (t − f)² at f = −12, t = −10: ∂L/∂f = 2(f − t) = −4; the 2 dropped gives −2."""
    assert cause(GRAPH, "∂L/∂f", "-2", **{"f": "-12"}) == "factor_of_two"


def test_random_wrong_values_are_not_explained():
    import random

    rng = random.Random(12)
    values = {key: f"{rng.uniform(-2, 2):.4f}" for key in ("a_1^(3)", "δ_1^(2)", "∂E/∂w_21^(3)", "w_12^(2)", "E")}
    assert diagnosed(TWO_LAYER, values) == dict.fromkeys(values)


# ---- issue 23: work done with the tables' rounded numbers; a mistake in one value only; z as a gradient's factor
MAZUR = (NETWORKS / "mazur.yaml").read_text(encoding="utf-8")
A2_4 = [round(a, 4) for a in A2]  # the numbers as the tables print them, copied by a student
A3_4 = [round(a, 4) for a in A3]


def test_a_mistake_made_with_the_rounded_numbers_is_named_with_them():
    """f′ left out, from the 4-decimal a's: (0.7514 − 0.01) × 0.5933 = 0.4399 (exactly: 0.43983)."""
    by_hand = (A3_4[0] - T[0]) * A2_4[0]
    assert fmt(by_hand) == "0.4399" and fmt((A3[0] - T[0]) * A2[0]) != "0.4399"
    d = diagnosed(TWO_LAYER, {"∂E/∂w_11^(3)": "0.4399"})["∂E/∂w_11^(3)"]
    assert d["cause"] == "missing_activation_derivative"
    assert "rounded to 4 decimals as you wrote them" in d["explanation"]


def test_sigma_for_its_derivative_with_the_rounded_numbers():
    """σ for σ′, from the 4-decimal a: (0.7514 − 0.01) × 0.7514 = 0.5571 (exactly: 0.5570)."""
    by_hand = (A3_4[0] - T[0]) * A3_4[0]
    assert fmt(by_hand) == "0.5571" and fmt((A3[0] - T[0]) * A3[0]) == "0.5570"
    d = diagnosed(TWO_LAYER, {"δ_1^(3)": "0.5571"})["δ_1^(3)"]
    assert d["cause"] == "derivative_of_wrong_quantity"
    assert "rounded to 4 decimals as you wrote them" in d["explanation"]


def test_the_exact_track_says_nothing_of_rounding():
    d = diagnosed(TWO_LAYER, {"δ_1^(3)": fmt((A3[0] - T[0]) * A3[0])})["δ_1^(3)"]
    assert d["cause"] == "derivative_of_wrong_quantity" and "rounded" not in d["explanation"]


def test_rounded_track_text_in_korean(cli):
    text = TWO_LAYER + "\nexpected:\n  δ_1^(3): 0.5571\n"
    r = cli("run", "-", "--format", "text", "--lang", "ko", input=text)
    assert r.exit_code == 1
    assert "쓴 대로 4자리로 반올림한 수로" in r.stdout


def test_a_sign_flipped_in_one_update_while_another_is_right():
    """The most-cited example: w1 ← 0.15 − 0.5·∂E/∂w1 right, w5 ← 0.40 + 0.5·∂E/∂w5 (the published 0.082167)."""
    d_h1 = (D3[0] * W3[0][0] + D3[1] * W3[1][0]) * A2[0] * (1 - A2[0])
    w1 = 0.15 - 0.5 * d_h1 * X[0]
    w5 = 0.40 + 0.5 * D3[0] * A2[0]
    assert f"{w1:.6f}" == "0.149781" and f"{w5:.5f}" == "0.44108"
    assert f"{D3[0] * A2[0]:.6f}" == "0.082167"
    d = diagnosed(MAZUR, {"w1": "0.149781", "w5": "0.44108"})
    assert d["w1"] is None
    assert d["w5"]["cause"] == "update_sign_flipped" and "in this value alone" in d["w5"]["explanation"]


def test_a_sign_flipped_in_a_later_weight_of_the_same_layer():
    """w5 right (earlier in its layer), w6's sign flipped: only a mistake made in w6 alone explains it."""
    w5 = 0.40 - 0.5 * D3[0] * A2[0]
    w6 = 0.45 + 0.5 * D3[0] * A2[1]
    d = diagnosed(MAZUR, {"w5": fmt(w5, 6), "w6": fmt(w6, 6)})
    assert d["w5"] is None and d["w6"]["cause"] == "update_sign_flipped"


def test_f_prime_left_out_of_one_unit_only():
    """δ_o1 right, δ_o2 without σ′: the throughout-the-layer mistake would change δ_o1, written right before it."""
    d = diagnosed(TWO_LAYER, {"δ_1^(3)": fmt(D3[0], 6), "δ_2^(3)": fmt(A3[1] - T[1], 6)})
    assert d["δ_1^(3)"] is None and d["δ_2^(3)"]["cause"] == "missing_activation_derivative"


def test_z_for_a_as_the_gradient_factor():
    """∂E/∂w5 = δ_o1 · net_h1 = 0.138499 × 0.3775 = 0.052283 (instead of δ_o1 · out_h1 = 0.082167), forward right."""
    net_h1 = 0.15 * X[0] + 0.20 * X[1] + 0.35
    assert f"{D3[0] * net_h1:.6f}" == "0.052283"
    d = diagnosed(MAZUR, {"out_o1": fmt(A3[0], 6), "∂E_total/∂w5": "0.052283"})
    assert d["out_o1"] is None
    assert d["∂E_total/∂w5"]["cause"] == "z_instead_of_a"
    assert "δ·z instead of δ·a" in d["∂E_total/∂w5"]["explanation"]


def test_a_mistake_made_from_the_students_own_earlier_value():
    """δ_o1 miscopied as 0.1358 (the published 0.138499), then w5 ← 0.40 + 0.5 × 0.1358 × out_h1: the sign flip
    is named from the student's own δ."""
    w5 = 0.40 + 0.5 * 0.1358 * A2[0]
    assert f"{w5:.6f}" == "0.440283"
    d = diagnosed(MAZUR, {"δ_o1": "0.1358", "w5": "0.440283"})
    assert d["δ_o1"] is None
    assert d["w5"]["cause"] == "update_sign_flipped" and "from the values you wrote" in d["w5"]["explanation"]


def test_a_value_right_from_the_students_own_earlier_value_is_no_mistake():
    """w5 ← 0.40 − 0.5 × 0.1358 × out_h1 is right from the miscopied δ: no mistake of its own is named."""
    d = diagnosed(MAZUR, {"δ_o1": "0.1358", "w5": f"{0.40 - 0.5 * 0.1358 * A2[0]:.6f}"})
    assert d["w5"] is None
