"""GitHub-flavoured Markdown: pipe tables; every formula cell (an M: notation, definitions, chain rules, the
with-numbers columns) as $…$ math, words and numbers as text."""

from __future__ import annotations

from bpcalc.render.doc import Blank, Cell, Doc, Equation, Heading, M, NameLine, PageBreak, Para, Table, text_of


def _text(s: str) -> str:
    """Plain text that Markdown must not read as math, HTML or a line break."""
    return s.replace("\\", "\\\\").replace("$", "\\$").replace("<", "&lt;").replace("\n", " ")


def _cell(c: Cell, table: bool = False) -> str:
    if isinstance(c, Blank):
        return text_of(c)  # `____`: underscores with nothing between them are no emphasis
    if isinstance(c, M):
        tex = " ".join(c.tex.split())
        s = f"${tex}$" if tex else _text(c.text)
    else:
        s = _text(c)
    # inside a table a pipe ends the cell, even in math (GitHub unescapes \| before the math)
    return s.replace("|", "\\|") if table else s


def render_markdown(doc: Doc) -> str:
    out: list[str] = []
    for b in doc.blocks:
        if isinstance(b, Heading):
            out += ["#" * (b.level + 1) + " " + _text(b.text), ""]
        elif isinstance(b, Para):
            text = _cell(b.text) if b.style != "math" or not isinstance(b.text, M) else f"$${b.text.tex}$$"
            out += [text, ""]
        elif isinstance(b, Table):
            if b.title:
                out += [f"**{_text(b.title)}**", ""]
            out.append("| " + " | ".join(_cell(h, True) for h in b.columns) + " |")
            out.append("|" + "|".join("---:" if i in b.numeric else "---" for i in range(len(b.columns))) + "|")
            for r in b.rows:
                cells = [_cell(c, True) for c in r] + [""] * (len(b.columns) - len(r))
                out.append("| " + " | ".join(cells) + " |")
            if b.caption:
                out += ["", f"*{_text(b.caption)}*"]
            out.append("")
        elif isinstance(b, PageBreak):
            out += ['<div style="break-before: page; page-break-before: always"></div>', "", "---", ""]
        elif isinstance(b, NameLine):
            from bpcalc.render.text import name_line_text

            out += [_text(name_line_text(b)).replace("_", "\\_"), ""]
        elif isinstance(b, Equation):
            out += ["$$", b.tex(), "$$", ""]
            if b.caption:
                out += [f"*{_text(b.caption)}*", ""]
    return "\n".join(out).rstrip() + "\n"
