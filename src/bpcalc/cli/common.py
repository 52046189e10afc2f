"""Pieces every command shares: the SPEC argument, output options, error handling, and writing the result."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from bpcalc.cli import formats, names
from bpcalc.cli.helptext import dynamic
from bpcalc.errors import EXIT_BAD_INPUT, EXIT_CHECK_FAILED, SpecError
from bpcalc.i18n import N_, Msg, _

SpecArg = Annotated[str | None, typer.Argument(
    metavar="SPEC", help=N_("A spec file, `-` for stdin, or a bundled example's name (see `bpcalc examples`). "
    "Default: the bundled `simple`."), show_default=False)]
FormatOpt = Annotated[str | None, typer.Option(
    "--format", "-f", metavar="FORMAT", autocompletion=formats.complete(),
    help=dynamic(Msg("{choices}. Default: rich on a terminal, text when piped, or from the --output suffix.",
                     choices=formats.choices_help())),
    show_default=False)]
PrecisionOpt = Annotated[int, typer.Option("--precision", "-p", metavar="N", min=1, max=17,
                                           help=N_("Digits shown: N significant digits for numbers below 1, N "
                                                   "decimals from 1 up (JSON always has full precision)."))]


def _dash_is_stdout(value: Path | None) -> Path | None:
    """`-o -`: stdout, as if no --output were given."""
    return None if value is not None and str(value) == "-" else value


def save_not_dash(value: Path | None) -> Path | None:
    """--save -: refused (stdout is the report's); a file named `-` is spelt ./-."""
    if value is not None and str(value) == "-":
        raise typer.BadParameter(_("`-` would be stdout, where the report goes; give a file name (./- for a file "
                                   "named -)"))
    return value


OutputOpt = Annotated[Path | None, typer.Option("--output", "-o", metavar="FILE", dir_okay=False,
                                                callback=_dash_is_stdout,
                                                help=N_("Write the output to FILE (atomically) instead of stdout."))]


def _finite(value: float | None) -> float | None:
    """Refuse nan and inf on the command line, as the spec loader does."""
    import math

    if value is not None and not math.isfinite(value):
        raise typer.BadParameter(_("{value} is not a finite number").format(value=value))
    return value


def _learning_rate(value: float | None) -> float | None:
    """A finite α ≥ 0, as the spec loader requires of `learning_rate`."""

    value = _finite(value)
    if value is not None and value < 0:
        raise typer.BadParameter(_("the learning rate must be ≥ 0, not {value:g}: a step goes down the gradient "
                                   "by itself (θ − α·g), so write a positive α such as {example:g}").format(
                                       value=value, example=-value))
    return value


LearningRateOpt = Annotated[float | None, typer.Option("--learning-rate", "--lr", metavar="ALPHA",
                                                       callback=_learning_rate,
                                                       help=N_("Override the spec's learning rate."))]
RoundOpt = Annotated[int | None, typer.Option("--round", metavar="N", min=0, max=12,
                                              help=N_("Hand rounding: round every intermediate to N decimals as it is "
                                                   "computed, as on paper."))]
ROUND_STYLES = ("calculator", "every", "truncate")
RoundStyleOpt = Annotated[str, typer.Option(
    "--round-style", metavar="STYLE",
    help=N_("With --round N, how a person rounds: calculator (values read off a calculator and quotients rounded, "
            "sums and products kept exact; the default), every (every number written is rounded to N decimals, sums "
            "and products too, and the next step goes on from it: a class set's sheets), truncate (as every, but "
            "digits past N are cut off toward zero)."))]


def rounding(round_to: int | None, style: str = "calculator") -> int | None:
    """--round N and --round-style as the engine takes them (rounding.Written / Truncated for every / truncate)."""
    from bpcalc.engine.rounding import Truncated, Written
    from bpcalc.errors import SpecError
    from bpcalc.i18n import _

    style = style.lower()
    if style not in ROUND_STYLES:
        raise SpecError(_("unknown rounding style {style!r}").format(style=style),
                        hint=_("choose one of: {names}").format(names=", ".join(ROUND_STYLES)))
    if style == "calculator":
        return round_to
    if round_to is None:
        raise SpecError(_("--round-style {style} rounds to the decimals --round N gives: add --round N").format(
                            style=style), hint=_("for example --round 4 --round-style {style}").format(style=style))
    return Written(round_to) if style == "every" else Truncated(round_to)


FullOpt = Annotated[bool, typer.Option("--full", help=N_("Show every row: every sample (not the first few) and every "
                                                         "neuron and parameter of large layers (not the largest)."))]
HiddenAfterOpt = Annotated[bool, typer.Option("--hidden-after", help=N_(
    "In the table after the update, the hidden layers' z and a too (the forward pass with the new parameters)."))]
InputGradsOpt = Annotated[bool, typer.Option("--input-grads", help=N_(
    "In the first layer's backward table, the gradients with respect to the inputs ∂E/∂x too (JSON: grad_inputs)."))]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help=N_("Print nothing but errors (and the exit code)."))]
StandaloneOpt = Annotated[bool, typer.Option("--standalone", help=N_("With --format latex: a complete document "
                                            "(pdflatex; lualatex when it holds Korean, as its first line says), "
                                            "instead of a fragment to paste."))]


def _language(value: str | None) -> str | None:
    """--lang: the language of everything printed; an unknown one is a usage error naming those there are."""
    if value is not None:
        from bpcalc import i18n

        try:
            i18n.set_language(value)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
    return value


LangOpt = Annotated[str | None, typer.Option("--lang", metavar="LANG", callback=_language, is_eager=True,
                                             show_default=False,
                                             help=N_("Language of the output: en or ko (default: from the "
                                                     "locale, LC_ALL / LC_MESSAGES / LANG, else en)."))]
NOTATIONS = names.NOTATIONS  # spec/loader.py's NOTATIONS (cli/names.py: generated, so `--help` starts without numpy)
NotationOpt = Annotated[str | None, typer.Option(
    "--notation", metavar="NAME", show_default=False,
    help=N_("Names in the tables: layer (z_j^(l), a_j^(l), w_jk^(l); the default), mazur (i1, net_h1, out_h1, w1, "
    "E_total) or ng (z^[l], a^[l], dZ^[l], dW^[l]). Overrides the spec's `notation:`; JSON is the same in all."))]
SaveOpt = Annotated[Path | None, typer.Option("--save", metavar="FILE", dir_okay=False, callback=save_not_dash,
                                              help=N_("Write the updated parameters as a new spec (never over SPEC)."))]


VIEWS = ("neuron", "matrix")
ViewOpt = Annotated[str, typer.Option(
    "--view", metavar="VIEW",
    help=N_("neuron (tables, neuron by neuron) or matrix (the step in matrices: z = W a + b, δ, ∂E/∂W = δ aᵀ, the "
    "update, each matrix written out with its shape; networks only). JSON is the same in both."))]


def check_view(view: str, spec) -> str:
    """--view: `neuron` or `matrix`, and the matrix view only for a layered network."""
    from bpcalc.i18n import _

    if view not in VIEWS:
        raise SpecError(_("unknown view {view!r}").format(view=view),
                        hint=_("choose one of: {names}").format(names=", ".join(VIEWS)))
    if view == "matrix" and getattr(spec, "kind", None) != "network":
        raise SpecError(_("the matrix view is for layered networks; an expression graph has no matrices"),
                        hint=_("drop --view matrix: graphs are shown node by node"))
    return view


def apply_notation(spec, name: str | None) -> None:
    """--notation NAME onto a network spec (graphs name their own nodes); an unknown name is bad input."""
    if name is None:
        return
    from bpcalc.i18n import _

    if name not in NOTATIONS:
        raise SpecError(_("unknown notation {name!r}").format(name=name),
                        hint=_("choose one of: {names}").format(names=", ".join(NOTATIONS)))
    if getattr(spec, "kind", None) == "network":
        spec.notation = name


def err(message: str) -> None:
    """One message on stderr."""
    sys.stderr.write(message.rstrip("\n") + "\n")


def refuse_non_finite(trace) -> None:
    """A step that overflowed is no result: name its first infinite or NaN quantity and exit 1 (as `step` does)."""
    from bpcalc.engine.trace import first_non_finite

    bad = first_non_finite(trace)
    if bad is not None:
        where, value = bad
        err(_("error: the step does not stay within float64: {where} is {v}, so nothing is shown as a result\n  "
              "hint: smaller weights, inputs or learning rate keep every number finite").format(
                where=where, v='NaN' if value != value else value))
        raise typer.Exit(EXIT_CHECK_FAILED)


def guard(fn: Callable) -> Callable:
    """Turn bpcalc's own errors and OS failures into one stderr message and exit code 2; keep Ctrl-C and a closed
    pipe quiet."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except SpecError as exc:
            err(_("error: {exc}").format(exc=exc))
            raise typer.Exit(EXIT_BAD_INPUT) from None
        except BrokenPipeError:
            silence_stdout()
            raise typer.Exit(0) from None
        except OSError as exc:  # an OS failure nothing nearer caught: still one message, no traceback
            err(_("error: {os_error_message}").format(os_error_message=os_error_message(exc)))
            raise typer.Exit(EXIT_BAD_INPUT) from None

    return wrapper


def silence_stdout() -> None:
    """Point stdout at /dev/null once it has failed (a closed pipe, a full disk), so what is still buffered goes
    nowhere at exit instead of raising again ("Exception ignored ..."). See the Python docs' note on SIGPIPE."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


_stdout_reported = False  # a failure of stdout was already reported: say it once


def stdout_error(exc: OSError) -> SpecError:
    """A failed write to stdout as the one error to report (exit 2); stdout is silenced."""
    global _stdout_reported
    _stdout_reported = True
    silence_stdout()
    return SpecError(_("cannot write the output: {exc_strerror_or_exc}").format(
                         exc_strerror_or_exc=exc.strerror or exc))


def stdout_failure() -> OSError | None:
    """Flush stdout: None if it works, else its error (and stdout silenced); a closed pipe counts as working."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        silence_stdout()
    except OSError as exc:
        silence_stdout()
        return exc
    except (ValueError, AttributeError):  # closed or replaced
        pass
    return None


def os_error_message(exc: OSError) -> str:
    """An OSError as a message: the output's when stdout is what failed, else the file named and the reason."""
    import errno

    from bpcalc.spec.save import show_path

    global _stdout_reported
    writing = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO, errno.EPIPE, errno.EBADF}
    if exc.filename is None and (stdout_failure() is not None or exc.errno in writing):  # a stream's error
        _stdout_reported = True
        return _("cannot write the output: {reason}").format(reason=exc.strerror or exc)
    where = f"{show_path(exc.filename)}: " if exc.filename is not None else ""
    return where + (exc.strerror or str(exc))


def reported_stdout_failure() -> bool:
    return _stdout_reported


def write_stdout(text: str) -> None:
    """Text to stdout, flushed; a failure (other than a closed pipe) becomes the error to report."""
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise stdout_error(exc) from None


# ------------------------------------------------------------------ signals
_signal = 0  # the SIGTERM or SIGHUP that stopped the run (0: none, or Ctrl-C)


def _on_signal(signum, frame) -> None:
    global _signal
    _signal = signum
    raise KeyboardInterrupt  # stops as Ctrl-C does: `step` keeps what it reached and writes --save


def install_signal_handlers() -> None:
    """SIGTERM and SIGHUP end a run as Ctrl-C does (unless they are ignored, as under nohup)."""
    import signal

    for name in ("SIGTERM", "SIGHUP"):
        sig = getattr(signal, name, None)
        if sig is not None and signal.getsignal(sig) is signal.SIG_DFL:
            signal.signal(sig, _on_signal)


def interrupted_by() -> tuple[str, int]:
    """What stopped a run and its exit code as a shell reports it: ("interrupted", 130) for Ctrl-C,
    ("terminated by SIGTERM", 143), ("hung up (SIGHUP)", 129)."""
    import signal

    if not _signal:
        return Msg("interrupted"), 130
    name = signal.Signals(_signal).name
    return (Msg("terminated by {name}", name=name) if name != "SIGHUP" else Msg("hung up (SIGHUP)")), 128 + _signal


def pick_format(fmt: str | None, output: Path | None, family: str = "report") -> str:
    """Explicit --format, else the output file's suffix, else (reports) rich on a terminal and text when piped; an
    --output whose suffix names a format bpcalc does not write (.pdf, .png, .docx …) is refused."""
    if output is not None and output.suffix.lower() in formats.FOREIGN_SUFFIXES:
        raise _foreign_output(output, family)
    if fmt is not None:
        fmt = fmt.lower()
        if fmt not in formats.names(family):
            raise SpecError(_("unknown {formats_noun_family} {fmt!r}").format(
                                formats_noun_family=_(formats.NOUN[family]), fmt=fmt),
                            hint=_("choose one of: {v}").format(v=', '.join(formats.names(family))))
        return fmt
    if output is not None:
        return formats.by_suffix(output, family) or formats.FALLBACK[family]
    if family == "report":
        return "rich" if is_terminal() else "text"
    return formats.FALLBACK[family]


def _foreign_output(output: Path, family: str) -> SpecError:
    """--output names a file of a format bpcalc does not write: say which it writes (and the way to a PDF)."""
    written = ", ".join(f"{f.name} ({', '.join(f.suffixes)})" for f in formats.FORMATS
                        if f.family == family and f.suffixes)
    if output.suffix.lower() == ".pdf" and family == "report":
        hint = _("for a PDF, write LaTeX and compile it (-o {stem}.tex --standalone, then pdflatex {stem}.tex), or "
                 "write HTML (-o {stem}.html) and print it to PDF from a browser").format(stem=output.stem)
    else:
        hint = _("name the file with one of these suffixes, such as {stem}{suffix}").format(
            stem=output.stem, suffix=".svg" if family == "graph" else ".html")
    return SpecError(_("--output {name}: bpcalc does not write {suffix} files; it writes {written}").format(
        name=output.name, suffix=output.suffix, written=written), hint=hint)


def refuse_foreign_output(output: Path | None, writes: str) -> None:
    """--output of a command that writes one kind of file (`writes`: "a Python script (.py)"): refused when its
    suffix names a format bpcalc does not write (.pdf, .png …), which the file would not be."""
    if output is not None and output.suffix.lower() in formats.FOREIGN_SUFFIXES:
        raise SpecError(_("--output {name}: bpcalc does not write {suffix} files; this command writes {writes}").format(
            name=output.name, suffix=output.suffix, writes=writes))


def is_terminal() -> bool:
    if os.environ.get("FORCE_COLOR"):
        return True
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


def check_output_path(output: Path | None) -> None:
    """Fail before any work when --output cannot be written (a missing folder, a directory, a read-only file)."""
    if output is None:
        return
    from bpcalc.spec.save import check_writable

    check_writable(output)


def open_spec_for(arg: str | None, *destinations: Path | None):
    """Open SPEC for a command that writes to `destinations`: each must be writable, none may be SPEC itself
    (stdin's file included) and no two the same file, all checked before any work is done."""
    from bpcalc.spec.bundled import open_spec

    dests = [d for d in destinations if d is not None]
    if not dests:
        return open_spec(arg)
    from bpcalc.spec.save import check_distinct, check_not_protected

    for d in dests:
        check_output_path(d)
    check_distinct(dests)
    spec = open_spec(arg)
    for d in dests:
        check_not_protected(d, [spec.source])
    return spec


def emit(subject, fmt: str, output: Path | None, data: Callable[[], Any] | None = None, quiet: bool = False,
         protect: list[str | None] | None = None, family: str = "report", **opts) -> None:
    """Render `subject` (a Doc or a Drawing), for JSON `data()`, in `fmt` and deliver it; --quiet: no stdout."""
    if quiet and output is None:
        return
    f = formats.BY_FAMILY[(family, fmt)]
    if output is None and f.draw is not None:
        f.draw(subject)
        return
    deliver(f.render(subject, data, **opts), output, protect)


def deliver_spec(make_text: Callable[[dict | None], str], save: Path, protect: list[str | None]) -> None:
    """--save: the spec, its large arrays in .npy files beside it (when it is a regular file, so they can be
    found next to it), those written first, each atomically, so the spec never names a file that is not there."""
    from bpcalc.spec.save import check_writable

    sidecars: dict | None = {} if check_writable(save)[2] == "replace" else None
    text = make_text(sidecars)
    for path, raw in (sidecars or {}).items():
        deliver(raw, path, protect)
    deliver(text, save, protect)


def deliver(content: str | bytes | Iterable[str], output: Path | None, protect: list[str | None] | None = None) -> None:
    """Text to stdout (newline-terminated), or text or bytes to `output` atomically, never over a `protect` file.
    Text may come in pieces (JSON): they are written as they come, a buffer at a time."""
    if output is not None:
        from bpcalc.spec.save import write_atomic

        write_atomic(output, content, protect=protect)
        return
    if isinstance(content, bytes):
        content = content.decode("utf-8")
    if isinstance(content, str):
        write_stdout(content if content.endswith("\n") else content + "\n")
        return
    last = ""
    for piece in buffered(content):
        write_stdout(piece)
        last = piece
    if not last.endswith("\n"):
        write_stdout("\n")


def buffered(pieces: Iterable[str], size: int = 1 << 16) -> Iterator[str]:
    """Pieces of text joined into strings of about `size` characters."""
    buf: list[str] = []
    n = 0
    for p in pieces:
        buf.append(p)
        n += len(p)
        if n >= size:
            yield "".join(buf)
            buf, n = [], 0
    if buf:
        yield "".join(buf)
