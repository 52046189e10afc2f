"""HTML as a document: the LaTeX -> MathML converter on every formula bpcalc writes, the page's structure and
escaping, and the page in a real browser (headless Chromium prints it to PDF; pdftotext reads the numbers back).

Numbers the page must hold are computed by hand (test_exports.simple_numbers); the layout checks compare the printed
PDF with the document it was made from (every number of every table printed, nothing outside the page)."""

from __future__ import annotations

import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
import zlib
from pathlib import Path

import pytest
from conftest import BUNDLED
from test_exports import _Checker, chain_numbers, fmt4, simple_numbers

from bpcalc.render.doc import Doc, Heading, M, Para, Table, text_of
from bpcalc.render.html import render_html
from bpcalc.render.mathml import TexError, tex_to_mathml

CHROMIUM = next((p for p in (shutil.which("chromium"), shutil.which("chromium-browser")) if p), None)
PDFTOTEXT = shutil.which("pdftotext")
needs_browser = pytest.mark.skipif(not (CHROMIUM and PDFTOTEXT),
                                   reason="needs chromium and pdftotext (Debian: chromium, poppler-utils)")

COMMANDS = [("run",), ("explain",), ("step", "--epochs", "3"), ("check",)]


def docs_of(cli, monkeypatch, *args: str) -> Doc:
    """The Doc a command renders (caught at emit, before any format sees it)."""
    from bpcalc.cli import common

    caught = []
    monkeypatch.setattr(common, "emit", lambda subject, *a, **k: caught.append(subject))
    r = cli(*args)
    assert r.exit_code in (0, 1), r.stderr
    assert len(caught) == 1
    return caught[0]


def _tex_of(doc: Doc) -> set[str]:
    out = set()
    for b in doc.blocks:
        cells = [b.text] if isinstance(b, Para) else [c for r in b.rows for c in r] if isinstance(b, Table) else []
        out |= {c.tex for c in cells if isinstance(c, M) and c.tex}
    return out


def _registry_tex() -> set[str]:
    from bpcalc.registry import ACTIVATIONS, LOSSES, OPTIMIZERS, PAIRS

    out: set[str] = set()

    def parts(ps):
        for p in ps:
            out.add(p.lhs_tex)
            out.update(s.tex for s in p.steps)

    for a in ACTIVATIONS.values():
        out |= {a.tex_symbol, a.formula_tex, a.derivative_tex}
        parts(a.derivation)
    for lo in LOSSES.values():
        out |= {lo.formula_tex, lo.derivative_tex}
        parts(lo.derivation)
    for p in PAIRS.values():
        out.add(p.formula_tex)
        parts(p.derivation)
    out |= {o.rule_tex for o in OPTIMIZERS.values()}
    out |= {o.rule_written_tex(wd, "0.5") for o in OPTIMIZERS.values() for wd in (0.0, 0.5)}  # with decay
    return {t for t in out if t}


def _check_mathml(tex: str) -> ET.Element:
    out = tex_to_mathml(tex, strict=True)
    assert "\\" not in out, (tex, out)
    return ET.fromstring(out)  # well-formed


# ====================================================================== the converter
def test_every_registry_formula_converts():
    texs = _registry_tex()
    assert len(texs) > 50
    for tex in texs:
        _check_mathml(tex)


@pytest.mark.parametrize("name", BUNDLED)
def test_every_formula_of_the_bundled_examples_converts(cli, monkeypatch, name):
    texs: set[str] = set()
    for cmd in COMMANDS:
        texs |= _tex_of(docs_of(cli, monkeypatch, cmd[0], name, *cmd[1:]))
    assert texs
    for tex in texs:
        _check_mathml(tex)


def test_explain_of_each_function_converts(cli, monkeypatch):
    from bpcalc.registry import ACTIVATIONS, LOSSES

    for fn in [*ACTIVATIONS, *LOSSES, "chain-rule"]:
        for tex in _tex_of(docs_of(cli, monkeypatch, "explain", fn)):
            _check_mathml(tex)


def _mathml(tex: str) -> ET.Element:
    return ET.fromstring(tex_to_mathml(tex, strict=True))


def test_fraction_scripts_and_greek():
    root = _mathml(r"\frac{\partial E}{\partial w_{11}^{(3)}}")
    frac = root[0]
    assert frac.tag == "mfrac" and len(frac) == 2
    assert "".join(frac[0].itertext()) == "∂E"
    sub = frac[1].find("msubsup")
    assert [c.tag for c in sub] == ["mi", "mn", "mrow"]
    assert sub[0].text == "w" and sub[1].text == "11" and "".join(sub[2].itertext()) == "(3)"
    assert "".join(_mathml(r"\sigma \delta \Sigma \alpha \theta").itertext()) == "σδΣαθ"


def test_operators_words_and_text():
    assert "".join(_mathml(r"a \cdot b \times c \odot d \leftarrow e - f").itertext()) == "a⋅b×c⊙d←e−f"
    label = _mathml(r"\delta_{\mathrm{y\_hat}}").find("msub")
    assert label[1].tag == "mi" and label[1].text == "y_hat"
    assert _mathml(r"\mathrm{S}")[0].get("mathvariant") == "normal"
    assert _mathml(r"x\ \text{if } y")[0].find("mtext").text == "if "
    op = _mathml(r"\operatorname{softmax}(z)")
    assert op[0][0].tag == "mi" and op[0][0].text == "softmax"
    hat = _mathml(r"\hat{y}")[0]
    assert hat.tag == "mover" and hat.get("accent") == "true" and hat[0].text == "y"
    root = _mathml(r"\sqrt{G} + \sqrt[3]{x}")
    assert root.find(".//msqrt") is not None and root.find(".//mroot") is not None


def test_sum_fences_and_escapes():
    root = _mathml(r"\sum_k \left(t_k < a_k\right)")
    assert root.find(".//munder/mo").text == "∑"
    fences = [mo for mo in root.iter("mo") if mo.get("stretchy") == "true"]
    assert [f.text for f in fences] == ["(", ")"]
    assert "<" in "".join(root.itertext())  # parsed back from &lt;
    assert "&lt;" in tex_to_mathml("a < b") and "<b" not in tex_to_mathml("a<b")


@pytest.mark.parametrize(("env", "fences"), [("bmatrix", ["[", "]"]), ("pmatrix", ["(", ")"]), ("matrix", [])])
def test_matrices(env, fences):
    root = _mathml(rf"W = \begin{{{env}}} 0.5 & -0.2 \\ w_{{21}} & 1 \end{{{env}}}")
    table = root.find(".//mtable")
    rows = table.findall("mtr")
    assert [len(r.findall("mtd")) for r in rows] == [2, 2]
    assert "".join(rows[0][1].itertext()) == "−0.2"
    assert [mo.text for mo in root.iter("mo") if mo.get("fence") == "true"] == fences


def test_matrix_with_its_shape_underneath():
    root = _mathml(r"\underset{2 \times 3}{\begin{bmatrix} 1 & \cdots & 3 \\ \vdots & & 6 \end{bmatrix}}")
    under = root.find("munder")
    assert under is not None and under[0].find(".//mtable") is not None
    assert "".join(under[1].itertext()) == "2×3"
    assert "⋯" in "".join(root.itertext()) and "⋮" in "".join(root.itertext())


def test_aligned_and_cases():
    root = _mathml(r"\begin{aligned} E &= a \\ &= 0.5 \end{aligned}")
    rows = root.find("mtable").findall("mtr")
    assert len(rows) == 2 and [len(r) for r in rows] == [2, 2]
    cases = _mathml(r"\begin{cases} 1 & z > 0 \\ 0 & z \le 0 \end{cases}")
    assert cases.find(".//mo").text == "{" and len(cases.find(".//mtable")) == 2


def test_unknown_commands_are_refused_in_strict_mode_and_never_leak_a_backslash():
    with pytest.raises(TexError):
        tex_to_mathml(r"\weird{x}", strict=True)
    for tex in (r"\weird{x}", r"\frac{a", r"}}{", r"\left( x", r"a \\ b & c", "\\", r"\mathrm{\x}", "^_"):
        out = tex_to_mathml(tex)
        assert "\\" not in out
        ET.fromstring(out)


# ====================================================================== the page
def _page(cli, *args: str) -> str:
    r = cli(*args, "--format", "html")
    assert r.exit_code == 0, r.stderr
    return r.stdout


def _well_formed(page: str) -> str:
    p = _Checker()
    p.feed(page)
    p.close()
    assert not p.errors and not p.stack, (p.errors, p.stack)
    return "".join(p.text)


@pytest.mark.parametrize("name", BUNDLED)
def test_page_is_self_contained_semantic_and_typeset(cli, name):
    page = _page(cli, "run", name)
    assert page.startswith("<!DOCTYPE html>\n<html lang=\"en\">")
    _well_formed(page)
    low = page.lower()
    for banned in ("<script", "http://", "https://", "url(", "@import", "<link", "<img", "<pre"):
        assert banned not in low, banned
    assert "\\" not in page  # every formula converted
    assert page.count("<table") >= 5 and "<th scope=\"col\"" in page and "<th scope=\"row\"" in page
    assert '<td class="num">' in page
    assert "<math" in page and "@media print" in page and "prefers-color-scheme: dark" in page


def test_page_holds_the_numbers_and_the_formulas(cli):
    page = _page(cli, "run", "simple")
    text = _well_formed(page)
    n = simple_numbers()
    for key in ("S", "a", "E", "delta", "gW1", "gW2", "W1_new", "W2_new", "b_new"):
        assert f'<td class="num">{fmt4(n[key])}</td>' in page, key
    assert "<title>Single sigmoid neuron</title>" in page
    # ∂E/∂W1 typeset as a fraction of identifiers, not as text
    assert ("<mfrac><mrow><mi mathvariant=\"normal\">∂</mi><mi>E</mi></mrow><mrow><mi mathvariant=\"normal\">∂</mi>"
            "<mi>W1</mi></mrow></mfrac>") in page
    assert "∂E/∂W1" not in text


def test_page_language_follows_i18n(cli, monkeypatch):
    import bpcalc.i18n as i18n

    monkeypatch.setattr(i18n, "_language", "ko")
    assert '<html lang="ko">' in render_html(Doc([Heading("x")]))


def test_spec_text_is_escaped(cli, tmp_path):
    spec = tmp_path / "evil.yaml"
    spec.write_text('name: "<script>alert(1)</script> & \\\\frac{a}"\ninputs: [1]\ntargets: [0]\n'
                    'layers:\n  - weights: [[0.5]]\n    activation: sigmoid\n    labels: {z: ["<b>z</b>"]}\n',
                    encoding="utf-8")
    page = _page(cli, "run", str(spec))
    assert "<script" not in page and "<b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp;" in page
    _well_formed(page)


def test_wide_tables_print_as_parts_and_screen_whole():
    from bpcalc.render.html import table_html

    t = Table("Epochs", ["epoch"] + [f"w_{k}" for k in range(30)], numeric=set(range(31)))
    t.add("1", *[f"0.{k:04d}" for k in range(30)])
    out = table_html(t)
    assert out.count('class="tbl screen-only"') == 1
    parts = out.count('class="tbl print-only"')
    assert parts >= 2
    for k in range(30):  # every column in exactly one printed part, besides the whole table
        assert out.count(f"0.{k:04d}") == 2
    assert out.count(">1</td>") == 1 + parts  # the epoch column repeats in each part


# ====================================================================== in a browser
def _chromium(tmp_path: Path, page: Path, *flags: str) -> None:
    profile = tmp_path / "profile"
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={profile}", *flags, page.as_uri()]
    subprocess.run(cmd, capture_output=True, timeout=120, stdin=subprocess.DEVNULL, check=False)


def _print(cli, tmp_path: Path, *args: str) -> tuple[Path, Doc]:
    html_file = tmp_path / "page.html"
    r = cli(*args, "-o", html_file)
    assert r.exit_code in (0, 1), r.stderr
    pdf = tmp_path / "page.pdf"
    _chromium(tmp_path, html_file, f"--print-to-pdf={pdf}", "--no-pdf-header-footer")
    assert pdf.exists() and pdf.read_bytes().startswith(b"%PDF"), "chromium printed nothing"
    return pdf


def _pdf_text(pdf: Path, *opts: str) -> str:
    return subprocess.run([PDFTOTEXT, *opts, str(pdf), "-"], capture_output=True, text=True, check=True).stdout


@needs_browser
def test_printed_page_holds_the_numbers(cli, tmp_path):
    text = _pdf_text(_print(cli, tmp_path, "run", "simple"))
    n = simple_numbers()
    for key in ("S", "a", "E", "delta", "gW1", "gW2", "W1_new", "W2_new", "b_new"):
        assert fmt4(n[key]) in text, key
    c = chain_numbers()
    text = _pdf_text(_print(cli, tmp_path, "run", "graph_chain"))
    for key in ("q", "f", "L", "dq", "dz", "x_new", "z_new"):
        assert fmt4(c[key]) in text, key


@needs_browser
def test_matrices_inside_an_aligned_equation_keep_their_column_spacing(cli, tmp_path):
    """The GRU example's first matrix equation stands in an aligned block: each entry of W_ihᵀ (2 × 4) is printed
    apart from the next (the aligned block's cell padding once reached the nested matrices and ran them together:
    0.20.4−0.3−0.1)."""
    text = _pdf_text(_print(cli, tmp_path, "run", "gru", "--view", "matrix", "--format", "html"))
    assert "0.2" in text and "−0.3" in text
    assert "0.20.4" not in text and "0.4−0.3" not in text


def _words(pdf: Path) -> list[tuple[int, float, float, float, str]]:
    """(page, xMax, page width, height, word) of every word pdftotext finds."""
    out = []
    page_no, width = 0, 0.0
    for line in _pdf_text(pdf, "-bbox").splitlines():
        if m := re.search(r'<page width="([\d.]+)"', line):
            page_no += 1
            width = float(m.group(1))
        elif m := re.search(r'yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">(.*)</word>', line):
            out.append((page_no, float(m.group(2)), width, float(m.group(3)) - float(m.group(1)), m.group(4)))
    return out


def _numbers(doc: Doc) -> set[str]:
    return {text_of(c) for b in doc.blocks if isinstance(b, Table) for r in b.rows
            for i, c in enumerate(r) if i in b.numeric and re.fullmatch(r"-?[\d.]+(e-?\d+)?", text_of(c))}


def _last_lines(pdf: Path) -> list[str]:
    """The last line of text on each page but the last."""
    out = []
    for page in _pdf_text(pdf).split("\f")[:-1]:
        lines = [ln.strip() for ln in page.splitlines() if ln.strip()]
        out.append(lines[-1] if lines else "")
    return out


def _print_doc(tmp_path: Path, doc: Doc) -> Path:
    html_file = tmp_path / "doc.html"
    html_file.write_text(render_html(doc), encoding="utf-8")
    pdf = tmp_path / "doc.pdf"
    _chromium(tmp_path, html_file, f"--print-to-pdf={pdf}", "--no-pdf-header-footer")
    assert pdf.exists(), "chromium printed nothing"
    return pdf


@needs_browser
def test_printed_headings_stay_with_their_tables(tmp_path):
    """Forty headed tables of 5 to 15 rows: without the print rules some heading or header row ends a page."""
    doc = Doc()
    doc.heading("Headed tables")
    for i in range(40):
        doc.heading(f"Section {i + 1}", 2)
        t = doc.table(f"Table {i + 1}", ["quantity", "value"], {1})
        for r in range(5 + (i * 7) % 11):
            t.add(f"q{r}", f"{i}.{r}")
    last = _last_lines(_print_doc(tmp_path, doc))
    assert len(last) >= 3
    assert all(re.fullmatch(r"\d+\.\d+", ln) for ln in last), last  # every page ends on a table's row


@needs_browser
def test_printed_wide_table_is_split_not_shrunk(tmp_path):
    doc = Doc()
    doc.heading("A wide table")
    cols = ["epoch"] + [f"w_{k}" for k in range(40)]
    t = doc.table("Epochs", cols, set(range(len(cols))))
    for e in range(3):
        t.add(str(e + 1), *[f"{e}.{k:04d}" for k in range(40)])
    words = _words(_print_doc(tmp_path, doc))
    printed = {w[-1] for w in words}
    assert not sorted(_numbers(doc) - printed)
    heights = [h for *_, h, w in words if re.fullmatch(r"\d\.\d{4}", w)]
    assert min(heights) > 5.0  # 7 pt type at least (height ≈ 0.73 × size): shrunk to fit, it would be 3 pt


@pytest.fixture(scope="module")
def title_height(tmp_path_factory) -> float:
    """The printed height of a title's words on a page Chromium did not shrink to fit."""
    words = _words(_print_doc(tmp_path_factory.mktemp("ref"), Doc([Heading("Reference title")])))
    return max(h for *_, h, w in words if w in ("Reference", "title"))


@needs_browser
@pytest.mark.parametrize("args", [("step", "two_layer", "--epochs", "1000"), ("run", "xor"), ("explain", "xor"),
                                  ("check", "xor")])
def test_printed_pages_cut_nothing_and_keep_headings_with_tables(cli, monkeypatch, tmp_path, title_height, args):
    doc = docs_of(cli, monkeypatch, *args)
    monkeypatch.undo()
    pdf = _print(cli, tmp_path, *args)
    words = _words(pdf)
    assert words
    outside = [(w, x, width) for _, x, width, _h, w in words if x > width - 20]  # inside the 15 mm margin
    assert not outside, outside[:5]
    printed = {w[-1] for w in words}
    missing = sorted(_numbers(doc) - printed)
    assert not missing, missing[:10]
    decimals = {x for x in _numbers(doc) if re.fullmatch(r"-?\d+\.\d+", x)}
    assert min(h for *_, h, w in words if w in decimals) > 5.0  # printed at 7 pt or more
    title = [b.text for b in doc.blocks if isinstance(b, Heading)][0].split()
    heights = [h for page, _x, _w, h, w in words if page == 1 and w in title]
    assert max(heights) >= 0.99 * title_height  # nothing too wide made Chromium shrink the page to fit
    headings = {b.text for b in doc.blocks if isinstance(b, (Heading,))}
    assert not headings & set(_last_lines(pdf))


def _png_ink(png: bytes) -> int:
    """How many distinct byte values the image data holds (a blank page: a handful)."""
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    pos, data = 8, b""
    while pos < len(png):
        n = int.from_bytes(png[pos:pos + 4], "big")
        kind = png[pos + 4:pos + 8]
        if kind == b"IDAT":
            data += png[pos + 8:pos + 8 + n]
        pos += 12 + n
    return len(set(zlib.decompress(data)))


@needs_browser
def test_page_renders_in_a_browser(cli, tmp_path):
    html_file = tmp_path / "explain.html"
    assert cli("explain", "two_layer", "-o", html_file).exit_code == 0
    png = tmp_path / "shot.png"
    _chromium(tmp_path, html_file, f"--screenshot={png}", "--window-size=1000,1400", "--hide-scrollbars")
    assert png.exists()
    assert _png_ink(png.read_bytes()) > 40
    blank = tmp_path / "blank.html"
    blank.write_text("<!DOCTYPE html><html><body></body></html>", encoding="utf-8")
    png2 = tmp_path / "blank.png"
    _chromium(tmp_path, blank, f"--screenshot={png2}", "--window-size=1000,1400")
    assert _png_ink(png2.read_bytes()) < 10  # the measure tells a page from a blank one


@needs_browser
def test_printed_korean_page(cli, tmp_path):
    from test_latex_fit import KOREAN_SPEC

    spec = tmp_path / "ko.yaml"
    spec.write_text(KOREAN_SPEC, encoding="utf-8")
    text = _pdf_text(_print(cli, tmp_path, "run", str(spec)))
    for word in ("한국어 신경망 예제", "합계", "가중치1", "편향"):
        assert word in text, word
    n = simple_numbers()  # the same neuron as the simple example, with Korean labels
    for key in ("S", "a", "delta", "W1_new", "b_new"):
        assert fmt4(n[key]) in text, key


def test_blanks_and_equations_with_matrices():
    """A worksheet's blank is a ruled box; an equation with matrices is typeset, its caption below."""
    from bpcalc.render.doc import Blank

    class Equation:  # the shape of render.equation's Equation
        caption = "W is 2×2"
        text = "W = [[0.5, -0.2], [0.1, 1]]"

        def tex(self) -> str:
            return r"W = \underset{2 \times 2}{\begin{bmatrix} 0.5 & -0.2 \\ 0.1 & 1 \end{bmatrix}}"

    doc = Doc([Heading("Worksheet")])
    doc.table(None, ["quantity", "value"], {1}).add("w", Blank(5))
    doc.blocks.append(Equation())
    page = render_html(doc)
    _well_formed(page)
    assert '<span class="blank" style="width:6.0em"' in page
    assert "\\" not in page and page.count("<mtr>") == 2 and "<munder>" in page
    assert '<p class="caption">W is 2×2</p>' in page


def test_a_worksheet_in_html_has_ruled_boxes(cli):
    """bpcalc worksheet --format html: every blank a ruled box, in the tables and in the derivations' equations."""
    r = cli("worksheet", "simple", "--explain", "--format", "html")
    assert r.exit_code == 0, r.stderr
    _well_formed(r.stdout)
    assert r.stdout.count('<span class="blank"') > 20 and '<mrow class="blank"><mphantom>' in r.stdout
    assert "____" not in r.stdout and "\\" not in r.stdout
