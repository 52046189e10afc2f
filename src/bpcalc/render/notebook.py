"""Jupyter display: a trace, a training result, a gradient check, a derivation or a Doc shows itself as its
document (`_repr_html_`, `_repr_markdown_`, `_repr_latex_`), rendered by the renderers of the command line.

The engine's and explain's classes know nothing of rendering; `attach()`, called by the top-level API that
returns them (`bpcalc.run`, `train`, `check`, `derive`), gives their classes the hooks."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bpcalc.render.doc import Doc

PRECISION = 4
LARGE_HTML = 150_000  # characters of HTML above which a notebook shows a result's summary (378 KB: 4-5-4-3, 3 samples)
SUMMARY_ROWS = 12  # tables of at most this many rows may appear in a summary, the first and last of each section


def doc_of(obj, precision: int = PRECISION) -> Doc:
    """The document the command line prints for `obj`."""
    from bpcalc.engine.gradcheck import GradCheck
    from bpcalc.engine.trace import GraphTrace, NetworkTrace
    from bpcalc.engine.training import TrainResult
    from bpcalc.explain.chain import Explanation
    from bpcalc.explain.functions import FunctionDerivation
    from bpcalc.render.doc import Doc

    if isinstance(obj, Doc):
        return obj
    if isinstance(obj, (NetworkTrace, GraphTrace)):
        from bpcalc.render.report import report

        return report(obj, precision)
    if isinstance(obj, TrainResult):
        from bpcalc.render.train_report import train_report

        return train_report(obj, precision)
    if isinstance(obj, GradCheck):
        from bpcalc.render.check_report import check_report

        return check_report(obj, max(precision, 6))
    if isinstance(obj, Explanation):
        from bpcalc.render.explain_report import explain_doc

        return explain_doc(obj)
    if isinstance(obj, FunctionDerivation):
        from bpcalc.render.explain_report import function_doc

        return function_doc(obj)
    raise TypeError(f"no document for a {type(obj).__name__}")


def to_html(obj) -> str:
    """The HTML document's body (semantic tables, MathML) in a `div`, for a notebook's output cell: none of the
    page's own styles, which would restyle the notebook itself."""
    from bpcalc.render.html import body_html

    return f'<div class="bpcalc">{body_html(doc_of(obj))}</div>'


def full(obj) -> Doc:
    """The whole document of a result, which a notebook displays in full however large (its summary names this)."""
    return doc_of(obj)


def summary(doc: Doc, size: int) -> Doc:
    """A large document in brief: its headings and paragraphs (the title, the network's description, the loss), and
    in each section at most its first and last table when they are small (the layers' shapes, the loss, the
    parameters after the update), with a note of what was left out and the call that shows everything."""
    from bpcalc.i18n import _
    from bpcalc.render.doc import Doc, Heading, Para, Table

    sections: list[list] = [[]]
    for b in doc.blocks:
        if isinstance(b, Heading):
            sections.append([])
        sections[-1].append(b)
    out, left = Doc(), 0
    for section in sections:
        tables = [b for b in section if not isinstance(b, (Heading, Para))]
        keep = {id(b) for b in (tables[:1] + tables[-1:]) if isinstance(b, Table) and len(b.rows) <= SUMMARY_ROWS}
        dropped = 0
        for b in section:
            if isinstance(b, (Heading, Para)) or id(b) in keep:
                out.blocks.append(b)
            else:
                dropped += 1
        if dropped:
            out.blocks.append(Para(_("({n} more in the whole document)").format(n=dropped), "note"))
        left += dropped
    note = Para(_("A summary of a large document ({kb:,} KB as HTML; {n} of its tables and equations left out). "
                  "The whole document: bpcalc.render.notebook.full(result) displays it, and to_html(result), "
                  "to_markdown(result) or to_latex(result) in the same module give it as text.").format(
                      kb=round(size / 1000), n=left), "note")
    at = 1 if out.blocks and isinstance(out.blocks[0], Heading) else 0
    out.blocks.insert(at, note)
    return out


def to_markdown(obj) -> str:
    from bpcalc.render.markdown import render_markdown

    return render_markdown(doc_of(obj))


def to_latex(obj) -> str:
    from bpcalc.render.latex import render_latex

    return render_latex(doc_of(obj))


def _repr_html_(self) -> str:
    """The document, or its summary when its HTML is larger than LARGE_HTML (a notebook cell of hundreds of KB of
    MathML); `full(self)` shows all of it."""
    from bpcalc.render.html import body_html

    doc = doc_of(self)
    html = f'<div class="bpcalc">{body_html(doc)}</div>'
    if len(html) <= LARGE_HTML:
        return html
    return f'<div class="bpcalc">{body_html(summary(doc, len(html)))}</div>'


def _repr_markdown_(self) -> str:
    return to_markdown(self)


def _repr_latex_(self) -> str:
    return to_latex(self)


def attach(cls: type) -> None:
    """Give a result's class the display hooks (once; a class that has its own keeps them)."""
    for name, hook in (("_repr_html_", _repr_html_), ("_repr_markdown_", _repr_markdown_),
                       ("_repr_latex_", _repr_latex_)):
        if not hasattr(cls, name):
            setattr(cls, name, hook)
