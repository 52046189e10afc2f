"""Plain text: aligned columns, no escape codes, nothing wrapped or cut, whatever the width."""

from __future__ import annotations

from bpcalc.render.doc import Doc, Equation, Heading, NameLine, PageBreak, Para, Table, text_of
from bpcalc.render.width import display_width, ljust, rjust


def table_lines(t: Table) -> list[str]:
    rows = [[text_of(c) for c in r] for r in t.rows]
    widths = [display_width(h) for h in t.columns]
    for r in rows:
        for i, c in enumerate(r):
            widths[i] = max(widths[i], display_width(c))

    def line(cells: list[str]) -> str:
        out = []
        for i, c in enumerate(cells):
            out.append(rjust(c, widths[i]) if i in t.numeric else ljust(c, widths[i]))
        return "  ".join(out).rstrip()

    lines = []
    if t.title:
        lines.append(t.title)
    lines.append(line(t.columns))
    lines.append("  ".join("-" * w for w in widths))
    lines.extend(line(r) for r in rows)
    if t.caption:
        lines.append(t.caption)
    return lines


def name_line_text(b: NameLine) -> str:
    """Name: ____  ID: ____  Variant 07, as text."""
    from bpcalc.i18n import _

    return _("Name: {line}   ID: {short}").format(line="_" * 28, short="_" * 14) + "   " + b.label


def render_text(doc: Doc) -> str:
    out: list[str] = []
    for b in doc.blocks:
        if isinstance(b, Heading):
            if out and out[-1] != "":
                out.append("")
            out.append(b.text)
            out.append(("=" if b.level == 1 else "-") * display_width(b.text))
        elif isinstance(b, Para):
            out.append(text_of(b.text))
        elif isinstance(b, Table):
            if out and out[-1] != "":
                out.append("")
            out.extend(table_lines(b))
            out.append("")
        elif isinstance(b, PageBreak):
            out += ["", "\f"]
        elif isinstance(b, NameLine):
            out += [name_line_text(b), ""]
        elif isinstance(b, Equation):
            if out and out[-1] != "":
                out.append("")
            out.extend(b.text_lines())
            if b.caption:
                out.append(b.caption)
            out.append("")
    while out and out[-1] == "":
        out.pop()
    return "\n".join(out) + "\n"
