"""A table column never mixes fixed and scientific notation (0.0000012194 beside 8.03273e-7): once one number of a
numeric column is scientific, all are, with the digits they had. Expected texts are written out by hand; the
gradients of the deep chain below come from the test's own forward and backward pass."""

from __future__ import annotations

import re

import pytest
from conftest import sigmoid

from bpcalc.render.doc import Doc, as_scientific

SCI = re.compile(r"-?\d(\.\d+)?e-?\d+$")


@pytest.mark.parametrize(("plain", "sci"), [
    ("0.0000012194", "1.2194e-6"), ("-0.5933", "-5.933e-1"), ("1234.5", "1.2345e3"), ("-12.50", "-1.250e1"),
    ("0.1000", "1.000e-1"), ("7", "7e0"), ("0", "0"), ("-0", "-0"), ("8.033e-7", "8.033e-7"),
    ("undefined", "undefined"), ("", ""), ("✓ relative", "✓ relative"),
])
def test_a_plain_number_keeps_its_digits_in_scientific_notation(plain, sci):
    assert as_scientific(plain) == sci


def test_one_scientific_number_makes_its_column_scientific_above_and_below():
    doc = Doc()
    t = doc.table("t", ["name", "value", "note"], {1})
    t.add("a", "0.0000012194", "0.5")
    t.add("b", "8.033e-7", "0.25")
    t.add("c", "0.5933", "1.5e-9")  # the note column is no numeric one: left as written
    assert [r[1] for r in t.rows] == ["1.2194e-6", "8.033e-7", "5.933e-1"]
    assert [r[2] for r in t.rows] == ["0.5", "0.25", "1.5e-9"]


def test_a_column_of_plain_numbers_stays_plain():
    t = Doc().table("t", ["name", "value"], {1})
    for v in ("0.0000012194", "0.5933", "12.5"):
        t.add("x", v)
    assert [r[1] for r in t.rows] == ["0.0000012194", "0.5933", "12.5"]


def _chain(n: int, w: float, b: float) -> list[tuple[float, float]]:
    """(∂E/∂w, ∂E/∂b) per layer of a 1-1-…-1 sigmoid chain, input 1, target 0, half_sse: by hand."""
    a = [1.0]
    for _ in range(n):
        a.append(sigmoid(w * a[-1] + b))
    delta = (a[-1] - 0.0) * a[-1] * (1 - a[-1])
    grads = []
    for li in range(n, 0, -1):
        grads.append((delta * a[li - 1], delta))
        delta = delta * w * a[li - 1] * (1 - a[li - 1])
    return grads[::-1]


def test_the_gradient_check_table_does_not_mix_notations(cli, tmp_path):
    layer = "  - {weights: [[0.3]], biases: [0.1], activation: sigmoid}\n"
    spec = tmp_path / "deep.yaml"
    spec.write_text("inputs: [1]\ntargets: [0]\nlayers:\n" + layer * 6, encoding="utf-8")
    out = cli("check", spec, "-f", "text").stdout
    rows = [line.split() for line in out.splitlines() if re.match(r"[wb]_11?\^\(\d\)", line)]
    expected = [g for pair in _chain(6, 0.3, 0.1) for g in pair]
    assert len(rows) == 12 and min(expected) < 1e-6 < max(expected)  # the column spans the 1e-6 switch
    for row, g in zip(rows, expected):
        backprop, numerical = row[1], row[2]
        assert SCI.match(backprop) and SCI.match(numerical), row
        assert float(backprop) == pytest.approx(g, rel=1e-5)
