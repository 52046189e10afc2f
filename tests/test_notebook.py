"""The Python API: what `bpcalc` exports, load_spec taking what `run` takes, and results that display themselves
in Jupyter as their documents (HTML, Markdown, LaTeX), with the numbers derived here by hand."""

from __future__ import annotations

import math

import pytest
from conftest import sigmoid

import bpcalc


def test_all_names_what_the_package_exports():
    assert set(bpcalc.__all__) >= {"run", "train", "check", "derive", "load_spec", "parse_spec", "SpecError"}
    for name in bpcalc.__all__:
        assert getattr(bpcalc, name) is not None, name
    ns: dict = {}
    exec("from bpcalc import *", ns)
    assert set(bpcalc.__all__) <= set(ns)


def test_load_spec_takes_what_run_takes(tmp_path):
    assert bpcalc.load_spec("xor").name == bpcalc.load_spec(bpcalc.load_spec("xor")).name
    p = tmp_path / "n.yaml"
    p.write_text("inputs: [1]\ntargets: [0]\nlayers:\n  - weights: [[0.5]]\n    activation: linear\n"
                 "learning_rate: 0.1\n", encoding="utf-8")
    assert bpcalc.load_spec(p).inputs.tolist() == bpcalc.load_spec(str(p)).inputs.tolist() == [[1.0]]
    assert bpcalc.load_spec(p.read_text(encoding="utf-8")).layers[0].weights.tolist() == [[0.5]]
    assert bpcalc.load_spec().name == "Single sigmoid neuron"  # the bundled default, as `bpcalc run`
    with pytest.raises(bpcalc.SpecError):
        bpcalc.load_spec("no_such_example")


def test_a_trace_displays_itself():
    z = 0.1 * 0.5 + 0.3 * 0.2 + 1.83  # the single sigmoid neuron, by hand
    a = f"{sigmoid(z):.4f}"
    tr = bpcalc.run("simple")
    html, md, tex = tr._repr_html_(), tr._repr_markdown_(), tr._repr_latex_()
    assert html.startswith('<div class="bpcalc">') and "<body" not in html.lower() and a in html
    assert md.startswith("## Single sigmoid neuron") and f"| {a} |" in md.replace("**", "")
    assert r"\begin{tabular}" in tex and a in tex


def test_train_check_and_derive_display_themselves():
    res = bpcalc.train("two_layer", epochs=20)
    assert len(res.losses) == 20 and "Epochs" in res._repr_markdown_() and "<div" in res._repr_html_()
    gc = bpcalc.check("hidden")
    assert gc.ok and "Gradient check" in gc._repr_markdown_()
    ex = bpcalc.derive("two_layer", param="w_11^(3)")
    # ∂E/∂w_11^(3) = (a_1^(3) − t_1) · a_1^(3)(1 − a_1^(3)) · a_1^(2), by hand
    h1 = sigmoid(0.15 * 0.05 + 0.2 * 0.1 + 0.35)
    h2 = sigmoid(0.25 * 0.05 + 0.3 * 0.1 + 0.35)
    o1 = sigmoid(0.4 * h1 + 0.45 * h2 + 0.6)
    g = (o1 - 0.01) * o1 * (1 - o1) * h1
    assert f"{g:.4g}" in ex._repr_markdown_() and "\\partial" in ex._repr_latex_()
    fd = bpcalc.derive("sigmoid")
    assert "sigmoid" in fd._repr_markdown_() and fd._repr_html_().startswith("<div")
    assert not math.isnan(res.losses[-1])


def test_a_doc_displays_itself():
    from bpcalc.render.doc import Doc

    d = Doc()
    d.heading("Title")
    t = d.table(None, ["a", "b"])
    t.add("1", "2")
    assert "| 1 | 2 |" in d._repr_markdown_() and "Title" in d._repr_html_() and "tabular" in d._repr_latex_()


def test_jupyter_picks_the_html():
    formatters = pytest.importorskip("IPython.core.formatters")
    data, _meta = formatters.format_display_data(bpcalc.run("graph_chain"))
    assert {"text/html", "text/markdown", "text/latex"} <= set(data)


# ------------------------------------------------------------------------------ a large trace in a notebook
def _large_spec() -> tuple[str, float]:
    """A 3-sample 4-5-4-3 tanh/relu/softmax network with cross-entropy and Adam, and its loss by hand (numpy)."""
    import numpy as np
    import yaml

    rng = np.random.default_rng(11)
    sizes = (4, 5, 4, 3)
    Ws = [rng.normal(0, 0.6, (sizes[i + 1], sizes[i])) for i in range(3)]
    bs = [rng.normal(0, 0.2, sizes[i + 1]) for i in range(3)]
    X = rng.normal(0, 1, (3, 4))
    T = np.eye(3)
    a = X
    for W, b, f in zip(Ws, bs, (np.tanh, lambda z: np.maximum(z, 0), None)):
        z = a @ W.T + b
        a = f(z) if f else np.exp(z) / np.exp(z).sum(1, keepdims=True)
    loss = float(-(T * np.log(a)).sum(1).mean())
    spec = {"name": "large", "inputs": X.tolist(), "targets": T.tolist(), "loss": "cross_entropy",
            "optimizer": "adam", "learning_rate": 0.01,
            "layers": [{"weights": W.tolist(), "biases": b.tolist(), "activation": act}
                       for W, b, act in zip(Ws, bs, ("tanh", "relu", "softmax"))]}
    return yaml.safe_dump(spec), loss


def test_a_large_trace_shows_a_summary_with_the_whole_one_call_away():
    from bpcalc.render import notebook

    text, loss = _large_spec()
    tr = bpcalc.run(text)
    whole = notebook.to_html(tr)
    assert len(whole) > notebook.LARGE_HTML  # hundreds of KB of MathML
    html = tr._repr_html_()
    assert len(html) < 40_000 and html.startswith('<div class="bpcalc">')
    assert "bpcalc.render.notebook.full(result)" in html and "more in the whole document" in html
    assert f"{loss:.4f}" in html  # the loss
    assert "tanh" in html and "softmax" in html  # the layers' table: units and activations
    # one call away: the whole document, displayed in full
    shown = notebook.full(tr)
    assert shown._repr_html_() == whole and f"{loss:.4f}" in whole


def test_a_small_trace_shows_everything_as_before():
    from bpcalc.render import notebook

    tr = bpcalc.run("two_layer")
    assert tr._repr_html_() == notebook.to_html(tr) and "more in the whole document" not in tr._repr_html_()
