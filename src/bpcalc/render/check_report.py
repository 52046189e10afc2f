"""`bpcalc check` output: backprop and numerical gradients side by side, then what each took (reads a GradCheck)."""

from __future__ import annotations

from bpcalc.engine.gradcheck import layer_notation_example
from bpcalc.explain.numfmt import Fmt
from bpcalc.i18n import _
from bpcalc.render.doc import Doc

LARGE = 64  # parameters above which the table shows the worst rows only (unless full)
TOP_ROWS = 10
OK, BAD = "✓", "✗"


def sci(x: float | None) -> str:
    """A relative error or a tolerance: two significant digits, scientific."""
    if x is None:
        return _("n/a")
    return "0" if x == 0 else f"{x:.1e}"


def _count(n: int) -> str:
    return _("all {n:,} gradients").format(n=n) if n != 1 else _("the one gradient")


def _things(n: int, network: bool) -> str:
    """"12 parameters", "1 variable": what a gradient check counts."""
    if network:
        return (_("{n:,} parameters") if n != 1 else _("{n:,} parameter")).format(n=n)
    return (_("{n:,} variables") if n != 1 else _("{n:,} variable")).format(n=n)


def duration(seconds: float) -> str:
    if seconds >= 2 * 86400:
        return _("{n:.1f} days").format(n=seconds / 86400)
    if seconds >= 2 * 3600:
        return _("{n:.1f} hours").format(n=seconds / 3600)
    if seconds >= 120:
        return _("{n:.1f} minutes").format(n=seconds / 60)
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.1f} µs"


def _checked(k: int, n: int) -> str:
    return _("the {k:,} gradients checked of {n:,}").format(k=k, n=n) if k != 1 else \
        _("the one gradient checked of {n:,}").format(n=n)


def selection_text(gc, network: bool) -> str:
    """What was checked when it was not everything: how many of how many, how they were drawn, how to check all."""
    parts = []
    if gc.n_params < gc.n_total:
        parts.append((_("Checked {k:,} of the {n:,} parameters, drawn at random (seed {seed}) so that every layer and "
                        "every parameter kind has some; --all checks every one, --params K another number.")
                      if network else
                      _("Checked {k:,} of the {n:,} variables, drawn at random (seed {seed}); --all checks every one, "
                        "--params K another number.")).format(k=gc.n_params, n=gc.n_total, seed=gc.seed))
    if gc.samples < gc.n_samples_total:
        parts.append((_("E is the summed loss over {k:,} of the {n:,} samples, drawn at random (seed {seed}); "
                        "without --samples every sample counts.") if getattr(gc, "reduction", "mean") == "sum" else
                      _("E is the mean loss over {k:,} of the {n:,} samples, drawn at random (seed {seed}); without "
                        "--samples every sample counts.")).format(k=gc.samples, n=gc.n_samples_total, seed=gc.seed))
    return " ".join(parts)


def check_report(gc, precision: int = 6, full: bool = False) -> Doc:
    """The gradient check as a Doc."""
    f = Fmt(precision)
    doc = Doc()
    doc.heading(_("Gradient check: {name}").format(name=_(gc.name)) if gc.name else _("Gradient check"))
    network = gc.model == "network"
    what = "E" if network else gc.of
    absolute = (_("|b − n| ≤ {atol} (the absolute test, --atol)") if gc.atol_given else
                _("|b − n| ≤ {atol} (the absolute test: round-off of the numerical quotient; --atol sets it)"))
    doc.para((_("Each gradient ∂{what}/∂θ by backprop (one forward and one backward pass for all of them) and by "
                "central differences ({what}(θ + ε) − {what}(θ − ε)) / 2ε, two forward passes per parameter; "
                "ε = {eps:g}.") if network else
              _("Each gradient ∂{what}/∂θ by backprop (one forward and one backward pass for all of them) and by "
                "central differences ({what}(θ + ε) − {what}(θ − ε)) / 2ε, two forward passes per variable; "
                "ε = {eps:g}.")).format(what=what, eps=gc.eps)
             + " " + _("A gradient passes when its relative error |b − n| / max(|b|, |n|) is at most "
                       "{tolerance} (the relative test), or when {absolute}.").format(
                 tolerance=f"{gc.tolerance:g}", absolute=absolute.format(atol=sci(gc.atol))))
    if gc.subset:
        doc.para(selection_text(gc, network), "note")
    if gc.ok:
        doc.para(f"{OK} " + (_("{count} agree (largest relative error {err})") if gc.n_params != 1
                             else _("{count} agrees (relative error {err})")).format(
            count=_count(gc.n_params) if gc.n_params == gc.n_total else _checked(gc.n_params, gc.n_total),
            err=sci(gc.max_relative_error)), "ok")
    elif gc.failed:
        names = ", ".join(p.label for p in gc.failed[:8]) + (", …" if len(gc.failed) > 8 else "")
        doc.para(f"{BAD} " + _("{bad} of {n} gradients disagree: {names}").format(
            bad=len(gc.failed), n=gc.n_params, names=names), "bad")
    else:  # every row agrees, but about a loss that overflowed
        doc.para(BAD + " " + _("{of} is not a finite number, so the check fails").format(of=what), "bad")
    for note in gc.notes:
        doc.para(_(note), "note")

    rows = gc.params
    caption = None
    if not full and len(rows) > LARGE:
        worst = sorted(rows, key=lambda p: (p.ok, -(p.relative_error if p.relative_error is not None else 1e300)))
        keep = {id(p) for p in worst[:max(TOP_ROWS, min(len(gc.failed), 50))]}
        rows = [p for p in rows if id(p) in keep]
        caption = (_("the {shown} largest relative errors of {n} parameters; --full shows all, --format json has "
                     "every one") if network else
                   _("the {shown} largest relative errors of {n} variables; --full shows all, --format json has "
                     "every one")).format(shown=len(rows), n=gc.n_params)
    t = doc.table(_("Parameters") if network else _("Variables"),
                  [_("parameter") if network else _("variable"), _("backprop"), _("numerical"), _("difference"),
                   _("relative error"), _("check")], {1, 2, 3, 4})
    passed = {"relative": _("relative"), "absolute": _("absolute")}
    for p in rows:
        t.add(p.label, f(p.backprop), _("undefined") if p.numerical is None else f(p.numerical),
              "" if p.difference is None else sci(p.difference) if p.difference else "0", sci(p.relative_error),
              (f"{OK} {passed[p.passed_by]}" if p.ok else BAD) + (_(" (kink)") if p.kink and not p.ok else ""))
    t.caption = caption

    doc.heading(_("Why backprop"), 2)
    ratio = gc.ratio
    slower = (_(": {ratio:.1f}× slower").format(ratio=ratio) if ratio and ratio >= 1 else
              _(": {ratio:.1f}× faster on a network this small").format(ratio=1 / ratio) if ratio else "")
    if gc.n_params == gc.n_total:
        doc.para(_("Backprop took {backprop} for {count}, numerical differentiation {numerical}{slower}.").format(
            backprop=duration(gc.backprop_seconds), count=_count(gc.n_params),
            numerical=duration(gc.numerical_seconds), slower=slower))
    else:
        doc.para(_("Backprop took {backprop} for {count}; numerical differentiation took {numerical} for the "
                   "{k:,} checked (estimated beforehand at {estimate}).").format(
            backprop=duration(gc.backprop_seconds), count=_count(gc.n_total), numerical=duration(gc.numerical_seconds),
            k=gc.n_params, estimate=duration(gc.estimated_seconds)))
    if gc.subset:
        each = duration(gc.full_check_seconds / (2 * gc.n_total))
        doc.para(_("Estimated for the full check, {p} on all {n:,} samples: about {numerical} by central differences "
                   "(2·P = {passes:,} evaluations of E at {each}), against {backprop} for backprop's one forward and "
                   "one backward pass.").format(
            p=_things(gc.n_total, network), n=gc.n_samples_total, numerical=duration(gc.full_check_seconds),
            passes=2 * gc.n_total, each=_("{time} each").format(time=each),
            backprop=duration(gc.full_backprop_seconds)))
    s2 = layer_notation_example()
    over = _(" over all {n:,} samples").format(n=gc.n_samples_total) if gc.n_samples_total > 1 else ""
    doc.para(_("Numerical differentiation needs 2·P = {passes:,} forward passes{over} (P = {p}) for what backprop "
               "gets from one forward and one backward pass, and the gap grows with P.").format(
                 passes=2 * gc.n_total, over=over, p=_things(gc.n_total, network))
             + " " + _("The layer-notation example's {sizes} network has P = {p:,}: one update by central "
                       "differences on its {samples:,} samples is {passes:,} forward passes over the data "
                       "({sample_passes:,} sample-passes), against one forward and one backward pass for backprop; "
                       "the article reports 20+ hours to train that network numerically.").format(
                 sizes="-".join(map(str, s2["sizes"])), p=s2["parameters"], samples=s2["samples"],
                 passes=s2["forward_passes"], sample_passes=s2["sample_passes"]))
    return doc
