"""The "Hand rounding vs exact" section: where and by how much the rounded step departs from the exact one.

Reads `trace.rounding` (departures.RoundingComparison, computed by the engine side); computes nothing."""

from __future__ import annotations

from bpcalc.explain.departures import departure_at
from bpcalc.explain.numfmt import Fmt
from bpcalc.render.doc import Doc

SHOWN = 20  # rows before "--full shows all"


def rounding_note(decimals: int) -> str:
    """The note under a hand-rounded report's title: what is rounded and what is not."""
    return (f"Hand rounding to {decimals} decimal{'s' if decimals != 1 else ''}, as on paper: values read off a "
            "calculator (σ, tanh, softmax, exp, log, sqrt, sin, cos) and quotients are rounded as they are "
            "computed; sums and products of the numbers written are exact. The last section compares every "
            "number with the exact step.")


def rounding_section(doc: Doc, cmp, f: Fmt, full: bool = False) -> None:
    """Append the comparison of the hand-rounded step with the exact one."""
    doc.heading(f"Hand rounding vs exact ({cmp.decimals} decimals)", 2)
    deps = cmp.departures
    if not deps:
        doc.para(f"All {cmp.compared} numbers agree with the exact step: nothing rounded changed a figure.", "ok")
        return
    first = cmp.first
    parts = [f"{len(deps)} of {cmp.compared} numbers differ from the exact step."]
    if first is not None:
        parts.append(f"The rounded path first departs at {first.label}: {f(first.rounded)} instead of "
                     f"{f(first.exact)} (by {f(first.difference)}).")
    loss = departure_at(deps, "loss")
    if loss is not None:
        parts.append(f"The loss comes out {f(loss.rounded)} instead of {f(loss.exact)} ({f(loss.difference)}).")
    doc.para(" ".join(parts), "note")
    t = doc.table("Largest departures first", ["quantity", "rounded", "exact", "difference"], {1, 2, 3})
    shown = deps if full else deps[:SHOWN]
    for d in shown:
        t.add(d.label, f(d.rounded), f(d.exact), f(d.difference))
    if len(shown) < len(deps):
        t.caption = (f"the {len(shown)} largest of {len(deps)} departures; --full shows all, --format json has "
                     "every one (under rounding.departures)")
