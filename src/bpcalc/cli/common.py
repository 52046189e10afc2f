"""Pieces every command shares: the SPEC argument, output options, error handling, and writing the result."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from bpcalc.cli import formats
from bpcalc.errors import EXIT_BAD_INPUT, SpecError

SpecArg = Annotated[str | None, typer.Argument(
    metavar="SPEC", help="A spec file, `-` for stdin, or a bundled example's name (see `bpcalc examples`). "
    "Default: the bundled `simple`.", show_default=False)]
FormatOpt = Annotated[str | None, typer.Option(
    "--format", "-f", metavar="FORMAT", autocompletion=formats.complete(),
    help=f"{formats.choices_help()}. Default: rich on a terminal, text when piped, or from the --output suffix.",
    show_default=False)]
PrecisionOpt = Annotated[int, typer.Option("--precision", "-p", min=1, max=17,
                                           help="Significant digits shown (JSON always has full precision).")]
OutputOpt = Annotated[Path | None, typer.Option("--output", "-o", metavar="FILE", dir_okay=False,
                                                help="Write the output to FILE (atomically) instead of stdout.")]


def _finite(value: float | None) -> float | None:
    """Refuse nan and inf on the command line, as the spec loader does."""
    import math

    if value is not None and not math.isfinite(value):
        raise typer.BadParameter(f"{value} is not a finite number")
    return value


LearningRateOpt = Annotated[float | None, typer.Option("--learning-rate", "--lr", metavar="ALPHA", callback=_finite,
                                                       help="Override the spec's learning rate.")]
RoundOpt = Annotated[int | None, typer.Option("--round", metavar="N", min=0, max=12,
                                              help="Hand rounding: round every intermediate to N decimals as it is "
                                                   "computed, as on paper.")]
FullOpt = Annotated[bool, typer.Option("--full", help="Show every row of large layers instead of the largest.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors (and the exit code).")]
StandaloneOpt = Annotated[bool, typer.Option("--standalone", help="With --format latex: a complete document "
                                            "that compiles with pdflatex, instead of a fragment to paste.")]
SaveOpt = Annotated[Path | None, typer.Option("--save", metavar="FILE", dir_okay=False,
                                              help="Write the updated parameters as a new spec (never over SPEC).")]


def err(message: str) -> None:
    """One message on stderr."""
    sys.stderr.write(message.rstrip("\n") + "\n")


def guard(fn: Callable) -> Callable:
    """Turn bpcalc's own errors into one stderr message and exit code 2; keep Ctrl-C quiet."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except SpecError as exc:
            err(f"error: {exc}")
            raise typer.Exit(EXIT_BAD_INPUT) from None
        except BrokenPipeError:
            _quiet_broken_pipe()
            raise typer.Exit(0) from None

    return wrapper


def _quiet_broken_pipe() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def pick_format(fmt: str | None, output: Path | None, family: str = "report") -> str:
    """Explicit --format, else the output file's suffix, else (reports) rich on a terminal and text when piped."""
    if fmt is not None:
        fmt = fmt.lower()
        if fmt not in formats.names(family):
            raise SpecError(f"unknown {formats.NOUN[family]} {fmt!r}",
                            hint=f"choose one of: {', '.join(formats.names(family))}")
        return fmt
    if output is not None:
        return formats.by_suffix(output, family) or formats.FALLBACK[family]
    if family == "report":
        return "rich" if is_terminal() else "text"
    return formats.FALLBACK[family]


def is_terminal() -> bool:
    if os.environ.get("FORCE_COLOR"):
        return True
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


def check_output_path(output: Path | None) -> None:
    """Fail before any work when --output points into a missing folder."""
    if output is None:
        return
    parent = output.parent if str(output.parent) else Path(".")
    if not parent.is_dir():
        raise SpecError(f"cannot write {output}: folder {parent} does not exist",
                        hint="create the folder first or pick another path")
    if output.is_dir():
        raise SpecError(f"cannot write {output}: it is a directory")


def open_spec_for(arg: str | None, *destinations: Path | None):
    """Open SPEC for a command that writes to `destinations`: each must be writable and none may be SPEC itself,
    all checked before any work is done."""
    from bpcalc.spec.bundled import open_spec
    from bpcalc.spec.save import check_not_protected

    dests = [d for d in destinations if d is not None]
    for d in dests:
        check_output_path(d)
    spec = open_spec(arg)
    for d in dests:
        check_not_protected(d, [spec.source])
    return spec


def emit(subject, fmt: str, output: Path | None, data: Callable[[], Any] | None = None, quiet: bool = False,
         protect: list[str | None] | None = None, **opts) -> None:
    """Render `subject` (a Doc or a Drawing), for JSON `data()`, in `fmt` and deliver it; --quiet: no stdout."""
    if quiet and output is None:
        return
    f = formats.BY_NAME[fmt]
    if output is None and f.draw is not None:
        f.draw(subject)
        return
    deliver(f.render(subject, data, **opts), output, protect)


def deliver(content: str | bytes, output: Path | None, protect: list[str | None] | None = None) -> None:
    """Text to stdout (newline-terminated), or text or bytes to `output` atomically, never over a `protect` file."""
    if output is not None:
        from bpcalc.spec.save import write_atomic

        write_atomic(output, content, protect=protect)
        return
    sys.stdout.write(content if content.endswith("\n") else content + "\n")
    sys.stdout.flush()
