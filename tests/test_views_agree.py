"""One narration, three views: run's tables, the matrix view and `explain` write a layer's quantities from the same
registry faces, so a quantity both show reads the same in both (its definition and its arithmetic), and a face
changed in the registry changes every view that writes it. Numbers checked here are evaluated from the text or
computed from the spec's own numbers with numpy, never taken from bpcalc."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest
from conftest import NETWORKS
from test_dense_narration import _value
from test_i18n import KEEP_WORD, NO_LOCALE

# 3-3-8-2, two samples: a hidden sum over 8 neurons (written "(8 terms)"), softmax after half_sse (the Jacobian)
DEEP = """
inputs: [[0.5, -0.2, 0.1], [0.1, 0.2, 0.3]]
targets: [[0.1, 0.2], [0.3, 0.4]]
seed: 5
layers:
  - {units: 3, activation: sigmoid}
  - {units: 8, activation: tanh}
  - {units: 2, activation: softmax}
loss: half_sse
learning_rate: 0.1
"""
# five samples (explain writes the first four, then "+ … (5 terms)"), mse, one output
FIVE = """
inputs: [[0.5, -0.2], [0.1, 0.2], [0.3, 0.1], [0.2, 0.2], [0.9, 0.4]]
targets: [[0.1], [0.2], [0.3], [0.4], [0.5]]
layers:
  - {weights: [[0.1, 0.2], [0.4, -0.5], [0.3, 0.3]], biases: [0.1, -0.1, 0.0], activation: tanh}
  - {weights: [[0.2, -0.3, 0.5]], biases: [0.05], activation: linear}
loss: mse
learning_rate: 0.1
"""


# relu and elu hidden layers: ∂a/∂z written "1 if z > 0 else …" by the tables (explain wrote "[z > 0]")
RELU = """
inputs: [0.5, -0.2]
targets: [0.2, 0.8]
layers:
  - {weights: [[0.1, 0.2], [0.4, -0.5], [0.3, 0.3]], activation: relu}
  - {weights: [[0.1, 0.2, 0.3], [0.7, 0.6, 0.5]], biases: [0.0, 0.1], activation: elu}
  - {weights: [[0.3, -0.2], [0.1, 0.4]], activation: sigmoid}
loss: binary_cross_entropy
learning_rate: 0.1
"""
SPECS = {"deep": DEEP, "five": FIVE, "relu": RELU}


def _spec(which: str, tmp_path) -> str:
    if which in SPECS:
        path = tmp_path / f"{which}.yaml"
        path.write_text(SPECS[which])
        return str(path)
    return str(NETWORKS / f"{which}.yaml")


def _table_rows(doc) -> dict[str, list[tuple[str, str]]]:
    """Every table row of a Doc by the text of its first cell: (definition, with numbers) as text, in order."""
    from bpcalc.render.doc import Table, text_of

    rows: dict[str, list[tuple[str, str]]] = {}
    for block in doc.blocks:
        if isinstance(block, Table) and len(block.columns) == 4:
            for r in block.rows:
                rows.setdefault(text_of(r[0]), []).append((text_of(r[1]), text_of(r[2])))
    return rows


@pytest.mark.parametrize("which", ["two_layer", "mazur", "hidden", "xor", "deep", "five", "relu"])
@pytest.mark.parametrize("notation", ["layer", "mazur", "ng"])
def test_a_quantity_reads_the_same_in_the_tables_and_in_explain(which, notation, tmp_path):
    """∂E/∂a_j (the loss's, or the hidden sum over the next layer) and ∂a_j/∂z_j: explain's factor is the row run's
    backward table shows for it, symbol for symbol and number for number (explain writes the mean's 1/n as a
    fraction: (x)/n where a table writes (x) / n)."""
    import bpcalc
    from bpcalc.explain.chain import explain
    from bpcalc.render.report import report
    from bpcalc.spec.loader import load_spec

    spec = load_spec(_spec(which, tmp_path))
    spec.notation = notation
    tr = bpcalc.run(spec)
    rows = _table_rows(report(tr, full=True))
    compared = 0
    for p in explain(tr, params=None, full=True).params:
        for fa in p.factors:
            if fa.symbol.text not in rows or fa.symbol.text.startswith(("∂z", "∂net", "dz")):
                continue
            table = rows[fa.symbol.text][:tr.n]  # the backward tables, sample after sample
            for s, (definition, numbers) in enumerate(table):
                assert fa.formula.text.replace(f")/{tr.n}", f") / {tr.n}") == definition, fa.symbol.text
                assert str(fa.numbers[s]).replace(f")/{tr.n}", f") / {tr.n}") == numbers, (fa.symbol.text, s)
                compared += 1
    assert compared >= 2 * tr.n


def test_a_restated_sum_would_be_caught(tmp_path, monkeypatch):
    """The comparison above can fail: explain writing its own hidden sum (as it did past 6 terms) differs from the
    table's row."""
    import bpcalc
    from bpcalc.explain import chain
    from bpcalc.explain.chain import explain
    from bpcalc.render.report import report

    tr = bpcalc.run(_spec("deep", tmp_path))
    rows = _table_rows(report(tr, full=True))
    sym = "∂E/∂a_1^(2)"
    p = next(p for p in explain(tr, params=["w_11^(2)"]).params)
    assert str(p.factors[0].numbers[0]) == rows[sym][0][1] == "(8 terms)"
    real = chain.Names

    class Restating(real):  # a view that writes the sum's symbols itself, another way
        def generic(self, kind, i, k=""):
            m = real.generic(self, kind, i, k)
            return type(m)(m.text.replace("_i", "_j"), m.tex)

    monkeypatch.setattr(chain, "Names", Restating)
    p = next(p for p in explain(tr, params=["w_11^(2)"]).params)
    assert p.factors[0].formula.text != rows[sym][0][0]


@pytest.mark.parametrize("which", ["two_layer", "xor", "deep", "five", "simple", "relu"])
def test_every_loss_and_pair_row_gives_its_value(which, tmp_path):
    """The loss entry's ∂E/∂a_k and E_k rows and a pair's closed-form δ, written at full precision and evaluated
    from their text, are the values the rows show (both table views and explain's factor view)."""
    import bpcalc
    from bpcalc.explain.numfmt import Fmt
    from bpcalc.registry import LOSSES, pair

    tr = bpcalc.run(_spec(which, tmp_path))
    f, out, n = Fmt(15), tr.layers[-1], tr.n
    loss, K = LOSSES[tr.loss_name], tr.targets.shape[1]
    fused = pair(out.activation, tr.loss_name) if tr.fused else None
    checked = 0
    nm = ("a", "a"), ("t", "t")
    for s in range(n):
        for k in range(K):
            a, t = out.a[s, k], tr.targets[s, k]
            rows = [loss.narrate_term(("E", "E"), *nm, K, a, t, tr.loss_terms[s, k], f)]
            rows += [loss.narrate_grad(("g", "g"), *nm, K, a, t, out.grad_a[s, k], n, f, view=v)
                     for v in ("table", "factor")]
            if fused is not None:
                rows += [fused.narrate_delta(("δ", "δ"), a, t, out.delta[s, k], n, K, f, view=v)
                         for v in ("layers", "neurons")]
            for r in rows:
                got = _value(r.numbers.replace(" / ", "/").replace(", /", "/"))
                if got is not None:
                    assert got == pytest.approx(r.value, rel=1e-9, abs=1e-12), (r.quantity, r.numbers)
                    checked += 1
    assert checked >= 2 * n * K


def test_the_matrix_view_reads_the_dense_entry_face(cli, tmp_path, monkeypatch):
    """The dense layers of `--view matrix` are written from the entry's `matrices` face: its products are those of
    the spec's own numbers (numpy here), and a face that lays a product out otherwise changes the view."""
    from bpcalc.registry import LAYERS

    face = LAYERS["dense"].matrices
    W1, b1 = np.array([[0.15, 0.20], [0.25, 0.30]]), np.array([0.35, 0.35])  # two_layer's first layer
    x = np.array([[0.05, 0.10]])
    m = face({"weights": W1, "biases": b1}, {}, x, None, np.array([[0.1, -0.2]]), {})
    (_ln, left), (_rn, right) = m["z"]
    assert np.allclose(left @ right + b1[:, None], (W1 @ x[0] + b1)[:, None])
    (_ln, left), (_rn, right) = m["grad_W"]
    assert np.allclose(left @ right, np.outer([0.1, -0.2], x[0]))
    (_ln, left), (_rn, right) = m["grad_in"]
    assert np.allclose(left @ right, (np.array([0.1, -0.2]) @ W1)[:, None])
    xs = np.array([[0.05, 0.10], [1.0, 2.0]])
    mb = face({"weights": W1, "biases": b1}, {}, xs, None, np.array([[0.1, -0.2], [0.3, 0.4]]), {})
    (_ln, left), (_rn, right) = mb["z"]
    assert np.allclose(left @ right + b1, xs @ W1.T + b1)

    before = cli("run", "two_layer", "--view", "matrix", "--format", "text").stdout
    assert "z^(2) = W^(2) a^(1) + b^(2)" in before

    def swapped(P, hp, a_prev, grad_a, delta, record):
        out = dict(face(P, hp, a_prev, grad_a, delta, record))
        (ln, left), (rn, right) = out["z"]
        out["z"] = ((rn, right.T), (ln, left.T))  # the same product, written as aᵀ Wᵀ
        return out

    monkeypatch.setitem(LAYERS, "dense", dataclasses.replace(LAYERS["dense"], matrices=swapped))
    after = cli("run", "two_layer", "--view", "matrix", "--format", "text").stdout
    assert "z^(2) = a^(1) W^(2) + b^(2)" in after and after != before


# ---------------------------------------------------------------------------------------------- explain in Korean
WORD = re.compile(r"(?<![\w.\\-])[A-Za-z][a-z']+(?![\w.])")
KEEP = KEEP_WORD | {"subtotal", "tiny"}  # a spec's own names: the snack bill's node, a test spec's title


def _english_words(text: str) -> list[str]:
    """English words on any line (equations too, not only lines holding Hangul), past code, options, symbols and
    the words that stay (function names, if/else in a formula, layer kinds)."""
    found = []
    for line in text.splitlines():
        line = re.sub(r"`[^`]*`|--[\w-]+|\S+\.\w+", " ", line)
        words = [w for w in WORD.findall(re.sub(r"\S*[_^{}\[\]/=<>′]\S*", " ", line.replace("(", " ").replace(
            ")", " "))) if w not in KEEP and w.lower() not in KEEP]
        if words:
            found.append(f"{line.strip()[:100]}  <- {', '.join(words)}")
    return found


KOREAN = [["explain", name] for name in ("two_layer", "mazur", "hidden", "simple", "xor", "composite",
                                          "graph_chain", "snack")] + [
    ["explain", "conv", "--param", "w^(2)[1,0,1,1]", "--param", "layers.0.biases.1", "--param", "w_11^(5)"],
    ["explain", "tests/specs/conv_pool_dense.yaml", "--param", "layers.0.weights.0.0.0.0", "--param",
     "layers.0.biases.0"],
    ["explain", "deep", "--param", "w_11^(2)", "--param", "w_11^(4)"],
    ["explain", "five"],
    ["explain", "conv", "--notation", "ng", "--param", "w^[1][0,0,1,1]"],
]


@pytest.mark.parametrize("args", KOREAN, ids=lambda a: " ".join(a[1:]))
@pytest.mark.parametrize("fmt", ["text", "latex"])
def test_explain_in_korean_leaves_no_english_word(cli, args, fmt, tmp_path):
    """`explain --lang ko` (every bundled spec, conv kernels and biases, a hidden sum too long to write, more
    samples than are written): not one English word, in the tables' cells or in the equations ("(5 terms)",
    "(direct)" were)."""
    from conftest import ROOT

    args = [_spec(a, tmp_path) if a in SPECS else a for a in args]
    args = [str(ROOT / a) if a.startswith("tests/") else a for a in args]
    r = cli(*args, "--format", fmt, "--lang", "ko", env=NO_LOCALE)
    assert r.exit_code == 0, r.stderr
    if fmt == "text":
        assert _english_words(r.stdout) == []
    else:  # the words the equations and cells held in English (LaTeX's own commands are English: not searched)
        assert not re.search(r"\b(terms|more terms|direct|elementwise)\b", r.stdout)
    english = cli(*args, "--format", fmt, env=NO_LOCALE).stdout
    if fmt == "text" and "deep" in " ".join(args):
        assert "(8 terms)" in english  # the detector can fail: the same output in English has the words


@pytest.mark.parametrize("which", ["deep", "five"])
def test_explain_json_is_english_whatever_the_language(cli, which, tmp_path):
    """Words an explanation holds ("(8 terms)", "+ … (5 terms)") stay English in JSON under --lang ko."""
    args = ["explain", _spec(which, tmp_path), "--format", "json"]
    english = cli(*args, env=NO_LOCALE).stdout
    assert "terms)" in english
    assert cli(*args, "--lang", "ko", env=NO_LOCALE).stdout == english


# ---------------------------------------------------------------------------------------------- conv names
def test_ng_names_conv_quantities_in_its_style_and_mazur_keeps_the_layer_notation(cli):
    ng = cli("run", "conv", "--notation", "ng", "--format", "text").stdout
    assert "z^[1][1,1,1]" in ng and "a^[2][1,1,1]" in ng and "dz^[1][1,1,1]" in ng and "w^[1][1,1,1,1]" in ng
    assert not re.search(r"\b[zaw]\^\(\d\)\[", ng) and "δ^" not in ng
    matrix = cli("run", "conv", "--notation", "ng", "--view", "matrix", "--format", "text").stdout
    assert "X_col^[1]" in matrix and "dZ^[1] = da^[1] ⊙ relu′(z^[1])" in matrix and "a^[0] is 1×5×5" in matrix
    assert "^(" not in matrix
    ex = cli("explain", "conv", "--notation", "ng", "--param", "w^[1][0,0,1,1]", "--format", "text").stdout
    assert "= Σ_{i,j} dz^[1][0,i,j] · a^[0][0, 1·i+1, 1·j+1]" in ex
    mazur = cli("run", "conv", "--notation", "mazur", "--format", "text").stdout
    assert "z^(2)[1,1,1]" in mazur and "δ^(2)[1,1,1]" in mazur and "net_o1" in mazur


# ---------------------------------------------------------------------------------------------- the update
CONV_DECAY = """
inputs: [[0.1, 0.5, 0.2], [0.4, 0.9, 0.1], [0.0, 0.3, 0.8]]
targets: [0.5]
layers:
  - {type: conv2d, weights: [[0.5, -0.2], [0.3, 0.1]], biases: [0.1], activation: tanh}
  - {type: maxpool, size: 2}
  - {type: flatten}
  - {weights: [[0.3]], biases: [-0.1], activation: sigmoid}
loss: half_sse
learning_rate: 0.1
optimizer: {type: sgd, weight_decay: 0.5}
"""


def test_a_layered_networks_update_rows_give_the_new_values_under_weight_decay(tmp_path):
    """The update of a network with conv layers is written by the optimizer entry's narration, as a dense network's
    is: with weight decay each row's arithmetic (at full precision, evaluated here) gives the new value shown."""
    import bpcalc
    from bpcalc.render.doc import Table, text_of
    from bpcalc.render.report import report

    path = tmp_path / "decay.yaml"
    path.write_text(CONV_DECAY)
    doc = report(bpcalc.run(str(path)), precision=15)
    checked = 0
    for block in doc.blocks:
        if isinstance(block, Table) and "with numbers" in block.columns and "new" in block.columns:
            col, new = block.columns.index("with numbers"), block.columns.index("new")
            for r in block.rows:
                got = _value(text_of(r[col]).replace("  ", " "))
                assert got is not None, text_of(r[col])
                assert got == pytest.approx(float(text_of(r[new])), rel=1e-9), text_of(r[col])
                checked += 1
    assert checked == 4 + 1 + 1 + 1  # the kernel's four weights and its bias, the dense weight and bias
