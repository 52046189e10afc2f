"""`bpcalc check`: every gradient by backprop and by central differences, side by side, and what each took."""

from __future__ import annotations

from typing import Annotated

import typer

from bpcalc.cli import common as c
from bpcalc.cli import progress
from bpcalc.cli.app import app
from bpcalc.i18n import N_, _

EpsOpt = Annotated[float, typer.Option("--eps", metavar="ε", help=N_("Step of the central difference "
                                                                   "(E(θ+ε) − E(θ−ε)) / 2ε."))]
ToleranceOpt = Annotated[float, typer.Option("--tolerance", "--tol", metavar="TOL",
                                             help=N_("Largest relative error |b − n| / max(|b|, |n|) that passes."))]
AtolOpt = Annotated[float | None, typer.Option(
    "--atol", metavar="ATOL", show_default=False,
    help=N_("Largest absolute difference |b − n| that passes whatever the relative error (default: the round-off "
            "of the numerical quotient, 100·machine-ε·max(1, |E|)/ε; 0: the relative test alone)."))]

ParamsOpt = Annotated[int, typer.Option(
    "--params", metavar="K", min=1,
    help=N_("Check a random subset of K parameters (a fixed seed; every layer and every parameter kind "
            "represented); a network with at most K parameters has all of them checked."))]
AllOpt = Annotated[bool, typer.Option("--all", help=N_("Check every parameter, however many (see the estimate "
                                                       "of a full check first)."))]
SamplesOpt = Annotated[int | None, typer.Option(
    "--samples", metavar="K", min=1, show_default=False,
    help=N_("Compute E on a random subset of K samples (a fixed seed) instead of all of them."))]


@app.command(epilog="Examples:\n\n  bpcalc check\n\n  bpcalc check two_layer --format json\n\n"
             "  bpcalc check my.yaml --eps 1e-5 --tolerance 1e-4 --quiet && echo gradients ok\n\n"
             "  bpcalc check my.yaml --atol 0   (the relative test alone)\n\n"
             "  bpcalc check mnist.yaml --params 500 --samples 1000\n\n  bpcalc check my.yaml --all")
@c.guard
def check(
    spec: c.SpecArg = None,
    format: c.FormatOpt = None,
    precision: c.PrecisionOpt = 6,
    output: c.OutputOpt = None,
    eps: EpsOpt = 1e-6,
    tolerance: ToleranceOpt = 1e-5,
    atol: AtolOpt = None,
    params: ParamsOpt = 200,
    all_params: AllOpt = False,
    samples: SamplesOpt = None,
    full: c.FullOpt = False,
    quiet: c.QuietOpt = False,
    standalone: c.StandaloneOpt = False,
    notation: c.NotationOpt = None,
    lang: c.LangOpt = None,
) -> None:
    """Gradient check: backprop vs numerical (central-difference) gradients, relative error per parameter,
    pass/fail and the test passed (relative or absolute; exit 1 on any failure), and the time each method took.
    By default a random subset of 200 parameters (--all: every one), with the time of a full check estimated."""
    from bpcalc.engine.gradcheck import check as run_check
    from bpcalc.explain.notation import param_names
    from bpcalc.render.check_report import check_report

    fmt = c.pick_format(format, output)
    s = c.open_spec_for(spec, output)
    c.apply_notation(s, notation)
    network = s.kind == "network"
    bar = _Estimated() if progress.wanted(quiet, fmt, output) else None
    try:
        gc = run_check(s, eps=eps, tolerance=tolerance, atol=atol, names=param_names(s) if network else None,
                       labels=param_names(s, None) if network else None, params=None if all_params else params,
                       samples=samples, on_estimate=bar.start if bar else None,
                       on_progress=bar.advance if bar else None)
    finally:
        if bar:
            bar.close()
    c.emit(check_report(gc, precision, full), fmt, output, gc.as_dict, quiet=quiet, protect=[s.source],
           standalone=standalone)
    if not gc.ok:
        raise typer.Exit(1)


class _Estimated:
    """The numerical sweep's progress bar, labelled with its estimated time; none for a sweep estimated short."""

    def __init__(self) -> None:
        self.bar: progress.Bar | None = None

    def start(self, seconds: float, count: int) -> None:
        if seconds >= progress.SHOW_AFTER:
            from bpcalc.render.check_report import duration

            self.bar = progress.Bar(_("numerical gradients, estimated {time}").format(time=duration(seconds)), count)
            self.bar.update(0)

    def advance(self, done: int) -> None:
        if self.bar is not None:
            self.bar.update(done)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
