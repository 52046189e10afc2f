"""`bpcalc explain`: the chain rule written out per parameter, or a function's derivative derived step by step."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bpcalc import i18n
from bpcalc.cli import common as c
from bpcalc.cli import names
from bpcalc.cli.app import app
from bpcalc.cli.helptext import dynamic
from bpcalc.i18n import N_, Msg, _

# the registry's activations and losses (cli/names.py: generated from it, so `--help` starts without numpy)
FUNCTIONS_HELP = ", ".join((*names.ACTIVATIONS, *names.LOSSES, "chain-rule"))

TopicArg = Annotated[str | None, typer.Argument(
    metavar="SPEC|FUNCTION",
    help=dynamic(Msg("A spec file, `-` for stdin, a bundled example's name, or a function whose derivative to derive: "
                     "{functions}. A function name means the function unless a file of that name exists. Default: the "
                     "bundled `simple`.", functions=FUNCTIONS_HELP)), show_default=False)]
ParamOpt = Annotated[list[str] | None, typer.Option(
    "--param", "-P", metavar="NAME",
    help=N_("Explain only this parameter (repeatable): a display name (w_11^(3), b_1^(2)), the spec's label "
    "(W1), a JSON path (layers.1.weights.0.0), W^(l) or b^(l) for a whole layer, or a name in the --notation "
    "shown (w5 under mazur); a recurrent, attention or kernel weight as its tables name it (W_hh[1,2]), with its "
    "layer where stacked layers share the name (W_hh^(3)[1,2]); for graphs a variable or node name."),
    show_default=False)]


@app.command(epilog="Examples:\n\n  bpcalc explain\n\n  bpcalc explain two_layer --param 'w_11^(3)'\n\n"
             "  bpcalc explain two_layer --param layers.0.weights.0.0 --format markdown\n\n"
             "  bpcalc explain composite\n\n  bpcalc explain sigmoid\n\n  bpcalc explain softmax --format latex\n\n"
             "  bpcalc explain chain-rule --format markdown -o chain.md\n\n"
             "  bpcalc explain hidden --round 2 --format json\n\n  bpcalc explain mazur --param w5\n\n"
             "  bpcalc explain xor --view matrix --format markdown")
@c.guard
def explain(
    topic: TopicArg = None,
    param: ParamOpt = None,
    format: c.FormatOpt = None,
    precision: c.PrecisionOpt = 4,
    learning_rate: c.LearningRateOpt = None,
    output: c.OutputOpt = None,
    round: c.RoundOpt = None,
    full: c.FullOpt = False,
    quiet: c.QuietOpt = False,
    standalone: c.StandaloneOpt = False,
    lang: c.LangOpt = None,
    notation: c.NotationOpt = None,
    view: c.ViewOpt = "neuron",
) -> None:
    """Derivations: for each parameter the chain rule in the documents' notation, each factor's formula, the
    numbers, the product (hidden layers: the sum over the paths through the next layer; graphs: every path back
    to each variable, node by node). With a function name: its derivative derived line by line."""
    from bpcalc.errors import SpecError
    from bpcalc.explain.functions import canonical, derivation
    from bpcalc.i18n import _

    fmt = c.pick_format(format, output)
    c.check_output_path(output)
    name = canonical(topic) if topic is not None else None
    if name is not None and not Path(topic).exists():
        if param:
            raise SpecError(_("--param applies to a spec, not to the derivation of {name}").format(name=name),
                            hint=_("drop --param, or name a spec: bpcalc explain SPEC --param {param_0}").format(
                                     param_0=param[0]))
        fd = derivation(name)
        example = _chain_example(learning_rate, round, precision) if fd.kind == "rule" else None
        from bpcalc.render.explain_report import function_dict, function_doc

        c.emit(function_doc(fd, example), fmt, output, lambda: function_dict(fd, example), quiet=quiet,
               standalone=standalone)
        return

    from bpcalc import run as run_step
    from bpcalc.explain.chain import explain as derive
    from bpcalc.render.explain_report import explain_dict, explain_doc

    try:
        s = c.open_spec_for(topic, output)
    except SpecError as exc:
        raise _with_function_hint(exc, topic) from None
    c.apply_notation(s, notation)
    c.check_view(view, s)
    if view == "matrix" and param:
        raise SpecError(_("--param picks single parameters; the matrix view derives whole layers"),
                        hint=_("drop --param, or use --view neuron"))
    trace = run_step(s, learning_rate=learning_rate, round_to=c.rounding(round, None, s))  # (the spec's round_style)
    c.refuse_non_finite(trace)
    ex = derive(trace, precision, param, full)
    if view == "matrix":
        from bpcalc.render.matrix_report import matrix_explain

        doc = matrix_explain(trace, precision, full)
    else:
        doc = explain_doc(ex)
    # JSON is the layer notation's, in English, whatever the notation and language shown, so a script reads the
    # same keys and symbols (the words an explanation holds are written in the language of the moment)
    data = explain_dict(ex if (getattr(trace, "notation", None) or "layer") == "layer" and i18n.language() == "en"
                        else _in_english(lambda: derive(trace, precision, param, full, notation="layer")))
    results = None
    if getattr(s, "expected", None):  # check my work: the ✓/✗ table after the derivations, exit 1 on any ✗
        from bpcalc.render.expected_report import check_and_attach
        from bpcalc.render.jsonr import trace_to_dict

        results = check_and_attach(s, trace_to_dict(trace), doc, precision)
        data["expected"] = [r.as_dict() for r in results]
    c.emit(doc, fmt, output, lambda: data, quiet=quiet, protect=[s.source], standalone=standalone)
    if results is not None:
        from bpcalc.explain.expected import exit_code

        raise typer.Exit(exit_code(results))


def _in_english(make):
    """make(), with English as the language while it runs."""
    lang = i18n.language()
    i18n.set_language("en")
    try:
        return make()
    finally:
        i18n.set_language(lang)


def _with_function_hint(exc, topic: str | None):
    """`explain sigmoidd`: a name that is neither a file nor a bundled example may be a misspelt function."""
    import difflib

    from bpcalc.explain.functions import FUNCTION_NAMES

    if topic is None or not str(exc.message).startswith(_("no such file or bundled example: {arg}").split("{")[0]):
        return exc
    close = difflib.get_close_matches(topic.strip().lower(), list(FUNCTION_NAMES), n=1, cutoff=0.6)
    if close:
        exc.hint = _("did you mean `bpcalc explain {name}` (its derivative)? ").format(name=close[0]) + (
            exc.hint or "")
    return exc


def _chain_example(learning_rate, round_to, precision):
    """The composite-function example's y = (e^(x²))² at x = 0.5, run and derived: the chain rule's worked example."""
    from bpcalc import run as run_step
    from bpcalc.explain.chain import explain as derive

    ex = derive(run_step("composite", learning_rate=learning_rate, round_to=round_to), precision)
    ex.title = Msg("Worked example (the composite-function example): {title}", title=ex.title)
    return ex
