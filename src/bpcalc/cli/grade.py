"""`bpcalc grade`: score a student's filled worksheet template (its `expected:` values) against the step, each
quantity ✓ or ✗ with the right value and, for a wrong one, the known mistake that gives it; as Gradescope's
results.json, bpcalc's JSON, or text."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bpcalc.cli import common as c
from bpcalc.cli.app import app
from bpcalc.i18n import _

GRADE_FORMATS = ("gradescope", "json", "text")

FilledArg = Annotated[str, typer.Argument(metavar="FILLED", show_default=False,
                                          help=_("The filled template: the spec `bpcalc worksheet --template` "
                                                 "wrote, its `expected:` values filled in (`-` for stdin)."))]
GradeFormatOpt = Annotated[str, typer.Option(
    "--format", "-f", metavar="FORMAT",
    help=_("gradescope (the results.json of a Gradescope autograder), json, or text."))]
PointsOpt = Annotated[str | None, typer.Option(
    "--points", metavar="SECTION=N,...", show_default=False,
    help=_("The points of each quantity in a section, joined by commas: forward=2,backward=3 (sections: forward, "
           "loss, backward, update). Default: 1 each."))]
GradeRoundOpt = Annotated[int | None, typer.Option(
    "--round", metavar="N", min=0, max=12, show_default=False,
    help=_("The rounding the sheet asked for (as the template's first line says); the right values are those of "
           "that hand-rounded step."))]
GradeOutputOpt = Annotated[Path | None, typer.Option(
    "--output", "-o", metavar="FILE", dir_okay=False, show_default=False,
    help=_("Write to FILE (Gradescope reads /autograder/results/results.json) instead of stdout."))]


@app.command(epilog="Examples:\n\n  bpcalc grade mine.yaml\n\n"
             "  bpcalc grade check-07.yaml --round 2 --format gradescope -o /autograder/results/results.json\n\n"
             "  bpcalc grade mine.yaml --points forward=1,backward=2,update=1 --format json")
@c.guard
def grade(
    filled: FilledArg,
    format: GradeFormatOpt = "text",
    points: PointsOpt = None,
    round: GradeRoundOpt = None,
    round_style: c.RoundStyleOpt = None,
    output: GradeOutputOpt = None,
) -> None:
    """Grade a filled worksheet template: every quantity scored (✓ full points, ✗ none, with the right value and
    the mistake that gives the wrong one; a blank left empty scores 0, "not filled"). Exit 0 whenever grading
    worked, whatever the score."""
    from bpcalc.errors import SpecError
    from bpcalc.explain.grading import grade_spec, parse_points

    fmt = format.lower()
    if fmt not in GRADE_FORMATS:
        raise SpecError(_("unknown {formats_noun_family} {fmt!r}").format(formats_noun_family=_("grading format"),
                                                                         fmt=fmt),
                        hint=_("choose one of: {v}").format(v=", ".join(GRADE_FORMATS)))
    weights = parse_points(points)
    out = None if output is None or str(output) == "-" else output
    s = c.open_spec_for(filled, out)
    from bpcalc import run

    rounding = c.rounding(round, round_style, s)
    trace = run(s, round_to=rounding)
    c.refuse_non_finite(trace)  # a step that overflowed is no result to grade against
    graded = grade_spec(s, rounding, weights, trace)
    if fmt == "text":
        from bpcalc.render.grade_report import grade_text

        content = grade_text(graded)
    else:
        from bpcalc.render.jsonr import chunks

        content = "".join(chunks(graded.gradescope() if fmt == "gradescope" else graded.as_dict()))
    c.deliver(content, out, protect=[s.source])
