"""LaTeX: a fragment (sections, tabulars, $…$ math) to paste into a document, or a standalone document.

Plain text is escaped character by character; its mathematical symbols (σ, ∂, −, ², ŷ, …) become math.
The fragment needs amsmath and amssymb in the including document's preamble; --standalone loads them."""

from __future__ import annotations

import re
import unicodedata

from bpcalc.render.doc import Cell, Doc, Equation, Heading, M, Para, Table

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
    "…": r"\ldots", "⋯": r"\cdots", "✓": r"\checkmark", "✗": r"\times", "✔": r"\checkmark", "✘": r"\times",
    "²": "^{2}", "³": "^{3}", "¹": "^{1}", "⁰": "^{0}", "⁴": "^{4}", "⁻": "^{-}", "⁺": "^{+}", "ᵀ": "^{T}",
    "₀": "_{0}", "₁": "_{1}", "₂": "_{2}", "₃": "_{3}", "₄": "_{4}", "ₖ": "_{k}", "ⱼ": "_{j}", "ᵢ": "_{i}",
}
# non-ASCII text punctuation -> text-mode LaTeX
_TEXT_UNICODE = {"—": "---", "–": "--", "‘": "`", "’": "'", "“": "``", "”": "''", "\u00a0": "~",
                 "°": r"\ensuremath{^\circ}"}
# the loss curve's block elements ▁▂▃▄▅▆▇█ -> bars of 1/8 .. 8/8 of the line height
_TEXT_UNICODE.update({chr(0x2581 + i): rf"\rule{{0.5em}}{{{(i + 1) / 8 * 1.6:.2f}ex}}" for i in range(8)})
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
    return r"\ensuremath{" + out.strip() + "}"


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
    out: list[str] = []
    pos = 0
    for m in _TOKENS.finditer(text):
        if m.group("acc") is not None:  # a letter with a combining accent: m̂
            rep = r"\ensuremath{" + _COMBINING[m.group("acc")] + "{" + m.group("acc_base") + "}}"
        else:
            rep = _notation(m)
        if rep is None:
            continue
        out.append(_chars(text[pos:m.start()]))
        out.append(rep)
        pos = m.end()
    out.append(_chars(text[pos:]))
    return "".join(out)


def math(tex: str) -> str:
    """Any stray non-ASCII symbol in a LaTeX math string, made ASCII."""
    tex = _ACCENTED.sub(lambda m: _COMBINING[m.group("acc")] + "{" + m.group("acc_base") + "}", tex)
    out = []
    for ch in tex:
        m = _math_char(ch) if ord(ch) >= 128 else None
        out.append(ch if m is None else m if m[0] in "^_" else "{" + m + "}")
    return "".join(out)


def cell(c: Cell) -> str:
    """A table cell or paragraph: notation as inline math, text escaped."""
    if isinstance(c, M):
        return f"${math(c.tex)}$" if c.tex else ""
    return escape(c)


_SECTIONS = {1: r"\section*", 2: r"\subsection*", 3: r"\subsubsection*"}


def _table(t: Table) -> list[str]:
    spec = "".join("r" if i in t.numeric else "l" for i in range(len(t.columns)))
    out = []
    if t.title:
        out.append(r"\medskip\noindent\textbf{" + escape(t.title) + r"}\par")
    out += [r"{\renewcommand{\arraystretch}{1.4}\noindent\begin{tabular}{" + spec + "}", r"\hline",
            " & ".join(r"\textbf{" + escape(h) + "}" if h else "" for h in t.columns) + r" \\", r"\hline"]
    for r in t.rows:
        cells = [cell(c) for c in r] + [""] * (len(t.columns) - len(r))
        out.append(" & ".join(cells) + r" \\")
    out.append(r"\hline")
    out.append(r"\end{tabular}\par}")
    if t.caption:
        out += ["", r"\noindent\emph{" + escape(t.caption) + "}"]
    out.append("")
    return out


def render_latex(doc: Doc, standalone: bool = False, **_) -> str:
    """The Doc as a LaTeX fragment, or as a complete document with `standalone`."""
    body: list[str] = []
    for b in doc.blocks:
        if isinstance(b, Heading):
            body += [_SECTIONS.get(b.level, r"\paragraph*") + "{" + escape(b.text) + "}", ""]
        elif isinstance(b, Para):
            if b.style == "math" and isinstance(b.text, M):
                body += [r"\[ " + math(b.text.tex) + r" \]", ""]
            else:
                s = cell(b.text)
                body += [r"\emph{" + s + "}" if b.style == "note" else
                         r"\textbf{" + s + "}" if b.style == "bad" else s, ""]
        elif isinstance(b, Table):
            body += _table(b)
        elif isinstance(b, Equation):
            body += [r"\begin{equation*}", math(b.tex("bmatrix", break_after=8)), r"\end{equation*}", ""]
            if b.caption:
                body += [r"\emph{" + escape(b.caption) + "}", ""]
    text = "\n".join(body).rstrip() + "\n"
    if not standalone:
        return "% bpcalc LaTeX fragment: needs \\usepackage{amsmath,amssymb} in the preamble\n" + text
    return PREAMBLE + text + "\\end{document}\n"


PREAMBLE = r"""\documentclass[10pt]{article}
\usepackage[utf8]{inputenc}
\usepackage{amsmath,amssymb}
\usepackage[a4paper,margin=1.5cm]{geometry}
\setlength{\parindent}{0pt}
\setlength{\tabcolsep}{4pt}
\begin{document}
"""
