"""`bpcalc step`: train over epochs (the step of `run`, repeated), a per-epoch summary, a loss curve."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bpcalc.cli import common as c
from bpcalc.cli import progress
from bpcalc.cli.app import app
from bpcalc.i18n import N_, _

EXIT_INTERRUPTED = 130  # as a shell reports Ctrl-C (SIGTERM: 143, SIGHUP: 129; see common.interrupted_by)

def _epochs_in_range(value: int) -> int:
    """At most 2**63 − 1 epochs, as a saved spec's training_state counts them (larger: a message, not numpy's)."""

    if value > 2**63 - 1:
        raise typer.BadParameter(_("at most {most:,} epochs (2**63 − 1)").format(most=2**63 - 1))
    return value


EpochsOpt = Annotated[int, typer.Option("--epochs", "-e", min=1, metavar="N", callback=_epochs_in_range,
                                        help=N_("Epochs to train."))]
EveryOpt = Annotated[int | None, typer.Option(
    "--every", "-k", min=1, metavar="K", show_default=False,
    help=N_("Show every K-th epoch in the table (and JSON). Default: all in JSON; about 20 rows in the table."))]
TraceOpt = Annotated[bool, typer.Option("--trace", help=N_("Also print each epoch's full `run` tables (with --every: "
                                                           "every K-th epoch's). Keeps every traced step in memory."))]
StepSaveOpt = Annotated[Path | None, typer.Option(
    "--save", metavar="FILE", dir_okay=False, callback=c.save_not_dash,
    help=N_("Write the trained spec (parameters and optimizer state; resumes exactly). Never over SPEC."))]
PlotOpt = Annotated[Path | None, typer.Option(
    "--plot", metavar="FILE", dir_okay=False,
    help=N_("Draw the loss curve to FILE.svg, .png or .pdf (PNG, PDF: pip install matplotlib)."))]
PlotScaleOpt = Annotated[str, typer.Option(
    "--plot-scale", metavar="SCALE", autocompletion=lambda incomplete: [
        s for s in ("auto", "linear", "log") if s.startswith(incomplete or "")],
    help=N_("The --plot's loss axis: linear (from zero, so a plateau stays flat), log, or auto (log when the loss "
            "spans more than a factor of 100)."))]


StepRoundOpt = Annotated[int | None, typer.Option(
    "--round", metavar="N", min=0, max=12, show_default=False,
    help=N_("Several steps by hand: every epoch on the hand-rounded track (N decimals, as on paper), each from the "
         "last one's rounded results; with --trace each epoch's full tables. Full batch; at most 1000 epochs."))]


def _by_hand(s, epochs: int, round_to: int, tables: bool, fmt: str, precision: int, learning_rate, output, save,
             full: bool, quiet: bool, standalone: bool, plot: Path | None = None, plot_scale: str = "auto") -> None:
    """`step --round N`: the epochs as a person does them on paper, each epoch's tables with --trace."""
    from bpcalc.errors import SpecError
    from bpcalc.explain.departures import epochs_by_hand

    if epochs > 1000:
        raise SpecError(_("--round: at most 1000 epochs by hand (got {n})").format(n=epochs))
    if getattr(s, "batch_size", None) and s.batch_size < len(s.inputs):
        raise SpecError(_("--round does each epoch as one full step; the spec's batch_size {b} splits it"
                          ).format(b=s.batch_size), path="batch_size", hint=_("remove batch_size, or drop --round"))
    bar = progress.Bar(_("epochs by hand"), 2 * epochs, delay=progress.DELAY) if (
        not quiet and _stderr_tty()) else None
    done = [0]

    def stepped() -> None:
        done[0] += 1
        bar.update(done[0])

    try:
        traces = epochs_by_hand(s, epochs, learning_rate, round_to, stepped if bar else None)
    finally:
        if bar:
            bar.close()
    for tr in traces:
        c.refuse_non_finite(tr)

    def data() -> dict:
        from bpcalc.render.jsonr import trace_to_dict

        return {"kind": "epochs_by_hand", "round": round_to, "epochs": [
            {"epoch": e, "run": trace_to_dict(tr)} for e, tr in enumerate(traces, 1)]}

    from bpcalc.render.worksheet import epochs_doc

    doc = None if fmt == "json" else epochs_doc(traces, precision, full, tables)
    if save is not None:
        from bpcalc.spec.save import trace_to_spec_text

        c.deliver(trace_to_spec_text(s, traces[-1], save), save, protect=[s.source])
    if plot is not None:
        from bpcalc.render.plot import loss_curve

        c.deliver(loss_curve(_curve_by_hand(s, traces), plot.suffix.lower()[1:], plot_scale.lower()), plot,
                  protect=[s.source])
    c.emit(doc, fmt, output, data, quiet=quiet, protect=[s.source], standalone=standalone)


def _curve_by_hand(s, traces: list):
    """The loss curve of the epochs done by hand (each epoch's loss before its update, on the rounded track), in
    the shape the plot reads from a training run."""
    from types import SimpleNamespace

    import numpy as np

    losses = np.array([float(tr.loss) for tr in traces], dtype=np.float64)
    return SimpleNamespace(kind=s.kind, name=s.name, target=getattr(s, "target", None),
                           output=getattr(s, "output", None), losses=losses, curve_losses=losses,
                           epoch_numbers=np.arange(1, len(losses) + 1))


@app.command(epilog="Examples:\n\n  bpcalc step --epochs 10\n\n  bpcalc step two_layer --epochs 10000 --every 1000\n\n"
             "  bpcalc step xor --epochs 5000 --format json > curve.json\n\n"
             "  bpcalc step my.yaml --epochs 5 --save my_5.yaml   (then: bpcalc step my_5.yaml --epochs 5)\n\n"
             "  bpcalc step two_layer --epochs 3 --trace\n\n  bpcalc step hidden --epochs 2 --trace --round 2\n\n"
             "  bpcalc step xor --epochs 2000 --plot loss.svg")
@c.guard
def step(
    spec: c.SpecArg = None,
    epochs: EpochsOpt = 10,
    every: EveryOpt = None,
    trace: TraceOpt = False,
    format: c.FormatOpt = None,
    precision: c.PrecisionOpt = 4,
    learning_rate: c.LearningRateOpt = None,
    output: c.OutputOpt = None,
    save: StepSaveOpt = None,
    plot: PlotOpt = None,
    plot_scale: PlotScaleOpt = "auto",
    round: StepRoundOpt = None,
    full: c.FullOpt = False,
    quiet: c.QuietOpt = False,
    standalone: c.StandaloneOpt = False,
    notation: c.NotationOpt = None,
    lang: c.LangOpt = None,
) -> None:
    """Train: repeat `run`'s step for N epochs (minibatches, shuffling, sgd/momentum/adam as the spec says) and
    show each epoch's loss (before its update), its change, small networks' parameters, a loss curve and the final
    loss. Exit 1 if training diverges (the table so far is still shown, --save writes the last finite
    parameters); Ctrl-C stops cleanly the same way (exit 130)."""
    from bpcalc.engine.training import train
    from bpcalc.errors import EXIT_CHECK_FAILED

    fmt = c.pick_format(format, output)
    if plot is not None:
        _check_plot(plot, plot_scale)
    s = c.open_spec_for(spec, save, output, plot)  # before training, not after it
    c.apply_notation(s, notation)
    if round is not None:
        _by_hand(s, epochs, c.rounding(round, None, s), trace, fmt, precision, learning_rate, output, save, full,
                 quiet, standalone, plot, plot_scale)
        return
    shown_every = every or (1 if fmt == "json" else _auto(epochs))  # rows of the table / JSON epochs
    param_every = every or _auto(epochs)  # epochs whose parameters are kept (small networks): the table's
    progress = _Progress(epochs) if (not quiet and _stderr_tty()) else None
    try:
        res = train(s, epochs, learning_rate=learning_rate, every=param_every, keep_trace=trace,
                    on_epoch=progress.epoch if progress else None, on_batch=progress.batch if progress else None,
                    losses_every=1 if plot is not None else shown_every,  # only the losses shown are kept
                    names=(lambda: _param_names(s)) if s.kind == "network" else None)
    finally:
        if progress:
            progress.close()
    if res.param_names and s.kind == "network" and (s.notation or "layer") != "layer":
        res.shown_names = _param_names(s, None)  # tables in the notation shown; JSON keeps the layer notation's

    from bpcalc.render.train_report import train_report, train_to_dict

    def data():
        d = train_to_dict(res, shown_every)
        if trace:
            d["steps"] = _steps_json(res)
        return d

    traces_doc = _traces_doc(res, precision) if trace and fmt != "json" else None
    doc = None if fmt == "json" else train_report(res, precision, shown_every, traces_doc)
    if save is not None:  # the files before stdout, so a closed pipe (`| head`) or a full disk cannot lose them
        from bpcalc.spec.save import trained_spec_text

        c.deliver_spec(lambda sidecars: trained_spec_text(s, res, save, sidecars), save, [s.source])
    if plot is not None and len(res.losses):
        from bpcalc.render.plot import loss_curve

        c.deliver(loss_curve(res, plot.suffix.lower()[1:], plot_scale.lower()), plot, protect=[s.source])
    c.emit(doc, fmt, output, data, quiet=quiet, protect=[s.source], standalone=standalone)
    if res.diverged:
        c.err(_("error: training diverged at epoch {diverged_epoch}: {diverged}").format(
                  diverged_epoch=res.diverged_epoch, diverged=_(res.diverged))
              + (_("; --save wrote the parameters after epoch {last_epoch}").format(last_epoch=res.last_epoch)
                 if save is not None else ""))
        c.err(_("  hint: try a smaller learning rate, e.g. --learning-rate {res_learning_rate_10:g}").format(
                  res_learning_rate_10=res.learning_rate / 10))
        raise typer.Exit(EXIT_CHECK_FAILED)
    if res.interrupted:  # Ctrl-C, SIGTERM or SIGHUP: exit 130, 143 or 129, as a shell reports the signal
        what, code = c.interrupted_by()
        c.err(_("{what} after epoch {last_epoch}").format(what=_(what), last_epoch=res.last_epoch)
              + (_("; --save wrote {save}").format(save=save) if save is not None else ""))
        raise typer.Exit(code)


def _param_names(spec, profile: str | None = "layer") -> list[str]:
    """The display names of a small network's parameters (imported only when a table shows them)."""
    from bpcalc.explain.notation import param_names

    return param_names(spec, profile)


def _auto(epochs: int) -> int:
    from bpcalc.render.train_report import auto_every

    return auto_every(epochs)


def _stderr_tty() -> bool:
    return progress.stderr_tty()


def _check_plot(plot: Path, scale: str) -> None:
    """--plot's file: a suffix bpcalc draws, a folder that exists, and matplotlib installed for PNG and PDF; and a
    known --plot-scale; before training."""
    from bpcalc.errors import SpecError
    from bpcalc.render.plot import INSTALL_HINT, NEEDS_MATPLOTLIB, PLOT_FORMATS, SCALES, have_matplotlib

    if scale.lower() not in SCALES:
        raise SpecError(_("--plot-scale {scale}: not a scale").format(scale=scale),
                        hint=_("choose one of: {choices}").format(choices=", ".join(SCALES)))
    suffix = plot.suffix.lower()[1:]
    if suffix not in PLOT_FORMATS:
        raise SpecError(_("--plot {plot}: the file name must end in .png, .svg or .pdf").format(plot=plot))
    c.check_output_path(plot)
    if suffix in NEEDS_MATPLOTLIB and not have_matplotlib():
        raise SpecError(_("--plot {file}: PNG and PDF need matplotlib, which is not installed (SVG does not)").format(
            file=plot), hint=INSTALL_HINT)


def _traces_doc(res, precision: int):
    from bpcalc.render.doc import Doc
    from bpcalc.render.report import report

    doc = Doc()
    for e, b, nb, tr in res.traces:
        doc.heading(_("Epoch {e}, batch {b} of {n}").format(e=e, b=b, n=nb) if nb > 1
                    else _("Epoch {e}").format(e=e), 1)
        sub = report(tr, precision)
        doc.blocks.extend(sub.blocks[1:] if sub.blocks else [])  # its title repeats the spec's name
    return doc


def _steps_json(res) -> list:
    from bpcalc.render.jsonr import trace_data

    return [{"epoch": e, "batch": b, "batches": nb, "run": trace_data(tr)} for e, b, nb, tr in res.traces]


class _Progress:
    """A progress bar on stderr, shown only once a run has taken about a second."""

    DELAY = 1.0

    def __init__(self, epochs: int):
        import time

        self.clock = time.perf_counter
        self.t0 = self.clock()
        self.last = 0.0
        self.epochs = epochs
        self.first = None
        self.bar = None
        self.task = None

    def _show(self, done: float) -> None:
        now = self.clock()
        if now - self.last < 0.1 or now - self.t0 < self.DELAY:
            return
        self.last = now
        if self.bar is None:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

            self.bar = Progress(TextColumn(_("training")), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                                TextColumn("{task.fields[info]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                                console=Console(stderr=True, force_terminal=True), transient=True)
            self.bar.start()
            self.task = self.bar.add_task("train", total=self.epochs, info="")
        self.bar.update(self.task, completed=done, info=self.info)

    def epoch(self, e: int, loss: float) -> None:
        if self.first is None:
            self.first = e
        self.info = _("epoch {e}  loss {loss:.4g}").format(e=e, loss=loss)
        self._show(e - self.first + 1)

    def batch(self, e: int, b: int, nb: int) -> None:
        if self.first is None:
            self.first = e
        self.info = _("epoch {e}  batch {b}/{n}").format(e=e, b=b, n=nb)
        self._show(e - self.first + b / nb)

    info = ""

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
