"""Issue 20's conventions: the spec key round_style, classic momentum, input-major weights, a shared bias.

Expected values are derived by hand in the comments (closed forms) or come from PyTorch float64 fixtures written
by scripts/conventions_layout_fixtures.py (tests/fixtures/conventions_layout.json)."""

from __future__ import annotations

import json

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
