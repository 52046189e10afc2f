"""Hand rounding (`--round N`): seed 001's printed figures, and where the rounded step departs from the exact one.

Expected numbers are worked out here by hand (math.exp and Decimal rounding), never taken from bpcalc."""

from __future__ import annotations

import json
import math
import re
from decimal import ROUND_HALF_UP, Decimal

import pytest
from conftest import run_dict, sigmoid


def r(x: float, n: int) -> float:
    """Round half away from zero to n decimals, as on paper."""
    return float(Decimal(repr(x)).quantize(Decimal(1).scaleb(-n), rounding=ROUND_HALF_UP))


# seed 001: x = (1, 1), hidden weights (0.8, 0.2), (0.4, 0.9), (0.3, 0.5), output weights (0.3, 0.5, 0.9), t = 0
H = [0.8 + 0.2, 0.4 + 0.9, 0.3 + 0.5]
W2 = [0.3, 0.5, 0.9]
LR = 0.1


def seed_001_by_hand(n: int | None):
    """The forward and backward pass of seed 001 with σ rounded to n places (None: exact)."""
    s = [sigmoid(h) if n is None else r(sigmoid(h), n) for h in H]
    y = sum(w * a for w, a in zip(W2, s))
    E = 0.5 * y * y
    g2 = [y * a for a in s]
    d_hid = [y * w * a * (1 - a) for w, a in zip(W2, s)]
    return s, y, E, g2, d_hid


def forward_rows(text: str) -> dict[str, list[str]]:
    """The forward-pass table's rows, by their first cell."""
    part = text[text.index("Forward pass"):text.index("\nLoss\n")]
    return {ln.split()[0]: ln.split() for ln in part.splitlines() if ln.strip()}


def test_round_helper_is_half_away_from_zero():
    from bpcalc.engine.rounding import rounder

    rnd = rounder(2)
    assert rnd(0.125) == 0.13 and rnd(-0.125) == -0.13 and rnd(0.7310585) == 0.73
    assert rounder(1)(0.25) == 0.3 and rounder(0)(2.5) == 3.0
    assert rounder(None) is None


def test_seed_001_sigma_values_and_y_hat_with_round_2():
    s, y, E, g2, d_hid = seed_001_by_hand(2)
    assert s == [0.73, 0.79, 0.69]  # the article's σ(h) values
    assert y == pytest.approx(1.235, abs=1e-12)  # the article's ŷ: 0.73×0.3 + 0.79×0.5 + 0.69×0.9
    d = run_dict("hidden", round_to=2)
    L1, L2 = d["layers"]
    assert L1["z"] == pytest.approx(H, abs=1e-12)  # sums of products: not rounded
    assert L1["a"] == [0.73, 0.79, 0.69]
    assert L2["z"][0] == pytest.approx(1.235, abs=1e-12)  # not rounded to 1.24: ŷ is a sum of products
    assert L2["a"][0] == pytest.approx(1.235, abs=1e-12)
    assert d["loss"] == pytest.approx(E, abs=1e-12)
    assert L2["grad_weights"][0] == pytest.approx(g2, abs=1e-12)
    assert L1["delta"] == pytest.approx(d_hid, abs=1e-12)
    assert L1["local"] == pytest.approx([0.73 * 0.27, 0.79 * 0.21, 0.69 * 0.31], abs=1e-12)
    assert L2["new_weights"][0] == pytest.approx([w - LR * g for w, g in zip(W2, g2)], abs=1e-12)


def test_seed_001_full_precision_is_1_2332():
    _, y, *_ = seed_001_by_hand(None)
    assert round(y, 4) == 1.2332
    assert run_dict("hidden")["layers"][1]["z"][0] == pytest.approx(y, rel=1e-14)
    assert "rounding" not in run_dict("hidden")  # only a rounded run carries the comparison


def test_printed_figures_of_seed_001(cli):
    res = cli("run", "hidden", "--round", "2", "--format", "text")
    assert res.exit_code == 0, res.stderr
    rows = forward_rows(res.stdout)
    assert rows["σ(h1)"][-1] == "0.73" and rows["σ(h2)"][-1] == "0.79" and rows["σ(h3)"][-1] == "0.69"
    assert rows["y_hat"][-1] == "1.235"
    assert "0.73×0.3 + 0.79×0.5 + 0.69×0.9" in res.stdout  # the article's line, with its numbers
    assert "Hand rounding to 2 decimals" in res.stdout


def test_departures_in_json_largest_first_with_exact_values(cli):
    s_r, y_r, E_r, g2_r, _ = seed_001_by_hand(2)
    s_x, y_x, E_x, g2_x, _ = seed_001_by_hand(None)
    res = cli("run", "hidden", "--round", "2", "--format", "json")
    assert res.exit_code == 0, res.stderr
    d = json.loads(res.stdout)
    # the contract keys of issue 2 stay as they are
    assert {"kind", "loss", "loss_after", "layers"} <= set(d)
    assert set(d["layers"][0]) >= {"z", "a", "delta", "grad_weights", "grad_biases", "new_weights", "new_biases"}
    rd = d["rounding"]
    assert rd["decimals"] == 2
    deps = {x["key"]: x for x in rd["departures"]}
    diffs = [abs(x["difference"]) for x in rd["departures"]]
    assert diffs == sorted(diffs, reverse=True)
    for x in rd["departures"]:
        assert x["difference"] == pytest.approx(x["rounded"] - x["exact"], abs=1e-15)
    y = deps["layers.1.z.0"]
    assert y["rounded"] == pytest.approx(1.235, abs=1e-12) and y["exact"] == pytest.approx(y_x, rel=1e-14)
    assert deps["loss"]["rounded"] == pytest.approx(E_r, abs=1e-12)
    assert deps["loss"]["exact"] == pytest.approx(E_x, rel=1e-14)
    for j in range(3):
        a = deps[f"layers.0.a.{j}"]
        assert a["rounded"] == s_r[j] and a["exact"] == pytest.approx(s_x[j], rel=1e-14)
        g = deps[f"layers.1.grad_weights.0.{j}"]
        assert g["difference"] == pytest.approx(g2_r[j] - g2_x[j], abs=1e-12)
    # where it departs: σ(h1) is the first number computed differently
    assert rd["first"]["key"] == "layers.0.a.0" and rd["first"]["name"] == "σ(h1)"
    # the hidden z's are sums of products of given numbers: the same on both paths
    assert not any(k.startswith("layers.0.z.") for k in deps)
    # the largest departure of seed 001 is ∂E/∂w_12^(3) = ŷ·σ(h2): 1.235×0.79 vs 1.2332×0.7858
    best = max(range(3), key=lambda j: abs(g2_r[j] - g2_x[j]))
    assert rd["departures"][0]["key"] == f"layers.1.grad_weights.0.{best}"


def test_departures_section_in_text(cli):
    res = cli("run", "hidden", "--round", "2", "--format", "text")
    out = res.stdout
    assert "Hand rounding vs exact (2 decimals)" in out
    section = out[out.index("Hand rounding vs exact"):]
    assert "first departs at σ(h1): 0.73 instead of 0.7311" in section
    lines = [ln.split() for ln in section.splitlines()]
    row = next(ln for ln in lines if ln and ln[0] == "y_hat")
    assert row[1:] == ["1.235", "1.2332", "0.001788"]
    assert "quantity" in section and "rounded" in section and "exact" in section and "difference" in section


def test_graph_rounding_seed_004(cli):
    """y = (exp(x²))² at x = 0.5: b = e^0.25 is read off as 1.28; squares and products are exact."""
    b = r(math.exp(0.25), 2)
    assert b == 1.28
    y = b * b
    dydx = 2 * b * b * (2 * 0.5)  # dy/db · db/da (= b, the exp's own value) · da/dx
    d = run_dict("composite", round_to=2)
    assert d["nodes"]["a"]["value"] == 0.25
    assert d["nodes"]["b"]["value"] == 1.28
    assert d["nodes"]["y"]["value"] == pytest.approx(y, abs=1e-12)
    assert d["variables"]["x"]["grad"] == pytest.approx(dydx, abs=1e-12)
    exact = 2 * math.exp(0.25) ** 2 * 2 * 0.5
    dep = {x["key"]: x for x in d["rounding"]["departures"]}
    assert dep["variables.x.grad"]["exact"] == pytest.approx(exact, rel=1e-14)
    assert d["rounding"]["first"]["key"] == "nodes.b.value"


def test_quotients_and_batch_means_are_rounded():
    """cross-entropy's −t/a is a quotient (rounded); with 4 samples ∂E/∂a carries /4 (rounded)."""
    spec = """
inputs: [[1, 0], [0, 1], [1, 1], [0, 0]]
targets: [[1], [0], [1], [0]]
layers:
  - weights: [[0.3, -0.2]]
    biases: [0.1]
    activation: sigmoid
loss: half_sse
learning_rate: 0.5
"""
    d = run_dict(spec, round_to=2)
    a = [r(sigmoid(z), 2) for z in (0.4, -0.1, 0.2, 0.1)]
    assert d["layers"][0]["a"] == [[v] for v in a]
    t = [1, 0, 1, 0]
    assert [row[0] for row in d["layers"][0]["grad_a"]] == [r((ai - ti) / 4, 2) for ai, ti in zip(a, t)]
    assert d["loss"] == r(sum(0.5 * (ti - ai) ** 2 for ai, ti in zip(a, t)) / 4, 2)


def test_many_decimals_agree_with_exact():
    d = run_dict("two_layer", round_to=15)
    assert d["rounding"]["departures"] == []
    assert d["rounding"]["compared"] > 20


def test_relu_and_linear_layers_are_not_rounded():
    spec = """
inputs: [0.123, 0.456]
targets: [0.5]
layers:
  - weights: [[0.11, 0.22]]
    activation: relu
loss: half_sse
learning_rate: 0.1
"""
    d = run_dict(spec, round_to=2)
    z = 0.123 * 0.11 + 0.456 * 0.22
    assert d["layers"][0]["a"][0] == pytest.approx(z, abs=1e-15)  # relu(z) = z: nothing to round
    assert d["rounding"]["departures"] == []


def test_display_shows_the_rounded_decimals_even_with_low_precision(cli):
    res = cli("run", "hidden", "--round", "3", "--precision", "2", "--format", "text")
    assert res.exit_code == 0
    rows = forward_rows(res.stdout)
    assert rows["σ(h1)"][-1] == f"{r(sigmoid(1.0), 3):g}"


def test_a_departure_is_shown_with_the_digits_that_make_it_one(cli):
    """two_layer at 4 decimals: σ(0.3775) = 0.593269… is written 0.5933; shown at 4 digits the two would read
    alike ("0.5933 instead of 0.5933"), so the exact value gets the digit that differs."""
    out = cli("run", "two_layer", "--round", "4", "--format", "text").stdout
    section = out[out.index("Hand rounding vs exact"):]
    exact_a = sigmoid(0.05 * 0.15 + 0.1 * 0.2 + 0.35)
    assert f"first departs at a_1^(2): 0.5933 instead of {r(exact_a, 5):.5f} (by" in section
    rows = [line.split() for line in section.splitlines() if line[:1] in "aδ∂Ez" and len(line.split()) >= 4]
    assert len(rows) >= 10
    for row in rows:  # quantity names may hold a space ("a_1^(3) after"): the three numbers are the last ones
        rounded, exact = row[-3], row[-2]
        assert rounded != exact, row


@pytest.mark.parametrize("precision", [(), ("-p", "6")])
def test_explain_and_graph_show_hand_rounded_numbers_as_run_does(cli, precision):
    """Under --round, --precision is significant digits (raised to the rounding's decimals) in every view: the
    seed 001 chain rule reads 1.235 · 1 · 0.73 (σ(h1) = σ(1) to 2 decimals, ŷ = 1.235, t = 0), not 1.2350 ·
    1.0000 · 0.7300 (or 1.235000 with -p 6) as explain and graph wrote it."""
    s1 = r(sigmoid(0.8 + 0.2), 2)
    assert s1 == 0.73
    out = cli("explain", "hidden", "--round", "2", "--param", "w_11^(3)", "-f", "text", *precision).stdout
    assert "= 1.235 · 1 · 0.73\n" in out, out
    dot = cli("graph", "hidden", "--round", "2", "-f", "dot", *precision).stdout
    assert "0.73" in dot and not re.search(r"\d\.\d*0\b", dot), dot


# ------------------------------------------------------------------ rounding styles (--round-style)
STYLE_SPEC = """
inputs: [1.0]
targets: [0]
layers:
  - {weights: [[0.129]], biases: [-0.0521], activation: linear}
loss: half_sse
learning_rate: 0.1
"""


@pytest.mark.parametrize("style, z, b_new", [
    ("calculator", 0.0769, -0.0521 - 0.1 * 0.0769),  # sums exact: z = 0.129 − 0.0521; b − α·δ with δ = z − 0
    ("every", 0.08, -0.06),  # z written 0.08; b − 0.1×0.08 = −0.0601, written −0.06
    ("truncate", 0.07, -0.05),  # z cut to 0.07; b − 0.1×0.07 = −0.0591, cut toward zero to −0.05
])
def test_round_style_every_and_truncate_go_on_from_the_written_numbers(cli, tmp_path, style, z, b_new):
    f = tmp_path / "s.yaml"
    f.write_text(STYLE_SPEC, encoding="utf-8")
    d = json.loads(cli("run", f, "--round", "2", "--round-style", style, "-f", "json").stdout)
    assert d["layers"][0]["z"][0] == pytest.approx(z, abs=1e-12)
    assert d["layers"][0]["new_biases"][0] == pytest.approx(b_new, abs=1e-12)


def test_round_style_needs_round_and_a_known_style(cli):
    assert cli("run", "simple", "--round-style", "truncate").exit_code == 2
    r = cli("run", "simple", "--round", "2", "--round-style", "sometimes")
    assert r.exit_code == 2 and "calculator, every, truncate" in r.stderr
