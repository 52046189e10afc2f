"""The "Check my work" section: each expected value marked ✓ or ✗ with the correct value and the difference, and
for a wrong one the known mistake that gives it."""

from __future__ import annotations

from bpcalc.explain.numfmt import Fmt
from bpcalc.i18n import _
from bpcalc.render.doc import Doc

OK, BAD, EMPTY = "✓", "✗", "…"


def expected_section(doc: Doc, results, precision: int = 4) -> None:
    """Append the check table of `expected.check_expected`'s results (reads them; computes nothing)."""
    doc.heading(_("Check my work"), 2)
    filled = [r for r in results if r.filled]
    wrong = [r for r in filled if not r.ok]
    empty = len(results) - len(filled)
    if wrong:
        doc.para(f"{BAD} " + _("{k} of {n} values wrong: {keys}").format(
            k=len(wrong), n=len(filled), keys=", ".join(r.key for r in wrong[:8]) + (", …" if len(wrong) > 8 else "")),
            "bad")
        first = next((r for r in wrong if r.earliest), None)
        followers = [r for r in wrong if r.diagnosis is not None and r.diagnosis.follows == getattr(first, "key", 0)]
        if first is not None and followers:
            doc.para(_("Your {first} is already off; the values after it follow from it.").format(first=first.name),
                     "bad")
        elif first is not None:
            doc.para(_("The earliest wrong value in the order of computation is {first}: check it first.").format(
                first=first.name), "bad")
    elif filled:
        doc.para(f"{OK} " + _("all {n} values right").format(n=len(filled)), "ok")
    if empty:
        doc.para(_("{k} of {n} values not filled in yet").format(k=empty, n=len(results)), "note")
    why = bool(wrong)
    columns = [_("quantity"), _("yours"), _("correct"), _("difference"), _("check")] + ([_("what went wrong")]
                                                                                         if why else [])
    t = doc.table(None, columns, {1, 2, 3})
    for r in results:
        f = Fmt(max(precision, r.decimals + 1))  # one digit more than you wrote, to show how it rounds
        label = r.key if r.label in (r.key, r.path) else f"{r.key} ({r.label})"
        extra = [r.diagnosis.text if r.diagnosis is not None else ""] if why else []
        if not r.filled:
            t.add(label, "", Fmt(precision)(r.correct) if r.correct is not None else "", "", _("not filled"),
                  *([""] if why else []))
        elif r.correct is None:
            t.add(label, r.written, _("undefined"), "", BAD, *extra)
        else:
            t.add(label, r.written, f(r.correct), Fmt(precision)(r.difference), OK if r.ok else BAD,
                  *(extra if not r.ok else [""] * len(extra)))
    t.caption = _("right = the correct value rounded to as many decimals as you wrote (0.50 allows ±0.005); "
                  "difference = yours − correct")


def check_and_attach(spec, data: dict, doc: Doc | None = None, precision: int = 4) -> list:
    """Check the spec's expected: values against `data`, add them to it, and their table to `doc` (when given)."""
    from bpcalc.explain.expected import check_and_attach as check

    results = check(spec, data)
    if results and doc is not None:
        expected_section(doc, results, precision)
    return results
