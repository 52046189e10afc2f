"""`bpcalc new`: a problem with hand-friendly numbers from a seed, or a class set of them with worksheets and keys."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bpcalc.cli import common as c
from bpcalc.cli import lms, progress
from bpcalc.cli.app import app
from bpcalc.i18n import _

ShapeOpt = Annotated[str, typer.Option("--shape", metavar="SIZES",
                                       help=_("Units per layer, inputs first, joined by `-` (2-2-1); or a "
                                              "convolutional network: the input C×H×W, then its layers joined by "
                                              "`:` -- convKxK (one kernel), convNxKxK (N kernels), maxpoolS, "
                                              "avgpoolS, then dense widths, a flatten implied before the first "
                                              "(1x4x4:conv2x2:maxpool2:2)."))]
ActivationOpt = Annotated[str, typer.Option("--activation", metavar="NAME",
                                            help=_("The activation of every layer."))]
LossOpt = Annotated[str, typer.Option("--loss", metavar="NAME", help=_("The loss."))]
DecimalsOpt = Annotated[int, typer.Option("--decimals", min=0, max=4, metavar="D",
                                          help=_("Decimals of every given number (inputs, targets, weights, "
                                                 "biases, learning rate)."))]
SeedOpt = Annotated[int, typer.Option("--seed", min=0, max=2**63 - 1, metavar="N",
                                      help=_("The seed: the same seed gives the same problem, byte for byte."))]
GraphOpt = Annotated[bool, typer.Option("--graph", help=_("An expression-graph problem instead: 2 to 4 variables, "
                                                          "+ and ×, one function, a target."))]
NewRoundOpt = Annotated[int | None, typer.Option(
    "--round", metavar="N", min=0, max=12, show_default=False,
    help=_("The rounding the sheets expect (hand rounding to N decimals); gradients must survive it. "
           "Default: a class set's sheets round every result to 4 decimals (as --round 4 --round-style every), its "
           "quiz files are exact; gradients checked at 4 decimals."))]
VariantsOpt = Annotated[int | None, typer.Option(
    "--variants", min=1, max=500, metavar="N", show_default=False,
    help=_("Write N different problems to the folder --output names, each with its worksheet and answer key "
           "(a class set)."))]
NewOutputOpt = Annotated[Path | None, typer.Option(
    "--output", "-o", metavar="FILE|DIR", show_default=False,
    help=_("Write the spec to FILE instead of stdout; with --variants, the folder for the class set."))]
SheetFormatOpt = Annotated[str, typer.Option(
    "--format", "-f", metavar="FORMAT",
    help=_("With --variants: the format of the worksheets and keys (markdown, text, latex, html), or the whole "
           "class set as one file of graded questions for a quiz system (moodle, qti, gift)."))]


@app.command(epilog="Examples:\n\n  bpcalc new --shape 2-2-2 --seed 7\n\n"
             "  bpcalc new --shape 2-2-1 --activation tanh --decimals 2 --seed 3 -o p3.yaml\n\n"
             "  bpcalc new --shape 1x5x5:conv2x2:maxpool2:2 --seed 4\n\n"
             "  bpcalc new --graph --seed 11\n\n"
             "  bpcalc new --shape 2-2-1 --seed 2024 --variants 30 --output class/   (30 problems, sheets, keys)\n\n"
             "  bpcalc new --seed 2024 --round 2 --variants 30 -o class/ --format qti")
@c.guard
def new(
    shape: ShapeOpt = "2-2-1",
    activation: ActivationOpt = "sigmoid",
    loss: LossOpt = "half_sse",
    decimals: DecimalsOpt = 1,
    seed: SeedOpt = 1,
    graph: GraphOpt = False,
    round: NewRoundOpt = None,
    round_style: c.RoundStyleOpt = None,
    variants: VariantsOpt = None,
    output: NewOutputOpt = None,
    format: SheetFormatOpt = "markdown",
    tolerance: lms.ToleranceOpt = None,
    split: lms.SplitOpt = False,
    standalone: c.StandaloneOpt = False,
    quiet: c.QuietOpt = False,
) -> None:
    """A new problem with hand-friendly numbers: inputs, targets, weights, biases and learning rate with at most
    --decimals decimals, drawn from --seed and kept only when interesting (no saturated unit, no dead ReLU, every
    gradient survives the sheet's rounding, the update visibly lowers the loss, no tie in any max-pool window)."""
    from bpcalc.engine.problems import new_problem
    from bpcalc.errors import SpecError

    round = c.rounding(round, round_style)
    if variants is None:
        out = None if output is None or str(output) == "-" else output
        if out is not None:
            c.refuse_foreign_output(out, _("a spec (.yaml)"))
            c.check_output_path(out)
        p = new_problem(seed, shape, activation, loss, decimals, graph, round)
        if quiet and out is None:
            return
        c.deliver(p.text, out)
        return
    if output is None or str(output) == "-":
        raise SpecError(_("--variants writes a folder of files: name it with --output DIR"))
    _class_set(variants, output, seed, shape, activation, loss, decimals, graph, round, format.lower(), standalone,
               quiet, tolerance, split)


SUFFIX = {"markdown": "md", "text": "txt", "latex": "tex", "html": "html"}


def _class_set(n: int, folder: Path, seed: int, shape: str, activation: str, loss: str, decimals: int, graph: bool,
               round_to: int | None, fmt: str, standalone: bool, quiet: bool, tolerance: str | None = None,
               split: bool = False) -> None:
    """N different problems (variant i drawn from the seed sequence (seed, i)), each with sheet and key; or, in a
    quiz format, each with its template and all of them in one quiz file."""
    from bpcalc.errors import SpecError
    from bpcalc.render.doc import Doc
    from bpcalc.spec.save import show_path

    quiz = tol = None
    if fmt in lms.QUIZ_FORMATS:
        from bpcalc.render.lms.questions import parse_tolerance

        tol = parse_tolerance(tolerance)
        quiz = lms.Quiz(_("bpcalc class set (seed {seed})").format(seed=seed))
    elif fmt not in SUFFIX:
        raise SpecError(_("--format {fmt}: a class set is written as markdown, text, latex or html, or for a quiz "
                          "system as moodle, qti or gift").format(fmt=fmt))
    if round_to is None and quiz is None:  # a class set's sheets: every result written to the sheet's decimals
        from bpcalc.engine.problems import SHEET_DECIMALS
        from bpcalc.engine.rounding import Written

        round_to = Written(SHEET_DECIMALS)
    if folder.exists() and not folder.is_dir():
        raise SpecError(_("--output {path}: not a folder").format(path=show_path(folder)))
    seen: set[str] = set()
    sheets, keys = Doc(), Doc()
    files: list[tuple[str, str]] = []  # every file made before the folder is: a refusal (exit 2) writes nothing
    bar = progress.Bar(_("class set"), n, delay=progress.DELAY) if progress.wanted(quiet, output=folder) else None
    try:
        _draw(n, bar, files, (sheets, keys), quiz, seen, folder, seed, shape, activation, loss, decimals, graph,
              round_to, fmt, standalone, tol)
    finally:
        if bar is not None:
            bar.close()
    _finish(n, files, sheets, keys, quiz, folder, fmt, split, quiet, seed)


def _draw(n: int, bar: progress.Bar | None, files: list, whole: tuple, quiz, seen: set, folder: Path, seed: int,
          shape: str, activation: str, loss: str, decimals: int, graph: bool, round_to: int | None, fmt: str,
          standalone: bool, tol) -> None:
    """Draw the class set's N problems and render their files into `files` (nothing written yet), with a bar."""
    from bpcalc.cli import formats
    from bpcalc.cli.worksheet import build
    from bpcalc.engine.problems import new_problem
    from bpcalc.explain.worksheet import SECTIONS
    from bpcalc.render.doc import Heading, NameLine, PageBreak
    from bpcalc.spec.loader import parse_spec

    sheets, keys = whole
    if quiz is not None:
        from bpcalc.render.lms.questions import quiz_sheet
    width = len(str(n))
    for i in range(1, n + 1):
        if bar is not None:
            bar.update(i - 1, _("problem {i} of {n}").format(i=i, n=n))
        p = new_problem((seed, i), shape, activation, loss, decimals, graph, round_to, avoid=frozenset(seen))
        seen.add(p.text)
        tag = f"{i:0{width}d}"
        spec = parse_spec(p.text, source=str(folder / f"problem-{tag}.yaml"))
        if quiz is not None:
            sheet = build(spec, frozenset(SECTIONS), round_to)
            quiz.sheets.append(quiz_sheet(sheet, tag, tol))
            files += [(f"problem-{tag}.yaml", p.text),
                      (f"check-{tag}.yaml", sheet.template(folder / f"check-{tag}.yaml"))]
            continue
        render = formats.BY_NAME[fmt].render
        sheet = build(spec, frozenset(SECTIONS), round_to)
        key = build(spec, frozenset(SECTIONS), round_to, answers=True)
        label = _("Variant {tag}").format(tag=tag)
        for whole, part in ((sheets, sheet), (keys, key)):
            if whole.blocks:
                whole.blocks.append(PageBreak())
            whole.blocks.append(NameLine(label) if part is sheet else Heading(label, 3))
            whole.extend(part.doc)
        for name, content in ((f"problem-{tag}.yaml", p.text),
                              (f"worksheet-{tag}.{SUFFIX[fmt]}", render(sheet.doc, None, standalone=standalone)),
                              (f"answers-{tag}.{SUFFIX[fmt]}", render(key.doc, None, standalone=standalone)),
                              (f"check-{tag}.yaml", sheet.template(folder / f"check-{tag}.yaml"))):
            files.append((name, content))


def _finish(n: int, files: list, sheets, keys, quiz, folder: Path, fmt: str, split: bool, quiet: bool,
            seed: int) -> None:
    """Write the class set's files (the folder made only now) and say what was written."""
    from bpcalc.cli import formats
    from bpcalc.spec.save import show_path

    if quiz is None:  # the class's two documents: every sheet (a name line each, a new page each), every key
        render = formats.BY_NAME[fmt].render
        files += [(f"worksheets.{SUFFIX[fmt]}", render(sheets, None, standalone=True)),
                  (f"answers.{SUFFIX[fmt]}", render(keys, None, standalone=True))]
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files:
        c.deliver(content, folder / name)
    if quiz is not None:
        name = "quiz" + formats.BY_FAMILY[("lms", fmt)].suffixes[0]
        lms.deliver(quiz, fmt, folder / name, split)
        if not quiet:
            c.write_stdout(_("{n} problems in {folder}: problem-NN.yaml, check-NN.yaml (the templates to fill in "
                             "and grade), and {name}, all of them as graded questions (variant i is drawn from seed "
                             "{seed} and i)").format(n=n, folder=show_path(folder), name=name, seed=seed) + "\n")
        return
    if not quiet:
        c.write_stdout(_("{n} problems in {folder}: problem-NN.yaml, worksheet-NN.{ext}, answers-NN.{ext}, "
                         "check-NN.yaml, and worksheets.{ext} and answers.{ext}, every sheet and every key in one "
                         "document to print (variant i is drawn from seed {seed} and i)").format(
                             n=n, folder=show_path(folder), ext=SUFFIX[fmt], seed=seed) + "\n")
