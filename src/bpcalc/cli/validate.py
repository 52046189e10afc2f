"""`bpcalc validate`: check specs without running a step."""

from __future__ import annotations

from typing import Annotated

import typer

from bpcalc.cli import common as c
from bpcalc.cli.app import app
from bpcalc.i18n import N_, _

SpecsArg = Annotated[list[str], typer.Argument(
    metavar="SPEC", show_default=False,
    help=N_("Spec files, `-` for stdin, or bundled examples' names."))]


def summary(spec) -> str:
    """One line: what the spec describes (kind, shape, sizes, loss, optimizer)."""
    if spec.kind == "graph":
        names = ", ".join(spec.variables)
        loss = _(", loss {loss} against target {target:g}").format(loss=spec.loss, target=spec.target) \
            if spec.target is not None else ""
        nv, nn = len(spec.variables), len(spec.nodes)
        return (_("graph, {n} variables ({names})") if nv != 1 else _("graph, 1 variable ({names})")).format(
            n=nv, names=names) + ", " + (_("{n} nodes") if nn != 1 else _("1 node")).format(n=nn) + ", " + _(
            "output {name}").format(name=spec.output) + loss
    params = sum(arr.size for L in spec.layers for arr in L.params.values())
    acts = ", ".join(L.activation for L in spec.layers if L.params)  # pools and flatten have none
    n = spec.inputs.shape[0]
    return (_("network {sizes} ({activations})").format(sizes=spec.shape_text, activations=acts)
            + ", " + (_("{n} samples") if n != 1 else _("1 sample")).format(n=n)
            + ", " + (_("{n} parameters") if params != 1 else _("1 parameter")).format(n=params)
            + ", " + _("loss {loss}, {optimizer} lr {lr:g}").format(
                loss=spec.loss + ("" if spec.reduction != "sum" else _(" (summed over the samples)")
                                  if spec.targets_at is None else _(" (summed over the loss terms)")),
                optimizer=spec.optimizer.type, lr=spec.learning_rate))


def check(spec) -> None:
    """Beyond loading: evaluate a graph's nodes once, so values outside a function's domain are caught too."""
    if spec.kind == "graph":
        from bpcalc.engine.graph import evaluate, located
        from bpcalc.errors import SpecError
        from bpcalc.spec.expr import parse_graph

        try:
            evaluate(parse_graph(spec), dict(spec.variables))
        except SpecError as exc:  # with the file and line, as `run` gives them
            raise located(exc, spec) from None


@app.command(epilog="Examples:\n\n  bpcalc validate my.yaml\n\n"
             "  bpcalc validate networks/*.yaml --quiet && echo fine\n\n"
             + N_("Exit code 0 when every spec is valid, 2 when any is not (each error on stderr)."))
@c.guard
def validate(specs: SpecsArg, quiet: c.QuietOpt = False, lang: c.LangOpt = None) -> None:
    """Check specs without running them: YAML, keys, shapes, names, expressions. Prints `ok: SPEC: summary`."""
    from bpcalc.errors import EXIT_BAD_INPUT, SpecError
    from bpcalc.spec.bundled import open_spec

    bad = 0
    for arg in specs:
        try:
            spec = open_spec(arg)
            check(spec)
        except SpecError as exc:
            bad += 1
            c.err(_("error: {exc}").format(exc=exc))  # names the file (or the missing name) itself
            continue
        if not quiet:
            c.deliver(_("ok: {spec}: {summary}").format(spec=arg, summary=summary(spec)), None)
    if bad:
        raise typer.Exit(EXIT_BAD_INPUT)
