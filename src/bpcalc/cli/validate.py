"""`bpcalc validate`: check specs without running a step."""

from __future__ import annotations

from typing import Annotated

import typer

from bpcalc.cli import common as c
from bpcalc.cli.app import app

SpecsArg = Annotated[list[str], typer.Argument(
    metavar="SPEC", show_default=False,
    help="Spec files, `-` for stdin, or bundled examples' names.")]


def summary(spec) -> str:
    """One line: what the spec describes (kind, shape, sizes, loss, optimizer)."""
    if spec.kind == "graph":
        names = ", ".join(spec.variables)
        loss = f", loss {spec.loss} against target {spec.target:g}" if spec.target is not None else ""
        return (f"graph, {len(spec.variables)} variable{'s' * (len(spec.variables) != 1)} ({names}), "
                f"{len(spec.nodes)} node{'s' * (len(spec.nodes) != 1)}, output {spec.output}{loss}")
    params = sum(L.weights.size + (0 if L.biases is None else L.biases.size) for L in spec.layers)
    acts = ", ".join(L.activation for L in spec.layers)
    n = spec.inputs.shape[0]
    return (f"network {'-'.join(map(str, spec.sizes))} ({acts}), {n} sample{'s' * (n != 1)}, "
            f"{params} parameter{'s' * (params != 1)}, loss {spec.loss}, {spec.optimizer.type} "
            f"lr {spec.learning_rate:g}")


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
             "Exit code 0 when every spec is valid, 2 when any is not (each error on stderr).")
@c.guard
def validate(specs: SpecsArg, quiet: c.QuietOpt = False) -> None:
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
            c.err(f"error: {exc}")  # names the file (or the missing name) itself
            continue
        if not quiet:
            c.deliver(f"ok: {arg}: {summary(spec)}", None)
    if bad:
        raise typer.Exit(EXIT_BAD_INPUT)
