"""HTML: one self-contained page (no script, no network) with semantic tables and every formula as MathML.

Print CSS keeps a heading with its table and fits wide tables to the page (A4 or Letter): a table somewhat too
wide prints smaller; a much wider one prints as parts of its columns, each repeating the row names."""

from __future__ import annotations

from html import escape

from bpcalc.i18n import _
from bpcalc.render.doc import Blank, Cell, Doc, Heading, M, NameLine, PageBreak, Para, Table, text_of
from bpcalc.render.fit import WRAP_CHARS, column_widths, split_columns, sum_terms, typeset_width
from bpcalc.render.latex import spans
from bpcalc.render.mathml import tex_to_mathml

# the printed text block: A4 is the narrower page (210 mm less 2 × 15 mm margins = 180 mm ≈ 510 pt); a table
# prints at 10 pt in Latin Modern, where a digit is 5 pt (5.3 with the punctuation and letters around it) and a
# cell's padding is 12 pt
PAGE_PT = 510.0
CHAR_PT = 5.3
CELL_PT = 12.0
EQUATION_CHAR_PT = 6.2  # a display equation prints at 11 pt
EQUATION_INDENT_PT = 18.0
MIN_SCALE = 0.72  # a table that would print smaller than this is split into parts instead
NUM_CLASS = ' class="num"'
KEEP_ROWS = 30  # a table up to this many rows is kept on one page with the heading before it


def _natural_pt(widths: list[float]) -> float:
    return sum(w * CHAR_PT + CELL_PT for w in widths)


def _width(c: Cell) -> float:
    """A cell's printed width in characters; a long sum's as wrapped between its terms."""
    w = typeset_width(c)
    return min(w, WRAP_CHARS) if isinstance(c, M) and len(sum_terms(c.tex)) > 1 else w


def _fits(widths: list[float]) -> bool:
    return _natural_pt(widths) * MIN_SCALE <= PAGE_PT


def inline(text: str) -> str:
    """Plain text, escaped, with the layer notation written in it (z_1^(2), w_jk, m̂) typeset as MathML."""
    return "".join(escape(v, quote=False) if k == "text" else tex_to_mathml(v) for k, v in spans(text))


def cell_html(c: Cell) -> str:
    if isinstance(c, M):
        if not c.tex:
            return escape(c.text, quote=False)
        terms = sum_terms(c.tex)
        if len(terms) > 1:  # a long sum: one formula per term, so the line may break between them
            # "{}+ b": after an empty group the sign is a binary operator, spaced as in the whole sum
            return '<span class="wrap">' + "<wbr>".join(tex_to_mathml(x if i == 0 else "{}" + x)
                                                    for i, x in enumerate(terms)) + "</span>"
        return tex_to_mathml(c.tex)
    if isinstance(c, Blank):  # a worksheet's blank: a ruled box to write in
        width = 1.2 * c.width
        return f'<span class="blank" style="width:{width:.1f}em" role="img" aria-label="{_("blank")}"></span>'
    if not isinstance(c, str):  # a cell type this renderer does not know yet: its text
        return escape(str(c), quote=False)
    if c[:1] in ("✓", "✗"):  # a check's verdict, in the colour of the notes that sum them up
        return f'<span class="{"ok" if c[0] == "✓" else "bad"}">{inline(c)}</span>'
    return inline(c)


def _table(t: Table, cls: str = "") -> str:
    widths = column_widths(t, _width)
    scale = min(1.0, PAGE_PT / _natural_pt(widths)) if widths else 1.0
    style = f' style="--fit:{scale:.3f}"' if scale < 1.0 else ""
    out = [f'<div class="{" ".join(x for x in ("tbl", cls) if x)}">', f'<div class="scroll"><table class="bp"{style}>']
    if t.title:
        out.append(f"<caption>{inline(t.title)}</caption>")
    out.append("<thead><tr>" + "".join(
        f'<th scope="col"{NUM_CLASS if i in t.numeric else ""}>{inline(h)}</th>'
        for i, h in enumerate(t.columns)) + "</tr></thead>")
    out.append("<tbody>")
    for r in t.rows:
        cells = list(r) + [""] * (len(t.columns) - len(r))
        row = []
        for i, c in enumerate(cells):
            num = i in t.numeric
            body = cell_html(c)
            if i == 0 and not num and text_of(c):
                row.append(f'<th scope="row">{body}</th>')
            else:
                row.append(f'<td class="num">{body}</td>' if num else f"<td>{body}</td>")
        out.append("<tr>" + "".join(row) + "</tr>")
    out.append("</tbody></table></div>")
    if t.caption:
        out.append(f'<p class="caption">{inline(t.caption)}</p>')
    out.append("</div>")
    return "\n".join(out)


def table_html(t: Table) -> str:
    """A table; one too wide for a printed page also as parts of its columns, printed instead of it."""
    parts = split_columns(t, _fits, width=_width)
    if len(parts) == 1:
        return _table(t)
    return "\n".join([_table(t, "screen-only")] + [_table(p, "print-only") for p in parts])


def _para(p: Para) -> str:
    if p.style == "math" and isinstance(p.text, M):
        scale = min(1.0, (PAGE_PT - EQUATION_INDENT_PT) / (typeset_width(p.text) * EQUATION_CHAR_PT + 1.0))
        style = f' style="--fit:{scale:.3f}"' if scale < 1.0 else ""
        return f'<div class="equation"{style}>{tex_to_mathml(p.text.tex, display=True)}</div>'
    cls = f' class="{p.style}"' if p.style else ""
    return f"<p{cls}>{cell_html(p.text)}</p>"


def _heading(h: Heading) -> str:
    n = min(h.level, 5)
    return f"<h{n}>{inline(h.text)}</h{n}>"


def body_html(doc: Doc) -> str:
    """The Doc's blocks as HTML; a heading and what follows it up to its first table are kept together."""
    out: list[str] = []
    pending: list[str] = []  # a heading and the paragraphs after it, waiting for their table
    for b in doc.blocks:
        if isinstance(b, Heading):
            if pending and not pending[-1].startswith("<h"):
                out.extend(pending)
                pending = []
            pending.append(_heading(b))
        elif isinstance(b, Table):
            group = "keep" if len(b.rows) <= KEEP_ROWS else "flow"
            out.append(f'<section class="{group}">\n' + "\n".join(pending + [table_html(b)]) + "\n</section>")
            pending = []
        elif pending:
            pending.append(_block(b))
        else:
            out.append(_block(b))
    out.extend(pending)
    return "\n".join(out)


def _block(b) -> str:
    if isinstance(b, PageBreak):
        return '<div class="page-break"></div>'
    if isinstance(b, NameLine):
        return (f'<p class="name-line"><span>{escape(_("Name:"))} <span class="line wide"></span></span> '
                f'<span>{escape(_("ID:"))} <span class="line"></span></span> '
                f'<span class="variant">{escape(b.label)}</span></p>')
    if isinstance(b, Para):
        return _para(b)
    if isinstance(b, Heading):
        return _heading(b)
    if isinstance(b, Table):
        return table_html(b)
    if callable(getattr(b, "tex", None)):  # an equation (with matrices): typeset, its caption below
        caption = getattr(b, "caption", None)
        return (_para(Para(M(str(getattr(b, "text", "")), b.tex()), "math"))
                + (f'\n<p class="caption">{inline(caption)}</p>' if caption else ""))
    text = getattr(b, "text", "")  # a block type this renderer does not know yet: its text or formula
    return _para(Para(text, "math" if isinstance(text, M) else "")) if text else ""


def render_html(doc: Doc, **_) -> str:
    """A complete, self-contained HTML page."""
    from bpcalc import __version__
    from bpcalc.i18n import language

    title = next((b.text for b in doc.blocks if isinstance(b, Heading)), "bpcalc")
    return (f'<!DOCTYPE html>\n<html lang="{escape(language())}">\n<head>\n<meta charset="utf-8">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            '<meta name="color-scheme" content="light dark">\n'
            f'<meta name="generator" content="bpcalc {escape(__version__)}">\n'
            f"<title>{escape(title, quote=False)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n"
            + body_html(doc) + "\n</main>\n</body>\n</html>\n")


CSS = """
:root { color-scheme: light dark; --fg: #1b1b1b; --bg: #ffffff; --muted: #5b5b5b; --rule: #9a9a9a;
  --head: #f0f0f0; --stripe: #f8f8f8; --ok: #1a7f37; --bad: #c62828; --accent: #1d4e89; }
@media (prefers-color-scheme: dark) {
  :root { --fg: #e6e6e6; --bg: #16181b; --muted: #a8a8a8; --rule: #5c6066; --head: #23272c; --stripe: #1c1f23;
    --ok: #5ccf7a; --bad: #ff7b72; --accent: #8ab4f8; }
}
html { background: var(--bg); color: var(--fg); }
body { margin: 0; font: 17px/1.5 "Latin Modern Roman", "STIX Two Text", Cambria, "Noto Serif", "DejaVu Serif",
  "Noto Serif CJK KR", "Noto Serif KR", "Apple SD Gothic Neo", "Malgun Gothic", serif; }
main { max-width: 72rem; margin: 0 auto; padding: 1.5rem 1rem 3rem; }
h1, h2, h3, h4, h5 { font-family: "Noto Sans", "DejaVu Sans", Helvetica, Arial, sans-serif; line-height: 1.25;
  color: var(--accent); margin: 1.4em 0 0.5em; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.3rem; } h3 { font-size: 1.12rem; } h4, h5 { font-size: 1rem; }
p { margin: 0.5em 0; }
p.note, p.caption { color: var(--muted); font-style: italic; }
p.caption { font-size: 0.9em; margin-top: 0.3em; }
p.ok, span.ok { color: var(--ok); font-weight: bold; } p.bad, span.bad { color: var(--bad); font-weight: bold; }
math { font-family: "Latin Modern Math", "STIX Two Math", "Cambria Math", "DejaVu Math TeX Gyre", math; }
table.bp math { math-style: normal; }
math .bold { font-weight: bold; }
mtable.aligned, mtable.cases, mtable.matrix { math-style: normal; }
mtable.aligned > mtr > mtd { padding: 0.15em 0; }
mtable.cases > mtr > mtd { padding: 0.1em 0.6em 0.1em 0; }
mtable.matrix > mtr > mtd { padding: 0.1em 0.4em; }
.equation { margin: 0.8em 0 0.8em 1.5em; padding: 0.2em 0; overflow-x: auto; overflow-y: hidden; }
.equation math { display: inline math; math-style: normal; }
.scroll { overflow-x: auto; margin: 0.8em 0 0.2em; }
table.bp { border-collapse: collapse; font-variant-numeric: tabular-nums; }
table.bp caption { text-align: left; font-weight: bold; padding: 0 0 0.3em; font-family: "Noto Sans",
  "DejaVu Sans", sans-serif; white-space: nowrap; }
table.bp th, table.bp td { padding: 0.2em 0.6em; text-align: left; vertical-align: baseline; white-space: nowrap; }
table.bp thead th { border-top: 2px solid var(--rule); border-bottom: 1px solid var(--rule); background: var(--head); }
table.bp tbody tr:last-child > * { border-bottom: 2px solid var(--rule); }
table.bp tbody tr:nth-child(even) { background: var(--stripe); }
table.bp tbody th { font-weight: normal; }
table.bp .num { text-align: right; }
.blank { display: inline-block; height: 1.3em; border: 1px solid var(--fg); vertical-align: middle; }
mrow.blank { display: math; height: auto; border: 1px solid var(--fg); padding: 0.1em 0.2em; }
table.bp .wrap { white-space: normal; display: inline-block; min-width: 14em; }
.print-only { display: none; }
p.name-line { display: flex; gap: 2em; align-items: baseline; margin: 0 0 1em; }
p.name-line .line { display: inline-block; width: 8em; border-bottom: 1px solid var(--fg); }
p.name-line .line.wide { width: 18em; }
p.name-line .variant { margin-left: auto; font-weight: bold; }
.page-break { break-before: page; page-break-before: always; height: 0; }
@media print {
  @page { margin: 15mm; }
  :root { --fg: #000; --bg: #fff; --muted: #333; --rule: #555; --head: #eee; --stripe: #f6f6f6; --ok: #116329;
    --bad: #a40e26; --accent: #000; }
  body { font-size: 11pt; }
  main { max-width: none; padding: 0; }
  h1, h2, h3, h4, h5 { break-after: avoid; page-break-after: avoid; break-inside: avoid; }
  section.keep { break-inside: avoid; page-break-inside: avoid; }
  .scroll, .equation { overflow: visible; }
  .equation { font-size: calc(11pt * var(--fit, 1)); }
  table.bp { font-size: calc(10pt * var(--fit, 1)); }
  table.bp caption { break-after: avoid; white-space: normal; }
  table.bp thead { display: table-header-group; }
  table.bp tr, .equation, p.caption { break-inside: avoid; page-break-inside: avoid; }
  p.caption { break-before: avoid; }
  .screen-only { display: none; }
  .print-only { display: block; }
}
"""
