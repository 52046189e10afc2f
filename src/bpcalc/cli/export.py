"""`bpcalc export`: the spec as a standalone script for a framework (PyTorch), running the same step."""

from __future__ import annotations

from typing import Annotated

import typer

from bpcalc.cli import common as c
from bpcalc.cli.app import app
from bpcalc.i18n import N_, _

TARGETS = ["pytorch"]

ToOpt = Annotated[str, typer.Option("--to", metavar="FRAMEWORK", help=N_("pytorch (the only one so far)."))]
TrainOpt = Annotated[int | None, typer.Option(
    "--epochs", "-e", min=1, max=10**9, metavar="N",
    help=N_("The script also trains N epochs as `bpcalc step --epochs N` does (the same minibatches, order and "
            "optimizer) and prints each epoch's loss, the final loss and the final parameters."))]


@app.command(epilog="Examples:\n\n  bpcalc export two_layer --to pytorch -o two_layer.py && python two_layer.py\n\n"
             "  bpcalc export graph_chain --to pytorch | python - --json\n\n"
             "  bpcalc export xor --to pytorch --epochs 100 -o xor.py && python xor.py")
@c.guard
def export(spec: c.SpecArg = None, to: ToOpt = "pytorch", output: c.OutputOpt = None,
           lang: c.LangOpt = None, epochs: TrainOpt = None) -> None:
    """A standalone PyTorch script that rebuilds the network (or graph) with its exact parameters and runs the
    same step, printing the loss, gradients, updated parameters and the loss after (--json: as `run` does); with
    --epochs, it then trains as `step` does, printing each epoch's loss and the final parameters."""
    from bpcalc.errors import SpecError
    from bpcalc.export.pytorch import export_pytorch

    if to.lower() not in TARGETS:
        raise SpecError(_("cannot export to {to!r}").format(to=to), hint=_("choose one of: {join_targets}").format(
                                                             join_targets=', '.join(TARGETS)))
    c.refuse_foreign_output(output, _("a Python script (.py)"))
    s = c.open_spec_for(spec, output)
    c.deliver(export_pytorch(s, output, epochs), output, protect=[s.source])
