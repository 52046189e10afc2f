"""The quiz exports of `worksheet` and `new --variants`: --format moodle|qti|gift (or an --output ending in .xml,
.zip, .gift), --tolerance, --split. The questions come from render/lms; this module only picks and delivers."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import typer

from bpcalc.cli import formats
from bpcalc.cli.helptext import dynamic
from bpcalc.i18n import Msg, _

QUIZ_FORMATS = tuple(formats.names("lms"))


def _complete(incomplete: str) -> list[str]:
    return [n for n in formats.names() + formats.names("lms") if n.startswith((incomplete or "").lower())]


SheetFormatOpt = Annotated[str | None, typer.Option(
    "--format", "-f", metavar="FORMAT", autocompletion=_complete, show_default=False,
    help=dynamic(Msg("{choices}; graded questions for a quiz system: {quiz}. Default: rich on a terminal, text when "
                     "piped, or from the --output suffix (.xml Moodle, .zip QTI, .gift GIFT).",
                     choices=formats.choices_help(), quiz=formats.choices_help("lms"))))]
ToleranceOpt = Annotated[str | None, typer.Option(
    "--tolerance", metavar="AMOUNT", show_default=False,
    help=_("With --format moodle, qti or gift: the tolerance of every answer, an amount (0.005) or a percentage of "
           "the answer (5%). Default: half a unit in the last decimal asked (the --round decimals, else 4)."))]
SplitOpt = Annotated[bool, typer.Option(
    "--split", help=_("With --format moodle: one Numerical question per quantity instead of one Cloze question "
                      "per worksheet."))]


@dataclass
class Quiz:
    """What a quiz file holds: its title (the category, the assessment's title) and its sheets' questions."""

    title: str
    sheets: list = field(default_factory=list)


def chosen(fmt: str | None, output: Path | None) -> str | None:
    """The quiz format --format names, or the --output suffix picks when --format is not given; else None."""
    if fmt is not None:
        return fmt.lower() if fmt.lower() in QUIZ_FORMATS else None
    if output is not None and str(output) != "-":
        return formats.by_suffix(output, "lms")
    return None


def refuse_with(epochs: int, explain: bool) -> None:
    """The quiz formats ask one step's quantities: not several epochs, not the derivations."""
    from bpcalc.errors import SpecError

    if epochs > 1 or explain:
        raise SpecError(_("--format moodle, qti and gift ask the quantities of one step: leave out {option}").format(
            option="--epochs" if epochs > 1 else "--explain"))


def deliver(quiz: Quiz, fmt: str, output: Path | None, split: bool = False, quiet: bool = False,
            protect: list | None = None) -> None:
    """Write the quiz file (QTI, a .zip, only to a file)."""
    from bpcalc.cli import common as c
    from bpcalc.errors import SpecError

    if fmt == "qti" and output is None:
        raise SpecError(_("--format qti writes a .zip package: name it with --output FILE.zip"))
    if split and fmt != "moodle":
        raise SpecError(_("--split is for --format moodle (QTI and GIFT ask each quantity by itself already)"))
    content = formats.BY_FAMILY[("lms", fmt)].render(quiz, None, split=split)
    if quiet and output is None:
        return
    c.deliver(content, output, protect)
