"""`bpcalc run`: one forward pass, backward pass and update, every number shown."""

from __future__ import annotations

from bpcalc.cli import common as c
from bpcalc.cli.app import app


@app.command(epilog="Examples:\n\n  bpcalc run\n\n  bpcalc run hidden --round 2\n\n"
             "  bpcalc run networks/two_layer.yaml --format json > step.json\n\n"
             "  cat my.yaml | bpcalc run - --save my_next.yaml\n\n"
             "  bpcalc run hidden --format latex --standalone -o hidden.tex\n\n"
             "  bpcalc run two_layer --view matrix\n\n  bpcalc run two_layer --notation ng")
@c.guard
def run(
    spec: c.SpecArg = None,
    format: c.FormatOpt = None,
    precision: c.PrecisionOpt = 4,
    learning_rate: c.LearningRateOpt = None,
    output: c.OutputOpt = None,
    save: c.SaveOpt = None,
    round: c.RoundOpt = None,
    round_style: c.RoundStyleOpt = None,
    full: c.FullOpt = False,
    quiet: c.QuietOpt = False,
    standalone: c.StandaloneOpt = False,
    notation: c.NotationOpt = None,
    view: c.ViewOpt = "neuron",
    lang: c.LangOpt = None,
    hidden_after: c.HiddenAfterOpt = False,
    input_grads: c.InputGradsOpt = False,
) -> None:
    """One step by hand: forward pass, loss, backward pass (δ, chain rule), update, and the loss after."""
    from bpcalc import run as run_step

    fmt = c.pick_format(format, output)
    s = c.open_spec_for(spec, output, save)
    c.apply_notation(s, notation)
    c.check_view(view, s)
    trace = run_step(s, learning_rate=learning_rate, round_to=c.rounding(round, round_style, s))
    c.refuse_non_finite(trace)
    if fmt == "json":  # JSON is the trace's own data (and the checked values): no tables to build
        doc = None
    elif view == "matrix":
        from bpcalc.render.matrix_report import matrix_report

        doc = matrix_report(trace, precision, full)
    else:
        from bpcalc.render.report import report

        doc = report(trace, precision, full, hidden_after, input_grads)
    checked = None
    if s.expected:  # check my work: before printing anything, so an unknown key is one error (exit 2)
        from bpcalc.render.expected_report import check_and_attach
        from bpcalc.render.jsonr import trace_to_dict

        checked = trace_to_dict(trace)
        results = check_and_attach(s, checked, doc, precision)

    def data():
        from bpcalc.render.jsonr import trace_data

        return checked if checked is not None else trace_data(trace)

    unsaved = _outside_after_update(s, trace) if save is not None else None
    if save is not None and unsaved is None:  # before stdout, so a closed pipe or a full disk cannot lose it
        from bpcalc.spec.save import trace_to_spec_text

        c.deliver_spec(lambda sidecars: trace_to_spec_text(s, trace, save, sidecars), save, [s.source])
    c.emit(doc, fmt, output, data, quiet=quiet, protect=[s.source], standalone=standalone)
    if unsaved is not None:
        import typer

        from bpcalc.errors import EXIT_CHECK_FAILED
        from bpcalc.i18n import _

        c.err("error: " + _("--save wrote nothing: the updated variables leave the graph's domain ({why}), and a "
                            "spec holding them would not load").format(why=unsaved))
        c.err("  hint: " + _("a smaller learning rate keeps the step inside it"))
        raise typer.Exit(EXIT_CHECK_FAILED)
    if checked is not None:
        import typer

        from bpcalc.explain.expected import exit_code

        raise typer.Exit(exit_code(results))


def _outside_after_update(spec, trace) -> str | None:
    """For a graph whose updated variables cannot be evaluated (so a saved spec would not load): why; else None."""
    if spec.kind != "graph" or trace.output_after is not None:
        return None
    from bpcalc.engine.graph import outside_domain
    from bpcalc.i18n import _
    from bpcalc.spec.expr import parse_graph

    return outside_domain(parse_graph(spec), trace.new_values) or _("it cannot be evaluated")
