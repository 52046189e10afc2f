"""`bpcalc graph`: the computational graph with forward values and gradients, as Graphviz DOT or Mermaid."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bpcalc.cli import common as c
from bpcalc.cli.app import app

GRAPH_FORMATS = ["dot", "mermaid"]
GRAPH_SUFFIXES = {".dot": "dot", ".gv": "dot", ".mmd": "mermaid", ".mermaid": "mermaid"}

GraphFormatOpt = Annotated[str | None, typer.Option(
    "--format", "-f", metavar="FORMAT", help="dot (Graphviz) | mermaid. Default: from the --output suffix "
    "(.dot, .gv, .mmd, .mermaid), else dot.", show_default=False)]
SampleOpt = Annotated[int, typer.Option("--sample", min=1, metavar="N",
                                        help="With several samples: whose forward values the nodes show.")]


def pick_graph_format(fmt: str | None, output: Path | None) -> str:
    """Explicit --format, else the output file's suffix, else dot."""
    from bpcalc.errors import SpecError

    if fmt is not None:
        if fmt.lower() not in GRAPH_FORMATS:
            raise SpecError(f"unknown graph format {fmt!r}", hint=f"choose one of: {', '.join(GRAPH_FORMATS)}")
        return fmt.lower()
    if output is not None:
        return GRAPH_SUFFIXES.get(output.suffix.lower(), "dot")
    return "dot"


@app.command(epilog="Examples:\n\n  bpcalc graph graph_chain | dot -Tsvg -o chain.svg\n\n"
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
) -> None:
    """The computational graph, micrograd style: each node's value and gradient, each edge's local derivative
    (networks: neuron by neuron, edges labelled with their weight, its gradient and its new value)."""
    import sys

    from bpcalc import run as run_step
    from bpcalc.errors import SpecError
    from bpcalc.render.graphdraw import drawing, to_dot, to_mermaid

    fmt = pick_graph_format(format, output)
    s = c.open_spec_for(spec, output)
    trace = run_step(s, learning_rate=learning_rate, round_to=round)
    n = getattr(trace, "n", 1)
    if sample > n:
        raise SpecError(f"--sample {sample}: the spec has {n} sample{'s' if n != 1 else ''}",
                        hint=f"choose 1..{n}")
    dr = drawing(trace, precision, sample - 1)
    text = to_dot(dr) if fmt == "dot" else to_mermaid(dr)
    if output is not None:
        from bpcalc.spec.save import write_atomic

        write_atomic(output, text, protect=[s.source])
    else:
        sys.stdout.write(text)
        sys.stdout.flush()
