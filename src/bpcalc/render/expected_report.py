"""The "Check my work" section: each expected value marked ✓ or ✗ with the correct value and the difference."""

from __future__ import annotations

from bpcalc.explain.numfmt import Fmt
from bpcalc.render.doc import Doc

OK, BAD = "✓", "✗"


def expected_section(doc: Doc, results, precision: int = 4) -> None:
    """Append the check table of `expected.check_expected`'s results (reads them; computes nothing)."""
    doc.heading("Check my work", 2)
    wrong = [r for r in results if not r.ok]
    if wrong:
        doc.para(f"{BAD} {len(wrong)} of {len(results)} value{'s' if len(results) != 1 else ''} wrong: "
                 + ", ".join(r.key for r in wrong[:8]) + (", …" if len(wrong) > 8 else ""), "bad")
    else:
        doc.para(f"{OK} all {len(results)} value{'s' if len(results) != 1 else ''} right", "ok")
    t = doc.table(None, ["quantity", "yours", "correct", "difference", "check"], {1, 2, 3})
    for r in results:
        f = Fmt(max(precision, r.decimals + 1))  # one digit more than you wrote, to show how it rounds
        label = r.key if r.label in (r.key, r.path) else f"{r.key} ({r.label})"
        if r.correct is None:
            t.add(label, r.written, "undefined", "", BAD)
        else:
            t.add(label, r.written, f(r.correct), Fmt(precision)(r.difference), OK if r.ok else BAD)
    t.caption = ("right = the correct value rounded to as many decimals as you wrote (0.50 allows ±0.005); "
                 "difference = yours − correct")


def check_and_attach(spec, data: dict, doc: Doc | None = None, precision: int = 4) -> list:
    """Check the spec's expected: values against `data`, add them to it, and their table to `doc` (when given)."""
    from bpcalc.explain.expected import check_and_attach as check

    results = check(spec, data)
    if results and doc is not None:
        expected_section(doc, results, precision)
    return results
