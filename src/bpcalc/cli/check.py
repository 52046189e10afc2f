"""`bpcalc check`: every gradient by backprop and by central differences, side by side, and what each took."""

from __future__ import annotations

from typing import Annotated

import typer

from bpcalc.cli import common as c
from bpcalc.cli.app import app
from bpcalc.i18n import N_

EpsOpt = Annotated[float, typer.Option("--eps", metavar="ε", help=N_("Step of the central difference "
                                                                   "(E(θ+ε) − E(θ−ε)) / 2ε."))]
ToleranceOpt = Annotated[float, typer.Option("--tolerance", "--tol", metavar="TOL",
                                             help=N_("Largest relative error |b − n| / max(|b|, |n|) that passes."))]
AtolOpt = Annotated[float | None, typer.Option(
    "--atol", metavar="ATOL", show_default=False,
    help=N_("Largest absolute difference |b − n| that passes whatever the relative error (default: the round-off "
            "of the numerical quotient, 100·machine-ε·max(1, |E|)/ε; 0: the relative test alone)."))]


@app.command(epilog="Examples:\n\n  bpcalc check\n\n  bpcalc check two_layer --format json\n\n"
             "  bpcalc check my.yaml --eps 1e-5 --tolerance 1e-4 --quiet && echo gradients ok\n\n"
             "  bpcalc check my.yaml --atol 0   (the relative test alone)")
@c.guard
def check(
    spec: c.SpecArg = None,
    format: c.FormatOpt = None,
    precision: c.PrecisionOpt = 6,
    output: c.OutputOpt = None,
    eps: EpsOpt = 1e-6,
    tolerance: ToleranceOpt = 1e-5,
    atol: AtolOpt = None,
    full: c.FullOpt = False,
    quiet: c.QuietOpt = False,
    standalone: c.StandaloneOpt = False,
    notation: c.NotationOpt = None,
    lang: c.LangOpt = None,
) -> None:
    """Gradient check: backprop vs numerical (central-difference) gradients, relative error per parameter,
    pass/fail and the test passed (relative or absolute; exit 1 on any failure), and the time each method took."""
    from bpcalc.engine.gradcheck import check as run_check
    from bpcalc.explain.notation import param_names
    from bpcalc.render.check_report import check_report

    fmt = c.pick_format(format, output)
    s = c.open_spec_for(spec, output)
    c.apply_notation(s, notation)
    network = s.kind == "network"
    gc = run_check(s, eps=eps, tolerance=tolerance, atol=atol, names=param_names(s) if network else None,
                   labels=param_names(s, None) if network else None)
    c.emit(check_report(gc, precision, full), fmt, output, gc.as_dict, quiet=quiet, protect=[s.source],
           standalone=standalone)
    if not gc.ok:
        raise typer.Exit(1)
