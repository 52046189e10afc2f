"""`bpcalc graph`: the computational graph with forward values and gradients, as Graphviz DOT or Mermaid."""

from __future__ import annotations

from typing import Annotated

import typer

from bpcalc.cli import common as c
from bpcalc.cli import formats
from bpcalc.cli.app import app
from bpcalc.cli.helptext import dynamic
from bpcalc.i18n import N_, Msg, _

GraphFormatOpt = Annotated[str | None, typer.Option(
    "--format", "-f", metavar="FORMAT", autocompletion=formats.complete("graph"),
    help=dynamic(Msg("{choices}. Default: from the --output suffix ({suffixes}), else {fallback}.",
                     choices=formats.choices_help("graph"), suffixes=", ".join(formats.suffixes("graph")),
                     fallback=formats.FALLBACK["graph"])), show_default=False)]
SampleOpt = Annotated[int, typer.Option("--sample", min=1, metavar="N",
                                        help=N_("With several samples: whose forward values the nodes show."))]


@app.command(epilog="Examples:\n\n  bpcalc graph two_layer -o two_layer.svg\n\n"
             "  bpcalc graph graph_chain | dot -Tsvg -o chain.svg\n\n"
             "  bpcalc graph hidden --format mermaid -o hidden.mmd\n\n"
             "  bpcalc graph xor --sample 3 --precision 3")
@c.guard
def graph(
    spec: c.SpecArg = None,
    format: GraphFormatOpt = None,
    output: c.OutputOpt = None,
    precision: c.PrecisionOpt = 4,
    learning_rate: c.LearningRateOpt = None,
    round: c.RoundOpt = None,
    sample: SampleOpt = 1,
    notation: c.NotationOpt = None,
    lang: c.LangOpt = None,
) -> None:
    """The computational graph, micrograd style: each node's value and gradient, each edge's local derivative
    (networks: neuron by neuron, edges labelled with their weight, its gradient and its new value). `--format
    svg` draws the documents' figure itself: an expression graph left to right with values above the edges and
    gradients below, a network's layers with z, a and δ in each neuron."""
    from bpcalc import run as run_step
    from bpcalc.errors import SpecError
    from bpcalc.render.graphdraw import drawing

    fmt = c.pick_format(format, output, family="graph")
    s = c.open_spec_for(spec, output)
    c.apply_notation(s, notation)
    trace = run_step(s, learning_rate=learning_rate, round_to=c.rounding(round, None, s))  # (the spec's round_style)
    c.refuse_non_finite(trace)
    n = getattr(trace, "n", 1)
    if sample > n:
        raise SpecError((_("--sample {sample}: the spec has {n} samples") if n != 1 else
                         _("--sample {sample}: the spec has 1 sample")).format(sample=sample, n=n),
                        hint=_("choose 1..{n}").format(n=n))
    c.emit(drawing(trace, precision, sample - 1), fmt, output, protect=[s.source], family="graph")
