"""`bpcalc worksheet`: the givens filled in, every quantity to find blank; the key; the template checked by `run`;
several epochs; and `step --round --trace`. Numbers are worked out here by hand (math.exp), never taken from
bpcalc's output."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
import yaml
from conftest import sigmoid

# the 2-2-2 network (two_layer) by hand
X, T = (0.05, 0.10), (0.01, 0.99)
Z2 = [0.15 * 0.05 + 0.20 * 0.10 + 0.35, 0.25 * 0.05 + 0.30 * 0.10 + 0.35]
A2 = [sigmoid(z) for z in Z2]
Z3 = [0.40 * A2[0] + 0.45 * A2[1] + 0.60, 0.50 * A2[0] + 0.55 * A2[1] + 0.60]
A3 = [sigmoid(z) for z in Z3]
D3 = [(A3[j] - T[j]) * A3[j] * (1 - A3[j]) for j in range(2)]
E = sum(0.5 * (T[j] - A3[j]) ** 2 for j in range(2))


def sheet(cli, *args: str) -> str:
    r = cli("worksheet", *args)
    assert r.exit_code == 0, r.stderr
    return r.stdout


def test_givens_filled_in_and_answers_blank(cli):
    text = sheet(cli, "two_layer", "--format", "text")
    assert "Worksheet:" in text and "____" in text
    given = text[text.index("Given"):text.index("Forward pass")]
    for w in ("0.15", "0.2", "0.25", "0.3", "0.4", "0.45", "0.5", "0.55", "0.35", "0.6", "0.05", "0.1", "0.01", "0.99"):
        assert w in given
    for answer in (A2[0], A3[0], D3[0], E):
        assert f"{answer:.4f}" not in text
    assert "0.05×0.15 + 0.1×0.2 + 0.35" in text  # the first layer's sums keep their (given) numbers


def test_the_key_fills_every_blank(cli):
    key = sheet(cli, "two_layer", "--answers", "--format", "text")
    assert "Answer key:" in key and "____" not in key
    for answer in (A2[0], A3[0], D3[0], E):
        assert f"{answer:.4f}" in key


def test_blank_chooses_the_sections(cli):
    text = sheet(cli, "two_layer", "--blank", "backward", "--format", "text")
    assert f"{A3[0]:.4f}" in text and f"{E:.4f}" in text  # forward and loss filled in
    back = text[text.index("Backward pass"):text.index("Update:")]
    assert f"{D3[0]:.4f}" not in back  # δ to find (the update, shown filled in, uses it)
    assert "____" in back
    assert "____" not in text[text.index("Forward pass"):text.index("Backward pass")] + text[text.index("Update:"):]


def test_rounded_key_shows_the_exact_value_beside(cli):
    key = sheet(cli, "hidden", "--round", "2", "--answers", "--format", "text")
    s = [round(sigmoid(h), 2) for h in (1.0, 1.3, 0.8)]
    y = s[0] * 0.3 + s[1] * 0.5 + s[2] * 0.9
    exact = sigmoid(1.0) * 0.3 + sigmoid(1.3) * 0.5 + sigmoid(0.8) * 0.9
    assert f"{y:.3f} (exact {exact:.4f})" in key
    assert "1.235 (exact 1.2332)" in key
    assert f"0.73 (exact {sigmoid(1.0):.4f})" in key
    assert "0.69 (exact" not in key  # σ(0.8) = 0.68997 rounds to what the exact table shows


@pytest.mark.parametrize("fmt,blank", [("markdown", "____"), ("latex", r"\framebox"), ("text", "____")])
def test_blanks_in_every_format(cli, fmt, blank):
    out = sheet(cli, "simple", "--format", fmt)
    assert blank in out


def test_latex_worksheet_compiles(cli, tmp_path):
    if shutil.which("pdflatex") is None:
        pytest.skip("pdflatex not installed")
    (tmp_path / "s.tex").write_text(sheet(cli, "two_layer", "--format", "latex", "--standalone"), encoding="utf-8")
    r = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "s.tex"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout[-2000:]


def test_explain_blanks_the_derivations(cli):
    text = sheet(cli, "simple", "--explain", "--format", "text")
    chain = text[text.index("The chain rule for every gradient"):]
    assert "____" in chain
    key = sheet(cli, "simple", "--explain", "--answers", "--format", "text")
    assert "____" not in key and "The chain rule for every gradient" in key


def test_template_is_checked_by_run(cli, tmp_path):
    tpl = tmp_path / "mine.yaml"
    r = cli("worksheet", "simple", "--template", tpl, "--format", "text")
    assert r.exit_code == 0, r.stderr
    data = yaml.safe_load(tpl.read_text(encoding="utf-8"))
    assert data["expected"] and all(v is None for v in data["expected"].values())
    assert {"S", "σ(S)", "∂E/∂W1", "W1 new"} <= set(data["expected"])
    checked = cli("run", tpl, "--format", "json")
    assert checked.exit_code == 0, checked.stderr  # nothing filled in: not an error
    assert all(i["ok"] is None for i in json.loads(checked.stdout)["expected"])
    a = sigmoid(1.94)
    text = tpl.read_text(encoding="utf-8").replace("  S:\n", "  S: 1.94\n").replace("  σ(S):\n", f"  σ(S): {a:.3f}\n")
    text = text.replace("  ∂E/∂W1:\n", "  ∂E/∂W1: 0.5\n")
    tpl.write_text(text, encoding="utf-8")
    r = cli("run", tpl, "--format", "json")
    assert r.exit_code == 1
    items = {i["key"]: i for i in json.loads(r.stdout)["expected"]}
    assert items["S"]["ok"] is True and items["σ(S)"]["ok"] is True and items["∂E/∂W1"]["ok"] is False
    assert items["W1 new"]["ok"] is None


def test_template_keeps_the_rounding(cli, tmp_path):
    tpl = tmp_path / "t.yaml"
    assert cli("worksheet", "hidden", "--round", "2", "--template", tpl, "--blank", "forward").exit_code == 0
    text = tpl.read_text(encoding="utf-8")
    assert "--round 2" in text.splitlines()[0]
    assert "y_hat:" in text and "δ" not in text.split("expected:")[1]


def test_json_lists_the_blanks(cli):
    d = json.loads(sheet(cli, "two_layer", "--format", "json", "--blank", "forward"))
    assert d["kind"] == "worksheet" and d["sections"] == ["forward"]
    names = [b["name"] for b in d["epochs"][0]["blanks"]]
    assert names == ["z_1^(2)", "a_1^(2)", "z_2^(2)", "a_2^(2)", "z_1^(3)", "a_1^(3)", "z_2^(3)", "a_2^(3)"]
    key = json.loads(sheet(cli, "two_layer", "--format", "json", "--blank", "forward", "--answers"))
    values = {b["name"]: b["value"] for b in key["epochs"][0]["blanks"]}
    assert values["a_1^(3)"] == pytest.approx(A3[0], abs=1e-12)


def test_two_epochs(cli):
    text = sheet(cli, "two_layer", "--epochs", "2", "--format", "text")
    assert "epoch 1" in text and "epoch 2" in text
    second = text[text.index("epoch 2"):]
    assert "Given" not in second and "new ones of epoch 1" in second
    assert "0.05×0.15" not in second  # epoch 2's weights are epoch 1's answers


def test_bad_blank_is_exit_2(cli):
    r = cli("worksheet", "two_layer", "--blank", "forwards")
    assert r.exit_code == 2 and "forward" in r.stderr and r.stdout == ""


def test_graph_worksheet(cli):
    text = sheet(cli, "graph_chain", "--format", "text")
    assert "____" in text and "x + y" in text
    assert "16" not in text.split("Forward pass")[1]  # ∂L/∂x = 16 is to find
    assert "16" in sheet(cli, "graph_chain", "--answers", "--format", "text")


# ------------------------------------------------------------------------------ step --round: epochs by hand
def r2(x: float) -> float:
    """Round half away from zero to 2 places, as on paper."""
    import math

    return math.copysign(math.floor(abs(x) * 100 + 0.5) / 100, x)


def test_two_epochs_by_hand_on_the_rounded_track(cli):
    r = cli("step", "hidden", "--epochs", "2", "--round", "2", "--format", "json")
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["kind"] == "epochs_by_hand" and len(d["epochs"]) == 2
    W2 = [[0.8, 0.2], [0.4, 0.9], [0.3, 0.5]]
    w3 = [0.3, 0.5, 0.9]
    a = [r2(sigmoid(sum(row))) for row in W2]  # x = (1, 1)
    y = sum(ai * wi for ai, wi in zip(a, w3))
    assert d["epochs"][0]["run"]["layers"][1]["z"] == [pytest.approx(1.235, abs=1e-12)] == [pytest.approx(y)]
    # epoch 1's update, by hand: δ = y − 0 (linear output, half_sse), hidden δ_j = y·w3_j·a_j(1 − a_j)
    w3n = [wi - 0.1 * y * ai for wi, ai in zip(w3, a)]
    W2n = [[w - 0.1 * y * w3[j] * a[j] * (1 - a[j]) for w in W2[j]] for j in range(3)]
    a2 = [r2(sigmoid(sum(row))) for row in W2n]
    y2 = sum(ai * wi for ai, wi in zip(a2, w3n))
    second = d["epochs"][1]["run"]
    assert second["layers"][0]["weights"] == [[pytest.approx(w, abs=1e-12) for w in row] for row in W2n]
    assert second["layers"][1]["z"][0] == pytest.approx(y2, abs=1e-12)
    text = cli("step", "hidden", "--epochs", "2", "--round", "2", "--trace").stdout
    assert "Epoch 1" in text and "Epoch 2" in text and "Loss by epoch" in text
    assert f"σ({sum(W2n[0]):.4f})" in text


def test_json_has_the_givens(cli):
    d = json.loads(sheet(cli, "two_layer", "--format", "json"))
    given = d["epochs"][0]["given"]
    assert given["inputs"] == [0.05, 0.1] and given["layers"][1]["weights"] == [[0.4, 0.45], [0.5, 0.55]]
    assert "run" not in d["epochs"][0]
    g = json.loads(sheet(cli, "graph_chain", "--format", "json"))["epochs"][0]["given"]
    assert g["variables"] == {"x": -2, "y": 5, "z": -4} and g["target"] == -10
