"""LaTeX: a fragment (sections, tabulars, $…$ math) to paste into a document, or a standalone document.

Plain text is escaped character by character; its mathematical symbols (σ, ∂, −, ², ŷ, …) become math.
The fragment needs amsmath and amssymb in the including document's preamble; --standalone loads them."""

from __future__ import annotations

import re
import unicodedata

from bpcalc.render.doc import (
    Blank,
    Block,
    Cell,
    Doc,
    Equation,
    Heading,
    M,
    NameLine,
    PageBreak,
    Para,
    Table,
    text_of,
)
from bpcalc.render.fit import WRAP_CHARS, split_columns, sum_terms, typeset_width

# ASCII characters LaTeX treats specially in text
_TEXT_SPECIALS = {
    "\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "_": r"\_", "%": r"\%", "&": r"\&", "#": r"\#",
    "$": r"\$", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "<": r"\textless{}", ">": r"\textgreater{}",
    "|": r"\textbar{}",
}

# non-ASCII symbols -> math-mode LaTeX (wrapped in \ensuremath in text)
_MATH = {
    "σ": r"\sigma", "δ": r"\delta", "∂": r"\partial", "Σ": r"\Sigma", "∑": r"\sum", "−": "-", "×": r"\times",
    "·": r"\cdot", "⋅": r"\cdot", "∙": r"\cdot", "½": r"\frac{1}{2}", "α": r"\alpha", "β": r"\beta", "γ": r"\gamma",
    "ε": r"\varepsilon", "η": r"\eta", "θ": r"\theta", "λ": r"\lambda", "μ": r"\mu", "π": r"\pi", "τ": r"\tau",
    "φ": r"\varphi", "ω": r"\omega", "Δ": r"\Delta", "∇": r"\nabla", "ŷ": r"\hat{y}", "←": r"\leftarrow",
    "→": r"\rightarrow", "⇒": r"\Rightarrow", "≈": r"\approx", "≠": r"\neq", "≤": r"\leq", "≥": r"\geq",
    "±": r"\pm", "∞": r"\infty", "√": r"\surd", "∈": r"\in", "⊙": r"\odot", "∘": r"\circ", "′": r"'",
    "‖": r"\|", "…": r"\ldots", "⋯": r"\cdots", "✓": r"\checkmark", "✗": r"\times", "✔": r"\checkmark", "✘": r"\times",
    "²": "^{2}", "³": "^{3}", "¹": "^{1}", "⁰": "^{0}", "⁴": "^{4}", "⁻": "^{-}", "⁺": "^{+}", "ᵀ": "^{T}",
    "₀": "_{0}", "₁": "_{1}", "₂": "_{2}", "₃": "_{3}", "₄": "_{4}", "ₖ": "_{k}", "ⱼ": "_{j}", "ᵢ": "_{i}",
    # the gates of lstm and gru as superscripts (δⁱ, sⁿ)
    "ⁱ": "^{i}", "ᶠ": "^{f}", "ᵍ": "^{g}", "ᵒ": "^{o}", "ʳ": "^{r}", "ᶻ": "^{z}", "ⁿ": "^{n}",
}
# non-ASCII text punctuation -> text-mode LaTeX
_TEXT_UNICODE = {"—": "---", "–": "--", "‘": "`", "’": "'", "“": "``", "”": "''", "\u00a0": "~",
                 "°": r"\ensuremath{^\circ}"}
# the loss curve's block elements ▁▂▃▄▅▆▇█ -> bars of 1/8 .. 8/8 of the line height, 0.3 em wide
_TEXT_UNICODE.update({chr(0x2581 + i): rf"\rule{{0.3em}}{{{(i + 1) / 8 * 1.6:.2f}ex}}" for i in range(8)})
# a letter followed by a combining accent: m̂, x̄, ẋ
_COMBINING = {"\u0302": r"\hat", "\u0304": r"\bar", "\u0305": r"\bar", "\u0303": r"\tilde", "\u0307": r"\dot",
              "\u20d7": r"\vec"}
_ACCENTED = re.compile("(?P<acc_base>[A-Za-z])(?P<acc>[" + "".join(_COMBINING) + "])")


def _math_char(ch: str) -> str | None:
    """Math-mode LaTeX for one non-ASCII character, or None when it has none."""
    if ch in _MATH:
        return _MATH[ch]
    name = unicodedata.name(ch, "")
    if name.startswith("GREEK SMALL LETTER ") and len(name.split()) == 4:
        return "\\" + name.split()[-1].lower()
    if name.startswith("GREEK CAPITAL LETTER ") and len(name.split()) == 4:
        letter = name.split()[-1].capitalize()
        return "\\" + letter if letter in {"Gamma", "Delta", "Theta", "Lambda", "Xi", "Pi", "Sigma", "Upsilon",
                                            "Phi", "Psi", "Omega"} else None
    return None


# notation written in plain text (z_1^(2), ∂E/∂w_jk, Σ_k, e^(−z)) -> math; `half_sse` and `y_hat` stay text
_NOTATION = re.compile(
    r"(?<![A-Za-z0-9_])(?P<base>[A-Za-zσδ∂Σθαβγηλμŷ])"
    r"(?:_(?P<sub>[0-9]+(?:,[0-9]+)*|[A-Za-z0-9]{1,2})(?![A-Za-z0-9_]|,[0-9]))?"
    r"(?:\^(?:\((?P<supp>[A-Za-z0-9,.+\-−]+)\)|(?P<supw>[A-Za-z0-9])(?![A-Za-z0-9_])))?")


_TOKENS = re.compile(_ACCENTED.pattern + "|" + _NOTATION.pattern)


def _notation(m: re.Match) -> str | None:
    sub, sup = m.group("sub"), m.group("supp") or m.group("supw")
    if sub is None and sup is None:
        return None
    base = m.group("base")
    out = _math_char(base) + " " if ord(base) >= 128 else base
    if sub is not None:
        out += "_{" + sub + "}"
    if sup is not None:
        out += "^{" + (f"({math(m.group('supp'))})" if m.group("supp") else sup) + "}"
    return out.strip()


def spans(text: str) -> list[tuple[str, str]]:
    """Plain text cut into ("text", characters) and ("math", LaTeX) pieces: layer notation written in the text
    (z_1^(2), ∂E/∂w_jk's w_jk, m̂) is math; everything else, symbols included, is text."""
    out: list[tuple[str, str]] = []
    pos = 0
    for m in _TOKENS.finditer(text):
        if m.group("acc") is not None:  # a letter with a combining accent: m̂
            rep = _COMBINING[m.group("acc")] + "{" + m.group("acc_base") + "}"
        else:
            rep = _notation(m)
        if rep is None:
            continue
        if m.start() > pos:
            out.append(("text", text[pos:m.start()]))
        out.append(("math", rep))
        pos = m.end()
    if pos < len(text):
        out.append(("text", text[pos:]))
    return out


def _chars(text: str) -> str:
    out: list[str] = []
    for i, ch in enumerate(text):
        if ch in _TEXT_SPECIALS:
            out.append(_TEXT_SPECIALS[ch])
        elif ch == "-" and i + 1 < len(text) and text[i + 1].isdigit() and (i == 0 or not text[i - 1].isalnum()):
            out.append(r"\ensuremath{-}")  # a negative number: a minus sign, not a hyphen
        elif ch == "-" and out and out[-1].endswith("-"):
            out.append("{}-")  # no en-dash ligature from "--"
        elif ord(ch) < 128:
            out.append(ch)
        elif ch in _TEXT_UNICODE:
            out.append(_TEXT_UNICODE[ch])
        elif (m := _math_char(ch)) is not None:
            out.append(r"\ensuremath{" + m + "}")
        else:
            out.append(ch)  # letters (é, 한) pass through for the engine's input encoding
    return "".join(out)


def escape(text: str) -> str:
    """Plain text -> LaTeX text mode: specials escaped; notation and math symbols as \\ensuremath{…}."""
    return "".join(_chars(v) if k == "text" else r"\ensuremath{" + v + "}" for k, v in spans(text))


def math(tex: str) -> str:
    """Any stray non-ASCII symbol in a LaTeX math string made ASCII; letters with no math form (é, 한) as \text."""
    tex = _ACCENTED.sub(lambda m: _COMBINING[m.group("acc")] + "{" + m.group("acc_base") + "}", tex)
    out: list[str] = []
    run: list[str] = []
    for ch in tex:
        m = _math_char(ch) if ord(ch) >= 128 else None
        if ord(ch) >= 128 and m is None and ch.isalpha():
            run.append(ch)
            continue
        if run:
            out.append(r"\text{" + "".join(run) + "}")
            run = []
        out.append(ch if m is None else m if m[0] in "^_" else "{" + m + "}")
    if run:
        out.append(r"\text{" + "".join(run) + "}")
    return "".join(out)


def cell(c: Cell) -> str:
    """A table cell or paragraph: notation as inline math, text escaped; a blank as a ruled box to write in."""
    if isinstance(c, Blank):
        return (rf"{{\setlength{{\fboxsep}}{{0.6pt}}\framebox[{1.2 * c.width:.1f}em]"
                rf"{{\rule[-0.3em]{{0pt}}{{1.25em}}}}}}")  # a row high: rows of boxes set close
    if isinstance(c, M):
        return f"${math(c.tex)}$" if c.tex else ""
    return escape(c)


# ---------------------------------------------------------------- layout
# the text block of the standalone document (A4, 1.5 cm margins: 180 mm = 510 pt; Letter's is wider); Computer
# Modern at 10 pt: a digit is 5 pt, a bold letter about 5.8; each column adds 2 × \tabcolsep = 8 pt
TEXT_PT = 510.0
CHAR_PT = 5.0
BOLD_PT = 5.8
COLUMN_PT = 8.0
MIN_SCALE = 0.9  # a table that would have to shrink more than this is split into parts of its columns
ROW_PT = 16.8  # a row at \arraystretch 1.4
FRAC_ROW = 1.4  # a row holding a stacked fraction, in rows of text
BOX_ROWS = 30  # longer tables are longtables (they break across pages); shorter ones stay whole
PAGE_PT = 700.0  # a heading, what follows it and its table are kept on one page up to about this height
_CJK = re.compile("[\u1100-\u11ff\u3130-\u318f\uac00-\ud7af\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff\uff00-\uffef]")


def _width_pt(c: Cell, bold: bool = False) -> float:
    if isinstance(c, M) and len(sum_terms(c.tex)) > 1:
        return min(typeset_width(c), WRAP_CHARS) * CHAR_PT
    return typeset_width(c) * (BOLD_PT if bold else CHAR_PT)


def _natural_pt(t: Table) -> float:
    widths = [_width_pt(h, True) for h in t.columns]
    for r in t.rows:
        for i, c in enumerate(r[:len(widths)]):
            widths[i] = max(widths[i], _width_pt(c))
    return sum(w + COLUMN_PT for w in widths)


def _fits(widths: list[float]) -> bool:
    """Whether a table fits the text block, scaled down to MIN_SCALE at most."""
    return sum(w + COLUMN_PT for w in widths) * MIN_SCALE <= TEXT_PT


def _fits_unscaled(widths: list[float]) -> bool:
    return sum(w + COLUMN_PT for w in widths) <= TEXT_PT


def _part_width(c: Cell) -> float:
    return _width_pt(c, False)


def _cell(c: Cell) -> str:
    """A table cell; a long sum as lines of terms (a nested tabular), so the column stays narrow."""
    if not isinstance(c, M) or not c.tex:
        return cell(c)
    lines = _wrapped(c)
    if len(lines) == 1 and len(sum_terms(c.tex)) == 1:
        return cell(c)
    rows = [("" if i == 0 else "{}") + " ".join(ln) for i, ln in enumerate(lines)]
    return r"\begin{tabular}[t]{@{}l@{}}" + r"\\ ".join(f"${math(r)}$" for r in rows) + r"\end{tabular}"


def _wrapped(c: Cell) -> list[list[str]]:
    """A cell's sum as the lines of terms it is set in (one line: a cell that does not wrap)."""
    if not isinstance(c, M) or not c.tex:
        return [[]]
    lines: list[list[str]] = [[]]
    width = 0.0
    for term in sum_terms(c.tex):
        w = typeset_width(M(term, term))
        if lines[-1] and width + w > WRAP_CHARS:
            lines.append([])
            width = 0.0
        lines[-1].append(term)
        width += w
    return lines


def _too_tall(t: Table) -> bool:
    """Longer than a page once its wrapped sums are counted: it must break across pages."""
    return sum(_row_pt(r) for r in t.rows) > PAGE_PT


def _row_pt(r: list[Cell]) -> float:
    """A row's height: a line a wrapped sum's line, a stacked fraction (∂E/∂w) taller than a line of text."""
    lines = max((len(_wrapped(c)) for c in r), default=1)
    tall = any(isinstance(c, M) and r"\frac" in c.tex for c in r)
    return ROW_PT * lines * (FRAC_ROW if tall else 1.0)


def _rows(t: Table) -> list[str]:
    out = [" & ".join(r"\textbf{" + escape(h) + "}" if h else "" for h in t.columns) + r" \\", r"\hline"]
    if not any(t.columns):  # a table of named numbers (a worksheet's givens): no header row
        out = []
    for r in t.rows:
        cells = [_cell(c) for c in r] + [""] * (len(t.columns) - len(r))
        out.append(" & ".join(cells) + r" \\")
    return out


def _stretch(t: Table) -> str:
    """Row spacing: a worksheet's rows closer (its answer boxes hold them apart)."""
    return r"1.12}\small" if t.compact else "1.4}"


def _spec(t: Table) -> str:
    return "".join("r" if i in t.numeric else "l" for i in range(len(t.columns)))


def _boxed(t: Table) -> list[str]:
    """A table kept whole, scaled to the line width if it is still wider (TeX measures it)."""
    out = [r"{\renewcommand{\arraystretch}{" + _stretch(t),
           r"\sbox{\bpcalcbox}{\begin{tabular}{" + _spec(t) + "}", r"\hline"]
    out += _rows(t)
    out += [r"\hline", r"\end{tabular}}",
            r"\ifdim\wd\bpcalcbox>\linewidth\typeout{bpcalc: a table scaled to the line width}"
            r"\sbox{\bpcalcbox}{\resizebox{\linewidth}{!}{\usebox{\bpcalcbox}}}\fi",
            # taller than a page (rows of stacked sums and fractions): scaled to the page, never into the footer
            r"\ifdim\dimexpr\ht\bpcalcbox+\dp\bpcalcbox\relax>0.8\textheight"
            r"\typeout{bpcalc: a table scaled to the page height}"
            r"\sbox{\bpcalcbox}{\resizebox*{!}{0.8\textheight}{\usebox{\bpcalcbox}}}\fi",
            r"\noindent\usebox{\bpcalcbox}\par}"]
    return out


def _long(t: Table) -> list[str]:
    """A table that breaks across pages, its header repeated; in smaller type if it is wider than the line, as TeX
    measures it (the rows set once as a tabular in a box, not printed: a longtable is not measured in one run)."""
    rows = _rows(t)
    out = [r"{\renewcommand{\arraystretch}{" + _stretch(t),
           r"\sbox{\bpcalcbox}{\begin{tabular}{" + _spec(t) + "}", *rows, r"\end{tabular}}",
           r"\ifdim\wd\bpcalcbox>\linewidth\ifdim\wd\bpcalcbox>1.09\linewidth\ifdim\wd\bpcalcbox>1.22\linewidth"
           r"\scriptsize\else\footnotesize\fi\else\small\fi\fi",
           r"\setlength{\LTleft}{0pt}\setlength{\LTright}{\fill}\setlength{\LTpre}{2pt}",
           r"\begin{longtable}{" + _spec(t) + "}", r"\hline"]
    header = _rows(Table(t.title, t.columns))
    out += header + [r"\endhead", r"\hline", r"\endfoot"]
    out += rows[len(header):]
    out += [r"\end{longtable}\par}"]
    return out


def _table(t: Table) -> list[str]:
    out = []
    for part in split_columns(t, _fits, width=_part_width, part_fits=_fits_unscaled):
        if part.title:
            out.append((r"\smallskip" if t.compact else r"\medskip") + r"\noindent\textbf{" + escape(part.title)
                       + r"}\par\nopagebreak")
        out += _long(part) if len(part.rows) > BOX_ROWS or _too_tall(part) else _boxed(part)
        if part.caption:
            out += [r"\nopagebreak\noindent\emph{" + escape(part.caption) + "}\\par"]
        out.append("")
    return out


def _display(tex: str, keep: bool) -> list[str]:
    """A display equation, scaled to the line width if it is wider."""
    return [r"\par\medskip\sbox{\bpcalcbox}{$\displaystyle " + math(tex) + "$}",
            r"\noindent\hfill\ifdim\wd\bpcalcbox>\linewidth\typeout{bpcalc: an equation scaled to the line width}"
            r"\resizebox{\linewidth}{!}{\usebox{\bpcalcbox}}"
            r"\else\usebox{\bpcalcbox}\fi\hfill\null\par" + (r"\nopagebreak" if keep else "") + r"\medskip"]


def _height_pt(b: Block) -> float:
    """A rough height of a block, to keep a heading with its table only where they fit on one page."""
    if isinstance(b, Table):
        return (len(b.rows) + 2) * ROW_PT + 30
    if isinstance(b, Para):
        if b.style == "math" and isinstance(b.text, M):
            return 28.0 * (b.text.tex.count(r"\\") + 1) + 20
        return 12.0 * (len(text_of(b.text)) // 110 + 1) + 6
    return 30.0


def needs_unicode_engine(doc: Doc) -> bool:
    """Whether the document holds Korean (or other CJK) text, which pdflatex cannot typeset."""
    def texts(b) -> list[str]:
        if isinstance(b, Heading):
            return [b.text]
        if isinstance(b, Para):
            return [text_of(b.text), b.text.tex if isinstance(b.text, M) else ""]
        if isinstance(b, Table):
            return [b.title or "", b.caption or "", *map(text_of, b.columns),
                    *(x for r in b.rows for c in r for x in (text_of(c), c.tex if isinstance(c, M) else ""))]
        if isinstance(b, Equation):
            return [b.text, b.caption or ""]
        return [str(getattr(b, "text", ""))]

    return any(_CJK.search(s) for b in doc.blocks for s in texts(b))


_SECTIONS = {1: r"\section*", 2: r"\subsection*", 3: r"\subsubsection*"}


def _kept(blocks: list[Block], i: int) -> bool:
    """Whether block i (a heading or a paragraph after one) is kept on the page of what it introduces: the table
    that follows it, or a display equation before that (a derivation's table may then start the next page)."""
    height = 0.0
    for b in blocks[i:]:
        height += _height_pt(b)
        if isinstance(b, Table):
            return len(b.rows) <= BOX_ROWS and height <= PAGE_PT
        if _is_display(b):
            return height <= PAGE_PT
    return False


def _is_display(b: Block) -> bool:
    return isinstance(b, Para) and b.style == "math" and isinstance(b.text, M)


def render_latex(doc: Doc, standalone: bool = False, **_) -> str:
    """The Doc as a LaTeX fragment, or as a complete document with `standalone`.

    A heading stays on the page of the table after it; a table wider than the text block is split into parts of
    its columns (or, a little too wide, scaled down); a table longer than a page is a longtable. A document that
    holds Korean needs a Unicode engine: the standalone one then says `% !TEX program = lualatex` and loads kotex."""
    body: list[str] = []
    blocks = doc.blocks
    keep = False
    for i, b in enumerate(blocks):
        if isinstance(b, Heading):
            keep = _kept(blocks, i)
            if not keep:
                body.append(r"\needspace{6\baselineskip}")
            body += [_SECTIONS.get(b.level, r"\paragraph*") + "{" + escape(b.text) + "}"
                     + (r"\nopagebreak" if keep else ""), ""]
        elif isinstance(b, Para):
            if _is_display(b):
                body += _display(b.text.tex, False) + [""]
                keep = False
            else:
                s = cell(b.text)
                s = r"\emph{" + s + "}" if b.style == "note" else r"\textbf{" + s + "}" if b.style == "bad" else s
                body.append(r"{\raggedright " + s + r"\par}")  # ragged: long numbers and the loss curve break
                body += [r"\par\nopagebreak" if keep else "", ""]
        elif isinstance(b, Table):
            body += _table(b)
            keep = False
        elif isinstance(b, Equation):  # matrices in bmatrix, shapes under them; a wide one broken at its = signs
            body += _display(b.tex("bmatrix", break_after=8), False) + [""]
            if b.caption:
                body += [r"{\raggedright\emph{" + escape(b.caption) + r"}\par}", ""]
            keep = False
        elif isinstance(b, PageBreak):
            body += [r"\clearpage", ""]
            keep = False
        elif isinstance(b, NameLine):
            from bpcalc.i18n import _

            body += [r"\noindent " + escape(_("Name:")) + r" \rule{7cm}{0.4pt}\hfill " + escape(_("ID:"))
                     + r" \rule{3.5cm}{0.4pt}\hfill\textbf{" + escape(b.label) + r"}\par\medskip", ""]
        else:  # a block type this renderer does not know yet: its text
            body += [escape(str(getattr(b, "text", ""))), ""]
    text = "\n".join(body).rstrip() + "\n"
    unicode_engine = needs_unicode_engine(doc)
    if not standalone:
        return (FRAGMENT_NOTE + (KOREAN_NOTE if unicode_engine else "") + r"\ifdefined\bpcalcbox\else"
                r"\newsavebox{\bpcalcbox}\fi" + "\n" + text)
    preamble = PREAMBLE.replace("%ENGINE%\n", UNICODE if unicode_engine else PDFLATEX)
    return ("% !TEX program = lualatex\n" if unicode_engine else "") + preamble + text + "\\end{document}\n"


FRAGMENT_NOTE = ("% bpcalc LaTeX fragment: needs \\usepackage{amsmath,amssymb,graphicx,longtable,needspace} in the "
                 "preamble\n")
KOREAN_NOTE = "% it holds Korean: compile with lualatex and \\usepackage{kotex} (a Korean font: fonts-noto-cjk)\n"
PDFLATEX = "\\usepackage[utf8]{inputenc}\n"
UNICODE = r"""\usepackage{kotex}
\IfFontExistsTF{Noto Serif CJK KR}{\setmainhangulfont{Noto Serif CJK KR}}{}
\IfFontExistsTF{Noto Sans CJK KR}{\setsanshangulfont{Noto Sans CJK KR}}{}
"""

PREAMBLE = r"""\documentclass[10pt]{article}
%ENGINE%
\usepackage{amsmath,amssymb}
\usepackage{graphicx,longtable,needspace}
\usepackage[a4paper,margin=1.2cm,bottom=1.6cm]{geometry}
\setlength{\parindent}{0pt}
\setlength{\tabcolsep}{4pt}
\newsavebox{\bpcalcbox}
\makeatletter  % headings closer to what they head
\renewcommand\section{\@startsection{section}{1}{\z@}{-2ex\@plus -1ex\@minus -.2ex}{1ex\@plus .2ex}%
  {\normalfont\Large\bfseries}}
\renewcommand\subsection{\@startsection{subsection}{2}{\z@}{-1.5ex\@plus -1ex\@minus -.2ex}{.8ex\@plus .2ex}%
  {\normalfont\large\bfseries}}
\makeatother
\begin{document}
"""
