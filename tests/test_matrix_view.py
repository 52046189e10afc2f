"""`--view matrix`: the step written with matrices, each with its shape and its numbers.

The numbers are checked against a NumPy computation written out here (column vectors, as the layer-notation
example writes them), never against bpcalc's output."""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess

import numpy as np
import pytest

TEX_ENGINES = [e for e in ("pdflatex", "lualatex") if shutil.which(e)]


def fmt4(x: float) -> str:
    """The display rule restated: 4 decimals from 1 up, else 4 significant digits written out (0.00001417);
    trailing zeros dropped."""
    if x == 0:
        return "0"
    s = f"{x:.4f}" if abs(x) >= 1 else f"{x:.{4 - math.floor(math.log10(abs(x))) - 1}f}"
    s = s.rstrip("0").rstrip(".") if "." in s else s
    return "0" if s in ("-0", "") else s


def bmatrix(x: np.ndarray) -> str:
    """A matrix as the markdown view writes it: its shape under a bmatrix of its numbers."""
    x = np.atleast_2d(x)
    rows = " \\\\ ".join(" & ".join(fmt4(v) for v in r) for r in x)
    return rf"\underset{{{x.shape[0]} \times {x.shape[1]}}}{{\begin{{bmatrix}} {rows} \end{{bmatrix}}}}"


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def two_layer_by_hand() -> dict[str, np.ndarray]:
    """The 2-2-2 example in matrices: z = W a + b, δ, ∂E/∂W = δ aᵀ, W − α ∂E/∂W (column vectors)."""
    a1 = np.array([[0.05], [0.10]])
    t = np.array([[0.01], [0.99]])
    W2, b2 = np.array([[0.15, 0.20], [0.25, 0.30]]), np.array([[0.35], [0.35]])
    W3, b3 = np.array([[0.40, 0.45], [0.50, 0.55]]), np.array([[0.60], [0.60]])
    z2 = W2 @ a1 + b2
    a2 = sigmoid(z2)
    z3 = W3 @ a2 + b3
    a3 = sigmoid(z3)
    dEda3 = a3 - t
    f3 = a3 * (1 - a3)
    d3 = dEda3 * f3
    dEda2 = W3.T @ d3
    f2 = a2 * (1 - a2)
    d2 = dEda2 * f2
    gW3, gW2 = d3 @ a2.T, d2 @ a1.T
    lr = 0.5
    return {"a1": a1, "t": t, "W2": W2, "b2": b2, "W3": W3, "b3": b3, "z2": z2, "a2": a2, "z3": z3, "a3": a3,
            "dEda3": dEda3, "f3": f3, "d3": d3, "W3T": W3.T, "dEda2": dEda2, "f2": f2, "d2": d2,
            "a1T": a1.T, "a2T": a2.T, "gW2": gW2, "gW3": gW3, "gb2": d2, "gb3": d3,
            "W2new": W2 - lr * gW2, "W3new": W3 - lr * gW3, "b2new": b2 - lr * d2, "b3new": b3 - lr * d3}


@pytest.fixture(scope="module")
def two_layer_md(cli):
    r = cli("run", "two_layer", "--view", "matrix", "--format", "markdown")
    assert r.exit_code == 0, r.stderr
    return r.stdout


@pytest.mark.parametrize("name", list(two_layer_by_hand()))
def test_every_matrix_of_the_step_with_its_shape_and_numbers(two_layer_md, name):
    m = two_layer_by_hand()[name]
    assert bmatrix(m) in two_layer_md, f"{name} = {m.tolist()} not written out"


def test_the_equations_in_order(two_layer_md):
    h = two_layer_by_hand()
    B = bmatrix
    equations = [
        rf"z^{{(2)}} = {B(h['W2'])} \cdot {B(h['a1'])} + {B(h['b2'])} = {B(h['z2'])}",
        rf"a^{{(3)}} = \sigma\left( {B(h['z3'])} \right) = {B(h['a3'])}",
        rf"= {B(h['dEda3'])} \odot {B(h['f3'])} = {B(h['d3'])}",
        rf"= {B(h['W3T'])} \cdot {B(h['d3'])} = {B(h['dEda2'])}",
        rf"= {B(h['dEda2'])} \odot {B(h['f2'])} = {B(h['d2'])}",
        rf"= {B(h['d2'])} \cdot {B(h['a1T'])} = {B(h['gW2'])}",
        rf"b^{{(2)}} \leftarrow {B(h['b2'])} - 0.5 \cdot {B(h['gb2'])} = {B(h['b2new'])}",
        rf"W^{{(3)}} \leftarrow {B(h['W3'])} - 0.5 \cdot {B(h['gW3'])} = {B(h['W3new'])}",
    ]
    pos = 0
    for e in equations:
        i = two_layer_md.find(e, pos)
        assert i >= 0, e
        pos = i


def test_the_symbolic_forms_in_text(cli):
    text = cli("run", "two_layer", "--view", "matrix", "--format", "text").stdout
    for line in ("z^(2) = W^(2) a^(1) + b^(2)", "a^(3) = σ(z^(3))", "δ^(3) = ∂E/∂a^(3) ⊙ σ′(z^(3))",
                 "δ^(2) = (W^(3))ᵀ δ^(3) ⊙ σ′(z^(2))", "∂E/∂W^(2) = δ^(2) (a^(1))ᵀ", "∂E/∂b^(3) = δ^(3)",
                 "W^(2) ← W^(2) − α ∂E/∂W^(2)", "shapes: 2×2 = 2×1 · 1×2"):
        assert line in text, line
    # bracket art: the 2×2 W^(2) on two lines, its shape under it
    lines = text.splitlines()
    i = next(k for k, ln in enumerate(lines) if ln.startswith("z^(2) = ⎡0.15  0.2⎤"))
    assert lines[i + 1].lstrip().startswith("⎣0.25  0.3⎦") and "2×2" in lines[i + 2]
    assert "\x1b" not in text


def test_batch_matrices_and_the_mean(cli):
    """XOR, four samples: the batch matrices (samples × units), ∂E/∂A with its 1/n, ∂E/∂W = Δᵀ A."""
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    t = np.array([[0], [1], [1], [0]], dtype=float)
    W2, b2 = np.array([[0.5, -0.4], [0.3, 0.8]]), np.array([0.1, -0.2])
    W3, b3 = np.array([[0.7, -0.6]]), np.array([0.05])
    A2 = sigmoid(x @ W2.T + b2)
    A3 = sigmoid(A2 @ W3.T + b3)
    n = 4
    dA3 = (A3 - t) / n
    D3 = dA3 * A3 * (1 - A3)
    D2 = (D3 @ W3) * A2 * (1 - A2)
    md = cli("run", "xor", "--view", "matrix", "--format", "markdown").stdout
    assert rf"\frac{{1}}{{{n}}}\left({{A^{{(3)}}}} - {{T}}\right)" in md
    for m in (x, A2, A3, dA3, D3, D2, D2.T @ x, D3.T @ A2, W2 - 0.5 * D2.T @ x):
        assert bmatrix(m) in md
    assert bmatrix(D2.T) + r" \cdot " + bmatrix(x) in md  # ∂E/∂W^(2) = (Δ^(2))ᵀ A^(1): a sum over the rows
    assert bmatrix(D2.sum(axis=0)[:, None]) in md  # ∂E/∂b^(2) = Σ_s δ_s


@pytest.mark.parametrize("command", ["run", "explain"])
def test_json_is_the_same_in_both_views(cli, command):
    a = cli(command, "two_layer", "--view", "matrix", "--format", "json")
    b = cli(command, "two_layer", "--format", "json")
    assert a.exit_code == 0 and json.loads(a.stdout) == json.loads(b.stdout)


def test_default_view_is_unchanged(cli):
    assert cli("run", "two_layer", "-f", "text").stdout == cli("run", "two_layer", "--view", "neuron",
                                                                "-f", "text").stdout


def test_explain_matrix_view(cli):
    r = cli("explain", "two_layer", "--view", "matrix", "--format", "text")
    assert r.exit_code == 0, r.stderr
    out = r.stdout
    assert out.index("Layer 3 (output)") < out.index("Layer 2 (hidden)")
    assert "∂E/∂W^(3) = ∂E/∂a^(3) · ∂a^(3)/∂z^(3) · ∂z^(3)/∂W^(3) = δ^(3) (a^(2))ᵀ" in out


def test_profiles_name_the_matrices(cli):
    mz = cli("run", "mazur", "--view", "matrix", "-f", "text").stdout
    assert "net_h = W_h i + b_h" in mz and "δ_h = (W_o)ᵀ δ_o ⊙ σ′(net_h)" in mz and "W_o ← W_o − α ∂E_total/∂W_o" in mz
    ng = cli("run", "two_layer", "--notation", "ng", "--view", "matrix", "-f", "text").stdout
    assert "z^[1] = W^[1] a^[0] + b^[1]" in ng and "dW^[2] = dZ^[2] a^[1]ᵀ" in ng and "db^[1] = dZ^[1]" in ng


def test_large_layers_are_summarised(cli, tmp_path):
    spec = tmp_path / "big.yaml"
    spec.write_text("inputs: [" + ", ".join(str(i / 10) for i in range(12)) + "]\ntargets: [1, 0]\nseed: 1\n"
                    "layers:\n  - units: 20\n  - units: 2\n    activation: softmax\nloss: cross_entropy\n",
                    encoding="utf-8")
    out = cli("run", spec, "--view", "matrix", "-f", "text").stdout
    assert "⋮" in out and "⋯" in out and "20×12" in out and "--full writes all" in out
    full = cli("run", spec, "--view", "matrix", "-f", "text", "--full").stdout
    assert "⋮" not in full and "20×12" in full


def test_bad_uses(cli):
    r = cli("run", "graph_chain", "--view", "matrix")
    assert r.exit_code == 2 and "matrix view" in r.stderr
    r = cli("run", "two_layer", "--view", "table")
    assert r.exit_code == 2 and "neuron, matrix" in r.stderr
    r = cli("explain", "two_layer", "--view", "matrix", "--param", "w_11^(3)")
    assert r.exit_code == 2 and "--param" in r.stderr


def test_rich_draws_the_art_whole(cli):
    r = cli("run", "xor", "--view", "matrix", env={"FORCE_COLOR": "1", "COLUMNS": "60"})
    assert r.exit_code == 0
    plain = re.sub(r"\x1b\[[0-9;]*m", "", r.stdout)
    assert "⎡ 0.005825  -0.005451  -0.004499   0.005437⎤" in plain  # not wrapped at 60 columns


def test_display_width_counts_wide_characters_twice():
    from bpcalc.explain.mathtext import M
    from bpcalc.render.equation import Equation, Matrix, display_width

    assert display_width("가중치") == 6 and display_width("w5") == 2 and display_width("m̂") == 1
    lines = Equation([M("가중치", "w"), M("=", "="), Matrix([["1"], ["2"]], (2, 1))]).text_lines()
    assert [display_width(ln) for ln in lines[:2]] == [display_width("가중치 = ⎡1⎤")] * 2
    assert lines[1].startswith(" " * 9 + "⎣2⎦")


@pytest.mark.skipif(not TEX_ENGINES, reason="no TeX engine installed")
@pytest.mark.parametrize("args", [["run", "two_layer"], ["run", "xor"], ["explain", "mazur"]])
def test_latex_matrix_view_compiles(cli, tmp_path, args):
    tex = cli(*args, "--view", "matrix", "-f", "latex", "--standalone").stdout
    assert r"\begin{bmatrix}" in tex and r"\underset{2 \times 2}" in tex
    (tmp_path / "doc.tex").write_text(tex, encoding="utf-8")
    res = subprocess.run([TEX_ENGINES[0], "-interaction=nonstopmode", "-halt-on-error", "doc.tex"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL)
    assert res.returncode == 0, res.stdout[-2000:]


def test_a_wide_equation_breaks_before_each_further_equals_sign_in_tex():
    from bpcalc.explain.mathtext import M
    from bpcalc.render.equation import Equation, Matrix, sym

    wide = Matrix([[str(i) for i in range(10)]], (1, 10))
    e = Equation([M("x", "x"), sym("="), wide, sym("+"), wide, sym("="), wide])
    tex = e.tex()
    assert tex.startswith(r"\begin{aligned} x &= ") and tex.count(r"\\ &= ") == 1
    assert tex.count(r"\underset{1 \times 10}") == 3  # every shape kept under its matrix
    narrow = Equation([M("x", "x"), sym("="), Matrix([["1"]], (1, 1))])
    assert narrow.tex() == r"x = \underset{1 \times 1}{\begin{bmatrix} 1 \end{bmatrix}}"
