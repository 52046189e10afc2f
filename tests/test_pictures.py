"""bpcalc's own SVG pictures: the graph figures, the loss curve and the document page. Each is well-formed XML,
self-contained (no links, fonts or scripts from anywhere), and shows the numbers derived here by hand, laid out
as the documents draw them (order, labels that do not overlap, values above edges and gradients below)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
from conftest import BUNDLED, sigmoid

NS = "{http://www.w3.org/2000/svg}"
RED = "#c62828"


def fmt4(x: float) -> str:
    """The display rule restated: 4 decimals, or 4 significant digits below 1; trailing zeros dropped."""
    s = f"{x:.4f}" if abs(x) >= 1 else f"{x:.4g}"
    return s.rstrip("0").rstrip(".") if "." in s else s


def parse(svg: str) -> ET.Element:
    """Parsed, and checked to be self-contained: no external reference, script, foreign object or web font."""
    root = ET.fromstring(svg.encode("utf-8"))
    assert root.tag == f"{NS}svg"
    for el in root.iter():
        tag = el.tag.replace(NS, "")
        assert tag not in ("script", "image", "foreignObject", "style", "a", "use"), tag
        for k, v in el.attrib.items():
            assert "href" not in k, (tag, k)
            assert not re.search(r"url\((?!#)", v), (tag, v)  # only url(#local) markers
            assert not k.startswith("on"), (tag, k)
    assert "@import" not in svg and "@font-face" not in svg
    assert "http" not in svg.replace('xmlns="http://www.w3.org/2000/svg"', "")
    return root


def test_notation_is_written_with_unicode_scripts_any_renderer_draws():
    from bpcalc.render.svg import scripted

    assert scripted("∂E/∂w_11^(3)", 12) == "∂E/∂w₁₁⁽³⁾" and scripted("a_jk", 12) == "aⱼₖ"
    assert scripted("e^(−z)", 12) == "e⁽⁻ᶻ⁾" and scripted("w_1,29^(2)", 12) == "w₁,₂₉⁽²⁾"
    assert scripted("e^0.37", 12).startswith('e<tspan dy="-4.8"')  # no Unicode for it: a shifted tspan


def texts(root: ET.Element) -> list[tuple[str, float, float, str]]:
    """(text, x, y, colour) of every text element; colour of its first coloured part."""
    out = []
    for el in root.iter(f"{NS}text"):
        fill = el.get("fill") or next((t.get("fill") for t in el.iter(f"{NS}tspan") if t.get("fill")), "")
        out.append(("".join(el.itertext()).replace("\u200b", ""), float(el.get("x")), float(el.get("y")), fill))
    return out


def two_layer_by_hand() -> dict[str, float]:
    """The 2-2-2 example (inputs 0.05, 0.10) forward, backward and updated, written out."""
    x1, x2, t1, t2, lr = 0.05, 0.10, 0.01, 0.99, 0.5
    w1, w2, w3, w4, b1 = 0.15, 0.20, 0.25, 0.30, 0.35
    w5, w6, w7, w8, b2 = 0.40, 0.45, 0.50, 0.55, 0.60
    z1, z2 = w1 * x1 + w2 * x2 + b1, w3 * x1 + w4 * x2 + b1
    h1, h2 = sigmoid(z1), sigmoid(z2)
    o1, o2 = sigmoid(w5 * h1 + w6 * h2 + b2), sigmoid(w7 * h1 + w8 * h2 + b2)
    d1, d2 = (o1 - t1) * o1 * (1 - o1), (o2 - t2) * o2 * (1 - o2)
    dh1 = (d1 * w5 + d2 * w7) * h1 * (1 - h1)
    return {"z1": z1, "z2": z2, "a1": h1, "o1": o1, "o2": o2, "E": 0.5 * (t1 - o1) ** 2 + 0.5 * (t2 - o2) ** 2,
            "w5_new": w5 - lr * d1 * h1, "w8_new": w8 - lr * d2 * h2, "w1_new": w1 - lr * dh1 * x1,
            "gw5": d1 * h1, "gw1": dh1 * x1}


def figure(name: str, **kw) -> str:
    import bpcalc
    from bpcalc.render.graphsvg import graph_svg

    return graph_svg(bpcalc.run(name), **kw)


# ---------------------------------------------------------------- graph --format svg
@pytest.mark.parametrize("name", BUNDLED)
def test_every_bundled_figure_is_self_contained_svg(cli, name, tmp_path):
    out = tmp_path / f"{name}.svg"
    r = cli("graph", name, "-o", out)
    assert r.exit_code == 0, r.stderr
    svg = out.read_text(encoding="utf-8")
    parse(svg)
    assert cli("graph", name, "--format", "svg").stdout.strip() == svg.strip()


def test_network_figure_holds_the_numbers_in_order_top_to_bottom():
    n = two_layer_by_hand()
    items = texts(parse(figure("two_layer")))
    joined = "\n".join(t for t, *_ in items)
    for key in ("z1", "a1", "o1", "E", "w5_new", "w8_new", "w1_new", "gw5", "gw1"):
        assert fmt4(n[key]) in joined, key

    def where(s: str) -> tuple[float, float]:
        return next((x, y) for t, x, y, _c in items if t.startswith(s))

    z12, z22, z13 = where("z₁⁽²⁾ = "), where("z₂⁽²⁾ = "), where("z₁⁽³⁾ = ")
    assert z12[1] < z22[1] and z12[0] == z22[0] < z13[0]  # neuron 1 above neuron 2; layers left to right
    assert where("a₁⁽¹⁾ = 0.05")[1] < where("a₂⁽¹⁾ = 0.1")[1]
    assert any(t == f"→ {fmt4(n['w5_new'])}" for t, *_ in items)  # each edge: weight, gradient, new value
    assert any(t == f"∂E/∂w = {fmt4(n['gw5'])}" and c == RED for t, _x, _y, c in items)


def _boxes(root: ET.Element, pred) -> list[tuple[float, float, float, float]]:
    out = []
    for r in root.iter(f"{NS}rect"):
        if pred(r):
            x, y, w, h = (float(r.get(k)) for k in ("x", "y", "width", "height"))
            out.append((x, y, x + w, y + h))
    return out


def _overlap(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


@pytest.mark.parametrize("name", ["two_layer", "hidden", "xor", "simple"])
def test_edge_labels_overlap_neither_each_other_nor_neurons(name):
    root = parse(figure(name))
    labels = _boxes(root, lambda r: r.get("fill-opacity") == "0.92" or r.get("rx") == "8")
    neurons = _boxes(root, lambda r: r.get("rx") == "7")
    assert labels and neurons
    for i, a in enumerate(labels):
        assert not any(_overlap(a, b) for b in labels[i + 1:])
        assert not any(_overlap(a, b) for b in neurons)


def test_dense_layer_numbers_its_edges_and_lists_them():
    import bpcalc
    from bpcalc.render.graphsvg import graph_svg

    spec = ("inputs: [0.1, 0.2, 0.3, 0.4, 0.5]\ntargets: [0, 1]\nlayers:\n"
            "  - weights: [[0.5, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0], "
            "[0, 0, 0, 0, 0.25]]\n    activation: linear\n  - weights: [[1, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 2]]\n"
            "    activation: linear\nloss: half_sse\nlearning_rate: 0.1\n")
    root = parse(graph_svg(bpcalc.run(spec)))
    items = texts(root)
    joined = "\n".join(t for t, *_ in items)
    # 5-6-2: too many crossing edges for labels; each edge numbered and listed with its weight
    assert "numbered edges" in joined and "w₁₁⁽²⁾ = 0.5" in joined and "w₆₅⁽²⁾ = 0.25" in joined
    tags = [t for t, *_ in items if t.isdigit()]
    assert sorted(map(int, tags)) == sorted(2 * list(range(1, 5 * 6 + 6 * 2 + 1)))  # on the edges, in the table
    rows = [t for t, *_ in items if re.fullmatch(r"w[₀-₉]+⁽[²³]⁾ = .*", t)]
    assert len(rows) == 42


def test_large_network_is_summarised(tmp_path):
    import bpcalc
    from bpcalc.render.graphsvg import graph_svg

    inputs = ", ".join(str(0.01 * i) for i in range(100))
    spec = (f"inputs: [{inputs}]\ntargets: [{', '.join(['0'] * 9 + ['1'])}]\nseed: 3\nlayers:\n"
            "  - units: 30\n    activation: sigmoid\n  - units: 10\n    activation: softmax\n"
            "loss: cross_entropy\nlearning_rate: 0.1\n")
    svg = graph_svg(bpcalc.run(spec))
    joined = "\n".join(t for t, *_ in texts(parse(svg)))
    assert len(svg) < 100_000
    assert "… 95 more" in joined and "… 25 more" in joined and "… 5 more" in joined  # 5 of each drawn
    assert "z₃₀⁽²⁾ = " in joined and "z₁₀⁽³⁾ = " in joined


def test_expression_graph_values_above_gradients_below_in_red():
    # f(x, y, z) = (x + y) z, L = (t − f)², by hand: q = 3, f = −12, ∂L/∂f = 2(f − t) = −4,
    # ∂L/∂q = −4·z = 16, ∂L/∂z = −4·q = −12, ∂L/∂x = ∂L/∂y = 16
    items = texts(parse(figure("graph_chain")))
    red = sorted(t for t, _x, _y, c in items if c == RED)
    assert red == sorted(["16", "16", "16", "-12", "-4", "1"])
    value = {t: (x, y) for t, x, y, c in items if c != RED}
    assert {"-2", "5", "-4", "q = 3", "f = -12", "L = 4"} <= set(value)
    grads = [(x, y) for t, x, y, c in items if c == RED]
    for label in ("-2", "5", "-4", "q = 3", "f = -12"):  # each gradient sits right under its value
        x, y = value[label]
        assert any(abs(gx - x) < 1 and 0 < gy - y < 30 for gx, gy in grads), label
    xs = {t: x for t, x, _y, _c in items}
    assert xs["q = 3"] < xs["f = -12"] < xs["L = 4"]  # left to right
    assert "x: -2 → -2.16" in "\n".join(t for t, *_ in items)


def test_snack_figure_shows_the_swapped_inputs():
    # total = price·count·vat: ∂/∂price = 3·1.1, ∂/∂count = 1000·1.1, ∂/∂vat = 3000, ∂/∂subtotal = 1.1
    red = sorted(t for t, _x, _y, c in texts(parse(figure("snack"))) if c == RED)
    assert red == sorted(["3.3", "1100", "3000", "1.1", "1"])


def test_labels_from_the_spec_are_not_subscripted():
    svg = figure("hidden")
    assert "y_hat" in "".join(parse(svg).itertext())


# ---------------------------------------------------------------- step --plot FILE.svg
def test_plot_axis_is_honest_about_a_plateau():
    from bpcalc.render.plot import axis

    kind, lo, hi, ticks = axis([0.12501, 0.125005, 0.12500])
    assert kind == "linear" and lo == 0 and 0.125 < hi <= 0.2 and ticks[0] == 0
    kind, lo, hi, ticks = axis([0.3, 0.01, 0.0002])
    assert kind == "log" and lo == 1e-4 and hi == 1 and ticks == [1e-4, 1e-3, 1e-2, 1e-1, 1]
    assert axis([0.3, 0.0002], "linear")[0] == "linear" and axis([0.13, 0.125], "log")[:3] == ("log", 0.1, 1.0)
    kind, lo, hi, _t = axis([-3.0, -12.0])  # an output minimised below zero: zero stays in view
    assert lo <= -12 and hi == 0


def test_plot_svg_without_matplotlib(cli, tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    out = tmp_path / "loss.svg"
    r = cli("step", "xor", "--epochs", "300", "--quiet", "--plot", out)
    assert r.exit_code == 0, r.stderr
    items = texts(parse(out.read_text(encoding="utf-8")))
    ticks = [t for t, x, _y, _c in items if x == 76.0]
    assert ticks[0] == "0" and all(float(t) < 0.2 for t in ticks)  # the 0.125 plateau on an axis from zero
    assert any(t.startswith("0.125") for t, *_ in items)


def test_plot_scale_option(cli, tmp_path):
    out = tmp_path / "loss.svg"
    assert cli("step", "two_layer", "-e", "1000", "-q", "--plot", out, "--plot-scale", "linear").exit_code == 0
    assert "log scale" not in out.read_text(encoding="utf-8")
    assert cli("step", "two_layer", "-e", "1000", "-q", "--plot", out).exit_code == 0
    assert "log scale" in out.read_text(encoding="utf-8")
    bad = cli("step", "-e", "2", "--plot", out, "--plot-scale", "cubic")
    assert bad.exit_code == 2 and "auto, linear, log" in bad.stderr


# ---------------------------------------------------------------- --format svg: the document
@pytest.mark.parametrize("args", [(cmd, name) for name in BUNDLED for cmd in ("run", "explain", "check")]
                         + [("step", "xor", "-e", "20"), ("explain", "softmax"), ("run", "hidden", "--round", "2")])
def test_document_svg_is_a_document_not_a_terminal(cli, args):
    r = cli(*args, "--format", "svg")
    assert r.exit_code == 0, r.stderr
    root = parse(r.stdout)
    assert "<pre" not in r.stdout and "terminal" not in r.stdout.lower() and "\x1b" not in r.stdout
    assert len(list(root.iter(f"{NS}text"))) > 10


def test_document_svg_tables_hold_the_numbers_in_columns(cli):
    n = two_layer_by_hand()
    items = texts(parse(cli("run", "two_layer", "--format", "svg").stdout))
    values = {t: x for t, x, _y, _c in items}
    for key in ("z1", "z2", "a1", "o1", "o2"):
        assert fmt4(n[key]) in values, key
    # the value column right-aligned: its numbers end at one x
    assert values[fmt4(n["z1"])] == values[fmt4(n["o2"])]


def test_document_svg_width_follows_display_width():
    from bpcalc.render.doc import Doc
    from bpcalc.render.svgdoc import render_svg

    def width(label: str) -> float:
        d = Doc()
        t = d.table("t", ["name", "value"], {1})
        t.add(label * 150, "1")
        return float(parse(render_svg(d)).get("width"))

    assert width("한") > width("a") * 1.6  # a Korean character takes two columns


def test_an_input_used_twice_is_one_edge_carrying_both_gradients():
    import bpcalc
    from bpcalc.render.graphsvg import graph_svg

    # s = x·x at x = 3: along the one edge flow ∂s/∂x = 3 (as the first factor) and 3 (as the second)
    spec = "variables: {x: 3}\nnodes:\n  s: x * x\n  t: s + x\noutput: t\nlearning_rate: 0.1\n"
    items = texts(parse(graph_svg(bpcalc.run(spec))))
    red = sorted(t for t, _x, _y, c in items if c == RED)
    assert red == sorted(["3 + 3", "1", "1", "1"])  # x→×, s→+ (1), x→+ (1), the output (1)


def test_document_svg_draws_equations_with_matrices():
    eq = pytest.importorskip("bpcalc.render.equation")
    from bpcalc.explain.mathtext import M
    from bpcalc.render.doc import Doc
    from bpcalc.render.svgdoc import render_svg

    d = Doc()
    d.blocks.append(eq.Equation([M("z", "z"), M("=", "="), eq.Matrix([["0.15", "0.2"], ["0.25", "0.3"]], (2, 2))],
                                caption="shapes under each matrix"))
    root = parse(render_svg(d))
    items = texts(root)
    cells = {t: (x, y) for t, x, y, _c in items}
    assert {"0.15", "0.2", "0.25", "0.3", "2×2", "shapes under each matrix"} <= set(cells)
    assert cells["0.15"][1] == cells["0.2"][1] < cells["0.25"][1]  # rows, top to bottom
    assert cells["0.15"][0] < cells["0.2"][0]  # columns, left to right
    assert len(list(root.iter(f"{NS}path"))) == 2  # the brackets


def test_document_svg_draws_a_blank_as_a_box_to_write_in():
    from bpcalc.render import doc as D
    from bpcalc.render.svgdoc import render_svg

    d = D.Doc()
    t = d.table(None, ["quantity", "value"], {1})
    t.add("z", D.Blank())
    root = parse(render_svg(d))
    assert "_" not in "".join(root.itertext())
    assert any(r.get("stroke") for r in root.iter(f"{NS}rect") if r.get("fill") == "#ffffff" and
               float(r.get("width")) < 100)
