"""GitHub-flavoured Markdown: pipe tables, $…$ math for notation cells."""

from __future__ import annotations

from .doc import Cell, Doc, Heading, M, Para, Table


def _cell(c: Cell) -> str:
    s = f"${c.tex}$" if isinstance(c, M) else c
    return s.replace("|", "\\|")


def render_markdown(doc: Doc) -> str:
    out: list[str] = []
    for b in doc.blocks:
        if isinstance(b, Heading):
            out += ["#" * (b.level + 1) + " " + b.text, ""]
        elif isinstance(b, Para):
            text = _cell(b.text) if b.style != "math" or not isinstance(b.text, M) else f"$${b.text.tex}$$"
            out += [text, ""]
        elif isinstance(b, Table):
            if b.title:
                out += [f"**{b.title}**", ""]
            out.append("| " + " | ".join(b.columns) + " |")
            out.append("|" + "|".join("---:" if i in b.numeric else "---" for i in range(len(b.columns))) + "|")
            out += ["| " + " | ".join(_cell(c) for c in r) + " |" for r in b.rows]
            if b.caption:
                out += ["", f"*{b.caption}*"]
            out.append("")
    return "\n".join(out).rstrip() + "\n"
