"""Exports: LaTeX (escaping, structure, compiling where a TeX engine exists), HTML and SVG (well-formed, holding the
numbers), Markdown tables, and `bpcalc graph` as DOT and Mermaid.

Numbers the outputs must hold are computed here by hand (closed forms, math.exp); none is taken from bpcalc."""

from __future__ import annotations

import html.parser
import math
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest
from conftest import BUNDLED, NETWORKS, sigmoid

from bpcalc import run
from bpcalc.render.doc import Doc, M
from bpcalc.render.latex import escape, render_latex
from bpcalc.render.markdown import render_markdown
from bpcalc.render.report import report

TEX_ENGINES = [e for e in ("pdflatex", "lualatex", "xelatex", "tectonic") if shutil.which(e)]
DOT = shutil.which("dot")


def fmt4(x: float) -> str:
    """The display rule restated: 4 decimals, or 4 significant digits below 1; trailing zeros dropped."""
    s = f"{x:.4f}" if abs(x) >= 1 else f"{x:.4g}"
    return s.rstrip("0").rstrip(".") if "." in s else s


def simple_numbers() -> dict[str, float]:
    """Seed 000's neuron, by hand."""
    x1, x2, w1, w2, b, t, lr = 0.1, 0.3, 0.5, 0.2, 1.83, 0.03, 0.5
    S = x1 * w1 + x2 * w2 + b
    a = sigmoid(S)
    delta = (a - t) * a * (1 - a)
    return {"S": S, "a": a, "E": 0.5 * (t - a) ** 2, "dE_da": a - t, "delta": delta, "gW1": delta * x1,
            "gW2": delta * x2, "gb": delta, "W1_new": w1 - lr * delta * x1, "W2_new": w2 - lr * delta * x2,
            "b_new": b - lr * delta, "local": a * (1 - a)}


def chain_numbers() -> dict[str, float]:
    """Seed 003's f(x, y, z) = (x + y) z with L = (t − f)², by hand."""
    x, y, z, t, lr = -2.0, 5.0, -4.0, -10.0, 0.01
    q = x + y
    f = q * z
    L = (t - f) ** 2
    dL_df = 2 * (f - t)
    dq, dz = dL_df * z, dL_df * q
    return {"q": q, "f": f, "L": L, "dL_df": dL_df, "dq": dq, "dx": dq, "dy": dq, "dz": dz,
            "x_new": x - lr * dq, "y_new": y - lr * dq, "z_new": z - lr * dz}


# ====================================================================== LaTeX
@pytest.mark.parametrize(("char", "tex"), [
    ("_", r"\_"), ("%", r"\%"), ("&", r"\&"), ("#", r"\#"), ("$", r"\$"), ("{", r"\{"), ("}", r"\}"),
    ("~", r"\textasciitilde{}"), ("^", r"\textasciicircum{}"), ("\\", r"\textbackslash{}"),
    ("<", r"\textless{}"), (">", r"\textgreater{}"), ("|", r"\textbar{}"),
])
def test_latex_escapes_each_special_character(char, tex):
    assert escape(f"a {char} b") == f"a {tex} b"
    assert escape(f"x{char}{char}y") == f"x{tex}{tex}y"


@pytest.mark.parametrize(("char", "tex"), [
    ("σ", r"\sigma"), ("δ", r"\delta"), ("∂", r"\partial"), ("Σ", r"\Sigma"), ("−", "-"), ("×", r"\times"),
    ("·", r"\cdot"), ("²", "^{2}"), ("½", r"\frac{1}{2}"), ("α", r"\alpha"), ("ŷ", r"\hat{y}"), ("θ", r"\theta"),
    ("←", r"\leftarrow"), ("η", r"\eta"), ("≈", r"\approx"), ("✓", r"\checkmark"),
])
def test_latex_maps_unicode_symbols_to_math(char, tex):
    out = escape(f"a {char} b")
    assert out == f"a \\ensuremath{{{tex}}} b"
    assert out.isascii()


def test_latex_plain_text_keeps_words_and_hyphens():
    assert escape("half_sse, leaky_relu") == r"half\_sse, leaky\_relu"
    assert escape("y_hat") == r"y\_hat"
    assert escape("a--b") == "a-{}-b"  # no en dash
    assert escape("2-1 network") == "2-1 network"
    assert escape("(-2)") == r"(\ensuremath{-}2)"  # a negative number gets a minus sign
    assert escape("m̂") == r"\ensuremath{\hat{m}}"


def test_latex_writes_layer_notation_as_math():
    assert escape("z_1^(2)") == r"\ensuremath{z_{1}^{(2)}}"
    assert escape("∂E/∂w_jk") == r"\ensuremath{\partial}E/\ensuremath{\partial}\ensuremath{w_{jk}}"
    assert escape("δ_h1, t_k") == r"\ensuremath{\delta _{h1}}, \ensuremath{t_{k}}"
    assert escape("e^(−z)") == r"\ensuremath{e^{({-}z)}}"


def _unescaped(s: str, ch: str) -> int:
    return len(re.findall(r"(?<!\\)" + re.escape(ch), s))


def _table_rows(tex: str) -> list[str]:
    return [ln for ln in tex.splitlines() if ln.endswith(r"\\")]


@pytest.mark.parametrize("name", BUNDLED)
def test_latex_fragment_structure(name):
    doc = report(run(name))
    tex = render_latex(doc)
    assert tex.startswith("% bpcalc LaTeX fragment")
    assert r"\documentclass" not in tex and r"\begin{document}" not in tex
    assert tex.isascii()
    tables = sum(1 for b in doc.blocks if type(b).__name__ == "Table")
    top = re.findall(r"\\(?:sbox\{\\bpcalcbox\}\{\\begin\{tabular\}|begin\{longtable\})\{([lr]+)\}", tex)
    assert len(top) >= tables  # a table, or the parts of a wide one
    assert tex.count(r"\begin{tabular}") == tex.count(r"\end{tabular}")
    assert _unescaped(tex, "{") == _unescaped(tex, "}")
    for line in tex.splitlines()[1:]:
        assert _unescaped(line, "%") == 0 and _unescaped(line, "#") == 0
        assert _unescaped(line, "$") % 2 == 0
    # every row of a table has its table's number of columns (a long sum's lines are a tabular in one cell)
    blocks = re.split(r"\\sbox\{\\bpcalcbox\}\{\\begin\{tabular\}|\\begin\{longtable\}", tex)[1:]
    for spec, block in zip(top, blocks):
        for row in _table_rows(re.split(r"\\end\{tabular\}\}|\\end\{longtable\}", block)[0]):
            assert _unescaped(row, "&") == len(spec) - 1, row


def test_latex_fragment_holds_the_numbers_and_notation():
    n = simple_numbers()
    tex = render_latex(report(run("simple")))
    for key in ("a", "E", "delta", "gW1", "gW2", "W1_new", "b_new"):
        assert fmt4(n[key]) in tex, key
    assert r"\section*{Single sigmoid neuron}" in tex
    assert r"$\frac{\partial E}{\partial \mathrm{W1}}$" in tex
    tex2 = render_latex(report(run("two_layer")))
    assert r"$\frac{\partial E}{\partial w_{11}^{(3)}}$" in tex2


def test_latex_standalone_document():
    tex = render_latex(report(run("graph_chain")), standalone=True)
    assert tex.startswith(r"\documentclass")
    assert r"\usepackage{amsmath,amssymb}" in tex
    assert tex.count(r"\begin{document}") == 1
    assert tex.rstrip().endswith(r"\end{document}")
    body = render_latex(report(run("graph_chain"))).split("\n", 2)[2]
    assert body in tex


def _hostile_doc() -> Doc:
    doc = Doc()
    doc.heading("50% of $5 & #1 {x} ~y^z \\ a_b half_sse — “σ(z)” 2–3")
    doc.para("Specials: _ % & # $ { } ~ ^ \\ < > | and σ δ ∂ Σ − × · ² ½ α ŷ θ ← m̂ v̂ ≈ ✓ ✗ … z_1^(2) e^(−z)")
    doc.para(M("x_1", r"\sigma(z_1^{(2)})"), "math")
    t = doc.table("T_1 & 100%", ["a_b", "#", "value"], {2}, caption="caption with $ and ^")
    t.add(M("w", r"w_{11}^{(2)}"), "x{y}z", "-0.5")
    t.add("", "", "")
    t.add("only one cell")
    return doc


def test_latex_hostile_text_is_balanced():
    tex = render_latex(_hostile_doc())
    assert tex.isascii()
    assert _unescaped(tex, "{") == _unescaped(tex, "}")
    for row in _table_rows(tex):
        assert _unescaped(row, "&") == 2


def _compile(engine: str, tex: str, folder) -> subprocess.CompletedProcess:
    (folder / "doc.tex").write_text(tex, encoding="utf-8")
    cmd = ([engine, "doc.tex"] if engine == "tectonic"
           else [engine, "-interaction=nonstopmode", "-halt-on-error", "doc.tex"])
    return subprocess.run(cmd, cwd=folder, capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL)


@pytest.mark.skipif(not TEX_ENGINES, reason="no TeX engine (pdflatex, lualatex, xelatex, tectonic) installed")
@pytest.mark.parametrize("name", BUNDLED)
def test_latex_standalone_compiles(name, tmp_path):
    engine = TEX_ENGINES[0]
    res = _compile(engine, render_latex(report(run(name)), standalone=True), tmp_path)
    assert res.returncode == 0, res.stdout[-2000:]
    assert (tmp_path / "doc.pdf").stat().st_size > 1000


@pytest.mark.skipif(not TEX_ENGINES, reason="no TeX engine installed")
def test_latex_hostile_fragment_compiles_inside_a_document(tmp_path):
    fragment = render_latex(_hostile_doc())
    packages = re.search(r"\\usepackage\{([a-z,]+)\}", fragment.splitlines()[0]).group(1)  # what it says it needs
    tex = (f"\\documentclass{{article}}\n\\usepackage{{{packages}}}\n\\begin{{document}}\n" + fragment
           + "\\end{document}\n")
    res = _compile(TEX_ENGINES[0], tex, tmp_path)
    assert res.returncode == 0, res.stdout[-2000:]


def test_cli_latex_fragment_and_standalone(cli, tmp_path):
    r = cli("run", "simple", "--format", "latex")
    assert r.exit_code == 0 and r.stdout.startswith("% bpcalc LaTeX fragment")
    out = tmp_path / "simple.tex"
    r = cli("run", "simple", "--standalone", "-o", out)  # format from the suffix
    assert r.exit_code == 0, r.stderr
    assert out.read_text(encoding="utf-8").startswith(r"\documentclass")


# ====================================================================== HTML and SVG (more in test_html.py)
class _Checker(html.parser.HTMLParser):
    """Collects text and checks that every opened element is closed in order."""

    VOID = {"meta", "br", "wbr", "link", "img", "hr", "input"}

    def __init__(self):
        super().__init__()
        self.stack: list[str] = []
        self.text: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack.pop() != tag:
            self.errors.append(tag)

    def handle_data(self, data):
        self.text.append(data)


def test_html_export_is_a_page_with_the_numbers(cli, tmp_path):
    out = tmp_path / "simple.html"
    r = cli("run", "simple", "-o", out)
    assert r.exit_code == 0, r.stderr
    page = out.read_text(encoding="utf-8")
    assert page.lstrip().lower().startswith("<!doctype html>")
    assert "\x1b" not in page
    p = _Checker()
    p.feed(page)
    p.close()
    assert not p.errors and not p.stack
    text = "".join(p.text)
    assert "<title>Single sigmoid neuron</title>" in page
    n = simple_numbers()
    for key in ("a", "E", "delta", "gW2", "W1_new", "b_new"):
        assert fmt4(n[key]) in text, key
    assert "<mfrac>" in page  # ∂E/∂W1 typeset (tests/test_html.py has the rest)


def test_svg_export_is_well_formed_with_the_numbers(cli):
    r = cli("run", "graph_chain", "--format", "svg")
    assert r.exit_code == 0, r.stderr
    root = ET.fromstring(r.stdout)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    text = "".join(root.itertext()).replace("\xa0", " ")
    c = chain_numbers()
    for v in (c["q"], c["f"], c["dx"], c["dz"], c["x_new"], c["z_new"]):
        assert fmt4(v) in text


def test_svg_width_fits_the_widest_table():
    """The SVG page grows with its widest table: every right-aligned number ends inside the page."""
    from bpcalc.render.svgdoc import MARGIN, PAGE, render_svg

    root = ET.fromstring(render_svg(report(run("xor"))))
    width = float(root.get("width"))
    assert width > PAGE + 2 * MARGIN  # xor's widest table is wider than the text block
    ends = [float(t.get("x")) for t in root.iter("{http://www.w3.org/2000/svg}text") if t.get("text-anchor") == "end"]
    assert ends and max(ends) <= width - MARGIN


# ====================================================================== Markdown
def _pipes(line: str) -> int:
    return _unescaped(line, "|")


@pytest.mark.parametrize("name", BUNDLED)
def test_markdown_tables_are_well_formed(name):
    md = render_markdown(report(run(name)))
    lines = md.splitlines()
    i = 0
    tables = 0
    while i < len(lines):
        if lines[i].startswith("|"):
            block = []
            while i < len(lines) and lines[i].startswith("|"):
                block.append(lines[i])
                i += 1
            tables += 1
            assert re.fullmatch(r"\|(?:-{3}:?\|)+", block[1]), block[1]
            width = _pipes(block[0])
            for row in block:
                assert _pipes(row) == width, row
                assert _unescaped(row, "$") % 2 == 0, row
                assert "$$" not in row
        else:
            i += 1
    assert tables > 0


@pytest.mark.parametrize("name", BUNDLED)
@pytest.mark.parametrize("command", ["run", "explain"])
def test_markdown_typesets_every_formula_cell(cli, name, command):
    """One rule: a table cell holding a formula (notation, an operator between terms) is $…$ math, never raw."""
    r = cli(command, name, "--format", "markdown")
    assert r.exit_code == 0, r.stderr
    formula = re.compile(r"[·×∂Σσδ²]|\b[A-Za-z]_[A-Za-z0-9]|\^\(| [+−] ")
    math_cells = 0
    lines = r.stdout.splitlines()
    for i, line in enumerate(lines):
        header = i + 1 < len(lines) and lines[i + 1].startswith("|---")
        if not line.startswith("| ") or set(line) <= set("|-: ") or header:
            continue
        for c in re.split(r"(?<!\\)\|", line)[1:-1]:
            c = c.strip()
            if c.startswith("$") and c.endswith("$"):
                math_cells += 1
            else:
                assert not formula.search(c) or c.endswith("terms)") or c.startswith("Σ over"), c
    # explain on a recurrent network: the unrolled tables (step, paths, δ, factor, product) hold only numbers
    assert math_cells > 5 or command == "explain" and name in ("lstm", "rnn", "gru")


def test_markdown_escapes_hostile_cells():
    md = render_markdown(_hostile_doc())
    rows = [ln for ln in md.splitlines() if ln.startswith("|")]
    assert len(rows) == 5
    assert len({_pipes(r) for r in rows}) == 1
    assert r"x{y}z" in md
    assert "| $w_{11}^{(2)}$ |" in md
    assert "$$\\sigma(z_1^{(2)})$$" in md
    assert "\\$5" in md  # a dollar in text is not math


def test_markdown_math_in_paragraphs_keeps_pipes():
    doc = Doc()
    doc.para(M("|x|", r"|x|"))
    doc.table(None, ["v"]).add(M("|x|", r"|x|"))
    md = render_markdown(doc)
    assert md.splitlines()[0] == "$|x|$"
    assert r"| $\|x\|$ |" in md


def test_markdown_holds_the_numbers():
    n = simple_numbers()
    md = render_markdown(report(run("simple")))
    for key in ("S", "a", "E", "delta", "gW1", "W2_new"):
        assert fmt4(n[key]) in md, key
    assert r"$\frac{\partial E}{\partial \mathrm{W1}}$" in md


# ====================================================================== bpcalc graph
RECORD = re.compile(r'^\s+(n\d+) \[label="\{ (.*) \}"')
OPNODE = re.compile(r'^\s+(n\d+) \[label="(.*)", shape=ellipse\];$')
EDGE = re.compile(r'^\s+(n\d+) -> (n\d+)(?: \[label="(.*)"\])?;$')


def parse_dot(text: str):
    """Record nodes (name -> {field: value}), op nodes and edges of our DOT output."""
    records, ops, edges = {}, {}, []
    for line in text.splitlines():
        if m := RECORD.match(line):
            fields = [f.strip() for f in re.split(r"(?<!\\)\|", m.group(2))]
            records[m.group(1)] = fields
        elif m := OPNODE.match(line):
            ops[m.group(1)] = m.group(2)
        elif m := EDGE.match(line):
            edges.append((m.group(1), m.group(2), m.group(3)))
    return records, ops, edges


def by_name(records) -> dict[str, dict[str, str]]:
    out = {}
    for fields in records.values():
        d = {"name": fields[0]}
        for f in fields[1:]:
            k, _, v = f.partition(" ")
            d[k] = v
        out[fields[0]] = d
    return out


def test_graph_dot_graph_chain_values(cli):
    r = cli("graph", "graph_chain")
    assert r.exit_code == 0, r.stderr
    assert r.stdout.startswith("digraph bpcalc {") and r.stdout.rstrip().endswith("}")
    records, ops, edges = parse_dot(r.stdout)
    nodes = by_name(records)
    c = chain_numbers()
    assert set(nodes) == {"x", "y", "z", "q", "f", "L", "t"}
    assert nodes["q"]["data"] == fmt4(c["q"]) and nodes["q"]["grad"] == fmt4(c["dq"])
    assert nodes["f"]["data"] == fmt4(c["f"]) and nodes["f"]["grad"] == fmt4(c["dL_df"])
    assert nodes["L"]["data"] == fmt4(c["L"]) and nodes["L"]["grad"] == "1"
    for v in "xyz":
        assert nodes[v]["grad"] == fmt4(c["d" + v])
        assert nodes[v]["new"] == fmt4(c[v + "_new"])
    assert nodes["t"]["data"] == "-10"
    assert sorted(ops.values()) == sorted(["+", "×", "(t − f)²"])
    labels = [lab for _, _, lab in edges if lab]
    assert r"∂f/∂q = -4\n(-4) × (-4) = 16" in labels
    assert r"∂f/∂z = 3\n(-4) × 3 = -12" in labels
    ids = set(records) | set(ops)
    assert all(a in ids and b in ids for a, b, _ in edges)
    assert len(edges) == 9  # x, y → +; + → q; q, z → ×; × → f; f, t → loss; loss → L


def test_graph_dot_network_at_neuron_level(cli):
    r = cli("graph", "simple", "--format", "dot")
    assert r.exit_code == 0, r.stderr
    records, ops, edges = parse_dot(r.stdout)
    nodes = by_name(records)
    n = simple_numbers()
    assert set(nodes) == {"X1", "X2", "S", "b", "σ(S)", "E", "t_1"}
    assert nodes["S"]["data"] == fmt4(n["S"]) and nodes["S"]["grad"] == fmt4(n["delta"])
    assert nodes["σ(S)"]["data"] == fmt4(n["a"]) and nodes["σ(S)"]["grad"] == fmt4(n["dE_da"])
    assert nodes["b"]["grad"] == fmt4(n["gb"]) and nodes["b"]["new"] == fmt4(n["b_new"])
    assert nodes["E"]["data"] == fmt4(n["E"])
    labels = [lab for _, _, lab in edges if lab]
    assert f"W1 = 0.5\\ngrad {fmt4(n['gW1'])}\\nnew {fmt4(n['W1_new'])}" in labels
    assert f"W2 = 0.2\\ngrad {fmt4(n['gW2'])}\\nnew {fmt4(n['W2_new'])}" in labels
    assert f"σ\\n∂a/∂z = {fmt4(n['local'])}" in labels
    assert list(ops.values()) == ["half_sse"]


def test_graph_two_layer_draws_every_neuron(cli):
    records, ops, edges = parse_dot(cli("graph", "two_layer").stdout)
    names = set(by_name(records))
    expected = {"a_1^(1)", "a_2^(1)", "t_1", "t_2", "E"}
    for layer in (2, 3):
        for j in (1, 2):
            expected |= {f"z_{j}^({layer})", f"a_{j}^({layer})", f"b_{j}^({layer})"}
    assert names == expected
    # 8 weights, 4 biases, 4 activations, 2 loss terms, 2 targets, 1 loss
    assert len(edges) == 8 + 4 + 4 + 2 + 2 + 1
    weight_edges = [lab for _, _, lab in edges if lab and lab.startswith("w_")]
    assert len(weight_edges) == 8


def test_graph_linear_layer_is_one_node_per_neuron(cli):
    records, _, _ = parse_dot(cli("graph", "hidden").stdout)
    names = [f[0] for f in records.values()]
    assert names.count("y_hat") == 1
    y = by_name(records)["y_hat"]
    w2 = [(0.3, 0.5, 0.9)]
    h = [1.0, 1.3, 0.8]
    y_hat = sum(w * sigmoid(z) for w, z in zip(w2[0], h))
    assert y["data"] == fmt4(y_hat) and y["grad"] == fmt4(y_hat - 0.0)


def test_graph_several_samples(cli):
    r = cli("graph", "xor", "--sample", "3")
    assert r.exit_code == 0, r.stderr
    assert "sample 3 of 4" in r.stdout
    nodes = by_name(parse_dot(r.stdout)[0])
    assert nodes["a_1^(1)"]["data"] == "1" and nodes["a_2^(1)"]["data"] == "0"
    assert nodes["z_1^(2)"]["data"] == fmt4(1 * 0.5 + 0 * -0.4 + 0.1)
    r = cli("graph", "xor", "--sample", "5")
    assert r.exit_code == 2
    assert "--sample" in r.stderr and "Traceback" not in r.stderr


def test_graph_bad_format_is_exit_2(cli):
    r = cli("graph", "simple", "--format", "png")
    assert r.exit_code == 2
    assert "dot, mermaid" in r.stderr and "Traceback" not in r.stderr


def test_graph_output_file_and_suffix(cli, tmp_path):
    out = tmp_path / "g.mmd"
    r = cli("graph", "graph_chain", "-o", out)
    assert r.exit_code == 0 and r.stdout == ""
    assert "flowchart LR" in out.read_text(encoding="utf-8")
    out = tmp_path / "g.gv"
    assert cli("graph", "graph_chain", "-o", out).exit_code == 0
    assert out.read_text(encoding="utf-8").startswith("digraph")


def test_graph_learning_rate_and_precision(cli):
    nodes = by_name(parse_dot(cli("graph", "graph_chain", "--lr", "0.1", "--precision", "2").stdout)[0])
    assert nodes["x"]["new"] == fmt4(-2 - 0.1 * 16)
    nodes = by_name(parse_dot(cli("graph", "simple", "--precision", "2").stdout)[0])
    assert nodes["σ(S)"]["data"] == f"{sigmoid(1.94):.2f}"


SOFTMAX_SPEC = """
name: softmax "classifier" | 3 classes
inputs: [0.5, -1.0]
targets: [0, 1, 0]
input_labels: ['x"1', 'x<2>']
layers:
  - weights: [[0.1, 0.2], [0.3, -0.4], [-0.5, 0.6]]
    biases: [0.0, 0.1, -0.1]
    activation: softmax
loss: cross_entropy
learning_rate: 0.1
"""


def test_graph_softmax_and_hostile_labels(cli, tmp_path):
    spec = tmp_path / "soft.yaml"
    spec.write_text(SOFTMAX_SPEC, encoding="utf-8")
    r = cli("graph", spec)
    assert r.exit_code == 0, r.stderr
    records, ops, edges = parse_dot(r.stdout)
    assert "softmax" in ops.values() and "cross_entropy" in ops.values()
    assert r'x\"1' in r.stdout and r"x\<2\>" in r.stdout
    r = cli("graph", spec, "--format", "mermaid")
    assert r.exit_code == 0, r.stderr
    check_mermaid(r.stdout)
    assert "x#quot;1" in r.stdout and "x#lt;2#gt;" in r.stdout


@pytest.mark.skipif(DOT is None, reason="Graphviz `dot` not installed")
@pytest.mark.parametrize("name", BUNDLED)
def test_graph_dot_renders_with_graphviz(cli, name):
    text = cli("graph", name).stdout
    res = subprocess.run([DOT, "-Tsvg"], input=text, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stderr == ""
    ET.fromstring(res.stdout.split("\n", 3)[-1] if res.stdout.startswith("<?xml") else res.stdout)


@pytest.mark.skipif(DOT is None, reason="Graphviz `dot` not installed")
def test_graph_dot_hostile_spec_renders(cli, tmp_path):
    spec = tmp_path / "soft.yaml"
    spec.write_text(SOFTMAX_SPEC, encoding="utf-8")
    res = subprocess.run([DOT, "-Tsvg"], input=cli("graph", spec).stdout, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and res.stderr == "", res.stderr
    assert 'x"1' in res.stdout.replace("&quot;", '"') and "x&lt;2&gt;" in res.stdout


MM_NODE = re.compile(r'^  (n\d+)(?:\["([^"]*)"\]|\(\("([^"]*)"\)\))$')
MM_EDGE = re.compile(r'^  (n\d+) -->(?:\|"([^"|]*)"\|)? (n\d+)$')
MM_CLASS = re.compile(r"^  (?:classDef \w+ [\w:#;-]+|class n\d+(?:,n\d+)* \w+)$")


def check_mermaid(text: str) -> list[tuple[str, str]]:
    """Every line is a node, an edge or a class line we emit; labels free of raw quotes, pipes and brackets."""
    lines = text.splitlines()
    assert lines[0] == "---" and lines[1].startswith("title: ") and lines[2] == "---"
    assert lines[3] == "flowchart LR"
    ids, edges = set(), []
    for line in lines[4:]:
        if m := MM_NODE.match(line):
            ids.add(m.group(1))
            label = m.group(2) if m.group(2) is not None else m.group(3)
            assert not re.search(r'[<>"|`]', label.replace("<br>", "")), line
        elif m := MM_EDGE.match(line):
            edges.append((m.group(1), m.group(3)))
            if m.group(2):
                assert not re.search(r'[<>"|`]', m.group(2).replace("<br>", "")), line
        else:
            assert MM_CLASS.match(line), line
    assert all(a in ids and b in ids for a, b in edges)
    return edges


def test_graph_mermaid_graph_chain(cli):
    r = cli("graph", "graph_chain", "--format", "mermaid")
    assert r.exit_code == 0, r.stderr
    edges = check_mermaid(r.stdout)
    assert len(edges) == 9
    c = chain_numbers()
    assert f'["q<br>data {fmt4(c["q"])}<br>grad {fmt4(c["dq"])}"]' in r.stdout
    assert f'["f<br>data {fmt4(c["f"])}<br>grad {fmt4(c["dL_df"])}"]' in r.stdout
    assert f'["z<br>data -4<br>grad {fmt4(c["dz"])}<br>new {fmt4(c["z_new"])}"]' in r.stdout
    assert '(("(t − f)²"))' in r.stdout
    assert '|"∂f/∂q = -4<br>(-4) × (-4) = 16"|' in r.stdout


@pytest.mark.parametrize("name", BUNDLED)
def test_graph_mermaid_every_example(cli, name):
    r = cli("graph", name, "--format", "mermaid")
    assert r.exit_code == 0, r.stderr
    check_mermaid(r.stdout)


def test_graph_composite_seed_004(cli):
    nodes = by_name(parse_dot(cli("graph", "composite").stdout)[0])
    x = 0.5
    a, b = x * x, math.exp(x * x)
    y = b * b
    dy_db = 2 * b
    dy_da = dy_db * math.exp(a)
    dy_dx = dy_da * 2 * x
    assert nodes["a"]["data"] == fmt4(a) and nodes["a"]["grad"] == fmt4(dy_da)
    assert nodes["b"]["data"] == fmt4(b) and nodes["b"]["grad"] == fmt4(dy_db)
    assert nodes["y"]["data"] == fmt4(y) and nodes["y"]["grad"] == "1"
    assert nodes["x"]["grad"] == fmt4(dy_dx) == "3.2974"


def test_graph_networks_folder_path(cli):
    r = cli("graph", NETWORKS / "snack.yaml")
    nodes = by_name(parse_dot(r.stdout)[0])
    assert nodes["price"]["grad"] == "3.3" and nodes["count"]["grad"] == "1100" and nodes["vat"]["grad"] == "3000"


@pytest.mark.parametrize("fmt, marker", [("latex", r"\begin{tabular}"), ("html", "<html"), ("svg", "<svg")])
def test_step_exports_like_run(cli, fmt, marker):
    res = cli("step", "simple", "--epochs", "3", "--format", fmt)
    assert res.exit_code == 0, res.stderr
    assert marker in res.stdout
    # epoch 3's loss by hand: seed 000's neuron after two gradient steps
    x, w, b, t = (0.1, 0.3), [0.5, 0.2], 1.83, 0.03
    for _ in range(2):
        a = sigmoid(x[0] * w[0] + x[1] * w[1] + b)
        delta = (a - t) * a * (1 - a)
        w, b = [w[0] - 0.5 * delta * x[0], w[1] - 0.5 * delta * x[1]], b - 0.5 * delta
    a = sigmoid(x[0] * w[0] + x[1] * w[1] + b)
    assert f"{0.5 * (t - a) ** 2:.4f}" in res.stdout


@pytest.mark.skipif(not TEX_ENGINES, reason="no TeX engine installed")
def test_step_latex_with_its_loss_curve_compiles(cli, tmp_path):
    res = cli("step", "simple", "--epochs", "30", "--format", "latex", "--standalone")
    assert res.exit_code == 0
    assert "█" not in res.stdout
    done = _compile(TEX_ENGINES[0], res.stdout, tmp_path)
    assert done.returncode == 0, done.stdout[-2000:]
