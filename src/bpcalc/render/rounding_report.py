"""The "Hand rounding vs exact" section: where and by how much the rounded step departs from the exact one.

Reads `trace.rounding` (departures.RoundingComparison, computed by the engine side); computes nothing."""

from __future__ import annotations

from bpcalc.explain.departures import departure_at
from bpcalc.explain.numfmt import Fmt
from bpcalc.i18n import _
from bpcalc.render.doc import Doc

SHOWN = 20  # rows before "--full shows all"


def rounding_note(decimals: int) -> str:
    """The note under a hand-rounded report's title: what is rounded and what is not."""
    from bpcalc.engine.rounding import every_result

    if every_result(decimals):
        return _("Every result rounded to {n} decimals as it is written, sums and products too, and the next "
                 "step taken from the number written. The last section compares every number with the exact "
                 "step.").format(n=decimals)
    return (_("Hand rounding to {n} decimals, as on paper:") if decimals != 1 else
            _("Hand rounding to {n} decimal, as on paper:")).format(n=decimals) + " " + _(
        "values read off a calculator (σ, tanh, softmax, exp, log, sqrt, sin, cos) and quotients are rounded as they "
        "are computed; sums and products of the numbers written are exact. The last section compares every number "
        "with the exact step.")


def rounding_section(doc: Doc, cmp, f: Fmt, full: bool = False) -> None:
    """Append the comparison of the hand-rounded step with the exact one."""
    doc.heading(_("Hand rounding vs exact ({n} decimals)").format(n=cmp.decimals), 2)
    deps = cmp.departures
    if not deps:
        doc.para(_("All {n} numbers agree with the exact step: nothing rounded changed a figure.").format(
            n=cmp.compared), "ok")
        return
    first = cmp.first
    parts = [_("{k} of {n} numbers differ from the exact step.").format(k=len(deps), n=cmp.compared)]
    if first is not None:
        rounded, exact = f.apart(first.rounded, first.exact)
        parts.append(_("The rounded path first departs at {name}: {rounded} instead of {exact} (by {diff}).").format(
            name=first.label, rounded=rounded, exact=exact, diff=f(first.difference)))
    loss = departure_at(deps, "loss")
    if loss is not None:
        rounded, exact = f.apart(loss.rounded, loss.exact)
        parts.append(_("The loss comes out {rounded} instead of {exact} ({diff}).").format(
            rounded=rounded, exact=exact, diff=f(loss.difference)))
    doc.para(" ".join(parts), "note")
    t = doc.table(_("Largest departures first"), [_("quantity"), _("rounded"), _("exact"), _("difference")],
                  {1, 2, 3})
    shown = deps if full else deps[:SHOWN]
    for d in shown:
        t.add(d.label, *f.apart(d.rounded, d.exact), f(d.difference))
    if len(shown) < len(deps):
        t.caption = _("the {k} largest of {n} departures; --full shows all, --format json has every one (under "
                      "rounding.departures)").format(k=len(shown), n=len(deps))
