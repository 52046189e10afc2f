"""Jupyter display: a trace, a training result, a gradient check, a derivation or a Doc shows itself as its
document (`_repr_html_`, `_repr_markdown_`, `_repr_latex_`), rendered by the renderers of the command line.

The engine's and explain's classes know nothing of rendering; `attach()`, called by the top-level API that
returns them (`bpcalc.run`, `train`, `check`, `derive`), gives their classes the hooks."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bpcalc.render.doc import Doc

PRECISION = 4


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


def to_markdown(obj) -> str:
    from bpcalc.render.markdown import render_markdown

    return render_markdown(doc_of(obj))


def to_latex(obj) -> str:
    from bpcalc.render.latex import render_latex

    return render_latex(doc_of(obj))


def _repr_html_(self) -> str:
    return to_html(self)


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
