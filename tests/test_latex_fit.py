"""LaTeX that fits: every bundled example's run, explain, step and check compile with a real engine without an
overfull line in a table, every number of every table printed; headings and table titles never end a page; Korean
selects a Unicode engine and its glyphs are really in the PDF.

The layout checks compare the PDF with the document it was made from; no expected number comes from bpcalc."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import BUNDLED
from test_html import _numbers, docs_of

from bpcalc.render.doc import Doc, Heading, Table
from bpcalc.render.latex import needs_unicode_engine, render_latex

PDFLATEX = shutil.which("pdflatex")
LUALATEX = shutil.which("lualatex")
PDFTOTEXT = shutil.which("pdftotext")
PDFFONTS = shutil.which("pdffonts")


def _has(sty: str) -> bool:
    kpse = shutil.which("kpsewhich")
    return bool(kpse) and subprocess.run([kpse, sty], capture_output=True, text=True).stdout.strip() != ""


needs_pdflatex = pytest.mark.skipif(not (PDFLATEX and PDFTOTEXT and _has("longtable.sty") and _has("needspace.sty")),
                                    reason="needs pdflatex with longtable and needspace, and pdftotext")
needs_korean = pytest.mark.skipif(not (LUALATEX and PDFTOTEXT and PDFFONTS and _has("kotex.sty")),
                                  reason="needs lualatex with kotex (texlive-lang-korean), pdftotext and pdffonts")

OVERFULL = re.compile(r"Overfull \\hbox \(([\d.]+)pt too wide\)")
COMMANDS = [("run",), ("explain",), ("step", "--epochs", "1000"), ("check",)]


def _compile(engine: str, tex: str, folder: Path) -> tuple[Path, str]:
    (folder / "doc.tex").write_text(tex, encoding="utf-8")
    res = subprocess.run([engine, "-interaction=nonstopmode", "-halt-on-error", "doc.tex"], cwd=folder,
                         capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
    log = (folder / "doc.log").read_text(encoding="utf-8", errors="replace")
    assert res.returncode == 0, log[-3000:]
    return folder / "doc.pdf", log


def _text(pdf: Path) -> str:
    return subprocess.run([PDFTOTEXT, str(pdf), "-"], capture_output=True, text=True, check=True).stdout


def _page_ends(pdf: Path) -> list[str]:
    """The last line of text on each page but the last (the page number dropped)."""
    out = []
    for page in _text(pdf).split("\f")[:-1]:
        lines = [ln.strip() for ln in page.splitlines() if ln.strip() and not ln.strip().isdigit()]
        out.append(lines[-1] if lines else "")
    return out


def _titles(doc: Doc) -> set[str]:
    """Headings and table titles that pdftotext gives back as written (no notation in them)."""
    out = {b.text for b in doc.blocks if isinstance(b, Heading)}
    out |= {b.title for b in doc.blocks if isinstance(b, Table) and b.title}
    return {t for t in out if not re.search(r"[_^∂σδ]", t)}


def _decimals(text: str) -> set[str]:
    return set(re.findall(r"(?<![\w.])-?\d+\.\d+(?:e-?\d+)?", text.replace("−", "-")))


# ====================================================================== every bundled example
@needs_pdflatex
@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_documents_fit_the_page(cli, monkeypatch, tmp_path, name):
    for cmd in COMMANDS:
        doc = docs_of(cli, monkeypatch, cmd[0], name, *cmd[1:])
        tex = render_latex(doc, standalone=True)
        assert not tex.startswith("% !TEX")  # Latin text: pdflatex
        pdf, log = _compile(PDFLATEX, tex, tmp_path)
        wide = [float(x) for x in OVERFULL.findall(log)]
        assert not [w for w in wide if w > 1.0], (cmd, wide)
        assert "bpcalc: a table scaled" not in log, cmd  # split or wrapped instead
        printed = _decimals(_text(pdf))
        numbers = {x for x in _numbers(doc) if "." in x}
        missing = sorted(numbers - printed)
        assert not missing, (cmd, missing[:10])
        ends = set(_page_ends(pdf))
        assert not ends & _titles(doc), (cmd, ends & _titles(doc))


@needs_pdflatex
def test_wide_and_long_tables(tmp_path):
    """40 numeric columns split into parts that fit; 120 rows break across pages as a longtable."""
    doc = Doc()
    doc.heading("Wide and long")
    cols = ["epoch"] + [f"w_{k}" for k in range(40)]
    t = doc.table("Wide", cols, set(range(len(cols))))
    for e in range(3):
        t.add(str(e + 1), *[f"{e}.{k:04d}" for k in range(40)])
    t = doc.table("Long", ["epoch", "loss"], {0, 1})
    for e in range(120):
        t.add(str(e + 1), f"0.{e:04d}5")
    tex = render_latex(doc, standalone=True)
    assert tex.count(r"\begin{longtable}") == 1 and "Wide (continued)" in tex
    pdf, log = _compile(PDFLATEX, tex, tmp_path)
    assert not OVERFULL.search(log) and "scaled" not in log
    assert _numbers(doc) <= _decimals(_text(pdf)) | {str(e) for e in range(1, 121)}


# ====================================================================== Korean
KOREAN_SPEC = """name: 한국어 신경망 예제
inputs: [0.1, 0.3]
targets: [0.03]
layers:
  - weights: [[0.5, 0.2]]
    biases: [1.83]
    activation: sigmoid
    labels: {z: [합계], weights: [[가중치1, 가중치2]], biases: [편향]}
loss: half_sse
learning_rate: 0.5
"""


def test_korean_selects_a_unicode_engine(cli, tmp_path):
    spec = tmp_path / "ko.yaml"
    spec.write_text(KOREAN_SPEC, encoding="utf-8")
    tex = cli("run", str(spec), "--format", "latex", "--standalone").stdout
    assert tex.startswith("% !TEX program = lualatex\n")
    assert r"\usepackage{kotex}" in tex and "inputenc" not in tex
    assert r"\text{가중치}" in tex  # Hangul in math is text
    fragment = cli("run", str(spec), "--format", "latex").stdout
    assert "lualatex" in fragment.split("\n", 2)[1]
    latin = cli("run", "simple", "--format", "latex", "--standalone").stdout
    assert latin.startswith(r"\documentclass") and "kotex" not in latin and "inputenc" in latin
    assert not needs_unicode_engine(Doc([Heading("Café σ ∂E/∂w")]))
    assert needs_unicode_engine(Doc([Heading("역전파")]))


@needs_korean
def test_korean_glyphs_are_in_the_pdf(cli, tmp_path):
    spec = tmp_path / "ko.yaml"
    spec.write_text(KOREAN_SPEC, encoding="utf-8")
    tex = cli("run", str(spec), "--format", "latex", "--standalone").stdout
    pdf, log = _compile(LUALATEX, tex, tmp_path)
    assert "Missing character" not in log
    fonts = subprocess.run([PDFFONTS, str(pdf)], capture_output=True, text=True, check=True).stdout
    assert re.search(r"CJK|Nanum|UnBatang|Baekmuk", fonts), fonts
    text = _text(pdf)
    for word in ("한국어 신경망 예제", "합계", "가중치1", "편향"):
        assert word in text, word
    n = 0.1 * 0.5 + 0.3 * 0.2 + 1.83  # z = Σ x·w + b, by hand
    assert f"{n:.2f}" in text


@needs_pdflatex
def test_fragment_fits_a_narrower_document(cli, monkeypatch, tmp_path):
    """Pasted into a default article (a 345 pt text block, narrower than the standalone's), TeX measures each table
    and scales what is still too wide: no overfull line."""
    for args in (("step", "two_layer", "--epochs", "1000"), ("run", "xor")):
        fragment = render_latex(docs_of(cli, monkeypatch, *args))
        packages = re.search(r"\\usepackage\{([a-z,]+)\}", fragment.splitlines()[0]).group(1)
        tex = (f"\\documentclass{{article}}\n\\usepackage{{{packages}}}\n\\begin{{document}}\n{fragment}"
               "\\end{document}\n")
        pdf, log = _compile(PDFLATEX, tex, tmp_path)
        assert not [w for w in map(float, OVERFULL.findall(log)) if w > 1.0], args
        assert "bpcalc: a table scaled" in log  # the safety net at work


# ====================================================================== larger than the bundled examples
OVERFULL_ANY = re.compile(r"Overfull \\[hv]box \(([\d.]+)pt too (?:wide|high)\)")


def _large_spec(sizes: list[int], n: int, seed: int) -> str:
    """A tanh/relu/softmax network of `sizes` with n samples, cross_entropy and Adam (numbers drawn here)."""
    import numpy as np
    import yaml

    rng = np.random.default_rng(seed)
    layers = [{"weights": np.round(rng.uniform(-0.5, 0.5, (sizes[i], sizes[i - 1])), 2).tolist(),
               "biases": np.round(rng.uniform(-0.2, 0.2, sizes[i]), 2).tolist(),
               "activation": "softmax" if i == len(sizes) - 1 else ("tanh", "relu")[(i - 1) % 2]}
              for i in range(1, len(sizes))]
    return yaml.safe_dump({"name": "large", "inputs": np.round(rng.uniform(0, 1, (n, sizes[0])), 2).tolist(),
                           "targets": np.eye(sizes[-1])[rng.integers(0, sizes[-1], n)].tolist(), "layers": layers,
                           "loss": "cross_entropy", "optimizer": {"type": "adam"}, "learning_rate": 0.01})


@needs_pdflatex
@pytest.mark.parametrize("sizes,n,seed", [([4, 5, 4, 3], 3, 2), ([4, 5, 4, 3], 3, 3), ([5, 6, 5, 3], 4, 1)])
def test_larger_documents_never_run_into_the_margin_or_footer(cli, tmp_path, sizes, n, seed):
    """A 4-5-4-3 network with 3 samples (rows of three-sample sums, stacked fractions, tables of 20-odd rows):
    no overfull box at all, horizontal or vertical (a table over the page number is an overfull \\vbox)."""
    spec = tmp_path / "large.yaml"
    spec.write_text(_large_spec(sizes, n, seed), encoding="utf-8")
    for args in (("run",), ("explain",), ("worksheet", "--answers"), ("run", "--view", "matrix")):
        r = cli(*args[:1], spec, *args[1:], "--format", "latex", "--standalone")
        assert r.exit_code == 0, r.stderr
        pdf, log = _compile(PDFLATEX, r.stdout, tmp_path)
        assert not OVERFULL_ANY.findall(log), (args, OVERFULL_ANY.findall(log))
