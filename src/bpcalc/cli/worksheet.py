"""`bpcalc worksheet`: `run`'s tables with the givens filled in and every quantity to find blank; the answer key;
a template spec whose `expected:` the student fills in and checks with `bpcalc run`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bpcalc.cli import common as c
from bpcalc.cli import lms
from bpcalc.cli.app import app
from bpcalc.i18n import _

BlankOpt = Annotated[str | None, typer.Option(
    "--blank", metavar="SECTIONS", show_default=False,
    help=_("The sections left blank, joined by commas: forward, loss, backward (δ and gradients), update "
           "(the update and the loss after it). Default: all."))]
AnswersOpt = Annotated[bool, typer.Option("--answers", help=_("Print the answer key: the sheet filled in (rounded as "
                                                              "--round says, the exact value beside where they "
                                                              "differ)."))]
TemplateOpt = Annotated[Path | None, typer.Option(
    "--template", metavar="FILE", dir_okay=False, callback=c.save_not_dash,
    help=_("Also write the spec with an empty `expected:` entry for every blank, to fill in and check with "
           "`bpcalc run FILE`."))]
ExplainOpt = Annotated[bool, typer.Option("--explain", help=_("Add the chain-rule derivations (as `bpcalc explain` "
                                                              "writes them), their numbers blank too."))]
SheetEpochsOpt = Annotated[int, typer.Option("--epochs", "-e", min=1, max=20, metavar="N",
                                             help=_("Steps in a row, each from the last one's results."))]
SheetRoundOpt = Annotated[int | None, typer.Option(
    "--round", metavar="N", min=0, max=12,
    help=_("The rounding the sheet expects: intermediates rounded to N decimals as they are computed, as on "
           "paper; the key is that rounded track."))]


@app.command(epilog="Examples:\n\n  bpcalc worksheet two_layer\n\n  bpcalc worksheet hidden --round 2 --answers\n\n"
             "  bpcalc worksheet two_layer --blank backward,update --format markdown -o sheet.md\n\n"
             "  bpcalc worksheet simple --template mine.yaml   (fill it in, then: bpcalc run mine.yaml)\n\n"
             "  bpcalc worksheet two_layer --explain --format latex --standalone -o sheet.tex\n\n"
             "  bpcalc worksheet xor --epochs 2 --round 3\n\n"
             "  bpcalc worksheet hidden --round 2 --format moodle -o quiz.xml   (also qti -o quiz.zip, gift)")
@c.guard
def worksheet(
    spec: c.SpecArg = None,
    blank: BlankOpt = None,
    round: SheetRoundOpt = None,
    round_style: c.RoundStyleOpt = None,
    answers: AnswersOpt = False,
    template: TemplateOpt = None,
    explain: ExplainOpt = False,
    epochs: SheetEpochsOpt = 1,
    format: lms.SheetFormatOpt = None,
    tolerance: lms.ToleranceOpt = None,
    split: lms.SplitOpt = False,
    precision: c.PrecisionOpt = 4,
    learning_rate: c.LearningRateOpt = None,
    output: c.OutputOpt = None,
    quiet: c.QuietOpt = False,
    standalone: c.StandaloneOpt = False,
) -> None:
    """A worksheet: the step's tables with the givens (inputs, targets, weights, biases, α) filled in and every
    quantity to find blank (____; a ruled box in LaTeX); --answers prints the key."""
    from bpcalc.explain.worksheet import parse_sections

    c.rounding(round, round_style)  # an unknown style refused before any work
    quiz_format = lms.chosen(format, output)
    if quiz_format is not None:
        _quiz(spec, quiz_format, parse_sections(blank), (round, round_style), template, epochs, explain, precision,
              learning_rate, output, quiet, tolerance, split)
        return
    fmt = c.pick_format(format, output)
    sections = parse_sections(blank)
    s = c.open_spec_for(spec, output, template)
    sheet = build(s, sections, c.rounding(round, round_style, s), answers, explain, epochs, precision, learning_rate)
    if template is not None:
        c.deliver(sheet.template(template), template, protect=[s.source])
    c.emit(sheet.doc, fmt, output, sheet.data, quiet=quiet, protect=[s.source], standalone=standalone)


def _quiz(spec, fmt: str, sections, round_to, template, epochs, explain, precision, learning_rate, output, quiet,
          tolerance, split) -> None:
    """The worksheet as graded questions for a quiz system (Moodle XML, Canvas QTI, GIFT)."""
    from bpcalc.render.lms.questions import parse_tolerance, quiz_sheet

    lms.refuse_with(epochs, explain)
    tol = parse_tolerance(tolerance)
    s = c.open_spec_for(spec, output, template)
    sheet = build(s, sections, c.rounding(*round_to, s), precision=precision, learning_rate=learning_rate)
    if template is not None:
        c.deliver(sheet.template(template), template, protect=[s.source])
    qs = quiz_sheet(sheet, "", tol)
    lms.deliver(lms.Quiz(qs.title, [qs]), fmt, output, split, quiet, protect=[s.source])


class Sheet:
    """A worksheet (or key) built: its Doc, its JSON data, and its template spec."""

    def __init__(self, spec, traces, sections, answers, doc):
        self.spec, self.traces, self.sections, self.answers, self.doc = spec, traces, sections, answers, doc

    def data(self) -> dict:
        from bpcalc.engine.trace import trace_to_dict
        from bpcalc.explain.worksheet import blanks, section_of

        out = {"kind": "worksheet", "answers": self.answers, "round": self.traces[0].round_to,
               "sections": sorted(self.sections), "epochs": []}
        for e, tr in enumerate(self.traces, 1):
            d = trace_to_dict(tr)
            items = []
            for q in blanks(d, tr, self.sections):
                item = {"key": q.key, "name": q.name, "section": section_of(q, d)}
                if self.answers:
                    item["value"] = q.value
                items.append(item)
            out["epochs"].append({"epoch": e, "given": _given(d), "blanks": items,
                                  **({"run": d} if self.answers else {})})
        return out

    def template(self, dest: Path | None = None) -> str:
        """The spec with an empty `expected:` entry for every blank of the first epoch."""
        from bpcalc.engine.trace import trace_to_dict
        from bpcalc.explain.worksheet import blanks, template_text

        tr = self.traces[0]
        qs = blanks(trace_to_dict(tr), tr, self.sections)
        from bpcalc.engine.rounding import style_of

        rnd = f" --round {tr.round_to}" if tr.round_to is not None else ""
        rnd += f" --round-style {style_of(tr.round_to)}" if style_of(tr.round_to) != "calculator" else ""
        header = _("worksheet template: fill in every value under expected:, then check with `bpcalc run "
                   "FILE{round}`").format(round=rnd)
        return template_text(self.spec, qs, header, dest)


def _given(d: dict) -> dict:
    """The numbers a sheet gives (from the step's JSON dict)."""
    if d["kind"] == "graph":
        return {"variables": {k: v["value"] for k, v in d["variables"].items()}, "constants": d["constants"],
                "target": d["target"], "learning_rate": d["learning_rate"]}
    return {"inputs": d["inputs"], "targets": d["targets"], "learning_rate": d["learning_rate"],
            "layers": [{"weights": layer["weights"], "biases": layer["biases"]} for layer in d["layers"]]}


def build(spec, sections, round_to: int | None = None, answers: bool = False, explain: bool = False,
          epochs: int = 1, precision: int = 4, learning_rate: float | None = None) -> Sheet:
    """Run the step(s) and lay out the worksheet or its key."""
    from bpcalc.explain.departures import epochs_by_hand
    from bpcalc.render.doc import Doc
    from bpcalc.render.worksheet import worksheet_doc

    traces = epochs_by_hand(spec, epochs, learning_rate, round_to)
    for tr in traces:
        c.refuse_non_finite(tr)
    doc = Doc()
    for e, tr in enumerate(traces, 1):
        ex = None
        if explain:
            from bpcalc.explain.chain import explain as derive

            ex = derive(tr, precision)
        exact = tr.rounding.exact if tr.rounding is not None else None
        doc.extend(worksheet_doc(tr, precision, sections, answers, exact, ex, epoch=e if epochs > 1 else None))
    return Sheet(spec, traces, sections, answers, doc)
