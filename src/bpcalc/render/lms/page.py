"""The HTML of a question, the same in every format but for how formulas are set (`math`: TeX -> HTML)."""

from __future__ import annotations

from collections.abc import Callable
from html import escape

from bpcalc.i18n import _
from bpcalc.render.lms.questions import Ask, QuizSheet, given_rows, question_text

Math = Callable[[str], str]


def mathjax(tex: str) -> str:
    """An inline formula as MathJax (Moodle's filter) reads it: \\( … \\)."""
    return escape(rf"\({tex}\)", quote=False)


def intro_html(sheet: QuizSheet, math: Math) -> str:
    """What to do, and the table of givens."""
    notes = "".join(f"<p>{escape(n, quote=False)}</p>" for n in sheet.notes)
    rows = "".join(f"<tr><td>{math(m.tex)}</td><td style=\"text-align:right\">{escape(v, quote=False)}</td></tr>"
                   for m, v in given_rows(sheet))
    head = f"<tr><th>{escape(_('quantity'), quote=False)}</th><th>{escape(_('value'), quote=False)}</th></tr>"
    return (f"{notes}<table border=\"1\" cellpadding=\"4\"><caption>{escape(_('Given'), quote=False)}</caption>"
            f"{head}{rows}</table>")


def ask_html(a: Ask, math: Math) -> str:
    """'Find ∂E/∂w (to 4 decimals).'"""
    return "<p>" + escape(_("Find {name} ({how}).").format(name="\0", how=question_text(a)),
                          quote=False).replace("\0", math(a.tex)) + "</p>"


def unit_html(a: Ask, math: Math) -> str:
    return f" {math(a.unit_tex)}" if a.scale else ""
