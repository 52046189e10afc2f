"""`bpcalc check` output: backprop and numerical gradients side by side, then what each took (reads a GradCheck)."""

from __future__ import annotations

from bpcalc.engine.gradcheck import seed_002_cost
from bpcalc.explain.numfmt import Fmt
from bpcalc.i18n import _
from bpcalc.render.doc import Doc

LARGE = 64  # parameters above which the table shows the worst rows only (unless full)
TOP_ROWS = 10
OK, BAD = "✓", "✗"


def sci(x: float | None) -> str:
    """A relative error or a tolerance: two significant digits, scientific."""
    if x is None:
        return "n/a"
    return "0" if x == 0 else f"{x:.1e}"


def _count(n: int, what: str) -> str:
    return f"all {n:,} {what}s" if n != 1 else f"the one {what}" if what == "gradient" else f"1 {what}"


def duration(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.1f} µs"


def check_report(gc, precision: int = 6, full: bool = False) -> Doc:
    """The gradient check as a Doc."""
    f = Fmt(precision)
    doc = Doc()
    doc.heading(f"Gradient check: {gc.name}" if gc.name else "Gradient check")
    thing = "parameter" if gc.model == "network" else "variable"
    what, at = ("E", "E") if gc.model == "network" else (gc.of, gc.of)
    absolute = (_("|b − n| ≤ {atol} (the absolute test, --atol)") if gc.atol_given else
                _("|b − n| ≤ {atol} (the absolute test: round-off of the numerical quotient; --atol sets it)"))
    doc.para(f"Each gradient ∂{what}/∂θ by backprop (one forward and one backward pass for all of them) and by "
             f"central differences ({at}(θ + ε) − {at}(θ − ε)) / 2ε, two forward passes per {thing}; "
             f"ε = {gc.eps:g}. " + _("A gradient passes when its relative error |b − n| / max(|b|, |n|) is at most "
                                     "{tolerance} (the relative test), or when {absolute}.").format(
                 tolerance=f"{gc.tolerance:g}", absolute=absolute.format(atol=sci(gc.atol))))
    if gc.ok:
        doc.para(f"{OK} {_count(gc.n_params, 'gradient')} agree{'s' if gc.n_params == 1 else ''} "
                 f"(largest relative error {sci(gc.max_relative_error)})", "ok")
    elif gc.failed:
        names = ", ".join(p.label for p in gc.failed[:8]) + (", …" if len(gc.failed) > 8 else "")
        doc.para(f"{BAD} {len(gc.failed)} of {gc.n_params} gradients disagree: {names}", "bad")
    else:  # every row agrees, but about a loss that overflowed
        doc.para(BAD + " " + _("{of} is not a finite number, so the check fails").format(of=what), "bad")
    for note in gc.notes:
        doc.para(note, "note")

    rows = gc.params
    caption = None
    if not full and len(rows) > LARGE:
        worst = sorted(rows, key=lambda p: (p.ok, -(p.relative_error if p.relative_error is not None else 1e300)))
        keep = {id(p) for p in worst[:max(TOP_ROWS, min(len(gc.failed), 50))]}
        rows = [p for p in rows if id(p) in keep]
        caption = (f"the {len(rows)} largest relative errors of {gc.n_params} {thing}s; --full shows all, "
                   "--format json has every one")
    t = doc.table(thing.capitalize() + "s", [thing, "backprop", "numerical", "difference", "relative error",
                                            "check"], {1, 2, 3, 4})
    passed = {"relative": _("relative"), "absolute": _("absolute")}
    for p in rows:
        t.add(p.label, f(p.backprop), "undefined" if p.numerical is None else f(p.numerical),
              "" if p.difference is None else sci(p.difference) if p.difference else "0", sci(p.relative_error),
              (f"{OK} {passed[p.passed_by]}" if p.ok else BAD) + (" (kink)" if p.kink and not p.ok else ""))
    t.caption = caption

    doc.heading("Why backprop", 2)
    ratio = gc.ratio
    slower = (f": {ratio:.1f}× slower" if ratio and ratio >= 1 else
              f": {1 / ratio:.1f}× faster on a network this small" if ratio else "")
    doc.para(f"Backprop took {duration(gc.backprop_seconds)} for {_count(gc.n_params, 'gradient')}, numerical "
             f"differentiation {duration(gc.numerical_seconds)}{slower}.")
    s2 = seed_002_cost()
    passes = f"{gc.forward_passes:,}"
    over = f" over all {gc.samples:,} samples" if gc.samples > 1 else ""
    plural = "s" if gc.n_params != 1 else ""
    doc.para(f"Numerical differentiation needs 2·P = {passes} forward passes{over} "
             f"(P = {gc.n_params:,} {thing}{plural}) "
             "for what backprop gets from one forward and one backward pass, and the gap grows with P. "
             f"The layer-notation example's {'-'.join(map(str, s2['sizes']))} network has "
             f"P = {s2['parameters']:,}: one update "
             f"by central differences on its {s2['samples']:,} samples is {s2['forward_passes']:,} forward passes "
             f"over the data ({s2['sample_passes']:,} sample-passes), against one forward and one backward pass "
             "for backprop; the article reports 20+ hours to train that network numerically.")
    return doc
