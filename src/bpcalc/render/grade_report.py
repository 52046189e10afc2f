"""`bpcalc grade --format text`: the score, then each quantity's points, check and what went wrong."""

from __future__ import annotations

from bpcalc.i18n import _
from bpcalc.render.doc import Doc


def grade_doc(grade) -> Doc:
    """The graded template as a Doc (reads explain.grading.Grade; computes nothing)."""
    doc = Doc()
    doc.heading(_("Grade: {score} of {max}").format(score=f"{grade.score:g}", max=f"{grade.max_score:g}"), 1)
    t = doc.table(None, [_("quantity"), _("section"), _("points"), _("check")], {2})
    for g in grade.items:
        t.add(g.result.key, g.section, f"{g.score:g}/{g.points:g}", g.output())
    return doc


def grade_text(grade) -> str:
    from bpcalc.render.text import render_text

    return render_text(grade_doc(grade))
