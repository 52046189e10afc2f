"""LaTeX math -> MathML, for the subset bpcalc writes: scripts, \\frac, \\sqrt, accents, Greek letters, operators,
\\mathrm/\\text/\\operatorname, \\left…\\right, and the aligned, cases and matrix environments.

Browsers render MathML natively, so an HTML page typesets every formula without a script. Text is escaped; the
output never holds a backslash: a command outside the subset is written as its name (`strict` raises instead)."""

from __future__ import annotations

import functools
import html
import re

from bpcalc.registry import ACTIVATIONS

_GREEK = {
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ϵ", "varepsilon": "ε", "zeta": "ζ",
    "eta": "η", "theta": "θ", "vartheta": "ϑ", "iota": "ι", "kappa": "κ", "lambda": "λ", "mu": "μ", "nu": "ν",
    "xi": "ξ", "pi": "π", "varpi": "ϖ", "rho": "ρ", "varrho": "ϱ", "sigma": "σ", "varsigma": "ς", "tau": "τ",
    "upsilon": "υ", "phi": "ϕ", "varphi": "φ", "chi": "χ", "psi": "ψ", "omega": "ω",
    "Gamma": "Γ", "Delta": "Δ", "Theta": "Θ", "Lambda": "Λ", "Xi": "Ξ", "Pi": "Π", "Sigma": "Σ", "Upsilon": "Υ",
    "Phi": "Φ", "Psi": "Ψ", "Omega": "Ω",
}
# identifiers that are not italic letters
_UPRIGHT = {"partial": "∂", "nabla": "∇", "infty": "∞", "ell": "ℓ", "emptyset": "∅", "hbar": "ℏ", "Re": "ℜ",
            "Im": "ℑ", "aleph": "ℵ"}
_OPERATORS = {
    "cdot": "⋅", "cdotp": "⋅", "times": "×", "odot": "⊙", "otimes": "⊗", "oplus": "⊕", "div": "÷", "pm": "±",
    "mp": "∓", "ast": "∗", "star": "⋆", "circ": "∘", "bullet": "∙", "setminus": "∖", "cup": "∪", "cap": "∩",
    "leftarrow": "←", "gets": "←", "rightarrow": "→", "to": "→", "Rightarrow": "⇒", "Leftarrow": "⇐",
    "leftrightarrow": "↔", "Leftrightarrow": "⇔", "implies": "⟹", "iff": "⟺", "mapsto": "↦",
    "longrightarrow": "⟶", "longleftarrow": "⟵",
    "approx": "≈", "neq": "≠", "ne": "≠", "le": "≤", "leq": "≤", "ge": "≥", "geq": "≥", "ll": "≪", "gg": "≫",
    "equiv": "≡", "sim": "∼", "simeq": "≃", "propto": "∝", "in": "∈", "notin": "∉", "subset": "⊂",
    "subseteq": "⊆", "forall": "∀", "exists": "∃", "neg": "¬", "land": "∧", "lor": "∨", "mid": "∣",
    "vert": "|", "Vert": "‖", "lvert": "|", "rvert": "|", "lVert": "‖", "rVert": "‖", "langle": "⟨",
    "rangle": "⟩", "lbrace": "{", "rbrace": "}", "lfloor": "⌊", "rfloor": "⌋", "lceil": "⌈", "rceil": "⌉",
    "ldots": "…", "dots": "…", "cdots": "⋯", "vdots": "⋮", "ddots": "⋱", "checkmark": "✓", "prime": "′",
    "colon": ":", "triangleq": "≜", "coloneqq": "≔",
}
_LARGE = {"sum": "∑", "prod": "∏", "int": "∫", "oint": "∮", "bigcup": "⋃", "bigcap": "⋂"}
_TEX_FUNCTIONS = {"log", "ln", "exp", "sin", "cos", "tan", "sinh", "cosh", "tanh", "arg", "det", "dim", "erf", "sgn",
                  "sign"}  # TeX's own and the usual upright function names
# and the registry's functions written upright by their own names (\mathrm{relu}): \relu reads as the same
_FUNCTIONS = _TEX_FUNCTIONS | {a.name for a in ACTIVATIONS.values() if a.tex_symbol == rf"\mathrm{{{a.name}}}"}
_LIMIT_FUNCTIONS = {"max", "min", "lim", "sup", "inf", "argmax", "argmin"}
_ACCENTS = {"hat": "^", "widehat": "^", "bar": "¯", "overline": "¯", "tilde": "~", "widetilde": "~", "dot": "˙",
            "ddot": "¨", "vec": "→", "check": "ˇ"}
_SPACES = {",": "0.1667em", ":": "0.2222em", ">": "0.2222em", ";": "0.2778em", " ": "0.25em", "quad": "1em",
           "qquad": "2em", "enspace": "0.5em", "thinspace": "0.1667em"}
_TEXT = {"text", "textrm", "textnormal", "mbox", "textit", "textbf", "textsf", "texttt", "hbox"}
_FONTS = {"mathrm", "mathit", "mathbf", "mathsf", "mathtt", "mathcal", "mathbb", "operatorname", "boldsymbol", "bm"}
_IGNORED = {"displaystyle", "textstyle", "scriptstyle", "limits", "nolimits", "hline", "nonumber", "notag",
            "!", "strut", "mathstrut", "allowbreak", "middle"}
_SIZES = {"big", "Big", "bigg", "Bigg", "bigl", "bigr", "Bigl", "Bigr", "biggl", "biggr", "Biggl", "Biggr"}
_ESCAPED = {"_": "_", "{": "{", "}": "}", "%": "%", "&": "&", "#": "#", "$": "$", "|": "‖"}
_ENVS = {"matrix": ("", ""), "pmatrix": ("(", ")"), "bmatrix": ("[", "]"), "Bmatrix": ("{", "}"),
         "vmatrix": ("|", "|"), "Vmatrix": ("‖", "‖"), "smallmatrix": ("", ""), "cases": ("{", ""),
         "aligned": ("", ""), "align": ("", ""), "align*": ("", ""), "gathered": ("", ""), "split": ("", ""),
         "array": ("", ""), "alignat": ("", ""), "alignedat": ("", "")}
_ASCII_OPS = set("+-=<>()[]/,|!:;*.?'@~")
_DELIMS = {"(": "(", ")": ")", "[": "[", "]": "]", "|": "|", "/": "/", ".": ""}

_TOKEN = re.compile(r"\\([A-Za-z]+\*?)|\\(.)|([0-9]+(?:\.[0-9]+)?|\.[0-9]+)|(\s+)|(.)", re.S)


class TexError(ValueError):
    """A command or construct outside the subset (raised only with strict=True)."""


def _e(s: str) -> str:
    return html.escape(s, quote=False)


class _Parser:
    def __init__(self, tex: str, strict: bool):
        self.toks: list[tuple[str, str]] = []
        for m in _TOKEN.finditer(tex):
            if m.group(1) is not None:
                self.toks.append(("cmd", m.group(1)))
            elif m.group(2) is not None:
                self.toks.append(("cmd", m.group(2)) if m.group(2) != "\\" else ("row", "\\\\"))
            elif m.group(3) is not None:
                self.toks.append(("num", m.group(3)))
            elif m.group(4) is not None:
                self.toks.append(("space", " "))
            else:
                ch = m.group(5)
                self.toks.append((ch, ch) if ch in "{}^_&" else ("char", ch))
        self.i = 0
        self.strict = strict

    # ---------------------------------------------------------------- tokens
    def peek(self, skip_space: bool = True) -> tuple[str, str] | None:
        j = self.i
        while skip_space and j < len(self.toks) and self.toks[j][0] == "space":
            j += 1
        return self.toks[j] if j < len(self.toks) else None

    def next(self) -> tuple[str, str] | None:
        self.skip_space()
        if self.i >= len(self.toks):
            return None
        self.i += 1
        return self.toks[self.i - 1]

    def skip_space(self) -> None:
        while self.i < len(self.toks) and self.toks[self.i][0] == "space":
            self.i += 1

    def unknown(self, what: str) -> str:
        if self.strict:
            raise TexError(f"unsupported LaTeX: {what}")
        return f"<mtext>{_e(what.lstrip(chr(92)))}</mtext>"

    # ---------------------------------------------------------------- structure
    def parse_list(self, stops: tuple[str, ...] = ()) -> list[str]:
        """Atoms (with their scripts) until a token whose kind or command is in `stops`, or the end."""
        out: list[str] = []
        while True:
            tok = self.peek()
            if tok is None:
                return out
            kind, val = tok
            if kind in stops or (kind == "cmd" and val in stops):
                return out
            if kind == "}":  # an unbalanced brace: skipped
                self.next()
                if self.strict:
                    raise TexError("unbalanced }")
                continue
            if kind in ("&", "row"):
                self.next()
                if self.strict:
                    raise TexError(f"{val} outside an environment")
                out.append('<mspace width="1em"/>')
                continue
            if kind in ("^", "_"):  # a script with no base
                out.append(self.scripts("<mrow></mrow>"))
                continue
            atom = self.atom()
            if atom is None:
                continue
            if atom in ("<mo>−</mo>", "<mo>+</mo>") and (not out or out[-1].startswith("<mo") and not any(
                    out[-1].endswith(f">{c}</mo>") for c in ")]|}⟩")):
                atom = atom.replace("<mo>", '<mo form="prefix">')  # a sign, not a binary operator: (−0.4)
            out.append(self.scripts(atom))

    def scripts(self, base: str) -> str:
        sub = sup = None
        while (tok := self.peek()) is not None and tok[0] in ("^", "_"):
            self.next()
            arg = self.argument()
            if tok[0] == "_":
                sub = arg
            else:
                sup = arg
        if sub is None and sup is None:
            return base
        under = base.startswith("<mo movablelimits") or base.startswith('<mi data-limits="1"')
        if under:
            base = base.replace(' data-limits="1"', "")
            if sub is not None and sup is not None:
                return f"<munderover>{base}{sub}{sup}</munderover>"
            return f"<munder>{base}{sub}</munder>" if sub is not None else f"<mover>{base}{sup}</mover>"
        if sub is not None and sup is not None:
            return f"<msubsup>{base}{sub}{sup}</msubsup>"
        return f"<msub>{base}{sub}</msub>" if sub is not None else f"<msup>{base}{sup}</msup>"

    def argument(self) -> str:
        """One argument: a {group} or a single token, as one MathML element."""
        tok = self.peek()
        if tok is None:
            return "<mrow></mrow>"
        if tok[0] == "{":
            self.next()
            items = self.parse_list(("}",))
            self.next()
            return _row(items)
        if tok[0] in ("^", "_", "}", "&", "row"):
            return "<mrow></mrow>"
        return self.atom() or "<mrow></mrow>"

    def raw_group(self) -> str:
        """The text of a {group} (or of one token), with escaped characters unescaped, for \\text and \\mathrm."""
        self.skip_space()
        if self.i >= len(self.toks):
            return ""
        if self.toks[self.i][0] != "{":
            kind, val = self.toks[self.i]
            self.i += 1
            return val if kind != "cmd" else _ESCAPED.get(val, _GREEK.get(val, val))
        self.i += 1
        depth, out = 1, []
        while self.i < len(self.toks):
            kind, val = self.toks[self.i]
            self.i += 1
            if kind == "{":
                depth += 1
            elif kind == "}":
                depth -= 1
                if depth == 0:
                    break
            elif kind == "cmd":
                out.append(_ESCAPED.get(val) or _GREEK.get(val) or _OPERATORS.get(val) or _UPRIGHT.get(val)
                           or (" " if val in _SPACES else "") or (val if not self.strict else self._bad(val)))
            elif kind == "row":
                out.append(" ")
            elif val == "~":
                out.append("\u00a0")
            else:
                out.append(val)
        return "".join(out)

    def _bad(self, val: str) -> str:
        raise TexError(f"unsupported LaTeX in text: \\{val}")

    def optional(self) -> str | None:
        """An optional [argument], as MathML."""
        tok = self.peek()
        if tok is None or tok != ("char", "["):
            return None
        self.next()
        items: list[str] = []
        while (t := self.peek()) is not None and t != ("char", "]"):
            items.append(self.scripts(self.atom() or ""))
        self.next()
        return _row(items)

    def delimiter(self) -> str:
        """The delimiter after \\left, \\right or \\big: its character ("" for `.`)."""
        tok = self.next()
        if tok is None:
            return ""
        kind, val = tok
        if kind == "char":
            return _DELIMS.get(val, val)
        if kind == "cmd":
            if val in ("{", "}"):
                return val
            if val == "|":
                return "‖"
            if val in _OPERATORS:
                return _OPERATORS[val]
            if self.strict:
                raise TexError(f"unsupported delimiter \\{val}")
        return ""

    # ---------------------------------------------------------------- atoms
    def atom(self) -> str | None:
        tok = self.next()
        if tok is None:
            return None
        kind, val = tok
        if kind == "{":
            items = self.parse_list(("}",))
            self.next()
            return _row(items, force=True)
        if kind == "num":
            return f"<mn>{val}</mn>"
        if kind == "char":
            if val == "\\":  # a lone backslash at the end
                return None if not self.strict else self.unknown("a lone backslash")
            if val.isalpha():
                return f"<mi>{_e(val)}</mi>"
            if val.isdigit():
                return f"<mn>{_e(val)}</mn>"
            if val == "-":
                return "<mo>−</mo>"
            if val == "'":
                return "<mo>′</mo>"
            if val in "()[]|":
                return f'<mo stretchy="false">{_e(val)}</mo>'
            return f"<mo>{_e(val)}</mo>"
        if kind == "cmd":
            return self.command(val)
        return None

    def command(self, name: str) -> str | None:
        if name in _GREEK:
            ch = _GREEK[name]
            return f'<mi mathvariant="normal">{ch}</mi>' if name[0].isupper() else f"<mi>{ch}</mi>"
        if name in _UPRIGHT:
            return f'<mi mathvariant="normal">{_UPRIGHT[name]}</mi>'
        if name in _OPERATORS:
            ch = _OPERATORS[name]
            return f'<mo stretchy="false">{ch}</mo>' if ch in "|‖⟨⟩{}⌊⌋⌈⌉" else f"<mo>{_e(ch)}</mo>"
        if name in _LARGE:
            return f'<mo movablelimits="true" largeop="true">{_LARGE[name]}</mo>'
        if name in _ESCAPED:
            ch = _ESCAPED[name]
            return f"<mo>{_e(ch)}</mo>" if ch in "{}|‖" else f"<mi>{_e(ch)}</mi>"
        if name in _SPACES:
            return f'<mspace width="{_SPACES[name]}"/>'
        if name in _IGNORED:
            return None
        if name in _FUNCTIONS:
            return f"<mi>{name}</mi><mo>\u2061</mo>"
        if name in _LIMIT_FUNCTIONS:
            return f'<mi data-limits="1">{name}</mi>'
        if name in ("frac", "dfrac", "tfrac", "cfrac"):
            num, den = self.argument(), self.argument()
            return f"<mfrac>{num}{den}</mfrac>"
        if name == "binom":
            top, bottom = self.argument(), self.argument()
            return (f'<mrow><mo>(</mo><mfrac linethickness="0">{top}{bottom}</mfrac><mo>)</mo></mrow>')
        if name == "sqrt":
            index = self.optional()
            body = self.argument()
            return f"<mroot>{body}{index}</mroot>" if index else f"<msqrt>{body}</msqrt>"
        if name in _ACCENTS:
            body = self.argument()
            return f'<mover accent="true">{body}<mo>{_e(_ACCENTS[name])}</mo></mover>'
        if name in ("underset", "overset", "stackrel"):
            script, base = self.argument(), self.argument()
            tag = "munder" if name == "underset" else "mover"
            return f"<{tag}>{base}{script}</{tag}>"
        if name in ("underline",):
            return f'<munder accentunder="true">{self.argument()}<mo>_</mo></munder>'
        if name == "boxed":  # a worksheet's blank in an equation: a ruled box (the .blank rule of the page)
            return f'<mrow class="blank">{self.argument()}</mrow>'
        if name == "phantom":
            return f"<mphantom>{self.argument()}</mphantom>"
        if name in _TEXT:
            text = self.raw_group()
            return f"<mtext>{_e(text)}</mtext>"
        if name in _FONTS:
            return self.font(name)
        if name in ("left", "right"):
            if name == "right":  # unmatched
                if self.strict:
                    raise TexError("\\right without \\left")
                d = self.delimiter()
                return f'<mo stretchy="true">{_e(d)}</mo>' if d else None
            return self.fenced()
        if name in _SIZES:
            d = self.delimiter()
            return f'<mo stretchy="false" class="big">{_e(d)}</mo>' if d else None
        if name == "begin":
            return self.environment()
        if name in ("color", "textcolor"):
            self.raw_group()
            return None
        return self.unknown("\\" + name)

    def font(self, name: str) -> str:
        start = self.i
        text = self.raw_group()
        inner = self.toks[start:self.i]
        if inner and inner[0][0] == "space":
            inner = inner[1:]
        if inner and inner[0][0] == "{":
            inner = inner[1:-1]
        simple = bool(text.strip()) and all(k in ("char", "num") or (k == "cmd" and v in _ESCAPED)
                                            for k, v in inner)
        if simple:
            if name in ("mathbf", "boldsymbol", "bm"):
                return f'<mi mathvariant="normal" class="bold">{_e(text)}</mi>'
            if name == "mathit":
                return f"<mi>{_e(text)}</mi>"
            if len(text) == 1:
                return f'<mi mathvariant="normal">{_e(text)}</mi>'
            return f"<mi>{_e(text)}</mi>" + ("<mo>\u2061</mo>" if name == "operatorname" else "")
        self.i = start  # not plain letters: typeset the group itself
        return self.argument()

    def fenced(self) -> str:
        left = self.delimiter()
        items = self.parse_list(("right",))
        right = ""
        if self.peek() is not None:
            self.next()
            right = self.delimiter()
        elif self.strict:
            raise TexError("\\left without \\right")
        inner = "".join(items)
        lo = f'<mo fence="true" stretchy="true">{_e(left)}</mo>' if left else ""
        ro = f'<mo fence="true" stretchy="true">{_e(right)}</mo>' if right else ""
        return f"<mrow>{lo}{inner}{ro}</mrow>"

    def environment(self) -> str:
        env = self.raw_group().strip()
        if env not in _ENVS:
            if self.strict:
                raise TexError(f"unsupported environment {env}")
        if env in ("array", "alignat", "alignedat") or (env == "alignat*"):
            self.raw_group()  # the column spec or the number of columns
        rows: list[list[str]] = [[]]
        while True:
            items = self.parse_list(("&", "row", "end"))
            rows[-1].append(_row(items))
            tok = self.next()
            if tok is None:
                break
            if tok[0] == "&":
                continue
            if tok[0] == "row":
                self.optional()  # \\[2pt]
                rows.append([])
                continue
            self.raw_group()  # \end{env}
            break
        if rows and rows[-1] == ["<mrow></mrow>"] and len(rows) > 1:
            rows.pop()  # a trailing \\
        aligned = env in ("aligned", "align", "align*", "split", "alignat", "alignedat")
        left = env == "cases"
        cls = "aligned" if aligned else "cases" if left else "matrix"
        body = []
        for r in rows:
            cells = []
            for k, c in enumerate(r):
                align = ("right" if k % 2 == 0 else "left") if aligned else "left" if left else "center"
                cells.append(f'<mtd style="text-align:{align}">{c}</mtd>')
            body.append("<mtr>" + "".join(cells) + "</mtr>")
        table = f'<mtable class="{cls}">' + "".join(body) + "</mtable>"
        lo, ro = _ENVS.get(env, ("", ""))
        if not lo and not ro:
            return table
        return ("<mrow>" + (f'<mo fence="true" stretchy="true">{_e(lo)}</mo>' if lo else "") + table
                + (f'<mo fence="true" stretchy="true">{_e(ro)}</mo>' if ro else "") + "</mrow>")


def _row(items: list[str], force: bool = False) -> str:
    if len(items) == 1 and not force:
        return items[0]
    return "<mrow>" + "".join(items) + "</mrow>"


@functools.lru_cache(maxsize=4096)
def tex_to_mathml(tex: str, display: bool = False, strict: bool = False) -> str:
    """A <math> element for LaTeX math `tex` (display: a block equation)."""
    p = _Parser(tex, strict)
    items = p.parse_list()
    while p.peek() is not None:  # unbalanced leftovers (non-strict: parse_list stopped early)
        p.next()
    disp = ' display="block"' if display else ""
    return f"<math{disp}>" + _row(items) + "</math>"
