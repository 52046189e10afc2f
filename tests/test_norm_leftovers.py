"""The norm kinds' leftovers (issue 19): worksheets name γ and β with their layer, batchnorm's three paths under
--round N (every style), layernorm under every style, and a seeded dropout drawing a fresh mask each training step.
Expected numbers are worked out here by hand (closed forms, rounded as a person writes them), never taken from
bpcalc's output."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

TWO_NORMS = {"inputs": [[0.3, 0.1], [0.8, -0.4], [-0.2, 0.5]], "targets": [[0.0], [1.0], [0.5]],
             "learning_rate": 0.5,
             "layers": [{"type": "batchnorm", "gamma": [1.5, 0.5], "beta": [0.2, 0.1]},
                        {"type": "dense", "weights": [[1.2, -0.7], [0.4, 0.9]], "biases": [0.1, -0.2]},
                        {"type": "batchnorm", "gamma": [0.8, 1.1], "beta": [0.05, -0.1]},
                        {"type": "dense", "weights": [[0.5, -0.3]], "biases": [0.0], "activation": "linear"}]}


def _write(tmp_path: Path, spec: dict, name: str = "s") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False, default_flow_style=None, allow_unicode=True))
    return path


def _ok(r) -> str:
    assert r.exit_code == 0, r.stderr
    return r.stdout


def _given(text: str) -> str:
    """The worksheet's Given table (up to the first section heading after it)."""
    start = text.index("\n", text.index("Given" if "Given" in text else "주어진"))
    return text[start:start + text[start:].index("\n\n", 200)]


# ---------------------------------------------------------------- worksheets: γ and β with their layer
@pytest.mark.parametrize("notation, layers", [("standard", ("(2)", "(4)")), ("ng", ("[1]", "[3]"))])
@pytest.mark.parametrize("answers", [False, True], ids=["sheet", "key"])
def test_worksheet_names_gamma_and_beta_with_their_layer(cli, tmp_path, notation, layers, answers):
    """Two batchnorm layers: the Given table names γ_1^(2) and γ_1^(4) (ng: γ_1^[1], γ_1^[3]), as the run tables
    do, never a bare γ_1 that both layers would share."""
    spec = {**TWO_NORMS, **({"notation": notation} if notation != "standard" else {})}
    path = _write(tmp_path, spec)
    text = _ok(cli("worksheet", str(path), *(["--answers"] if answers else [])))
    given = _given(text)
    first, second = layers
    for sym, (one, two) in (("γ", ("1.5", "0.8")), ("β", ("0.2", "0.05"))):
        assert f"{sym}_1^{first} = {one}" in given
        assert f"{sym}_1^{second} = {two}" in given
        assert not re.search(rf"{sym}_1 =", given)
    run = _ok(cli("run", str(path)))
    assert f"γ_1^{first}" in run and f"γ_1^{second}" in run  # (the run tables' names: the same)


def test_worksheet_in_korean_names_gamma_with_its_layer(cli, tmp_path):
    path = _write(tmp_path, TWO_NORMS)
    text = _ok(cli("worksheet", str(path), env={"LANGUAGE": "ko"}))
    assert "γ_2^(2) = 0.5" in text and "γ_2^(4) = 1.1" in text and "β_2^(4) = -0.1" in text
    assert not re.search(r"γ_\d =", text)


def test_worksheet_names_layernorm_gamma_with_its_layer(cli, tmp_path):
    spec = {"inputs": [[0.3, 0.1, 0.5]], "targets": [[1.0, 0.0, 0.0]],
            "layers": [{"type": "layernorm", "gamma": [1.5, 0.5, 1.0]}, {"type": "dense", "weights": [[1, 0, 0]] * 3,
                                                                        "biases": [0, 0, 0]},
                       {"type": "layernorm"}]}
    text = _given(_ok(cli("worksheet", str(_write(tmp_path, spec)))))
    assert "γ_2^(2) = 0.5" in text and "γ_3^(4) = 1" in text and "β_1^(4) = 0" in text
